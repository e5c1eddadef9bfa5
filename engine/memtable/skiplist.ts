/**
 * A skiplist of memtable entries in internal-key order (see internal-key.ts). Insert-only:
 * an overwrite or delete is a new entry with a higher sequence number, so nodes are never
 * unlinked and an iterator stays valid while writes go on.
 *
 * Single-threaded by construction (one JS thread); no await happens inside any method, so a
 * reader never sees a half-linked node.
 * Heights: p = 1/4, at most HEIGHT_MAX levels, which suits up to ~4^12 = 16M entries.
 *
 * Layout, for the garbage collector's sake: a node is an index into typed arrays (a run of
 * int32 fields: key words, kind, where its key, value and links lie; a float64 sequence
 * number; its links in a shared array), not a JS object. A memtable
 * holds tens of thousands of entries for seconds; as objects (a node, its link array, a key
 * view and a value view each) they survived young-generation collections one by one, and
 * copying them there cost a quarter of a sequential fill's time. Keys and values stay where
 * the caller's arrays put them (for the engine, inside the WAL record of their batch); a node
 * records which buffer and where.
 *
 * Comparisons: each node also carries its key's first 16 bytes as four order-preserving words,
 * so most comparisons of a search end in the node's own column entries; only keys whose first
 * 16 bytes agree compare the rest, in the buffer.
 *
 * Measured (docs/benchmarks.md): `npm run bench:micro -- skiplist`, 16-byte decimal keys in
 * random order, a seek among 100,000 entries: 4.9 µs with object nodes, 1.6 µs with key words
 * in them, 0.5 µs as now; an insert into 10,000: about 0.45 µs. A 1M-key fill in batches of
 * 1,000: sequential keys 351k -> ~465k ops per CPU-second, random keys 165k -> ~195k.
 */
import type { ValueKind } from '../internal-key.ts';

export const HEIGHT_MAX = 12;
/** No node: the end of a level, or "none found". */
export const NIL = -1;
/** The head sentinel; it holds no entry. */
const HEAD = 0;
/** Key bytes held in a node as words; the rest is compared in the key itself. */
const WORD_BYTES = 16;
const INITIAL_NODES = 1024;
/** A capacity hint is honoured up to this many nodes (about 60 MB of columns). */
const HINTED_NODES_MAX = 1 << 20;

// A node's int32 fields, at these offsets from n * NODE_INTS: its key's first 16 bytes as
// words, where its links start, where its key and value are (buffer index, offset, length),
// and its kind.
const F_W0 = 0;
const F_W1 = 1;
const F_W2 = 2;
const F_W3 = 3;
const F_LINKS = 4;
const F_KEY_BUFFER = 5;
const F_KEY_START = 6;
const F_KEY_LENGTH = 7;
const F_VALUE_BUFFER = 8;
const F_VALUE_START = 9;
const F_VALUE_LENGTH = 10;
const F_KIND = 11;
const NODE_INTS = 12;

/**
 * Bytes [at, at + 4) of `key` (zero past `end`) as a signed 32-bit integer whose signed
 * order is the bytes' unsigned order (the top bit flipped): always a small integer to V8.
 */
function keyWord(key: Uint8Array, at: number, end: number): number {
  if (at + 4 <= end) return ((key[at]! << 24) | (key[at + 1]! << 16) | (key[at + 2]! << 8) | key[at + 3]!) ^ 0x8000_0000;
  let word = 0;
  for (let i = 0; i < 4; i++) word = (word << 8) | (at + i < end ? key[at + i]! : 0);
  return word ^ 0x8000_0000;
}

function grown<T extends Int32Array | Float64Array>(column: T, length: number): T {
  const out = new (column.constructor as new (n: number) => T)(length);
  out.set(column);
  return out;
}

