/**
 * cluster/multi-get.ts: a multi-get's answer is bounded by batch_bytes_max, and a key asked
 * for many times is read (and copied by the engine) once.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readMultiGet } from '../../cluster/multi-get.ts';
import { ClusterError, STATUS_BY_CODE } from '../../protocol/errors.ts';

const bytes = (text: string) => new Uint8Array(Buffer.from(text));

/** A store of `entries` whose getMany records every key it is asked to copy. */
function store(entries: Record<string, number>) {
  const asked: string[] = [];
  const getMany = async (keys: readonly Uint8Array[]) =>
    keys.map((key) => {
      const name = Buffer.from(key).toString();
      asked.push(name);
      return name in entries ? new Uint8Array(entries[name]!) : undefined;
    });
  return { getMany, asked };
}

describe('readMultiGet', () => {
  it('answers each key in request order, duplicates included, reading each distinct key once', async () => {
    const { getMany, asked } = store({ a: 3, b: 5 });
    const values = await readMultiGet(['a', 'b', 'a', 'none', 'a'].map(bytes), getMany, 100);
    assert.deepEqual(values.map((v) => v?.length), [3, 5, 3, undefined, 3]);
    assert.deepEqual(asked, ['a', 'b', 'none']);
  });

  it('refuses ANSWER_TOO_LARGE when one large key asked many times would pass the limit, having copied it once', async () => {
    const { getMany, asked } = store({ big: 1000 });
    await assert.rejects(readMultiGet(Array.from({ length: 255 }, () => bytes('big')), getMany, 4096), (error: unknown) => {
      assert.ok(error instanceof ClusterError);
      assert.equal(error.code, 'ANSWER_TOO_LARGE');
      assert.match(error.message, /reach 5000 bytes by key 4 of 255, over the answer limit of 4096 bytes \(batch_bytes_max\); ask for fewer keys/);
      return true;
    });
    assert.deepEqual(asked, ['big']);
    assert.equal(STATUS_BY_CODE.ANSWER_TOO_LARGE, 400);
  });

  it('answers values that add up to exactly the limit', async () => {
    const { getMany } = store({ a: 2048, b: 2048 });
    const values = await readMultiGet(['a', 'b'].map(bytes), getMany, 4096);
    assert.deepEqual(values.map((v) => v?.length), [2048, 2048]);
  });

  it('tells keys apart byte by byte, not by their text', async () => {
    const asked: number[] = [];
    const getMany = async (keys: readonly Uint8Array[]) => keys.map((key) => (asked.push(key[0]!), new Uint8Array([key[0]!])));
    const values = await readMultiGet([new Uint8Array([0xff]), new Uint8Array([0xfe]), new Uint8Array([0xff])], getMany, 100);
    assert.deepEqual(values.map((v) => v![0]), [0xff, 0xfe, 0xff]);
    assert.deepEqual(asked, [0xff, 0xfe]);
  });
});
