// The Prometheus metrics source against a real Prometheus: first on exact samples written as
// TSDB blocks by promtool (cumulative counters over a few scrapes, a counter reset, each
// convention, missing series, a Prometheus that does not answer), then live, scraping two
// prom-client services every second while known requests are sent to each.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { type MetricsBatch, type MetricsContext, MetricsUnavailable, type VersionCounts } from '../../src/drivers/driver.js';
import { prometheus, prometheusSettings, PrometheusSource } from '../../src/metrics/prometheus.js';
import { until } from '../support/serve.js';
import { type Family, freePort, histogramScrape, hit, type OwnPrometheus, prometheusWithData, startPrometheus, startVersionService, type VersionService } from '../support/prometheus.js';

const H = 'http_request_duration_seconds';
const BOUNDS = [0.05, 0.1, 0.25];
const LE_MS = [50, 100, 250, Infinity];
// Five scrapes, 3 s before each 15 s step boundary; an hour ago, so promtool can write them.
const T0 = Math.floor((Date.now() / 1000 - 3600) / 60) * 60;
const scrapeAt = (k: number) => T0 + 15 * k - 3;

/** Cumulative bucket counts (≤50 ms, ≤100 ms, ≤250 ms, +Inf) per scrape; null: no series yet. */
type Scrapes = ([number, number, number, number] | null)[];

const web = { job: 'web', method: 'GET', route: '/' };
const SERIES: [Record<string, string>, Scrapes][] = [
  // stable 1.0.0, instance A: its process restarts between scrapes 2 and 3 (a counter reset)
  [{ ...web, version: '1.0.0', instance: '10.0.0.1:8080', status_code: '200' }, [[10, 18, 20, 20], [20, 30, 33, 34], [35, 50, 54, 56], [3, 4, 4, 5], [9, 12, 13, 14]]],
  // stable 1.0.0, instance B: its first errors at scrape 2
  [{ ...web, version: '1.0.0', instance: '10.0.0.2:8080', status_code: '200' }, [[50, 60, 60, 60], [55, 66, 66, 66], [55, 66, 66, 66], [60, 72, 73, 73], [61, 73, 74, 74]]],
  [{ ...web, version: '1.0.0', instance: '10.0.0.2:8080', status_code: '500' }, [null, null, [0, 0, 0, 2], [0, 0, 1, 3], [0, 0, 1, 3]]],
  // canary 2.0.0: no series before its first request (scrape 1), its first error at scrape 3
  [{ ...web, version: '2.0.0', instance: '10.0.0.9:8080', status_code: '200' }, [null, [1, 2, 3, 3], [4, 6, 8, 9], [4, 6, 8, 9], [10, 15, 19, 21]]],
  [{ ...web, version: '2.0.0', instance: '10.0.0.9:8080', status_code: '500' }, [null, null, null, [0, 1, 1, 1], [0, 1, 2, 4]]],
  // convention workload (Flagger): jobs shop-primary and shop-canary, two scrapes
  [{ job: 'shop-primary', instance: '10.0.1.1:8080', status_code: '200' }, [[5, 8, 9, 10], [9, 14, 16, 18]]],
  [{ job: 'shop-canary', instance: '10.0.1.9:8080', status_code: '200' }, [[1, 1, 1, 1], [2, 3, 3, 4]]],
  [{ job: 'shop-canary', instance: '10.0.1.9:8080', status_code: '500' }, [null, [0, 0, 1, 1]]],
  // convention pod-template-hash (Argo Rollouts): the hash label, no version label
  [{ job: 'cart', instance: '10.0.2.1:8080', rollouts_pod_template_hash: '6d4f9c7b8', status_code: '200' }, [[10, 10, 10, 10], [13, 14, 15, 16]]],
  [{ job: 'cart', instance: '10.0.2.9:8080', rollouts_pod_template_hash: '7f8e9d0c1', status_code: '200' }, [null, [1, 1, 2, 2]]],
];

