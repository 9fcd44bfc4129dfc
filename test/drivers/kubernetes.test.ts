// The kubernetes driver against a mock Kubernetes API server (test/support/fake-kube.ts; no
// cluster can run here), in its three traffic modes: what it creates and changes, the weights
// it gives, its waits and their timeouts, the API server's refusals as DriverErrors in the
// server's words, every action repeated as after a crash. Then kubectl 1.32 against the same
// mock: it reads what the driver wrote, its own scale / set image / patch / rollout status agree
// with the driver's requests, and it applies the example manifests, on which the driver then
// rolls a release out. Last, the example shipgate.yaml and CI workflow.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import YAML from 'yaml';
import { loadConfig, parseConfig } from '../../src/config/load.js';
import { DriverError, type RolloutContext } from '../../src/drivers/driver.js';
import { KubernetesDriver } from '../../src/drivers/kubernetes/driver.js';
import { kubernetesSettings } from '../../src/drivers/kubernetes/index.js';
import { canaryDeployment, type Deployment, replicaSplit, repositoryOf, rolloutProgress, weightedRules } from '../../src/drivers/kubernetes/objects.js';
import { ConfigError } from '../../src/errors.js';
import { tempDir } from '../support/databases.js';
import { type FakeKube, startFakeKube } from '../support/fake-kube.js';
import { ctx } from './subject.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const EXAMPLES = path.join(ROOT, 'examples/kubernetes');
const TOKEN = 'k8s-test-token-5f2a9c';
const REPO = 'registry.example.com/web';
const OLD_IMAGE = `${REPO}@sha256:${'0'.repeat(64)}`;
const digestOf = (c: RolloutContext) => c.digest;

type Mode = 'replicas' | 'gateway-api' | 'ingress-nginx';
type Obj = Record<string, any>;

let fake: FakeKube;
let dir: string;
let kubeconfig: string;
let namespaces = 0;

before(async () => {
  fake = await startFakeKube({ token: TOKEN });
  dir = tempDir('shipgate-k8s-');
  kubeconfig = fake.kubeconfig(path.join(dir, 'kubeconfig'));
});
after(async () => {
  await fake.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** A fresh namespace holding what a team applies before its first rollout, for this mode. */
function team(mode: Mode, opts: { replicas?: number; serviceSelector?: Record<string, string>; selector?: Obj } = {}): string {
  const ns = `team-${++namespaces}`;
  fake.createNamespace(ns);
  fake.seed({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', namespace: ns, labels: { app: 'web' } },
    spec: {
      replicas: opts.replicas ?? 10,
      selector: opts.selector ?? { matchLabels: { app: 'web', track: 'stable' } },
      template: {
        metadata: { labels: { app: 'web', track: 'stable' } },
        spec: { containers: [{ name: 'web', image: OLD_IMAGE, ports: [{ containerPort: 8080 }], readinessProbe: { httpGet: { path: '/ready', port: 8080 } } }] },
      },
    },
  });
  const selector = opts.serviceSelector ?? (mode === 'replicas' ? { app: 'web' } : { app: 'web', track: 'stable' });
  fake.seed({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: ns }, spec: { selector, ports: [{ name: 'http', port: 80, targetPort: 8080 }] } });
  if (mode === 'gateway-api') {
    fake.seed({
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'HTTPRoute',
      metadata: { name: 'web', namespace: ns },
      spec: { parentRefs: [{ name: 'public' }], hostnames: ['web.example.com'], rules: [{ matches: [{ path: { type: 'PathPrefix', value: '/' } }], backendRefs: [{ name: 'web', port: 80 }] }] },
    });
  }
  if (mode === 'ingress-nginx') {
    fake.seed({
      apiVersion: 'networking.k8s.io/v1',
      kind: 'Ingress',
      metadata: { name: 'web', namespace: ns, annotations: { 'nginx.ingress.kubernetes.io/proxy-body-size': '8m' } },
      spec: {
        ingressClassName: 'nginx',
        tls: [{ hosts: ['web.example.com'], secretName: 'web-tls' }],
        rules: [{ host: 'web.example.com', http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'web', port: { number: 80 } } } }] } }],
      },
    });
  }
  return ns;
}

function driverFor(ns: string, mode: Mode, section: Obj = {}): KubernetesDriver {
  return new KubernetesDriver({ ...kubernetesSettings({ traffic: mode, kubeconfig, namespace: ns, timeout: '15s', ...section }, dir), pollMs: 20 });
}

const deployment = (ns: string, name: string) => fake.get('deployments', ns, name) as Obj;
const image = (d: Obj) => d.spec.template.spec.containers[0].image as string;
const writes = (ns: string) => fake.writes(new RegExp(`/namespaces/${ns}/`));
const backendRefs = (ns: string) => (fake.get('httproutes', ns, 'web') as Obj).spec.rules[0].backendRefs.map((b: Obj) => `${b.name}:${b.weight}`);

async function rejects(p: Promise<unknown>, action: string, ...fragments: (string | RegExp)[]): Promise<DriverError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof DriverError, `expected a DriverError, got ${err}`);
    assert.ok(err.message.startsWith(`${action}: `), err.message);
    for (const f of fragments) assert.ok(typeof f === 'string' ? err.message.includes(f) : f.test(err.message), `${f} not in: ${err.message}`);
    return err;
  }
  assert.fail(`${action} should have failed`);
}

const v1 = ctx('web', '1.0.0', null);
const v2 = ctx('web', '2.0.0', '1.0.0');
const v3 = ctx('web', '3.0.0', '1.0.0');

/** A first release through every action, so that 1.0.0 is the stable version. */
async function firstRelease(d: KubernetesDriver): Promise<void> {
  await d.deploy(v1);
  await d.setWeight(v1, 100);
  await d.promote(v1);
  await d.finalize(v1);
}

