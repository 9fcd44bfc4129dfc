// The nginx driver under load, in one run:
//
//   node --import tsx bench/nginx.ts [--connections 32] [--rps 1000] [--reloads 10] [--runs 5]
//
// A real nginx (Debian's, run by the driver in a temp dir: mode managed, one worker) in front of
// the sample service in two slots, and a load of N keep-alive connections at a fixed total rate
// (in a worker thread; loopback only; bounded in time and count). Prints, each beside its floor:
// - requests reset per reload: reloads made by the driver (a weight change) against bare
//   `nginx -s reload`s (nginx 1.22 closes idle keep-alive connections when its old workers stop,
//   and a request sent on one at that moment is reset);
// - the split served against the split asked for, at several weights, with the binomial
//   standard deviation a random split of that many requests would have;
// - time from a rollback decision to all new requests on stable (the send time of the last
//   request the canary answered), median of several runs, against the same measure for a bare
//   `nginx -s reload` of a file already written.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';

interface LoadJob {
  port: number;
  connections: number;
  rps: number;
  maxSeconds: number;
  maxRequests: number;
  stable: string;
  canary: string;
}

/** What answered a request: the stable or canary version, a reset, or something else. */
const STABLE = 0;
const CANARY = 1;
const RESET = 2;
const OTHER = 3;

