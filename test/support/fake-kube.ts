// A fake Kubernetes API server for tests (no Kubernetes runs here): HTTP on 127.0.0.1, in this
// process. It serves the discovery documents kubectl and @kubernetes/client-node read, and CRUD,
// PATCH (merge, strategic-merge, JSON patch) and watch for the objects the kubernetes driver
// touches: namespaces, services, deployments (with their scale subresource), ingresses and
// Gateway API httproutes, and for what the example manifests hold besides (service accounts,
// RBAC roles and bindings). It answers the way a real API server does where the driver depends
// on it: Status bodies with the API's words for 404 / 409 / 422 / 415 / 401 / 403, generation
// bumped on spec changes only, resourceVersion preconditions, zero-valued status fields left
// out. A pretend deployment controller sets each Deployment's status a little after a change:
// every replica ready, unless an image of it contains "bad" (then none ever is). Every request
// is recorded (method, path, content type, body) for tests to assert on.
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import type http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';

/** The test certificate (localhost, 127.0.0.1): the fake serves HTTPS as a real API server
 * does, and kubectl sends a bearer token over HTTPS only. Self-signed, so it is its own CA. */
export const FAKE_KUBE_CA = path.resolve(import.meta.dirname, '../fixtures/tls/cert.pem');
const FAKE_KUBE_KEY = path.resolve(import.meta.dirname, '../fixtures/tls/key.pem');

type Obj = Record<string, any>;

export interface RecordedRequest {
  method: string;
  /** Path without the query string. */
  path: string;
  query: URLSearchParams;
  contentType: string | null;
  /** The parsed JSON body, or the raw text when it was not JSON; null without a body. */
  body: unknown;
  status: number;
  userAgent: string;
}

interface ResourceType {
  group: string;
  version: string;
  plural: string;
  singular: string;
  kind: string;
  namespaced: boolean;
  shortNames: string[];
  /** A custom resource: no strategic merge patch, CRD-style validation messages. */
  crd: boolean;
  scale: boolean;
  status: boolean;
  validate(obj: Obj, old: Obj | null): string[];
}

/** An RBAC Role's rule, as in a Role manifest. */
export interface PolicyRule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
}

/** A rule that makes the fake refuse a verb on a resource, as RBAC would. */
export interface Forbidden {
  verb: 'get' | 'list' | 'watch' | 'create' | 'update' | 'patch' | 'delete';
  resource: string;
}

export interface FakeKubeOptions {
  /** Bearer token every request must carry; absent: no authentication. */
  token?: string;
  /** Namespaces that exist from the start (besides default and kube-system). */
  namespaces?: string[];
  /** How long the pretend controller takes to report a Deployment's new state. */
  settleMs?: number;
}

const UID_USER = 'system:serviceaccount:shipgate:shipgate';

const NAME_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_NAME_RE = /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)$/;
const LABEL_VALUE_RE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

function labelProblems(labels: unknown, at: string): string[] {
  if (labels === undefined || labels === null) return [];
  const out: string[] = [];
  for (const [k, v] of Object.entries(labels as Obj)) {
    const name = k.includes('/') ? k.slice(k.indexOf('/') + 1) : k;
    if (!LABEL_NAME_RE.test(name) || name.length > 63) out.push(`${at}: Invalid value: "${k}": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character`);
    if (typeof v === 'string' && (!LABEL_VALUE_RE.test(v) || v.length > 63)) {
      out.push(`${at}: Invalid value: "${v}": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character`);
    }
  }
  return out;
}

function selectorMatches(selector: Obj | undefined, labels: Obj | undefined): boolean {
  const l = labels ?? {};
  const want = selector?.matchLabels ?? {};
  const exprs: Obj[] = selector?.matchExpressions ?? [];
  return (
    Object.entries(want).every(([k, v]) => l[k] === v) &&
    exprs.every((e) => {
      switch (e.operator) {
        case 'In':
          return (e.values ?? []).includes(l[e.key]);
        case 'NotIn':
          return !(e.values ?? []).includes(l[e.key]);
        case 'Exists':
          return e.key in l;
        case 'DoesNotExist':
          return !(e.key in l);
        default:
          return false;
      }
    })
  );
}

function validateDeployment(d: Obj, old: Obj | null): string[] {
  const out: string[] = [];
  const spec = d.spec ?? {};
  if (spec.replicas !== undefined && (!Number.isInteger(spec.replicas) || spec.replicas < 0)) out.push(`spec.replicas: Invalid value: ${JSON.stringify(spec.replicas)}: must be greater than or equal to 0`);
  if (!spec.selector) out.push('spec.selector: Required value');
  else if (!selectorMatches(spec.selector, spec.template?.metadata?.labels)) {
    out.push('spec.template.metadata.labels: Invalid value: map[string]string{...}: `selector` does not match template `labels`');
  }
  if (old && JSON.stringify(old.spec?.selector) !== JSON.stringify(spec.selector)) out.push('spec.selector: Invalid value: v1.LabelSelector{...}: field is immutable');
  out.push(...labelProblems(spec.template?.metadata?.labels, 'spec.template.metadata.labels'));
  const containers: Obj[] = spec.template?.spec?.containers ?? [];
  if (!containers.length) out.push('spec.template.spec.containers: Required value');
  containers.forEach((c, i) => {
    if (!c.name) out.push(`spec.template.spec.containers[${i}].name: Required value`);
    if (typeof c.image !== 'string' || !c.image.trim()) out.push(`spec.template.spec.containers[${i}].image: Required value`);
    else if (/@sha256:/.test(c.image) && !/@sha256:[0-9a-f]{64}$/.test(c.image)) out.push(`spec.template.spec.containers[${i}].image: Invalid value: "${c.image}": invalid reference format`);
    else if (/^@|^:|\s/.test(c.image)) out.push(`spec.template.spec.containers[${i}].image: Invalid value: "${c.image}": invalid reference format`);
  });
  return out;
}

function validateService(s: Obj, old: Obj | null): string[] {
  const out: string[] = [];
  const ports: Obj[] = s.spec?.ports ?? [];
  if (!ports.length && s.spec?.type !== 'ExternalName') out.push('spec.ports: Required value');
  ports.forEach((p, i) => {
    if (!Number.isInteger(p.port) || p.port < 1 || p.port > 65535) out.push(`spec.ports[${i}].port: Invalid value: ${JSON.stringify(p.port)}: must be between 1 and 65535, inclusive`);
  });
  if (old && s.spec?.clusterIP && old.spec?.clusterIP && s.spec.clusterIP !== old.spec.clusterIP) out.push(`spec.clusterIPs[0]: Invalid value: []string{"${s.spec.clusterIP}"}: may not change once set`);
  return out;
}

