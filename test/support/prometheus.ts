// A real Prometheus for tests (Debian's /usr/bin/prometheus): on a free loopback port with its
// own temp data dir and a generated scrape config, stopped with SIGTERM then SIGKILL. Also: TSDB
// blocks of exact samples written with promtool (OpenMetrics in, timestamps in the past), and
// small HTTP services exposing a prom-client request histogram per version, for it to scrape.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Histogram, Registry } from 'prom-client';
import { freePort } from '../../src/drivers/ports.js';

export { freePort };

const PROMETHEUS = process.env.PROMETHEUS_BIN ?? '/usr/bin/prometheus';
const PROMTOOL = process.env.PROMTOOL_BIN ?? '/usr/bin/promtool';

export interface OwnPrometheus {
  url: string;
  /** What it logged so far (for failure messages). */
  log(): string;
  running(): boolean;
  /** SIGTERM, SIGKILL past 5 s; removes its data dir. Safe to call twice. */
  close(): Promise<void>;
}

export interface ScrapeJob {
  job: string;
  /** host:port of each target. */
  targets: string[];
  /** Labels Prometheus adds to every series of the job's targets. */
  labels?: Record<string, string>;
}

const children = new Set<ChildProcess>();
// A test process that dies without its after hooks must not leave a Prometheus behind.
process.once('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});

/**
 * Starts Prometheus scraping `jobs` every `scrapeInterval` (1s by default), on `dataDir` when
 * given (e.g. blocks from promtool; removed on close like its own), and resolves once it says it
 * is ready (deadline 30 s).
 */
export async function startPrometheus(opts: { jobs?: ScrapeJob[]; scrapeInterval?: string; dataDir?: string } = {}): Promise<OwnPrometheus> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shipgate-prometheus-'));
  const dataDir = opts.dataDir ?? path.join(dir, 'data');
  const interval = opts.scrapeInterval ?? '1s';
  const config = {
    global: { scrape_interval: interval, scrape_timeout: interval, evaluation_interval: '1m' },
    scrape_configs: (opts.jobs ?? []).map((j) => ({ job_name: j.job, static_configs: [{ targets: j.targets, labels: j.labels ?? {} }] })),
  };
  // JSON is YAML: no YAML writer needed.
  fs.writeFileSync(path.join(dir, 'prometheus.yml'), JSON.stringify(config, null, 2));
  let lastError: Error | null = null;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    try {
      return await launch(dir, dataDir, port);
    } catch (err) {
      // Another process may have taken the port between freePort and Prometheus's bind.
      lastError = err as Error;
    }
  }
  fs.rmSync(dir, { recursive: true, force: true });
  throw lastError!;
}

async function launch(dir: string, dataDir: string, port: number): Promise<OwnPrometheus> {
  const logFile = path.join(dir, `prometheus-${port}.log`);
  const out = fs.openSync(logFile, 'w');
  const child = spawn(
    PROMETHEUS,
    [
      `--config.file=${path.join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${dataDir}`,
      `--web.listen-address=127.0.0.1:${port}`,
      // promtool's blocks lie in the past; keep them whatever their age.
      '--storage.tsdb.retention.time=10y',
      '--log.level=info',
    ],
    { stdio: ['ignore', out, out] },
  );
  fs.closeSync(out);
  children.add(child);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const running = () => child.exitCode === null && child.signalCode === null;
  const log = () => (fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8') : '');
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    if (running()) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    }
    children.delete(child);
    fs.rmSync(dir, { recursive: true, force: true });
    if (!dataDir.startsWith(dir)) fs.rmSync(dataDir, { recursive: true, force: true });
  };
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (!running()) {
      const text = log();
      children.delete(child);
      throw new Error(`prometheus exited before it was ready:\n${text.slice(-2000)}`);
    }
    const ready = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(2_000) }).then(
      (r) => r.ok,
      () => false,
    );
    if (ready) return { url, log, running, close };
    if (Date.now() > deadline) {
      const text = log();
      await close();
      throw new Error(`prometheus was not ready within 30 s:\n${text.slice(-2000)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** One OpenMetrics family: its samples as `name{labels} value timestamp` lines. */
export interface Family {
  name: string;
  type: 'counter' | 'gauge' | 'histogram';
  samples: { name: string; labels: Record<string, string>; value: number; t: number }[];
}

/** The samples of one histogram scrape: cumulative `counts` per bound (seconds; the last one
 * +Inf), `_count` equal to the +Inf bucket, as prom-client writes them. */
export function histogramScrape(name: string, labels: Record<string, string>, bounds: number[], counts: number[], t: number): Family['samples'] {
  if (counts.length !== bounds.length + 1) throw new Error('one count per bound and one for +Inf');
  return [
    ...counts.map((c, i) => ({ name: `${name}_bucket`, labels: { ...labels, le: i < bounds.length ? String(bounds[i]) : '+Inf' }, value: c, t })),
    { name: `${name}_count`, labels, value: counts[counts.length - 1], t },
    { name: `${name}_sum`, labels, value: 0, t },
  ];
}

export function openMetricsText(families: Family[]): string {
  const lines: string[] = [];
  for (const f of families) {
    lines.push(`# TYPE ${f.name} ${f.type}`);
    for (const s of f.samples) {
      const labels = Object.entries(s.labels)
        .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
        .join(',');
      lines.push(`${s.name}${labels ? `{${labels}}` : ''} ${s.value} ${s.t}`);
    }
  }
  lines.push('# EOF', '');
  return lines.join('\n');
}

