// The `local` driver: the embedded default. Each service and environment gets a local runtime
// process (runtime.ts) holding the service's processes and the weighted proxy; this driver
// finds it through its state file (starting it when there is none) and drives it over its
// admin API. The runtime's request records feed the builtin metrics source (src/metrics). A runtime that
// died is replaced by a new one on the same proxy address, after what it left running is ended;
// the versions a rollout needs are then started again (a rollback brings its stable back).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { fromSource, packageFile } from '../../install.js';
import { type Driver, DriverError, type RequestRecord, type RolloutContext, type TargetObservation } from '../driver.js';
import { endOrphans, RUNTIME_MARK, runsRuntime } from './orphans.js';
import type { ProxyRecord } from './proxy.js';
import type { RunSpec, RuntimeState, SlotState } from './runtime.js';

export interface LocalServiceSpec extends RunSpec {
  /** Port the proxy listens on (0: any free one; see `shipgate runtime`). */
  proxyPort: number;
}

/** How to start a runtime process: the compiled entry beside this file, or in a checkout run
 * from its TypeScript sources, the source entry through tsx. */
function runtimeCommand(): string[] {
  if (!fromSource) return [packageFile('dist/drivers/local/runtime-main.js')];
  return ['--import', fileURLToPath(import.meta.resolve('tsx')), packageFile('src/drivers/local/runtime-main.ts')];
}

export class LocalDriver implements Driver {
  readonly kind = 'local';
  private readonly known = new Map<string, RuntimeState>();

  constructor(
    private readonly opts: {
      /** Directory for runtime state files and logs, e.g. .shipgate/runtime. */
      dir: string;
      spec: (service: string, environment: string) => LocalServiceSpec;
    },
  ) {}

  stateFile(service: string, environment: string): string {
    return path.join(this.opts.dir, `${service}.${environment}.json`);
  }

  /** The runtime of a service in an environment, started if it is not running. */
  async runtime(service: string, environment: string, start = true): Promise<RuntimeState | null> {
    const file = this.stateFile(service, environment);
    const existing = readState(file);
    if (existing) {
      const live = await this.admin<RuntimeState>(existing, 'GET', '/state').catch(() => null);
      if (live) return this.remember(live);
    }
    if (!start) return null;
    if (existing && runsRuntime(existing.pid, file)) {
      // Alive but not answering: a second runtime beside it would fight it for the service.
      throw new DriverError('runtime', `the local runtime of ${service}/${environment} (pid ${existing.pid}) is running but does not answer on 127.0.0.1:${existing.adminPort}; stop it (kill ${existing.pid}) and try again`);
    }
    fs.mkdirSync(this.opts.dir, { recursive: true });
    const logFile = path.join(this.opts.dir, `${service}.${environment}.log`);
    // The runtime that wrote the file is gone; what it started serves nobody now. Ended while
    // the new runtime starts, so users wait for neither one after the other.
    const orphans = existing ? this.endOrphansOf(existing, logFile) : Promise.resolve();
    fs.rmSync(file, { force: true });
    const log = fs.openSync(logFile, 'a');
    const spec = this.opts.spec(service, environment);
    const env = { ...process.env };
    delete env[RUNTIME_MARK]; // the runtime is not one of the processes of another runtime
    const former = existing?.proxyPort ?? 0;
    const child = spawn(process.execPath, [...runtimeCommand(), service, environment, file, String(spec.proxyPort), String(former)], {
      detached: true,
      stdio: ['ignore', log, log],
      env,
    });
    child.unref();
    fs.closeSync(log);
    try {
      const deadline = Date.now() + 20_000;
      while (Date.now() < deadline) {
        const s = readState(file);
        if (s) {
          const live = await this.admin<RuntimeState>(s, 'GET', '/state').catch(() => null);
          if (live) return this.remember(live);
        }
        if (child.exitCode !== null) break;
        await new Promise((r) => setTimeout(r, 50));
      }
    } finally {
      await orphans;
    }
    const tail = fs.readFileSync(logFile, 'utf8').trim().split('\n').slice(-3).join(' | ');
    throw new DriverError('runtime', `the local runtime of ${service}/${environment} did not start: ${tail}`);
  }

  async deploy(ctx: RolloutContext): Promise<void> {
    let rt = await this.must(ctx);
    const spec = this.opts.spec(ctx.service, ctx.environment);
    // A runtime that lost its stable (restarted machine) gets it back first.
    if (ctx.stableVersion && !(rt.stable?.running && rt.stable.version === ctx.stableVersion)) {
      rt = await this.call(ctx, 'deploy', { slot: 'stable', version: ctx.stableVersion, digest: ctx.stableDigest, spec });
    }
    if (rt.stable?.version === ctx.version && rt.stable.running && !rt.canary) return; // promoted already
    await this.call(ctx, 'deploy', { slot: 'canary', version: ctx.version, digest: ctx.digest, spec });
  }

  async setWeight(ctx: RolloutContext, canaryPercent: number): Promise<void> {
    const rt = await this.must(ctx);
    if (rt.stable?.version === ctx.version && !rt.canary) return; // already promoted
    await this.call(ctx, 'weight', { weight: canaryPercent });
  }

  async promote(ctx: RolloutContext): Promise<void> {
    await this.call(ctx, 'promote', { version: ctx.version });
  }

  async finalize(ctx: RolloutContext): Promise<void> {
    // A runtime started anew since the promotion holds nothing: the promoted version is what
    // users get from here on, so it runs again before the rollout calls itself done.
    const rt = await this.must(ctx);
    if (!serves(rt.stable, ctx.version)) await this.call(ctx, 'deploy', { slot: 'stable', version: ctx.version, digest: ctx.digest, spec: this.opts.spec(ctx.service, ctx.environment) });
    await this.call(ctx, 'finalize', {});
  }

