// The `kubernetes` driver: a canary Deployment (`<name>-canary`) beside the team's stable
// Deployment, made from its pod template with the release's image pinned by digest, and traffic
// split by the configured mode (traffic.ts): replica ratio, Gateway API HTTPRoute weights, or an
// ingress-nginx canary Ingress. Every action reads the cluster first and writes only what
// differs, so any of them can be repeated after a crash; every action that starts pods waits
// until the Deployment has rolled out (the checks of `kubectl rollout status`), and a timeout
// names what was not ready. What shipgate needs to remember lives on the objects themselves,
// as shipgate.dev/* annotations, so a restarted controller (or another replica) finds it.
import { type Driver, DriverError, type RolloutContext, type TargetObservation } from '../driver.js';
import { connect, KubeApiError, type KubeApi } from './api.js';
import {
  ANNOTATION,
  canaryDeployment,
  type Deployment,
  digestOf,
  isDigest,
  pickContainer,
  repositoryOf,
  rolloutProgress,
  sameCanary,
  sameJson,
} from './objects.js';
import { type Kube, type Names, type Traffic, type TrafficMode, trafficFor } from './traffic.js';

export interface KubernetesDriverConfig {
  traffic: TrafficMode;
  /** A kubeconfig file (absolute); null: $KUBECONFIG, ~/.kube/config, or in-cluster. */
  kubeconfig: string | null;
  context: string | null;
  /** Null: the kubeconfig context's namespace, else "default". Names below may use {service}
   * and {environment}. */
  namespace: string | null;
  /** The stable Deployment, which the team manages. */
  deployment: string;
  /** Null: `<deployment>-canary`. */
  canaryDeployment: string | null;
  /** The container that gets the release's image; null: the only one, or the one named like the Deployment. */
  container: string | null;
  /** The image repository, digest left out; null: the stable container's. */
  image: string | null;
  /** Replica ratio: all replicas of the service, stable and canary; null: the stable
   * Deployment's replicas when shipgate first saw it. */
  replicas: number | null;
  /** Routing modes: the canary Deployment's replicas; null: as many as stable. */
  canaryReplicas: number | null;
  /** The stable Service (routing modes: it must select stable pods only). */
  service: string;
  /** Null: `<service>-canary`. */
  canaryService: string | null;
  /** Gateway API: the HTTPRoute. */
  route: string;
  /** ingress-nginx: the stable Ingress, and the canary one (null: `<ingress>-canary`). */
  ingress: string;
  canaryIngress: string | null;
  /** The pod label telling canary from stable pods. */
  trackLabel: string;
  /** How long a Deployment may take to roll out. */
  timeoutMs: number;
  requestTimeoutMs: number;
  canaryUrl: string | null;
  stableUrl: string | null;
  /** First wait between two looks at a rollout (it doubles up to 2 s). */
  pollMs?: number;
  /** For tests: an API client already made. */
  api?: KubeApi;
}

/** What the driver sees, with how it read the weight (replica ratio: approximate). */
export interface KubernetesObservation extends TargetObservation {
  /** The weight shipgate last asked for, when it knows. */
  requestedWeight: number | null;
  detail: string;
}

type Action = 'deploy' | 'set-weight' | 'promote' | 'finalize' | 'rollback' | 'observe';

export class KubernetesDriver implements Driver {
  readonly kind = 'kubernetes';
  private readonly traffic: Traffic;
  private api: Promise<KubeApi> | null;

  constructor(private readonly config: KubernetesDriverConfig) {
    this.traffic = trafficFor(config.traffic);
    this.api = config.api ? Promise.resolve(config.api) : null;
  }

