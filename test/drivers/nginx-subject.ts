// The nginx driver in the driver contract, with a real nginx (Debian's, run unprivileged by the
// driver in a temp dir: mode managed) in front of real sample-service processes. The target is
// looked at through nginx itself: a round of requests through it says which versions serve and
// in what split (nginx's weighted round robin with one worker gives the exact split over a
// round of 100), and the canary's own port says whether it runs. The refusing driver carries
// an upstream directive nginx does not know, so nginx -t rejects its first write.
// The access log source is run against the same kind of target with real traffic.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { accessLogSource } from '../../src/drivers/nginx/access-log.js';
import { NginxDriver, type NginxSettings } from '../../src/drivers/nginx/driver.js';
import { tempDir } from '../support/databases.js';
import { ctx, type SourceSubject, type Subject, type TargetView } from './subject.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const SAMPLE = path.join(ROOT, 'examples/sample-service/server.mjs');
const NGINX = '/usr/sbin/nginx';

/** A free loopback port, found synchronously (the contract makes its subjects synchronously). */
function freePortNow(): number {
  const script = "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{process.stdout.write(String(s.address().port));s.close()})";
  return Number(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' }));
}

/** A driver running its own nginx in a temp dir, listening on 127.0.0.1:`port` for `web`. */
export function nginxTarget(dir: string, port: number, upstream: string[] = ['keepalive 32']): NginxDriver {
  const settings: NginxSettings = {
    mode: 'managed',
    binary: NGINX,
    dir: path.join(dir, 'nginx'),
    confDir: path.join(dir, 'nginx', 'conf.d'),
    test: null,
    reload: null,
    pidFile: null,
    timeoutMs: 15_000,
    upstream,
    location: [],
    services: { web: { ports: null, listen: `127.0.0.1:${port}`, accessLog: null } },
    cwd: dir,
  };
  return new NginxDriver(settings, (service) =>
    service === 'web' ? { command: [process.execPath, SAMPLE], env: {}, cwd: dir, readyPath: '/ready', readyTimeoutMs: 15_000 } : null,
  );
}

/** One GET on a connection of its own (none kept alive across a reload), and who answered. */
function get(url: string): Promise<{ status: number; version: string | null }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false, timeout: 5000 }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, version: (res.headers['x-version'] as string | undefined) ?? null }));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer from ${url} within 5 s`)));
    req.on('error', reject);
  });
}

/** Requests per version over `n` requests through `url`. */
async function split(url: string, n: number): Promise<Map<string, number>> {
  const seen = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const r = await get(`${url}/api/items`);
    const v = r.status === 200 && r.version ? r.version : `status ${r.status}`;
    seen.set(v, (seen.get(v) ?? 0) + 1);
  }
  return seen;
}

export function nginxSubject(): Subject {
  const dir = tempDir('shipgate-contract-nginx-');
  const port = freePortNow();
  const driver = nginxTarget(dir, port);
  const url = `http://127.0.0.1:${port}`;
  return {
    driver,
    look: async (c): Promise<TargetView> => {
      const seen = await split(url, 100);
      const versions = [...seen.keys()];
      const stable = versions.find((v) => v !== c.version) ?? (seen.has(c.version) ? c.version : null);
      const weight = stable === c.version ? 0 : (seen.get(c.version) ?? 0);
      // A canary taking no traffic is seen on its own port.
      const own = driver.urls(c).canary;
      const answers = own ? (await get(`${own}/health`).catch(() => null))?.version : null;
      const canary = weight > 0 ? c.version : answers && answers !== stable ? answers : null;
      return { stable, canary, weight };
    },
    refusing: () => nginxTarget(dir, port, ['keepalive 32', 'keepalive_bogus 1']),
    close: async () => {
      await driver.shutdown();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function nginxLogSource(closing: { close(): Promise<void> }[]): Promise<SourceSubject> {
  const dir = tempDir('shipgate-contract-nginx-log-');
  const port = freePortNow();
  const driver = nginxTarget(dir, port);
  closing.push({
    close: async () => {
      await driver.shutdown();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  });
  const first = ctx('web', '1.0.0', null);
  await driver.deploy(first);
  await driver.setWeight(first, 100);
  await driver.promote(first);
  const canary = ctx('web', '2.0.0', '1.0.0');
  await driver.deploy(canary);
  await driver.setWeight(canary, 50);
  const log = driver.accessLog('web', 'production');
  const lines = () => (fs.existsSync(log) ? fs.readFileSync(log, 'utf8').split('\n').length - 1 : 0);
  return {
    source: accessLogSource(driver),
    context: { service: 'web', environment: 'production', canaryVersion: '2.0.0', stableVersion: '1.0.0' },
    serve: async (n) => {
      const before = lines();
      await split(`http://127.0.0.1:${port}`, n);
      // nginx logs a request once it has answered it: wait for the lines, with a deadline.
      const deadline = Date.now() + 5000;
      while (lines() < before + n) {
        if (Date.now() > deadline) throw new Error(`nginx logged ${lines() - before} of ${n} requests in ${log}`);
        await new Promise((r) => setTimeout(r, 10));
      }
    },
  };
}
