// The demo of shipgate's main job on the embedded default: a SQLite store in a temp dir, a real
// `shipgate serve` on loopback (HTTP API + rollout controller), the local driver running the
// sample service (examples/sample-service) behind shipgate's weighted proxy, and steady
// loopback traffic. The real CLI takes v1 through staging and the production gate; v2 rolls
// out 10% → 50% → 100% with smoke tests and live analysis; v3, which fails 3% of its requests
// and is slow on 5%, is caught by the analysis and rolled back automatically. Ends with a
// summary (durations, time to detect, time to rollback) and `audit verify`.
// Exits non-zero if any step does not end as expected.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startLoad } from '../test/support/load.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const bin = path.join(root, 'bin', 'shipgate.js');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'shipgate-demo-'));
const config = path.join(work, 'shipgate.yaml');
fs.writeFileSync(
  config,
  fs
    .readFileSync(path.join(root, 'examples/demo/shipgate.yaml'), 'utf8')
    .replace('../sample-service/server.mjs', path.join(root, 'examples/sample-service/server.mjs'))
    .replace('BUILDS: builds.json', `BUILDS: ${path.join(root, 'examples/demo/builds.json')}`),
);
const reports = path.join(root, 'examples/demo/reports');
const RPS = Number(process.env.DEMO_RPS ?? 200);

let failures = 0;
let steps = 0;
const tokens: Record<string, string> = {};
let serverUrl = '';
const smokeEnv = { DEMO_SMOKE_TOKEN: 'demo-smoke-token' };

function show(text: string): void {
  process.stdout.write(text.replace(/^/gm, '    ').trimEnd() + '\n');
}

function cliEnv(as?: string): Record<string, string> {
  const env: Record<string, string> = { ...process.env, ...smokeEnv } as Record<string, string>;
  delete env.SHIPGATE_USER;
  delete env.SHIPGATE_SERVER;
  delete env.SHIPGATE_TOKEN;
  delete env.SHIPGATE_DATABASE_URL;
  if (as && serverUrl) {
    env.SHIPGATE_SERVER = serverUrl;
    env.SHIPGATE_TOKEN = tokens[as];
  }
  return env;
}

/** Runs one CLI command (without blocking the traffic), prints it and its output, checks its exit code. */
async function sg(args: string[], opts: { as?: string; expect?: number; quiet?: boolean } = {}): Promise<{ code: number; stdout: string }> {
  const res = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [bin, '-c', config, ...args], { cwd: work, env: cliEnv(opts.as) });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
  const expect = opts.expect ?? 0;
  steps++;
  if (!opts.quiet) {
    process.stdout.write(`\n$ ${opts.as ? `[${opts.as}] ` : ''}shipgate ${args.join(' ')}\n`);
    show(`${res.stdout}${res.stderr}`);
    process.stdout.write(`    (exit ${res.code}${res.code === expect ? '' : `, EXPECTED ${expect}`})\n`);
  } else if (res.code !== expect) {
    process.stdout.write(`\n$ shipgate ${args.join(' ')}: exit ${res.code}, EXPECTED ${expect}\n${res.stdout}${res.stderr}\n`);
  }
  if (res.code !== expect) failures++;
  return { code: res.code, stdout: res.stdout };
}

