/**
 * The metadata as Raft's state machine (cluster/raft's `StateMachine`): committed entries are
 * commands (JSON, `encodeCommand`), applied in log order with `applyCommand`; a snapshot is the
 * whole metadata as JSON. Every applied change is announced to `onApplied`, which wakes the
 * long-polls of nodes watching the metadata.
 *
 * Everything a controller's entry holds came through its own Raft log, so a command that does
 * not decode is a bug or damage: it is refused (the proposal fails), never half-applied.
 */
import { ClusterError } from '../../protocol/errors.ts';
import type { StateMachine } from '../raft/index.ts';
import { applyCommand, checkMetadata, EMPTY_METADATA, type Command, type CommandResult, type Metadata, type ShardMeta } from './metadata.ts';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeCommand(command: Command): Uint8Array {
  return encoder.encode(JSON.stringify(command));
}

const COMMAND_TYPES: ReadonlySet<string> = new Set(['bootstrap', 'elect', 'set-in-sync', 'register', 'shard-add', 'shard-remove', 'move']);

export function decodeCommand(data: Uint8Array): Command {
  let value: unknown;
  try {
    value = JSON.parse(decoder.decode(data));
  } catch (error) {
    throw new ClusterError('CORRUPTION', `metadata command is not JSON: ${(error as Error).message}`, { cause: error });
  }
  const type = (value as { type?: unknown } | null)?.type;
  if (typeof type !== 'string' || !COMMAND_TYPES.has(type)) throw new ClusterError('CORRUPTION', `metadata command of unknown type ${JSON.stringify(type)}`);
  return value as Command;
}

/** Metadata as JSON (snapshots, node state's cache, `GET /internal/meta`). */
export function encodeMetadata(metadata: Metadata): Uint8Array {
  return encoder.encode(JSON.stringify(metadata));
}

/** Checks metadata that came from a file or a peer; throws BAD_REQUEST naming what is wrong. */
export function decodeMetadata(value: unknown, what: string): Metadata {
  const m = value as Partial<Metadata> | null;
  const strings = (list: unknown) => Array.isArray(list) && list.every((n: unknown) => typeof n === 'string');
  const shape = m && typeof m === 'object' && Number.isSafeInteger(m.version) && m.version! >= 0 && Number.isInteger(m.vnodes) &&
    Array.isArray(m.shards) && strings(m.unassigned) && strings(m.ring) && (m.migration === null || (typeof m.migration === 'object' && Array.isArray(m.migration.moves) && strings(m.migration.to))) &&
    m.shards.every((s: Partial<ShardMeta> | null) => s && typeof s.name === 'string' && typeof s.leader === 'string' && Number.isSafeInteger(s.term) && strings(s.members) && strings(s.inSync));
  if (!shape) throw new ClusterError('BAD_REQUEST', `${what}: not cluster metadata`);
  try {
    checkMetadata(m as Metadata);
  } catch (error) {
    throw new ClusterError('BAD_REQUEST', `${what}: ${(error as Error).message}`, { cause: error });
  }
  return Object.freeze(m as Metadata);
}

export class MetadataMachine implements StateMachine {
  private current: Metadata = EMPTY_METADATA;

  constructor(private readonly onApplied: (metadata: Metadata) => void) {}

  get metadata(): Metadata {
    return this.current;
  }

  apply(_index: number, data: Uint8Array): CommandResult {
    let command: Command;
    try {
      command = decodeCommand(data);
    } catch (error) {
      return { ok: false, code: 'CORRUPTION', message: (error as Error).message };
    }
    const result = applyCommand(this.current, command);
    if (result.ok) {
      this.current = result.metadata;
      this.onApplied(this.current);
    }
    return result;
  }

  snapshot(): Uint8Array {
    return encodeMetadata(this.current);
  }

  restore(data: Uint8Array): void {
    this.current = decodeMetadata(JSON.parse(decoder.decode(data)), 'metadata snapshot');
    this.onApplied(this.current);
  }
}
