/**
 * The metadata state machine (cluster/control/metadata.ts) driven by a script: each command is
 * applied to the metadata so far, and the output is the result (the refusal, or what changed).
 * Regenerate with: REWRITE=1 node --import tsx --test test/control/metadata.test.ts
 */
import { describe, it } from 'node:test';
import { applyCommand, EMPTY_METADATA, type Metadata } from '../../cluster/control/metadata.ts';
import { runDataDriven } from '../helpers/datadriven.ts';
import { commandOf } from './metadata-commands.ts';

function show(m: Metadata): string {
  const lines = [`version ${m.version} vnodes ${m.vnodes}`];
  for (const s of m.shards) lines.push(`${s.name}: leader ${s.leader} term ${s.term} in-sync ${s.inSync.join(',')} members ${s.members.join(',')}`);
  if (m.unassigned.length > 0) lines.push(`unassigned ${m.unassigned.join(',')}`);
  if (m.version > 0) lines.push(`ring ${m.ring.join(',')}`);
  if (m.migration) {
    const g = m.migration;
    lines.push(`migration ${g.id}: ${g.kind} ${g.shard}, to ring ${g.to.join(',')}`);
    for (const x of g.moves) lines.push(`  ${x.giver} -> ${x.receiver}: ${x.state} through ${x.through}${x.cleaned ? ', cleaned' : ''}`);
  }
  return lines.join('\n');
}

describe('the metadata state machine', () => {
  it('plays testdata/metadata.txt', () => {
    let metadata = EMPTY_METADATA;
    runDataDriven('test/control/testdata/metadata.txt', (c) => {
      if (c.command === 'show') return show(metadata);
      const result = applyCommand(metadata, commandOf(c));
      if (!result.ok) return `refused ${result.code}: ${result.message}`;
      metadata = result.metadata;
      return show(metadata);
    });
  });
});
