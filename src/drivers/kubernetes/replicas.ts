// Replica ratio (`traffic: replicas`): one Service selects the pods of both Deployments, so each
// pod gets about the same share of requests and the canary's weight is its share of the
// replicas. With 10 replicas, 10% is 1 canary + 9 stable; the weight is rounded to what the
// replica count allows (3 replicas cannot do 10%: the canary gets 1 of 3, 33%).
import { ANNOTATION, replicaSplit, selectorText, selects } from './objects.js';
import type { Kube, Traffic } from './traffic.js';

async function scale(k: Kube, name: string, replicas: number): Promise<void> {
  const d = await k.api.readDeployment(k.names.namespace, name);
  if (!d) throw k.fail(`deployment ${name} not found in namespace ${k.names.namespace}`);
  if ((d.spec.replicas ?? 1) !== replicas) await k.api.patchDeployment(k.names.namespace, name, { spec: { replicas } }, 'merge');
}

export const replicaRatio: Traffic = {
  mode: 'replicas',

  // No replica yet: any canary pod would take its share of the Service's traffic at once. A
  // deploy repeated after a crash keeps what the canary already runs.
  deployReplicas: (_total, _canaryReplicas, current) => current ?? 0,

  async prepare(k, canaryLabels) {
    // The Service in front of the pods must pick the canary's too, or the canary gets nothing.
    const svc = await k.api.readService(k.names.namespace, k.names.service);
    if (svc && svc.spec?.selector && !selects(svc.spec.selector, canaryLabels)) {
      throw k.fail(
        `service ${k.names.service} does not select the canary's pods (its selector: ${selectorText(svc.spec.selector)}; canary pods: ${selectorText(canaryLabels)}): with traffic: replicas one Service selects both tracks, so leave ${k.trackLabel} out of its selector`,
      );
    }
  },

  async setWeight(k, weight, total) {
    const split = replicaSplit(total, weight);
    const canary = await k.api.readDeployment(k.names.namespace, k.names.canary);
    // Grow before shrinking, so the service never runs fewer replicas than it should.
    if (split.canary >= (canary?.spec.replicas ?? 0)) {
      await scale(k, k.names.canary, split.canary);
      await k.ready(k.names.canary);
      await scale(k, k.names.stable, split.stable);
      await k.ready(k.names.stable);
    } else {
      await scale(k, k.names.stable, split.stable);
      await k.ready(k.names.stable);
      await scale(k, k.names.canary, split.canary);
      await k.ready(k.names.canary);
    }
  },

  // The Deployments are the route: the driver scales them (rollback, finalize).
  async toStable() {},

  async observe(_k, stable, canary, total) {
    const c = canary?.metadata.annotations?.[ANNOTATION.version] ? (canary.spec.replicas ?? 0) : 0;
    const s = stable.spec.replicas ?? 0;
    const weight = c + s === 0 ? 0 : Math.round((100 * c) / (c + s));
    const asked = canary?.metadata.annotations?.[ANNOTATION.weight];
    return {
      weight,
      detail: `${c} of ${c + s} replicas run the canary: about ${weight}% of requests${asked !== undefined ? ` for the ${asked}% asked` : ''} (replica ratio: the weight is rounded to what ${total} replicas allow)`,
    };
  },
};

