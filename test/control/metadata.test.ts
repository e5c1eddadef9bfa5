/**
 * The metadata state machine (cluster/control/metadata.ts) driven by a script: each command is
 * applied to the metadata so far, and the output is the result (the refusal, or what changed).
 * Regenerate with: REWRITE=1 node --import tsx --test test/control/metadata.test.ts
 */
import { describe, it } from 'node:test';
import { applyCommand, EMPTY_METADATA, type Command, type Metadata } from '../../cluster/control/metadata.ts';
import { runDataDriven, type Case } from '../helpers/datadriven.ts';

const list = (text: string | undefined) => (text ? text.split(',') : []);

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

function command(c: Case): Command {
  const shard = c.named.get('shard') ?? '';
  switch (c.command) {
    case 'bootstrap':
      return { type: 'bootstrap', vnodes: Number(c.named.get('vnodes') ?? 16), shards: c.input.map((line) => {
        const [name, members] = line.trim().split(/\s+/);
        return { name: name!, members: list(members) };
      }) };
    case 'elect':
      return { type: 'elect', shard, leader: c.named.get('leader')!, expectTerm: Number(c.named.get('expect-term')), inSync: list(c.named.get('in-sync')), unclean: c.args.includes('unclean') };
    case 'set-in-sync':
      return { type: 'set-in-sync', shard, term: Number(c.named.get('term')), inSync: list(c.named.get('in-sync')) };
    case 'register':
      return { type: 'register', node: c.args[0]! };
    case 'shard-add':
      return { type: 'shard-add', shard, members: list(c.named.get('members')) };
    case 'shard-remove':
      return { type: 'shard-remove', shard };
    case 'move': {
      const [giver, receiver] = c.args[0]!.split('->');
      const through = c.named.get('through');
      return { type: 'move', id: Number(c.named.get('id')), giver: giver!, receiver: receiver!, step: c.named.get('step') as 'progress', ...(through !== undefined && { through: Number(through) }) };
    }
    default:
      throw new Error(`unknown command ${c.command}`);
  }
}

describe('the metadata state machine', () => {
  it('plays testdata/metadata.txt', () => {
    let metadata = EMPTY_METADATA;
    runDataDriven('test/control/testdata/metadata.txt', (c) => {
      if (c.command === 'show') return show(metadata);
      const result = applyCommand(metadata, command(c));
      if (!result.ok) return `refused ${result.code}: ${result.message}`;
      metadata = result.metadata;
      return show(metadata);
    });
  });
});