  async deploy(ctx: RolloutContext): Promise<void> {
    await this.act('deploy', ctx, async (k) => {
      const stable = await this.stable(k);
      const image = this.image(k, ctx, stable);
      const container = this.container(k, stable);
      const total = await this.total(k, stable);
      const current = await k.api.readDeployment(k.names.namespace, k.names.canary);
      const sameVersion = current?.metadata.annotations?.[ANNOTATION.version] === ctx.version;
      const desired = canaryDeployment(stable, {
        name: k.names.canary,
        image,
        container,
        trackLabel: k.trackLabel,
        replicas: this.traffic.deployReplicas(total, this.config.canaryReplicas, sameVersion && current ? (current.spec.replicas ?? 0) : null),
        annotations: {
          [ANNOTATION.version]: ctx.version,
          [ANNOTATION.digest]: ctx.digest,
          [ANNOTATION.deployment]: String(ctx.deploymentId),
          ...(sameVersion ? {} : { [ANNOTATION.weight]: '0' }),
        },
      });
      // Traffic first: nothing may reach the canary Deployment while it changes version.
      await this.traffic.prepare(k, desired.spec.template.metadata!.labels!);
      await this.writeCanary(k, current, desired);
      await k.ready(k.names.canary);
    });
  }

  async setWeight(ctx: RolloutContext, canaryPercent: number): Promise<void> {
    await this.act('set-weight', ctx, async (k) => {
      const stable = await this.stable(k);
      const canary = await k.api.readDeployment(k.names.namespace, k.names.canary);
      const holds = canary?.metadata.annotations?.[ANNOTATION.version];
      if (!canary || holds !== ctx.version) throw k.fail(`deployment ${k.names.canary} ${canary ? `holds ${holds ?? 'no version'}` : 'does not exist'}, not ${ctx.version}: deploy the canary first`);
      if (canary.metadata.annotations?.[ANNOTATION.weight] !== String(canaryPercent)) {
        await k.api.patchDeployment(k.names.namespace, k.names.canary, { metadata: { annotations: { [ANNOTATION.weight]: String(canaryPercent) } } }, 'merge');
      }
      if (this.traffic.mode !== 'replicas') await k.ready(k.names.canary);
      await this.traffic.setWeight(k, canaryPercent, await this.total(k, stable));
    });
  }

  async promote(ctx: RolloutContext): Promise<void> {
    await this.act('promote', ctx, async (k) => {
      const stable = await this.stable(k);
      const total = await this.total(k, stable);
      const image = this.image(k, ctx, stable);
      const index = this.container(k, stable);
      const container = stable.spec.template.spec!.containers[index];
      const annotations = stable.metadata.annotations ?? {};
      const patch: { metadata?: object; spec?: object } = {};
      if (container.image !== image) {
        const canary = await k.api.readDeployment(k.names.namespace, k.names.canary);
        if (canary?.metadata.annotations?.[ANNOTATION.version] !== ctx.version) throw k.fail(`deployment ${k.names.canary} does not hold ${ctx.version}: nothing to promote`);
        const previousVersion = annotations[ANNOTATION.version] ?? (digestOf(container.image) === ctx.stableDigest ? ctx.stableVersion : null);
        patch.metadata = {
          annotations: {
            [ANNOTATION.version]: ctx.version,
            [ANNOTATION.digest]: ctx.digest,
            [ANNOTATION.previousImage]: container.image ?? null,
            [ANNOTATION.previousVersion]: previousVersion,
          },
        };
        // Strategic merge: the container list merges by name, as `kubectl set image` does.
        patch.spec = { template: { spec: { containers: [{ name: container.name, image }] } } };
      } else if (annotations[ANNOTATION.version] !== ctx.version) {
        patch.metadata = { annotations: { [ANNOTATION.version]: ctx.version, [ANNOTATION.digest]: ctx.digest } };
      }
      if (this.traffic.mode === 'replicas' && (stable.spec.replicas ?? 1) !== total) patch.spec = { ...patch.spec, replicas: total };
      if (patch.metadata || patch.spec) await k.api.patchDeployment(k.names.namespace, k.names.stable, patch, 'strategic');
      await k.ready(k.names.stable);
      // The stable Service now serves the new version: the route goes back to it.
      await this.traffic.toStable(k);
    });
  }

  async finalize(ctx: RolloutContext): Promise<void> {
    await this.act('finalize', ctx, async (k) => {
      const stable = await this.stable(k);
      await this.traffic.toStable(k);
      if (this.traffic.mode === 'replicas') {
        const total = await this.total(k, stable);
        if ((stable.spec.replicas ?? 1) !== total) await k.api.patchDeployment(k.names.namespace, k.names.stable, { spec: { replicas: total } }, 'merge');
      }
      await this.retireCanary(k);
    });
  }