/** Prometheus serving exactly these samples: promtool writes them as TSDB blocks, then
 * Prometheus starts on that data dir (scraping nothing). Timestamps must lie in the past. */
export async function prometheusWithData(families: Family[]): Promise<OwnPrometheus> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shipgate-promtool-'));
  const file = path.join(dir, 'samples.om');
  fs.writeFileSync(file, openMetricsText(families));
  const dataDir = path.join(dir, 'data');
  try {
    await promisify(execFile)(PROMTOOL, ['tsdb', 'create-blocks-from', 'openmetrics', file, dataDir]);
  } catch (err) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw new Error(`promtool could not write the blocks: ${(err as { stderr?: string }).stderr ?? err}`);
  }
  fs.rmSync(file);
  const p = await startPrometheus({ dataDir }).catch((err) => {
    fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  });
  return {
    ...p,
    close: async () => {
      await p.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A small HTTP service of one version, instrumented as prom-client's users commonly do. */
export interface VersionService {
  version: string;
  url: string;
  /** host:port, for a scrape config. */
  target: string;
  close(): Promise<void>;
}

/**
 * `GET /work?status=500&delay=300` answers that status after that many ms and observes the
 * request in `http_request_duration_seconds{version, status_code, method, route}`; `/metrics` is
 * the registry. Series appear with the first request, as prom-client does.
 */
export async function startVersionService(version: string): Promise<VersionService> {
  const registry = new Registry();
  const duration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request duration',
    labelNames: ['version', 'status_code', 'method', 'route'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const server = http.createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://x');
    if (u.pathname === '/metrics') {
      registry.metrics().then((text) => {
        res.writeHead(200, { 'content-type': registry.contentType });
        res.end(text);
      });
      return;
    }
    const end = duration.startTimer({ version, method: req.method ?? 'GET', route: u.pathname });
    const status = Number(u.searchParams.get('status') ?? 200);
    setTimeout(
      () => {
        // Observed before answering, so a client that has its answer finds it counted.
        end({ status_code: String(status) });
        res.writeHead(status, { 'content-type': 'text/plain' });
        res.end(`${version} ${status}\n`);
      },
      Number(u.searchParams.get('delay') ?? 0),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    version,
    url: `http://127.0.0.1:${port}`,
    target: `127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Sends `count` requests (sequentially) and checks each got the status asked for. */
export async function hit(service: VersionService, count: number, query = ''): Promise<void> {
  for (let i = 0; i < count; i++) {
    const res = await fetch(`${service.url}/work${query ? `?${query}` : ''}`);
    await res.text();
    const want = Number(new URLSearchParams(query).get('status') ?? 200);
    if (res.status !== want) throw new Error(`${service.version} answered ${res.status}, not ${want}`);
  }
}
