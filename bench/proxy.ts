// The local driver's proxy against the service alone and against nginx, in one run:
//
//   node --import tsx bench/proxy.ts [--seconds 8] [--connections 32] [--rounds 3]
//
// Two upstreams (the sample service as stable and canary, 90/10), then for each target —
// the service directly, shipgate's weighted proxy (in a process of its own, as in the local
// runtime), nginx with weighted upstreams (Debian's package; skipped with a note when it is
// not installed) — a closed-loop load of N keep-alive connections for a fixed time. Prints
// requests/s and p50/p99 latency per round and the median of the rounds, and the proxy's
// ratios against the service and nginx. Everything on loopback; the load generator runs in
// worker threads of this process, so all of it shares the same 2 cores.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

interface LoadJob {
  port: number;
  connections: number;
  seconds: number;
}

if (!isMainThread) {
  // A worker: closed-loop keep-alive load, returns the latencies in ms.
  const job = workerData as LoadJob;
  const agent = new http.Agent({ keepAlive: true, maxSockets: job.connections });
  const latencies: number[] = [];
  let errors = 0;
  const end = Date.now() + job.seconds * 1000;
  const one = () =>
    new Promise<void>((resolve) => {
      const t0 = performance.now();
      const req = http.get({ host: '127.0.0.1', port: job.port, path: '/api/items', agent }, (res) => {
        res.resume();
        res.on('end', () => {
          latencies.push(performance.now() - t0);
          if ((res.statusCode ?? 0) >= 500) errors++;
          resolve();
        });
      });
      req.on('error', () => {
        errors++;
        resolve();
      });
    });
  await Promise.all(
    Array.from({ length: job.connections }, async () => {
      while (Date.now() < end) await one();
    }),
  );
  agent.destroy();
  parentPort!.postMessage({ latencies, errors });
} else {
  const args = process.argv.slice(2);
  const opt = (name: string, def: number) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? Number(args[i + 1]) : def;
  };
  const SECONDS = opt('seconds', 8);
  const CONNECTIONS = opt('connections', 32);
  const ROUNDS = opt('rounds', 3);
  const children: ChildProcess[] = [];
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shipgate-bench-proxy-'));

  const freePort = () =>
    new Promise<number>((resolve) => {
      const s = net.createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(p));
      });
    });

  async function waitFor(port: number, what: string): Promise<void> {
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      const ok = await fetch(`http://127.0.0.1:${port}/ready`).then((r) => r.ok).catch(() => false);
      if (ok) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`${what} on ${port} did not become ready`);
  }

  async function service(version: string): Promise<number> {
    const port = await freePort();
    children.push(spawn(process.execPath, [path.join(root, 'examples/sample-service/server.mjs')], { env: { ...process.env, PORT: String(port), VERSION: version }, stdio: 'ignore' }));
    await waitFor(port, `service ${version}`);
    return port;
  }

  async function load(port: number, connections = CONNECTIONS): Promise<{ rps: number; p50: number; p99: number; errors: number }> {
    const workers = Math.min(2, connections);
    const results = await Promise.all(
      Array.from(
        { length: workers },
        (_, i) =>
          new Promise<{ latencies: number[]; errors: number }>((resolve, reject) => {
            const boot = `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then((m) => { m.register(); return import(${JSON.stringify(import.meta.url)}); })`;
            const w = new Worker(boot, { eval: true, workerData: { port, connections: Math.floor(connections / workers) + (i < connections % workers ? 1 : 0), seconds: SECONDS } satisfies LoadJob });
            w.once('message', resolve);
            w.once('error', reject);
          }),
      ),
    );
    const all = results.flatMap((r) => r.latencies).sort((a, b) => a - b);
    const q = (p: number) => all[Math.min(all.length - 1, Math.floor(p * all.length))];
    return { rps: all.length / SECONDS, p50: q(0.5), p99: q(0.99), errors: results.reduce((a, r) => a + r.errors, 0) };
  }

  try {
    const stable = await service('1.0.0');
    const canary = await service('2.0.0');

    // shipgate's proxy in a process of its own, 10% to the canary.
    const proxyPort = await freePort();
    const proxyScript = path.join(tmp, 'proxy.mts'); // .mts: an ES module outside any package
    fs.writeFileSync(
      proxyScript,
      `import { WeightedProxy } from ${JSON.stringify(path.join(root, 'src/drivers/local/proxy.ts'))};
const p = new WeightedProxy();
p.route({ version: '1.0.0', port: ${stable} }, { version: '2.0.0', port: ${canary} }, 10);
await p.listen(${proxyPort});
`,
    );
    children.push(spawn(process.execPath, ['--import', 'tsx', proxyScript], { cwd: root, stdio: 'ignore' }));
    await waitFor(proxyPort, "shipgate's proxy");

    // nginx with the same split, if installed.
    let nginxPort: number | null = null;
    const nginxBin = ['/usr/sbin/nginx', '/usr/bin/nginx'].find((p) => fs.existsSync(p));
    if (nginxBin) {
      nginxPort = await freePort();
      fs.writeFileSync(
        path.join(tmp, 'nginx.conf'),
        `worker_processes 1;
daemon off;
pid ${tmp}/nginx.pid;
error_log ${tmp}/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${tmp}/body; proxy_temp_path ${tmp}/proxy; fastcgi_temp_path ${tmp}/fcgi; uwsgi_temp_path ${tmp}/uwsgi; scgi_temp_path ${tmp}/scgi;
  upstream service { server 127.0.0.1:${stable} weight=9; server 127.0.0.1:${canary} weight=1; keepalive 64; }
  server {
    listen 127.0.0.1:${nginxPort};
    location / { proxy_pass http://service; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
}
`,
      );
      const check = spawnSync(nginxBin, ['-t', '-c', path.join(tmp, 'nginx.conf'), '-p', tmp], { encoding: 'utf8' });
      if (check.status !== 0) throw new Error(`nginx -t: ${check.stderr}`);
      children.push(spawn(nginxBin, ['-c', path.join(tmp, 'nginx.conf'), '-p', tmp], { stdio: 'ignore' }));
      await waitFor(nginxPort, 'nginx');
    }

    const targets: [string, number][] = [
      ['service directly', stable],
      ["shipgate's proxy", proxyPort],
      ...(nginxPort ? ([['nginx', nginxPort]] as [string, number][]) : []),
    ];
    console.log(`proxy overhead: ${CONNECTIONS} keep-alive connections, ${SECONDS} s per target and round, ${ROUNDS} rounds, ${os.cpus().length} cores, split 90/10`);
    if (!nginxPort) console.log('nginx is not installed (apt-get install nginx-light): its column is left out');
    const rows: Record<string, { rps: number; p50: number; p99: number }[]> = {};
    for (let r = 0; r < ROUNDS; r++) {
      for (const [name, port] of targets) {
        await load(port); // not measured: warms the target and its upstream connections
        const m = await load(port);
        (rows[name] ??= []).push(m);
        console.log(`round ${r + 1}  ${name.padEnd(18)} ${m.rps.toFixed(0).padStart(7)} req/s  p50 ${m.p50.toFixed(2).padStart(6)} ms  p99 ${m.p99.toFixed(2).padStart(6)} ms  errors ${m.errors}`);
      }
    }
    const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    // Added latency without queueing: one connection, one request at a time.
    const single: Record<string, { p50: number; p99: number }> = {};
    for (const [name, port] of targets) {
      const ps = [];
      for (let r = 0; r < ROUNDS; r++) ps.push(await load(port, 1));
      single[name] = { p50: med(ps.map((x) => x.p50)), p99: med(ps.map((x) => x.p99)) };
    }
    console.log('\nmedian of rounds');
    const summary: Record<string, { rps: number; p50: number; p99: number }> = {};
    for (const [name] of targets) {
      const rs = rows[name];
      summary[name] = { rps: med(rs.map((x) => x.rps)), p50: med(rs.map((x) => x.p50)), p99: med(rs.map((x) => x.p99)) };
      console.log(`  ${name.padEnd(18)} ${summary[name].rps.toFixed(0).padStart(7)} req/s  p50 ${summary[name].p50.toFixed(2).padStart(6)} ms  p99 ${summary[name].p99.toFixed(2).padStart(6)} ms`);
    }
    const sg = summary["shipgate's proxy"];
    const direct = summary['service directly'];
    console.log('\none connection, one request at a time (median of rounds)');
    for (const [name] of targets) console.log(`  ${name.padEnd(18)} p50 ${single[name].p50.toFixed(3).padStart(7)} ms  p99 ${single[name].p99.toFixed(3).padStart(7)} ms`);
    const added = single["shipgate's proxy"].p50 - single['service directly'].p50;
    console.log(`\nshipgate's proxy: ${(sg.rps / direct.rps).toFixed(2)}× the direct throughput; adds ${added.toFixed(3)} ms at p50 unloaded (target ≤ 1 ms), ${(sg.p50 - direct.p50).toFixed(2)} ms at ${CONNECTIONS} connections`);
    if (single.nginx) console.log(`nginx adds ${(single.nginx.p50 - single['service directly'].p50).toFixed(3)} ms at p50 unloaded`);
    if (summary.nginx) console.log(`shipgate's proxy: ${(sg.rps / summary.nginx.rps).toFixed(2)}× nginx's throughput (target ≥ 0.5×), p50 ${sg.p50.toFixed(2)} vs ${summary.nginx.p50.toFixed(2)} ms`);
  } finally {
    for (const c of children) c.kill('SIGTERM');
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}
