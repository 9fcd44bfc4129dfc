// Rollouts judged from Prometheus, end to end, with every component real: nginx (the nginx
// driver, managed) splits loopback traffic between sample-service processes in two slots; a real
// Prometheus scrapes both slots' /metrics every second (the histogram
// http_request_duration_seconds by version and status code); `shipgate serve` reads it with
// `rollout.metrics: { source: prometheus }` as raw counters, differenced per 1 s step, and the
// canary judge decides on those counters and bucket counts. The policy requires monitoring
// coverage, including a business metric. What a user sees: a deployment blocked by a monitoring
// gap that names the missing metric and the query tried, which passes once the metric exists;
// a healthy release promoted step by step on Prometheus' figures; a bad build rolled back by the
// analysis with the error counts Prometheus showed.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseDocument } from 'yaml';
import { loadConfig } from '../../src/config/load.js';
import type { NginxDriver } from '../../src/drivers/nginx/driver.js';
import { freePort } from '../../src/drivers/ports.js';
import { driverPlugin } from '../../src/drivers/registry.js';
import { cliIn } from '../support/cli.js';
import { tempDir } from '../support/databases.js';
import { startLoad } from '../support/load.js';
import { type OwnPrometheus, startPrometheus } from '../support/prometheus.js';
import { callApi, type Served, startServe, until } from '../support/serve.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const EXAMPLE = path.join(ROOT, 'examples/nginx');
const CONVERSION_QUERY = 'sum(checkout_conversions_total{job="shop"})';