function validateIngress(ing: Obj): string[] {
  const out: string[] = [];
  (ing.spec?.rules ?? []).forEach((r: Obj, i: number) =>
    (r.http?.paths ?? []).forEach((p: Obj, j: number) => {
      const at = `spec.rules[${i}].http.paths[${j}]`;
      if (!p.pathType) out.push(`${at}.pathType: Required value: pathType must be specified`);
      if (!p.backend?.service?.name && !p.backend?.resource) out.push(`${at}.backend: Invalid value: "": resource or service backend is required`);
      if (p.backend?.service && !p.backend.service.port) out.push(`${at}.backend.service.port: Invalid value: "": port name or number is required`);
    }),
  );
  if (!ing.spec?.rules?.length && !ing.spec?.defaultBackend) out.push('spec: Invalid value: "": either `defaultBackend` or `rules` must be specified');
  return out;
}

function validateHttpRoute(r: Obj): string[] {
  const out: string[] = [];
  (r.spec?.rules ?? []).forEach((rule: Obj, i: number) => {
    const refs: Obj[] = rule.backendRefs ?? [];
    if (refs.length > 16) out.push(`spec.rules[${i}].backendRefs: Too many: ${refs.length}: must have at most 16 items`);
    refs.forEach((b, j) => {
      const at = `spec.rules[${i}].backendRefs[${j}]`;
      if (!b.name) out.push(`${at}.name: Required value`);
      if (b.weight !== undefined) {
        if (!Number.isInteger(b.weight)) out.push(`${at}.weight: Invalid value: "${typeof b.weight}": ${at}.weight in body must be of type integer: "${typeof b.weight}"`);
        else if (b.weight < 0) out.push(`${at}.weight: Invalid value: ${b.weight}: ${at}.weight in body should be greater than or equal to 0`);
        else if (b.weight > 1_000_000) out.push(`${at}.weight: Invalid value: ${b.weight}: ${at}.weight in body should be less than or equal to 1000000`);
      }
    });
  });
  return out;
}

const none = () => [];

const TYPES: ResourceType[] = [
  { group: '', version: 'v1', plural: 'namespaces', singular: 'namespace', kind: 'Namespace', namespaced: false, shortNames: ['ns'], crd: false, scale: false, status: true, validate: none },
  { group: '', version: 'v1', plural: 'serviceaccounts', singular: 'serviceaccount', kind: 'ServiceAccount', namespaced: true, shortNames: ['sa'], crd: false, scale: false, status: false, validate: none },
  { group: 'rbac.authorization.k8s.io', version: 'v1', plural: 'roles', singular: 'role', kind: 'Role', namespaced: true, shortNames: [], crd: false, scale: false, status: false, validate: none },
  { group: 'rbac.authorization.k8s.io', version: 'v1', plural: 'rolebindings', singular: 'rolebinding', kind: 'RoleBinding', namespaced: true, shortNames: [], crd: false, scale: false, status: false, validate: none },
  { group: '', version: 'v1', plural: 'services', singular: 'service', kind: 'Service', namespaced: true, shortNames: ['svc'], crd: false, scale: false, status: true, validate: validateService },
  { group: 'apps', version: 'v1', plural: 'deployments', singular: 'deployment', kind: 'Deployment', namespaced: true, shortNames: ['deploy'], crd: false, scale: true, status: true, validate: validateDeployment },
  { group: 'networking.k8s.io', version: 'v1', plural: 'ingresses', singular: 'ingress', kind: 'Ingress', namespaced: true, shortNames: ['ing'], crd: false, scale: false, status: true, validate: validateIngress },
  {
    group: 'gateway.networking.k8s.io',
    version: 'v1',
    plural: 'httproutes',
    singular: 'httproute',
    kind: 'HTTPRoute',
    namespaced: true,
    shortNames: [],
    crd: true,
    scale: false,
    status: true,
    validate: validateHttpRoute,
  },
];

const GROUPS = [...new Set(TYPES.filter((t) => t.group).map((t) => t.group))];
const VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];

/** `deployments.apps`, `services`, `httproutes.gateway.networking.k8s.io`: how the API names a resource in messages. */
const qualified = (t: ResourceType) => (t.group ? `${t.plural}.${t.group}` : t.plural);
const kindQualified = (t: ResourceType) => (t.group ? `${t.kind}.${t.group}` : t.kind);
const apiVersion = (t: ResourceType) => (t.group ? `${t.group}/${t.version}` : t.version);

class ApiError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly details: Obj = {},
  ) {
    super(message);
  }
}

const clone = <T>(v: T): T => (v === undefined ? v : structuredClone(v));
const isMap = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** RFC 7386 JSON merge patch. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isMap(patch)) return clone(patch);
  const out: Obj = isMap(target) ? clone(target) : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

/** The merge key of a list in a strategic merge patch, for the lists the driver and kubectl touch. */
function mergeKey(field: string, items: Obj[]): string | null {
  switch (field) {
    case 'containers':
    case 'initContainers':
    case 'ephemeralContainers':
    case 'env':
    case 'volumes':
    case 'imagePullSecrets':
      return 'name';
    case 'volumeMounts':
      return 'mountPath';
    case 'conditions':
      return 'type';
    case 'ports':
      return items.some((i) => isMap(i) && 'containerPort' in i) ? 'containerPort' : 'port';
    default:
      return null;
  }
}

/** Strategic merge patch, for the fields of built-in kinds used here: maps merge, lists with a
 * merge key (containers by name, ...) merge by that key, other lists are replaced; the `$patch`,
 * `$setElementOrder`, `$retainKeys` and `$deleteFromPrimitiveList` directives kubectl sends are understood. */