export class SkipList {
  private height = 1;
  private capacity: number;
  /** Nodes in use, the head included. */
  private used = 1;
  private seqs: Float64Array;
  /** NODE_INTS int32 fields per node (the F_ offsets): one node's fields share a cache line or two. */
  private nodes: Int32Array;
  /** links[nodes[n * NODE_INTS + F_LINKS] + level] is node n's successor at that level (NIL at the end). */
  private links: Int32Array;
  private linksUsed = HEIGHT_MAX;
  /** Whole-buffer views of every buffer a key or value lies in, so nodes name them by index. */
  private readonly buffers: Uint8Array[] = [];
  private readonly bufferIndexes = new Map<ArrayBufferLike, number>();
  private lastBuffer: ArrayBufferLike | undefined;
  private lastBufferIndex = -1;
  private readonly prevScratch = new Int32Array(HEIGHT_MAX);
  /** The current search target: its words, its key bytes (bytes[at, at + length)), seq, kind. */
  private probeW0 = 0;
  private probeW1 = 0;
  private probeW2 = 0;
  private probeW3 = 0;
  private probeBytes: Uint8Array = new Uint8Array(0);
  private probeAt = 0;
  private probeLength = 0;
  private probeSeq = 0;
  private probeKind = 0;
  count = 0;

  /**
   * `expectedEntries`: how many entries the list will likely hold (the engine passes the last
   * memtable's count). Columns sized for them at once are neither copied as they double nor
   * left up to half empty after the last doubling: for a memtable of 16-byte keys and 100-byte
   * values, growing from 1,024 nodes cost 6% of a flush-and-fill's CPU and ~25 bytes per entry.
   */
  constructor(
    private readonly random: () => number = Math.random,
    expectedEntries = 0,
  ) {
    const capacity = Math.max(INITIAL_NODES, Math.min(HINTED_NODES_MAX, Math.ceil(expectedEntries) + 1));
    this.capacity = capacity;
    this.seqs = new Float64Array(capacity);
    this.nodes = new Int32Array(capacity * NODE_INTS);
    // Heights average 4/3 links per node (p = 1/4), plus the head's HEIGHT_MAX.
    this.links = new Int32Array(Math.max(INITIAL_NODES * 2, Math.ceil(capacity * 1.4) + HEIGHT_MAX)).fill(NIL);
  }

  /** Inserts an entry; (userKey, seq) must not already be present. The arrays are kept, not copied. */
  insert(userKey: Uint8Array, seq: number, kind: ValueKind, value: Uint8Array): void {
    this.insertFrom(userKey, 0, userKey.length, seq, kind, value, 0, value.length);
  }

  /**
   * insert() with the key at bytes[keyAt, keyAt + keyLength) and the value at
   * valueBytes[valueAt, valueAt + valueLength): no views made (a batch's ops go in this way).
   */
  insertFrom(bytes: Uint8Array, keyAt: number, keyLength: number, seq: number, kind: ValueKind, valueBytes: Uint8Array, valueAt: number, valueLength: number): void {
    this.setProbe(bytes, keyAt, keyLength, seq, kind);
    const prev = this.prevScratch;
    for (let level = this.height - 1, x = HEAD; level >= 0; level--) {
      x = this.lastBefore(x, level);
      prev[level] = x;
    }
    const h = this.randomHeight();
    if (h > this.height) {
      for (let level = this.height; level < h; level++) prev[level] = HEAD;
      this.height = h;
    }
    const node = this.newNode(bytes, keyAt, keyLength, seq, kind, valueBytes, valueAt, valueLength, h);
    const links = this.links;
    const nodes = this.nodes;
    const base = nodes[node * NODE_INTS + F_LINKS]!;
    for (let level = 0; level < h; level++) {
      const p = nodes[prev[level]! * NODE_INTS + F_LINKS]! + level;
      links[base + level] = links[p]!;
      links[p] = node;
    }
    this.count++;
  }

  /** The first node >= (userKey, seq, kind), or NIL. */
  findGreaterOrEqual(userKey: Uint8Array, seq: number, kind: number): number {
    this.setProbe(userKey, 0, userKey.length, seq, kind);
    return this.next(this.lastBeforeProbe());
  }