function families(): Family[] {
  const histogram: Family = { name: H, type: 'histogram', samples: [] };
  for (const [labels, scrapes] of SERIES) {
    scrapes.forEach((counts, k) => {
      if (counts) histogram.samples.push(...histogramScrape(H, labels, BOUNDS, counts, scrapeAt(k)));
    });
  }
  // What kube-state-metrics says of the cart's ReplicaSets: the lookup of each version's hash.
  const replicasets: Family = { name: 'kube_replicaset_labels', type: 'gauge', samples: [] };
  const checkout: Family = { name: 'checkout_conversions', type: 'counter', samples: [] };
  for (let k = 0; k < 5; k++) {
    for (const [version, hash] of [['1.4.0', '6d4f9c7b8'], ['1.5.0', '7f8e9d0c1']]) {
      replicasets.samples.push({ name: 'kube_replicaset_labels', labels: { namespace: 'production', replicaset: `cart-${hash}`, label_app: 'cart', label_version: version, label_rollouts_pod_template_hash: hash }, value: 1, t: scrapeAt(k) });
    }
    checkout.samples.push({ name: 'checkout_conversions_total', labels: { job: 'web', version: '1.0.0' }, value: 10 * k, t: scrapeAt(k) });
  }
  return [histogram, replicasets, checkout];
}

const counts = (requests: number, errors: number, buckets: number[] | null): VersionCounts => ({ requests, errors, latency: buckets ? { le: LE_MS, counts: buckets } : null });
const batch = (k: number, canary: VersionCounts, stable: VersionCounts): MetricsBatch => ({ kind: 'counts', at: (T0 + 15 * k) * 1000, canary, stable });
const ZERO = counts(0, 0, null);

// Worked out by hand from SERIES, per step: the increase of each instance's sum (requests:
// _count; errors: _count with a 5xx status; buckets: per le), a drop taken as a reset, summed over
// instances, the buckets made non-cumulative.
const STABLE = [
  counts(20, 0, [15, 3, 1, 1]), // A 34-20=14, B 66-60=6
  counts(24, 2, [15, 5, 1, 3]), // A 56-34=22, B 68-66=2 (the new 500 series counts from 0)
  counts(13, 1, [8, 2, 2, 1]), //  A reset: 5 (its new value), B 76-68=8
  counts(10, 0, [7, 2, 1, 0]), //  A 14-5=9, B 77-76=1
];
const CANARY = [
  counts(3, 0, [1, 1, 1, 0]), //   first series: counted from 0
  counts(6, 0, [3, 1, 1, 1]),
  counts(1, 1, [0, 1, 0, 0]), //   its first error
  counts(15, 3, [6, 3, 3, 3]),
];
const EXPECTED = [1, 2, 3, 4].map((k) => batch(k, CANARY[k - 1], STABLE[k - 1]));

const webCtx: MetricsContext = { service: 'web', environment: 'production', canaryVersion: '2.0.0', stableVersion: '1.0.0' };

