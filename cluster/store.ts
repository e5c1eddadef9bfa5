/**
 * What the HTTP layer needs from the engine. `Db` satisfies it; tests may pass a fake.
 * A later replication issue adds the engine's commit listener beside it, not in the handlers.
 */
import type { Db } from '../engine/index.ts';

export type Store = Pick<Db, 'get' | 'put' | 'delete' | 'batch' | 'iterator' | 'lastSequence' | 'close'>;
