// Steady traffic for the nginx example, bounded in time: N keep-alive connections at a total
// rate to a URL on this machine, printing each second which versions answered (the X-Version
// header the sample service sends) and how many requests failed.
//
//   node traffic.mjs [url] [requests/s] [seconds]      default http://127.0.0.1:8088 300 300
import http from 'node:http';

const url = new URL(process.argv[2] ?? 'http://127.0.0.1:8088');
const rps = Number(process.argv[3] ?? 300);
const seconds = Number(process.argv[4] ?? 300);
const clients = 8;
const agent = new http.Agent({ keepAlive: true, maxSockets: clients });
const end = Date.now() + seconds * 1000;
let second = {};

const one = () =>
  new Promise((resolve) => {
    const req = http.get({ host: url.hostname, port: url.port, path: '/api/items', agent }, (res) => {
      res.resume();
      res.on('end', () => {
        const key = res.statusCode >= 500 ? `${res.headers['x-version'] ?? '?'} ${res.statusCode}` : (res.headers['x-version'] ?? `status ${res.statusCode}`);
        second[key] = (second[key] ?? 0) + 1;
        resolve();
      });
    });
    req.setTimeout(10_000, () => req.destroy());
    req.on('error', (err) => {
      second[err.code ?? 'error'] = (second[err.code ?? 'error'] ?? 0) + 1;
      resolve();
    });
  });

const timer = setInterval(() => {
  const total = Object.values(second).reduce((a, b) => a + b, 0);
  const parts = Object.entries(second)
    .sort()
    .map(([k, n]) => `${k}: ${n} (${((100 * n) / total).toFixed(0)}%)`);
  console.log(`${new Date().toISOString().slice(11, 19)}  ${parts.join('   ') || 'no answers'}`);
  second = {};
}, 1000);

const interval = (1000 * clients) / rps;
await Promise.all(
  Array.from({ length: clients }, async (_, i) => {
    let next = Date.now() + (interval * i) / clients;
    while (Date.now() < end) {
      const wait = next - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      next = Math.max(next + interval, Date.now() - interval);
      await one();
    }
  }),
);
clearInterval(timer);
agent.destroy();