export function strategicMergePatch(target: unknown, patch: unknown): unknown {
  if (!isMap(patch)) return clone(patch);
  if (patch.$patch === 'replace') {
    const { $patch: _, ...rest } = patch;
    return clone(rest);
  }
  if (patch.$patch === 'delete') return undefined;
  const out: Obj = isMap(target) ? clone(target) : {};
  for (const [k, v] of Object.entries(patch)) {
    if (k === '$patch' || k === '$retainKeys' || k.startsWith('$setElementOrder/')) continue;
    if (k.startsWith('$deleteFromPrimitiveList/')) {
      const field = k.slice('$deleteFromPrimitiveList/'.length);
      if (Array.isArray(out[field])) out[field] = out[field].filter((x: unknown) => !(v as unknown[]).includes(x));
      continue;
    }
    if (v === null) {
      delete out[k];
      continue;
    }
    const key = Array.isArray(v) ? mergeKey(k, v) : null;
    if (Array.isArray(v) && key && Array.isArray(out[k])) {
      const list: Obj[] = clone(out[k]);
      for (const item of v as Obj[]) {
        const i = list.findIndex((x) => isMap(x) && x[key] === item[key]);
        if (item.$patch === 'delete') {
          if (i >= 0) list.splice(i, 1);
        } else if (i >= 0) list[i] = strategicMergePatch(list[i], item) as Obj;
        else list.push(strategicMergePatch({}, item) as Obj);
      }
      out[k] = list;
    } else if (Array.isArray(v)) {
      out[k] = v.map((x) => (isMap(x) ? strategicMergePatch({}, x) : clone(x)));
    } else {
      const merged = strategicMergePatch(out[k], v);
      if (merged === undefined) delete out[k];
      else out[k] = merged;
    }
  }
  if (Array.isArray(patch.$retainKeys)) {
    for (const k of Object.keys(out)) if (!patch.$retainKeys.includes(k) && !(k in patch)) delete out[k];
  }
  return out;
}

function pointer(path: string): string[] {
  if (!path.startsWith('/')) throw new ApiError(422, 'Invalid', `the JSON patch path "${path}" does not start with /`);
  return path
    .slice(1)
    .split('/')
    .map((p) => p.replaceAll('~1', '/').replaceAll('~0', '~'));
}

/** RFC 6902 JSON patch. */
export function jsonPatch(doc: unknown, ops: unknown): unknown {
  if (!Array.isArray(ops)) throw new ApiError(400, 'BadRequest', 'json: cannot unmarshal object into Go value of type jsonpatch.Patch');
  let out = clone(doc);
  const parentOf = (parts: string[]): [any, string] => {
    let cur: any = out;
    for (const p of parts.slice(0, -1)) {
      cur = Array.isArray(cur) ? cur[Number(p)] : cur?.[p];
      if (cur === undefined) throw new ApiError(422, 'Invalid', `doc is missing path: "/${parts.join('/')}": missing value`);
    }
    return [cur, parts[parts.length - 1]];
  };
  const read = (path: string) => {
    let cur: any = out;
    for (const p of pointer(path)) cur = Array.isArray(cur) ? cur[Number(p)] : cur?.[p];
    return cur;
  };
  const put = (path: string, value: unknown, replace: boolean) => {
    const parts = pointer(path);
    if (!parts.length) {
      out = value;
      return;
    }
    const [parent, last] = parentOf(parts);
    if (Array.isArray(parent)) {
      const i = last === '-' ? parent.length : Number(last);
      if (replace) parent[i] = value;
      else parent.splice(i, 0, value);
    } else {
      if (replace && !(last in parent)) throw new ApiError(422, 'Invalid', `replace operation does not apply: doc is missing key: ${path}: missing value`);
      parent[last] = value;
    }
  };
  const remove = (path: string) => {
    const [parent, last] = parentOf(pointer(path));
    if (Array.isArray(parent)) parent.splice(Number(last), 1);
    else {
      if (!(last in parent)) throw new ApiError(422, 'Invalid', `remove operation does not apply: doc is missing path: "${path}": missing value`);
      delete parent[last];
    }
  };
  for (const op of ops as Obj[]) {
    switch (op.op) {
      case 'add':
        put(op.path, clone(op.value), false);
        break;
      case 'replace':
        put(op.path, clone(op.value), true);
        break;
      case 'remove':
        remove(op.path);
        break;
      case 'test':
        if (JSON.stringify(read(op.path)) !== JSON.stringify(op.value)) throw new ApiError(422, 'Invalid', `the server rejected our request due to an error in our request: testing value ${op.path} failed: test failed`);
        break;
      case 'move': {
        const v = read(op.from);
        remove(op.from);
        put(op.path, v, false);
        break;
      }
      case 'copy':
        put(op.path, clone(read(op.from)), false);
        break;
      default:
        throw new ApiError(422, 'Invalid', `unexpected kind: ${String(op.op)}`);
    }
  }
  return out;
}

interface Route {
  type: ResourceType;
  namespace: string | null;
  name: string | null;
  sub: 'scale' | 'status' | null;
}

interface Watcher {
  type: ResourceType;
  namespace: string | null;
  name: string | null;
  res: http.ServerResponse;
}

export class FakeKube {
  readonly requests: RecordedRequest[] = [];
  private readonly objects = new Map<string, Obj>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly watchers = new Set<Watcher>();
  private readonly forbidden: Forbidden[] = [];
  private allowed: PolicyRule[] | null = null;
  private readonly failures: { method: string; path: RegExp; code: number; message: string; times: number }[] = [];
  private readonly hooks: { method: string; path: RegExp; fn: () => void }[] = [];
  private readonly stalls: { method: string; path: RegExp; times: number }[] = [];
  private rv = 1000;
  private server: https.Server | null = null;
  url = '';
  settleMs: number;

