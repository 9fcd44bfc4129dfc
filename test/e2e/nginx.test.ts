// Rollouts on the nginx driver, end to end: a real nginx (Debian's, run unprivileged by shipgate
// in its own prefix: mode managed) splits real loopback traffic between sample-service
// processes in two slots, and `shipgate rollout` drives each deployment as a child process. The
// config is examples/nginx/shipgate.yaml, copied with free ports and short step times. What a
// user sees: the split served at each step is the weight asked for; nginx reloads once per
// weight change and never when the weight stays; the analysis keeps reading nginx's access log
// through a logrotate and a copytruncate; a bad build is rolled back in well under a second,
// after which every request is answered by the stable version; and a config nginx -t rejects
// fails the deployment with nginx's words while the old config goes on serving.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseDocument } from 'yaml';
import { loadConfig } from '../../src/config/load.js';
import { requestsIn } from '../../src/drivers/driver.js';
import { NginxDriver } from '../../src/drivers/nginx/driver.js';
import { readWeights } from '../../src/drivers/nginx/render.js';
import { driverPlugin } from '../../src/drivers/registry.js';
import { freePort } from '../../src/drivers/ports.js';
import { cliIn } from '../support/cli.js';
import { callApi, type Served, startServe } from '../support/serve.js';
import { tempDir } from '../support/databases.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const EXAMPLE = path.join(ROOT, 'examples/nginx');

/** One response seen by the traffic: when its request was sent, who answered (or 'reset'). */
interface Seen {
  sent: number;
  version: string;
  status: number;
}

/**
 * Steady keep-alive traffic through nginx, as users send it: `clients` connections, `rps` in
 * all, bounded in count and time. Keeps every response with its send time, so a window of
 * time can be judged by the requests sent in it.
 */
function traffic(url: string, opts: { rps: number; clients: number; maxSeconds: number; maxRequests: number }) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: opts.clients });
  const seen: Seen[] = [];
  const deadline = Date.now() + opts.maxSeconds * 1000;
  const interval = (1000 * opts.clients) / opts.rps;
  let stopped = false;
  const one = () =>
    new Promise<void>((resolve) => {
      const sent = Date.now();
      const req = http.get(`${url}/api/items`, { agent }, (res) => {
        res.resume();
        res.on('end', () => {
          seen.push({ sent, version: String(res.headers['x-version'] ?? 'none'), status: res.statusCode ?? 0 });
          resolve();
        });
      });
      req.setTimeout(10_000, () => req.destroy());
      req.on('error', () => {
        seen.push({ sent, version: 'reset', status: 0 });
        resolve();
      });
    });
  const loops = Array.from({ length: opts.clients }, async (_, i) => {
    let next = Date.now() + (interval * i) / opts.clients;
    while (!stopped && seen.length < opts.maxRequests && Date.now() < deadline) {
      const wait = next - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      next = Math.max(next + interval, Date.now() - interval);
      await one();
    }
  });
  return {
    seen,
    /** Responses to requests sent in [from, to). */
    between: (from: number, to = Infinity) => seen.filter((s) => s.sent >= from && s.sent < to),
    async stop() {
      stopped = true;
      await Promise.all(loops);
      agent.destroy();
    },
  };
}

/** The canary's share of the answered requests, with the tolerance its sample size allows. */
function share(window: Seen[], canary: string, stable: string): { n: number; observed: number } {
  const answered = window.filter((s) => s.version === canary || s.version === stable);
  return { n: answered.length, observed: answered.filter((s) => s.version === canary).length / Math.max(1, answered.length) };
}

function assertSplit(window: Seen[], canary: string, stable: string, asked: number): void {
  const { n, observed } = share(window, canary, stable);
  const p = asked / 100;
  // nginx's weighted round robin (one worker) serves the exact split in every cycle; the
  // slack is for requests at the edges of the window, plus three standard errors.
  const tolerance = 0.02 + 3 * Math.sqrt((p * (1 - p)) / Math.max(1, n));
  assert.ok(n >= 50, `only ${n} requests answered at ${asked}%`);
  assert.ok(Math.abs(observed - p) <= tolerance, `${asked}% asked, ${(observed * 100).toFixed(1)}% of ${n} requests served by ${canary} (tolerance ${(tolerance * 100).toFixed(1)} points)`);
}