  async rollback(ctx: RolloutContext): Promise<void> {
    await this.act('rollback', ctx, async (k) => {
      // Traffic first: the route (routing modes) goes back to stable before anything else.
      await this.traffic.toStable(k);
      const stable = await this.stable(k);
      const total = await this.total(k, stable);
      const index = this.container(k, stable);
      const container = stable.spec.template.spec!.containers[index];
      const annotations = stable.metadata.annotations ?? {};
      const patch: { metadata?: object; spec?: Record<string, unknown> } = {};
      // Promoted already (the rollback of a post-deploy check): the stable Deployment runs the
      // new version and goes back to the image it ran before.
      const promoted = annotations[ANNOTATION.version] === ctx.version || digestOf(container.image) === ctx.digest;
      if (promoted) {
        const previous = annotations[ANNOTATION.previousImage] || (ctx.stableDigest && isDigest(ctx.stableDigest) ? `${this.repository(k, ctx, stable)}@${ctx.stableDigest}` : null);
        if (!previous) throw k.fail(`deployment ${k.names.stable} runs ${ctx.version} already and shipgate does not know the image it ran before`);
        patch.metadata = {
          annotations: {
            [ANNOTATION.version]: annotations[ANNOTATION.previousVersion] || ctx.stableVersion,
            [ANNOTATION.digest]: digestOf(previous),
            [ANNOTATION.previousImage]: null,
            [ANNOTATION.previousVersion]: null,
          },
        };
        patch.spec = { template: { spec: { containers: [{ name: container.name, image: previous }] } } };
      }
      if (this.traffic.mode === 'replicas' && (stable.spec.replicas ?? 1) !== total) patch.spec = { ...patch.spec, replicas: total };
      if (patch.metadata || patch.spec) await k.api.patchDeployment(k.names.namespace, k.names.stable, patch, 'strategic');
      // Replica ratio: the canary's pods are its traffic. Removing them at once is safe while
      // stable pods are serving; with none (a rollback from 100%), stable comes up first.
      if (promoted || (stable.status?.readyReplicas ?? 0) === 0) await k.ready(k.names.stable);
      await this.retireCanary(k);
      await k.ready(k.names.stable);
    });
  }

  urls(ctx: RolloutContext): { canary: string | null; stable: string | null } {
    const fill = (u: string | null) => (u ? expand(u, ctx) : null);
    return { canary: fill(this.config.canaryUrl), stable: fill(this.config.stableUrl) };
  }

  async observe(ctx: RolloutContext): Promise<KubernetesObservation> {
    return this.act('observe', ctx, async (k) => {
      const stable = await this.stable(k);
      const canary = await k.api.readDeployment(k.names.namespace, k.names.canary);
      const total = await this.total(k, stable, false);
      const { weight, detail } = await this.traffic.observe(k, stable, canary, total);
      const stableImage = stable.spec.template.spec?.containers[this.container(k, stable)]?.image;
      const stableVersion = stable.metadata.annotations?.[ANNOTATION.version] ?? (ctx.stableDigest && digestOf(stableImage) === ctx.stableDigest ? ctx.stableVersion : null);
      const canaryVersion = canary?.metadata.annotations?.[ANNOTATION.version] ?? null;
      const ready = (d: Deployment | null) => (d?.status?.readyReplicas ?? 0) > 0 && (d?.spec.replicas ?? 0) > 0;
      const asked = canary?.metadata.annotations?.[ANNOTATION.weight];
      return {
        canaryWeight: weight,
        canaryVersion,
        canaryRunning: (canaryVersion === ctx.version && ready(canary)) || (stableVersion === ctx.version && ready(stable)),
        stableVersion,
        stableRunning: ready(stable),
        requestedWeight: asked !== undefined && Number.isFinite(Number(asked)) ? Number(asked) : null,
        detail,
      };
    });
  }

  // ---- the parts ------------------------------------------------------------------------------