  constructor(private readonly opts: FakeKubeOptions = {}) {
    this.settleMs = opts.settleMs ?? 40;
    for (const ns of ['default', 'kube-system', ...(opts.namespaces ?? [])]) this.store(this.type('namespaces'), { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } }, null);
  }

  async start(): Promise<this> {
    this.server = https.createServer({ cert: fs.readFileSync(FAKE_KUBE_CA), key: fs.readFileSync(FAKE_KUBE_KEY) }, (req, res) => {
      this.handle(req, res).catch((err) => {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify(status(500, 'InternalError', String(err))));
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `https://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async close(): Promise<void> {
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    for (const w of this.watchers) w.res.end();
    this.watchers.clear();
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
    this.server = null;
  }

  /** Writes a kubeconfig for this server (with the token, if any) and returns its path. An
   * `other` context points at a port where nothing listens, to test context selection. */
  kubeconfig(file: string, opts: { namespace?: string; token?: string } = {}): string {
    const token = opts.token ?? this.opts.token;
    fs.writeFileSync(
      file,
      `apiVersion: v1
kind: Config
clusters:
  - name: fake
    cluster: { server: "${this.url}", certificate-authority: "${FAKE_KUBE_CA}" }
  - name: nowhere
    cluster: { server: "https://127.0.0.1:9", certificate-authority: "${FAKE_KUBE_CA}" }
users:
  - name: shipgate
    user: ${token ? `{ token: "${token}" }` : '{}'}
contexts:
  - name: fake
    context: { cluster: fake, user: shipgate${opts.namespace ? `, namespace: ${opts.namespace}` : ''} }
  - name: other
    context: { cluster: nowhere, user: shipgate }
current-context: fake
`,
      { mode: 0o600 },
    );
    return file;
  }

  /** An object as the server holds it, or undefined. `resource`: the plural, e.g. deployments. */
  get(resource: string, namespace: string | null, name: string): Obj | undefined {
    return clone(this.objects.get(key(this.type(resource), namespace, name)));
  }

  list(resource: string, namespace: string | null): Obj[] {
    const t = this.type(resource);
    return [...this.objects.entries()].filter(([k]) => k.startsWith(`${t.plural}/${namespace ?? ''}/`)).map(([, v]) => clone(v));
  }

  /** Creates (or replaces) an object as if by a user, without a request; the controller runs on it. */
  seed(obj: Obj): Obj {
    const t = TYPES.find((x) => x.kind === obj.kind);
    if (!t) throw new Error(`the fake does not serve ${obj.kind}`);
    const ns = t.namespaced ? (obj.metadata.namespace ?? 'default') : null;
    if (ns && !this.objects.has(key(this.type('namespaces'), null, ns))) this.createNamespace(ns);
    const old = this.objects.get(key(t, ns, obj.metadata.name)) ?? null;
    const problems = t.validate(obj, null);
    if (problems.length) throw new Error(problems.join(', '));
    return this.store(t, clone(obj), old);
  }

  createNamespace(name: string): void {
    this.store(this.type('namespaces'), { apiVersion: 'v1', kind: 'Namespace', metadata: { name } }, null);
  }

  /** Makes the fake refuse a verb on a resource with 403, as RBAC would. */
  forbid(rule: Forbidden): void {
    this.forbidden.push(rule);
  }

  /** From now on, only what these Role rules allow is allowed (403 otherwise), as for a
   * service account bound to that Role; null lifts it. */
  restrictTo(rules: PolicyRule[] | null): void {
    this.allowed = rules;
  }

  /** The next `times` requests matching answer `code` with this message (e.g. a 500 from an
   * overloaded server, a webhook's denial). */
  failNext(method: string, path: RegExp, code: number, message: string, times = 1): void {
    this.failures.push({ method, path, code, message, times });
  }

  /** The next `times` requests matching are never answered, as by a hung API server. */
  stallNext(method: string, path: RegExp, times = 1): void {
    this.stalls.push({ method, path, times });
  }

  /** Runs `fn` just before the next request matching is handled, as when another client
   * changes an object between the driver's read and its write. */
  onNext(method: string, path: RegExp, fn: () => void): void {
    this.hooks.push({ method, path, fn });
  }

  /** Overwrites part of a Deployment's status, as when its pods crash. */
  setStatus(namespace: string, name: string, status: Obj): void {
    const t = this.type('deployments');
    const d = this.objects.get(key(t, namespace, name));
    if (!d) throw new Error(`no deployment ${namespace}/${name}`);
    d.status = dropZeros({ ...d.status, ...status });
    d.metadata.resourceVersion = String(++this.rv);
    this.notify(t, 'MODIFIED', d);
  }

  /** Requests that changed something (POST, PUT, PATCH, DELETE), optionally on paths matching. */
  writes(path?: RegExp): RecordedRequest[] {
    return this.requests.filter((r) => r.method !== 'GET' && (!path || path.test(r.path)));
  }

  private type(plural: string): ResourceType {
    const t = TYPES.find((x) => x.plural === plural);
    if (!t) throw new Error(`the fake does not serve ${plural}`);
    return t;
  }

  // ---- HTTP ----------------------------------------------------------------------------------

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    let body: unknown = null;
    if (raw) {
      try {
        body = JSON.parse(raw);
      } catch {
        body = raw;
      }
    }
    const record: RecordedRequest = {
      method: req.method ?? 'GET',
      path: url.pathname,
      query: url.searchParams,
      contentType: req.headers['content-type'] ?? null,
      body,
      status: 0,
      userAgent: String(req.headers['user-agent'] ?? ''),
    };
    this.requests.push(record);
    const send = (code: number, payload: unknown, type = 'application/json') => {
      record.status = code;
      res.writeHead(code, { 'content-type': type });
      res.end(typeof payload === 'string' ? payload : JSON.stringify(payload));
    };
    try {
      if (this.opts.token && req.headers.authorization !== `Bearer ${this.opts.token}`) throw new ApiError(401, 'Unauthorized', 'Unauthorized');
      const stall = this.stalls.find((x) => x.method === record.method && x.path.test(url.pathname) && x.times > 0);
      if (stall) {
        stall.times -= 1;
        return; // no answer; the connection stays open until the client gives up or close()
      }
      const hook = this.hooks.findIndex((h) => h.method === record.method && h.path.test(url.pathname));
      if (hook >= 0) this.hooks.splice(hook, 1)[0].fn();
      const failure = this.failures.find((f) => f.method === record.method && f.path.test(url.pathname) && f.times > 0);
      if (failure) {
        failure.times -= 1;
        throw new ApiError(failure.code, reasonFor(failure.code), failure.message);
      }
      const discovery = this.discovery(url.pathname);
      if (discovery !== null) return send(200, discovery);
      const route = this.route(url.pathname);
      if (!route) throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
      if (url.searchParams.get('watch') === 'true' || url.searchParams.get('watch') === '1') return this.watch(route, url, res, record);
      const code = { value: 200 };
      const out = this.serve(route, record.method, body, record.contentType, url, code);
      return send(code.value, out);
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      return send(err.code, status(err.code, err.reason, err.message, err.details));
    }
  }

  private discovery(path: string): unknown {
    const p = path.replace(/\/$/, '');
    if (p === '/version') {
      return { major: '1', minor: '32', gitVersion: 'v1.32.0-fake', gitCommit: '0000000', gitTreeState: 'clean', buildDate: '2025-01-01T00:00:00Z', goVersion: 'go1.23', compiler: 'gc', platform: 'linux/amd64' };
    }
    if (p === '/api') return { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: this.url.replace('https://', '') }] };
    if (p === '/apis') return { kind: 'APIGroupList', apiVersion: 'v1', groups: GROUPS.map((g) => groupDoc(g)) };
    const group = /^\/apis\/([^/]+)$/.exec(p);
    if (group && GROUPS.includes(group[1])) return { kind: 'APIGroup', apiVersion: 'v1', ...groupDoc(group[1]) };
    const gv = /^\/api\/(v1)$/.exec(p) ?? /^\/apis\/([^/]+\/[^/]+)$/.exec(p);
    if (gv) {
      const [g, v] = gv[1].includes('/') ? gv[1].split('/') : ['', gv[1]];
      const types = TYPES.filter((t) => t.group === g && t.version === v);
      if (!types.length) return null;
      return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: gv[1], resources: types.flatMap(resourceDocs) };
    }
    if (p === '/openapi/v3') return { paths: Object.fromEntries(groupVersions().map((gvPath) => [gvPath, { serverRelativeURL: `/openapi/v3/${gvPath}?hash=${OPENAPI_HASH}` }])) };
    const spec = /^\/openapi\/v3\/(.+)$/.exec(p);
    if (spec) {
      const doc = openApiV3(spec[1]);
      if (doc) return doc;
    }
    // No OpenAPI v2 (kubectl reads v3 first and only falls back to v2 when v3 is missing).
    return null;
  }

  private route(path: string): Route | null {
    const parts = path.split('/').filter(Boolean);
    let g = '';
    let v = '';
    let rest: string[];
    if (parts[0] === 'api' && parts.length >= 2) {
      v = parts[1];
      rest = parts.slice(2);
    } else if (parts[0] === 'apis' && parts.length >= 3) {
      g = parts[1];
      v = parts[2];
      rest = parts.slice(3);
    } else return null;
    let namespace: string | null = null;
    if (rest[0] === 'namespaces' && rest.length >= 3) {
      namespace = rest[1];
      rest = rest.slice(2);
    }
    const type = TYPES.find((t) => t.group === g && t.version === v && t.plural === rest[0]);
    if (!type) return null;
    if (namespace !== null && !type.namespaced) return null;
    const sub = rest[2] ?? null;
    if (sub !== null && !((sub === 'scale' && type.scale) || (sub === 'status' && type.status))) return null;
    if (rest.length > 3) return null;
    return { type, namespace, name: rest[1] ?? null, sub: sub as Route['sub'] };
  }

  private checkAccess(verb: Forbidden['verb'], t: ResourceType, namespace: string | null, name: string | null): void {
    const has = (list: string[], v: string) => list.includes(v) || list.includes('*');
    const allowed = this.allowed === null || this.allowed.some((r) => has(r.apiGroups, t.group) && has(r.resources, t.plural) && has(r.verbs, verb));
    if (allowed && !this.forbidden.some((f) => f.verb === verb && f.resource === t.plural)) return;
    const subject = name ? `${qualified(t)} "${name}"` : qualified(t);
    throw new ApiError(
      403,
      'Forbidden',
      `${subject} is forbidden: User "${UID_USER}" cannot ${verb} resource "${t.plural}" in API group "${t.group}"${namespace ? ` in the namespace "${namespace}"` : ' at the cluster scope'}`,
      { name: name ?? undefined, group: t.group, kind: t.plural },
    );
  }

  private namespaceExists(ns: string): boolean {
    return this.objects.has(key(this.type('namespaces'), null, ns));
  }

  private serve(route: Route, method: string, body: unknown, contentType: string | null, url: URL, code: { value: number }): unknown {
    const { type: t, namespace: ns, name, sub } = route;
    const k = name ? key(t, ns, name) : '';
    const existing = name ? this.objects.get(k) : undefined;
    const notFound = () => new ApiError(404, 'NotFound', `${qualified(t)} "${name}" not found`, { name, group: t.group, kind: t.plural });
    const dryRun = url.searchParams.has('dryRun');
    switch (method) {
      case 'GET': {
        if (!name) {
          this.checkAccess('list', t, ns, null);
          return this.listDoc(t, ns, url);
        }
        this.checkAccess('get', t, ns, name);
        if (!existing) throw notFound();
        return sub === 'scale' ? scaleOf(existing) : clone(existing);
      }
      case 'POST': {
        if (name) throw new ApiError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
        this.checkAccess('create', t, ns, null);
        const obj = this.decode(t, body);
        if (ns && !this.namespaceExists(ns)) throw new ApiError(404, 'NotFound', `namespaces "${ns}" not found`, { name: ns, kind: 'namespaces' });
        if (!obj.metadata?.name && obj.metadata?.generateName) obj.metadata.name = `${obj.metadata.generateName}${randomUUID().slice(0, 5)}`;
        const n = obj.metadata?.name;
        if (!n) throw new ApiError(422, 'Invalid', `${t.kind} "" is invalid: metadata.name: Required value: name or generateName is required`);
        if (obj.metadata.namespace && ns && obj.metadata.namespace !== ns) {
          throw new ApiError(400, 'BadRequest', 'the namespace of the provided object does not match the namespace sent on the request');
        }
        if (this.objects.has(key(t, ns, n))) throw new ApiError(409, 'AlreadyExists', `${qualified(t)} "${n}" already exists`, { name: n, group: t.group, kind: t.plural });
        this.invalid(t, n, [...nameProblems(n), ...t.validate(obj, null)]);
        code.value = 201;
        if (dryRun) return obj;
        obj.metadata.namespace = ns ?? undefined;
        return this.store(t, obj, null);
      }
      case 'PUT': {
        if (!name) throw new ApiError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
        this.checkAccess('update', t, ns, name);
        if (!existing) throw notFound();
        let next: Obj;
        if (sub === 'scale') {
          const scale = this.decodeAny(body);
          this.precondition(t, name, existing, scale.metadata?.resourceVersion);
          next = clone(existing);
          next.spec.replicas = scale.spec?.replicas;
        } else {
          const obj = this.decode(t, body);
          if (obj.metadata?.name && obj.metadata.name !== name) throw new ApiError(400, 'BadRequest', `the name of the object (${obj.metadata.name}) does not match the name on the URL (${name})`);
          this.precondition(t, name, existing, obj.metadata?.resourceVersion);
          next = sub === 'status' ? { ...clone(existing), status: obj.status } : { ...obj, status: existing.status };
          if (sub !== 'status' && t.kind === 'Service' && !next.spec?.clusterIP && existing.spec?.clusterIP) {
            next.spec = { ...next.spec, clusterIP: existing.spec.clusterIP, clusterIPs: existing.spec.clusterIPs };
          }
        }
        this.invalid(t, name, t.validate(next, existing));
        if (dryRun) return next;
        const stored = this.store(t, next, existing);
        return sub === 'scale' ? scaleOf(stored) : stored;
      }
      case 'PATCH': {
        if (!name) throw new ApiError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
        this.checkAccess('patch', t, ns, name);
        const type = (contentType ?? '').split(';')[0].trim();
        const accepted = t.crd
          ? ['application/json-patch+json', 'application/merge-patch+json', 'application/apply-patch+yaml']
          : ['application/json-patch+json', 'application/merge-patch+json', 'application/strategic-merge-patch+json', 'application/apply-patch+yaml'];
        if (!accepted.includes(type)) {
          throw new ApiError(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: ${accepted.join(', ')}`);
        }
        if (type === 'application/apply-patch+yaml') throw new ApiError(415, 'UnsupportedMediaType', 'this fake API server does not do server-side apply; use kubectl apply --server-side=false');
        if (!existing) throw notFound();
        const base = sub === 'scale' ? scaleOf(existing) : clone(existing);
        const patched = (type === 'application/json-patch+json' ? jsonPatch(base, body) : type === 'application/merge-patch+json' ? mergePatch(base, this.decodeAny(body)) : strategicMergePatch(base, this.decodeAny(body))) as Obj;
        this.checkStrings(t, patched);
        // A resourceVersion in a patch is a precondition: the patch applies to that version only.
        const asked = (body as Obj)?.metadata?.resourceVersion;
        if (typeof asked === 'string') this.precondition(t, name, existing, asked);
        let next: Obj;
        if (sub === 'scale') {
          next = clone(existing);
          next.spec.replicas = patched.spec?.replicas;
        } else if (sub === 'status') {
          next = { ...clone(existing), status: patched.status };
        } else {
          next = { ...patched, status: existing.status };
          if (next.metadata?.name !== name) throw new ApiError(422, 'Invalid', `${kindQualified(t)} "${name}" is invalid: metadata.name: Invalid value: "${next.metadata?.name}": field is immutable`);
        }
        this.invalid(t, name, t.validate(next, existing));
        if (dryRun) return next;
        const stored = this.store(t, next, existing);
        return sub === 'scale' ? scaleOf(stored) : stored;
      }
      case 'DELETE': {
        if (!name) throw new ApiError(405, 'MethodNotAllowed', 'deleting a collection is not supported by this fake');
        this.checkAccess('delete', t, ns, name);
        if (!existing) throw notFound();
        if (dryRun) return existing;
        this.objects.delete(k);
        clearTimeout(this.timers.get(k));
        this.notify(t, 'DELETED', existing);
        return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details: { name, group: t.group, kind: t.plural, uid: existing.metadata.uid } };
      }
      default:
        throw new ApiError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
    }
  }

  private listDoc(t: ResourceType, ns: string | null, url: URL): Obj {
    const items = this.matching(t, ns, url).map((o) => clone(o));
    return { kind: `${t.kind}List`, apiVersion: apiVersion(t), metadata: { resourceVersion: String(this.rv) }, items };
  }

  private matching(t: ResourceType, ns: string | null, url: URL): Obj[] {
    const field = url.searchParams.get('fieldSelector');
    const byName = field ? /metadata\.name=([^,]+)/.exec(field)?.[1] : undefined;
    const labels = url.searchParams.get('labelSelector');
    const want = labels ? Object.fromEntries(labels.split(',').map((p) => p.split('=').filter(Boolean) as [string, string])) : {};
    return [...this.objects.entries()]
      .filter(([k]) => k.startsWith(`${t.plural}/`) && (ns === null || k.startsWith(`${t.plural}/${ns}/`)))
      .map(([, o]) => o)
      .filter((o) => (byName === undefined || o.metadata.name === byName) && Object.entries(want).every(([lk, lv]) => o.metadata.labels?.[lk] === lv));
  }

  /** A watch: events for the matching objects until the client goes or timeoutSeconds pass. */
  private watch(route: Route, url: URL, res: http.ServerResponse, record: RecordedRequest): void {
    this.checkAccess('watch', route.type, route.namespace, null);
    record.status = 200;
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    res.flushHeaders(); // a real API server answers a watch at once, events come later
    const byName = /metadata\.name=([^,]+)/.exec(url.searchParams.get('fieldSelector') ?? '')?.[1] ?? route.name;
    const w: Watcher = { type: route.type, namespace: route.namespace, name: byName ?? null, res };
    this.watchers.add(w);
    // A watch from resourceVersion 0 (or none) starts with the current objects.
    const from = url.searchParams.get('resourceVersion');
    if (!from || from === '0') for (const o of this.matching(route.type, route.namespace, url)) res.write(`${JSON.stringify({ type: 'ADDED', object: o })}\n`);
    const seconds = Number(url.searchParams.get('timeoutSeconds') ?? 300);
    const timer = setTimeout(() => res.end(), Math.min(seconds, 300) * 1000);
    res.on('close', () => {
      clearTimeout(timer);
      this.watchers.delete(w);
    });
  }

  private notify(t: ResourceType, type: string, obj: Obj): void {
    for (const w of this.watchers) {
      if (w.type !== t) continue;
      if (w.namespace !== null && w.namespace !== (obj.metadata.namespace ?? null)) continue;
      if (w.name && w.name !== obj.metadata.name) continue;
      w.res.write(`${JSON.stringify({ type, object: obj })}\n`);
    }
  }

  private decodeAny(body: unknown): Obj {
    if (!isMap(body)) throw new ApiError(400, 'BadRequest', `couldn't get version/kind; json parse error: ${typeof body === 'string' ? 'invalid character' : 'unexpected end of JSON input'}`);
    return body;
  }

  /** A full object in a request body: JSON of this kind, strings where the API wants strings. */
  private decode(t: ResourceType, body: unknown): Obj {
    const obj = clone(this.decodeAny(body));
    if (obj.kind && obj.kind !== t.kind) throw new ApiError(400, 'BadRequest', `the API version in the data (${obj.apiVersion}) does not match the expected API version (${apiVersion(t)})`);
    if (obj.apiVersion && obj.apiVersion !== apiVersion(t)) throw new ApiError(400, 'BadRequest', `the API version in the data (${obj.apiVersion}) does not match the expected API version (${apiVersion(t)})`);
    obj.apiVersion = apiVersion(t);
    obj.kind = t.kind;
    obj.metadata ??= {};
    this.checkStrings(t, obj);
    return obj;
  }

  /** Labels and annotations are maps of strings: a number there is a decoding error, as in Go. */
  private checkStrings(t: ResourceType, obj: Obj): void {
    const maps: [string, unknown][] = [
      ['metadata.labels', obj.metadata?.labels],
      ['metadata.annotations', obj.metadata?.annotations],
      ['spec.template.metadata.labels', obj.spec?.template?.metadata?.labels],
      ['spec.template.metadata.annotations', obj.spec?.template?.metadata?.annotations],
    ];
    for (const [at, m] of maps) {
      if (m === undefined || m === null) continue;
      for (const v of Object.values(m as Obj)) {
        if (typeof v !== 'string') {
          const field = at.startsWith('spec.template') ? `ObjectMeta.spec.template.${at.split('.').slice(2).join('.')}` : `ObjectMeta.${at}`;
          throw new ApiError(400, 'BadRequest', `${t.kind} in version "${t.version}" cannot be handled as a ${t.kind}: json: cannot unmarshal ${typeof v === 'number' ? 'number' : typeof v} into Go struct field ${field} of type string`);
        }
      }
    }
  }

  private precondition(t: ResourceType, name: string, existing: Obj, asked: unknown): void {
    if (typeof asked === 'string' && asked !== '' && asked !== existing.metadata.resourceVersion) {
      throw new ApiError(409, 'Conflict', `Operation cannot be fulfilled on ${qualified(t)} "${name}": the object has been modified; please apply your changes to the latest version and try again`, {
        name,
        group: t.group,
        kind: t.plural,
      });
    }
  }

  private invalid(t: ResourceType, name: string, problems: string[]): void {
    if (!problems.length) return;
    // As the API server's causes: the field apart from what is wrong with it.
    const causes = problems.map((p) => {
      const at = p.indexOf(': ');
      const message = p.slice(at + 2);
      return { reason: message.startsWith('Required value') ? 'FieldValueRequired' : 'FieldValueInvalid', message, field: p.slice(0, at) };
    });
    const list = problems.length === 1 ? problems[0] : `[${problems.join(', ')}]`;
    throw new ApiError(422, 'Invalid', `${kindQualified(t)} "${name}" is invalid: ${list}`, { name, group: t.group, kind: t.kind, causes });
  }

  /** Writes an object: defaults, uid, generation (bumped when the spec changed), resourceVersion. */
  private store(t: ResourceType, obj: Obj, old: Obj | null): Obj {
    const ns = t.namespaced ? (obj.metadata.namespace ?? old?.metadata.namespace ?? 'default') : null;
    obj.apiVersion = apiVersion(t);
    obj.kind = t.kind;
    const meta = obj.metadata;
    if (ns) meta.namespace = ns;
    else delete meta.namespace;
    meta.uid = old?.metadata.uid ?? randomUUID();
    meta.creationTimestamp = old?.metadata.creationTimestamp ?? new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    defaults(t, obj, old);
    const specChanged = !old || JSON.stringify(old.spec) !== JSON.stringify(obj.spec);
    if (t.kind !== 'Namespace' && t.kind !== 'Service') meta.generation = old ? (old.metadata.generation ?? 1) + (specChanged ? 1 : 0) : 1;
    const changed = !old || JSON.stringify({ ...old, metadata: { ...old.metadata, resourceVersion: '' } }) !== JSON.stringify({ ...obj, metadata: { ...meta, resourceVersion: '' } });
    meta.resourceVersion = changed ? String(++this.rv) : old!.metadata.resourceVersion;
    const k = key(t, ns, meta.name);
    this.objects.set(k, obj);
    if (changed) this.notify(t, old ? 'MODIFIED' : 'ADDED', obj);
    if (t.kind === 'Deployment' && specChanged) this.schedule(k);
    return clone(obj);
  }

  /** The pretend deployment controller: a little after a change, the Deployment's status says
   * what its pods do — all ready, or (an image with "bad" in it) none ever. */
  private schedule(k: string): void {
    clearTimeout(this.timers.get(k));
    this.timers.set(
      k,
      setTimeout(() => {
        this.timers.delete(k);
        const d = this.objects.get(k);
        if (!d) return;
        const n = d.spec.replicas ?? 1;
        const bad = (d.spec.template?.spec?.containers ?? []).some((c: Obj) => String(c.image).includes('bad'));
        const ready = bad ? 0 : n;
        const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
        d.status = dropZeros({
          observedGeneration: d.metadata.generation,
          replicas: n,
          updatedReplicas: n,
          readyReplicas: ready,
          availableReplicas: ready,
          unavailableReplicas: n - ready,
          conditions: [
            ready === n
              ? { type: 'Available', status: 'True', reason: 'MinimumReplicasAvailable', message: 'Deployment has minimum availability.', lastUpdateTime: now, lastTransitionTime: now }
              : { type: 'Available', status: 'False', reason: 'MinimumReplicasUnavailable', message: 'Deployment does not have minimum availability.', lastUpdateTime: now, lastTransitionTime: now },
            ready === n
              ? { type: 'Progressing', status: 'True', reason: 'NewReplicaSetAvailable', message: `ReplicaSet "${d.metadata.name}-${d.metadata.generation}" has successfully progressed.`, lastUpdateTime: now, lastTransitionTime: now }
              : { type: 'Progressing', status: 'True', reason: 'ReplicaSetUpdated', message: `ReplicaSet "${d.metadata.name}-${d.metadata.generation}" is progressing.`, lastUpdateTime: now, lastTransitionTime: now },
          ],
        });
        d.metadata.resourceVersion = String(++this.rv);
        this.notify(this.type('deployments'), 'MODIFIED', d);
      }, this.settleMs),
    );
  }
}

