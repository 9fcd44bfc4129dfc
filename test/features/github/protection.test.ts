// shipgate as a GitHub deployment protection rule, in this process: webhooks sent to the server
// (fastify inject), answers sent by rounds of the answer loop to a MOCK of GitHub's API on
// loopback, with a fixed clock. What a user would notice: a forged webhook creates nothing, a
// real one creates one deployment however often GitHub redelivers it, GitHub hears `approved`
// once two people approved, `rejected` with the reason otherwise, and a GitHub outage delays
// the answer without losing it.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import type { ShipgateConfig } from '../../../src/config/load.js';
import type { Actor } from '../../../src/features/access/actor.js';
import { GithubAnswers } from '../../../src/features/github/answers.js';
import { GithubClient } from '../../../src/features/github/client.js';
import { type GithubConfig, githubSettings } from '../../../src/features/github/config.js';
import { GITHUB_WEBHOOK_PATH } from '../../../src/features/github/routes.js';
import { createShipgate, inMemoryStore, type Shipgate } from '../../../src/main.js';
import { buildServer } from '../../../src/server/app.js';
import type { MemoryTables } from '../../../src/store/memory.js';
import { testConfig } from '../../support/config.js';
import { APP_ID, type MockGithub, protectionWebhook, STATIC_TOKEN, startMockGithub, webhookHeaders } from './fake-github.js';

const SECRET = 'whsec-test-0123456789';
const SECRET_ENV = 'SHIPGATE_TEST_GITHUB_SECRET';
const TOKEN_ENV = 'SHIPGATE_TEST_GITHUB_TOKEN';
const KEY_ENV = 'SHIPGATE_TEST_GITHUB_APP_KEY';
const SHA = '3f4c2a9d1b7e8f6a5c4d3e2f1a0b9c8d7e6f5a4b';
const as = (user: string): Actor => ({ user, via: 'token' });
const quiet = { info() {}, warn() {} };