  /** Runs one action with its names resolved; every failure becomes a DriverError naming it. */
  private async act<T>(action: Action, ctx: RolloutContext, fn: (k: Kube) => Promise<T>): Promise<T> {
    try {
      const api = await (this.api ??= connect({ kubeconfig: this.config.kubeconfig, context: this.config.context, requestTimeoutMs: this.config.requestTimeoutMs }).catch((err) => {
        this.api = null; // a kubeconfig fixed meanwhile is read again next time
        throw err;
      }));
      const names = this.names(api, ctx);
      const k: Kube = {
        api,
        names,
        trackLabel: this.config.trackLabel,
        ready: (name) => this.ready(k, action, name),
        fail: (message) => new DriverError(action, message),
      };
      return await fn(k);
    } catch (err) {
      if (err instanceof DriverError) throw err;
      if (err instanceof KubeApiError) throw new DriverError(action, err.message);
      throw new DriverError(action, `unexpected: ${(err as Error).message ?? String(err)}`);
    }
  }

  private names(api: KubeApi, ctx: RolloutContext): Names {
    const c = this.config;
    const stable = expand(c.deployment, ctx);
    const service = expand(c.service, ctx);
    const ingress = expand(c.ingress, ctx);
    return {
      namespace: c.namespace ? expand(c.namespace, ctx) : api.defaultNamespace,
      stable,
      canary: c.canaryDeployment ? expand(c.canaryDeployment, ctx) : `${stable}-canary`,
      service,
      canaryService: c.canaryService ? expand(c.canaryService, ctx) : `${service}-canary`,
      route: expand(c.route, ctx),
      ingress,
      canaryIngress: c.canaryIngress ? expand(c.canaryIngress, ctx) : `${ingress}-canary`,
    };
  }

  private async stable(k: Kube): Promise<Deployment> {
    const d = await k.api.readDeployment(k.names.namespace, k.names.stable);
    if (!d) {
      throw k.fail(
        `deployment ${k.names.stable} not found in namespace ${k.names.namespace} (${k.api.server}): the canary is made from the stable Deployment, so it must exist first (kubectl apply your manifests)`,
      );
    }
    return d;
  }

  /** All replicas of the service: the config's, else the stable's as first seen (kept on it as
   * an annotation, since replica ratio then changes its replicas). */
  private async total(k: Kube, stable: Deployment, record = true): Promise<number> {
    if (this.config.replicas !== null) return this.config.replicas;
    const kept = Number.parseInt(stable.metadata.annotations?.[ANNOTATION.replicas] ?? '', 10);
    if (Number.isInteger(kept) && kept > 0) return kept;
    const n = stable.spec.replicas ?? 1;
    if (n < 1) throw k.fail(`deployment ${k.names.stable} has 0 replicas: set rollout.kubernetes.replicas to how many the service runs`);
    if (record && this.traffic.mode === 'replicas') {
      await k.api.patchDeployment(k.names.namespace, k.names.stable, { metadata: { annotations: { [ANNOTATION.replicas]: String(n) } } }, 'merge');
    }
    return n;
  }

  private container(k: Kube, d: Deployment): number {
    const picked = pickContainer(d, this.config.container);
    if ('problem' in picked) throw k.fail(picked.problem);
    return picked.index;
  }

  private repository(k: Kube, ctx: RolloutContext, stable: Deployment): string {
    if (this.config.image) return expand(this.config.image, ctx);
    const image = stable.spec.template.spec!.containers[this.container(k, stable)].image;
    if (!image) throw k.fail(`deployment ${k.names.stable} has no image to take the repository from; set rollout.kubernetes.image`);
    return repositoryOf(image);
  }

  /** The release's image, pinned by digest: the only way it cannot change under the same name. */
  private image(k: Kube, ctx: RolloutContext, stable: Deployment): string {
    if (!isDigest(ctx.digest)) throw k.fail(`release ${ctx.version} has digest '${ctx.digest}', not sha256:<64 hex digits>; images are deployed by digest only`);
    return `${this.repository(k, ctx, stable)}@${ctx.digest}`;
  }

