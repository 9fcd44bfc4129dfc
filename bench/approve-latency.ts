// Approve-request latency at 100 concurrent clients, against a real `shipgate serve` child
// process on loopback with a SQLite store (and PostgreSQL too when --postgres URL is given).
//
//   node --import tsx bench/approve-latency.ts [--deployments 1000] [--clients 100] [--rounds 3] [--postgres URL] [--calendar]
//
// --calendar gives production the windows and freezes of `shipgate init`'s template (Amsterdam
// time, weekly windows, yearly, weekly and public-holiday freezes), which the gate evaluates
// on every approval; without it production has none.
//
// Each deployment to production needs one devops-lead and one tech-lead approval, so every
// deployment takes two approve requests; the second one also moves it to `approved`. Prints
// p50/p99 per round and the median over rounds, beside the floor: the same approvals (the
// service call the route makes: the transaction and the answer's read) one after another in
// this process, on the same store, without HTTP; the server's CPU time per approval (all its
// threads, from /proc); and a peer: as many requests that only authenticate (GET
// /api/v1/whoami) from the same clients to the same server, the most it answers here.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createShipgate, sqlStoreOn } from '../src/main.js';
import { loadConfig } from '../src/config/load.js';
import { openDatabase } from '../src/store/db.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const opt = (name: string, def: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : def;
};
const DEPLOYMENTS = Number(opt('deployments', '1000'));
// Approvals sent (4 at a time) before measuring, so the figures are of a warm server: a cold
// one JIT-compiles its request path on the first requests, which would otherwise all be queued
// behind each other by the 100-client burst. The cold burst is printed on its own line.
const WARMUP = 100;
// Deployments approved (twice each) for the floor, after a few to warm up.
const FLOOR = Number(opt('floor', '300'));
const CLIENTS = Number(opt('clients', '100'));
const ROUNDS = Number(opt('rounds', '3'));
const POSTGRES = opt('postgres', '');
const CALENDAR = args.includes('--calendar');
const MAX_SECONDS = 300; // bound on the whole load phase of one round

function configYaml(services: number): string {
  const lines = [
    'version: 1',
    'roles: [developer, devops-lead, tech-lead]',
    'users:',
    '  - { name: alice, roles: [devops-lead] }',
    '  - { name: bob, roles: [tech-lead] }',
    '  - { name: carol, roles: [developer] }',
    'services:',
    ...Array.from({ length: services }, (_, i) => `  - name: svc-${i}`),
    'environments:',
    '  - name: staging',
    '    policy: { auto_approve: true }',
    '  - name: production',
    ...(CALENDAR ? ['    timezone: Europe/Amsterdam'] : []),
    '    policy:',
    ...(CALENDAR
      ? [
          '      windows: [{ days: [tue, wed, thu], start: "10:00", end: "14:00" }]',
          '      freezes:',
          '        - { name: end-of-year, yearly: { from: "12-20", to: "01-02" } }',
          '        - { name: weekend, weekly: { from: "fri 15:00", to: "mon 09:00" } }',
          '        - { name: public-holidays, holidays: { country: NL } }',
        ]
      : []),
    '      require_verified_in: staging',
    '      soak: 0',
    '      approvals:',
    '        required: [{ role: devops-lead, count: 1 }, { role: tech-lead, count: 1 }]',
  ];
  return `${lines.join('\n')}\n`;
}

async function prepare(dir: string, url: string | null): Promise<{ tokens: Record<string, string>; ids: number[]; floor: number }> {
  const cfg = loadConfig(path.join(dir, 'shipgate.yaml'));
  const database = await openDatabase(url ? { url } : { sqlitePath: cfg.store.sqlitePath });
  const app = createShipgate({ config: cfg, store: sqlStoreOn(database) });
  const admin = { user: 'carol', via: 'local' as const };
  const tokens: Record<string, string> = {};
  for (const u of ['alice', 'bob']) tokens[u] = (await app.access.createToken(admin, u, 'bench')).token;
  const ids: number[] = [];
  for (let i = 0; i < DEPLOYMENTS + WARMUP / 2 + FLOOR; i++) {
    const service = `svc-${i}`;
    const digest = `sha256:${i.toString(16).padStart(64, '0')}`;
    await app.releases.register(admin, { service, version: '1.0.0', digest, commit: 'abcdef1' });
    await app.releases.verify(admin, service, '1.0.0', 'staging');
    const { view } = await app.deployments.request(admin, { service, version: '1.0.0', environment: 'production' });
    ids.push(view.deployment.id);
  }
  // The floor: the approvals of the last FLOOR deployments, one at a time, no HTTP.
  const floorIds = ids.splice(DEPLOYMENTS + WARMUP / 2);
  const approve = (id: number, user: string) => app.decisions.decide({ user, via: 'token' }, id, { decision: 'approve' });
  for (const id of floorIds.splice(0, 20)) for (const user of ['alice', 'bob']) await approve(id, user);
  const t0 = performance.now();
  for (const id of floorIds) for (const user of ['alice', 'bob']) await approve(id, user);
  const floor = (floorIds.length * 2) / ((performance.now() - t0) / 1000);
  await database.close();
  return { tokens, ids, floor };
}

