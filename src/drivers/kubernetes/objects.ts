// The Kubernetes objects the driver reads and writes, as plain JSON, and the pure rules over
// them: the canary Deployment made from the stable one, the replica split of a weight, whether
// a Deployment has finished rolling out (and if not, what it waits for), the weights of an
// HTTPRoute and of an ingress-nginx canary Ingress. No I/O here.

/** The annotations and labels shipgate puts on the objects it manages. */
export const ANNOTATION = {
  version: 'shipgate.dev/version',
  digest: 'shipgate.dev/digest',
  deployment: 'shipgate.dev/deployment',
  weight: 'shipgate.dev/weight',
  /** On the stable Deployment, replica-ratio mode: how many replicas the service runs in all. */
  replicas: 'shipgate.dev/replicas',
  /** On the stable Deployment after a promotion: what it ran before, for a rollback. */
  previousImage: 'shipgate.dev/previous-image',
  previousVersion: 'shipgate.dev/previous-version',
} as const;
export const MANAGED_BY = { 'app.kubernetes.io/managed-by': 'shipgate' };
export const NGINX_CANARY = 'nginx.ingress.kubernetes.io/canary';
export const NGINX_CANARY_WEIGHT = 'nginx.ingress.kubernetes.io/canary-weight';

export interface Meta {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  resourceVersion?: string;
  generation?: number;
  [k: string]: unknown;
}

export interface Container {
  name: string;
  image?: string;
  [k: string]: unknown;
}

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: unknown[];
}

export interface PodTemplate {
  metadata?: { labels?: Record<string, string>; annotations?: Record<string, string>; [k: string]: unknown };
  spec?: { containers: Container[]; [k: string]: unknown };
}

export interface DeploymentCondition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}

export interface Deployment {
  apiVersion?: string;
  kind?: string;
  metadata: Meta;
  spec: {
    replicas?: number;
    selector: LabelSelector;
    template: PodTemplate;
    [k: string]: unknown;
  };
  status?: {
    observedGeneration?: number;
    replicas?: number;
    updatedReplicas?: number;
    readyReplicas?: number;
    availableReplicas?: number;
    unavailableReplicas?: number;
    conditions?: DeploymentCondition[];
  };
}

export interface Service {
  apiVersion?: string;
  kind?: string;
  metadata: Meta;
  spec?: { selector?: Record<string, string>; ports?: Record<string, unknown>[]; type?: string; [k: string]: unknown };
}

export interface IngressBackend {
  service?: { name: string; port?: { number?: number; name?: string } };
  [k: string]: unknown;
}

export interface Ingress {
  apiVersion?: string;
  kind?: string;
  metadata: Meta;
  spec?: {
    ingressClassName?: string;
    defaultBackend?: IngressBackend;
    rules?: { host?: string; http?: { paths: { path?: string; pathType?: string; backend: IngressBackend }[] } }[];
    [k: string]: unknown;
  };
}

export interface BackendRef {
  name: string;
  namespace?: string;
  kind?: string;
  group?: string;
  port?: number;
  weight?: number;
  [k: string]: unknown;
}

export interface HttpRoute {
  apiVersion?: string;
  kind?: string;
  metadata: Meta;
  spec?: { rules?: { backendRefs?: BackendRef[]; [k: string]: unknown }[]; [k: string]: unknown };
}

// ---- images ---------------------------------------------------------------------------------

const DIGEST = /^sha256:[0-9a-f]{64}$/;

export function isDigest(d: string): boolean {
  return DIGEST.test(d);
}

/** The repository of an image reference: `reg:5000/team/web:1.2@sha256:…` → `reg:5000/team/web`. */
export function repositoryOf(image: string): string {
  const noDigest = image.split('@')[0];
  const slash = noDigest.lastIndexOf('/');
  const colon = noDigest.lastIndexOf(':');
  return colon > slash ? noDigest.slice(0, colon) : noDigest;
}

