// The `nginx` driver: nginx splits a service's traffic between two slots, each a fixed loopback
// port where shipgate runs one version from the service's `run:` config (slots.ts). The stable
// version is in one slot, the canary in the other; a weight is the upstream's server weights, a
// server at 0% is left out (nginx refuses weight=0), a promotion makes the canary's slot the
// stable one without moving a process. Each change rewrites the service's include file
// (render.ts), has nginx check it (nginx -t) and reloads nginx (instance.ts) only when the text
// changed; a file nginx rejects is put back as it was and the action fails with nginx's words.
// What runs where is kept in a state file per service and environment, so a restarted shipgate
// (another CLI run, the server after a crash) finds the processes it started.
import { createHash, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { ShipgateConfig } from '../../config/load.js';
import { type Driver, DriverError, type RolloutContext, type TargetObservation } from '../driver.js';
import { type Command, ExternalNginx, ManagedNginx, type NginxInstance, writeAtomically } from './instance.js';
import { readWeights, renderInclude, splitWeights, type UpstreamServer } from './render.js';
import { freePort } from '../ports.js';
import { markedProcesses, portFree, signalSlot, type SlotProcess, type SlotSpec, slotAlive, slotGroupAlive, startSlot, stopSlot } from './slots.js';

/** The `rollout.nginx` section as the driver uses it (plain data: the resolved config is cached as JSON). */
export interface NginxSettings {
  mode: 'managed' | 'external';
  /** The nginx binary a managed nginx runs. */
  binary: string;
  /** shipgate's directory for this target: state, slot logs, access logs, and a managed nginx's prefix. */
  dir: string;
  /** Where the include files go (`<service>.<environment>.conf`). */
  confDir: string;
  /** external: the team's commands that check and reload their nginx. */
  test: Command | null;
  reload: Command | null;
  /** external: the master's pid file, to confirm that a reload took effect. */
  pidFile: string | null;
  /** Bound on each nginx command, reload and version start-up check. */
  timeoutMs: number;
  /** Directives added to every upstream block and to every location shipgate writes. */
  upstream: string[];
  location: string[];
  services: Record<string, NginxServiceSettings>;
  /** The config file's directory: commands run there. */
  cwd: string;
}

export interface NginxServiceSettings {
  /** The two slots' loopback ports; null: two free ports, chosen once and kept in the state file. */
  ports: [number, number] | null;
  /** Where shipgate's server block listens for this service (as nginx's listen takes it); null:
   * the team's own server proxies to the upstream. */
  listen: string | null;
  /** The access log the metrics are read from; null: `<dir>/logs/<service>.<environment>.access.log`. */
  accessLog: string | null;
}

type Slot = 0 | 1;

/** What runs where, for one service in one environment. */
export interface TargetState {
  service: string;
  environment: string;
  /** Where each slot starts its next version. */
  ports: [number, number];
  slots: [SlotProcess | null, SlotProcess | null];
  /** The slot taking the stable share of traffic; null before a first deployment is promoted. */
  stable: Slot | null;
  /** The slot of the version being rolled out; null when none is. */
  canary: Slot | null;
  /** The canary's share of requests, 0..100. */
  weight: number;
  /** Processes told to stop and perhaps still draining: ended for good before their port is reused. */
  retired: (SlotProcess & { retiredAt: number })[];
  /** Which version ran on which port since when, newest last: how access log lines are told apart. */
  history: { port: number; version: string; startedAt: number }[];
  /** sha256 of the include file nginx was last seen to load: a file written by a shipgate that
   * died before the reload is reloaded by the next action, though its text is already there. */
  applied?: string | null;
}

/** nginx refused the file (nginx -t): the file is back as it was (`previous`, null: none). */
export class ConfigRejected extends DriverError {
  constructor(
    action: string,
    message: string,
    readonly previous: string | null,
  ) {
    super(action, message);
  }
}

const STOP_GRACE_MS = 3000;
const HISTORY = 16;

export class NginxDriver implements Driver {
  readonly kind = 'nginx';
  readonly nginx: NginxInstance;
  /** Marks the slot processes of this directory carry, before their own part. */
  private readonly markPrefix: string;

  constructor(
    readonly settings: NginxSettings,
    private readonly runSpec: (service: string) => SlotSpec | null,
  ) {
    this.nginx =
      settings.mode === 'managed'
        ? new ManagedNginx(settings.binary, settings.dir, settings.confDir, settings.timeoutMs)
        : new ExternalNginx({ test: settings.test!, reload: settings.reload! }, settings.pidFile, settings.cwd, settings.timeoutMs);
    this.markPrefix = createHash('sha256').update(path.resolve(settings.dir)).digest('hex').slice(0, 12);
  }

  includeFile(service: string, environment: string): string {
    return path.join(this.settings.confDir, `${service}.${environment}.conf`);
  }

  stateFile(service: string, environment: string): string {
    return path.join(this.settings.dir, 'state', `${service}.${environment}.json`);
  }

  accessLog(service: string, environment: string): string {
    return this.settings.services[service]?.accessLog ?? path.join(this.settings.dir, 'logs', `${service}.${environment}.access.log`);
  }

  /** Who ran on which port since when (for the access log), as last recorded. */
  history(service: string, environment: string): TargetState['history'] {
    return this.read(service, environment)?.history ?? [];
  }

  // ---- the driver actions ------------------------------------------------------------------

  async deploy(ctx: RolloutContext): Promise<void> {
    const st = await this.load(ctx, 'deploy');
    if (promoted(st, ctx.version)) return;
    if (ctx.stableVersion) await this.ensureStable(st, ctx.stableVersion, ctx.stableDigest ?? '', ctx.version, 'deploy');
    // A canary of another version (a deployment that ended without its rollback) takes no
    // traffic any more, then goes.
    if (st.canary !== null && st.slots[st.canary]?.version !== ctx.version) {
      const old = st.canary;
      st.canary = null;
      st.weight = 0;
      await this.apply('deploy', st);
      this.save(st);
      await this.stop(st, old);
    }
    // The file as it should be before a new process starts: a file nginx refuses fails here.
    await this.apply('deploy', st);
    this.save(st);
    const current = st.canary === null ? null : st.slots[st.canary];
    if (current && slotAlive(current)) return; // deployed already
    const k: Slot = st.canary ?? (st.stable === null ? 0 : other(st.stable));
    await this.fill(st, k, ctx.version, ctx.digest, 'deploy');
    st.canary = k;
    st.weight = 0;
    this.save(st);
    await this.apply('deploy', st);
    this.save(st);
  }

  async setWeight(ctx: RolloutContext, canaryPercent: number): Promise<void> {
    if (!Number.isInteger(canaryPercent) || canaryPercent < 0 || canaryPercent > 100) throw new DriverError('set-weight', `weight must be a whole percentage 0..100 (got ${canaryPercent})`);
    const st = await this.load(ctx, 'set-weight');
    if (promoted(st, ctx.version)) return;
    const canary = st.canary === null ? null : st.slots[st.canary];
    if (canaryPercent > 0 && !(canary && canary.version === ctx.version && slotAlive(canary))) {
      throw new DriverError('set-weight', `no running canary of ${ctx.service} ${ctx.version} to send ${canaryPercent}% of its traffic to`);
    }
    const next = { ...st, weight: canary ? canaryPercent : 0 };
    await this.apply('set-weight', next);
    this.save(next);
  }

  async promote(ctx: RolloutContext): Promise<void> {
    const st = await this.load(ctx, 'promote');
    if (promoted(st, ctx.version)) return;
    const canary = st.canary === null ? null : st.slots[st.canary];
    if (!canary || canary.version !== ctx.version) throw new DriverError('promote', `no canary of ${ctx.service} ${ctx.version} to promote`);
    if (!slotAlive(canary)) throw new DriverError('promote', `${ctx.version} is not running any more (it was on 127.0.0.1:${canary.port})`);
    // The old stable keeps its slot, taking no traffic, until finalize: a rollback needs no start.
    const next: TargetState = { ...st, stable: st.canary, canary: null, weight: 0 };
    await this.apply('promote', next);
    this.save(next);
  }

  async finalize(ctx: RolloutContext): Promise<void> {
    const st = await this.load(ctx, 'finalize');
    if (!promoted(st, ctx.version)) {
      // Promoted, then lost (the machine restarted): the version users get from here on runs
      // again before the rollout calls itself done.
      let j = liveSlotWith(st, ctx.version);
      if (j === null) {
        j = st.stable === null ? 0 : other(st.stable);
        await this.fill(st, j, ctx.version, ctx.digest, 'finalize');
      }
      st.stable = j;
      st.canary = null;
      st.weight = 0;
      await this.apply('finalize', st);
      this.save(st);
    }
    const old = other(st.stable!);
    if (st.slots[old]) await this.stop(st, old);
  }

  async rollback(ctx: RolloutContext): Promise<void> {
    const st = await this.load(ctx, 'rollback');
    const back = ctx.stableVersion;
    let j = back === null ? null : liveSlotWith(st, back);
    if (back !== null && j === null) {
      // Nothing runs the stable version (the machine restarted, it crashed): it starts again in
      // the slot the bad version is not in, which keeps its traffic until the stable is ready,
      // since taking it away first would leave nothing to serve.
      const bad = liveSlotWith(st, ctx.version);
      j = bad === null ? (st.stable ?? 0) : other(bad);
      await this.fill(st, j, back, ctx.stableDigest ?? '', 'rollback');
    }
    const next: TargetState = { ...st, stable: j, canary: null, weight: 0 };
    try {
      await this.apply('rollback', next);
    } catch (err) {
      // nginx refuses the new text (an upstream directive it does not know, say) but the file it
      // runs already sends everything to the stable version: traffic is where a rollback puts it.
      const onStable = err instanceof ConfigRejected && j !== null && onlyTo(err.previous, next.slots[j]!.port);
      if (!onStable) throw err;
    }
    // Traffic has moved: the other version is told to stop, not waited for, so its draining
    // never delays the rollback.
    for (const i of [0, 1] as const) if (i !== j && next.slots[i]) this.retire(next, i);
    this.save(next);
  }

  urls(ctx: RolloutContext): { canary: string | null; stable: string | null } {
    const st = this.read(ctx.service, ctx.environment);
    if (!st) return { canary: null, stable: null };
    const url = (p: SlotProcess | null) => (p && slotAlive(p) ? `http://127.0.0.1:${p.port}` : null);
    const mine = liveSlotWith(st, ctx.version);
    return { canary: mine !== null && mine !== st.stable ? url(st.slots[mine]) : null, stable: st.stable === null ? null : url(st.slots[st.stable]) };
  }

  /** The split as nginx's file has it, and which versions run. */
  async observe(ctx: RolloutContext): Promise<TargetObservation | null> {
    const st = this.read(ctx.service, ctx.environment);
    if (!st) return { canaryWeight: 0, canaryVersion: null, canaryRunning: false, stableVersion: null, stableRunning: false };
    const i = ([0, 1] as const).find((k) => st.slots[k]?.version === ctx.version);
    const mine = i === undefined ? null : st.slots[i];
    const stable = st.stable === null ? null : st.slots[st.stable];
    let canaryWeight = 0;
    if (mine && i !== st.stable) {
      const weights = readWeights(readText(this.includeFile(ctx.service, ctx.environment)) ?? '');
      const total = [...weights.values()].reduce((a, b) => a + b, 0);
      canaryWeight = total > 0 ? Math.round((100 * (weights.get(mine.port) ?? 0)) / total) : 0;
    }
    return {
      canaryWeight,
      canaryVersion: mine?.version ?? null,
      canaryRunning: Boolean(mine && slotAlive(mine)),
      stableVersion: stable?.version ?? null,
      stableRunning: Boolean(stable && slotAlive(stable)),
    };
  }

  /** Ends every process this driver's directory started (any service) and a managed nginx,
   * and forgets them; for tests and for a machine that is being cleaned up. */
  async shutdown(): Promise<void> {
    if (this.nginx instanceof ManagedNginx) await this.nginx.stop();
    await Promise.all(markedProcesses(`${this.markPrefix}.`).map((p) => stopSlot(p)));
    fs.rmSync(path.join(this.settings.dir, 'state'), { recursive: true, force: true });
  }

  // ---- state -------------------------------------------------------------------------------

  private read(service: string, environment: string): TargetState | null {
    const text = readText(this.stateFile(service, environment));
    if (text === null) return null;
    try {
      return JSON.parse(text) as TargetState;
    } catch {
      return null;
    }
  }

  /** The target's state, new when there is none; retired processes past their grace are killed. */
  private async load(ctx: RolloutContext, action: string): Promise<TargetState> {
    const own = this.settings.services[ctx.service];
    if (this.settings.mode === 'managed' && !own?.listen) {
      throw new DriverError(action, `rollout.nginx.services.${ctx.service}.listen is needed with mode: managed: the address nginx listens on for ${ctx.service} (e.g. 8080 for 127.0.0.1:8080)`);
    }
    const st = this.read(ctx.service, ctx.environment) ?? {
      service: ctx.service,
      environment: ctx.environment,
      ports: own?.ports ?? (await twoFreePorts()),
      slots: [null, null],
      stable: null,
      canary: null,
      weight: 0,
      retired: [],
      history: [],
    };
    if (own?.ports) st.ports = [...own.ports];
    st.retired = st.retired.filter((r) => {
      if (!slotGroupAlive(r)) return false;
      if (Date.now() - r.retiredAt > STOP_GRACE_MS) signalSlot(r, 'SIGKILL');
      return true;
    });
    return st;
  }

  private save(st: TargetState): void {
    writeAtomically(this.stateFile(st.service, st.environment), `${JSON.stringify(st, null, 2)}\n`);
  }

  // ---- slots -------------------------------------------------------------------------------

  /** Makes `version` the stable one: the slot running it, or a new process when none does. */
  private async ensureStable(st: TargetState, version: string, digest: string, canaryVersion: string, action: string): Promise<void> {
    const current = st.stable === null ? null : st.slots[st.stable];
    if (current && current.version === version && slotAlive(current)) return;
    let j = liveSlotWith(st, version);
    if (j === null) {
      const canary = liveSlotWith(st, canaryVersion);
      j = st.stable !== null && st.stable !== canary ? st.stable : canary === null ? 0 : other(canary);
      if (st.canary === j) {
        st.canary = null;
        st.weight = 0;
      }
      await this.fill(st, j, version, digest, action);
    }
    st.stable = j;
    if (st.canary === j) {
      st.canary = null;
      st.weight = 0;
    }
    await this.apply(action, st);
    this.save(st);
  }

  /** Starts `version` in slot `k`, ending what ran there first. */
  private async fill(st: TargetState, k: Slot, version: string, digest: string, action: string): Promise<void> {
    const spec = this.runSpec(st.service);
    if (!spec) throw new DriverError(action, `service ${st.service} has no run: section; the nginx driver starts each version from it (command, env, ready_path)`);
    if (st.slots[k]) await this.stop(st, k);
    const port = await this.portFor(st, k, action);
    const dir = path.join(this.settings.dir, 'slots');
    fs.mkdirSync(dir, { recursive: true });
    const log = path.join(dir, `${st.service}.${st.environment}.${port}.log`);
    const mark = `${this.markPrefix}.${st.service}.${st.environment}.${randomUUID().slice(0, 8)}`;
    try {
      await startSlot({ ...spec, readyTimeoutMs: spec.readyTimeoutMs }, version, digest, port, mark, log, (p) => {
        st.slots[k] = p;
        st.history = [...st.history, { port, version, startedAt: p.startedAt }].slice(-HISTORY);
        this.save(st);
      });
    } catch (err) {
      st.slots[k] = null;
      this.save(st);
      throw new DriverError(action, (err as Error).message);
    }
  }

  /** The port slot `k` starts on, free: a process of ours still draining there is ended first. */
  private async portFor(st: TargetState, k: Slot, action: string): Promise<number> {
    const port = st.ports[k];
    await Promise.all(st.retired.filter((r) => r.port === port).map((r) => stopSlot(r, 0)));
    st.retired = st.retired.filter((r) => r.port !== port);
    if (await portFree(port)) return port;
    if (this.settings.services[st.service]?.ports) {
      throw new DriverError(action, `127.0.0.1:${port} (rollout.nginx.services.${st.service}.ports) is taken by a process shipgate did not start; stop it or choose other ports`);
    }
    // Ports shipgate chose itself: another free one will do.
    let fresh = await freePort();
    while (fresh === st.ports[other(k)]) fresh = await freePort();
    st.ports[k] = fresh;
    return fresh;
  }

  private async stop(st: TargetState, k: Slot): Promise<void> {
    const p = st.slots[k];
    if (!p) return;
    await stopSlot(p, STOP_GRACE_MS);
    st.slots[k] = null;
    this.save(st);
  }

  private retire(st: TargetState, k: Slot): void {
    const p = st.slots[k]!;
    signalSlot(p, 'SIGTERM');
    st.retired.push({ ...p, retiredAt: Date.now() });
    st.slots[k] = null;
  }

  // ---- nginx -------------------------------------------------------------------------------

  render(st: TargetState): string {
    const stable = st.stable === null ? null : st.slots[st.stable];
    const canary = st.canary === null ? null : st.slots[st.canary];
    // Without a stable version, any canary weight is all of the traffic: nothing else serves.
    const canaryShare = !canary ? 0 : stable ? st.weight : st.weight > 0 ? 100 : 0;
    const stableShare = stable ? 100 - canaryShare : 0;
    const w = splitWeights(stableShare, canaryShare);
    const servers: UpstreamServer[] = [];
    if (stable && stableShare > 0) servers.push({ port: stable.port, version: stable.version, weight: w.stable });
    if (canary && canaryShare > 0) servers.push({ port: canary.port, version: canary.version, weight: w.canary });
    const own = this.settings.services[st.service];
    return renderInclude({
      service: st.service,
      environment: st.environment,
      servers,
      placeholderPort: st.ports[0],
      upstream: this.settings.upstream,
      listen: own?.listen ?? null,
      location: this.settings.location,
      accessLog: this.accessLog(st.service, st.environment),
    });
  }

  /**
   * Makes nginx route as `st` says: writes the include file when its text changes, has nginx
   * check it, and reloads (or starts a managed nginx that is not running). Nothing is written
   * and nothing reloads when the text is the same and nginx was seen to load it. A file nginx
   * refuses, or a reload that does not take, puts the previous file back and fails the action
   * with nginx's words.
   */
  private async apply(action: string, st: TargetState): Promise<void> {
    const file = this.includeFile(st.service, st.environment);
    const text = this.render(st);
    const previous = readText(file);
    const hash = createHash('sha256').update(text).digest('hex');
    fs.mkdirSync(path.dirname(this.accessLog(st.service, st.environment)), { recursive: true });
    const mainChanged = this.nginx.prepare();
    if (previous === text && st.applied === hash && !mainChanged && this.nginx.running()) return;
    if (previous !== text) writeAtomically(file, text);
    const restore = () => {
      if (previous === text) return;
      if (previous === null) fs.rmSync(file, { force: true });
      else writeAtomically(file, previous);
    };
    const refused = await this.nginx.test();
    if (refused !== null) {
      restore();
      throw new ConfigRejected(action, `nginx -t rejected the new config of ${st.service} in ${st.environment} (${file}); the previous file is back in place and nginx goes on serving it: ${refused}`, previous);
    }
    try {
      if (this.nginx.running()) await this.nginx.reload();
      else await this.nginx.start();
    } catch (err) {
      restore();
      throw new DriverError(action, `${(err as Error).message}; the previous file of ${st.service} in ${st.environment} is back in place`);
    }
    st.applied = hash;
  }
}

/** The driver of a config's environment: versions start from each service's `run:` section. */
export function nginxDriverFor(settings: NginxSettings, config: ShipgateConfig): NginxDriver {
  return new NginxDriver(settings, (service) => {
    const run = config.services.find((s) => s.name === service)?.run;
    return run ? { command: run.command, env: run.env, cwd: run.cwd, readyPath: run.readyPath, readyTimeoutMs: run.readyTimeoutMs } : null;
  });
}

function other(k: Slot): Slot {
  return k === 0 ? 1 : 0;
}

/** The slot where `version` runs, if a process runs it. */
function liveSlotWith(st: TargetState, version: string): Slot | null {
  for (const k of [0, 1] as const) {
    const p = st.slots[k];
    if (p && p.version === version && slotAlive(p)) return k;
  }
  return null;
}

/** The version is the stable one, running, with no canary beside it: promoted already. */
function promoted(st: TargetState, version: string): boolean {
  const s = st.stable === null ? null : st.slots[st.stable];
  return st.canary === null && s !== null && s.version === version && slotAlive(s);
}

/** Whether an include file's text sends every request to `port`. */
function onlyTo(text: string | null, port: number): boolean {
  if (text === null) return false;
  const w = readWeights(text);
  return w.size === 1 && w.has(port);
}

async function twoFreePorts(): Promise<[number, number]> {
  const a = await freePort();
  let b = await freePort();
  while (b === a) b = await freePort();
  return [a, b];
}

function readText(file: string): string | null {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}