async function startServer(dir: string, url: string | null): Promise<{ port: number; pid: number; stop: () => void }> {
  const nodeArgs = (process.env.BENCH_SERVER_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const child = spawn(process.execPath, [...nodeArgs, path.join(root, 'bin/shipgate.js'), '-c', path.join(dir, 'shipgate.yaml'), 'serve', '--port', '0', '--reconcile-every', process.env.BENCH_RECONCILE ?? '15'], {
    env: { ...process.env, SHIPGATE_LOG_LEVEL: 'warn', SHIPGATE_DATABASE_URL: url ?? '' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    const t = setTimeout(() => reject(new Error(`server did not start: ${out}`)), 30_000);
    child.stdout!.on('data', (b: Buffer) => {
      out += b;
      const m = /listening on http:\/\/[^:]+:(\d+)/.exec(out);
      if (m) {
        clearTimeout(t);
        resolve(Number(m[1]));
      }
    });
  });
  return { port, pid: child.pid!, stop: () => child.kill('SIGTERM') };
}

/** CPU seconds (user + system) the process `pid` has used so far (Linux; NaN elsewhere). */
function cpuSeconds(pid: number): number {
  try {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return NaN;
  }
}

function post(agent: http.Agent, port: number, urlPath: string, token: string, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, path: urlPath, method: 'POST', agent, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** An empty database on the PostgreSQL server of `url`, so each round starts from nothing. */
async function freshDatabase(url: string): Promise<string> {
  const { default: pg } = await import('pg');
  const name = `bench_${Date.now().toString(36)}_${Math.floor(Math.random() * 1e6)}`;
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`create database ${name}`);
  } finally {
    await client.end();
  }
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

/** `count` requests made by `clients` concurrent clients, bounded by MAX_SECONDS. */
async function load(clients: number, count: number, send: () => Promise<number>, pid: number) {
  const latencies: number[] = [];
  let errors = 0;
  let next = 0;
  const started = performance.now();
  const cpuBefore = cpuSeconds(pid);
  const deadline = started + MAX_SECONDS * 1000;
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (next++ < count && performance.now() < deadline) {
        const t0 = performance.now();
        if ((await send()) !== 200) errors++;
        latencies.push(performance.now() - t0);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return { p50: pct(latencies, 50), p99: pct(latencies, 99), rps: latencies.length / seconds, errors, cpuMs: ((cpuSeconds(pid) - cpuBefore) * 1000) / latencies.length };
}

function get(agent: http.Agent, port: number, urlPath: string, token: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: urlPath, method: 'GET', agent, headers: { authorization: `Bearer ${token}` } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

async function round(label: string, serverUrl: string | null): Promise<{ p50: number; p99: number; rps: number; errors: number; floor: number; cpuMs: number; peerRps: number }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shipgate-bench-approve-'));
  const url = serverUrl ? await freshDatabase(serverUrl) : null;
  fs.writeFileSync(path.join(dir, 'shipgate.yaml'), configYaml(DEPLOYMENTS + WARMUP / 2 + FLOOR));
  const { tokens, ids, floor } = await prepare(dir, url);
  const server = await startServer(dir, url);
  const agent = new http.Agent({ keepAlive: true, maxSockets: CLIENTS });
  const warm: { id: number; user: string }[] = [];
  for (const id of ids.slice(0, WARMUP / 2)) warm.push({ id, user: 'alice' }, { id, user: 'bob' });
  const coldStarted = performance.now();
  let coldMax = 0;
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      for (let w = warm.shift(); w; w = warm.shift()) {
        const t0 = performance.now();
        await post(agent, server.port, `/api/v1/deployments/${w.id}/approvals`, tokens[w.user], '{"decision":"approve"}');
        coldMax = Math.max(coldMax, performance.now() - t0);
      }
    }),
  );
  const coldSeconds = (performance.now() - coldStarted) / 1000;
  const work: { id: number; user: string }[] = [];
  for (const id of ids.slice(WARMUP / 2)) work.push({ id, user: 'alice' }, { id, user: 'bob' });
  const latencies: number[] = [];
  let errors = 0;
  const slow: string[] = [];
  const started = performance.now();
  const cpuBefore = cpuSeconds(server.pid);
  const deadline = started + MAX_SECONDS * 1000;
  let next = 0;
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      while (next < work.length && performance.now() < deadline) {
        const w = work[next++];
        const t0 = performance.now();
        const status = await post(agent, server.port, `/api/v1/deployments/${w.id}/approvals`, tokens[w.user], '{"decision":"approve"}');
        const took = performance.now() - t0;
        latencies.push(took);
        if (took > 1000) slow.push(`${((t0 - started) / 1000).toFixed(2)}s+${(took / 1000).toFixed(2)}s`);
        if (status !== 201) errors++;
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const cpuMs = ((cpuSeconds(server.pid) - cpuBefore) * 1000) / latencies.length;
  // The peer: as many requests that only authenticate (GET /api/v1/whoami: the token's lookup
  // and the same HTTP path, no transaction) from the same clients to the same server. It is
  // the most this server answers on this machine, whatever an approval costs.
  const peer = await load(CLIENTS, latencies.length, () => get(agent, server.port, '/api/v1/whoami', tokens.alice), server.pid);
  agent.destroy();
  server.stop();
  latencies.sort((a, b) => a - b);
  const r = { p50: pct(latencies, 50), p99: pct(latencies, 99), rps: latencies.length / seconds, errors, floor, cpuMs, peerRps: peer.rps };
  console.log(
    `${label.padEnd(10)} ${String(latencies.length).padStart(6)} approvals  p50 ${r.p50.toFixed(1).padStart(6)} ms  p99 ${r.p99.toFixed(1).padStart(6)} ms  ${r.rps.toFixed(0).padStart(5)} req/s  non-201: ${errors}` +
      `  | floor ${floor.toFixed(0)} approvals/s (${(1000 / floor).toFixed(2)} ms each), HTTP at ${CLIENTS} clients = ${((100 * r.rps) / floor).toFixed(0)}% of it`,
  );
  console.log(`           server CPU: ${cpuMs.toFixed(2)} ms per approval (the floor's ${(1000 / floor).toFixed(2)} ms in this process, without HTTP)`);
  console.log(
    `           peer, GET /api/v1/whoami (authenticate only): p50 ${peer.p50.toFixed(1)} ms  p99 ${peer.p99.toFixed(1)} ms  ${peer.rps.toFixed(0)} req/s, server CPU ${peer.cpuMs.toFixed(2)} ms per request${peer.errors ? `, non-200: ${peer.errors}` : ''}; approvals at ${((100 * r.rps) / peer.rps).toFixed(0)}% of it`,
  );
  console.log(`           warm-up: ${WARMUP} approvals, 4 at a time, in ${coldSeconds.toFixed(2)} s, slowest ${coldMax.toFixed(0)} ms`);
  if (slow.length) console.log(`           ${slow.length} requests over 1 s (started at + took): ${slow.slice(0, 8).join(', ')}${slow.length > 8 ? ', …' : ''}`);
  fs.rmSync(dir, { recursive: true, force: true });
  return r;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

console.log(`approve latency: ${DEPLOYMENTS} deployments × 2 approvals, ${CLIENTS} concurrent clients, ${ROUNDS} rounds, ${os.cpus().length} cores${CALENDAR ? ', production with windows and freezes' : ''}`);
const stores: [string, string | null][] = process.env.BENCH_ONLY_PG ? [] : [['sqlite', null]];
if (POSTGRES) stores.push(['postgres', POSTGRES]);
const summary: string[] = [];
for (const [label, url] of stores) {
  const rs = [];
  for (let i = 0; i < ROUNDS; i++) rs.push(await round(label, url));
  summary.push(
    `${label.padEnd(10)} median of ${ROUNDS}: p50 ${median(rs.map((r) => r.p50)).toFixed(1)} ms, p99 ${median(rs.map((r) => r.p99)).toFixed(1)} ms, ${median(rs.map((r) => r.rps)).toFixed(0)} approvals/s` +
      ` | floor ${median(rs.map((r) => r.floor)).toFixed(0)} approvals/s; HTTP/floor ${median(rs.map((r) => r.rps / r.floor)).toFixed(2)}` +
      ` | server CPU ${median(rs.map((r) => r.cpuMs)).toFixed(2)} ms per approval` +
      ` | peer (whoami) ${median(rs.map((r) => r.peerRps)).toFixed(0)} req/s; approvals/peer ${median(rs.map((r) => r.rps / r.peerRps)).toFixed(2)}`,
  );
}
console.log(summary.join('\n'));
