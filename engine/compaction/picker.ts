/**
 * The compaction picker: a version in, a plan out. Pure; no I/O, no clock.
 *
 * Scores, as in LevelDB: L0's is its file count over `l0CompactionTrigger` (L0 files overlap,
 * so their count, not their bytes, is what costs reads); level n's (n >= 1) is its bytes over
 * its target, `levelOneBytes * levelSizeMultiplier^(n-1)`. The highest score >= 1 is compacted.
 *
 * Inputs: for L0, every L0 file overlapping the first one's range, widened until closed under
 * overlap; for level n, the first file after the level's compact pointer (round-robin over the
 * key space, so every key gets its turn). Then the files of level n+1 overlapping the inputs'
 * range. Output goes to level n+1, so the level invariants hold by construction.
 */
import type { RangeTombstone } from '../range-tombstones.ts';
import { compareBytes } from '../util/bytes.ts';
import type { FileMeta } from '../version/file-meta.ts';
import { LEVEL_COUNT, type Version } from '../version/version.ts';

export interface PickerOptions {
  l0CompactionTrigger: number;
  levelOneBytes: number;
  levelSizeMultiplier: number;
}

export interface CompactionPlan {
  level: number;
  /** Files of `level`. */
  inputs: FileMeta[];
  /** Files of `level + 1` overlapping the inputs. */
  nextInputs: FileMeta[];
  outputLevel: number;
  score: number;
}

export function levelTargetBytes(level: number, options: PickerOptions): number {
  return options.levelOneBytes * Math.pow(options.levelSizeMultiplier, Math.max(0, level - 1));
}

/** Each level's score; index = level. The last level never compacts, so its score is 0. */
export function levelScores(version: Version, options: PickerOptions): number[] {
  const scores = [version.fileCount(0) / options.l0CompactionTrigger];
  for (let level = 1; level < LEVEL_COUNT - 1; level++) scores.push(version.levelBytes(level) / levelTargetBytes(level, options));
  scores.push(0);
  return scores;
}

/** The compaction to run next, or undefined when every level is within its target. */
export function pickCompaction(version: Version, options: PickerOptions, compactPointers: ReadonlyMap<number, Uint8Array>): CompactionPlan | undefined {
  const scores = levelScores(version, options);
  let level = -1;
  for (let l = 0; l < scores.length; l++) if (scores[l]! >= 1 && (level < 0 || scores[l]! > scores[level]!)) level = l;
  if (level < 0) return undefined;
  const inputs = level === 0 ? pickLevelZeroInputs(version) : [pickRoundRobin(version.levels[level]!, compactPointers.get(level))];
  return planFor(version, level, inputs, scores[level]!);
}

/** A plan that compacts `inputs` of `level` (plus what they overlap below) into `level + 1`. */
export function planFor(version: Version, level: number, inputs: FileMeta[], score: number): CompactionPlan {
  const [smallest, largest] = keyRange(inputs);
  return { level, inputs, nextInputs: version.overlapping(level + 1, smallest, largest), outputLevel: level + 1, score };
}

function pickLevelZeroInputs(version: Version): FileMeta[] {
  const files = version.levels[0]!;
  // Start from the oldest file (last): it has waited longest.
  let inputs = [files[files.length - 1]!];
  for (;;) {
    const [smallest, largest] = keyRange(inputs);
    const widened = version.overlapping(0, smallest, largest);
    if (widened.length === inputs.length) return widened;
    inputs = widened;
  }
}

function pickRoundRobin(files: readonly FileMeta[], pointer: Uint8Array | undefined): FileMeta {
  if (pointer) {
    const next = files.find((f) => compareBytes(f.largest.userKey, pointer) > 0);
    if (next) return next;
  }
  return files[0]!;
}

/** The smallest and largest user keys of `files`. */
export function keyRange(files: readonly FileMeta[]): [Uint8Array, Uint8Array] {
  let smallest = files[0]!.smallest.userKey;
  let largest = files[0]!.largest.userKey;
  for (const f of files) {
    if (compareBytes(f.smallest.userKey, smallest) < 0) smallest = f.smallest.userKey;
    if (compareBytes(f.largest.userKey, largest) > 0) largest = f.largest.userKey;
  }
  return [smallest, largest];
}

/**
 * True when no level below `outputLevel` holds `userKey`'s range, so a tombstone written to
 * `outputLevel` would hide nothing and can be dropped.
 */
export function isBottomForKey(version: Version, outputLevel: number, userKey: Uint8Array): boolean {
  for (let level = outputLevel + 1; level < LEVEL_COUNT; level++) {
    const files = version.levels[level]!;
    const i = version.findFile(level, userKey);
    if (i < files.length && compareBytes(files[i]!.smallest.userKey, userKey) <= 0) return false;
  }
  return true;
}

/**
 * True when no level below `outputLevel` holds a key of [start, end) (its end counted in, to
 * stay on the safe side), so a range tombstone written to `outputLevel` would hide nothing.
 */
export function isBottomForRange(version: Version, outputLevel: number, start: Uint8Array, end: Uint8Array): boolean {
  for (let level = outputLevel + 1; level < LEVEL_COUNT; level++) {
    if (version.overlapping(level, start, end).length > 0) return false;
  }
  return true;
}

/**
 * Tables that no read can see any more, to drop by a version edit without reading them: every
 * key of the table lies inside a range tombstone of another table, every entry (and range
 * tombstone) of the table is older than that tombstone, and no live snapshot falls between
 * the table's oldest sequence number and the tombstone's (Pebble's delete-only compaction).
 * Pure: the tombstones come through `tombstonesOf`.
 */
export function pickCoveredTables(
  version: Version,
  tombstonesOf: (file: FileMeta) => readonly RangeTombstone[],
  snapshots: readonly number[],
): Array<[number, FileMeta]> {
  const out: Array<[number, FileMeta]> = [];
  const chosen = new Set<number>();
  for (const files of version.levels) {
    for (const holder of files) {
      if ((holder.rangeTombstones ?? 0) === 0) continue;
      for (const t of tombstonesOf(holder)) {
        for (let level = 0; level < LEVEL_COUNT; level++) {
          for (const f of version.overlapping(level, t.start, t.end)) {
            if (f === holder || chosen.has(f.number) || !coveredBy(f, t, snapshots)) continue;
            chosen.add(f.number);
            out.push([level, f]);
          }
        }
      }
    }
  }
  return out;
}

function coveredBy(f: FileMeta, t: RangeTombstone, snapshots: readonly number[]): boolean {
  if (f.seqMax >= t.seq) return false;
  if (compareBytes(f.smallest.userKey, t.start) < 0 || compareBytes(f.largest.userKey, t.end) >= 0) return false;
  // A snapshot s with seqMin <= s < t could still read the table.
  return !snapshots.some((s) => s >= f.seqMin && s < t.seq);
}

/** Bytes that compactions must still rewrite to bring every level within its target. */
export function pendingCompactionBytes(version: Version, options: PickerOptions): number {
  let pending = version.fileCount(0) >= options.l0CompactionTrigger ? version.levelBytes(0) : 0;
  for (let level = 1; level < LEVEL_COUNT - 1; level++) {
    pending += Math.max(0, version.levelBytes(level) - levelTargetBytes(level, options));
  }
  return pending;
}
