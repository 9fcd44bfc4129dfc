// The two Services the routing modes need: the user's stable one, which must select stable
// pods only (or the route's weights would be wrong), and the canary one beside it, made from
// the stable one when it does not exist.
import { KubeApiError } from './api.js';
import { canaryService, selectorText, selects } from './objects.js';
import type { Kube } from './traffic.js';

export async function ensureServices(k: Kube, canaryLabels: Record<string, string>, mode: string): Promise<void> {
  const { namespace, service, canaryService: canaryName } = k.names;
  const stable = await k.api.readService(namespace, service);
  if (!stable) throw k.fail(`service ${service} not found in namespace ${namespace}: with traffic: ${mode} the stable Service must exist (the route sends to it)`);
  if (selects(stable.spec?.selector, canaryLabels)) {
    throw k.fail(
      `service ${service} selects the canary's pods too (its selector: ${selectorText(stable.spec?.selector)}): with traffic: ${mode} only the route may split traffic; add ${k.trackLabel}: stable to the stable Deployment's pod labels and to the Service's selector`,
    );
  }
  const existing = await k.api.readService(namespace, canaryName);
  if (existing) {
    if (!selects(existing.spec?.selector, canaryLabels)) {
      throw k.fail(`service ${canaryName} does not select the canary's pods (its selector: ${selectorText(existing.spec?.selector)}; canary pods: ${selectorText(canaryLabels)})`);
    }
    return;
  }
  try {
    await k.api.createService(namespace, canaryService(stable, canaryName, k.trackLabel));
  } catch (err) {
    // Made meanwhile by another replica of shipgate: as good.
    if (!(err instanceof KubeApiError && err.status === 409)) throw err;
  }
}
