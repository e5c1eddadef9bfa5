/**
 * What the pure replication machines (leader-machine.ts, follower-machine.ts) hand their shells
 * besides protocol actions: refusals to answer with, and log lines to write. The machines own no
 * logger, so what they have to say travels in their Ready like everything else.
 */
import type { ClusterErrorCode } from '../../protocol/errors.ts';

/** A request turned down: the shell answers (or rejects) with a ClusterError of this code. */
export interface Refusal {
  code: ClusterErrorCode;
  message: string;
}

export interface LogLine {
  level: 'debug' | 'info' | 'warn' | 'error';
  message: string;
  fields: Record<string, unknown>;
}
