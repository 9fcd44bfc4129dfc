// The few Kubernetes API calls the driver makes, through @kubernetes/client-node 1.x (loaded on
// first use: it takes a second to import, and most shipgate commands never need it). Reads turn
// 404 into null; every failure becomes a KubeApiError carrying the API server's own message
// (its Status body), never the client's dump of headers, and never a credential. Patches set
// their content type through the client's middleware (setHeaderOptions): client-node 1.x would
// otherwise send every patch as a JSON patch. Each request is bounded in time, and the ones that
// hit a network error or a 429/5xx are tried again a few times.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Deployment, HttpRoute, Ingress, Service } from './objects.js';

type K8s = typeof import('@kubernetes/client-node');

export class KubeApiError extends Error {
  constructor(
    /** The HTTP status, or null when the server was not reached. */
    readonly status: number | null,
    readonly reason: string | null,
    message: string,
  ) {
    super(message);
    this.name = 'KubeApiError';
  }
}

export interface ConnectOptions {
  /** A kubeconfig file; null: $KUBECONFIG, ~/.kube/config, or the pod's service account. */
  kubeconfig: string | null;
  context: string | null;
  requestTimeoutMs: number;
}

export type PatchType = 'merge' | 'strategic';

/** The calls the driver makes. `ns` is the namespace; reads resolve null for a missing object. */
export interface KubeApi {
  /** The namespace of the kubeconfig's context (kubectl's default), or "default". */
  readonly defaultNamespace: string;
  /** Where the API server is, for messages. */
  readonly server: string;
  readDeployment(ns: string, name: string): Promise<Deployment | null>;
  createDeployment(ns: string, body: Deployment): Promise<Deployment>;
  replaceDeployment(ns: string, name: string, body: Deployment): Promise<Deployment>;
  patchDeployment(ns: string, name: string, patch: object, type: PatchType): Promise<Deployment>;
  readService(ns: string, name: string): Promise<Service | null>;
  createService(ns: string, body: Service): Promise<Service>;
  readIngress(ns: string, name: string): Promise<Ingress | null>;
  createIngress(ns: string, body: Ingress): Promise<Ingress>;
  patchIngress(ns: string, name: string, patch: object): Promise<Ingress>;
  readHttpRoute(ns: string, name: string): Promise<HttpRoute | null>;
  patchHttpRoute(ns: string, name: string, patch: object): Promise<HttpRoute>;
}

const SERVICE_ACCOUNT_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';
const GATEWAY = { group: 'gateway.networking.k8s.io', version: 'v1', plural: 'httproutes' };

let loading: Promise<K8s> | null = null;
const load = () => (loading ??= import('@kubernetes/client-node'));

/** Loads the kubeconfig and makes the API clients. Throws KubeApiError when the kubeconfig
 * cannot be used (missing, unreadable, no such context). */
export async function connect(opts: ConnectOptions): Promise<KubeApi> {
  const k8s = await load();
  const kc = new k8s.KubeConfig();
  const source = loadConfig(kc, opts.kubeconfig);
  if (opts.context) {
    if (!kc.getContextObject(opts.context)) {
      const known = kc.getContexts().map((c) => c.name);
      throw new KubeApiError(null, null, `context '${opts.context}' is not in ${source} (it has: ${known.join(', ') || 'none'})`);
    }
    kc.setCurrentContext(opts.context);
  }
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new KubeApiError(null, null, `${source} has no current context with a cluster; name one with rollout.kubernetes.context`);
  const config = k8s.createConfiguration({
    baseServer: new k8s.ServerConfiguration(cluster.server.replace(/\/+$/, ''), {}),
    authMethods: { default: kc },
    middleware: [timeoutMiddleware(k8s, opts.requestTimeoutMs)],
  });
  const apps = new k8s.AppsV1Api(config);
  const core = new k8s.CoreV1Api(config);
  const networking = new k8s.NetworkingV1Api(config);
  const custom = new k8s.CustomObjectsApi(config);
  const contentType = (type: PatchType) =>
    k8s.setHeaderOptions('Content-Type', type === 'strategic' ? k8s.PatchStrategy.StrategicMergePatch : k8s.PatchStrategy.MergePatch);
  const server = cluster.server;
  const call = <T>(what: string, fn: () => Promise<T>) => withRetries(k8s, server, opts.requestTimeoutMs, what, fn);
  const read = async <T>(what: string, fn: () => Promise<T>): Promise<T | null> => {
    try {
      return await call(what, fn);
    } catch (err) {
      if (err instanceof KubeApiError && err.status === 404) return null;
      throw err;
    }
  };
  // The client's models are classes with the API's field names: the driver treats them as the
  // plain JSON objects they stand for.
  const plain = <T>(v: unknown) => v as T;
  return {
    defaultNamespace: kc.getContextObject(kc.getCurrentContext())?.namespace || 'default',
    server,
    readDeployment: (ns, name) => read(`reading deployment ${name}`, async () => plain<Deployment>(await apps.readNamespacedDeployment({ namespace: ns, name }))),
    createDeployment: async (ns, body) => plain<Deployment>(await call(`creating deployment ${body.metadata.name}`, () => apps.createNamespacedDeployment({ namespace: ns, body: body as never }))),
    replaceDeployment: async (ns, name, body) => plain<Deployment>(await call(`replacing deployment ${name}`, () => apps.replaceNamespacedDeployment({ namespace: ns, name, body: body as never }))),
    patchDeployment: async (ns, name, patch, type) =>
      plain<Deployment>(await call(`patching deployment ${name}`, () => apps.patchNamespacedDeployment({ namespace: ns, name, body: patch }, contentType(type)))),
    readService: (ns, name) => read(`reading service ${name}`, async () => plain<Service>(await core.readNamespacedService({ namespace: ns, name }))),
    createService: async (ns, body) => plain<Service>(await call(`creating service ${body.metadata.name}`, () => core.createNamespacedService({ namespace: ns, body: body as never }))),
    readIngress: (ns, name) => read(`reading ingress ${name}`, async () => plain<Ingress>(await networking.readNamespacedIngress({ namespace: ns, name }))),
    createIngress: async (ns, body) => plain<Ingress>(await call(`creating ingress ${body.metadata.name}`, () => networking.createNamespacedIngress({ namespace: ns, body: body as never }))),
    patchIngress: async (ns, name, patch) =>
      plain<Ingress>(await call(`patching ingress ${name}`, () => networking.patchNamespacedIngress({ namespace: ns, name, body: patch }, contentType('merge')))),
    readHttpRoute: (ns, name) => read(`reading httproute ${name}`, async () => plain<HttpRoute>(await custom.getNamespacedCustomObject({ ...GATEWAY, namespace: ns, name }))),
    // HTTPRoute is a custom resource: the API server takes merge and JSON patches for it, not
    // strategic merge patches.
    patchHttpRoute: async (ns, name, patch) =>
      plain<HttpRoute>(await call(`patching httproute ${name}`, () => custom.patchNamespacedCustomObject({ ...GATEWAY, namespace: ns, name, body: patch }, contentType('merge')))),
  };
}