describe('kubernetes driver (mock Kubernetes API server): replica ratio', () => {
  test('a release goes 10% → 50% → 100%, is promoted and finalized: replicas follow the weight, the image is the digest', async () => {
    const ns = team('replicas');
    const d = driverFor(ns, 'replicas');
    await firstRelease(d);
    assert.equal(image(deployment(ns, 'web')), `${REPO}@${digestOf(v1)}`);

    await d.deploy(v2);
    const canary = deployment(ns, 'web-canary');
    assert.equal(image(canary), `${REPO}@${digestOf(v2)}`, 'the canary runs the release pinned by digest');
    assert.equal(canary.spec.replicas, 0, 'deployed, taking no traffic: no canary pod yet');
    assert.deepEqual(canary.spec.selector.matchLabels, { app: 'web', track: 'canary' });
    assert.deepEqual(canary.spec.template.metadata.labels, { app: 'web', track: 'canary' });
    assert.deepEqual(canary.spec.template.spec.containers[0].readinessProbe, { httpGet: { path: '/ready', port: 8080 } }, "the stable's pod template, probes included");
    assert.equal(canary.metadata.annotations['shipgate.dev/version'], '2.0.0');

    const seen: string[] = [];
    for (const w of [10, 50, 100]) {
      await d.setWeight(v2, w);
      const o = await d.observe(v2);
      seen.push(`${w}%: canary ${deployment(ns, 'web-canary').spec.replicas} stable ${deployment(ns, 'web').spec.replicas} observed ${o.canaryWeight}%`);
      assert.equal(o.canaryRunning, true);
    }
    assert.deepEqual(seen, ['10%: canary 1 stable 9 observed 10%', '50%: canary 5 stable 5 observed 50%', '100%: canary 10 stable 0 observed 100%']);

    await d.promote(v2);
    const stable = deployment(ns, 'web');
    assert.equal(image(stable), `${REPO}@${digestOf(v2)}`, 'stable runs the canary image');
    assert.equal(stable.spec.replicas, 10);
    assert.equal(stable.metadata.annotations['shipgate.dev/previous-image'], `${REPO}@${digestOf(v1)}`, 'what stable ran before, for a rollback');
    await d.finalize(v2);
    assert.equal(deployment(ns, 'web-canary').spec.replicas, 0);
    const o = await d.observe(v2);
    assert.deepEqual([o.stableVersion, o.stableRunning, o.canaryVersion, o.canaryWeight], ['2.0.0', true, null, 0]);

    // The team's Deployment is patched, never replaced: a strategic merge patch for the image
    // (as kubectl set image), merge patches for replicas.
    const stableWrites = writes(ns).filter((r) => r.path.endsWith('/deployments/web'));
    assert.ok(stableWrites.every((r) => r.method === 'PATCH'), stableWrites.map((r) => r.method).join());
    const imagePatch = stableWrites.find((r) => JSON.stringify(r.body).includes(digestOf(v2)))!;
    assert.equal(imagePatch.contentType, 'application/strategic-merge-patch+json');
    assert.deepEqual((imagePatch.body as Obj).spec.template.spec.containers, [{ name: 'web', image: `${REPO}@${digestOf(v2)}` }]);
  });

  test('weights are approximate: with 3 replicas, 10% is 1 canary of 3 (33%), and the observation says so', async () => {
    const ns = team('replicas', { replicas: 3 });
    const d = driverFor(ns, 'replicas');
    await firstRelease(d);
    await d.deploy(v2);
    await d.setWeight(v2, 10);
    assert.equal(deployment(ns, 'web-canary').spec.replicas, 1);
    assert.equal(deployment(ns, 'web').spec.replicas, 2);
    const o = await d.observe(v2);
    assert.equal(o.canaryWeight, 33);
    assert.equal(o.requestedWeight, 10);
    assert.match(o.detail, /1 of 3 replicas run the canary: about 33% of requests for the 10% asked \(replica ratio: the weight is rounded to what 3 replicas allow\)/);
    assert.deepEqual(replicaSplit(10, 10), { canary: 1, stable: 9, weight: 10 });
    assert.deepEqual(replicaSplit(10, 25), { canary: 3, stable: 7, weight: 30 });
    assert.deepEqual(replicaSplit(4, 90), { canary: 3, stable: 1, weight: 75 }, 'stable keeps one replica below 100%');
    assert.deepEqual(replicaSplit(1, 10), { canary: 1, stable: 1, weight: 50 }, 'one replica cannot be split');
  });

  test('a rollback from 50%: no canary replica, all 10 stable, the canary holds no version; again, it writes nothing', async () => {
    const ns = team('replicas');
    const d = driverFor(ns, 'replicas');
    await firstRelease(d);
    await d.deploy(v2);
    await d.setWeight(v2, 50);
    await d.rollback(v2);
    assert.equal(deployment(ns, 'web-canary').spec.replicas, 0);
    assert.equal(deployment(ns, 'web').spec.replicas, 10);
    assert.equal(image(deployment(ns, 'web')), `${REPO}@${digestOf(v1)}`);
    assert.equal(deployment(ns, 'web-canary').metadata.annotations['shipgate.dev/version'], undefined);
    const o = await d.observe(v2);
    assert.deepEqual([o.canaryWeight, o.canaryRunning, o.stableVersion, o.stableRunning], [0, false, '1.0.0', true]);
    const before = writes(ns).length;
    await d.rollback(v2);
    assert.equal(writes(ns).length, before, 'a repeated rollback finds nothing to change');
  });

  test('a rollback from 100% brings stable back up before the canary goes, so requests always have pods', async () => {
    const ns = team('replicas');
    const d = driverFor(ns, 'replicas');
    await firstRelease(d);
    await d.deploy(v2);
    await d.setWeight(v2, 100);
    const from = fake.requests.length;
    await d.rollback(v2);
    const seq = fake.requests.slice(from).filter((r) => r.path.includes(`/namespaces/${ns}/deployments/`));
    const stableUp = seq.findIndex((r) => r.method === 'PATCH' && r.path.endsWith('/web') && (r.body as Obj).spec?.replicas === 10);
    const canaryDown = seq.findIndex((r) => r.method === 'PATCH' && r.path.endsWith('/web-canary') && (r.body as Obj).spec?.replicas === 0);
    assert.ok(stableUp >= 0 && canaryDown > stableUp, seq.map((r) => `${r.method} ${r.path}`).join('\n'));
    const readyBetween = seq.slice(stableUp + 1, canaryDown).some((r) => r.method === 'GET' && r.path.endsWith('/web'));
    assert.ok(readyBetween, 'stable was read (ready) between scaling it up and removing the canary');
    assert.equal(deployment(ns, 'web').status.readyReplicas, 10);
  });

  test('a rollback after promotion puts the image stable ran before back', async () => {
    const ns = team('replicas');
    const d = driverFor(ns, 'replicas');
    await firstRelease(d);
    await d.deploy(v2);
    await d.setWeight(v2, 100);
    await d.promote(v2);
    await d.rollback(v2);
    const stable = deployment(ns, 'web');
    assert.equal(image(stable), `${REPO}@${digestOf(v1)}`);
    assert.equal(stable.metadata.annotations['shipgate.dev/version'], '1.0.0');
    assert.equal(stable.metadata.annotations['shipgate.dev/previous-image'], undefined);
    assert.equal(deployment(ns, 'web-canary').spec.replicas, 0);
  });

  test('a Service that leaves the canary out is refused at deploy, saying which label to drop', async () => {
    const ns = team('replicas', { serviceSelector: { app: 'web', track: 'stable' } });
    await rejects(driverFor(ns, 'replicas').deploy(v2), 'deploy', 'service web does not select the canary', 'track=stable', 'leave track out of its selector');
  });

  test('a canary whose pods crash is seen: observe says it is not running (the controller then rolls back)', async () => {
    const ns = team('replicas');
    const d = driverFor(ns, 'replicas');
    await firstRelease(d);
    await d.deploy(v2);
    await d.setWeight(v2, 10);
    fake.setStatus(ns, 'web-canary', { readyReplicas: 0, availableReplicas: 0 });
    const o = await d.observe(v2);
    assert.equal(o.canaryRunning, false);
    assert.equal(o.stableRunning, true);
  });
});