/** The digest of an image reference pinned by digest, or null. */
export function digestOf(image: string | undefined): string | null {
  const at = image?.lastIndexOf('@') ?? -1;
  return at >= 0 && image ? image.slice(at + 1) : null;
}

// ---- the canary Deployment ------------------------------------------------------------------

/** The container a version's image goes into: the one named, else the only one, else the one
 * named like the Deployment. */
export function pickContainer(d: Deployment, named: string | null): { index: number } | { problem: string } {
  const cs = d.spec.template.spec?.containers ?? [];
  const names = cs.map((c) => c.name).join(', ');
  if (named) {
    const index = cs.findIndex((c) => c.name === named);
    return index >= 0 ? { index } : { problem: `deployment ${d.metadata.name} has no container named ${named} (it has: ${names || 'none'})` };
  }
  if (cs.length === 1) return { index: 0 };
  const index = cs.findIndex((c) => c.name === d.metadata.name);
  if (index >= 0) return { index };
  return { problem: `deployment ${d.metadata.name} has ${cs.length} containers (${names}); say which one gets the release's image with rollout.kubernetes.container` };
}

export interface CanarySpec {
  name: string;
  image: string;
  container: number;
  trackLabel: string;
  replicas: number;
  annotations: Record<string, string>;
}

/** The canary Deployment: the stable one's pod template with the release's image, its pods
 * labelled `<track>: canary` (and selected by that label, so the two Deployments never claim
 * each other's pods). Everything else (probes, resources, env) is the stable's, so the canary
 * differs from stable by its version only. */
export function canaryDeployment(stable: Deployment, c: CanarySpec): Deployment {
  const template = structuredClone(stable.spec.template);
  template.metadata = { ...template.metadata, labels: { ...template.metadata?.labels, [c.trackLabel]: 'canary' } };
  delete template.metadata.creationTimestamp;
  const containers = template.spec!.containers.map((x, i) => (i === c.container ? { ...x, image: c.image } : x));
  template.spec = { ...template.spec, containers };
  const keep = (k: string) => stable.spec[k] !== undefined && { [k]: stable.spec[k] };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name: c.name,
      namespace: stable.metadata.namespace,
      labels: { ...withoutKey(stable.metadata.labels, c.trackLabel), [c.trackLabel]: 'canary', ...MANAGED_BY },
      annotations: c.annotations,
    },
    spec: {
      replicas: c.replicas,
      selector: {
        ...stable.spec.selector,
        matchLabels: { ...stable.spec.selector.matchLabels, [c.trackLabel]: 'canary' },
      },
      template,
      ...keep('minReadySeconds'),
      ...keep('progressDeadlineSeconds'),
      ...keep('strategy'),
      ...keep('revisionHistoryLimit'),
    },
  };
}

/** Whether `current` already is `desired` in what shipgate sets (so no write is needed). */
export function sameCanary(current: Deployment, desired: Deployment): boolean {
  const ann = desired.metadata.annotations ?? {};
  return (
    (current.spec.replicas ?? 1) === desired.spec.replicas &&
    Object.entries(ann).every(([k, v]) => current.metadata.annotations?.[k] === v) &&
    sameJson(pick(current.spec.template), pick(desired.spec.template))
  );
}

function pick(t: PodTemplate): unknown {
  return { labels: t.metadata?.labels ?? {}, annotations: t.metadata?.annotations ?? {}, containers: t.spec?.containers.map((c) => ({ name: c.name, image: c.image })) };
}

function withoutKey(m: Record<string, string> | undefined, key: string): Record<string, string> {
  const out = { ...m };
  delete out[key];
  return out;
}

export function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(sortKeys(a)) === JSON.stringify(sortKeys(b));
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === 'object' && !(v instanceof Date)) {
    return Object.fromEntries(
      Object.keys(v)
        .sort()
        .map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]),
    );
  }
  return v;
}