/** Starts a fake API server; close it in an after hook. */
export async function startFakeKube(opts: FakeKubeOptions = {}): Promise<FakeKube> {
  return new FakeKube(opts).start();
}

function key(t: ResourceType, ns: string | null, name: string): string {
  return `${t.plural}/${ns ?? ''}/${name}`;
}

function nameProblems(name: string): string[] {
  if (name.length <= 253 && NAME_RE.test(name)) return [];
  return [
    `metadata.name: Invalid value: "${name}": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`,
  ];
}

function reasonFor(code: number): string {
  return ({ 400: 'BadRequest', 401: 'Unauthorized', 403: 'Forbidden', 404: 'NotFound', 409: 'Conflict', 422: 'Invalid', 429: 'TooManyRequests', 500: 'InternalError', 503: 'ServiceUnavailable' } as Record<number, string>)[code] ?? 'Unknown';
}

function status(code: number, reason: string, message: string, details: Obj = {}): Obj {
  const d = Object.fromEntries(Object.entries(details).filter(([, v]) => v !== undefined && v !== ''));
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, ...(Object.keys(d).length ? { details: d } : {}), code };
}

function groupDoc(g: string): Obj {
  const v = TYPES.find((t) => t.group === g)!.version;
  return { name: g, versions: [{ groupVersion: `${g}/${v}`, version: v }], preferredVersion: { groupVersion: `${g}/${v}`, version: v } };
}

