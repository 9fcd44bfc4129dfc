// Notices from a real `shipgate serve` to a signed-webhook receiver on loopback.
//
//   node --import tsx bench/notifications.ts [--events 200]
//
// 1. Healthy receiver: audit events that make a notice are written (each in its own
//    transaction) to the server's SQLite store, one every 10 ms, spread over 20 deployments;
//    the figure is the time from the event to its arrival at the receiver: median and p99.
// 2. A receiver that refuses half the tries at random (503), and the server SIGKILLed once
//    half-way: every notice must still arrive (deduped by webhook-id): delivered / written,
//    tries per notice, and the number lost, which must be 0.
// Bounded: a fixed number of events, and a deadline of 120 s per phase.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SYSTEM } from '../src/features/access/actor.js';
import { record } from '../src/features/audit/record.js';
import { openStore } from '../src/main.js';
import type { Store } from '../src/store/store.js';
import { startServe, type Served, until } from '../test/support/serve.js';
import { type Receiver, webhookReceiver, webhookSecret } from '../test/features/notifications/receivers.js';

const args = process.argv.slice(2);
const EVENTS = Number(args[args.indexOf('--events') + 1] || 200) || 200;
const DEADLINE_MS = 120_000;

function config(url: string): string {
  return `version: 1
roles: [dev]
users:
  - { name: carol, roles: [dev] }
services:
  - name: web
environments:
  - name: production
    policy: { auto_approve: true }
notifications:
  retry: { attempts: 50, backoff: 1s, max_backoff: 2s, timeout: 2s }
  channels:
    - { name: sink, type: webhook, url: ${url}, secret_env: HOOK_SECRET }
`;
}

async function writeEvents(store: Store, from: number, count: number, onHalf?: () => Promise<void>): Promise<void> {
  for (let i = from; i < from + count; i++) {
    if (onHalf && i === from + Math.floor(count / 2)) await onHalf();
    await store.transaction((tx) => record(tx, new Date(), SYSTEM, 'rollout.step_passed', `deployment:${1 + (i % 20)}`, { step: i, weight: 10, message: 'bench' }));
    await new Promise((r) => setTimeout(r, 10));
  }
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

async function phase(name: string, fail: () => boolean, killHalfway: boolean): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shipgate-notify-bench-'));
  const secret = webhookSecret();
  let requests = 0;
  const hook: Receiver = await webhookReceiver(secret, () => {
    requests += 1;
    return fail();
  });
  fs.writeFileSync(path.join(dir, 'shipgate.yaml'), config(hook.url));
  const env = { ...process.env, SHIPGATE_DATABASE_URL: '', HOOK_SECRET: secret };
  const servers: Served[] = [await startServe(dir, env)];
  const store = await openStore({ sqlitePath: path.join(dir, '.shipgate/shipgate.db') });
  const started = Date.now();
  try {
    await writeEvents(store, 0, EVENTS, killHalfway ? async () => {
      servers[0].child.kill('SIGKILL');
      await until('server gone', async () => !servers[0].running(), 10_000, 20);
      servers.push(await startServe(dir, env));
    } : undefined);
    await until(`${name}: all ${EVENTS} notices`, async () => hook.unique().length >= EVENTS, DEADLINE_MS, 50).catch(() => null);
    const got = hook.unique();
    const latencies = got.map((a) => a.at - Date.parse(a.body.timestamp)).sort((a, b) => a - b);
    const lost = EVENTS - got.length;
    console.log(`\n${name}`);
    console.log(`  notices written        ${EVENTS}`);
    console.log(`  delivered (unique id)  ${got.length}   lost ${lost}${lost === 0 ? '' : '   <-- FAIL'}`);
    console.log(`  receiver requests      ${requests}   (${(requests / Math.max(1, got.length)).toFixed(2)} per notice; duplicates after dedupe ${hook.accepted.length - got.length})`);
    console.log(`  event → delivery       median ${quantile(latencies, 0.5)} ms   p99 ${quantile(latencies, 0.99)} ms   max ${latencies.at(-1)} ms`);
    console.log(`  wall time              ${((Date.now() - started) / 1000).toFixed(1)} s${killHalfway ? '   (server SIGKILLed and restarted half-way)' : ''}`);
    if (lost !== 0) process.exitCode = 1;
  } finally {
    await store.close();
    for (const s of servers) await s.stop();
    await hook.close();
  }
}

console.log(`shipgate notifications bench: ${EVENTS} notices per phase, loopback, SQLite`);
await phase('healthy receiver', () => false, false);
await phase('receiver refusing 50% of tries, server killed once', () => Math.random() < 0.5, true);