/**
 * Every request sent from `since` on was answered by `version` with 200. A reload resets a few
 * requests sent on keep-alive connections the old worker is closing (nginx 1.22; see
 * bench/nginx.ts): those are allowed, at most one per connection and only in the first second.
 */
function assertAllOn(window: Seen[], version: string, since: number): void {
  const other = window.filter((s) => s.version !== 'reset' && (s.version !== version || s.status !== 200));
  assert.deepEqual(other.slice(0, 5), [], `answered by something other than ${version}`);
  const resets = window.filter((s) => s.version === 'reset');
  assert.ok(resets.length <= CLIENTS && resets.every((s) => s.sent < since + 1000), `resets: ${JSON.stringify(resets.map((s) => s.sent - since))}`);
}

const CLIENTS = 8;

describe('rollouts on the nginx driver, with a real nginx and real traffic', () => {
  const root = tempDir('shipgate-nginx-');
  const dir = path.join(root, 'nginx');
  const config = path.join(dir, 'shipgate.yaml');
  const env = { ...process.env, SHIPGATE_USER: 'carol', SHIPGATE_DATABASE_URL: '' };
  const { cli, json } = cliIn(dir, () => env);
  let served: Served | null = null;
  let token = '';
  let load: ReturnType<typeof traffic> | null = null;
  let listen = 0;
  let slots: [number, number] = [0, 0];
  let releases = 0;

  const errorLog = path.join(dir, '.shipgate/nginx/logs/error.log');
  const includeFile = path.join(dir, '.shipgate/nginx/conf.d/web.production.conf');
  /** Reloads nginx has done so far: its error log (level notice) has a line for each SIGHUP. */
  const reloads = () => (fs.readFileSync(errorLog, 'utf8').match(/signal 1 \(SIGHUP\) received/g) ?? []).length;
  const NGINX_AT = ['environments', 0, 'rollout', 'nginx'];

  /** Changes the copied example config: each [path, value]. */
  function edit(changes: [(string | number)[], unknown][]): void {
    const doc = parseDocument(fs.readFileSync(config, 'utf8'));
    for (const [at, value] of changes) doc.setIn(at, doc.createNode(value));
    fs.writeFileSync(config, doc.toString());
  }

  const api = (method: string, url: string, body?: unknown) => callApi(served!, token, method, url, body);

  /** Registers a release and requests it in production; serve's controller rolls it out. */
  async function request(version: string): Promise<number> {
    releases += 1;
    await api('POST', '/api/v1/releases', { service: 'web', version, digest: `sha256:${releases.toString(16).padStart(64, '0')}`, commit: `c0ffee${releases}` });
    return (await api('POST', '/api/v1/deployments', { service: 'web', version, environment: 'production' })).deployment.id;
  }

  /** The deployment once its rollout has ended, polled with a deadline. */
  async function ended(id: number): Promise<any> {
    return until(async () => {
      const d = (await api('GET', `/api/v1/deployments/${id}`)).deployment;
      return ['succeeded', 'rolled_back', 'rollback_failed', 'failed'].includes(d.state) && d;
    }, 60_000);
  }

  /** shipgate serve, (re)started: it reads the config as it is now. */
  async function serve(): Promise<void> {
    await served?.stop();
    served = await startServe(dir, env);
  }

  before(async () => {
    fs.mkdirSync(dir);
    fs.mkdirSync(path.join(root, 'sample-service'));
    for (const f of ['shipgate.yaml', 'builds.json']) fs.copyFileSync(path.join(EXAMPLE, f), path.join(dir, f));
    fs.copyFileSync(path.join(ROOT, 'examples/sample-service/server.mjs'), path.join(root, 'sample-service/server.mjs'));
    listen = await freePort();
    slots = [await freePort(), await freePort()];
    while (slots[1] === slots[0] || slots.includes(listen)) slots = [await freePort(), await freePort()];
    const rollout = ['environments', 0, 'rollout'];
    edit([
      [[...NGINX_AT, 'services', 'web', 'listen'], listen],
      [[...NGINX_AT, 'services', 'web', 'ports'], slots],
      [[...rollout, 'min_step'], '1s'],
      [[...rollout, 'max_step'], '60s'],
      [[...rollout, 'post_deploy'], ['0s']],
    ]);
    token = (await json(['token', 'create', 'carol'])).token;
    await serve();
    const first = await ended(await request('1.0.0'));
    assert.equal(first.state, 'succeeded', JSON.stringify(first));
    load = traffic(`http://127.0.0.1:${listen}`, { rps: 500, clients: CLIENTS, maxSeconds: 150, maxRequests: 80_000 });
  });

  after(async () => {
    await load?.stop();
    await served?.stop();
    // Everything the rollouts started (nginx, the slots) ends, even when a test failed.
    const cfg = loadConfig(config);
    await (driverPlugin('nginx').create(cfg.environments[0].rollout!.driver.settings, cfg) as NginxDriver).shutdown();
    fs.rmSync(root, { recursive: true, force: true });
  });

  test('the example config validates as it is', async () => {
    const r = await cli(['validate', '--config', path.join(EXAMPLE, 'shipgate.yaml')]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /ok/);
  });

  test('a healthy release goes 10 → 50 → 100 on live traffic, each split as asked, one reload per weight change', async () => {
    const reloadsBefore = reloads();
    const d = await ended(await request('2.0.0'));
    assert.equal(d.state, 'succeeded', JSON.stringify(d.rollout));
    const steps = d.rollout.steps as { weight: number; startedAt: string; endedAt: string | null; verdict: string }[];
    assert.deepEqual(
      steps.map((s) => s.weight),
      [10, 50, 100],
    );
    assert.deepEqual(
      steps.slice(0, 2).map((s) => s.verdict),
      ['pass', 'pass'],
    );
    // A step starts once its weight is applied (nginx reloaded) and ends when its analysis passes.
    for (const s of steps.slice(0, 2)) assertSplit(load!.between(Date.parse(s.startedAt), Date.parse(s.endedAt!)), '2.0.0', '1.0.0', s.weight);
    const from100 = Date.parse(steps[2].startedAt);
    const later = await until(() => load!.between(from100).length >= 300 && load!.between(from100));
    assertAllOn(later, '2.0.0', from100);
    // Deploying a canary at 0%, promoting (the same file as 100%) and retiring 1.0.0 change no
    // weight: nginx reloaded for the three weights and nothing else.
    assert.equal(reloads() - reloadsBefore, 3, fs.readFileSync(errorLog, 'utf8').slice(-2000));
    assert.deepEqual([...readWeights(fs.readFileSync(includeFile, 'utf8')).keys()], [slots[1]], 'the upstream has 2.0.0 alone');
  });

  test('the access log is followed through logrotate (a new file) and copytruncate (the same file, emptied)', async () => {
    const cfg = loadConfig(config);
    const source = driverPlugin('nginx').metrics(driverPlugin('nginx').create(cfg.environments[0].rollout!.driver.settings, cfg))!;
    const context = { service: 'web', environment: 'production', canaryVersion: '9.9.9', stableVersion: '2.0.0' };
    const log = path.join(dir, '.shipgate/nginx/logs/web.production.access.log');
    const linesIn = (cursor: string) => fs.readFileSync(log, 'utf8').slice(0, Number(cursor.split(':')[1])).split('\n').length - 1;
    const size = () => (fs.existsSync(log) ? fs.statSync(log).size : 0);
    const from = await source.cursor(context);

    // logrotate: the file moves away and nginx is told to reopen its logs (USR1).
    fs.renameSync(log, `${log}.1`);
    process.kill(Number(fs.readFileSync(path.join(dir, '.shipgate/nginx/nginx.pid'), 'utf8')), 'SIGUSR1');
    await until(() => size() > 2000);
    const rotated = await source.read(context, from);
    const records = requestsIn(rotated.batches);
    assert.equal(records.length, linesIn(rotated.cursor), 'every line of the new file, from its start');
    assert.ok(records.every((r) => r.version === 'stable' && r.status === 200 && !r.error), JSON.stringify(records.slice(0, 3)));

    // copytruncate: the same file, emptied; nginx appends from its start again.
    fs.truncateSync(log, 0);
    await until(() => size() > 0, 5000, 2);
    const truncated = await source.read(context, rotated.cursor);
    assert.ok(Number(truncated.cursor.split(':')[1]) < Number(rotated.cursor.split(':')[1]));
    assert.equal(requestsIn(truncated.batches).length, linesIn(truncated.cursor), 'read from the start of the emptied file');
  });

  test('a bad build rolls back by itself: traffic on stable within a second, then every request answered by stable', async () => {
    const reloadsBefore = reloads();
    const d = await ended(await request('2.1.0')); // builds.json: 20% of its requests fail
    assert.equal(d.state, 'rolled_back', JSON.stringify(d.rollout));
    assert.equal(d.rollout.rollback.trigger, 'analysis');
    assert.match(d.reason ?? '', /error/);
    assert.equal(d.rollout.rollback.ok, true, JSON.stringify(d.rollout.rollback));
    assert.ok(d.rollout.rollback.msToTraffic < 1000, `decision → traffic on stable took ${d.rollout.rollback.msToTraffic} ms`);
    assert.equal(reloads() - reloadsBefore, 2, 'one reload for 10%, one for the rollback');
    assert.deepEqual([...readWeights(fs.readFileSync(includeFile, 'utf8')).keys()], [slots[1]], 'the upstream has the stable server alone');

    const restored = Date.parse(d.rollout.rollback.trafficRestoredAt);
    const later = await until(() => load!.between(restored).length >= 300 && load!.between(restored));
    assertAllOn(later, '2.0.0', restored);
    const answers = (port: number) => fetch(`http://127.0.0.1:${port}/health`).then((r) => r.headers.get('x-version'), () => null);
    await until(async () => (await answers(slots[0])) === null, 10_000).catch(() => assert.fail('the bad build still runs'));
  });

  test('a config nginx -t rejects fails the deployment with nginx’s words, and the old config goes on serving', async () => {
    const before = fs.readFileSync(includeFile, 'utf8');
    const reloadsBefore = reloads();
    // A typo of keepalive_timeout, as a person editing shipgate.yaml might make; serve reads
    // the config when it starts.
    edit([[[...NGINX_AT, 'upstream'], ['keepalive 32', 'keepalive_timout 60s']]]);
    try {
      await serve();
      const started = Date.now();
      const d = await ended(await request('3.0.0'));
      assert.equal(d.state, 'rolled_back', JSON.stringify(d.rollout));
      assert.equal(d.rollout.rollback.trigger, 'driver');
      assert.match(d.reason ?? '', /deploy: nginx -t rejected the new config of web in production .*the previous file is back in place .*unknown directive "keepalive_timout"/);
      assert.equal(d.rollout.rollback.ok, true, 'the file nginx runs already sends everything to stable');
      assert.equal(fs.readFileSync(includeFile, 'utf8'), before, 'the old file is back');
      assert.equal(reloads(), reloadsBefore, 'nginx was never reloaded');
      const during = load!.between(started);
      assert.ok(during.length > 50);
      assert.deepEqual(new Set(during.map((s) => `${s.version} ${s.status}`)), new Set(['2.0.0 200']), 'the old config served every request');
    } finally {
      edit([[[...NGINX_AT, 'upstream'], ['keepalive 32']]]);
    }
  });
});

/** Polls `fn` until it returns a truthy value, with a deadline. */
async function until<T>(fn: () => T | false | Promise<T | false>, timeoutMs = 20_000, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