function resourceDocs(t: ResourceType): Obj[] {
  const out: Obj[] = [{ name: t.plural, singularName: t.singular, namespaced: t.namespaced, kind: t.kind, verbs: VERBS, ...(t.shortNames.length ? { shortNames: t.shortNames } : {}) }];
  if (t.status) out.push({ name: `${t.plural}/status`, singularName: '', namespaced: t.namespaced, kind: t.kind, verbs: ['get', 'patch', 'update'] });
  if (t.scale) out.push({ name: `${t.plural}/scale`, singularName: '', namespaced: t.namespaced, group: 'autoscaling', version: 'v1', kind: 'Scale', verbs: ['get', 'patch', 'update'] });
  return out;
}

const OPENAPI_HASH = 'fake0001';

/** `api/v1`, `apis/apps/v1`, ...: the group-versions served, as OpenAPI v3 names them. */
function groupVersions(): string[] {
  return [...new Set(TYPES.map((t) => (t.group ? `apis/${t.group}/${t.version}` : `api/${t.version}`)))];
}

/** A minimal OpenAPI v3 document of one group-version: the paths of its resources, with the
 * query parameters (fieldValidation among them) and the group-version-kind of each operation.
 * kubectl reads it to learn that the server validates fields itself (it then sends
 * fieldValidation=Strict instead of validating on its side). No schemas: kubectl apply then
 * computes its strategic merge patches from its built-in types, as for a server without them. */
