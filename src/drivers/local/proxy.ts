// The local driver's weighted reverse proxy: every request goes to the stable or the canary
// upstream by the current weight (a change applies to the next request), and each answered
// request is recorded — which version, status, latency — for the builtin metrics source.
// Records live in a bounded ring with a sequence number, so readers page by "after seq".
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Upstream {
  version: string;
  port: number;
}

export interface ProxyRecord {
  seq: number;
  at: number; // ms since epoch, when the answer started
  version: 'stable' | 'canary';
  release: string; // the version string of the upstream that answered
  status: number;
  latencyMs: number;
  error: boolean; // 5xx, or the upstream could not be reached
}

const RING = 200_000;
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer']);

export class WeightedProxy {
  private stable: Upstream | null = null;
  private canary: Upstream | null = null;
  private weight = 0; // percent to canary
  /** A circular buffer: record `seq` lives at index seq % RING while it is among the last RING. */
  private readonly ring: (ProxyRecord | undefined)[] = new Array(RING);
  private nextSeq = 1;
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 256, maxFreeSockets: 64 });
  private server: http.Server | null = null;
  private readonly random: () => number;

  constructor(opts: { random?: () => number } = {}) {
    this.random = opts.random ?? Math.random;
  }

  route(stable: Upstream | null, canary: Upstream | null, weight: number): void {
    this.stable = stable;
    this.canary = canary;
    this.weight = canary ? Math.max(0, Math.min(100, weight)) : 0;
  }

  get routing(): { stable: Upstream | null; canary: Upstream | null; weight: number } {
    return { stable: this.stable, canary: this.canary, weight: this.weight };
  }

  /** Records after `after` (oldest first), at most `limit`; `next` is the seq to pass next time. */
  records(after: number, limit = 50_000): { records: ProxyRecord[]; next: number; dropped: number } {
    const first = Math.max(1, this.nextSeq - RING); // oldest seq still held
    const from = Math.max(after + 1, first);
    const to = Math.min(this.nextSeq - 1, from + limit - 1);
    const records: ProxyRecord[] = [];
    for (let seq = from; seq <= to; seq++) records.push(this.ring[seq % RING]!);
    const next = records.length ? to : Math.max(after, from - 1);
    return { records, next, dropped: Math.max(0, first - (after + 1)) };
  }

  get lastSeq(): number {
    return this.nextSeq - 1;
  }

  async listen(port: number, host = '127.0.0.1'): Promise<number> {
    const server = http.createServer((req, res) => this.forward(req, res));
    server.keepAliveTimeout = 5000;
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    return (server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    this.agent.destroy();
    const server = this.server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private pick(): { upstream: Upstream; version: 'stable' | 'canary' } | null {
    if (this.canary && (this.weight >= 100 || (this.weight > 0 && this.random() * 100 < this.weight))) {
      return { upstream: this.canary, version: 'canary' };
    }
    if (this.stable) return { upstream: this.stable, version: 'stable' };
    if (this.canary) return { upstream: this.canary, version: 'canary' };
    return null;
  }

  private record(version: 'stable' | 'canary', release: string, status: number, started: number, startedMs: number): void {
    const latencyMs = Number(process.hrtime.bigint() - BigInt(started)) / 1e6;
    const seq = this.nextSeq++;
    this.ring[seq % RING] = { seq, at: startedMs, version, release, status, latencyMs, error: status >= 500 };
  }

  private forward(req: http.IncomingMessage, res: http.ServerResponse): void {
    const target = this.pick();
    if (!target) {
      res.writeHead(503, { 'content-type': 'text/plain' });
      res.end('no version of this service is running\n');
      return;
    }
    const started = Number(process.hrtime.bigint());
    const startedMs = Date.now();
    const headers: http.OutgoingHttpHeaders = {};
    for (const [k, v] of Object.entries(req.headers)) if (!HOP_BY_HOP.has(k)) headers[k] = v;
    headers['x-forwarded-for'] = req.socket.remoteAddress ?? '';
    const upstreamReq = http.request(
      { host: '127.0.0.1', port: target.upstream.port, method: req.method, path: req.url, headers, agent: this.agent },
      (upstreamRes) => {
        const out: http.OutgoingHttpHeaders = {};
        for (const [k, v] of Object.entries(upstreamRes.headers)) if (!HOP_BY_HOP.has(k)) out[k] = v;
        out['x-shipgate-version'] = target.upstream.version;
        res.writeHead(upstreamRes.statusCode ?? 502, out);
        upstreamRes.pipe(res);
        upstreamRes.on('end', () => this.record(target.version, target.upstream.version, upstreamRes.statusCode ?? 502, started, startedMs));
      },
    );
    upstreamReq.on('error', () => {
      this.record(target.version, target.upstream.version, 502, started, startedMs);
      if (!res.headersSent) {
        res.writeHead(502, { 'content-type': 'text/plain', 'x-shipgate-version': target.upstream.version });
        res.end(`${target.version} (${target.upstream.version}) is not answering\n`);
      } else {
        res.destroy();
      }
    });
    req.pipe(upstreamReq);
  }
}