  /** The last node < (userKey, seq, kind), or NIL if none. */
  findLessThan(userKey: Uint8Array, seq: number, kind: number): number {
    this.setProbe(userKey, 0, userKey.length, seq, kind);
    const x = this.lastBeforeProbe();
    return x === HEAD ? NIL : x;
  }

  /** The node before `node`, or NIL if it is the first. */
  previous(node: number): number {
    const f = node * NODE_INTS;
    const nodes = this.nodes;
    this.probeW0 = nodes[f + F_W0]!;
    this.probeW1 = nodes[f + F_W1]!;
    this.probeW2 = nodes[f + F_W2]!;
    this.probeW3 = nodes[f + F_W3]!;
    this.probeBytes = this.buffers[nodes[f + F_KEY_BUFFER]!]!;
    this.probeAt = nodes[f + F_KEY_START]!;
    this.probeLength = nodes[f + F_KEY_LENGTH]!;
    this.probeSeq = this.seqs[node]!;
    this.probeKind = nodes[f + F_KIND]!;
    const x = this.lastBeforeProbe();
    return x === HEAD ? NIL : x;
  }

  /** The first node, or NIL when empty. */
  first(): number {
    return this.next(HEAD);
  }

  /** The last node, or NIL when empty. */
  last(): number {
    let x = HEAD;
    for (let level = this.height - 1; level >= 0; level--) {
      for (let next = this.link(x, level); next !== NIL; next = this.link(x, level)) x = next;
    }
    return x === HEAD ? NIL : x;
  }

  /** The node after `node` at level 0, or NIL. */
  next(node: number): number {
    return this.links[this.nodes[node * NODE_INTS + F_LINKS]!]!;
  }

  /** Node n's user key: a view of the buffer it lies in. */
  userKey(n: number): Uint8Array {
    const f = n * NODE_INTS;
    const at = this.nodes[f + F_KEY_START]!;
    return this.buffers[this.nodes[f + F_KEY_BUFFER]!]!.subarray(at, at + this.nodes[f + F_KEY_LENGTH]!);
  }

  value(n: number): Uint8Array {
    const f = n * NODE_INTS;
    const at = this.nodes[f + F_VALUE_START]!;
    return this.buffers[this.nodes[f + F_VALUE_BUFFER]!]!.subarray(at, at + this.nodes[f + F_VALUE_LENGTH]!);
  }

  seq(n: number): number {
    return this.seqs[n]!;
  }

  kind(n: number): ValueKind {
    return this.nodes[n * NODE_INTS + F_KIND]! as ValueKind;
  }

  /** Whether node n's user key is `userKey`, without making a view of it. */
  hasUserKey(n: number, userKey: Uint8Array): boolean {
    const f = n * NODE_INTS;
    const length = this.nodes[f + F_KEY_LENGTH]!;
    if (length !== userKey.length) return false;
    const bytes = this.buffers[this.nodes[f + F_KEY_BUFFER]!]!;
    const at = this.nodes[f + F_KEY_START]!;
    for (let i = 0; i < length; i++) if (bytes[at + i] !== userKey[i]) return false;
    return true;
  }

  private randomHeight(): number {
    let h = 1;
    while (h < HEIGHT_MAX && this.random() < 0.25) h++;
    return h;
  }

  /** The last node before the probe, from the top level down. */
  private lastBeforeProbe(): number {
    let x = HEAD;
    for (let level = this.height - 1; level >= 0; level--) x = this.lastBefore(x, level);
    return x;
  }

  /** From node x, the last node at `level` before the probe. */
  private lastBefore(x: number, level: number): number {
    for (;;) {
      const next = this.link(x, level);
      if (next === NIL || this.compareToProbe(next) >= 0) return x;
      x = next;
    }
  }

  private link(n: number, level: number): number {
    return this.links[this.nodes[n * NODE_INTS + F_LINKS]! + level]!;
  }

  private setProbe(key: Uint8Array, at: number, length: number, seq: number, kind: number): void {
    const end = at + length;
    this.probeW0 = keyWord(key, at, end);
    this.probeW1 = keyWord(key, at + 4, end);
    this.probeW2 = keyWord(key, at + 8, end);
    this.probeW3 = keyWord(key, at + 12, end);
    this.probeBytes = key;
    this.probeAt = at;
    this.probeLength = length;
    this.probeSeq = seq;
    this.probeKind = kind;
  }