function openApiV3(gvPath: string): Obj | null {
  const types = TYPES.filter((t) => (t.group ? `apis/${t.group}/${t.version}` : `api/${t.version}`) === gvPath);
  if (!types.length) return null;
  const query = (names: string[]) => names.map((name) => ({ name, in: 'query', schema: { type: 'string', uniqueItems: true } }));
  const paths: Obj = {};
  for (const t of types) {
    const gvk = { 'x-kubernetes-group-version-kind': { group: t.group, version: t.version, kind: t.kind } };
    const base = `/${gvPath}${t.namespaced ? '/namespaces/{namespace}' : ''}/${t.plural}`;
    const op = (action: string, params: string[] = []) => ({ operationId: `${action}${t.kind}`, 'x-kubernetes-action': action, ...gvk, parameters: query(params), responses: { '200': { description: 'OK' } } });
    const writes = ['dryRun', 'fieldManager', 'fieldValidation'];
    paths[base] = { get: op('list', ['labelSelector', 'fieldSelector', 'watch']), post: op('post', writes), parameters: query(['pretty']) };
    paths[`${base}/{name}`] = { get: op('get'), put: op('put', writes), patch: op('patch', [...writes, 'force']), delete: op('delete', ['dryRun']), parameters: query(['pretty']) };
  }
  return { openapi: '3.0.0', info: { title: 'Kubernetes (fake)', version: 'v1.32.0-fake' }, paths, components: { schemas: {} } };
}

