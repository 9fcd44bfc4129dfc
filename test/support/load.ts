// Steady HTTP traffic against a URL on loopback, for rollout tests, the demo and benchmarks:
// a fixed number of concurrent clients, each sending requests back to back at a target rate,
// bounded in count and in time. Counts what it saw by the version header.
import http from 'node:http';

export interface LoadStats {
  sent: number;
  ok: number;
  errors: number;
  byVersion: Record<string, number>;
}

export function startLoad(url: string, opts: { rps: number; clients?: number; maxRequests?: number; maxSeconds?: number; path?: string }) {
  const clients = opts.clients ?? 8;
  const maxRequests = opts.maxRequests ?? 1_000_000;
  const deadline = Date.now() + (opts.maxSeconds ?? 600) * 1000;
  const agent = new http.Agent({ keepAlive: true, maxSockets: clients });
  const target = new URL(opts.path ?? '/api/items', url);
  const stats: LoadStats = { sent: 0, ok: 0, errors: 0, byVersion: {} };
  let stopped = false;
  const interval = (1000 * clients) / opts.rps; // per client
  const one = () =>
    new Promise<void>((resolve) => {
      const req = http.get({ host: target.hostname, port: target.port, path: target.pathname, agent }, (res) => {
        res.resume();
        res.on('end', () => {
          const v = String(res.headers['x-version'] ?? res.headers['x-shipgate-version'] ?? 'none');
          stats.byVersion[v] = (stats.byVersion[v] ?? 0) + 1;
          if ((res.statusCode ?? 0) >= 500) stats.errors++;
          else stats.ok++;
          resolve();
        });
      });
      req.setTimeout(10_000, () => req.destroy());
      req.on('error', () => {
        stats.errors++;
        resolve();
      });
    });
  const loops = Array.from({ length: clients }, async (_, i) => {
    let next = Date.now() + (interval * i) / clients;
    while (!stopped && stats.sent < maxRequests && Date.now() < deadline) {
      const wait = next - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      next += interval;
      stats.sent++;
      await one();
    }
  });
  return {
    stats,
    async stop(): Promise<LoadStats> {
      stopped = true;
      await Promise.all(loops);
      agent.destroy();
      return stats;
    },
  };
}
