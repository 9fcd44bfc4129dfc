// The gate's readiness checks end to end on a real shipgate: a deployment to production blocked
// by a missing or slow rollback rehearsal, by settings drift from staging, and by the security
// posture of the service's address (real HTTPS servers on loopback, certificates made by
// openssl), each passing once the cause is fixed. Rehearsal and parity run on every store;
// the HTTPS probes do not depend on the store and run on a SQLite file.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import type { ShipgateConfig } from '../../../src/config/load.js';
import type { CheckResult, Policy } from '../../../src/domain/types.js';
import type { Actor } from '../../../src/features/access/actor.js';
import { createShipgate, type Shipgate } from '../../../src/main.js';
import type { Store } from '../../../src/store/store.js';
import { testConfig } from '../../support/config.js';
import { tempDir } from '../../support/databases.js';
import { ALL_STORE_KINDS, freshStore } from '../../support/stores.js';

const as = (user: string): Actor => ({ user, via: 'local' });
const FIXTURE_CERT = path.resolve(import.meta.dirname, '../../fixtures/tls/cert.pem');
const FIXTURE_KEY = path.resolve(import.meta.dirname, '../../fixtures/tls/key.pem');

/** Production checks nothing but the policy fields under test, and approves itself. */
const bare: Partial<Policy> = { requireVerifiedIn: null, soakMinutes: 0, autoApprove: true, approvals: [], rollbackTarget: 'off' };

const opened: Store[] = [];
after(async () => {
  for (const s of opened) await s.close();
});

async function shipgateOn(kind: (typeof ALL_STORE_KINDS)[number], config: ShipgateConfig, now: () => Date): Promise<Shipgate> {
  const { store } = await freshStore(kind);
  opened.push(store);
  const app = createShipgate({ config, store, now });
  for (const version of ['1.4.1', '1.4.2']) {
    await app.releases.register(as('carol'), { service: 'web', version, digest: `sha256:${(version === '1.4.1' ? 'c1' : 'c2').repeat(32)}`, commit: 'deadbeef1' });
  }
  return app;
}

function check(checks: CheckResult[], id: string): CheckResult {
  const c = checks.find((x) => x.id === id);
  assert.ok(c, `check ${id} listed in ${checks.map((x) => x.id).join(', ')}`);
  return c;
}

async function stateAfterRefresh(app: Shipgate, id: number) {
  const { view } = await app.deployments.refresh(as('carol'), id, { freshCoverage: true });
  return view.deployment;
}

