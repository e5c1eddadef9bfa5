/**
 * A short engine demo: opens ./data/demo, writes, reads, scans, prints stats, closes.
 *   npx tsx bench/demo.ts
 */
import { Db } from '../engine/index.ts';

const dir = process.argv[2] ?? './data/demo';
const db = await Db.open(dir);
console.log(`opened ${dir} (last sequence ${db.lastSequence})`);
const started = performance.now();
const n = 10_000;
await Promise.all(Array.from({ length: n }, (_, i) => db.put(`user:${String(i).padStart(5, '0')}`, JSON.stringify({ id: i, at: Date.now() }))));
console.log(`wrote ${n} keys in ${(performance.now() - started).toFixed(0)} ms`);
await db.put('greeting', 'hello, distribkv', { sync: true });
console.log(`get greeting -> ${new TextDecoder().decode((await db.get('greeting'))!)}`);
await db.delete('user:00000');
console.log('first three user keys after deleting user:00000:');
for await (const [key, value] of db.iterator({ gte: 'user:', lt: 'user;', limit: 3 })) {
  console.log(`  ${new TextDecoder().decode(key)} = ${new TextDecoder().decode(value)}`);
}
console.log('stats:', db.stats());
await db.close();