describe('kubernetes driver (mock Kubernetes API server): Gateway API HTTPRoute', () => {
  test('deploy makes the canary Service and Deployment and leaves the route; weights become backendRef weights', async () => {
    const ns = team('gateway-api');
    const d = driverFor(ns, 'gateway-api');
    await firstRelease(d);
    assert.deepEqual(backendRefs(ns), ['web:100']);
    await d.deploy(v2);
    const svc = fake.get('services', ns, 'web-canary') as Obj;
    assert.deepEqual(svc.spec.selector, { app: 'web', track: 'canary' });
    assert.deepEqual(
      svc.spec.ports.map((p: Obj) => [p.port, p.targetPort]),
      [[80, 8080]],
    );
    assert.equal(deployment(ns, 'web-canary').spec.replicas, 10, 'as many replicas as stable: it may take all traffic');
    assert.equal(deployment(ns, 'web-canary').status.readyReplicas, 10, 'deploy returned once the canary was ready');
    assert.deepEqual(backendRefs(ns), ['web:100'], 'deployed, taking no traffic');

    const seen: string[] = [];
    for (const w of [10, 50]) {
      await d.setWeight(v2, w);
      seen.push(`${w}%: ${backendRefs(ns).join(' ')} observed ${(await d.observe(v2)).canaryWeight}%`);
    }
    assert.deepEqual(seen, ['10%: web:90 web-canary:10 observed 10%', '50%: web:50 web-canary:50 observed 50%']);
    const routeWrites = fake.writes(new RegExp(`/namespaces/${ns}/httproutes/`));
    assert.ok(routeWrites.length > 0 && routeWrites.every((r) => r.method === 'PATCH' && r.contentType === 'application/merge-patch+json'), 'a custom resource: merge patches only');
    assert.ok(routeWrites.every((r) => typeof (r.body as Obj).metadata.resourceVersion === 'string'), 'each patch carries the resourceVersion it was made from');
    const route = fake.get('httproutes', ns, 'web') as Obj;
    assert.deepEqual(route.spec.rules[0].backendRefs[1], { name: 'web-canary', port: 80, group: '', kind: 'Service', weight: 50 });
    assert.deepEqual(route.spec.hostnames, ['web.example.com'], 'the rest of the route is left as it was');

    await d.rollback(v2);
    assert.deepEqual(backendRefs(ns), ['web:100']);
    assert.equal(deployment(ns, 'web-canary').spec.replicas, 0);
  });

  test('promote runs the new image on stable, then the route sends everything to stable; finalize scales the canary to 0', async () => {
    const ns = team('gateway-api');
    const d = driverFor(ns, 'gateway-api');
    await firstRelease(d);
    await d.deploy(v2);
    await d.setWeight(v2, 100);
    assert.deepEqual(backendRefs(ns), ['web:0', 'web-canary:100']);
    await d.promote(v2);
    assert.equal(image(deployment(ns, 'web')), `${REPO}@${digestOf(v2)}`);
    assert.deepEqual(backendRefs(ns), ['web:100']);
    assert.equal(deployment(ns, 'web').spec.replicas, 10, 'routing modes leave the stable replicas alone');
    await d.finalize(v2);
    assert.equal(deployment(ns, 'web-canary').spec.replicas, 0);
  });

  test('a route changed meanwhile (409 Conflict) is read again and patched, keeping the other change', async () => {
    const ns = team('gateway-api');
    const d = driverFor(ns, 'gateway-api');
    await firstRelease(d);
    await d.deploy(v2);
    fake.onNext('PATCH', new RegExp(`/namespaces/${ns}/httproutes/web$`), () => {
      const r = fake.get('httproutes', ns, 'web')!;
      r.spec.hostnames = ['web.example.com', 'www.example.com'];
      fake.seed(r);
    });
    await d.setWeight(v2, 10);
    const patches = fake.requests.filter((r) => r.method === 'PATCH' && r.path.endsWith(`/namespaces/${ns}/httproutes/web`));
    assert.deepEqual(
      patches.slice(-2).map((p) => p.status),
      [409, 200],
    );
    assert.deepEqual(backendRefs(ns), ['web:90', 'web-canary:10']);
    assert.deepEqual((fake.get('httproutes', ns, 'web') as Obj).spec.hostnames, ['web.example.com', 'www.example.com']);
  });

  test('a stable Service that selects the canary pods too is refused: the route could not split', async () => {
    const ns = team('gateway-api', { serviceSelector: { app: 'web' } });
    await rejects(driverFor(ns, 'gateway-api').deploy(v2), 'deploy', "service web selects the canary's pods too (its selector: app=web)", 'add track: stable');
    assert.equal(fake.get('deployments', ns, 'web-canary'), undefined, 'nothing was deployed');
  });

  test('a route the service account may not patch (403) fails set-weight with the API server words', async () => {
    const ns = team('gateway-api');
    const d = driverFor(ns, 'gateway-api');
    await firstRelease(d);
    await d.deploy(v2);
    fake.forbid({ verb: 'patch', resource: 'httproutes' });
    try {
      await rejects(d.setWeight(v2, 10), 'set-weight', `patching httproute web: httproutes.gateway.networking.k8s.io "web" is forbidden: User "system:serviceaccount:shipgate:shipgate" cannot patch resource "httproutes" in API group "gateway.networking.k8s.io" in the namespace "${ns}" (403 Forbidden)`);
    } finally {
      (fake as unknown as { forbidden: unknown[] }).forbidden.length = 0;
    }
  });
});

