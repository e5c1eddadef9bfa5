/**
 * A version: the set of table files in each level at one moment. Immutable; an edit produces
 * a new version. Pure code, no I/O.
 *
 * Invariants (checked by `checkInvariants`, asserted after every edit):
 * 1. L0 files are ordered newest first (by seqMax, then file number), and may overlap.
 * 2. In each level >= 1, files are sorted by smallest key and their user-key ranges are
 *    disjoint, so one binary search finds the only file that can hold a key.
 */
import { assert } from '../errors.ts';
import { compareBytes } from '../util/bytes.ts';
import type { FileMeta } from './file-meta.ts';
import { LevelSearch } from './level-search.ts';
import type { VersionEdit } from './version-edit.ts';

export const LEVEL_COUNT = 7;

export class Version {
  /** Whether any table holds range tombstones (reads then look for them). */
  readonly hasRangeTombstones: boolean;

  /** Per level >= 1, its point-lookup search (level-search.ts), built on first use. */
  private readonly searches: Array<LevelSearch | undefined> = new Array(LEVEL_COUNT).fill(undefined);

  private constructor(readonly levels: ReadonlyArray<readonly FileMeta[]>) {
    this.hasRangeTombstones = levels.some((files) => files.some((f) => (f.rangeTombstones ?? 0) > 0));
  }

  static empty(): Version {
    return new Version(Array.from({ length: LEVEL_COUNT }, () => []));
  }

  /** The version after `edit`. Throws (assertion) if the edit breaks an invariant. */
  apply(edit: VersionEdit): Version {
    const deleted = new Set((edit.deletedFiles ?? []).map(([level, number]) => `${level}:${number}`));
    const levels = this.levels.map((files, level) => files.filter((f) => !deleted.has(`${level}:${f.number}`)));
    for (const [level, meta] of edit.newFiles ?? []) {
      assert(level >= 0 && level < LEVEL_COUNT, `version: level ${level} out of range`);
      levels[level]!.push(meta);
    }
    levels[0]!.sort((a, b) => b.seqMax - a.seqMax || b.number - a.number);
    for (let level = 1; level < LEVEL_COUNT; level++) {
      levels[level]!.sort((a, b) => compareBytes(a.smallest.userKey, b.smallest.userKey));
    }
    const next = new Version(levels);
    const problem = next.checkInvariants();
    assert(problem === undefined, `version: ${problem}`);
    return next;
  }

  /** A description of the first broken invariant, or undefined. */
  checkInvariants(): string | undefined {
    for (let level = 1; level < LEVEL_COUNT; level++) {
      const files = this.levels[level]!;
      for (let i = 1; i < files.length; i++) {
        if (compareBytes(files[i - 1]!.largest.userKey, files[i]!.smallest.userKey) >= 0) {
          return `level ${level} files ${files[i - 1]!.number} and ${files[i]!.number} overlap`;
        }
      }
    }
    return undefined;
  }

  levelBytes(level: number): number {
    let total = 0;
    for (const f of this.levels[level]!) total += f.fileBytes;
    return total;
  }

  fileCount(level: number): number {
    return this.levels[level]!.length;
  }

  /** Every file number in this version. */
  fileNumbers(): Set<number> {
    const out = new Set<number>();
    for (const files of this.levels) for (const f of files) out.add(f.number);
    return out;
  }

  /** Files of `level` whose user-key range meets [smallest, largest] (either bound open if undefined). */
  overlapping(level: number, smallest: Uint8Array | undefined, largest: Uint8Array | undefined): FileMeta[] {
    return this.levels[level]!.filter(
      (f) =>
        (smallest === undefined || compareBytes(f.largest.userKey, smallest) >= 0) &&
        (largest === undefined || compareBytes(f.smallest.userKey, largest) <= 0),
    );
  }

  /** In a level >= 1, the index of the first file whose largest key >= userKey. */
  findFile(level: number, userKey: Uint8Array): number {
    const search = this.searches[level] ?? (this.searches[level] = LevelSearch.of(this.levels[level]!.map((f) => f.largest.userKey)));
    return search.findFile(userKey);
  }

  /** The snapshot edit that recreates this version from nothing (the head of a new MANIFEST). */
  toEdit(): VersionEdit {
    const newFiles: Array<[number, FileMeta]> = [];
    this.levels.forEach((files, level) => files.forEach((f) => newFiles.push([level, f])));
    return { newFiles };
  }
}
