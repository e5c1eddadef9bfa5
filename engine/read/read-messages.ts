/**
 * What crosses between the owning thread and the read thread (read-thread.ts, read-worker.ts).
 * Keys and values travel packed, each list as one byte buffer and one offsets array, both
 * transferred rather than copied: a structured clone of 500 small Uint8Arrays costs more than
 * the lookups it would carry.
 */
import type { TableReadStats } from '../sst/table-reader.ts';
import type { ThreadError } from '../util/threads.ts';
import type { VersionEdit } from '../version/version-edit.ts';

/** The worker's settings, as its workerData. */
export interface ReadWorkerSettings {
  dir: string;
  tableCacheFilesMax: number;
  blockCacheBytes: number;
}

/** Byte lists packed: item i is bytes[offsets[i], offsets[i + 1]); a negative end marks an absent item. */
export interface PackedBytes {
  bytes: Uint8Array;
  /** count + 1 entries; for values, offsets[i + 1] < 0 means item i is absent. */
  offsets: Int32Array;
}

export interface LookupRequest {
  type: 'lookup';
  id: number;
  seq: number;
  /** The version to read; its files, when the worker has not been sent this version last. */
  versionId: number;
  version: VersionEdit | undefined;
  keys: PackedBytes;
}

export type ReadWorkerMessage =
  | { type: 'ready' }
  /** Values of the request's keys (absent where no put was found), and the reads it made. */
  | { type: 'values'; id: number; values: PackedBytes; stats: TableReadStats }
  | { type: 'failed'; id: number; error: ThreadError };

/** Builds a packed list item by item, growing its buffer as needed. */
export class BytesPacker {
  private bytes: Uint8Array;
  private readonly offsets: Int32Array;
  private count = 0;
  private at = 0;

  /** `count` items to come; `bytesHint` the bytes they likely take (the buffer grows past it). */
  constructor(count: number, bytesHint: number) {
    this.offsets = new Int32Array(count + 1);
    this.bytes = new Uint8Array(Math.max(64, bytesHint));
  }

  /** Appends the next item (a copy of `item`), or an absent one. */
  add(item: Uint8Array | undefined): void {
    if (item !== undefined) {
      if (this.at + item.length > this.bytes.length) {
        const grown = new Uint8Array(Math.max(this.at + item.length, 2 * this.bytes.length));
        grown.set(this.bytes.subarray(0, this.at));
        this.bytes = grown;
      }
      this.bytes.set(item, this.at);
      this.at += item.length;
    }
    this.offsets[++this.count] = item !== undefined ? this.at : -this.at - 1;
  }

  /** The packed list. REQUIRES: every item added. */
  finish(): PackedBytes {
    return { bytes: this.bytes, offsets: this.offsets };
  }
}

/** Item i of a packed list: its [from, to) in `bytes`, or undefined when absent. */
export function packedRange(packed: PackedBytes, i: number): [number, number] | undefined {
  const end = packed.offsets[i + 1]!;
  if (end < 0) return undefined;
  const previous = packed.offsets[i]!;
  return [previous < 0 ? -previous - 1 : previous, end];
}