  /** compareInternal(node n, probe): user key bytewise, then seq descending, then kind descending. */
  private compareToProbe(n: number): number {
    const nodes = this.nodes;
    const f = n * NODE_INTS;
    let a = nodes[f + F_W0]!;
    let b = this.probeW0;
    if (a === b) {
      a = nodes[f + F_W1]!;
      b = this.probeW1;
      if (a === b) {
        a = nodes[f + F_W2]!;
        b = this.probeW2;
        if (a === b) {
          a = nodes[f + F_W3]!;
          b = this.probeW3;
        }
      }
    }
    if (a !== b) return a < b ? -1 : 1;
    const tail = this.compareKeyTails(f);
    if (tail !== 0) return tail;
    const seq = this.seqs[n]!;
    if (seq !== this.probeSeq) return seq > this.probeSeq ? -1 : 1;
    return this.probeKind - nodes[f + F_KIND]!;
  }

  /** The first 16 bytes agree, zero-padded: compare past them, or the shorter is a prefix. */
  private compareKeyTails(f: number): number {
    const aLength = this.nodes[f + F_KEY_LENGTH]!;
    const bLength = this.probeLength;
    const shorter = aLength < bLength ? aLength : bLength;
    if (shorter > WORD_BYTES) {
      const a = this.buffers[this.nodes[f + F_KEY_BUFFER]!]!;
      const aAt = this.nodes[f + F_KEY_START]!;
      const b = this.probeBytes;
      const bAt = this.probeAt;
      for (let i = WORD_BYTES; i < shorter; i++) {
        const d = a[aAt + i]! - b[bAt + i]!;
        if (d !== 0) return d;
      }
    }
    return aLength - bLength;
  }

  private newNode(bytes: Uint8Array, keyAt: number, keyLength: number, seq: number, kind: ValueKind, valueBytes: Uint8Array, valueAt: number, valueLength: number, height: number): number {
    if (this.used === this.capacity) this.growNodes();
    if (this.linksUsed + height > this.links.length) this.links = grown(this.links, this.links.length * 2).fill(NIL, this.links.length);
    const n = this.used++;
    const f = n * NODE_INTS;
    const nodes = this.nodes;
    this.seqs[n] = seq;
    nodes[f + F_W0] = this.probeW0;
    nodes[f + F_W1] = this.probeW1;
    nodes[f + F_W2] = this.probeW2;
    nodes[f + F_W3] = this.probeW3;
    nodes[f + F_LINKS] = this.linksUsed;
    nodes[f + F_KEY_BUFFER] = this.bufferIndex(bytes);
    nodes[f + F_KEY_START] = bytes.byteOffset + keyAt;
    nodes[f + F_KEY_LENGTH] = keyLength;
    nodes[f + F_VALUE_BUFFER] = this.bufferIndex(valueBytes);
    nodes[f + F_VALUE_START] = valueBytes.byteOffset + valueAt;
    nodes[f + F_VALUE_LENGTH] = valueLength;
    nodes[f + F_KIND] = kind;
    this.linksUsed += height;
    return n;
  }

  /** The index of a whole-buffer view of `bytes`'s buffer; a batch's entries share one. */
  private bufferIndex(bytes: Uint8Array): number {
    const buffer = bytes.buffer;
    if (buffer !== this.lastBuffer) {
      let index = this.bufferIndexes.get(buffer);
      if (index === undefined) {
        index = this.buffers.length;
        this.buffers.push(new Uint8Array(buffer));
        this.bufferIndexes.set(buffer, index);
      }
      this.lastBuffer = buffer;
      this.lastBufferIndex = index;
    }
    return this.lastBufferIndex;
  }

  private growNodes(): void {
    const n = this.capacity * 2;
    this.seqs = grown(this.seqs, n);
    this.nodes = grown(this.nodes, n * NODE_INTS);
    this.capacity = n;
  }
}
