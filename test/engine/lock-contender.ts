/**
 * A child process for the directory-lock race test: on `{ type: 'try', round }` it tries to
 * take the lock on the file in argv[2] and answers whether it got it; on
 * `{ type: 'release', round }` it releases what it holds. Each contender is its own process,
 * so the lock is contended the way two nodes started on one directory contend for it.
 */
import { NodeFileSystem } from '../../engine/fs/node-file-system.ts';
import type { FileLock } from '../../engine/fs/file-system.ts';

const path = process.argv[2]!;
const fs = new NodeFileSystem();
let held: FileLock | undefined;

process.on('message', (request: { type: 'try' | 'release'; round: number }) => {
  if (request.type === 'try') {
    let outcome: string;
    let message = '';
    try {
      held = fs.lock(path);
      outcome = 'got';
    } catch (err) {
      const code = (err as { code?: string }).code;
      message = (err as Error).message;
      // Anything but "locked" is a failure the test must see, not a lost race.
      outcome = code === 'DB_LOCKED' ? 'busy' : `error ${code}: ${(err as Error).message}`;
    }
    process.send!({ round: request.round, outcome, message });
  } else {
    held?.release();
    held = undefined;
    process.send!({ round: request.round, outcome: 'released' });
  }
});
process.send!({ round: -1, outcome: 'ready' });
