// The local runtime itself dying mid-rollout (SIGKILL: no chance to clean up), with real
// processes and steady loopback traffic through its proxy. The controller must roll back to a
// stable version that serves again through the same proxy address, and the dead runtime's
// service processes must not outlive it. How long users saw errors is measured and reported.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { after, test } from 'node:test';
import { cliIn, type Run } from '../support/cli.js';
import { tempDir } from '../support/databases.js';
import { startLoad } from '../support/load.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const SERVICE = path.join(ROOT, 'examples/sample-service/server.mjs');
const dir = tempDir('shipgate-runtime-crash-');
const env = { ...process.env, SHIPGATE_USER: 'carol', SHIPGATE_DATABASE_URL: '' };
const STATE = path.join(dir, '.shipgate/runtime/web.production.json');

const { cli, json } = cliIn(dir, () => env);

let load: ReturnType<typeof startLoad> | null = null;
let watcher: ReturnType<typeof watch> | null = null;
let killRollout: (() => void) | null = null;
/** Service processes seen before the crash: whatever the outcome, none may outlive the test. */
const servicePids = new Set<number>();

after(async () => {
  killRollout?.();
  await watcher?.stop();
  await load?.stop();
  await cli(['runtime', 'stop', 'web', 'production']);
  // On a failure the dead runtime's processes may still be running: they are this test's,
  // so it ends them (only while they still run the sample service, in case a pid was reused).
  for (const pid of servicePids) if (runsSampleService(pid)) killQuietly(pid);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('SIGKILL of the local runtime mid-rollout: rolled back, stable serves again through the proxy, no orphaned processes', async (t) => {
  fs.writeFileSync(
    path.join(dir, 'shipgate.yaml'),
    `version: 1
roles: [dev]
users: [{ name: carol, roles: [dev] }]
services:
  - name: web
    run: { command: [node, ${JSON.stringify(SERVICE)}], ready_path: /ready }
environments:
  - name: production
    policy: { auto_approve: true, require_verified_in: null }
    rollout:
      steps: [50, 100]
      # Long enough that the rollout is still collecting evidence at 50% when the runtime dies.
      min_step: 10m
      max_step: 15m
      on_inconclusive: rollback
      post_deploy: [0s]
      smoke:
        - { name: health, path: /health, json: { status: ok } }
        - { name: ready, path: /ready, json: { status: ready } }
`,
  );
  for (const [i, v] of ['1.0.0', '2.0.0'].entries()) {
    const r = await cli(['release', 'register', 'web', v, '--digest', `sha256:${String(i + 1).repeat(64)}`, '--commit', `abc123${i}`]);
    assert.equal(r.code, 0, r.stderr);
  }
  assert.equal((await cli(['deploy', 'web', '1.0.0', 'production'])).code, 0);
  const first = await cli(['rollout', '1']);
  assert.equal(first.code, 0, `${first.stdout}\n${first.stderr}`);

  const proxy = `http://127.0.0.1:${(await json(['runtime', 'show', 'web', 'production'])).proxyPort}`;
  load = startLoad(proxy, { rps: 100, clients: 4, maxSeconds: 600 });
  watcher = watch(proxy);

  assert.equal((await cli(['deploy', 'web', '2.0.0', 'production'])).code, 0);
  const rollout: Promise<Run> = cli(['rollout', '2'], {
    timeoutMs: 300_000,
    onStdout: (_out, kill) => {
      killRollout = kill;
    },
  });

  // The canary takes its share of users' traffic: the rollout is mid-step.
  await until('the canary 2.0.0 took traffic', 60_000, () => (load!.stats.byVersion['2.0.0'] ?? 0) > 20);
  const before = JSON.parse(fs.readFileSync(STATE, 'utf8'));
  assert.equal(before.canary?.version, '2.0.0', JSON.stringify(before));
  assert.equal(before.stable?.version, '1.0.0', JSON.stringify(before));
  for (const slot of [before.stable, before.canary, before.previous]) if (slot?.pid) servicePids.add(slot.pid);
  assert.equal(servicePids.size, 2, JSON.stringify(before));
  const mid = (await json(['show', '2'])).deployment;
  assert.equal(mid.state, 'rolling_out', `the rollout ended before the crash: ${mid.state} ${mid.reason ?? ''}`);

  const killedAt = Date.now();
  watcher.mark(killedAt);
  process.kill(before.pid, 'SIGKILL');

  const run = await rollout;
  const d = (await json(['show', '2'])).deployment;
  // Users must have the stable version back within a minute of the crash, however busy the machine.
  const RECOVERY_MS = 60_000;
  const wait = Math.max(0, killedAt + RECOVERY_MS - Date.now());
  await until('a 200 from the stable version 1.0.0 through the proxy after the crash', wait, () => watcher!.recoveredAt !== null).catch(() => {});
  await until('the dead runtime’s service processes to be gone', 20_000, () => [...servicePids].every(gone)).catch(() => {});

  const left = [...servicePids].filter((pid) => !gone(pid));
  const outage = watcher.recoveredAt !== null ? watcher.recoveredAt - (watcher.firstErrorAt ?? killedAt) : null;
  const summary = [
    `deployment 2: ${d.state} (${d.reason ?? 'no reason'}); rollback: ${JSON.stringify(d.rollout?.rollback)}`,
    outage === null
      ? `users still saw errors ${((Date.now() - killedAt) / 1000).toFixed(1)} s after the crash (no 200 from 1.0.0 again)`
      : `users saw errors for ${outage} ms (first error ${(watcher.firstErrorAt ?? killedAt) - killedAt} ms after the kill, first stable 200 ${watcher.recoveredAt! - killedAt} ms after it)`,
    `load: ${JSON.stringify(load.stats)}`,
    `service processes of the dead runtime still running: ${left.length ? left.join(', ') : 'none'}`,
    `rollout output:\n${run.stdout}\n${run.stderr}`,
  ].join('\n');
  t.diagnostic(summary.split('\n').slice(0, 4).join(' | '));

  assert.equal(d.state, 'rolled_back', summary);
  assert.equal(d.rollout.rollback.ok, true, summary);
  assert.equal(run.code, 4, summary);
  assert.ok(outage !== null && watcher.recoveredAt! - killedAt <= RECOVERY_MS, summary);
  assert.deepEqual(left, [], summary);
  const rt = await json(['runtime', 'show', 'web', 'production']);
  assert.equal(`http://127.0.0.1:${rt.proxyPort}`, proxy, 'users reach the service at the same address');
  assert.equal(rt.stable?.version, '1.0.0', summary);
  assert.equal(rt.stable?.running, true, summary);
  assert.equal(rt.canary, null, summary);
  assert.equal(rt.weight, 0, summary);
  assert.notEqual(rt.pid, before.pid, 'a new runtime');
  const audit = await cli(['audit', 'verify']);
  assert.equal(audit.code, 0, audit.stdout + audit.stderr);
});

/** Polls `ok` until it holds or the deadline passes (a busy machine sets the pace, not a sleep). */
async function until(what: string, ms: number, ok: () => boolean): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * A user's view of the proxy: one request at a time on a fresh connection (a dead proxy shows
 * at once as a refused connection), remembering from a mark on when the first error came and
 * when the stable version first answered 200 after it.
 */
function watch(url: string) {
  let stopped = false;
  let markedAt: number | null = null;
  const state = { firstErrorAt: null as number | null, recoveredAt: null as number | null };
  const loop = (async () => {
    while (!stopped) {
      const at = Date.now();
      const seen = await once(url);
      if (markedAt !== null && at >= markedAt) {
        const ok = seen.status >= 200 && seen.status < 300;
        if (!ok && state.firstErrorAt === null) state.firstErrorAt = at;
        if (ok && seen.version === '1.0.0' && state.firstErrorAt !== null && state.recoveredAt === null) state.recoveredAt = Date.now();
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  return {
    get firstErrorAt() {
      return state.firstErrorAt;
    },
    get recoveredAt() {
      return state.recoveredAt;
    },
    mark(at: number) {
      markedAt = at;
    },
    async stop() {
      stopped = true;
      await loop;
    },
  };
}

/** One GET on a connection of its own; status 0 when the proxy could not be reached. */
function once(url: string): Promise<{ status: number; version: string | null }> {
  return new Promise((resolve) => {
    const req = http.get(`${url}/api/items`, { agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, version: (res.headers['x-version'] as string | undefined) ?? null }));
      res.on('error', () => resolve({ status: 0, version: null }));
    });
    req.setTimeout(2000, () => req.destroy());
    req.on('error', () => resolve({ status: 0, version: null }));
  });
}

/** Gone: no such process, or a zombie (it holds nothing and only waits for its parent). */
function gone(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return true;
  }
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return false;
  }
}

function runsSampleService(pid: number): boolean {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(SERVICE);
  } catch {
    return false;
  }
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}