/** Loads the kubeconfig as kubectl would find it; returns how to name it in messages. */
function loadConfig(kc: InstanceType<K8s['KubeConfig']>, file: string | null): string {
  const named = file ?? (process.env.KUBECONFIG ? process.env.KUBECONFIG.split(path.delimiter).find(Boolean) : null);
  const home = path.join(os.homedir(), '.kube', 'config');
  if (!named && !fs.existsSync(home) && !fs.existsSync(SERVICE_ACCOUNT_TOKEN)) {
    throw new KubeApiError(null, null, `no kubeconfig: KUBECONFIG is not set, ${home} does not exist and this is not a pod with a service account; name one with rollout.kubernetes.kubeconfig`);
  }
  const source = file ? `kubeconfig ${file}` : process.env.KUBECONFIG ? `kubeconfig ${process.env.KUBECONFIG} (KUBECONFIG)` : fs.existsSync(home) ? `kubeconfig ${home}` : 'the in-cluster service account';
  if (file && !fs.existsSync(file)) throw new KubeApiError(null, null, `kubeconfig ${file} does not exist`);
  try {
    if (file) kc.loadFromFile(file);
    else kc.loadFromDefault();
  } catch (err) {
    // A YAML error's message quotes the lines around it, which may hold a token: say where only.
    const e = err as Error & { reason?: string; mark?: { line: number } };
    const why = e.name === 'YAMLException' ? `${e.reason ?? 'not YAML'} at line ${(e.mark?.line ?? 0) + 1}` : (e.message ?? String(err)).split('\n')[0];
    throw new KubeApiError(null, null, `cannot read ${source}: ${why}`);
  }
  return source;
}

function timeoutMiddleware(k8s: K8s, ms: number) {
  return {
    pre: (ctx: InstanceType<K8s['RequestContext']>) => {
      ctx.setSignal(AbortSignal.timeout(ms) as never);
      return new k8s.Observable(Promise.resolve(ctx));
    },
    post: (res: InstanceType<K8s['ResponseContext']>) => new k8s.Observable(Promise.resolve(res)),
  };
}

const RETRIED = new Set([429, 500, 502, 503, 504]);

async function withRetries<T>(k8s: K8s, server: string, timeoutMs: number, what: string, fn: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      const e = asApiError(k8s, server, timeoutMs, what, err);
      if (attempt >= 3 || !(e.status === null || RETRIED.has(e.status))) throw e;
      await new Promise((r) => setTimeout(r, 200 * attempt));
    }
  }
}

/** The API server's words for a failed call: its Status message and reason, with the HTTP code. */
function asApiError(k8s: K8s, server: string, timeoutMs: number, what: string, err: unknown): KubeApiError {
  if (err instanceof KubeApiError) return err;
  if (err instanceof k8s.ApiException) {
    const code = err.code;
    let message: string | null = null;
    let reason: string | null = null;
    try {
      const status = JSON.parse(String(err.body)) as { message?: string; reason?: string };
      message = status.message ?? null;
      reason = status.reason ?? null;
    } catch {
      // not a Status body (a proxy's HTML page, nothing at all)
    }
    if (code === 401) return new KubeApiError(401, 'Unauthorized', `${what}: the API server at ${server} did not accept the kubeconfig's credentials (401 Unauthorized; an expired token?)`);
    return new KubeApiError(code, reason, `${what}: ${message ?? `HTTP ${code}`} (${code}${reason ? ` ${reason}` : ''})`);
  }
  const e = err as Error & { type?: string; code?: string };
  if (e?.name === 'AbortError' || e?.name === 'TimeoutError' || e?.type === 'aborted') {
    return new KubeApiError(null, null, `${what}: no answer from the API server at ${server} within ${Math.round(timeoutMs / 1000)} s`);
  }
  const detail = (e?.message ?? String(err)).replace(/^request to \S+ failed, reason: /, '');
  return new KubeApiError(null, null, `${what}: cannot reach the API server at ${server}: ${detail}`);
}
