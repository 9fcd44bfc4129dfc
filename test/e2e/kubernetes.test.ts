// shipgate itself — `shipgate serve` as a child process, driven over its HTTP API the way the
// example CI workflow drives it — rolling releases out with `driver: kubernetes` against a mock
// Kubernetes API server (test/support/fake-kube.ts, in this process; no cluster runs here)
// through a kubeconfig file, replica-ratio mode over 10 replicas: the gate and an approval, then
// 10% → 50% → 100%, promotion and finalization, the image pinned by digest; and a release whose
// image never becomes ready, rolled back by shipgate with stable untouched.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { tempDir } from '../support/databases.js';
import { type FakeKube, type RecordedRequest, startFakeKube } from '../support/fake-kube.js';
import { type Served, startServe, until } from '../support/serve.js';

const REPO = 'registry.example.com/web';
const digest = (tail: string) => `sha256:${tail.padStart(64, '0')}`;
const TOKENS = { carol: 'carol-e2e-token-1f3b', ann: 'ann-e2e-token-9d2c' };
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
type Obj = Record<string, any>;

describe('shipgate serve rolls out with driver: kubernetes (mock Kubernetes API server, kubeconfig file)', () => {
  const dir = tempDir('shipgate-e2e-k8s-');
  let fake: FakeKube;
  let served: Served | null = null;

  async function api(user: keyof typeof TOKENS, method: string, url: string, body?: unknown): Promise<{ status: number; body: Obj }> {
    const res = await fetch(`${served!.url}${url}`, {
      method,
      headers: { authorization: `Bearer ${TOKENS[user]}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    return { status: res.status, body: (await res.json()) as Obj };
  }

  const FINAL = new Set(['succeeded', 'rolled_back', 'rollback_failed', 'failed', 'rejected', 'cancelled', 'expired']);

  /** Registers a release, requests it in production, has ann approve it, and waits for the
   * server's controller to end its rollout. */
  async function ship(version: string, releaseDigest: string) {
    const reg = await api('carol', 'POST', '/api/v1/releases', { service: 'web', version, digest: releaseDigest, commit: 'c0ffee1' });
    assert.equal(reg.status, 201, JSON.stringify(reg.body));
    const requested = await api('carol', 'POST', '/api/v1/deployments', { service: 'web', version, environment: 'production', digest: releaseDigest });
    assert.equal(requested.status, 201, JSON.stringify(requested.body));
    assert.equal(requested.body.deployment.state, 'awaiting_approval', 'the gate waits for a lead');
    const id = requested.body.deployment.id as number;
    const from = fake.requests.length;
    const approved = await api('ann', 'POST', `/api/v1/deployments/${id}/approvals`, { decision: 'approve' });
    assert.equal(approved.status, 201, JSON.stringify(approved.body));
    const d = await until(
      `deployment ${id} of ${version} to end`,
      async () => {
        const { body } = await api('carol', 'GET', `/api/v1/deployments/${id}`);
        return FINAL.has(body.deployment.state) ? body.deployment : null;
      },
      45_000,
    );
    return { id, d: d as Obj, requests: fake.requests.slice(from) };
  }

  /** Replica counts the rollout asked for, in order: "canary 1", "stable 9", ... */
  const scalings = (requests: RecordedRequest[]) =>
    requests
      .filter((r) => r.method === 'PATCH' && typeof (r.body as Obj)?.spec?.replicas === 'number' && /\/namespaces\/web\/deployments\/web(-canary)?$/.test(r.path))
      .map((r) => `${r.path.endsWith('-canary') ? 'canary' : 'stable'} ${(r.body as Obj).spec.replicas}`);
  const deployment = (name: string) => fake.get('deployments', 'web', name) as Obj;

  before(async () => {
    fake = await startFakeKube({ token: 'e2e-kube-token-7c1d', namespaces: ['web'] });
    fake.kubeconfig(path.join(dir, 'kubeconfig'));
    fake.seed({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web', namespace: 'web', labels: { app: 'web' } },
      spec: {
        replicas: 10,
        selector: { matchLabels: { app: 'web', track: 'stable' } },
        template: { metadata: { labels: { app: 'web', track: 'stable' } }, spec: { containers: [{ name: 'web', image: `${REPO}@${digest('0')}` }] } },
      },
    });
    fake.seed({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'web' }, spec: { selector: { app: 'web' }, ports: [{ port: 80, targetPort: 8080 }] } });
    fs.writeFileSync(
      path.join(dir, 'shipgate.yaml'),
      `version: 1
roles: [dev, lead]
users:
  - { name: carol, roles: [dev], tokens: [{ label: e2e, sha256: ${sha256(TOKENS.carol)} }] }
  - { name: ann, roles: [lead], tokens: [{ label: e2e, sha256: ${sha256(TOKENS.ann)} }] }
services:
  - name: web
environments:
  - name: production
    policy:
      require_verified_in: null
      rollback_target: warn
      approvals:
        required: [{ role: lead, count: 1 }]
    rollout:
      driver: kubernetes
      kubernetes:
        traffic: replicas
        kubeconfig: kubeconfig
        namespace: web
        timeout: 4s
      steps: [10, 50, 100]
      min_step: 1s
      max_step: 60s
      post_deploy: [0s]
`,
    );
    served = await startServe(dir, { ...process.env, SHIPGATE_DATABASE_URL: '', KUBECONFIG: '' }, ['--reconcile-every', '1']);
    // The first release here has nothing to compare with: it goes to 100% at once.
    const first = await ship('1.0.0', digest('1'));
    assert.equal(first.d.state, 'succeeded', JSON.stringify(first.d.reason));
    assert.equal(deployment('web').spec.template.spec.containers[0].image, `${REPO}@${digest('1')}`);
  });

  after(async () => {
    await served?.stop();
    await fake.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('a release goes gate → 10% → 50% → 100% on the cluster and becomes the stable Deployment, by digest', async () => {
    const { d, requests } = await ship('2.0.0', digest('2'));
    assert.equal(d.state, 'succeeded', d.reason);
    assert.deepEqual(
      d.rollout.steps.map((s: { weight: number }) => s.weight),
      [10, 50, 100],
    );
    assert.deepEqual(scalings(requests), ['canary 1', 'stable 9', 'canary 5', 'stable 5', 'canary 10', 'stable 0', 'stable 10', 'canary 0'], 'replica ratio over 10 replicas, then promotion and finalization');

    const stable = deployment('web');
    assert.equal(stable.spec.template.spec.containers[0].image, `${REPO}@${digest('2')}`);
    assert.equal(stable.metadata.annotations['shipgate.dev/version'], '2.0.0');
    assert.deepEqual([stable.spec.replicas, stable.status.readyReplicas], [10, 10]);
    assert.equal(deployment('web-canary').spec.replicas, 0);

    // What kubectl shows an operator.
    const image = await new Promise<string>((resolve) => {
      const child = spawn('kubectl', ['--kubeconfig', path.join(dir, 'kubeconfig'), '--cache-dir', path.join(dir, 'kubectl-cache'), '-n', 'web', 'get', 'deployment', 'web', '-o', 'jsonpath={.spec.template.spec.containers[0].image}']);
      let out = '';
      child.stdout.on('data', (b: Buffer) => (out += b.toString()));
      child.on('close', () => resolve(out));
    });
    assert.equal(image, `${REPO}@${digest('2')}`);
  });

  test('a release whose pods never become ready is rolled back at 10%: no canary left, stable untouched at 10 replicas', async () => {
    // The mock's controller never readies an image with "bad" in it: here, in its digest.
    const { d, requests } = await ship('3.0.0', digest('bad3'));
    assert.equal(d.state, 'rolled_back');
    assert.equal(d.rollout.rollback.trigger, 'driver');
    assert.match(d.reason, /set-weight: deployment web-canary \(namespace web, image registry\.example\.com\/web@sha256:0+bad3\) not ready after 4 s: 0 of 1 updated replicas ready/);
    assert.equal(d.rollout.rollback.ok, true, d.rollout.rollback.detail);
    assert.deepEqual(scalings(requests), ['canary 1', 'canary 0'], 'stable was never scaled down for a canary that was not ready');

    const stable = deployment('web');
    assert.equal(stable.spec.template.spec.containers[0].image, `${REPO}@${digest('2')}`, 'stable still runs 2.0.0');
    assert.equal(stable.spec.replicas, 10);
    const canary = deployment('web-canary');
    assert.equal(canary.spec.replicas, 0);
    assert.equal(canary.metadata.annotations['shipgate.dev/version'], undefined, 'the canary Deployment holds no release now');

    const status = await api('carol', 'GET', '/api/v1/status');
    assert.equal(status.body.status.find((c: { environment: string }) => c.environment === 'production').current.version, '2.0.0');
    assert.ok(!served!.stderr().includes('e2e-kube-token-7c1d'), "the kubeconfig's token is never logged");
  });
});