/** Whether a Service's selector picks pods with these labels. */
export function selects(selector: Record<string, string> | undefined, labels: Record<string, string> | undefined): boolean {
  if (!selector || !Object.keys(selector).length) return false;
  return Object.entries(selector).every(([k, v]) => labels?.[k] === v);
}

export function selectorText(selector: Record<string, string> | undefined): string {
  return Object.entries(selector ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}

// ---- replica ratio --------------------------------------------------------------------------

export interface ReplicaSplit {
  canary: number;
  stable: number;
  /** The canary's real share of the replicas, in percent (what traffic gets, roughly). */
  weight: number;
}

/** How `total` replicas split for a canary weight: the canary gets its share rounded, at least
 * one replica while the weight is above 0 and stable keeps at least one below 100. With one
 * replica there is nothing to split: the canary runs one beside it (half the pods). */
export function replicaSplit(total: number, weight: number): ReplicaSplit {
  if (weight <= 0) return { canary: 0, stable: total, weight: 0 };
  if (weight >= 100) return { canary: total, stable: 0, weight: 100 };
  if (total <= 1) return { canary: 1, stable: 1, weight: 50 };
  const canary = Math.min(total - 1, Math.max(1, Math.round((total * weight) / 100)));
  return { canary, stable: total - canary, weight: Math.round((100 * canary) / total) };
}

// ---- rollout status -------------------------------------------------------------------------

export type Progress = { done: true } | { done: false; waiting: string; failed: boolean };

/** Whether a Deployment has finished rolling out: the controller has seen its latest spec, and
 * every wanted replica is updated, ready and available with no old ones left — the conditions
 * `kubectl rollout status` waits for. A progress deadline exceeded is a failure at once. */
export function rolloutProgress(d: Deployment): Progress {
  const want = d.spec.replicas ?? 1;
  const s = d.status ?? {};
  const generation = d.metadata.generation ?? 0;
  const observed = s.observedGeneration ?? 0;
  const progressing = s.conditions?.find((c) => c.type === 'Progressing');
  if (observed >= generation && progressing?.reason === 'ProgressDeadlineExceeded') {
    return { done: false, failed: true, waiting: `progress deadline exceeded: ${progressing.message ?? ''}`.trim() };
  }
  if (observed < generation) return { done: false, failed: false, waiting: `the deployment controller has not seen generation ${generation} yet (observed ${observed})` };
  const updated = s.updatedReplicas ?? 0;
  const ready = s.readyReplicas ?? 0;
  const available = s.availableReplicas ?? 0;
  const total = s.replicas ?? 0;
  const why = (text: string) => {
    const unavailable = s.conditions?.find((c) => c.type === 'Available' && c.status !== 'True');
    return { done: false as const, failed: false, waiting: unavailable?.message ? `${text} (${unavailable.message})` : text };
  };
  if (updated < want) return why(`${updated} of ${want} replicas updated, ${ready} ready`);
  if (total > updated) return why(`${total - updated} old replicas pending termination`);
  if (ready < want) return why(`${ready} of ${want} updated replicas ready`);
  if (available < want) return why(`${available} of ${want} updated replicas available`);
  return { done: true };
}

// ---- routes ---------------------------------------------------------------------------------

function refersTo(ref: BackendRef, service: string, namespace: string): boolean {
  return ref.name === service && (ref.kind ?? 'Service') === 'Service' && (ref.group ?? '') === '' && (ref.namespace ?? namespace) === namespace;
}

/** The rules of an HTTPRoute that send to the stable Service (by index). */
export function stableRules(route: HttpRoute, stable: string, namespace: string): number[] {
  return (route.spec?.rules ?? []).flatMap((r, i) => ((r.backendRefs ?? []).some((b) => refersTo(b, stable, namespace)) ? [i] : []));
}

/** The route's rules with `weight`% to the canary Service and the rest to stable, in every rule
 * that sends to stable; weight 0 takes the canary's backendRef out (the route as it was). */
export function weightedRules(route: HttpRoute, names: { stable: string; canary: string; namespace: string }, weight: number): NonNullable<HttpRoute['spec']>['rules'] {
  return (route.spec?.rules ?? []).map((rule) => {
    const refs = rule.backendRefs ?? [];
    if (!refs.some((b) => refersTo(b, names.stable, names.namespace))) return rule;
    const out: BackendRef[] = [];
    for (const b of refs) {
      if (refersTo(b, names.canary, names.namespace)) continue;
      if (!refersTo(b, names.stable, names.namespace)) out.push(b);
      else {
        out.push({ ...b, weight: 100 - weight });
        if (weight > 0) out.push({ ...b, name: names.canary, weight });
      }
    }
    return { ...rule, backendRefs: out };
  });
}

/** The canary's share in the first rule that sends to stable, in percent. */
export function routeWeight(route: HttpRoute, names: { stable: string; canary: string; namespace: string }): number {
  for (const rule of route.spec?.rules ?? []) {
    const refs = rule.backendRefs ?? [];
    const s = refs.find((b) => refersTo(b, names.stable, names.namespace));
    if (!s) continue;
    const c = refs.find((b) => refersTo(b, names.canary, names.namespace));
    const cw = c ? (c.weight ?? 1) : 0;
    const sw = s.weight ?? 1;
    return cw + sw === 0 ? 0 : Math.round((100 * cw) / (cw + sw));
  }
  return 0;
}

/** A canary Service for routing modes: the stable Service's ports, selecting canary pods. */
export function canaryService(stable: Service, name: string, trackLabel: string): Service {
  const ports = (stable.spec?.ports ?? []).map(({ nodePort: _n, ...p }) => p);
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace: stable.metadata.namespace, labels: { ...withoutKey(stable.metadata.labels, trackLabel), [trackLabel]: 'canary', ...MANAGED_BY } },
    spec: { type: 'ClusterIP', selector: { ...stable.spec?.selector, [trackLabel]: 'canary' }, ports },
  };
}