describe('rollouts judged from a real Prometheus (nginx driver, monitoring coverage)', () => {
  const root = tempDir('shipgate-prom-rollout-');
  const dir = path.join(root, 'app');
  const config = path.join(dir, 'shipgate.yaml');
  const env = { ...process.env, SHIPGATE_USER: 'carol', SHIPGATE_DATABASE_URL: '' };
  const { json } = cliIn(dir, () => env);
  let served: Served | null = null;
  let prometheus: OwnPrometheus | null = null;
  let load: ReturnType<typeof startLoad> | null = null;
  let token = '';
  let releases = 0;
  // The shop's business metric: absent until the test says it exists.
  let conversions: number | null = null;
  const shop = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
    res.end(conversions === null ? '' : `# TYPE checkout_conversions_total counter\ncheckout_conversions_total ${conversions}\n`);
  });

  const api = (method: string, url: string, body?: unknown) => callApi(served!, token, method, url, body);

  async function request(version: string): Promise<number> {
    releases += 1;
    await api('POST', '/api/v1/releases', { service: 'web', version, digest: `sha256:${releases.toString(16).padStart(64, '0')}`, commit: `feed${releases.toString().padStart(4, '0')}` });
    return (await api('POST', '/api/v1/deployments', { service: 'web', version, environment: 'production' })).deployment.id;
  }

  const deployment = async (id: number) => (await api('GET', `/api/v1/deployments/${id}`)).deployment;
  const ended = (id: number) =>
    until(`deployment ${id} to end`, async () => {
      const d = await deployment(id);
      return ['succeeded', 'rolled_back', 'rollback_failed', 'failed', 'cancelled'].includes(d.state) && d;
    }, 120_000, 250);

  before(async () => {
    fs.mkdirSync(dir, { recursive: true });
    fs.mkdirSync(path.join(root, 'sample-service'));
    for (const f of ['shipgate.yaml', 'builds.json']) fs.copyFileSync(path.join(EXAMPLE, f), path.join(dir, f));
    fs.copyFileSync(path.join(ROOT, 'examples/sample-service/server.mjs'), path.join(root, 'sample-service/server.mjs'));
    await new Promise<void>((resolve) => shop.listen(0, '127.0.0.1', resolve));
    const listen = await freePort();
    let slots = [await freePort(), await freePort()];
    while (slots[1] === slots[0] || slots.includes(listen)) slots = [await freePort(), await freePort()];
    // Prometheus scrapes the two slots (whichever version runs there labels its own series) and the shop.
    prometheus = await startPrometheus({
      jobs: [
        { job: 'web', targets: slots.map((p) => `127.0.0.1:${p}`) },
        { job: 'shop', targets: [`127.0.0.1:${(shop.address() as AddressInfo).port}`] },
      ],
      scrapeInterval: '1s',
    });
    const doc = parseDocument(fs.readFileSync(config, 'utf8'));
    const rollout = ['environments', 0, 'rollout'];
    const set = (at: (string | number)[], value: unknown) => doc.setIn(at, doc.createNode(value));
    set([...rollout, 'nginx', 'services', 'web', 'listen'], listen);
    set([...rollout, 'nginx', 'services', 'web', 'ports'], slots);
    set([...rollout, 'metrics'], { source: 'prometheus', url: prometheus.url, step: '1s', timeout: '5s' });
    set([...rollout, 'min_step'], '1s');
    set([...rollout, 'max_step'], '90s');
    set([...rollout, 'post_deploy'], ['0s']);
    set(['environments', 0, 'policy', 'monitoring'], { require: ['requests', 'errors', 'latency', { name: 'conversion', query: CONVERSION_QUERY }] });
    fs.writeFileSync(config, doc.toString());
    token = (await json(['token', 'create', 'carol'])).token;
    served = await startServe(dir, env, ['--reconcile-every', '1']);
    // The first release: nothing serves yet, so nothing has series (the check warns) and there
    // is nothing to compare with (straight to 100%).
    const first = await ended(await request('1.0.0'));
    assert.equal(first.state, 'succeeded', JSON.stringify(first));
    assert.equal(first.checks.find((c: { id: string }) => c.id === 'monitoring').status, 'warn');
    load = startLoad(`http://127.0.0.1:${listen}`, { rps: 400, clients: 8, maxSeconds: 240, maxRequests: 100_000 });
  });

  after(async () => {
    await load?.stop();
    await served?.stop();
    const cfg = loadConfig(config);
    await (driverPlugin('nginx').create(cfg.environments[0].rollout!.driver.settings, cfg) as NginxDriver).shutdown();
    await prometheus?.close();
    shop.close();
    fs.rmSync(root, { recursive: true, force: true });
  });

  test('a monitoring gap blocks the deployment, naming the metric and the query tried; once the metric exists a refresh lets it through, and the healthy release is promoted on Prometheus\' counters', async () => {
    // Stable's series exist once Prometheus has scraped the traffic.
    await until('stable traffic in Prometheus', async () => {
      const r = await fetch(`${prometheus!.url}/api/v1/query?query=${encodeURIComponent('sum(http_request_duration_seconds_count{job="web"})')}`).then((x) => x.json());
      return Number(r.data?.result?.[0]?.value?.[1] ?? 0) > 100;
    });
    const id = await request('2.0.0');
    const blocked = await deployment(id);
    assert.equal(blocked.state, 'awaiting_approval', JSON.stringify(blocked));
    const gap = blocked.checks.find((c: { id: string }) => c.id === 'monitoring');
    assert.equal(gap.status, 'fail', JSON.stringify(gap));
    assert.match(gap.reason, /^monitoring gap in prometheus: conversion missing \(query tried: sum\(checkout_conversions_total\{job="shop"\}\); no series/);
    assert.doesNotMatch(gap.reason, /requests missing|errors missing|latency missing/, 'the standard metrics are found');
    // Still blocked a few reconciles later: a gap never passes by itself.
    await new Promise((r) => setTimeout(r, 2500));
    assert.equal((await deployment(id)).rollout, null, 'no rollout started');

    conversions = 17;
    await until('the conversion series in Prometheus', async () => {
      const r = await fetch(`${prometheus!.url}/api/v1/query?query=${encodeURIComponent(CONVERSION_QUERY)}`).then((x) => x.json());
      return r.data?.result?.length > 0;
    });
    const refreshed = await api('POST', `/api/v1/deployments/${id}/refresh`);
    const check = refreshed.gate.checks.find((c: { id: string }) => c.id === 'monitoring');
    assert.equal(check.status, 'pass', JSON.stringify(check));
    assert.match(check.reason, /every required metric has series in prometheus: requests, errors, latency, conversion/);

    const d = await ended(id);
    assert.equal(d.state, 'succeeded', JSON.stringify(d.rollout?.steps?.map((s: { reasons: unknown }) => s.reasons)));
    const steps = d.rollout.steps as { weight: number; verdict: string; canaryRequests: number; reasons: { metric: string; sentence: string }[] }[];
    assert.deepEqual(steps.map((s) => [s.weight, s.verdict]), [
      [10, 'pass'],
      [50, 'pass'],
      [100, null],
    ]);
    // Judged on Prometheus' counters: the tail tests speak of the histogram's bucket bounds.
    assert.match(steps[0].reasons.find((r) => r.metric === 'slow95')!.sentence, /bucket bound/);
    assert.ok(steps[0].canaryRequests > 100, `the 10% step saw ${steps[0].canaryRequests} canary requests in Prometheus`);
  });

  test('a bad build (20% errors) is rolled back by the analysis of Prometheus\' error counters', async () => {
    const id = await request('2.1.0');
    const d = await ended(id);
    assert.equal(d.state, 'rolled_back', JSON.stringify(d.rollout));
    assert.equal(d.rollout.rollback.trigger, 'analysis');
    assert.match(d.reason, /^analysis failed at 10%: canary errors \d+\.\d% \(\d+\/\d+\) are higher than stable's/);
    assert.equal(d.rollout.rollback.ok, true);
  });
});
