// A small HTTP service the demo and the rollout tests deploy: every version is this one file,
// started with a different VERSION and, for a bad build, knobs that make part of its requests
// fail or slow. It answers the seed's smoke checks (/health, /ready, /login, /api/v1/user/me),
// and /metrics in Prometheus' text format: the histogram http_request_duration_seconds by
// version and status_code, as a service instrumented with prom-client exposes it.
//
// Environment:
//   PORT          port to listen on (127.0.0.1)               required
//   VERSION       version it reports                           default "dev"
//   ERROR_RATE    share of /api requests answered 500          default 0
//   SLOW_RATE     share of /api requests delayed by SLOW_MS    default 0
//   SLOW_MS       the delay                                    default 0
//   LATENCY_MS    base latency of every /api request           default 0
//   API_TOKEN     bearer token /api/v1/user/me accepts         default none (always 401)
//   CRASH_AFTER   exit(1) after this many requests (a crashing build)   default never
//   FAIL_HEALTH   "1": /health answers 503 (a build that fails its smoke test)
//   CHECKOUTS     "1": /metrics also has checkout_conversions_total (a business metric),
//                 counted by POST /api/checkout
//   BUILDS        a JSON file mapping versions to the knobs above, e.g.
//                 {"3.0.0": {"ERROR_RATE": "0.05"}}: how a bad build behaves, by version
import fs from 'node:fs';
import http from 'node:http';

if (process.env.BUILDS) {
  const builds = JSON.parse(fs.readFileSync(process.env.BUILDS, 'utf8'));
  Object.assign(process.env, builds[process.env.VERSION ?? ''] ?? {});
}

const port = Number(process.env.PORT);
if (!Number.isInteger(port) || port <= 0) {
  process.stderr.write('sample-service: PORT must be set to a port number\n');
  process.exit(2);
}
const version = process.env.VERSION ?? 'dev';
const errorRate = Number(process.env.ERROR_RATE ?? 0);
const slowRate = Number(process.env.SLOW_RATE ?? 0);
const slowMs = Number(process.env.SLOW_MS ?? 0);
const latencyMs = Number(process.env.LATENCY_MS ?? 0);
const apiToken = process.env.API_TOKEN ?? '';
const crashAfter = process.env.CRASH_AFTER ? Number(process.env.CRASH_AFTER) : Infinity;
const failHealth = process.env.FAIL_HEALTH === '1';
const checkouts = process.env.CHECKOUTS === '1';
let served = 0;

// Prometheus' default bucket bounds, in seconds; counts per status code, cumulative on output.
const BOUNDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const histograms = new Map(); // status code -> { buckets: number[], sum, count }
let conversions = 0;

function observe(status, seconds) {
  let h = histograms.get(status);
  if (!h) histograms.set(status, (h = { buckets: BOUNDS.map(() => 0), sum: 0, count: 0 }));
  BOUNDS.forEach((b, i) => {
    if (seconds <= b) h.buckets[i] += 1;
  });
  h.sum += seconds;
  h.count += 1;
}

function exposition() {
  const lines = ['# HELP http_request_duration_seconds Duration of HTTP requests in seconds', '# TYPE http_request_duration_seconds histogram'];
  for (const [status, h] of histograms) {
    const labels = `version="${version}",status_code="${status}"`;
    BOUNDS.forEach((b, i) => lines.push(`http_request_duration_seconds_bucket{le="${b}",${labels}} ${h.buckets[i]}`));
    lines.push(`http_request_duration_seconds_bucket{le="+Inf",${labels}} ${h.count}`);
    lines.push(`http_request_duration_seconds_sum{${labels}} ${h.sum}`);
    lines.push(`http_request_duration_seconds_count{${labels}} ${h.count}`);
  }
  if (checkouts) lines.push('# TYPE checkout_conversions_total counter', `checkout_conversions_total{version="${version}"} ${conversions}`);
  return `${lines.join('\n')}\n`;
}

function send(res, status, body, type = 'application/json') {
  const text = type === 'application/json' ? JSON.stringify(body) : body;
  res.writeHead(status, { 'content-type': type, 'x-version': version, 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

const server = http.createServer((req, res) => {
  if (req.url === '/metrics') return send(res, 200, exposition(), 'text/plain; version=0.0.4');
  const started = process.hrtime.bigint();
  res.on('finish', () => observe(res.statusCode, Number(process.hrtime.bigint() - started) / 1e9));
  served += 1;
  if (served > crashAfter) {
    process.stderr.write(`sample-service ${version}: crashing after ${crashAfter} requests (CRASH_AFTER)\n`);
    process.exit(1);
  }
  const url = new URL(req.url ?? '/', 'http://localhost');
  switch (url.pathname) {
    case '/health':
      return failHealth ? send(res, 503, { status: 'failing' }) : send(res, 200, { status: 'ok', version });
    case '/ready':
      return send(res, 200, { status: 'ready', version });
    case '/login':
      return send(res, 200, `<!doctype html><title>Sign in</title><form><button>Sign In</button></form>`, 'text/html; charset=utf-8');
    case '/api/v1/user/me': {
      const auth = req.headers.authorization ?? '';
      if (!apiToken || auth !== `Bearer ${apiToken}`) return send(res, 401, { error: 'unauthorized' });
      return send(res, 200, { id: 'u-1001', name: 'Demo User' });
    }
    default: {
      if (checkouts && req.method === 'POST' && url.pathname === '/api/checkout') conversions += 1;
      // Everything else is "the API": the knobs apply here.
      let delay = latencyMs;
      if (slowRate > 0 && Math.random() < slowRate) delay += slowMs;
      const fail = errorRate > 0 && Math.random() < errorRate;
      const answer = () => (fail ? send(res, 500, { error: 'internal error', version }) : send(res, 200, { ok: true, version, path: url.pathname }));
      if (delay > 0) setTimeout(answer, delay);
      else answer();
    }
  }
});
server.keepAliveTimeout = 5000;
server.listen(port, '127.0.0.1', () => {
  process.stdout.write(`sample-service ${version} listening on 127.0.0.1:${port}\n`);
});
for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => server.close(() => process.exit(0)));
}
