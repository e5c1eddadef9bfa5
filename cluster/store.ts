/**
 * What the HTTP layer needs from the engine. `Db` satisfies it; tests may pass a fake. The
 * node passes DbHolder's view (replication/db-holder.ts), which follows the engine across a
 * snapshot install and sends client writes through the write gate. Replication itself uses the
 * engine's commit listener and applyBatch in replication/, never in the handlers.
 */
import type { Db } from '../engine/index.ts';

export type Store = Pick<Db, 'get' | 'getMany' | 'put' | 'delete' | 'batch' | 'iterator' | 'lastSequence' | 'close'>;