describe('GitHub deployment protection rule (against a mock of GitHub)', () => {
  let github: MockGithub;
  let sg: Shipgate;
  let tables: MemoryTables;
  let clock: { now: Date };
  let server: ReturnType<typeof buildServer>;
  let answers: GithubAnswers;
  let delivery = 0;

  before(async () => {
    // GitHub judges the App's JWT by the same clock as shipgate's here, the test's own.
    github = await startMockGithub({ now: () => clock.now.getTime() });
    process.env[SECRET_ENV] = SECRET;
    process.env[TOKEN_ENV] = STATIC_TOKEN;
    process.env[KEY_ENV] = github.privateKeyPem;
  });
  after(async () => {
    await github.close();
    delete process.env[SECRET_ENV];
    delete process.env[TOKEN_ENV];
    delete process.env[KEY_ENV];
  });

  async function setup(mode: 'token' | 'app' = 'token') {
    const gh: GithubConfig = {
      webhookSecretEnv: SECRET_ENV,
      apiUrl: github.url,
      user: 'github',
      ...(mode === 'token' ? { tokenEnv: TOKEN_ENV } : { app: { id: APP_ID, privateKeyEnv: KEY_ENV } }),
      pollEveryMs: 50,
      repositories: [{ repository: 'acme/web', service: 'web', environments: { production: 'production', stage: 'staging' }, approveWhen: 'approved' }],
    };
    const base = testConfig({ soakMinutes: 0, requireVerifiedIn: null });
    const config: ShipgateConfig = { ...base, github: gh, users: [...base.users, { name: 'github', roles: [] }] };
    tables = {};
    clock = { now: new Date('2026-11-24T10:00:00Z') };
    sg = createShipgate({ config, store: inMemoryStore(tables), now: () => clock.now });
    server = buildServer(sg);
    const settings = githubSettings(gh);
    answers = new GithubAnswers(sg, settings, new GithubClient(settings, process.env, sg.now), quiet);
    github.callbacks.length = 0;
    github.attempts.length = 0;
    await sg.releases.register(as('carol'), { service: 'web', version: '1.4.2', digest: `sha256:${'ab'.repeat(32)}`, commit: SHA });
  }
  beforeEach(() => setup());

  function send(body: unknown, o: { delivery?: string; secret?: string; event?: string; raw?: string } = {}) {
    const raw = o.raw ?? JSON.stringify(body);
    const id = o.delivery ?? `delivery-${++delivery}`;
    return server.inject({ method: 'POST', url: GITHUB_WEBHOOK_PATH, headers: webhookHeaders(o.secret ?? SECRET, raw, id, o.event), payload: raw });
  }
  const deployments = () => sg.store.deployments.list({});
  const runs = () => (tables.github_protection_runs as unknown[] | undefined)?.length ?? 0;

  test('a webhook with a bad or missing signature is 401 and creates nothing', async () => {
    const bad = await send(protectionWebhook(github), { secret: 'not-the-secret' });
    assert.equal(bad.statusCode, 401);
    assert.match(bad.json().error.message, /X-Hub-Signature-256 does not match/);
    const raw = JSON.stringify(protectionWebhook(github));
    const unsigned = await server.inject({ method: 'POST', url: GITHUB_WEBHOOK_PATH, headers: { 'content-type': 'application/json', 'x-github-event': 'deployment_protection_rule', 'x-github-delivery': 'x' }, payload: raw });
    assert.equal(unsigned.statusCode, 401);
    // Signed, then changed by one byte on the way.
    const tampered = await server.inject({ method: 'POST', url: GITHUB_WEBHOOK_PATH, headers: webhookHeaders(SECRET, raw, 'y'), payload: raw.replace('acme/web', 'acme/wed') });
    assert.equal(tampered.statusCode, 401);
    assert.equal((await deployments()).length, 0);
    assert.equal(runs(), 0);
  });

  test('malformed JSON, correctly signed, is 400; a ping is 200; other events are ignored', async () => {
    const r = await send(null, { raw: '{"action": "requested",' });
    assert.equal(r.statusCode, 400);
    assert.match(r.json().error.message, /not JSON/);
    const missing = await send({ action: 'requested', environment: 'production' });
    assert.equal(missing.statusCode, 400);
    assert.match(missing.json().error.message, /deployment_callback_url/);
    assert.equal((await send({ zen: 'Keep it logically awesome.' }, { event: 'ping' })).statusCode, 200);
    assert.equal((await send({ action: 'created' }, { event: 'deployment' })).statusCode, 202);
    assert.equal((await deployments()).length, 0);
  });

  test('a good webhook requests the deployment as the configured user, once however often GitHub redelivers it', async () => {
    const body = protectionWebhook(github);
    const first = await send(body, { delivery: 'd-1' });
    assert.equal(first.statusCode, 202, first.body);
    const id = first.json().deploymentId;
    const [d] = await deployments();
    assert.equal(d.id, id);
    assert.equal(d.requestedBy, 'github');
    assert.equal(d.version, '1.4.2');
    assert.equal(d.environment, 'production');
    assert.equal(d.state, 'awaiting_approval');
    const again = await send(body, { delivery: 'd-1' });
    assert.equal(again.statusCode, 202);
    assert.equal(again.json().deploymentId, id);
    assert.equal(again.json().redelivered, true);
    // A re-run of the job (a new delivery) waits on the same open deployment.
    const rerun = await send(protectionWebhook(github, { run: 2 }), { delivery: 'd-2' });
    assert.equal(rerun.json().deploymentId, id);
    assert.equal((await deployments()).length, 1);
    assert.equal(runs(), 2);
    // Nothing is decided yet: GitHub hears nothing.
    assert.equal(await answers.round(), 0);
    assert.equal(github.attempts.length, 0);
  });

  test('two approvers through the API → GitHub gets approved once, authenticated as the installation', async () => {
    const id = (await send(protectionWebhook(github))).json().deploymentId;
    const tokens: Record<string, string> = {};
    for (const u of ['alice', 'bob', 'github']) tokens[u] = (await sg.access.createToken(as('alice'), u, 'test')).token;
    const approve = (user: string) =>
      server.inject({ method: 'POST', url: `/api/v1/deployments/${id}/approvals`, headers: { authorization: `Bearer ${tokens[user]}` }, payload: { decision: 'approve', comment: 'ok' } });
    // Four eyes: the GitHub user requested it, so it cannot approve it.
    assert.equal((await approve('github')).statusCode, 403);
    assert.equal((await approve('alice')).statusCode, 201);
    assert.equal(await answers.round(), 0, 'one approval of two is no answer yet');
    assert.equal((await approve('bob')).statusCode, 201);
    assert.equal(await answers.round(), 1);
    assert.equal(await answers.round(), 0);
    assert.equal(github.callbacks.length, 1);
    const [cb] = github.callbacks;
    assert.equal(cb.path, '/repos/acme/web/actions/runs/8120034512/deployment_protection_rule');
    assert.equal(cb.authorization, `Bearer ${STATIC_TOKEN}`);
    assert.equal(cb.body.environment_name, 'production');
    assert.equal(cb.body.state, 'approved');
    assert.match(cb.body.comment!, new RegExp(`shipgate deployment ${id} \\(web 1.4.2 to production\\) approved`));
  });

  test('a rejection → GitHub gets rejected with the reason', async () => {
    const id = (await send(protectionWebhook(github))).json().deploymentId;
    await sg.decisions.decide(as('bob'), id, { decision: 'reject', comment: 'no rollback plan for the schema change' });
    assert.equal(await answers.round(), 1);
    assert.equal(github.callbacks.length, 1);
    assert.equal(github.callbacks[0].body.state, 'rejected');
    assert.match(github.callbacks[0].body.comment!, /rejected: .*no rollback plan for the schema change/);
  });

  test('GitHub failing the first callback (503) → retried after a delay and delivered', async () => {
    const id = (await send(protectionWebhook(github))).json().deploymentId;
    await sg.deployments.cancel(as('github'), id, 'superseded by 1.4.3');
    github.failNext(1);
    assert.equal(await answers.round(), 0);
    assert.equal(github.attempts.length, 1);
    assert.equal(await answers.round(), 0, 'not again before the retry delay');
    assert.equal(github.attempts.length, 1);
    clock.now = new Date(clock.now.getTime() + 1000);
    assert.equal(await answers.round(), 1);
    assert.equal(github.attempts.length, 2);
    assert.equal(github.callbacks.length, 1);
    assert.equal(github.callbacks[0].body.state, 'rejected');
    assert.match(github.callbacks[0].body.comment!, /cancelled: superseded by 1.4.3/);
  });

  test('an unknown repository or environment is 404 naming it, and GitHub is answered rejected', async () => {
    const repo = await send(protectionWebhook(github, { repository: 'acme/unknown' }));
    assert.equal(repo.statusCode, 404);
    assert.match(repo.json().error.message, /no service for GitHub repository acme\/unknown; add it to github.repositories/);
    assert.equal(repo.json().error.details.answer, 'rejected');
    const env = await send(protectionWebhook(github, { environment: 'qa', run: 3 }));
    assert.equal(env.statusCode, 404);
    assert.match(env.json().error.message, /GitHub environment 'qa' of acme\/web maps to no shipgate environment/);
    assert.equal((await deployments()).length, 0);
    assert.equal(await answers.round(), 2);
    assert.deepEqual(github.callbacks.map((c) => c.body.state), ['rejected', 'rejected']);
    assert.match(github.callbacks[0].body.comment!, /acme\/unknown/);
  });

  test('an unknown release is 404 and rejected; a payload version picks the release', async () => {
    const none = await send(protectionWebhook(github, { sha: 'f'.repeat(40) }));
    assert.equal(none.statusCode, 404);
    assert.match(none.json().error.message, /no release of web built from commit f{40}/);
    await sg.releases.register(as('carol'), { service: 'web', version: '1.5.0', digest: `sha256:${'cd'.repeat(32)}`, commit: 'abcdef1' });
    const byVersion = await send(protectionWebhook(github, { sha: 'e'.repeat(40), payload: { shipgate: { version: '1.5.0' } }, run: 9 }));
    assert.equal(byVersion.statusCode, 202, byVersion.body);
    const d = await sg.store.deployments.find(byVersion.json().deploymentId);
    assert.equal(d?.version, '1.5.0');
  });

  test('a callback URL off the configured API is refused: the token goes nowhere else', async () => {
    const body = protectionWebhook(github);
    body.deployment_callback_url = 'https://attacker.example/repos/acme/web/actions/runs/1/deployment_protection_rule';
    const r = await send(body);
    assert.equal(r.statusCode, 400);
    assert.match(r.json().error.message, /is not on http:\/\/127\.0\.0\.1/);
    assert.equal(runs(), 0);
  });

  test('App mode: an installation token obtained with a JWT signed by the App key', async () => {
    await setup('app');
    const id = (await send(protectionWebhook(github))).json().deploymentId;
    await sg.decisions.decide(as('alice'), id, { decision: 'approve' });
    await sg.decisions.decide(as('bob'), id, { decision: 'approve' });
    assert.equal(await answers.round(), 1);
    assert.equal(github.issued.length, 1);
    assert.equal(github.callbacks[0].authorization, `Bearer ${github.issued[0]}`);
    assert.match(github.issued[0], /^ghs_installation41234567_/);
  });
});