/** Reads a deployment through the API (not counted as a demo step). */
async function deploymentOf(id: number): Promise<any> {
  const res = await fetch(`${serverUrl}/api/v1/deployments/${id}`, { headers: { authorization: `Bearer ${tokens.carol}` } });
  if (!res.ok) throw new Error(`reading deployment ${id}: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { deployment: unknown }).deployment;
}

/** Follows a deployment the server is rolling out, printing each change, until it ends. */
async function follow(id: number, deadlineSeconds = 300): Promise<any> {
  const started = Date.now();
  let last = '';
  let lastKey = '';
  let lastAt = 0;
  for (;;) {
    const d = await deploymentOf(id);
    const r = d.rollout;
    const step = r?.steps?.[r.step];
    const line = r
      ? `${d.state.padEnd(12)} step ${r.step + 1}/${r.plan.steps.length} weight ${String(r.weight).padStart(3)}%  ${r.phase.padEnd(11)}` +
        (step ? ` canary ${String(step.canaryRequests).padStart(5)} / stable ${String(step.stableRequests).padStart(5)} requests, verdict ${step.verdict ?? '-'}` : '')
      : d.state;
    const reasons = step?.reasons?.filter((x: { verdict: string }) => x.verdict === 'fail').map((x: { sentence: string }) => `      ✘ ${x.sentence}`).join('\n');
    const text = `${line}${reasons ? `\n${reasons}` : ''}`;
    // A new state, step, phase or verdict shows at once; growing request counts every 2 s.
    const key = `${d.state}/${r?.step}/${r?.phase}/${step?.verdict}`;
    if (text !== last && (key !== lastKey || Date.now() - lastAt >= 2000)) {
      process.stdout.write(`  [${((Date.now() - started) / 1000).toFixed(1).padStart(5)} s] ${text}\n`);
      last = text;
      lastKey = key;
      lastAt = Date.now();
    }
    if (['succeeded', 'rolled_back', 'rollback_failed', 'failed', 'rejected', 'cancelled', 'expired'].includes(d.state)) return d;
    if (Date.now() - started > deadlineSeconds * 1000) throw new Error(`deployment ${id} still ${d.state} after ${deadlineSeconds} s`);
    await new Promise((res) => setTimeout(res, 500));
  }
}

/** Counts a followed deployment that ended otherwise than expected as a failed step, and says why. */
function expectState(d: { state: string; reason?: string | null }, expected: string): void {
  steps++;
  if (d.state === expected) return;
  failures++;
  process.stdout.write(`    EXPECTED ${expected}, got ${d.state}: ${d.reason ?? ''}\n`);
}

const digest = (v: string) => `sha256:${Buffer.from(v.padEnd(32, '.')).toString('hex').slice(0, 64)}`;

/** v → registered, verified in dev, rolled out in staging by the server, verified there. */
async function throughStaging(version: string, commit: string): Promise<void> {
  await sg(['release', 'register', 'web', version, '--digest', digest(`web-${version}`), '--commit', commit, '--scan', path.join(reports, 'trivy-clean.json'), '--tests', path.join(reports, 'junit.xml')], { as: 'carol' });
  await sg(['verify', 'web', version, 'dev', '--note', 'unit and integration tests green'], { as: 'carol', quiet: true });
  const staging = JSON.parse((await sg(['--json', 'deploy', 'web', version, 'staging'], { as: 'carol', quiet: true })).stdout);
  process.stdout.write(`\nstaging: the server rolls ${version} out (smoke tests only)\n`);
  expectState(await follow(staging.deployment.id), 'succeeded');
  await sg(['verify', 'web', version, 'staging', '--note', 'e2e suite green in staging'], { as: 'carol', quiet: true });
}

/** Requests production, the checklist tick and the two approvals; returns the deployment id. */
async function approvedForProduction(version: string): Promise<number> {
  const prod = JSON.parse((await sg(['--json', 'deploy', 'web', version, 'production'], { as: 'carol', expect: 3, quiet: true })).stdout);
  const id = String(prod.deployment.id);
  await sg(['tick', id, 'rollback-plan', '--note', 'runbook RB-12 reviewed'], { as: 'alice', expect: 3, quiet: true });
  await sg(['approve', id, '--comment', 'dashboards ready'], { as: 'alice', expect: 3, quiet: true });
  await sg(['approve', id, '--comment', 'code reviewed'], { as: 'bob', expect: 0 });
  return Number(id);
}

interface Summary {
  version: string;
  state: string;
  seconds: number;
  detectSeconds?: number;
  msToTraffic?: number;
  msToVerified?: number;
  reason?: string;
}

async function main(): Promise<void> {
  process.stdout.write(`shipgate demo in ${work} (SQLite store, local driver, ${RPS} requests/s of loopback traffic)\n`);
  await sg(['validate']);
  for (const user of ['alice', 'bob', 'carol', 'dana']) {
    const out = await sg(['--json', 'token', 'create', user, '--label', 'demo'], { quiet: true });
    tokens[user] = JSON.parse(out.stdout).token;
  }
  process.stdout.write('\ncreated API tokens for alice, bob, carol and dana (values kept out of this output)\n');

  const server = spawn(process.execPath, [bin, '-c', config, 'serve', '--port', '0', '--reconcile-every', '2'], {
    cwd: work,
    env: { ...cliEnv(), SHIPGATE_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let load: ReturnType<typeof startLoad> | null = null;
  const summary: Summary[] = [];
  try {
    serverUrl = await new Promise<string>((resolve, reject) => {
      let out = '';
      const deadline = setTimeout(() => reject(new Error(`server did not start within 20 s: ${out}`)), 20_000);
      server.stdout.on('data', (b: Buffer) => {
        out += b.toString();
        const m = /listening on (http:\/\/\S+)/.exec(out);
        if (m) {
          clearTimeout(deadline);
          resolve(m[1]);
        }
      });
      server.on('exit', (c) => reject(new Error(`server exited with ${c}: ${out}`)));
    });
    process.stdout.write(`shipgate serve is listening on ${serverUrl}; the steps below go through its HTTP API, and it runs the rollouts\n`);

    // v1: the gate, explained; then the first production deployment.
    await throughStaging('1.0.0', '9f2e1c7a');
    await sg(['check', 'web', '1.0.0', 'production'], { as: 'carol', expect: 3 });
    const prod = JSON.parse((await sg(['--json', 'deploy', 'web', '1.0.0', 'production'], { as: 'carol', expect: 3, quiet: true })).stdout);
    const id1 = String(prod.deployment.id);
    await sg(['approve', id1], { as: 'carol', expect: 2 });
    await sg(['tick', id1, 'rollback-plan', '--note', 'runbook RB-12 reviewed'], { as: 'alice', expect: 3 });
    await sg(['approve', id1, '--comment', 'dashboards ready'], { as: 'alice', expect: 3 });
    await sg(['approve', id1, '--comment', 'code reviewed'], { as: 'bob', expect: 0 });
    process.stdout.write('\nproduction: the server rolls 1.0.0 out (first deployment: nothing to compare with)\n');
    expectState(await follow(Number(id1)), 'succeeded');

    // A release the gate refuses, and a version name it refuses.
    await sg(['release', 'register', 'web', '1.1.0', '--digest', digest('web-1.1.0'), '--commit', '0c4d2e9b', '--scan', path.join(reports, 'trivy-critical.json')], { as: 'carol' });
    await sg(['check', 'web', '1.1.0', 'production'], { as: 'carol', expect: 4 });
    await sg(['release', 'register', 'web', 'latest', '--digest', digest('web-latest'), '--commit', '0c4d2e9b'], { as: 'carol', expect: 2 });

    // Steady traffic on production from here on.
    const rt = JSON.parse((await sg(['--json', 'runtime', 'show', 'web', 'production'], { quiet: true })).stdout);
    load = startLoad(`http://127.0.0.1:${rt.proxyPort}`, { rps: RPS, clients: 8, maxSeconds: 900 });
    process.stdout.write(`\ntraffic: ${RPS} requests/s to the production proxy at http://127.0.0.1:${rt.proxyPort}\n`);

    for (const [version, commit, expected] of [
      ['2.0.0', '4b1d2e3f', 'succeeded'],
      ['3.0.0', '7a8b9c0d', 'rolled_back'],
    ] as const) {
      process.stdout.write(`\n==== ${version}${version === '3.0.0' ? ' (a bad build: 3% errors, 5% of requests +300 ms)' : ''} ====\n`);
      await throughStaging(version, commit);
      const id = await approvedForProduction(version);
      process.stdout.write(`\nproduction: the server rolls ${version} out 10% → 50% → 100% on live traffic\n`);
      const d = await follow(id);
      expectState(d, expected);
      const r = d.rollout;
      const ended = r.rollback?.verifiedAt ?? d.updatedAt;
      summary.push({
        version,
        state: d.state,
        seconds: (Date.parse(ended) - Date.parse(r.startedAt)) / 1000,
        ...(r.rollback
          ? {
              detectSeconds: (Date.parse(r.rollback.decidedAt) - Date.parse(r.startedAt)) / 1000,
              msToTraffic: r.rollback.msToTraffic,
              msToVerified: r.rollback.msToVerified,
              reason: r.rollback.reason,
            }
          : {}),
      });
    }

    await sg(['status'], { as: 'carol' });
    await sg(['audit', 'verify'], { as: 'carol' });
  } finally {
    const seen = load ? await load.stop() : null;
    server.kill('SIGTERM');
    for (const env of ['staging', 'production']) spawnSync(process.execPath, [bin, '-c', config, 'runtime', 'stop', 'web', env], { cwd: work, env: cliEnv() });
    if (seen) process.stdout.write(`\ntraffic sent: ${seen.sent} requests; answered by version: ${JSON.stringify(seen.byVersion)}; 5xx or failed: ${seen.errors}\n`);
  }
  process.stdout.write('\nsummary\n');
  for (const s of summary) {
    process.stdout.write(`  web ${s.version}: ${s.state} after ${s.seconds.toFixed(1)} s`);
    if (s.detectSeconds !== undefined) {
      process.stdout.write(`; detected ${s.detectSeconds.toFixed(1)} s into the rollout; traffic back on stable ${s.msToTraffic} ms after the decision, verified after ${s.msToVerified} ms\n    why: ${s.reason}`);
    }
    process.stdout.write('\n');
  }
  process.stdout.write(`\ndemo: ${steps - failures} of ${steps} steps ended as expected; files in ${work}\n`);
  if (failures) process.exitCode = 1;
}

main().catch((err) => {
  process.stderr.write(`demo failed: ${(err as Error).message}\n`);
  process.exitCode = 1;
});
