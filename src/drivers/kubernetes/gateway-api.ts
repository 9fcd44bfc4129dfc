// Gateway API (`traffic: gateway-api`): the HTTPRoute's rules that send to the stable Service get
// two weighted backendRefs, stable 100-w and canary w. The route is a custom resource, so it is
// changed by a JSON merge patch of its rules carrying the resourceVersion it was read at: a
// change made meanwhile (someone's kubectl apply) is a 409, and the patch is made again on the
// fresh route instead of overwriting it.
import { KubeApiError } from './api.js';
import { routeWeight, stableRules, weightedRules } from './objects.js';
import { ensureServices } from './services.js';
import type { Kube, Traffic } from './traffic.js';

async function readRoute(k: Kube) {
  const { namespace, route, service } = k.names;
  const r = await k.api.readHttpRoute(namespace, route);
  if (!r) throw k.fail(`httproute ${route} not found in namespace ${namespace}: with traffic: gateway-api the route to the stable Service must exist`);
  if (!stableRules(r, service, namespace).length) throw k.fail(`httproute ${route} has no rule with a backendRef to service ${service}; shipgate splits the rules that send to it`);
  return r;
}

async function setRouteWeight(k: Kube, weight: number): Promise<void> {
  const names = { stable: k.names.service, canary: k.names.canaryService, namespace: k.names.namespace };
  for (let attempt = 1; ; attempt++) {
    const r = await readRoute(k);
    const rules = weightedRules(r, names, weight);
    if (JSON.stringify(rules) === JSON.stringify(r.spec?.rules)) return;
    try {
      await k.api.patchHttpRoute(k.names.namespace, k.names.route, { metadata: { resourceVersion: r.metadata.resourceVersion }, spec: { rules } });
      return;
    } catch (err) {
      if (!(err instanceof KubeApiError && err.status === 409) || attempt >= 5) throw err;
    }
  }
}

export const gatewayApi: Traffic = {
  mode: 'gateway-api',
  deployReplicas: (total, canaryReplicas) => canaryReplicas ?? total,

  async prepare(k, canaryLabels) {
    await ensureServices(k, canaryLabels, 'gateway-api');
    // A canary backendRef left by an interrupted rollout would send traffic to the new version.
    await setRouteWeight(k, 0);
  },

  setWeight: (k, weight) => setRouteWeight(k, weight),
  toStable: (k) => setRouteWeight(k, 0),

  async observe(k) {
    const r = await readRoute(k);
    const names = { stable: k.names.service, canary: k.names.canaryService, namespace: k.names.namespace };
    const weight = routeWeight(r, names);
    return { weight, detail: `httproute ${k.names.route}: ${100 - weight}% to service ${k.names.service}, ${weight}% to service ${k.names.canaryService}` };
  },
};
