/**
 * The metadata commands as the script tests write them (testdata/metadata.txt says the syntax):
 * test/control/metadata.test.ts and metadata-events.test.ts share them.
 */
import type { Command, MoveStep } from '../../cluster/control/metadata.ts';
import type { Case } from '../helpers/datadriven.ts';

const list = (text: string | undefined) => (text ? text.split(',') : []);

export function commandOf(c: Case): Command {
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
      return { type: 'move', id: Number(c.named.get('id')), giver: giver!, receiver: receiver!, step: c.named.get('step') as MoveStep, term: Number(c.named.get('term')), ...(through !== undefined && { through: Number(through) }) };
    }
    default:
      throw new Error(`unknown command ${c.command}`);
  }
}
