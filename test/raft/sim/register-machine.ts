/**
 * The simulator's state machine: one register per key, written by commands
 * {"key":…,"value":…}, read after a linearizable read barrier. It keeps a digest chained over
 * every command applied (index and bytes), carried in its snapshots, so two members that
 * applied different commands anywhere before an index disagree on the digest there: the
 * invariant checker compares digests to prove State Machine Safety across snapshots.
 */
import assert from 'node:assert/strict';
import type { StateMachine } from '../../../cluster/raft/index.ts';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export interface ApplyObserver {
  applied(index: number, command: string, digest: number): void;
  restored(lastIndex: number, digest: number): void;
}

export function encodeCommand(key: string, value: string): Uint8Array {
  return encoder.encode(JSON.stringify({ key, value }));
}

/** FNV-1a over the previous digest, the index and the bytes: cheap and order-sensitive. */
function chain(digest: number, index: number, bytes: Uint8Array): number {
  let h = (digest ^ 0x811c9dc5) >>> 0;
  const mix = (b: number) => { h = Math.imul(h ^ b, 0x01000193) >>> 0; };
  for (let k = 0; k < 7; k++) mix(Math.floor(index / 2 ** (8 * k)) & 0xff);
  for (const b of bytes) mix(b);
  return h;
}

export class RegisterMachine implements StateMachine {
  private registers = new Map<string, string>();
  private lastIndex = 0;
  private digest = 0;

  constructor(private readonly observer: ApplyObserver) {}

  apply(index: number, data: Uint8Array): unknown {
    assert.ok(index > this.lastIndex, `register machine: applying ${index} after ${this.lastIndex}`);
    const text = decoder.decode(data);
    const { key, value } = JSON.parse(text) as { key: string; value: string };
    this.registers.set(key, value);
    this.lastIndex = index;
    this.digest = chain(this.digest, index, data);
    this.observer.applied(index, text, this.digest);
    return index;
  }

  snapshot(): Uint8Array {
    return encoder.encode(JSON.stringify({ lastIndex: this.lastIndex, digest: this.digest, registers: [...this.registers] }));
  }

  restore(data: Uint8Array): void {
    const state = JSON.parse(decoder.decode(data)) as { lastIndex: number; digest: number; registers: Array<[string, string]> };
    this.registers = new Map(state.registers);
    this.lastIndex = state.lastIndex;
    this.digest = state.digest;
    this.observer.restored(state.lastIndex, state.digest);
  }

  get(key: string): string | null {
    return this.registers.get(key) ?? null;
  }
}