describe('kubernetes driver (mock Kubernetes API server): ingress-nginx canary', () => {
  test('deploy makes a canary Ingress for the same host and path; weights are its canary-weight, as strings', async () => {
    const ns = team('ingress-nginx');
    const d = driverFor(ns, 'ingress-nginx');
    await firstRelease(d);
    await d.deploy(v2);
    const ing = fake.get('ingresses', ns, 'web-canary') as Obj;
    assert.deepEqual(ing.metadata.annotations, { 'nginx.ingress.kubernetes.io/canary': 'true', 'nginx.ingress.kubernetes.io/canary-weight': '0' });
    assert.equal(ing.spec.ingressClassName, 'nginx');
    assert.deepEqual(ing.spec.rules, [{ host: 'web.example.com', http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'web-canary', port: { number: 80 } } } }] } }]);
    assert.equal(ing.spec.tls, undefined, "ingress-nginx uses the main Ingress's TLS for a canary");
    for (const w of [10, 50]) {
      await d.setWeight(v2, w);
      assert.equal((fake.get('ingresses', ns, 'web-canary') as Obj).metadata.annotations['nginx.ingress.kubernetes.io/canary-weight'], String(w));
      assert.equal((await d.observe(v2)).canaryWeight, w);
    }
    assert.equal((fake.get('ingresses', ns, 'web') as Obj).metadata.annotations['nginx.ingress.kubernetes.io/canary'], undefined, 'the stable Ingress is not touched');
  });

  test('a rollback sets canary-weight "0" at once and scales the canary to 0; the canary Ingress stays', async () => {
    const ns = team('ingress-nginx');
    const d = driverFor(ns, 'ingress-nginx');
    await firstRelease(d);
    await d.deploy(v2);
    await d.setWeight(v2, 50);
    const from = fake.requests.length;
    await d.rollback(v2);
    const firstWrite = fake.requests.slice(from).find((r) => r.method !== 'GET')!;
    assert.equal(firstWrite.path, `/apis/networking.k8s.io/v1/namespaces/${ns}/ingresses/web-canary`, 'traffic is moved before anything else');
    assert.equal((fake.get('ingresses', ns, 'web-canary') as Obj).metadata.annotations['nginx.ingress.kubernetes.io/canary-weight'], '0');
    assert.equal(deployment(ns, 'web-canary').spec.replicas, 0);
    assert.equal((await d.observe(v2)).canaryWeight, 0);
  });

  test('without the stable Ingress, deploy says what is missing', async () => {
    const ns = team('ingress-nginx');
    await rejects(driverFor(ns, 'ingress-nginx', { ingress: 'shop' }).deploy(v2), 'deploy', `ingress shop not found in namespace ${ns}`);
  });
});