for (const kind of ALL_STORE_KINDS) {
  describe(`readiness checks on ${kind}`, () => {
    test('rollback rehearsal: missing, then too slow, then in the wrong environment block; a fast one in staging passes; it ages out', async () => {
      const clock = { now: new Date('2026-11-24T09:00:00Z') };
      const app = await shipgateOn(kind, testConfig({ ...bare, rollbackRehearsal: { environment: 'staging', maxAgeDays: 7, sloSeconds: 300 } }), () => clock.now);
      const { view } = await app.deployments.request(as('carol'), { service: 'web', version: '1.4.2', environment: 'production' });
      const id = view.deployment.id;
      assert.equal(view.deployment.state, 'awaiting_approval');
      assert.match(check(view.deployment.checks, 'rollback-rehearsal').reason, /^no rollback rehearsal of web in staging; run `shipgate rehearse web <version> staging`/);

      // The shape `shipgate rehearse` records (features/rollouts/rehearse.ts).
      const report = (msToVerified: number) => ({ ok: true, msToDeploy: 4000, msToServe: 9000, msToTraffic: 2000, msToVerified, problems: [], deploySmoke: [], rollbackSmoke: [] });
      await app.rollouts.recordRehearsal(as('carol'), 'web', '1.4.1', 'staging', report(432_000));
      let d = await stateAfterRefresh(app, id);
      assert.equal(d.state, 'awaiting_approval');
      const slow = check(d.checks, 'rollback-rehearsal');
      assert.equal(slow.figure, '7m12s');
      assert.match(slow.reason, /^rollback took 7m12s in the rehearsal of 1\.4\.1 on 2026-11-24 in staging; SLO 5m/);

      clock.now = new Date('2026-11-24T09:10:00Z');
      await app.rollouts.recordRehearsal(as('carol'), 'web', '1.4.1', 'dev', report(20_000));
      assert.equal((await stateAfterRefresh(app, id)).state, 'awaiting_approval', 'a rehearsal elsewhere does not count');

      clock.now = new Date('2026-11-24T09:20:00Z');
      await app.rollouts.recordRehearsal(as('carol'), 'web', '1.4.2', 'staging', report(95_000));
      d = await stateAfterRefresh(app, id);
      assert.equal(d.state, 'approved', JSON.stringify(d.checks));
      assert.match(check(d.checks, 'rollback-rehearsal').reason, /rollback took 1m35s in the rehearsal of 1\.4\.2 on 2026-11-24 in staging/);

      clock.now = new Date('2026-12-03T09:00:00Z');
      const later = await app.deployments.check(as('carol'), { service: 'web', version: '1.4.2', environment: 'production' });
      const old = check(later.checks, 'rollback-rehearsal');
      assert.equal(old.status, 'fail');
      assert.match(old.reason, /is 8 days old .*within 7d/);
    });

    test('parity: critical drift from staging blocks, naming the settings and never a secret; removing it passes', async () => {
      const suffix = `${kind.toUpperCase()}_${process.pid}`;
      process.env[`STAGING_KEY_${suffix}`] = 'staging-secret-value-1';
      process.env[`PROD_KEY_${suffix}`] = 'production-secret-value-2';
      const config = testConfig({ ...bare, parity: { against: 'staging', allow: ['DB_URL'], critical: ['FEATURE_*', 'API_KEY'] } });
      const [, staging, production] = config.environments;
      staging.settings = { FEATURE_CHECKOUT: { value: 'on' }, DB_URL: { value: 'postgres://staging' }, API_KEY: { secretEnv: `STAGING_KEY_${suffix}` }, LOG_LEVEL: { value: 'debug' } };
      production.settings = { FEATURE_CHECKOUT: { value: 'off' }, DB_URL: { value: 'postgres://production' }, API_KEY: { secretEnv: `PROD_KEY_${suffix}` }, LOG_LEVEL: { value: 'info' } };
      const app = await shipgateOn(kind, config, () => new Date('2026-11-24T09:00:00Z'));
      const { view, gate } = await app.deployments.request(as('carol'), { service: 'web', version: '1.4.2', environment: 'production' });
      assert.equal(view.deployment.state, 'awaiting_approval');
      const c = check(gate.checks, 'parity');
      assert.equal(c.status, 'fail');
      assert.match(c.reason, /API_KEY: differs \(secret; values not shown\); FEATURE_CHECKOUT: differs \(staging "on", production "off"\)/);
      assert.doesNotMatch(c.reason, /DB_URL|LOG_LEVEL/, 'allowed and non-critical drift do not block');

      // No secret, nor its hash, anywhere a person or the audit log could see.
      const secrets = ['staging-secret-value-1', 'production-secret-value-2'];
      const hashes = secrets.map((s) => createHash('sha256').update(s).digest('hex'));
      const audit = JSON.stringify(await app.store.audit.read({ limit: 1000 }));
      const seen = JSON.stringify({ view, gate, audit });
      for (const s of [...secrets, ...hashes, ...hashes.map((h) => h.slice(0, 16))]) assert.ok(!seen.includes(s), `${s.slice(0, 10)}… leaked`);

      production.settings.FEATURE_CHECKOUT = { value: 'on' };
      process.env[`PROD_KEY_${suffix}`] = 'staging-secret-value-1';
      const d = await stateAfterRefresh(app, view.deployment.id);
      assert.equal(d.state, 'approved', JSON.stringify(d.checks));
      assert.equal(check(d.checks, 'parity').status, 'warn', 'LOG_LEVEL still drifts: reported, not blocking');
      assert.match(check(d.checks, 'parity').reason, /LOG_LEVEL: differs \(staging "debug", production "info"\)/);
    });
  });
}

// ---- security posture against real HTTPS servers ----------------------------------------------

interface Site {
  url: string;
  headers: Record<string, string>;
  close(): Promise<void>;
}

