/**
 * The compaction picker (engine/compaction/picker.ts), data-driven from testdata/picker.txt:
 * a version in, a plan out. Level scores, which level is compacted and with which inputs
 * (L0 widened until closed under overlap, round-robin by compact pointer below), the next
 * level's overlapping tables, the bytes compactions still owe, the bottom-level tests that
 * let a compaction drop tombstones, and the tables a range tombstone lets an edit drop unread.
 * Pure; no files.
 */
import { it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { isBottomForKey, isBottomForRange, levelScores, pendingCompactionBytes, pickCompaction, pickCoveredTables, planFor, type CompactionPlan, type PickerOptions } from '../../engine/compaction/picker.ts';
import type { RangeTombstone } from '../../engine/range-tombstones.ts';
import { Version } from '../../engine/version/version.ts';
import { runDataDriven, type Case } from '../helpers/datadriven.ts';
import { formatFiles, formatVersion, key, parseLevel, parseLevels } from './version-script.ts';

function formatPlan(plan: CompactionPlan | undefined): string {
  if (plan === undefined) return 'nothing to compact';
  return `L${plan.level} -> L${plan.outputLevel} score=${plan.score.toFixed(2)}: inputs ${formatFiles(plan.inputs)}; next ${formatFiles(plan.nextInputs)}`;
}

/** `L1:c,L2:m` as compact pointers. */
function parsePointers(text: string | undefined): Map<number, Uint8Array> {
  const pointers = new Map<number, Uint8Array>();
  for (const item of text ? text.split(',') : []) {
    const [level, pointer] = item.split(':');
    pointers.set(parseLevel(level), key(pointer!));
  }
  return pointers;
}

/** Input lines `<table number> <start>-<end>@<seq> ...`: the range tombstones each table holds. */
function parseTombstones(lines: readonly string[]): Map<number, RangeTombstone[]> {
  const byTable = new Map<number, RangeTombstone[]>();
  for (const line of lines) {
    const [table, ...specs] = line.trim().split(/\s+/);
    byTable.set(Number(table), specs.map((spec) => {
      const m = /^([^-]+)-([^@]+)@(\d+)$/.exec(spec);
      if (!m) throw new Error(`bad tombstone ${JSON.stringify(spec)}: want start-end@seq`);
      return { start: key(m[1]!), end: key(m[2]!), seq: Number(m[3]) };
    }));
  }
  return byTable;
}

it('picks compactions as written in testdata/picker.txt', () => {
  let version = Version.empty();
  let options: PickerOptions = { l0CompactionTrigger: 4, levelOneBytes: 1000, levelSizeMultiplier: 10 };
  runDataDriven(fileURLToPath(new URL('./testdata/picker.txt', import.meta.url)), (c: Case) => {
    const number = (name: string, fallback: number) => Number(c.named.get(name) ?? fallback);
    switch (c.command) {
      case 'define':
        options = { l0CompactionTrigger: number('l0-trigger', 4), levelOneBytes: number('level-one-bytes', 1000), levelSizeMultiplier: number('multiplier', 10) };
        version = Version.empty().apply({ newFiles: parseLevels(c.input) });
        return formatVersion(version);
      case 'scores':
        return levelScores(version, options).map((score, level) => `L${level} ${score.toFixed(2)}`).filter((line) => !line.endsWith(' 0.00')).join('\n') || 'all 0';
      case 'pick':
        return formatPlan(pickCompaction(version, options, parsePointers(c.named.get('pointers'))));
      case 'plan': {
        const level = number('level', 0);
        const wanted = new Set(c.named.get('tables')!.split(',').map(Number));
        return formatPlan(planFor(version, level, version.levels[level]!.filter((f) => wanted.has(f.number)), 0));
      }
      case 'pending':
        return `${pendingCompactionBytes(version, options)} bytes`;
      case 'bottom': {
        const output = number('output', 0);
        const answer = c.named.has('key') ? isBottomForKey(version, output, key(c.named.get('key')!)) : isBottomForRange(version, output, key(c.named.get('from')!), key(c.named.get('to')!));
        return answer ? 'bottom: nothing below' : 'not bottom: a level below holds keys there';
      }
      case 'covered': {
        const tombstones = parseTombstones(c.input);
        const snapshots = c.named.has('snapshots') ? c.named.get('snapshots')!.split(',').map(Number) : [];
        const dropped = pickCoveredTables(version, (f) => tombstones.get(f.number) ?? [], snapshots);
        return dropped.map(([level, f]) => `drop L${level} ${f.number}`).join('\n') || 'none';
      }
      default:
        throw new Error(`unknown command ${c.command}`);
    }
  });
});