if (!isMainThread) {
  // The load: paced keep-alive requests; every response's send time (ms, epoch) and who answered
  // it, posted to the main thread in batches.
  const job = workerData as LoadJob;
  const agent = new http.Agent({ keepAlive: true, maxSockets: job.connections });
  let stopped = false;
  parentPort!.on('message', (m) => {
    if (m === 'stop') stopped = true;
  });
  let sent: number[] = [];
  let kind: number[] = [];
  let count = 0;
  const flush = () => {
    parentPort!.postMessage({ sent: Float64Array.from(sent), kind: Uint8Array.from(kind) });
    sent = [];
    kind = [];
  };
  const timer = setInterval(flush, 200);
  const now = () => performance.timeOrigin + performance.now();
  const deadline = Date.now() + job.maxSeconds * 1000;
  const interval = (1000 * job.connections) / job.rps;
  const one = () =>
    new Promise<void>((resolve) => {
      const t = now();
      const req = http.get({ host: '127.0.0.1', port: job.port, path: '/api/items', agent }, (res) => {
        res.resume();
        res.on('end', () => {
          const v = res.headers['x-version'];
          sent.push(t);
          kind.push(res.statusCode === 200 && v === job.stable ? STABLE : res.statusCode === 200 && v === job.canary ? CANARY : OTHER);
          resolve();
        });
      });
      req.setTimeout(10_000, () => req.destroy());
      req.on('error', () => {
        sent.push(t);
        kind.push(RESET);
        resolve();
      });
    });
  await Promise.all(
    Array.from({ length: job.connections }, async (_, i) => {
      let next = Date.now() + (interval * i) / job.connections;
      while (!stopped && count < job.maxRequests && Date.now() < deadline) {
        const wait = next - Date.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        next = Math.max(next + interval, Date.now() - interval);
        count++;
        await one();
      }
    }),
  );
  clearInterval(timer);
  flush();
  parentPort!.postMessage('done');
  agent.destroy();
  parentPort!.close();
} else {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
  const { NginxDriver } = await import('../src/drivers/nginx/driver.js');
  const { ManagedNginx } = await import('../src/drivers/nginx/instance.js');
  const { freePort } = await import('../src/drivers/ports.js');

  const args = process.argv.slice(2);
  const opt = (name: string, def: number) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? Number(args[i + 1]) : def;
  };
  const CONNECTIONS = opt('connections', 32);
  const RPS = opt('rps', 1000);
  const RELOADS = opt('reloads', 10);
  const RUNS = opt('runs', 5);
  const NGINX = '/usr/sbin/nginx';
  if (!fs.existsSync(NGINX)) {
    console.log(`${NGINX} is not installed (apt-get install nginx-light): nothing to measure`);
    process.exit(0);
  }

  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shipgate-bench-nginx-'));
  const listen = await freePort();
  const prefix = path.join(tmp, 'nginx');
  const driver = new NginxDriver(
    {
      mode: 'managed',
      binary: NGINX,
      dir: prefix,
      confDir: path.join(prefix, 'conf.d'),
      test: null,
      reload: null,
      pidFile: null,
      timeoutMs: 15_000,
      upstream: ['keepalive 32'],
      location: [],
      services: { web: { ports: null, listen: `127.0.0.1:${listen}`, accessLog: null } },
      cwd: tmp,
    },
    () => ({ command: [process.execPath, path.join(root, 'examples/sample-service/server.mjs')], env: {}, cwd: tmp, readyPath: '/ready', readyTimeoutMs: 15_000 }),
  );
  const managed = driver.nginx as InstanceType<typeof ManagedNginx>;
  const ctx = (version: string, stableVersion: string | null) => ({
    deploymentId: 1,
    service: 'web',
    environment: 'bench',
    version,
    digest: `sha256:${version.replaceAll('.', '').padStart(64, '0')}`,
    stableVersion,
    stableDigest: stableVersion ? `sha256:${stableVersion.replaceAll('.', '').padStart(64, '0')}` : null,
  });
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const range = (xs: number[], digits = 0) => `${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)}`;
  /** A bare `nginx -s reload` of the managed nginx, as a person would type it; its wall time. */
  const bareReload = () =>
    new Promise<number>((resolve, reject) => {
      const t = Date.now();
      const child = spawn(NGINX, ['-p', `${prefix}/`, '-c', managed.conf, '-e', managed.errorLog, '-s', 'reload'], { stdio: 'ignore' });
      child.on('error', reject);
      child.on('exit', (code) => (code === 0 ? resolve(Date.now() - t) : reject(new Error(`nginx -s reload exited with ${code}`))));
    });

  const sentAt: Float64Array[] = [];
  const kinds: Uint8Array[] = [];
  let worker: Worker | null = null;
  let done: Promise<void> = Promise.resolve();
  /** Responses to requests sent in [from, to), by kind. */
  const window = (from: number, to: number) => {
    const out = { stable: 0, canary: 0, reset: 0, other: 0, lastCanary: -Infinity };
    for (let b = 0; b < sentAt.length; b++) {
      const s = sentAt[b];
      const k = kinds[b];
      for (let i = 0; i < s.length; i++) {
        if (s[i] < from || s[i] >= to) continue;
        if (k[i] === STABLE) out.stable++;
        else if (k[i] === CANARY) {
          out.canary++;
          out.lastCanary = Math.max(out.lastCanary, s[i]);
        } else if (k[i] === RESET) out.reset++;
        else out.other++;
      }
    }
    return out;
  };
  /** Waits until the worker has posted what was sent up to now (its batches come every 200 ms). */
  const settled = () => sleep(450);
  /** Stops the load, nginx and the service processes, and removes the temp dir; once. */
  let cleaning: Promise<void> | null = null;
  const cleanup = () =>
    (cleaning ??= (async () => {
      worker?.postMessage('stop');
      await done.catch(() => {});
      await driver.shutdown();
      fs.rmSync(tmp, { recursive: true, force: true });
    })());
  // Interrupted, or printing into a pipe that closed (| head): everything started still ends.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void cleanup().finally(() => process.exit(130)));
  process.stdout.on('error', () => {});

  try {
    const first = ctx('1.0.0', null);
    await driver.deploy(first);
    await driver.setWeight(first, 100);
    await driver.promote(first);
    await driver.finalize(first);
    const canary = ctx('2.0.0', '1.0.0');
    await driver.deploy(canary);
    await driver.rollback(canary);
    const stableOnly = fs.readFileSync(driver.includeFile('web', 'bench'), 'utf8');
    await driver.deploy(canary);

    const job: LoadJob = { port: listen, connections: CONNECTIONS, rps: RPS, maxSeconds: 240, maxRequests: 2_000_000, stable: '1.0.0', canary: '2.0.0' };
    const boot = `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then((m) => { m.register(); return import(${JSON.stringify(import.meta.url)}); })`;
    worker = new Worker(boot, { eval: true, workerData: job });
    done = new Promise<void>((resolve, reject) => {
      worker!.on('message', (m) => {
        if (m === 'done') return resolve();
        sentAt.push(m.sent);
        kinds.push(m.kind);
      });
      worker!.once('error', reject);
    });
    const version = (await new Promise<string>((resolve) => spawn(NGINX, ['-v'], { stdio: ['ignore', 'ignore', 'pipe'] }).stderr!.on('data', (b) => resolve(String(b).trim()))));
    console.log(`nginx driver under load: ${CONNECTIONS} keep-alive connections at ${RPS} requests/s on loopback, ${version}, 1 worker, ${os.cpus().length} cores, ${new Date().toISOString().slice(0, 10)}`);
    await driver.setWeight(canary, 10);
    await sleep(1500); // warm-up: every connection open

    // -- requests reset per reload ------------------------------------------------------------
    // Alternately the same change of weight by hand (the file written, a bare nginx -s reload)
    // and by the driver, so both see the same load at the same moments.
    const file = driver.includeFile('web', 'bench');
    const at10 = fs.readFileSync(file, 'utf8');
    await driver.setWeight(canary, 20);
    await sleep(1000);
    const shipgateReloads: number[] = [];
    const bareReloads: number[] = [];
    for (let i = 0; i < RELOADS; i++) {
      fs.writeFileSync(file, at10);
      bareReloads.push(Date.now());
      await bareReload();
      await sleep(1000);
      await driver.setWeight(canary, 10); // the driver's record catches up with the file: no reload
      shipgateReloads.push(Date.now());
      await driver.setWeight(canary, 20);
      await sleep(1000);
    }
    const resets = (marks: number[]) => marks.map((t) => window(t, t + 1000).reset);
    const sg = resets(shipgateReloads);
    const bare = resets(bareReloads);
    const total = window(bareReloads[0], shipgateReloads[RELOADS - 1] + 1000);
    const seconds = (shipgateReloads[RELOADS - 1] + 1000 - bareReloads[0]) / 1000;
    console.log(`\nrequests reset per reload (${RELOADS} reloads each, ${((total.stable + total.canary + total.reset + total.other) / seconds).toFixed(0)} requests/s served meanwhile)`);
    console.log(`  shipgate weight change (nginx -t, reload, wait for new workers): mean ${(sg.reduce((a, b) => a + b, 0) / RELOADS).toFixed(1)}, median ${med(sg)}, range ${range(sg)}`);
    console.log(`  bare nginx -s reload (floor):                                    mean ${(bare.reduce((a, b) => a + b, 0) / RELOADS).toFixed(1)}, median ${med(bare)}, range ${range(bare)}`);

    // -- split asked vs served ----------------------------------------------------------------
    console.log('\nsplit served (2 s of traffic per weight, requests sent after the weight was applied)');
    for (const w of [1, 5, 10, 25, 50, 90]) {
      await driver.setWeight(canary, w);
      const t = Date.now();
      await sleep(2000);
      await settled();
      const c = window(t, t + 2000);
      const n = c.stable + c.canary;
      const p = w / 100;
      const sd = 100 * Math.sqrt((p * (1 - p)) / n);
      console.log(`  asked ${String(w).padStart(2)}%  served ${((100 * c.canary) / n).toFixed(2).padStart(6)}% of ${n} requests  (a random split: ±${sd.toFixed(2)} points sd)  resets ${c.reset}`);
    }

    // -- rollback decision → all new requests on stable ----------------------------------------
    const toStable: number[] = [];
    const returned: number[] = [];
    const floor: number[] = [];
    const floorCommand: number[] = [];
    /** ms from `t0` to the send time of the last request the canary answered (0: none after t0). */
    const lastCanaryAfter = (t0: number) => Math.max(0, window(t0 - 2000, t0 + 1500).lastCanary - t0);
    console.log(`\nrollback at 10%: decision → all new requests on stable (${RUNS} runs each)`);
    for (let r = 0; r < RUNS; r++) {
      await driver.deploy(canary);
      await driver.setWeight(canary, 10);
      await sleep(800);
      const t0 = Date.now();
      await driver.rollback(canary);
      returned.push(Date.now() - t0);
      await sleep(1500);
      await settled();
      toStable.push(lastCanaryAfter(t0));

      // The floor: the same 10% split, the stable-only file written by hand, then only a bare
      // nginx -s reload.
      await driver.deploy(canary);
      await driver.setWeight(canary, 10);
      await sleep(800);
      fs.writeFileSync(driver.includeFile('web', 'bench'), stableOnly);
      const t1 = Date.now();
      floorCommand.push(await bareReload());
      await sleep(1500);
      await settled();
      floor.push(lastCanaryAfter(t1));
      await driver.rollback(canary); // the driver's record catches up: the same text, no reload
      console.log(`  run ${r + 1}: shipgate rollback ${toStable[r].toFixed(0).padStart(4)} ms (rollback() returned in ${returned[r]} ms)   bare nginx -s reload ${floor[r].toFixed(0).padStart(4)} ms (the command took ${floorCommand[r]} ms)`);
    }
    console.log(
      `  median: shipgate rollback ${med(toStable).toFixed(0)} ms (${range(toStable)}; rollback() returned in ${med(returned)} ms)  vs  floor, bare nginx -s reload ${med(floor).toFixed(0)} ms (${range(floor)}): ${(med(toStable) - med(floor)).toFixed(0)} ms more; target ≤ 1000 ms`,
    );
  } finally {
    await cleanup();
  }
}