/** The ingress-nginx canary Ingress: the stable Ingress's class and rules, each path sending
 * to the canary Service, with the canary annotations. */
export function canaryIngress(stable: Ingress, c: { name: string; stableService: string; canaryService: string; weight: number }): Ingress {
  const swap = (b: IngressBackend): IngressBackend => (b.service?.name === c.stableService ? { ...b, service: { ...b.service, name: c.canaryService } } : b);
  const rules = (stable.spec?.rules ?? []).map((r) => (r.http ? { ...r, http: { paths: r.http.paths.map((p) => ({ ...p, backend: swap(p.backend) })) } } : r));
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: {
      name: c.name,
      namespace: stable.metadata.namespace,
      labels: { ...MANAGED_BY },
      annotations: { [NGINX_CANARY]: 'true', [NGINX_CANARY_WEIGHT]: String(c.weight) },
    },
    spec: {
      ...(stable.spec?.ingressClassName ? { ingressClassName: stable.spec.ingressClassName } : {}),
      ...(stable.spec?.defaultBackend ? { defaultBackend: swap(stable.spec.defaultBackend) } : {}),
      rules,
    },
  };
}

/** Whether an Ingress sends anything to this Service. */
export function ingressSendsTo(ing: Ingress, service: string): boolean {
  return ing.spec?.defaultBackend?.service?.name === service || (ing.spec?.rules ?? []).some((r) => r.http?.paths.some((p) => p.backend.service?.name === service));
}

/** The canary weight an ingress-nginx canary Ingress gives, in percent (0 when not a canary). */
export function ingressWeight(ing: Ingress | null): number {
  const a = ing?.metadata.annotations ?? {};
  if (a[NGINX_CANARY] !== 'true') return 0;
  const w = Number.parseInt(a[NGINX_CANARY_WEIGHT] ?? '0', 10);
  const total = Number.parseInt(a['nginx.ingress.kubernetes.io/canary-weight-total'] ?? '100', 10);
  return Number.isFinite(w) && total > 0 ? Math.round((100 * w) / total) : 0;
}