async function httpsSite(cert: string, key: string, headers: Record<string, string> = {}): Promise<Site> {
  const site = { headers } as Site;
  const server = https.createServer({ cert: fs.readFileSync(cert), key: fs.readFileSync(key) }, (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain', ...site.headers });
    res.end('ok');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  site.url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/health`;
  site.close = () => new Promise<void>((r) => server.close(() => r()));
  return site;
}

/** A certificate for 127.0.0.1 that expires in `days` days, made by openssl. */
function shortLivedCert(dir: string, days: number): { cert: string; key: string } {
  const cert = path.join(dir, 'short.pem');
  const key = path.join(dir, 'short.key');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert, '-days', String(days), '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
  return { cert, key };
}

const GOOD_HEADERS = { 'strict-transport-security': 'max-age=31536000; includeSubDomains', 'content-security-policy': "default-src 'self'", 'x-frame-options': 'DENY' };

describe('security posture on a real HTTPS address', () => {
  const sites: Site[] = [];
  after(async () => {
    for (const s of sites) await s.close();
  });
  const security = (url: string, over: Partial<NonNullable<Policy['security']>> = {}): Partial<Policy> => ({
    ...bare,
    security: { urls: { web: url }, minCertDays: 14, require: ['hsts', 'csp', 'x_frame_options'], hstsMinMaxAgeSeconds: 15_552_000, timeoutMs: 3000, ca: FIXTURE_CERT, ...over },
  });

  test('missing headers block with each one named; added headers pass at the next refresh', async () => {
    const site = await httpsSite(FIXTURE_CERT, FIXTURE_KEY);
    sites.push(site);
    const app = await shipgateOn('sqlite', testConfig(security(site.url)), () => new Date());
    const { view, gate } = await app.deployments.request(as('carol'), { service: 'web', version: '1.4.2', environment: 'production' });
    assert.equal(view.deployment.state, 'awaiting_approval');
    const cert = check(gate.checks, 'certificate');
    assert.equal(cert.status, 'pass', cert.reason);
    assert.ok(Number(cert.figure) > 36_000, `days left: ${cert.figure}`);
    assert.match(cert.reason, /expires 2126-10-30/);
    const headers = check(gate.checks, 'security-headers');
    assert.equal(headers.status, 'fail');
    assert.equal(headers.figure, '0/3');
    assert.match(headers.reason, /HTTP 200\): Strict-Transport-Security missing; Content-Security-Policy missing; X-Frame-Options missing \(or CSP frame-ancestors\)/);

    site.headers = { ...GOOD_HEADERS, 'strict-transport-security': 'max-age=600' };
    let d = await stateAfterRefresh(app, view.deployment.id);
    assert.equal(d.state, 'awaiting_approval');
    assert.match(check(d.checks, 'security-headers').reason, /Strict-Transport-Security max-age 600 < 15552000/);

    site.headers = GOOD_HEADERS;
    d = await stateAfterRefresh(app, view.deployment.id);
    assert.equal(d.state, 'approved', JSON.stringify(d.checks));
    assert.equal(check(d.checks, 'security-headers').figure, '3/3');
  });

  test('an untrusted certificate fails unless its CA is configured', async () => {
    const site = await httpsSite(FIXTURE_CERT, FIXTURE_KEY, GOOD_HEADERS);
    sites.push(site);
    const app = await shipgateOn('sqlite', testConfig(security(site.url, { ca: null })), () => new Date());
    const gate = await app.deployments.check(as('carol'), { service: 'web', version: '1.4.2', environment: 'production' });
    const c = check(gate.checks, 'certificate');
    assert.equal(c.status, 'fail');
    assert.match(c.reason, /is not trusted \(DEPTH_ZERO_SELF_SIGNED_CERT\) by the system's CAs \(set security\.ca for a private CA\)/);
    assert.equal(gate.outcome, 'blocked');
  });

  test('a certificate expiring within min_cert_days fails with its expiry date and days left', async () => {
    const { cert, key } = shortLivedCert(tempDir('shipgate-tls-'), 3);
    const site = await httpsSite(cert, key, GOOD_HEADERS);
    sites.push(site);
    const app = await shipgateOn('sqlite', testConfig(security(site.url, { ca: cert })), () => new Date());
    const gate = await app.deployments.check(as('carol'), { service: 'web', version: '1.4.2', environment: 'production' });
    const c = check(gate.checks, 'certificate');
    assert.equal(c.status, 'fail', c.reason);
    assert.equal(c.figure, 2);
    const expiry = new Date(execFileSync('openssl', ['x509', '-in', cert, '-noout', '-enddate']).toString().trim().replace('notAfter=', '')).toISOString().slice(0, 10);
    assert.match(c.reason, new RegExp(`expires ${expiry}, 2 days left; the policy wants ≥ 14: renew it`));
    assert.equal(check(gate.checks, 'security-headers').status, 'pass');
  });

  test('an unreachable address is pending with the error, never a pass', async () => {
    const site = await httpsSite(FIXTURE_CERT, FIXTURE_KEY);
    await site.close();
    const app = await shipgateOn('sqlite', testConfig(security(site.url)), () => new Date());
    const gate = await app.deployments.check(as('carol'), { service: 'web', version: '1.4.2', environment: 'production' });
    for (const id of ['certificate', 'security-headers']) {
      const c = check(gate.checks, id);
      assert.equal(c.status, 'pending');
      assert.match(c.reason, /could not reach https:\/\/127\.0\.0\.1:\d+\/health: connect ECONNREFUSED/);
    }
    assert.equal(gate.outcome, 'blocked');
  });

  test('an address that accepts the connection but never answers is pending once the timeout passes', async () => {
    const server = https.createServer({ cert: fs.readFileSync(FIXTURE_CERT), key: fs.readFileSync(FIXTURE_KEY) }, () => {
      // never answers
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    sites.push({ url: '', headers: {}, close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }) });
    const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    const app = await shipgateOn('sqlite', testConfig(security(url, { timeoutMs: 500 })), () => new Date());
    const gate = await app.deployments.check(as('carol'), { service: 'web', version: '1.4.2', environment: 'production' });
    const c = check(gate.checks, 'security-headers');
    assert.equal(c.status, 'pending');
    assert.match(c.reason, /could not reach https:\/\/127\.0\.0\.1:\d+\/: no answer within 500 ms/);
  });
});
