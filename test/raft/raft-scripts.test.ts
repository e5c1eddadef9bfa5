/**
 * The Raft core's script tests: each file in testdata/ is a scenario over the pure core
 * (InteractionEnv), its expected output written beside each command. The paper-*.txt files
 * are the Raft paper's §5.1–§5.4 as executable specification (the scenarios of etcd raft's
 * raft_paper_test.go, written afresh); the others cover PreVote and CheckQuorum, ReadIndex,
 * leadership transfer, membership changes, snapshots and flow control.
 * Regenerate with: REWRITE=1 node --import tsx --test test/raft/raft-scripts.test.ts
 */
import { readdirSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runDataDriven } from '../helpers/datadriven.ts';
import { InteractionEnv } from './interaction-env.ts';

const dir = fileURLToPath(new URL('./testdata/', import.meta.url));
const files = readdirSync(dir).filter((name) => name.endsWith('.txt')).sort();

describe('the Raft core behaves as each script in test/raft/testdata says', () => {
  for (const file of files) {
    it(`follows ${file}`, () => {
      const env = new InteractionEnv();
      runDataDriven(dir + file, (c) => env.handle(c));
    });
  }
});