  /** Creates the canary Deployment or brings it to `desired` (a PUT carrying the
   * resourceVersion it read, made again on a 409). */
  private async writeCanary(k: Kube, current: Deployment | null, desired: Deployment): Promise<void> {
    const { namespace, canary } = k.names;
    for (let attempt = 1; ; attempt++) {
      if (!current) {
        try {
          await k.api.createDeployment(namespace, desired);
          return;
        } catch (err) {
          if (!(err instanceof KubeApiError && err.status === 409) || attempt >= 5) throw err;
          current = await k.api.readDeployment(namespace, canary);
          continue;
        }
      }
      if (!sameJson(current.spec.selector, desired.spec.selector)) {
        throw k.fail(
          `deployment ${canary} exists with the selector ${JSON.stringify(current.spec.selector)}, not ${JSON.stringify(desired.spec.selector)}, and a selector cannot change: delete it (kubectl -n ${namespace} delete deployment ${canary}) and deploy again`,
        );
      }
      if (sameCanary(current, desired)) return;
      const body: Deployment = {
        ...desired,
        metadata: {
          ...current.metadata,
          labels: { ...current.metadata.labels, ...desired.metadata.labels },
          annotations: { ...current.metadata.annotations, ...desired.metadata.annotations },
        },
        spec: { ...current.spec, ...desired.spec },
      };
      delete (body as { status?: unknown }).status;
      delete body.metadata.managedFields; // the server's own bookkeeping
      try {
        await k.api.replaceDeployment(namespace, canary, body);
        return;
      } catch (err) {
        if (!(err instanceof KubeApiError && err.status === 409) || attempt >= 5) throw err;
        current = await k.api.readDeployment(namespace, canary);
      }
    }
  }

  /** No canary replicas, and no version on the canary Deployment (it holds none now). */
  private async retireCanary(k: Kube): Promise<void> {
    const canary = await k.api.readDeployment(k.names.namespace, k.names.canary);
    if (!canary) return;
    const a = canary.metadata.annotations ?? {};
    const held = [ANNOTATION.version, ANNOTATION.digest, ANNOTATION.weight, ANNOTATION.deployment].filter((key) => key in a);
    if ((canary.spec.replicas ?? 1) === 0 && !held.length) return;
    await k.api.patchDeployment(k.names.namespace, k.names.canary, { metadata: { annotations: Object.fromEntries(held.map((key) => [key, null])) }, spec: { replicas: 0 } }, 'merge');
  }

  /** Polls the Deployment until it has rolled out, or throws when it fails or the time is up. */
  private async ready(k: Kube, action: Action, name: string): Promise<Deployment> {
    const deadline = Date.now() + this.config.timeoutMs;
    let wait = this.config.pollMs ?? 100;
    for (;;) {
      const d = await k.api.readDeployment(k.names.namespace, name);
      if (!d) throw new DriverError(action, `deployment ${name} disappeared from namespace ${k.names.namespace} while shipgate waited for it`);
      const p = rolloutProgress(d);
      if (p.done) return d;
      const image = d.spec.template.spec?.containers.map((c) => c.image).join(', ');
      if (p.failed) throw new DriverError(action, `deployment ${name} (namespace ${k.names.namespace}, image ${image}) failed to roll out: ${p.waiting}`);
      if (Date.now() >= deadline) {
        throw new DriverError(action, `deployment ${name} (namespace ${k.names.namespace}, image ${image}) not ready after ${formatMs(this.config.timeoutMs)}: ${p.waiting}`);
      }
      await new Promise((r) => setTimeout(r, Math.min(wait, Math.max(0, deadline - Date.now()))));
      wait = Math.min(wait * 2, 2000);
    }
  }
}

/** `{service}` and `{environment}` in a name, image or URL. */
export function expand(template: string, ctx: { service: string; environment: string }): string {
  return template.replaceAll('{service}', ctx.service).replaceAll('{environment}', ctx.environment);
}

function formatMs(ms: number): string {
  return ms % 60_000 === 0 ? `${ms / 60_000} min` : `${Math.round(ms / 100) / 10} s`;
}
