// Rollout figures on the local driver, with real processes and loopback traffic:
//
//   node --import tsx bench/rollout.ts [--rps 100] [--healthy-runs 5] [--bad-runs 5]
//
// - a healthy release 10% → 50% → 100% at 100 requests/s: total duration (min_step 10 s,
//   post-deploy checks at +0 and +5 s), median and p90 of the runs beside the floor, the plan's
//   own minimum (every step's min_step and the last post-deploy check) — the 10% step varies most: at
//   10 canary requests/s it lasts until the errors are shown below 0.5%, which takes about
//   1,300 canary requests on average when the true rate is 0.1% (docs/canary-judge.md);
// - a bad canary (errors 0.1% → 2.1%) at 100 requests/s: time from the rollout's start to the
//   rollback decision, and the time to rollback: decision → all traffic on stable, and
//   decision → stable verified (running, no canary weight, health checks passing).
// The controller runs in this process (as `shipgate rollout` does); the service versions and
// the proxy run in the local runtime process, the traffic generator in this process.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../src/config/load.js';
import type { RolloutRecord } from '../src/domain/rollout.js';
import { localDriverFor } from '../src/drivers/local/index.js';
import { buildController } from '../src/features/rollouts/runner.js';
import { createShipgate, openStore } from '../src/main.js';
import { startLoad } from '../test/support/load.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const opt = (name: string, def: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const RPS = opt('rps', 100);
const HEALTHY_RUNS = opt('healthy-runs', 5);
const BAD_RUNS = opt('bad-runs', 5);

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shipgate-bench-rollout-'));
const builds: Record<string, Record<string, string>> = {};
for (let i = 0; i < BAD_RUNS; i++) builds[`9.${i}.0`] = { ERROR_RATE: '0.021' };
fs.writeFileSync(path.join(dir, 'builds.json'), JSON.stringify(builds));
fs.writeFileSync(
  path.join(dir, 'shipgate.yaml'),
  `version: 1
roles: [dev]
users: [{ name: bench, roles: [dev] }]
services:
  - name: web
    run:
      command: [node, ${JSON.stringify(path.join(root, 'examples/sample-service/server.mjs'))}]
      env: { BUILDS: ${JSON.stringify(path.join(dir, 'builds.json'))}, ERROR_RATE: "0.001" }
      ready_path: /ready
environments:
  - name: production
    policy: { auto_approve: true, require_verified_in: null }
    rollout:
      steps: [10, 50, 100]
      min_step: 10s
      max_step: 5m
      on_inconclusive: rollback
      post_deploy: [0s, 5s]
      smoke:
        - { name: health, path: /health, json: { status: ok } }
        - { name: ready, path: /ready, json: { status: ready } }
`,
);

const config = loadConfig(path.join(dir, 'shipgate.yaml'));
const app = createShipgate({ config, store: await openStore({ sqlitePath: config.store.sqlitePath }) });
const actor = { user: 'bench', via: 'local' as const };
const local = localDriverFor(config);
const controller = buildController(app, { drivers: new Map([['production', local]]) });
let n = 0;

async function rollout(version: string): Promise<{ state: string; record: RolloutRecord; seconds: number }> {
  n++;
  await app.releases.register(actor, { service: 'web', version, digest: `sha256:${n.toString(16).padStart(64, '0')}`, commit: `abcdef${n}` });
  const { view } = await app.deployments.request(actor, { service: 'web', version, environment: 'production' });
  const started = performance.now();
  const d = await controller.run(view.deployment.id, { pollMs: 200, deadlineMs: 600_000 });
  return { state: d.state, record: d.rollout!, seconds: (performance.now() - started) / 1000 };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** The nearest-rank p90. */
function p90(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(0.9 * s.length) - 1)];
}

/** No rollout of this plan can be shorter: three steps of min_step 10 s, then the +5 s check. */
const FLOOR_SECONDS = 3 * 10 + 5;

let load: ReturnType<typeof startLoad> | null = null;
try {
  console.log(`rollout figures: local driver, ${RPS} requests/s of loopback traffic, ${os.cpus().length} cores`);
  const first = await rollout('1.0.0');
  if (first.state !== 'succeeded') throw new Error(`first deployment ended ${first.state}`);
  load = startLoad(await local.proxyUrl('web', 'production'), { rps: RPS, clients: 4, maxSeconds: 1800 });

  const healthySeconds: number[] = [];
  for (let i = 0; i < HEALTHY_RUNS; i++) {
    const healthy = await rollout(`2.${i}.0`);
    const steps = healthy.record.steps.map((s) => `${s.weight}%: ${((Date.parse(s.endedAt ?? s.startedAt) - Date.parse(s.startedAt)) / 1000).toFixed(1)} s, ${s.canaryRequests} canary requests`);
    console.log(`healthy run ${i + 1}: ${healthy.state} in ${healthy.seconds.toFixed(1)} s   [${steps.join('; ')}]`);
    if (healthy.state === 'succeeded') healthySeconds.push(healthy.seconds);
  }
  if (healthySeconds.length) {
    const m = median(healthySeconds);
    const p = p90(healthySeconds);
    console.log(
      `healthy 10 → 50 → 100, ${healthySeconds.length} succeeded (of ${HEALTHY_RUNS}): median ${m.toFixed(1)} s, p90 ${p.toFixed(1)} s (${Math.min(...healthySeconds).toFixed(1)}–${Math.max(...healthySeconds).toFixed(1)} s; goal p90 ≤ 180 s)`,
    );
    console.log(`  floor, the plan's minimum (3 × min_step 10 s + post-deploy +5 s): ${FLOOR_SECONDS} s — median ${(m / FLOOR_SECONDS).toFixed(2)}×, p90 ${(p / FLOOR_SECONDS).toFixed(2)}× the floor`);
  }

  const detect: number[] = [];
  const toTraffic: number[] = [];
  const toVerified: number[] = [];
  for (let i = 0; i < BAD_RUNS; i++) {
    const bad = await rollout(`9.${i}.0`);
    const rb = bad.record.rollback;
    if (bad.state !== 'rolled_back' || !rb) {
      console.log(`bad canary run ${i + 1}: ended ${bad.state} (not rolled back)`);
      continue;
    }
    detect.push((Date.parse(rb.decidedAt) - Date.parse(bad.record.startedAt)) / 1000);
    toTraffic.push(rb.msToTraffic ?? NaN);
    toVerified.push(rb.msToVerified ?? NaN);
    console.log(`bad canary run ${i + 1}: rolled back ${detect.at(-1)!.toFixed(1)} s after the start (${rb.trigger}: ${rb.reason}); traffic ${rb.msToTraffic} ms, verified ${rb.msToVerified} ms`);
  }
  if (detect.length) {
    console.log(`bad canary (0.1% → 2.1% errors), median of ${detect.length}: rollout start → rollback decision ${median(detect).toFixed(1)} s`);
    console.log(`time to rollback, median of ${detect.length}: decision → traffic on stable ${median(toTraffic)} ms; decision → verified ${median(toVerified)} ms (target ≤ 1000 ms)`);
  }
  const seen = await load.stop();
  load = null;
  console.log(`traffic: ${seen.sent} requests, by version ${JSON.stringify(seen.byVersion)}, 5xx or failed ${seen.errors}`);
} finally {
  await load?.stop();
  await local.shutdown('web', 'production');
  await app.store.close();
  fs.rmSync(dir, { recursive: true, force: true });
}
