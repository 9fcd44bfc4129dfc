// ingress-nginx (`traffic: ingress-nginx`): a canary Ingress beside the stable one, with the same
// hosts and paths sending to the canary Service, marked `nginx.ingress.kubernetes.io/canary:
// "true"`; its `canary-weight` annotation is the canary's percentage. Weight 0 keeps the canary
// Ingress (turning `canary` off would make it a second, competing Ingress for the same host).
import { KubeApiError } from './api.js';
import { canaryIngress, ingressSendsTo, ingressWeight, NGINX_CANARY, NGINX_CANARY_WEIGHT, sameJson } from './objects.js';
import { ensureServices } from './services.js';
import type { Kube, Traffic } from './traffic.js';

async function setCanaryWeight(k: Kube, weight: number): Promise<void> {
  const { namespace, canaryIngress: name } = k.names;
  const current = await k.api.readIngress(namespace, name);
  if (!current) throw k.fail(`ingress ${name} not found in namespace ${namespace} (it is made when the canary is deployed)`);
  const a = current.metadata.annotations ?? {};
  if (a[NGINX_CANARY] === 'true' && a[NGINX_CANARY_WEIGHT] === String(weight)) return;
  // Annotation values are strings: "10", never 10.
  await k.api.patchIngress(namespace, name, { metadata: { annotations: { [NGINX_CANARY]: 'true', [NGINX_CANARY_WEIGHT]: String(weight) } } });
}

export const ingressNginx: Traffic = {
  mode: 'ingress-nginx',
  deployReplicas: (total, canaryReplicas) => canaryReplicas ?? total,

  async prepare(k, canaryLabels) {
    await ensureServices(k, canaryLabels, 'ingress-nginx');
    const { namespace, ingress, canaryIngress: name, service, canaryService } = k.names;
    const stable = await k.api.readIngress(namespace, ingress);
    if (!stable) throw k.fail(`ingress ${ingress} not found in namespace ${namespace}: with traffic: ingress-nginx the canary Ingress is made from the stable one`);
    if (!ingressSendsTo(stable, service)) throw k.fail(`ingress ${ingress} sends nothing to service ${service}`);
    const desired = canaryIngress(stable, { name, stableService: service, canaryService, weight: 0 });
    const current = await k.api.readIngress(namespace, name);
    if (!current) {
      try {
        await k.api.createIngress(namespace, desired);
        return;
      } catch (err) {
        if (!(err instanceof KubeApiError && err.status === 409)) throw err;
      }
    }
    const fresh = current ?? (await k.api.readIngress(namespace, name))!;
    const a = fresh.metadata.annotations ?? {};
    const rulesMatch = sameJson(fresh.spec?.rules ?? [], desired.spec?.rules ?? []) && fresh.spec?.ingressClassName === desired.spec?.ingressClassName;
    if (rulesMatch && a[NGINX_CANARY] === 'true' && a[NGINX_CANARY_WEIGHT] === '0') return;
    // Hosts and paths follow the stable Ingress; merge patch replaces the rules list whole.
    await k.api.patchIngress(namespace, name, { metadata: { annotations: desired.metadata.annotations }, spec: { ingressClassName: desired.spec?.ingressClassName ?? null, rules: desired.spec?.rules } });
  },

  setWeight: (k, weight) => setCanaryWeight(k, weight),

  async toStable(k) {
    if (await k.api.readIngress(k.names.namespace, k.names.canaryIngress)) await setCanaryWeight(k, 0);
  },

  async observe(k) {
    const ing = await k.api.readIngress(k.names.namespace, k.names.canaryIngress);
    const weight = ingressWeight(ing);
    return { weight, detail: ing ? `ingress ${k.names.canaryIngress}: canary-weight ${ing.metadata.annotations?.[NGINX_CANARY_WEIGHT] ?? 'unset'}` : `no ingress ${k.names.canaryIngress}: no canary traffic` };
  },
};
