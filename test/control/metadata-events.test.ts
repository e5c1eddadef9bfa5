/**
 * What an operator reads of metadata changes (cluster/control/metadata-events.ts), driven by a
 * script: each command is applied and the output is the events a node that saw the change says.
 * `hold` stops the node from seeing versions (its long-poll skipped them); `release` shows what
 * it says when it sees the newest at once. Regenerate with:
 * REWRITE=1 node --import tsx --test test/control/metadata-events.test.ts
 */
import { describe, it } from 'node:test';
import { metadataEvents } from '../../cluster/control/metadata-events.ts';
import { applyCommand, EMPTY_METADATA, type Metadata } from '../../cluster/control/metadata.ts';
import { runDataDriven } from '../helpers/datadriven.ts';
import { commandOf } from './metadata-commands.ts';

describe('metadata events', () => {
  it('plays testdata/metadata-events.txt', () => {
    let metadata: Metadata = EMPTY_METADATA;
    let seen: Metadata = EMPTY_METADATA;
    let holding = false;
    const said = () => {
      const events = metadataEvents(seen, metadata);
      seen = metadata;
      return events.length === 0 ? '(none)' : events.map((e) => `${e.kind}: ${e.message}`).join('\n');
    };
    runDataDriven('test/control/testdata/metadata-events.txt', (c) => {
      if (c.command === 'hold') {
        holding = true;
        return 'ok';
      }
      if (c.command === 'release') {
        holding = false;
        return said();
      }
      const result = applyCommand(metadata, commandOf(c));
      if (!result.ok) return `refused ${result.code}: ${result.message}`;
      metadata = result.metadata;
      return holding ? '(held)' : said();
    });
  });
});