  async rollback(ctx: RolloutContext): Promise<void> {
    // Moving traffic back needs a stable to move it to. A runtime started anew (the old one
    // died) or one whose stable process exited has none: it is started again first, else
    // users would be left with 503s and nothing running to serve them.
    const rt = await this.must(ctx);
    const back = ctx.stableVersion;
    if (back && !serves(rt.stable, back) && !serves(rt.previous, back)) {
      await this.call(ctx, 'deploy', { slot: 'stable', version: back, digest: ctx.stableDigest, spec: this.opts.spec(ctx.service, ctx.environment) });
    }
    await this.call(ctx, 'rollback', { stableVersion: back });
  }

  urls(ctx: RolloutContext): { canary: string | null; stable: string | null } {
    const rt = this.known.get(key(ctx.service, ctx.environment));
    const url = (s: RuntimeState['stable']) => (s?.running ? `http://127.0.0.1:${s.port}` : null);
    if (!rt) return { canary: null, stable: null };
    return { canary: url(rt.canary), stable: url(rt.stable) };
  }

  /** Where users' traffic reaches the service: the proxy. */
  async proxyUrl(service: string, environment: string): Promise<string> {
    const rt = await this.runtime(service, environment);
    return `http://127.0.0.1:${rt!.proxyPort}`;
  }

  async observe(ctx: RolloutContext): Promise<TargetObservation | null> {
    const rt = await this.runtime(ctx.service, ctx.environment, false);
    if (!rt) return { canaryWeight: 0, canaryVersion: null, canaryRunning: false, stableVersion: null, stableRunning: false };
    const slots = [rt.canary, rt.stable, rt.previous].filter((s) => s !== null);
    const mine = slots.find((s) => s.version === ctx.version);
    return {
      canaryWeight: rt.canary ? rt.weight : 0,
      canaryVersion: mine?.version ?? null,
      canaryRunning: Boolean(mine?.running),
      stableVersion: rt.stable?.version ?? null,
      stableRunning: Boolean(rt.stable?.running),
    };
  }

  /** Stops the runtime and its processes. */
  async shutdown(service: string, environment: string): Promise<void> {
    const rt = await this.runtime(service, environment, false);
    if (!rt) {
      // Nothing answers; a runtime that died may still have left its processes running.
      const file = this.stateFile(service, environment);
      const stale = readState(file);
      if (stale && !runsRuntime(stale.pid, file)) {
        await this.endOrphansOf(stale, path.join(this.opts.dir, `${service}.${environment}.log`));
        fs.rmSync(file, { force: true });
      }
      return;
    }
    await this.admin(rt, 'POST', '/shutdown', {}).catch(() => {});
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && isAlive(rt.pid)) await new Promise((r) => setTimeout(r, 50));
    this.known.delete(key(service, environment));
  }

  /** The proxy's request records after `after` (its sequence number), and where they end. */
  async records(service: string, environment: string, after: number): Promise<{ records: RequestRecord[]; next: number }> {
    // A runtime that dies while its records are read is a failed target, which the controller
    // answers with a rollback, not a controller that stops on an unknown error.
    const rt = (await this.runtime(service, environment))!;
    const page = await this.admin<{ records: ProxyRecord[]; next: number }>(rt, 'GET', `/records?after=${after}`).catch((err: unknown): never => {
      throw err instanceof DriverError ? err : new DriverError('metrics', (err as Error).message);
    });
    return { records: page.records.map((r) => ({ at: r.at, version: r.version, status: r.status, latencyMs: r.latencyMs, error: r.error })), next: page.next };
  }

  /** The sequence number of the proxy's last record: "from now on". */
  async lastRecord(service: string, environment: string): Promise<number> {
    return (await this.runtime(service, environment))!.lastSeq;
  }

  private async must(ctx: RolloutContext): Promise<RuntimeState> {
    return (await this.runtime(ctx.service, ctx.environment))!;
  }

  private async call(ctx: RolloutContext, action: string, body: unknown): Promise<RuntimeState> {
    const rt = await this.must(ctx);
    try {
      return this.remember(await this.admin<RuntimeState>(rt, 'POST', `/${action}`, body));
    } catch (err) {
      throw new DriverError(action, (err as Error).message);
    }
  }

  /** Ends what a dead runtime left running, and says so in the runtime log. */
  private async endOrphansOf(dead: RuntimeState, logFile: string): Promise<void> {
    const ended = await endOrphans(dead.instance ?? '').catch((err: Error) => {
      fs.appendFileSync(logFile, `shipgate: could not end the processes left by runtime pid ${dead.pid}: ${err.message}\n`);
      return [];
    });
    if (ended.length) {
      fs.appendFileSync(logFile, `shipgate: runtime pid ${dead.pid} was gone; ended the service processes it left running: ${ended.join(', ')}\n`);
    }
  }

  private remember(rt: RuntimeState): RuntimeState {
    this.known.set(key(rt.service, rt.environment), rt);
    return rt;
  }

  private async admin<T>(rt: RuntimeState, method: string, urlPath: string, body?: unknown): Promise<T> {
    const res = await fetch(`http://127.0.0.1:${rt.adminPort}${urlPath}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(60_000),
    });
    const json = (await res.json()) as T & { error?: string };
    if (!res.ok) throw new Error(json.error ?? `runtime answered ${res.status}`);
    return json;
  }
}

function key(service: string, environment: string): string {
  return `${service}/${environment}`;
}

function readState(file: string): RuntimeState | null {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as RuntimeState;
  } catch {
    return null;
  }
}

function serves(slot: SlotState | null, version: string): boolean {
  return Boolean(slot?.running && slot.version === version);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
