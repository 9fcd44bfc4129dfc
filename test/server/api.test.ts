// The HTTP API end to end: a real server on loopback, real requests, both stores.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { createShipgate, sqlStoreOn } from '../../src/main.js';
import { buildServer } from '../../src/server/app.js';
import type { Database } from '../../src/store/db.js';
import { testConfig } from '../support/config.js';
import { freshDatabase, STORE_KINDS } from '../support/databases.js';

const DIGEST = `sha256:${'c3'.repeat(32)}`;

for (const kind of STORE_KINDS) {
  describe(`HTTP API on ${kind}`, () => {
    let database: Database;
    let server: FastifyInstance;
    let base: string;
    const tokens: Record<string, string> = {};
    const statuses: number[] = [];
    const clock = { now: new Date('2026-11-24T09:00:00Z') };

    async function call(method: string, path: string, opts: { user?: string; body?: unknown; raw?: string; token?: string } = {}) {
      const headers: Record<string, string> = {};
      const token = opts.token ?? (opts.user ? tokens[opts.user] : undefined);
      if (token) headers.authorization = `Bearer ${token}`;
      if (opts.body !== undefined || opts.raw !== undefined) headers['content-type'] = 'application/json';
      const res = await fetch(`${base}${path}`, { method, headers, body: opts.raw ?? (opts.body !== undefined ? JSON.stringify(opts.body) : undefined) });
      statuses.push(res.status);
      const text = await res.text();
      let json: any = null;
      try {
        json = JSON.parse(text);
      } catch {
        json = text;
      }
      return { status: res.status, json };
    }

    before(async () => {
      database = await freshDatabase(kind);
      const app = createShipgate({ config: testConfig(), store: sqlStoreOn(database), now: () => clock.now });
      for (const u of ['alice', 'bob', 'carol', 'dana', 'erin', 'gina']) tokens[u] = (await app.access.createToken({ user: 'admin', via: 'local' }, u, 'test')).token;
      server = buildServer(app, { bodyLimit: 256 * 1024 });
      await server.listen({ host: '127.0.0.1', port: 0 });
      const addr = server.server.address() as { port: number };
      base = `http://127.0.0.1:${addr.port}`;
    });

    after(async () => {
      await server.close();
      await database.close();
    });

    test('health and the OpenAPI document need no token; everything else does', async () => {
      assert.equal((await call('GET', '/healthz')).status, 200);
      const doc = await call('GET', '/api/v1/openapi.json');
      assert.equal(doc.status, 200);
      assert.equal(doc.json.openapi, '3.1.0');
      assert.ok(doc.json.paths['/api/v1/deployments/{id}/approvals'].post.requestBody);
      const none = await call('GET', '/api/v1/status');
      assert.equal(none.status, 401);
      assert.match(none.json.error.message, /missing API token/);
      const bad = await call('GET', '/api/v1/status', { token: 'sg_not-a-real-token' });
      assert.equal(bad.status, 401);
      assert.doesNotMatch(JSON.stringify(bad.json), /sg_not-a-real-token/, 'the token is never echoed');
      const me = await call('GET', '/api/v1/whoami', { user: 'alice' });
      assert.deepEqual(me.json, { user: 'alice', roles: ['devops-lead'] });
    });

    test('bad input gets a clear 4xx and writes nothing', async () => {
      const malformed = await call('POST', '/api/v1/releases', { user: 'carol', raw: '{"service": "web",' });
      assert.equal(malformed.status, 400);
      assert.match(malformed.json.error.message, /malformed request/);
      const huge = await call('POST', '/api/v1/releases', { user: 'carol', body: { service: 'web', version: '1.0.0', digest: DIGEST, commit: 'abcdef1', reports: [{ name: 'big.json', content: 'x'.repeat(300 * 1024) }] } });
      assert.equal(huge.status, 413);
      assert.match(huge.json.error.message, /larger than the 262144 bytes allowed/);
      const unknown = await call('POST', '/api/v1/releases', { user: 'carol', body: { service: 'web', version: '1.0.0', digest: DIGEST, commit: 'abcdef1', sooak: 1 } });
      assert.equal(unknown.status, 400);
      assert.match(unknown.json.error.message, /unknown field\(s\): sooak/);
      const digest = await call('POST', '/api/v1/releases', { user: 'carol', body: { service: 'web', version: '1.0.0', digest: 'sha256:1234', commit: 'abcdef1' } });
      assert.equal(digest.status, 400);
      assert.match(digest.json.error.message, /digest must be sha256/);
      const svc = await call('POST', '/api/v1/releases', { user: 'carol', body: { service: 'payments', version: '1.0.0', digest: DIGEST, commit: 'abcdef1' } });
      assert.equal(svc.status, 404);
      assert.match(svc.json.error.message, /unknown service 'payments'/);
      assert.equal((await call('GET', '/api/v1/deployments/999', { user: 'carol' })).status, 404);
      const notId = await call('GET', '/api/v1/deployments/abc', { user: 'carol' });
      assert.equal(notId.status, 400);
      assert.match(notId.json.error.message, /deployment id must be a positive whole number/);
      const bigId = await call('GET', '/api/v1/deployments/999999999999', { user: 'carol' });
      assert.equal(bigId.status, 400);
      assert.match(bigId.json.error.message, /deployment id must be a positive whole number up to 2147483647/);
      const twice = await call('GET', '/api/v1/deployments?state=approved&state=failed', { user: 'carol' });
      assert.equal(twice.status, 400);
      assert.match(twice.json.error.message, /query parameter 'state' is given 2 times; give it once/);
      const badState = await call('GET', '/api/v1/deployments?state=approved,shipped', { user: 'carol' });
      assert.equal(badState.status, 400);
      assert.match(badState.json.error.message, /state must be a comma-separated list of: requested, checking/);
      const nul = await call('POST', '/api/v1/releases', { user: 'carol', body: { service: 'web', version: '1.0.0', digest: DIGEST, commit: 'abc\u0000def' } });
      assert.equal(nul.status, 400);
      assert.match(nul.json.error.message, /a NUL character is not allowed \(in body\.commit\)/);
      assert.equal((await call('GET', '/api/v1/releases/we%00b/1.0.0', { user: 'carol' })).status, 400);
      assert.equal((await call('GET', '/api/v1/releases', { user: 'carol' })).json.releases.length, 0);
    });

    test('the gate over HTTP: register, verify, request, racing approvals, audit', async () => {
      const reg = await call('POST', '/api/v1/releases', { user: 'carol', body: { service: 'web', version: '2.0.0', digest: DIGEST, commit: 'abcdef1' } });
      assert.equal(reg.status, 201);
      const again = await call('POST', '/api/v1/releases', { user: 'carol', body: { service: 'web', version: '2.0.0', digest: `sha256:${'d4'.repeat(32)}`, commit: 'abcdef1' } });
      assert.equal(again.status, 409);
      assert.equal((await call('POST', '/api/v1/releases/web/2.0.0/verifications', { user: 'carol', body: { environment: 'staging' } })).status, 201);
      clock.now = new Date(clock.now.getTime() + 61 * 60_000);

      const dry = await call('POST', '/api/v1/check', { user: 'carol', body: { service: 'web', version: '2.0.0', environment: 'production' } });
      assert.equal(dry.status, 200);
      assert.equal(dry.json.gate.outcome, 'blocked');
      assert.equal((await call('GET', '/api/v1/deployments', { user: 'carol' })).json.deployments.length, 0, 'a dry run writes nothing');

      // ten clients request the same deployment at once: one wins
      const requests = await Promise.all(
        Array.from({ length: 10 }, () => call('POST', '/api/v1/deployments', { user: 'carol', body: { service: 'web', version: '2.0.0', environment: 'production' } })),
      );
      assert.deepEqual(requests.map((r) => r.status).sort(), [201, 409, 409, 409, 409, 409, 409, 409, 409, 409]);
      const id = requests.find((r) => r.status === 201)!.json.deployment.id;

      const self = await call('POST', `/api/v1/deployments/${id}/approvals`, { user: 'carol', body: { decision: 'approve' } });
      assert.equal(self.status, 403);
      const noRole = await call('POST', `/api/v1/deployments/${id}/approvals`, { user: 'dana', body: { decision: 'approve' } });
      assert.equal(noRole.status, 403);
      assert.match(noRole.json.error.message, /dana holds no approver role here/);
      const noReason = await call('POST', `/api/v1/deployments/${id}/approvals`, { user: 'bob', body: { decision: 'reject' } });
      assert.equal(noReason.status, 400);

      // alice clicks approve eight times at once; bob approves at the same moment
      const clicks = await Promise.all([
        ...Array.from({ length: 8 }, () => call('POST', `/api/v1/deployments/${id}/approvals`, { user: 'alice', body: { decision: 'approve' } })),
        call('POST', `/api/v1/deployments/${id}/approvals`, { user: 'bob', body: { decision: 'approve', comment: 'ok' } }),
      ]);
      assert.equal(clicks.filter((r) => r.status === 201).length, 2);
      assert.equal(clicks.filter((r) => r.status === 409).length, 7);
      const d = await call('GET', `/api/v1/deployments/${id}`, { user: 'carol' });
      assert.equal(d.json.deployment.state, 'approved');
      assert.deepEqual(d.json.approvals.map((a: any) => [a.user, a.authMethod]).sort(), [['alice', 'token'], ['bob', 'token']]);

      // gina, a developer who did not request it, may neither start nor complete it
      const notHers = await call('POST', `/api/v1/deployments/${id}/start`, { user: 'gina', body: {} });
      assert.equal(notHers.status, 403);
      assert.match(notHers.json.error.message, /gina may not start deployment/);
      assert.equal((await call('POST', `/api/v1/deployments/${id}/complete`, { user: 'gina', body: { outcome: 'failed', reason: 'x' } })).status, 403);
      assert.equal((await call('POST', `/api/v1/deployments/${id}/cancel`, { user: 'gina', body: { reason: 'x' } })).status, 403);
      assert.equal((await call('GET', `/api/v1/deployments/${id}`, { user: 'gina' })).json.deployment.state, 'approved');

      const late = await call('POST', `/api/v1/deployments/${id}/cancel`, { user: 'carol', body: {} });
      assert.equal(late.status, 400);
      const status = await call('GET', '/api/v1/status', { user: 'carol' });
      const cell = status.json.status.find((c: any) => c.service === 'web' && c.environment === 'production');
      assert.equal(cell.open.state, 'approved');

      const verify = await call('GET', '/api/v1/audit/verify', { user: 'carol' });
      assert.equal(verify.json.result.ok, true);
      const exp = await fetch(`${base}/api/v1/audit/export`, { headers: { authorization: `Bearer ${tokens.carol}` } });
      const lines = (await exp.text()).trim().split('\n').map((l) => JSON.parse(l));
      assert.equal(lines.length, verify.json.result.events);
      assert.ok(lines.some((e) => e.action === 'approval.approved' && e.actor === 'bob'));
      const approvalsInLog = lines.filter((e) => e.action === 'approval.approved' && e.subject === `deployment:${id}`);
      assert.equal(approvalsInLog.length, 2, 'each approval audited once');
    });

    test('no request ever got a 5xx', () => {
      assert.deepEqual(statuses.filter((s) => s >= 500), []);
    });
  });
}
