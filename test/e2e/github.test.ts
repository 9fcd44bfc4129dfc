// shipgate as a GitHub deployment protection rule, end to end: a real `shipgate serve` child
// process on SQLite, a MOCK of GitHub's API on loopback (GitHub cannot be reached from here),
// webhooks signed as GitHub signs them, approvals through shipgate's HTTP API. What a user sees:
// the job's protection rule turns into a shipgate deployment requested by `github`; once two
// people approve, GitHub is told `approved` (once); a rejection reaches GitHub as `rejected`
// with its reason even when GitHub's first answer to the callback is a 503.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { cliIn } from '../support/cli.js';
import { tempDir } from '../support/databases.js';
import { callApi, type Served, startServe, until } from '../support/serve.js';
import { type Callback, type MockGithub, protectionWebhook, STATIC_TOKEN, startMockGithub, webhookHeaders } from '../features/github/fake-github.js';

const SECRET = 'e2e-webhook-secret';
const SHA = '3f4c2a9d1b7e8f6a5c4d3e2f1a0b9c8d7e6f5a4b';

describe('shipgate serve as a GitHub deployment protection rule (against a mock of GitHub)', () => {
  const dir = tempDir('shipgate-github-');
  const env = { ...process.env, SHIPGATE_USER: 'carol', SHIPGATE_DATABASE_URL: '', SHIPGATE_GITHUB_WEBHOOK_SECRET: SECRET, SHIPGATE_GITHUB_TOKEN: STATIC_TOKEN };
  const { json } = cliIn(dir, () => env);
  let github: MockGithub;
  let served: Served | null = null;
  const tokens: Record<string, string> = {};

  const api = (user: string, method: string, url: string, body?: unknown) => callApi(served!, tokens[user], method, url, body);
  const webhook = (body: unknown, delivery: string, secret = SECRET) => {
    const raw = JSON.stringify(body);
    return fetch(`${served!.url}/api/v1/github/deployment-protection`, { method: 'POST', headers: webhookHeaders(secret, raw, delivery), body: raw });
  };

  before(async () => {
    github = await startMockGithub();
    fs.writeFileSync(
      path.join(dir, 'shipgate.yaml'),
      `version: 1
roles: [developer, devops-lead, tech-lead]
users:
  - { name: carol, roles: [developer] }
  - { name: alice, roles: [devops-lead] }
  - { name: bob, roles: [tech-lead] }
  - { name: github }
services: [{ name: web }]
environments:
  - name: production
    policy:
      require_verified_in: null
      rollback_target: warn
      approvals: { required: [{ role: devops-lead }, { role: tech-lead }] }
github:
  api_url: ${github.url}
  token_env: SHIPGATE_GITHUB_TOKEN
  poll_every: 1s
  repositories:
    - repository: acme/web
      service: web
      environments: { production: production }
`,
    );
    for (const u of ['carol', 'alice', 'bob']) tokens[u] = (await json(['token', 'create', u])).token;
    served = await startServe(dir, env);
  });
  after(async () => {
    await served?.stop();
    await github.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('a forged webhook is 401; a real one is one deployment requested by github, approved by two people → GitHub approved once', async () => {
    await api('carol', 'POST', '/api/v1/releases', { service: 'web', version: '1.4.2', digest: `sha256:${'ab'.repeat(32)}`, commit: SHA });
    const body = protectionWebhook(github);
    const forged = await webhook(body, 'e2e-0', 'guessed');
    assert.equal(forged.status, 401);
    assert.equal((await api('carol', 'GET', '/api/v1/deployments')).deployments?.length ?? 0, 0);

    const first = await webhook(body, 'e2e-1');
    assert.equal(first.status, 202, await first.clone().text());
    const { deploymentId: id } = await first.json();
    const again = await webhook(body, 'e2e-1');
    assert.equal((await again.json()).deploymentId, id);
    const d = (await api('carol', 'GET', `/api/v1/deployments/${id}`)).deployment;
    assert.equal(d.requestedBy, 'github');
    assert.equal(d.state, 'awaiting_approval');

    await api('alice', 'POST', `/api/v1/deployments/${id}/approvals`, { decision: 'approve', comment: 'looks good' });
    await api('bob', 'POST', `/api/v1/deployments/${id}/approvals`, { decision: 'approve' });
    const cb = await until('GitHub to hear approved', async () => github.callbacks[0], 20_000, 100);
    assert.equal(cb.authorization, `Bearer ${STATIC_TOKEN}`);
    assert.deepEqual({ env: cb.body.environment_name, state: cb.body.state }, { env: 'production', state: 'approved' });
    // The job deployed elsewhere: shipgate records it, the service is free again. (The runs of
    // the next tests pass many more rounds; the last test checks this run was answered once.)
    await api('alice', 'POST', `/api/v1/deployments/${id}/start`);
    await api('alice', 'POST', `/api/v1/deployments/${id}/complete`, { outcome: 'succeeded' });
  });

  test('a rejection reaches GitHub as rejected with the reason, after GitHub answered the first try 503', async () => {
    await api('carol', 'POST', '/api/v1/releases', { service: 'web', version: '1.4.3', digest: `sha256:${'cd'.repeat(32)}`, commit: 'b'.repeat(40) });
    github.failNext(1);
    const before = github.callbacks.length;
    const r = await webhook(protectionWebhook(github, { sha: 'b'.repeat(40), run: 77 }), 'e2e-2');
    assert.equal(r.status, 202, await r.clone().text());
    const { deploymentId: id } = await r.json();
    await api('bob', 'POST', `/api/v1/deployments/${id}/approvals`, { decision: 'reject', comment: 'migration not reviewed' });
    const cb = await until('GitHub to hear rejected', async () => github.callbacks[before], 20_000, 100);
    assert.equal(cb.path, '/repos/acme/web/actions/runs/77/deployment_protection_rule');
    assert.equal(cb.body.state, 'rejected');
    assert.match(cb.body.comment!, /rejected: .*migration not reviewed/);
    assert.equal(github.attempts.filter((a) => a.path === cb.path).length, 2, 'one 503, then delivered');
  });

  test('an unknown repository is 404 naming it, and GitHub is answered rejected', async () => {
    const r = await webhook(protectionWebhook(github, { repository: 'acme/billing', run: 88 }), 'e2e-3');
    assert.equal(r.status, 404);
    assert.match((await r.json()).error.message, /no service for GitHub repository acme\/billing/);
    const cb = await until<Callback | undefined>('GitHub to hear rejected', async () => github.callbacks.find((c) => c.path.includes('/runs/88/')), 20_000, 100);
    assert.equal(cb!.body.state, 'rejected');
    assert.equal(github.attempts.filter((a) => a.path.includes('/runs/8120034512/')).length, 1, 'the approved run was answered once, however many rounds passed');
    assert.ok(served!.running());
  });
});