function scaleOf(d: Obj): Obj {
  const selector = Object.entries(d.spec?.selector?.matchLabels ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  return {
    kind: 'Scale',
    apiVersion: 'autoscaling/v1',
    metadata: { name: d.metadata.name, namespace: d.metadata.namespace, uid: d.metadata.uid, resourceVersion: d.metadata.resourceVersion, creationTimestamp: d.metadata.creationTimestamp },
    spec: { replicas: d.spec?.replicas ?? 0 },
    status: dropZeros({ replicas: d.status?.replicas ?? 0, selector }),
  };
}

/** Go's omitempty: zero counts are left out of a status. */
function dropZeros(s: Obj): Obj {
  return Object.fromEntries(Object.entries(s).filter(([, v]) => v !== 0 && v !== undefined));
}

/** What the API server fills in on every write, for the fields shown to users here. */
function defaults(t: ResourceType, obj: Obj, old: Obj | null): void {
  if (t.kind === 'Deployment') {
    const spec = (obj.spec ??= {});
    spec.replicas ??= 1;
    spec.revisionHistoryLimit ??= 10;
    spec.progressDeadlineSeconds ??= 600;
    spec.strategy ??= { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '25%', maxSurge: '25%' } };
    const pod = (spec.template.spec ??= {});
    pod.restartPolicy ??= 'Always';
    pod.dnsPolicy ??= 'ClusterFirst';
    pod.terminationGracePeriodSeconds ??= 30;
    for (const c of pod.containers ?? []) {
      c.imagePullPolicy ??= /:latest$|^[^:@]+$/.test(String(c.image)) ? 'Always' : 'IfNotPresent';
      c.terminationMessagePath ??= '/dev/termination-log';
      c.terminationMessagePolicy ??= 'File';
    }
    obj.status ??= old?.status ?? {};
  } else if (t.kind === 'Service') {
    const spec = (obj.spec ??= {});
    spec.type ??= 'ClusterIP';
    if (spec.type !== 'ExternalName' && !spec.clusterIP) {
      const ip = old?.spec?.clusterIP ?? `10.96.${Math.floor(Math.random() * 250) + 1}.${Math.floor(Math.random() * 250) + 1}`;
      spec.clusterIP = ip;
      spec.clusterIPs = [ip];
    }
    spec.sessionAffinity ??= 'None';
    for (const p of spec.ports ?? []) {
      p.protocol ??= 'TCP';
      p.targetPort ??= p.port;
    }
    obj.status ??= { loadBalancer: {} };
  } else if (t.kind === 'Namespace') {
    obj.spec ??= { finalizers: ['kubernetes'] };
    obj.status ??= { phase: 'Active' };
  } else if (t.kind === 'HTTPRoute') {
    for (const rule of obj.spec?.rules ?? []) {
      for (const b of rule.backendRefs ?? []) {
        b.group ??= '';
        b.kind ??= 'Service';
        b.weight ??= 1;
      }
    }
  } else if (t.kind === 'Ingress') {
    obj.status ??= { loadBalancer: {} };
  }
}