describe('kubernetes driver (mock Kubernetes API server): waits and refusals', () => {
  test('an image that never becomes ready fails deploy after the timeout, naming the Deployment, its image and what was not ready', async () => {
    const ns = team('gateway-api');
    const d = driverFor(ns, 'gateway-api', { image: 'registry.example.com/bad-web', timeout: '1s' });
    const started = Date.now();
    await rejects(
      d.deploy(v2),
      'deploy',
      `deployment web-canary (namespace ${ns}, image registry.example.com/bad-web@${digestOf(v2)}) not ready after 1 s: 0 of 10 updated replicas ready (Deployment does not have minimum availability.)`,
    );
    assert.ok(Date.now() - started < 10_000);
    assert.deepEqual(backendRefs(ns), ['web:100'], 'no traffic went to it');
  });

  test('replica ratio: a canary that is not ready at 10% fails set-weight and stable keeps all its replicas', async () => {
    const ns = team('replicas');
    const d = driverFor(ns, 'replicas', { image: 'registry.example.com/bad-web', timeout: '1s' });
    await d.deploy(v2);
    await rejects(d.setWeight(v2, 10), 'set-weight', 'deployment web-canary', 'not ready after 1 s: 0 of 1 updated replicas ready');
    assert.equal(deployment(ns, 'web').spec.replicas, 10);
    await d.rollback(v2);
    assert.equal(deployment(ns, 'web-canary').spec.replicas, 0);
  });

  test('a progress deadline exceeded fails at once, with the controller message', async () => {
    const ns = team('gateway-api');
    const d = driverFor(ns, 'gateway-api', { image: 'registry.example.com/bad-web', timeout: '30s' });
    const started = Date.now();
    const deploying = d.deploy(v2);
    const deadline = Date.now() + 10_000;
    while (!fake.get('deployments', ns, 'web-canary')?.status?.observedGeneration) {
      assert.ok(Date.now() < deadline, 'the canary was never created');
      await new Promise((r) => setTimeout(r, 10));
    }
    fake.setStatus(ns, 'web-canary', {
      conditions: [{ type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded', message: 'ReplicaSet "web-canary-5d8f" has timed out progressing.' }],
    });
    await rejects(deploying, 'deploy', 'failed to roll out: progress deadline exceeded: ReplicaSet "web-canary-5d8f" has timed out progressing.');
    assert.ok(Date.now() - started < 20_000, 'well before the 30 s timeout');
  });

  test("the API server's 422 for an impossible canary comes back in its words", async () => {
    // The stable selector says track In (stable): the canary's track: canary pods cannot match it.
    const ns = team('replicas', { selector: { matchLabels: { app: 'web' }, matchExpressions: [{ key: 'track', operator: 'In', values: ['stable'] }] } });
    await rejects(driverFor(ns, 'replicas').deploy(v2), 'deploy', 'creating deployment web-canary: Deployment.apps "web-canary" is invalid: spec.template.metadata.labels', '`selector` does not match template `labels`', '(422 Invalid)');
  });

  test('a namespace that does not exist: the Deployment is not found, in that namespace', async () => {
    await rejects(driverFor('nowhere', 'replicas').deploy(v2), 'deploy', 'deployment web not found in namespace nowhere', fake.url, 'must exist first');
  });

  test('credentials the API server refuses (401) are said so, and the token never shows', async () => {
    const wrong = fake.kubeconfig(path.join(dir, 'kubeconfig-wrong'), { token: 'expired-token-0b1c2d' });
    const d = new KubernetesDriver({ ...kubernetesSettings({ traffic: 'replicas', kubeconfig: wrong, namespace: 'default' }, dir), pollMs: 20 });
    const err = await rejects(d.deploy(v2), 'deploy', `the API server at ${fake.url} did not accept the kubeconfig's credentials (401 Unauthorized`);
    assert.ok(!err.message.includes('expired-token-0b1c2d') && !err.message.includes(TOKEN), err.message);
  });

  test('the kubeconfig context is the one named: an unreachable cluster and an unknown context are said so', async () => {
    const other = driverFor('default', 'replicas', { context: 'other', request_timeout: '5s' });
    await rejects(other.deploy(v2), 'deploy', 'reading deployment web: cannot reach the API server at https://127.0.0.1:9', 'ECONNREFUSED');
    const unknown = driverFor('default', 'replicas', { context: 'prod-eks' });
    await rejects(unknown.observe(v2), 'observe', `context 'prod-eks' is not in kubeconfig ${kubeconfig} (it has: fake, other)`);
  });

  test('a kubeconfig that is not YAML: the error says where, not what the line holds', async () => {
    const broken = path.join(dir, 'kubeconfig-broken');
    fs.writeFileSync(broken, `apiVersion: v1\nusers:\n  - name: x\n    user: { token: "${TOKEN}" \n`);
    const err = await rejects(driverFor('default', 'replicas', { kubeconfig: broken }).deploy(v2), 'deploy', `cannot read kubeconfig ${broken}:`, /at line \d+/);
    assert.ok(!err.message.includes(TOKEN), err.message);
    await rejects(driverFor('default', 'replicas', { kubeconfig: path.join(dir, 'missing') }).deploy(v2), 'deploy', `kubeconfig ${path.join(dir, 'missing')} does not exist`);
  });

  test('an API server that does not answer is given up on after request_timeout, three times', async () => {
    const ns = team('replicas');
    fake.stallNext('GET', new RegExp(`/namespaces/${ns}/deployments/web$`), 3);
    const started = Date.now();
    await rejects(driverFor(ns, 'replicas', { request_timeout: '1s' }).deploy(v2), 'deploy', `reading deployment web: no answer from the API server at ${fake.url} within 1 s`);
    const took = Date.now() - started;
    assert.ok(took >= 3000 && took < 15_000, `${took} ms`);
  });

  test('a 503 from an overloaded API server is tried again', async () => {
    const ns = team('replicas');
    fake.failNext('GET', new RegExp(`/namespaces/${ns}/deployments/web$`), 503, 'the server is currently unable to handle the request', 2);
    const d = driverFor(ns, 'replicas');
    await d.deploy(v1);
    assert.equal(deployment(ns, 'web-canary').metadata.annotations['shipgate.dev/version'], '1.0.0');
  });

  test('a digest that is not sha256 is refused before anything is written', async () => {
    const ns = team('replicas');
    await rejects(driverFor(ns, 'replicas').deploy({ ...v2, digest: 'latest' }), 'deploy', "release 2.0.0 has digest 'latest', not sha256:<64 hex digits>");
    assert.equal(writes(ns).length, 0);
  });
});

describe('kubernetes driver (mock Kubernetes API server): every action repeated, as after a crash', () => {
  for (const mode of ['replicas', 'gateway-api', 'ingress-nginx'] as Mode[]) {
    test(`${mode}: each action done again writes nothing more and leaves the same objects`, async () => {
      const ns = team(mode);
      const d = driverFor(ns, mode);
      // The objects as written (status and resourceVersion move with the pretend controller).
      const snapshot = () => JSON.stringify(['deployments', 'services', 'ingresses', 'httproutes'].map((r) => fake.list(r, ns).map((o) => ({ ...o, metadata: { ...o.metadata, resourceVersion: undefined }, status: undefined }))));
      const steps: [string, () => Promise<void>][] = [
        ['deploy 1', () => d.deploy(v1)],
        ['100% 1', () => d.setWeight(v1, 100)],
        ['promote 1', () => d.promote(v1)],
        ['finalize 1', () => d.finalize(v1)],
        ['deploy 2', () => d.deploy(v2)],
        ['10% 2', () => d.setWeight(v2, 10)],
        ['rollback 2', () => d.rollback(v2)],
        ['deploy 3', () => d.deploy(v3)],
        ['50% 3', () => d.setWeight(v3, 50)],
        ['100% 3', () => d.setWeight(v3, 100)],
        ['promote 3', () => d.promote(v3)],
        ['finalize 3', () => d.finalize(v3)],
      ];
      for (const [name, step] of steps) {
        await step();
        const objects = snapshot();
        const count = writes(ns).length;
        await step();
        assert.equal(writes(ns).length, count, `${name} again wrote: ${writes(ns).slice(count).map((r) => `${r.method} ${r.path}`).join(', ')}`);
        assert.equal(snapshot(), objects, `${name} again changed the objects`);
      }
      assert.equal(image(deployment(ns, 'web')), `${REPO}@${digestOf(v3)}`);
    });
  }

  test('replica ratio: a set-weight cut off after the canary grew is completed by the next one', async () => {
    const ns = team('replicas');
    const d = driverFor(ns, 'replicas');
    await firstRelease(d);
    await d.deploy(v2);
    fake.failNext('PATCH', new RegExp(`/namespaces/${ns}/deployments/web$`), 500, 'etcdserver: request timed out', 3);
    await rejects(d.setWeight(v2, 10), 'set-weight', 'patching deployment web: etcdserver: request timed out (500 InternalError)');
    assert.deepEqual([deployment(ns, 'web-canary').spec.replicas, deployment(ns, 'web').spec.replicas], [1, 10], 'cut off between the two scalings');
    await d.setWeight(v2, 10);
    assert.deepEqual([deployment(ns, 'web-canary').spec.replicas, deployment(ns, 'web').spec.replicas], [1, 9]);
  });
});

describe('kubernetes driver: the pure rules', () => {
  test('rollout status: what a Deployment still waits for, in the words of kubectl rollout status', () => {
    const d = (status: Obj, generation = 2, replicas = 3): Deployment => ({ metadata: { name: 'web', generation }, spec: { replicas, selector: {}, template: {} }, status });
    assert.deepEqual(rolloutProgress(d({ observedGeneration: 1 })), { done: false, failed: false, waiting: 'the deployment controller has not seen generation 2 yet (observed 1)' });
    assert.equal((rolloutProgress(d({ observedGeneration: 2, replicas: 4, updatedReplicas: 1, readyReplicas: 3 })) as { waiting: string }).waiting, '1 of 3 replicas updated, 3 ready');
    assert.equal((rolloutProgress(d({ observedGeneration: 2, replicas: 4, updatedReplicas: 3, readyReplicas: 3 })) as { waiting: string }).waiting, '1 old replicas pending termination');
    assert.equal((rolloutProgress(d({ observedGeneration: 2, replicas: 3, updatedReplicas: 3, readyReplicas: 3, availableReplicas: 2 })) as { waiting: string }).waiting, '2 of 3 updated replicas available');
    assert.deepEqual(rolloutProgress(d({ observedGeneration: 2, replicas: 3, updatedReplicas: 3, readyReplicas: 3, availableReplicas: 3 })), { done: true });
    assert.deepEqual(rolloutProgress(d({ observedGeneration: 2 }, 2, 0)), { done: true }, 'a Deployment scaled to 0 is rolled out once seen');
  });

  test('image repositories: tags and digests come off, a registry port stays', () => {
    assert.equal(repositoryOf('registry:5000/team/web:1.2@sha256:abc'), 'registry:5000/team/web');
    assert.equal(repositoryOf('registry:5000/team/web'), 'registry:5000/team/web');
    assert.equal(repositoryOf('nginx:1.27'), 'nginx');
  });

  test('route weights: the rule to stable is split, other backends and fields kept; weight 0 takes the canary out', () => {
    const route = { metadata: { name: 'web' }, spec: { rules: [{ backendRefs: [{ name: 'web', port: 80, filters: [{ type: 'X' }] }, { name: 'legacy', port: 80, weight: 5 }] }, { backendRefs: [{ name: 'docs', port: 80 }] }] } };
    const names = { stable: 'web', canary: 'web-canary', namespace: 'ns' };
    const ten = weightedRules(route, names, 10)!;
    assert.deepEqual(ten[0].backendRefs, [
      { name: 'web', port: 80, filters: [{ type: 'X' }], weight: 90 },
      { name: 'web-canary', port: 80, filters: [{ type: 'X' }], weight: 10 },
      { name: 'legacy', port: 80, weight: 5 },
    ]);
    assert.deepEqual(ten[1], route.spec.rules[1]);
    assert.deepEqual(weightedRules({ ...route, spec: { rules: ten } }, names, 0)![0].backendRefs, [
      { name: 'web', port: 80, filters: [{ type: 'X' }], weight: 100 },
      { name: 'legacy', port: 80, weight: 5 },
    ]);
  });

  test('the canary Deployment: stable pod template, track label swapped, selector kept apart', () => {
    const stable: Deployment = {
      metadata: { name: 'web', namespace: 'ns', labels: { app: 'web', track: 'stable' } },
      spec: { replicas: 4, selector: { matchLabels: { app: 'web', track: 'stable' } }, template: { metadata: { labels: { app: 'web', track: 'stable' } }, spec: { containers: [{ name: 'sidecar', image: 'envoy:1' }, { name: 'web', image: 'r/web@sha256:1' }] } }, minReadySeconds: 5 },
    };
    const c = canaryDeployment(stable, { name: 'web-canary', image: 'r/web@sha256:2', container: 1, trackLabel: 'track', replicas: 0, annotations: { 'shipgate.dev/version': '2' } });
    assert.deepEqual(c.spec.selector, { matchLabels: { app: 'web', track: 'canary' } });
    assert.deepEqual(
      c.spec.template.spec!.containers.map((x) => x.image),
      ['envoy:1', 'r/web@sha256:2'],
    );
    assert.equal(c.spec.minReadySeconds, 5);
    assert.deepEqual(c.metadata.labels, { app: 'web', track: 'canary', 'app.kubernetes.io/managed-by': 'shipgate' });
  });
});

describe('kubernetes driver: its config section', () => {
  const BASE = `version: 1
roles: [dev]
users:
  - { name: ann, roles: [dev] }
services:
  - name: web
environments:
  - name: production
    policy:
      auto_approve: true
    rollout:
      driver: kubernetes
`;
  const errorOf = (text: string): ConfigError => {
    try {
      parseConfig(text, '/etc/shipgate.yaml');
    } catch (err) {
      assert.ok(err instanceof ConfigError, String(err));
      return err;
    }
    assert.fail('the config loaded but should have been refused');
  };

  test('the section resolves: defaults, kubeconfig relative to the config file, names with {service}', () => {
    const cfg = parseConfig(`${BASE}      kubernetes:\n        traffic: gateway-api\n        kubeconfig: kube/prod.yaml\n        namespace: "{service}-{environment}"\n        timeout: 2m\n`, '/srv/app/shipgate.yaml');
    const s = cfg.environments[0].rollout!.driver.settings as ReturnType<typeof kubernetesSettings>;
    assert.equal(s.kubeconfig, '/srv/app/kube/prod.yaml');
    assert.equal(s.namespace, '{service}-{environment}');
    assert.deepEqual([s.traffic, s.deployment, s.service, s.route, s.trackLabel, s.timeoutMs, s.requestTimeoutMs], ['gateway-api', '{service}', '{service}', '{service}', 'track', 120_000, 30_000]);
    const d = new KubernetesDriver({ ...s, canaryUrl: 'http://{service}-canary.{environment}:8080' });
    assert.deepEqual(d.urls(v2), { canary: 'http://web-canary.production:8080', stable: null });
  });

  test('mistakes are reported at file:line, naming the field', () => {
    const at = (text: string, line: number, ...fragments: string[]) => {
      const err = errorOf(text);
      assert.equal(err.line, line, err.message);
      for (const f of fragments) assert.ok(err.message.includes(f), `"${f}" not in: ${err.message}`);
    };
    assert.match(errorOf(BASE).message, /driver: kubernetes needs a kubernetes section with at least traffic: replicas, gateway-api or ingress-nginx/);
    at(`${BASE}      kubernetes:\n        traffic: weights\n`, 14, 'rollout.kubernetes.traffic');
    at(`${BASE}      kubernetes:\n        traffic: replicas\n        route: web\n`, 15, 'route is used with traffic: gateway-api, not replicas');
    at(`${BASE}      kubernetes:\n        traffic: replicas\n        image: registry.example.com/web:1.2\n`, 15, 'image: the repository only, without tag or digest');
    at(`${BASE}      kubernetes:\n        traffic: replicas\n        deployment: Web_App\n`, 15, "deployment: expected a Kubernetes object name (lower-case letters, digits, '-' and '.')");
    at(`${BASE}      kubernetes:\n        traffic: replicas\n        namespace: "{team}"\n`, 15, 'the only placeholders are {service} and {environment}');
    at(`${BASE}      kubernetes:\n        traffic: ingress-nginx\n        replicas: 0\n`, 15, 'rollout.kubernetes.replicas');
  });
});

// ---- kubectl against the same mock --------------------------------------------------------------

const KUBECTL = process.env.KUBECTL ?? 'kubectl';

/** kubectl 1.32 as a child process (never spawnSync: the mock answers from this process). */
function kubectl(args: string[], opts: { kubeconfig?: string } = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(KUBECTL, ['--kubeconfig', opts.kubeconfig ?? kubeconfig, '--cache-dir', path.join(dir, 'kubectl-cache'), ...args], { env: { ...process.env, KUBECONFIG: '' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`kubectl could not run (${err.message}): these cross-checks need kubectl 1.32 on PATH or in $KUBECTL`));
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

async function kubectlOk(args: string[], opts: { kubeconfig?: string } = {}): Promise<string> {
  const r = await kubectl(args, opts);
  assert.equal(r.code, 0, `kubectl ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

describe('kubectl 1.32 against the same mock Kubernetes API server', () => {
  test('kubectl get returns what the driver wrote', async () => {
    const ns = team('replicas');
    const d = driverFor(ns, 'replicas');
    await firstRelease(d);
    await d.deploy(v2);
    await d.setWeight(v2, 10);
    const canary = JSON.parse(await kubectlOk(['-n', ns, 'get', 'deployment', 'web-canary', '-o', 'json']));
    assert.equal(canary.spec.template.spec.containers[0].image, `${REPO}@${digestOf(v2)}`);
    assert.equal(canary.spec.replicas, 1);
    assert.equal(canary.status.readyReplicas, 1);
    assert.equal(canary.metadata.annotations['shipgate.dev/version'], '2.0.0');
    const stable = await kubectlOk(['-n', ns, 'get', 'deployment', 'web', '-o', 'jsonpath={.spec.replicas} {.metadata.annotations.shipgate\\.dev/version}']);
    assert.equal(stable, '9 1.0.0');
  });

  test("kubectl scale and kubectl set image give the Deployment the driver's requests give it", async () => {
    // The driver in one namespace, kubectl in another, from the same start.
    const byDriver = team('replicas');
    const byKubectl = team('replicas');
    const d = driverFor(byDriver, 'replicas');
    await d.deploy(v1);
    await d.setWeight(v1, 10);
    await kubectlOk(['-n', byKubectl, 'scale', 'deployment', 'web', '--replicas=9']);
    const scaleRequest = fake.requests.find((r) => r.method === 'PATCH' && r.path.endsWith(`/namespaces/${byKubectl}/deployments/web/scale`))!;
    assert.equal(scaleRequest.contentType, 'application/merge-patch+json');
    assert.deepEqual(scaleRequest.body, { spec: { replicas: 9 } });
    const spec = (ns: string) => ({ ...deployment(ns, 'web').spec });
    assert.equal(spec(byKubectl).replicas, spec(byDriver).replicas);

    await d.setWeight(v1, 100);
    await d.promote(v1);
    await kubectlOk(['-n', byKubectl, 'set', 'image', 'deployment/web', `web=${REPO}@${digestOf(v1)}`]);
    await kubectlOk(['-n', byKubectl, 'scale', 'deployment', 'web', '--replicas=10']);
    const setImage = fake.requests.find((r) => r.method === 'PATCH' && r.path.endsWith(`/namespaces/${byKubectl}/deployments/web`) && r.contentType === 'application/strategic-merge-patch+json')!;
    assert.deepEqual((setImage.body as Obj).spec.template.spec.containers, [{ image: `${REPO}@${digestOf(v1)}`, name: 'web' }], 'kubectl sends the strategic merge patch the driver sends');
    assert.deepEqual(spec(byKubectl).template, spec(byDriver).template);
    assert.equal(spec(byKubectl).replicas, spec(byDriver).replicas);
  });

  test('kubectl rollout status agrees with the driver: done after deploy; a bad image is still waiting', async () => {
    const ns = team('gateway-api');
    await driverFor(ns, 'gateway-api').deploy(v2);
    assert.match(await kubectlOk(['-n', ns, 'rollout', 'status', 'deployment/web-canary', '--timeout=20s']), /deployment "web-canary" successfully rolled out/);

    const bad = team('gateway-api');
    await rejects(driverFor(bad, 'gateway-api', { image: 'registry.example.com/bad-web', timeout: '1s' }).deploy(v2), 'deploy', '0 of 10 updated replicas ready');
    const r = await kubectl(['-n', bad, 'rollout', 'status', 'deployment/web-canary', '--timeout=2s']);
    assert.notEqual(r.code, 0);
    assert.match(r.stdout + r.stderr, /0 of 10 updated replicas are available/);
  });

  test("kubectl patch: the driver's route patch is accepted as a merge patch; a strategic one is refused (415), as for any custom resource", async () => {
    const ns = team('gateway-api');
    const d = driverFor(ns, 'gateway-api');
    await firstRelease(d);
    await d.deploy(v2);
    await d.setWeight(v2, 10);
    const driverPatch = fake.requests.filter((r) => r.method === 'PATCH' && r.path.endsWith(`/namespaces/${ns}/httproutes/web`)).at(-1)!.body as Obj;
    await d.rollback(v2);
    const { spec } = driverPatch; // without the resourceVersion it was made from
    await kubectlOk(['-n', ns, 'patch', 'httproute', 'web', '--type', 'merge', '-p', JSON.stringify({ spec })]);
    assert.deepEqual(backendRefs(ns), ['web:90', 'web-canary:10']);
    assert.equal((await d.observe(v2)).canaryWeight, 10, 'the driver reads what kubectl wrote');
    const r = await kubectl(['-n', ns, 'patch', 'httproute', 'web', '--type', 'strategic', '-p', JSON.stringify({ spec })]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /the body of the request was in an unknown format - accepted media types include: application\/json-patch\+json, application\/merge-patch\+json, application\/apply-patch\+yaml/);
  });

  test("kubectl gets the mock's refusals as from a real API server: AlreadyExists, Invalid, NotFound", async () => {
    const ns = team('replicas');
    const manifest = path.join(dir, 'web.json');
    fs.writeFileSync(manifest, JSON.stringify({ ...deployment(ns, 'web'), metadata: { name: 'web', namespace: ns } }));
    const created = await kubectl(['create', '-f', manifest]);
    assert.notEqual(created.code, 0);
    assert.match(created.stderr, /deployments\.apps "web" already exists/);
    const negative = await kubectl(['-n', ns, 'patch', 'deployment', 'web', '--type', 'merge', '-p', '{"spec":{"replicas":-1}}']);
    assert.match(negative.stderr, /The Deployment "web" is invalid: spec\.replicas: Invalid value: -1: must be greater than or equal to 0/);
    const noImage = await kubectl(['-n', ns, 'patch', 'deployment', 'web', '--type', 'json', '-p', '[{"op":"replace","path":"/spec/template/spec/containers/0/image","value":""}]']);
    assert.match(noImage.stderr, /The Deployment "web" is invalid: spec\.template\.spec\.containers\[0\]\.image: Required value/);
    const missing = await kubectl(['-n', ns, 'get', 'deployment', 'api']);
    assert.match(missing.stderr, /Error from server \(NotFound\): deployments\.apps "api" not found/);
    assert.equal(deployment(ns, 'web').spec.replicas, 10, 'nothing refused was written');
  });

  test('kubectl annotate of the canary weight is what the driver observes', async () => {
    const ns = team('ingress-nginx');
    const d = driverFor(ns, 'ingress-nginx');
    await firstRelease(d);
    await d.deploy(v2);
    await kubectlOk(['-n', ns, 'annotate', 'ingress', 'web-canary', 'nginx.ingress.kubernetes.io/canary-weight=30', '--overwrite']);
    assert.equal((await d.observe(v2)).canaryWeight, 30);
    const r = await kubectl(['-n', ns, 'patch', 'ingress', 'web-canary', '--type', 'merge', '-p', '{"metadata":{"annotations":{"nginx.ingress.kubernetes.io/canary-weight":30}}}']);
    assert.notEqual(r.code, 0, 'a number where the API wants a string is refused, as by a real API server');
    assert.match(r.stderr, /cannot unmarshal number into Go struct field ObjectMeta\.metadata\.annotations of type string/);
  });
});

// ---- the examples --------------------------------------------------------------------------------

const MANIFESTS: Record<Mode, string[]> = {
  replicas: ['namespace.yaml', 'rbac.yaml', 'deployment.yaml', 'replicas/service.yaml', 'replicas/ingress.yaml'],
  'gateway-api': ['namespace.yaml', 'rbac.yaml', 'deployment.yaml', 'gateway-api/services.yaml', 'gateway-api/httproute.yaml'],
  'ingress-nginx': ['namespace.yaml', 'rbac.yaml', 'deployment.yaml', 'ingress-nginx/services.yaml', 'ingress-nginx/ingress.yaml'],
};

describe('the kubernetes examples (kubectl against a mock Kubernetes API server)', () => {
  const servers: FakeKube[] = [];
  after(async () => {
    for (const s of servers) await s.close();
  });

  for (const mode of Object.keys(MANIFESTS) as Mode[]) {
    test(`${mode}: kubectl apply accepts every manifest, and a release rolls out on them`, async () => {
      // A server of its own: the manifests name their namespace (web).
      const own = await startFakeKube({ token: TOKEN });
      servers.push(own);
      const file = own.kubeconfig(path.join(dir, `kubeconfig-${mode}`));
      const files = MANIFESTS[mode].flatMap((m) => ['-f', path.join(EXAMPLES, m)]);
      const out = await kubectlOk(['apply', '--server-side=false', ...files], { kubeconfig: file });
      assert.match(out, /deployment\.apps\/web created/);
      assert.equal(own.requests.filter((r) => r.method === 'POST').every((r) => r.query.get('fieldValidation') === 'Strict'), true, 'kubectl had the server validate');
      const stable = own.get('deployments', 'web', 'web')!;
      const settings = mode === 'replicas' ? productionSettings() : kubernetesSettings({ traffic: mode, namespace: 'web' }, EXAMPLES);
      const d = new KubernetesDriver({ ...settings, kubeconfig: file, pollMs: 20 });
      const release = ctx('web', '1.5.0', null);
      await d.deploy(release);
      const weights: number[] = [];
      for (const w of [10, 50, 100]) {
        await d.setWeight(release, w);
        weights.push((await d.observe(release)).canaryWeight);
      }
      assert.deepEqual(weights, [10, 50, 100]);
      await d.promote(release);
      await d.finalize(release);
      const after = own.get('deployments', 'web', 'web')!;
      assert.equal(after.spec.template.spec.containers[0].image, `${repositoryOf(stable.spec.template.spec.containers[0].image)}@${release.digest}`);
      const ready = JSON.parse(await kubectlOk(['-n', 'web', 'get', 'deployment', 'web', '-o', 'json'], { kubeconfig: file }));
      assert.deepEqual([ready.spec.replicas, ready.status.readyReplicas], [10, 10]);
    });
  }

  test("the example RBAC Role is all the driver needs: every mode's rollout and rollback pass with only its rules", async () => {
    const role = YAML.parseAllDocuments(fs.readFileSync(path.join(EXAMPLES, 'rbac.yaml'), 'utf8'))
      .map((doc) => doc.toJS())
      .find((o) => o.kind === 'Role');
    for (const mode of Object.keys(MANIFESTS) as Mode[]) {
      const ns = team(mode);
      const d = driverFor(ns, mode);
      fake.restrictTo(role.rules);
      try {
        await firstRelease(d);
        await d.deploy(v2);
        await d.setWeight(v2, 50);
        await d.observe(v2);
        await d.rollback(v2);
      } finally {
        fake.restrictTo(null);
      }
      assert.equal(fake.requests.filter((r) => r.path.includes(`/namespaces/${ns}/`) && r.status === 403).length, 0, mode);
      assert.equal(image(deployment(ns, 'web')), `${REPO}@${digestOf(v1)}`);
    }
    // And it is not more than that: without update on deployments, the canary cannot be changed.
    const ns = team('replicas');
    const d = driverFor(ns, 'replicas');
    await d.deploy(v1);
    fake.restrictTo(role.rules.map((r: { verbs: string[] }) => ({ ...r, verbs: r.verbs.filter((v) => v !== 'update') })));
    try {
      await rejects(d.deploy(v2), 'deploy', 'replacing deployment web-canary', 'cannot update resource "deployments"', '(403 Forbidden)');
    } finally {
      fake.restrictTo(null);
    }
  });

  test('the example shipgate.yaml validates, and production rolls out by replica ratio over 10 replicas', async () => {
    const r = await new Promise<{ code: number | null; out: string }>((resolve) => {
      const child = spawn(process.execPath, [path.join(ROOT, 'bin/shipgate.js'), 'validate', '--config', path.join(EXAMPLES, 'shipgate.yaml')], { env: { ...process.env, SHIPGATE_DATABASE_URL: '' } });
      let out = '';
      child.stdout.on('data', (b: Buffer) => (out += b.toString()));
      child.stderr.on('data', (b: Buffer) => (out += b.toString()));
      child.on('close', (code) => resolve({ code, out }));
    });
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /shipgate\.yaml: ok — 1 service\(s\), environments staging → production/);
    const s = productionSettings();
    assert.deepEqual([s.traffic, s.replicas, s.namespace, s.image], ['replicas', 10, 'web', '123456789012.dkr.ecr.eu-west-1.amazonaws.com/{service}']);
    const prod = loadConfig(path.join(EXAMPLES, 'shipgate.yaml')).environments.find((e) => e.name === 'production')!;
    assert.equal(prod.rollout!.metrics?.kind, 'prometheus');
  });

  test('the deploy workflow: dispatch only, a digest input, and only commands and options the CLI has', async () => {
    const wf = YAML.parse(fs.readFileSync(path.join(EXAMPLES, 'github-actions/deploy-production.yml'), 'utf8'));
    assert.deepEqual(Object.keys(wf.on), ['workflow_dispatch']);
    assert.equal(wf.on.workflow_dispatch.inputs.digest.required, true);
    const runs: string[] = wf.jobs.deploy.steps.filter((s: Obj) => s.run).map((s: Obj) => s.run);
    const calls = runs.flatMap((r) => [...r.matchAll(/npx shipgate ([^\n>|;]+)/g)].map((m) => m[1].trim()));
    assert.ok(calls.some((c) => c.startsWith('release register web')));
    assert.ok(calls.some((c) => c.startsWith('deploy web')));
    assert.ok(calls.some((c) => c.startsWith('show')));
    for (const call of calls) {
      const words = call.split(/\s+/);
      const command = words[0] === 'release' ? words.slice(0, 2) : words.slice(0, 1);
      const help = await new Promise<string>((resolve) => {
        const child = spawn(process.execPath, [path.join(ROOT, 'bin/shipgate.js'), ...command, '--help']);
        let out = '';
        child.stdout.on('data', (b: Buffer) => (out += b.toString()));
        child.on('close', () => resolve(out));
      });
      for (const flag of words.filter((w) => w.startsWith('--'))) assert.ok(help.includes(flag), `shipgate ${command.join(' ')} has no ${flag}`);
    }
    for (const run of runs) {
      const check = await new Promise<{ code: number | null; err: string }>((resolve) => {
        const child = spawn('bash', ['-n']);
        let err = '';
        child.stderr.on('data', (b: Buffer) => (err += b.toString()));
        child.on('close', (code) => resolve({ code, err }));
        child.stdin.end(run);
      });
      assert.equal(check.code, 0, `${run}\n${check.err}`);
    }
  });
});

/** The production environment's kubernetes section of the example config, as the driver gets it. */
function productionSettings(): ReturnType<typeof kubernetesSettings> {
  const prod = loadConfig(path.join(EXAMPLES, 'shipgate.yaml')).environments.find((e) => e.name === 'production')!;
  return prod.rollout!.driver.settings as ReturnType<typeof kubernetesSettings>;
}