describe('the prometheus source on exact samples (promtool blocks)', () => {
  let prom: OwnPrometheus;
  before(async () => {
    prom = await prometheusWithData(families());
  });
  after(() => prom?.close());

  const sourceAt = (nowSeconds: number, section: Record<string, unknown> = {}) => new PrometheusSource(prometheusSettings({ source: 'prometheus', url: prom.url, ...section }), { now: () => nowSeconds * 1000 });

  test('each step reads the difference of the raw counters: requests, errors, latency buckets, a counter reset included', async () => {
    const from = await sourceAt(T0 + 5).cursor(webCtx);
    const read = await sourceAt(T0 + 67).read(webCtx, from);
    assert.deepEqual(read.batches, EXPECTED);
  });

  test('reading in two parts gives the same batches as reading at once, and a read within a step gives nothing', async () => {
    const from = await sourceAt(T0 + 5).cursor(webCtx);
    const first = await sourceAt(T0 + 31).read(webCtx, from);
    assert.deepEqual(first.batches, EXPECTED.slice(0, 2));
    const early = await sourceAt(T0 + 44).read(webCtx, first.cursor);
    assert.deepEqual(early, { batches: [], cursor: first.cursor }, 'no whole step since the cursor');
    const second = await sourceAt(T0 + 67).read(webCtx, first.cursor);
    assert.deepEqual(second.batches, EXPECTED.slice(2), 'the reset at step 3 is read across the two parts');
    const again = await sourceAt(T0 + 67).read(webCtx, second.cursor);
    assert.deepEqual(again.batches, [], 'nothing twice');
  });

  test('a read while Prometheus is unreachable loses nothing: the next read from the same cursor has every step', async () => {
    const from = await sourceAt(T0 + 5).cursor(webCtx);
    const first = await sourceAt(T0 + 31).read(webCtx, from);
    const down = new PrometheusSource(prometheusSettings({ source: 'prometheus', url: `http://127.0.0.1:${await freePort()}` }), { now: () => (T0 + 67) * 1000 });
    await assert.rejects(down.read(webCtx, first.cursor), MetricsUnavailable);
    assert.deepEqual((await sourceAt(T0 + 67).read(webCtx, first.cursor)).batches, EXPECTED.slice(2));
  });

  test('a first deployment: the stable side is zero and not asked for', async () => {
    const ctx = { ...webCtx, stableVersion: null };
    const read = await sourceAt(T0 + 67).read(ctx, await sourceAt(T0 + 5).cursor(ctx));
    assert.deepEqual(
      read.batches,
      CANARY.map((c, i) => batch(i + 1, c, ZERO)),
    );
  });

  test('a canary with no series while the stable served is MetricsUnavailable naming the query; with no traffic at all it is zero', async () => {
    const ctx = { ...webCtx, canaryVersion: '3.0.0' };
    await assert.rejects(
      sourceAt(T0 + 67).read(ctx, await sourceAt(T0 + 5).cursor(ctx)),
      (e: Error) =>
        e instanceof MetricsUnavailable &&
        e.message.includes('no series for the canary (3.0.0) from sum by (instance) (http_request_duration_seconds_count{ version="3.0.0", job="web" })') &&
        e.message.includes('while the stable served 67 requests'),
    );
    // After the last scrape the stable serves nothing more: a canary without series is then a
    // canary without traffic, zero.
    const quiet = await sourceAt(T0 + 127).read(ctx, await sourceAt(T0 + 65).cursor(ctx));
    assert.equal(quiet.batches.length, 4);
    for (const b of quiet.batches) assert.ok(b.kind === 'counts' && b.canary.requests === 0 && b.stable.requests === 0 && b.stable.latency !== null, JSON.stringify(b));
  });

  test('a missing latency histogram is MetricsUnavailable naming its query', async () => {
    const section = { queries: { latency: 'sum by (le, instance) (http_server_duration_seconds_bucket{ {{selector}} })' } };
    await assert.rejects(sourceAt(T0 + 67, section).read(webCtx, await sourceAt(T0 + 5).cursor(webCtx)), (e: Error) => e instanceof MetricsUnavailable && e.message.includes('no latency histogram for the canary (2.0.0) from sum by (le, instance) (http_server_duration_seconds_bucket{ version="2.0.0", job="web" })'));
  });

  test('convention workload (Flagger): <service>-canary and <service>-primary', async () => {
    const ctx: MetricsContext = { service: 'shop', environment: 'production', canaryVersion: '2.1.0', stableVersion: '2.0.0' };
    const read = await sourceAt(T0 + 17, { convention: 'workload' }).read(ctx, await sourceAt(T0 + 5).cursor(ctx));
    // primary: [5,8,9,10] → [9,14,16,18]; canary: [1,1,1,1] → [2,3,3,4] plus a new 500 series [0,0,1,1]
    assert.deepEqual(read.batches, [batch(1, counts(4, 1, [1, 1, 1, 1]), counts(8, 0, [4, 2, 1, 1]))]);
  });

  test('convention pod-template-hash (Argo Rollouts): each version\'s hash looked up, then selected', async () => {
    const section = { convention: 'pod-template-hash', hash_lookup: 'kube_replicaset_labels{namespace="{{environment}}", label_app="{{service}}", label_version="{{version}}"}' };
    const ctx: MetricsContext = { service: 'cart', environment: 'production', canaryVersion: '1.5.0', stableVersion: '1.4.0' };
    const read = await sourceAt(T0 + 17, section).read(ctx, await sourceAt(T0 + 5).cursor(ctx));
    assert.deepEqual(read.batches, [batch(1, counts(2, 0, [1, 0, 1, 0]), counts(6, 0, [3, 1, 1, 1]))]);
    await assert.rejects(
      sourceAt(T0 + 17, section).read({ ...ctx, canaryVersion: '1.6.0' }, await sourceAt(T0 + 5).cursor(ctx)),
      (e: Error) => e instanceof MetricsUnavailable && e.message.includes('no pod-template-hash for the canary (1.6.0): the lookup kube_replicaset_labels{namespace="production", label_app="cart", label_version="1.6.0"} named none'),
    );
  });

  test('coverage: the standard metrics and a business metric found, a missing one named with its query', async () => {
    const found = await sourceAt(T0 + 60).coverage(webCtx, [
      { name: 'requests', query: null },
      { name: 'errors', query: null },
      { name: 'latency', query: null },
      { name: 'conversions', query: 'sum(checkout_conversions_total{job="{{service}}", version="{{version}}"})' },
      { name: 'signups', query: 'sum(signup_conversions_total{ {{selector}} })' },
      { name: 'saturation', query: null },
    ]);
    assert.deepEqual(
      found.map((f) => [f.name, f.found]),
      [['requests', true], ['errors', true], ['latency', true], ['conversions', true], ['signups', false], ['saturation', false]],
    );
    assert.match(found[5].detail!, /no query given, and the prometheus source has none of its own for 'saturation'/);
    assert.equal(found[0].query, 'sum by (instance) (http_request_duration_seconds_count{ version="1.0.0", job="web" })', 'the stable version serving now is checked');
    assert.equal(found[3].query, 'sum(checkout_conversions_total{job="web", version="1.0.0"})');
    assert.equal(found[4].query, 'sum(signup_conversions_total{ version="1.0.0", job="web" })');
    assert.match(found[4].detail!, /^no series for stable 1\.0\.0 at /);
  });

  test('a query Prometheus refuses is MetricsUnavailable with its reason and the query', async () => {
    const section = { queries: { requests: 'sum by (instance) ({{metric}}_count{ {{selector}} }' } };
    await assert.rejects(sourceAt(T0 + 67, section).read(webCtx, await sourceAt(T0 + 5).cursor(webCtx)), (e: Error) => e instanceof MetricsUnavailable && /answered an error \(HTTP 400, bad_data: .*parse error/.test(e.message) && /for the query sum by \(instance\) \(http_request_duration_seconds_count\{ version="[12]\.0\.0", job="web" \}$/.test(e.message));
  });

  test('the plugin section: defaults, and the mistakes it names', () => {
    const s = prometheus.settings({ source: 'prometheus', url: 'http://prom:9090' }, '/');
    assert.deepEqual([s.stepSeconds, s.timeoutMs, s.convention, s.match, s.tokenEnv], [15, 10_000, 'version', 'job="{{service}}"', null]);
    const problems = (raw: Record<string, unknown>) => {
      const r = prometheus.section.safeParse({ source: 'prometheus', url: 'http://prom:9090', ...raw });
      return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    };
    assert.match(problems({ convention: 'pod-template-hash' }).join(), /^hash_lookup: convention pod-template-hash needs hash_lookup/);
    assert.match(problems({ queries: { errors: 'sum({{metrik}}_count{ {{selector}} })' } }).join(), /^queries\.errors: unknown placeholder \{\{metrik\}\}/);
    assert.match(problems({ url: 'http://admin:hunter2@prom:9090' }).join(), /^url: put credentials in token_env/);
    assert.match(problems({ step: '15' }).join(), /^step: expected a duration/);
    assert.match(problems({ version_label: 'app-version' }).join(), /^version_label: a Prometheus label name/);
  });
});

describe('the prometheus source when Prometheus does not answer', () => {
  const servers: http.Server[] = [];
  after(async () => {
    for (const s of servers) {
      s.closeAllConnections();
      await new Promise((r) => s.close(r));
    }
  });
  /** A loopback HTTP server standing in for a proxy in front of Prometheus. */
  async function serverAnswering(handler: http.RequestListener): Promise<string> {
    const s = http.createServer(handler);
    servers.push(s);
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    return `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
  }
  const sourceOn = (url: string, section: Record<string, unknown> = {}) => new PrometheusSource(prometheusSettings({ source: 'prometheus', url, ...section }), { now: () => (T0 + 67) * 1000 });
  const cursor = JSON.stringify({ v: 1, t: T0, canary: '2.0.0', stable: '1.0.0' });

  test('connection refused, HTTP 503, no answer in time: MetricsUnavailable naming the query', async () => {
    const closed = `http://127.0.0.1:${await freePort()}`;
    await assert.rejects(sourceOn(closed).read(webCtx, cursor), (e: Error) => e instanceof MetricsUnavailable && e.message.startsWith(`Prometheus at ${closed} did not answer the query `) && e.message.endsWith(': connection refused'));
    const unavailable = await serverAnswering((_req, res) => res.writeHead(503).end('upstream connect error'));
    await assert.rejects(sourceOn(unavailable).read(webCtx, cursor), (e: Error) => e instanceof MetricsUnavailable && /answered HTTP 503: upstream connect error, for the query sum by \(le, instance\) \(http_request_duration_seconds_bucket|for the query sum by \(instance\) \(http_request_duration_seconds_count\{ version="[12]\.0\.0"/.test(e.message));
    const silent = await serverAnswering(() => {});
    const started = Date.now();
    await assert.rejects(sourceOn(silent, { timeout: '1s' }).read(webCtx, cursor), (e: Error) => e instanceof MetricsUnavailable && /did not answer the query .*: no answer within 1 s$/.test(e.message));
    assert.ok(Date.now() - started < 5_000, 'the timeout holds');
    const coverage = await sourceOn(closed).coverage(webCtx, [{ name: 'requests', query: null }]);
    assert.deepEqual(coverage.map((c) => [c.found, c.detail?.endsWith('connection refused')]), [[false, true]]);
  });

  test('the bearer token comes from token_env, is sent, and is never in a message', async () => {
    const seen: (string | undefined)[] = [];
    const proxy = await serverAnswering((req, res) => {
      seen.push(req.headers.authorization);
      res.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({ status: 'error', errorType: 'unauthorized', error: 'token rejected' }));
    });
    process.env.SHIPGATE_TEST_PROM_TOKEN = 's3cret-token';
    try {
      const err = await sourceOn(proxy, { token_env: 'SHIPGATE_TEST_PROM_TOKEN' }).read(webCtx, cursor).then(() => null, (e: Error) => e);
      assert.ok(err instanceof MetricsUnavailable && err.message.includes('answered an error (HTTP 401, unauthorized: token rejected)'), String(err));
      assert.ok(!err.message.includes('s3cret') && !err.stack?.includes('s3cret'));
      assert.ok(seen.length > 0 && seen.every((h) => h === 'Bearer s3cret-token'), JSON.stringify(seen.length));
      delete process.env.SHIPGATE_TEST_PROM_TOKEN;
      await assert.rejects(sourceOn(proxy, { token_env: 'SHIPGATE_TEST_PROM_TOKEN' }).read(webCtx, cursor), (e: Error) => e instanceof MetricsUnavailable && e.message.includes('token_env names SHIPGATE_TEST_PROM_TOKEN, which is not set'));
    } finally {
      delete process.env.SHIPGATE_TEST_PROM_TOKEN;
    }
  });
});

describe('the prometheus source on a live Prometheus scraping prom-client services every second', () => {
  let stable: VersionService;
  let canary: VersionService;
  let prom: OwnPrometheus;
  before(async () => {
    stable = await startVersionService('1.0.0');
    canary = await startVersionService('2.0.0');
    prom = await startPrometheus({ jobs: [{ job: 'web', targets: [stable.target, canary.target] }], scrapeInterval: '1s' });
  });
  after(async () => {
    await prom?.close();
    await stable?.close();
    await canary?.close();
  });
  const source = () => new PrometheusSource(prometheusSettings({ source: 'prometheus', url: prom.url, step: '1s', timeout: '5s' }));

  test('it reports exactly the requests, errors and slow requests each version served', async () => {
    const s = source();
    let cursor = await s.cursor(webCtx);
    await Promise.all([hit(stable, 36), hit(stable, 4, 'status=500'), hit(canary, 10), hit(canary, 5, 'status=503'), hit(canary, 10, 'delay=300')]);
    const total = { canary: emptyTotal(), stable: emptyTotal() };
    let unavailable = 0;
    await until(
      'both versions scraped',
      async () => {
        try {
          const read = await s.read(webCtx, cursor);
          cursor = read.cursor;
          for (const b of read.batches) if (b.kind === 'counts') for (const v of ['canary', 'stable'] as const) add(total[v], b[v]);
        } catch (err) {
          // One version scraped before the other: no reading yet, and the cursor stays.
          if (!(err instanceof MetricsUnavailable)) throw err;
          unavailable++;
        }
        return total.canary.requests >= 25 && total.stable.requests >= 40;
      },
      30_000,
      200,
    );
    assert.deepEqual([total.stable.requests, total.stable.errors, total.canary.requests, total.canary.errors], [40, 4, 25, 5], `exactly what was sent (${unavailable} reads before both were scraped)`);
    assert.equal(sum(total.stable.buckets), 40, 'every stable request is in the histogram');
    assert.equal(sum(total.canary.buckets), 25, 'every canary request is in the histogram');
    const slow = [...total.canary.buckets].filter(([le]) => le > 250).reduce((n, [, c]) => n + c, 0);
    assert.ok(slow >= 10, `the 10 canary requests that waited 300 ms are above 250 ms (${slow})`);
  });

  test('coverage finds the standard metrics and names a missing business metric with its query', async () => {
    // The previous test has made both versions serve, so their series exist.
    const found = await source().coverage(webCtx, [
      { name: 'requests', query: null },
      { name: 'errors', query: null },
      { name: 'latency', query: null },
      { name: 'checkout', query: 'sum(checkout_total{ {{selector}} })' },
    ]);
    assert.deepEqual(
      found.map((f) => [f.name, f.found]),
      [['requests', true], ['errors', true], ['latency', true], ['checkout', false]],
    );
    assert.deepEqual([found[3].query, found[3].detail?.startsWith('no series for stable 1.0.0')], ['sum(checkout_total{ version="1.0.0", job="web" })', true]);
  });
});

interface Total {
  requests: number;
  errors: number;
  /** Requests per bucket, by upper bound in ms. */
  buckets: Map<number, number>;
}

const emptyTotal = (): Total => ({ requests: 0, errors: 0, buckets: new Map() });

function add(t: Total, v: VersionCounts): void {
  t.requests += v.requests;
  t.errors += v.errors;
  v.latency?.le.forEach((le, i) => t.buckets.set(le, (t.buckets.get(le) ?? 0) + v.latency!.counts[i]));
}

const sum = (m: Map<number, number>) => [...m.values()].reduce((a, b) => a + b, 0);
