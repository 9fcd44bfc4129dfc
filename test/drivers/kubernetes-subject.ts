// The kubernetes driver's contract subject, against a mock Kubernetes API server (no cluster
// runs here; see test/support/fake-kube.ts): replica-ratio mode in namespace `shop`, with the
// stable Deployment `web` (10 replicas) that a team would have applied first. The target is
// looked at in the objects the fake holds, not through the driver: the stable Deployment's
// shipgate.dev/version, the canary Deployment's, and the weight its replicas make. The refusing
// driver points at a namespace that does not exist, so its deploy gets the API server's 404.
import fs from 'node:fs';
import path from 'node:path';
import type { Driver, RolloutContext } from '../../src/drivers/driver.js';
import { KubernetesDriver } from '../../src/drivers/kubernetes/driver.js';
import { kubernetesSettings } from '../../src/drivers/kubernetes/index.js';
import { tempDir } from '../support/databases.js';
import { FakeKube } from '../support/fake-kube.js';
import type { Subject, TargetView } from './subject.js';

const NS = 'shop';

export function kubernetesSubject(): Subject {
  const dir = tempDir('shipgate-contract-kubernetes-');
  const kubeconfig = path.join(dir, 'kubeconfig');
  const fake = new FakeKube({ token: 'contract-token', namespaces: [NS] });
  const started = fake.start().then(() => {
    fake.kubeconfig(kubeconfig);
    fake.seed({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web', namespace: NS, labels: { app: 'web' } },
      spec: {
        replicas: 10,
        selector: { matchLabels: { app: 'web', track: 'stable' } },
        template: {
          metadata: { labels: { app: 'web', track: 'stable' } },
          spec: { containers: [{ name: 'web', image: `registry.example.com/web@sha256:${'0'.repeat(64)}` }] },
        },
      },
    });
    fake.seed({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: NS }, spec: { selector: { app: 'web' }, ports: [{ port: 80, targetPort: 8080 }] } });
  });
  const make = (namespace: string) => () => new KubernetesDriver({ ...kubernetesSettings({ traffic: 'replicas', kubeconfig, namespace, timeout: '20s' }, dir), pollMs: 20 });
  return {
    driver: once(started, make(NS)),
    look: async (c: RolloutContext): Promise<TargetView> => {
      await started;
      const stable = fake.get('deployments', NS, 'web');
      const canary = fake.get('deployments', NS, `${c.service}-canary`);
      const version = (d: typeof stable) => (d?.metadata.annotations?.['shipgate.dev/version'] as string | undefined) ?? null;
      const c_ = version(canary) ? (canary!.spec.replicas as number) : 0;
      const s_ = (stable?.spec.replicas as number) ?? 0;
      return { stable: s_ > 0 ? version(stable) : null, canary: version(canary), weight: c_ + s_ ? Math.round((100 * c_) / (c_ + s_)) : 0 };
    },
    refusing: () => once(started, make('no-such-namespace')),
    close: async () => {
      await fake.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The driver, made once the fake listens (the contract calls it right away). */
function once(started: Promise<void>, make: () => KubernetesDriver): Driver {
  let made: KubernetesDriver | null = null;
  const d = async () => {
    await started;
    return (made ??= make());
  };
  return {
    kind: 'kubernetes',
    deploy: async (c) => (await d()).deploy(c),
    setWeight: async (c, w) => (await d()).setWeight(c, w),
    promote: async (c) => (await d()).promote(c),
    finalize: async (c) => (await d()).finalize(c),
    rollback: async (c) => (await d()).rollback(c),
    urls: (c) => made?.urls(c) ?? { canary: null, stable: null },
    observe: async (c) => (await d()).observe(c),
  };
}
