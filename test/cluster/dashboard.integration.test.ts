/**
 * The dashboard in a real browser (headless Chromium) against a real local cluster: the page a
 * node serves at / lists every node, and a kill -9 of a shard's leader shows on the page as a
 * failover (a new leader at a higher term, the old one down, an election among the events).
 * The page is polled, never timed: the bounds are generous for a busy machine.
 *
 * The screenshot is written to the test's directory; with DISTRIBKV_SCREENSHOT=FILE it is also
 * copied there (docs/img/dashboard.png is made so: docs/operations.md says the command).
 */
import assert from 'node:assert/strict';
import { copyFile } from 'node:fs/promises';
import path from 'node:path';
import { after, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { Client } from '../../net/index.ts';
import { chromiumSkipReason, launchChromium } from '../helpers/browser.ts';
import { startCluster, type TestCluster } from '../helpers/cluster-harness.ts';

const PAGE_WAIT_MS = 60_000;
const LOAD_OPS_MAX = 20_000;

/** The page's globals the predicates below use (they run in the browser; this file compiles without the DOM library). */
declare const document: { querySelector(selector: string): PageElement | null; querySelectorAll(selector: string): Iterable<PageElement> };
interface PageElement {
  getAttribute(name: string): string | null;
  querySelector(selector: string): PageElement | null;
  readonly textContent: string | null;
}
const skip = chromiumSkipReason();

let cluster: TestCluster | undefined;
let browser: Browser | undefined;
after(async () => {
  await browser?.close();
  await cluster?.close();
});

/** Waits until `predicate(arg)` is true in the page (polled by the browser), or fails naming `what`. */
async function waitInPage<A>(page: Page, what: string, predicate: (arg: A) => boolean, arg: A): Promise<void> {
  try {
    await page.waitForFunction(predicate as (arg: unknown) => boolean, arg, { timeout: PAGE_WAIT_MS, polling: 250 });
  } catch (error) {
    const text = await page.locator('body').innerText().catch(() => '(page unreadable)');
    throw new Error(`${what}: not shown within ${PAGE_WAIT_MS} ms (${(error as Error).message.split('\n')[0]}); the page says:\n${text}`);
  }
}

test('the dashboard lists every node and shows a killed leader\'s failover', { skip, timeout: 600_000 }, async () => {
  cluster = await startCluster({ shards: 2, replicas: 1, controllers: 3 });
  const everyNode = [...cluster.controllers, ...cluster.shards.flatMap((s) => [s.leader, ...s.replicas])];
  // Writes while the page is open, so it has throughput to draw; bounded, stopped at the end.
  const client = await Client.connect(everyNode);
  let loading = true;
  const load = (async () => {
    let failures = 0;
    for (let i = 0; loading && i < LOAD_OPS_MAX; i++) {
      // A write to the killed leader's shard may fail while it fails over; the page is what is tested.
      await client.put(`key-${i % 500}`, `value-${i}`).catch(() => failures++);
    }
    return failures;
  })();
  try {
    await showsFailover(cluster, everyNode);
  } finally {
    loading = false;
    await load;
    client.close();
  }
});

async function showsFailover(cluster: TestCluster, everyNode: string[]): Promise<void> {
  browser = await launchChromium();
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  const problems: string[] = [];
  page.on('pageerror', (error) => problems.push(error.message));
  await page.goto(`http://${cluster.controllers[0]}/`);

  await waitInPage(page, 'every node, up', (nodes) => nodes.every((n) => document.querySelector(`tr[data-node="${n}"][data-health="up"]`) !== null), everyNode);
  for (const address of everyNode) assert.ok(await page.locator(`tr[data-node="${address}"]`).count() >= 1, `${address} is listed`);

  const shard = cluster.shards[0]!;
  const before = await page.locator(`section[data-shard="${shard.name}"]`).getAttribute('data-term');
  assert.equal(await page.locator(`section[data-shard="${shard.name}"]`).getAttribute('data-leader'), shard.leader);
  await cluster.nodes.get(shard.leader)!.kill();

  const expected = { shard: shard.name, old: shard.leader, successor: shard.replicas[0]!, term: Number(before) };
  await waitInPage(page, 'the failover', (e) => {
    const card = document.querySelector(`section[data-shard="${e.shard}"]`);
    const oldRow = card?.querySelector(`tr[data-node="${e.old}"]`);
    const election = [...document.querySelectorAll('#events li[data-kind="election"]')].some((li) => li.textContent!.includes(`${e.shard}: ${e.successor} leads at term ${e.term + 1}`));
    return card?.getAttribute('data-leader') === e.successor && Number(card.getAttribute('data-term')) === e.term + 1 && oldRow?.getAttribute('data-health') === 'down' && election;
  }, expected);
  const oldRow = page.locator(`section[data-shard="${shard.name}"] tr[data-node="${shard.leader}"]`);
  assert.match(await oldRow.innerText(), /down: (refused|timeout|reset)/);
  assert.deepEqual(problems, [], 'the page ran without script errors');

  const shot = path.join(cluster.dir, 'dashboard.png');
  await page.screenshot({ path: shot, fullPage: true });
  const keep = process.env['DISTRIBKV_SCREENSHOT'];
  if (keep) await copyFile(shot, keep);
}
