// The local runtime: one long-lived process per service and environment that owns the
// service's processes (stable and canary, each a child process on its own port) and the
// weighted proxy in front of them. The controller drives it over a small admin HTTP API on
// loopback, so killing the controller (even with SIGKILL) leaves traffic flowing exactly as it
// was; a restarted controller finds the runtime through its state file and carries on.
// Each service process runs in a process group of its own, carrying the runtime's mark
// (orphans.ts): stopping a slot ends everything the service started, and if the runtime
// itself dies uncleanly, the next one to start ends what it left behind.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { freePort } from '../ports.js';
import { RUNTIME_MARK } from './orphans.js';
import { WeightedProxy, type Upstream } from './proxy.js';

export interface RunSpec {
  /** argv; "{version}", "{digest}" and "{port}" are replaced. */
  command: string[];
  env: Record<string, string>;
  cwd: string;
  /** Path answered with 2xx once the process can take traffic. */
  readyPath: string;
  readyTimeoutMs: number;
}

export interface SlotState {
  version: string;
  digest: string;
  port: number;
  pid: number | null;
  running: boolean;
  exitCode: number | null;
  startedAt: string;
}

export interface RuntimeState {
  service: string;
  environment: string;
  pid: number;
  /** This runtime's mark on the processes it starts (orphans.ts); absent in older state files. */
  instance?: string;
  adminPort: number;
  proxyPort: number;
  weight: number;
  stable: SlotState | null;
  canary: SlotState | null;
  /** The stable that promote replaced, kept running until finalize for a fast rollback. */
  previous: SlotState | null;
  lastSeq: number;
}

interface Slot {
  state: SlotState;
  child: ChildProcess;
  log: string[];
  /** Set once a stop began; resolves when the slot's group is empty. */
  stopped: Promise<void> | null;
}

export class LocalRuntime {
  private readonly proxy = new WeightedProxy();
  private stable: Slot | null = null;
  private canary: Slot | null = null;
  private previous: Slot | null = null;
  private weight = 0;
  private admin: http.Server | null = null;
  private adminPort = 0;
  private proxyPort = 0;
  private readonly instance = randomUUID();

  constructor(
    readonly service: string,
    readonly environment: string,
    private readonly stateFile: string,
  ) {}

  /**
   * `formerPort`: where the proxy of this service's previous runtime listened, taken again
   * when no port is configured (`proxyPort` 0) and it is free, so users who were sent there
   * reach the service again after the runtime is replaced.
   */
  async start(proxyPort: number, formerPort = 0): Promise<void> {
    this.proxyPort =
      proxyPort === 0 && formerPort > 0
        ? await this.proxy.listen(formerPort).catch(() => this.proxy.listen(0))
        : await this.proxy.listen(proxyPort);
    this.admin = http.createServer((req, res) => {
      this.handle(req, res).catch((err: Error) => send(res, 500, { error: err.message }));
    });
    await new Promise<void>((resolve) => this.admin!.listen(0, '127.0.0.1', () => resolve()));
    this.adminPort = (this.admin.address() as net.AddressInfo).port;
    this.writeState();
  }

  state(): RuntimeState {
    return {
      service: this.service,
      environment: this.environment,
      pid: process.pid,
      instance: this.instance,
      adminPort: this.adminPort,
      proxyPort: this.proxyPort,
      weight: this.weight,
      stable: this.stable?.state ?? null,
      canary: this.canary?.state ?? null,
      previous: this.previous?.state ?? null,
      lastSeq: this.proxy.lastSeq,
    };
  }

  async stop(): Promise<void> {
    // Every slot still holding a process, also one a rollback was still stopping.
    await Promise.all([...live].map((slot) => stopSlot(slot)));
    await this.proxy.close();
    await new Promise<void>((resolve) => (this.admin ? this.admin.close(() => resolve()) : resolve()));
    fs.rmSync(this.stateFile, { force: true });
  }

  private writeState(): void {
    const tmp = `${this.stateFile}.tmp`;
    fs.mkdirSync(path.dirname(this.stateFile), { recursive: true });
    fs.writeFileSync(tmp, JSON.stringify(this.state(), null, 2));
    fs.renameSync(tmp, this.stateFile);
  }

  private applyRouting(): void {
    const up = (s: Slot | null): Upstream | null => (s && s.state.running ? { version: s.state.version, port: s.state.port } : null);
    this.proxy.route(up(this.stable), up(this.canary), this.weight);
    this.writeState();
  }

  // ---- admin API --------------------------------------------------------------------------

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const body = req.method === 'POST' ? await readJson(req) : {};
    switch (`${req.method} ${url.pathname}`) {
      case 'GET /state':
        return send(res, 200, this.state());
      case 'GET /records': {
        const after = Number(url.searchParams.get('after') ?? 0);
        const limit = Math.min(100_000, Number(url.searchParams.get('limit') ?? 50_000));
        return send(res, 200, this.proxy.records(after, limit));
      }
      case 'POST /deploy': {
        // Start a version in a slot (canary by default; stable on a first deployment), no traffic.
        const slot = body.slot === 'stable' ? 'stable' : 'canary';
        const version = String(body.version);
        const current = slot === 'stable' ? this.stable : this.canary;
        if (current && current.state.version === version && current.state.running) return send(res, 200, this.state());
        // The new process is ready before the one it replaces stops: a stable slot being
        // refilled (a rollback to a version this runtime lost) never leaves users with nothing.
        const started = await startSlot(body.spec as RunSpec, version, String(body.digest ?? ''), this.instance, (s) => this.onExit(s));
        if (slot === 'stable') {
          this.stable = started;
        } else {
          this.canary = started;
          this.weight = 0; // a new canary takes no traffic until a weight is set for it
        }
        this.applyRouting();
        if (current) await stopSlot(current);
        return send(res, 200, this.state());
      }
      case 'POST /weight': {
        const w = Number(body.weight);
        if (!Number.isFinite(w) || w < 0 || w > 100) return send(res, 400, { error: `weight must be 0..100 (got ${body.weight})` });
        if (w > 0 && !this.canary?.state.running) return send(res, 409, { error: 'no running canary to send traffic to' });
        this.weight = w;
        this.applyRouting();
        return send(res, 200, this.state());
      }
      case 'POST /promote': {
        // The canary becomes the stable; the old stable keeps running (no traffic) until finalize.
        if (!this.canary) {
          if (this.stable?.state.version === body.version) return send(res, 200, this.state()); // already promoted
          return send(res, 409, { error: 'no canary to promote' });
        }
        if (this.previous) await stopSlot(this.previous);
        this.previous = this.stable;
        this.stable = this.canary;
        this.canary = null;
        this.weight = 0;
        this.applyRouting();
        return send(res, 200, this.state());
      }
      case 'POST /finalize': {
        if (this.previous) await stopSlot(this.previous);
        this.previous = null;
        this.writeState();
        return send(res, 200, this.state());
      }
      case 'POST /rollback': {
        // Traffic first, then clean-up: every new request goes to the old version at once.
        const version = body.stableVersion === undefined ? null : (body.stableVersion as string | null);
        if (this.previous?.state.running && (version === null || this.previous.state.version === version)) {
          // After promote: the old stable is still running; put it back.
          const bad = this.stable;
          this.stable = this.previous;
          this.previous = null;
          this.canary = null;
          this.weight = 0;
          this.applyRouting();
          // Traffic has moved; stopping the bad version (which may take seconds to drain) must
          // not delay the answer, which is what "traffic restored" is timed by.
          if (bad) void stopSlot(bad);
        } else {
          this.weight = 0;
          const bad = this.canary;
          this.canary = null;
          // A previous version that exited is nothing to go back to any more.
          if (this.previous && !this.previous.state.running) this.previous = null;
          this.applyRouting();
          if (bad) void stopSlot(bad);
        }
        return send(res, 200, this.state());
      }
      case 'POST /shutdown':
        send(res, 200, { ok: true });
        setImmediate(() => this.stop().then(() => process.exit(0)));
        return;
      default:
        return send(res, 404, { error: `no such admin endpoint: ${req.method} ${url.pathname}` });
    }
  }

  private onExit(slot: Slot): void {
    slot.state.running = false;
    // A dead canary takes no traffic: requests go to the stable at once; the controller sees
    // canary.running = false and rolls back with the reason.
    if (slot === this.canary) this.weight = 0;
    this.applyRouting();
  }
}

// ---- child processes ---------------------------------------------------------------------------

/** Every slot whose process group may still hold a process: what an exiting runtime must end. */
const live = new Set<Slot>();

async function startSlot(spec: RunSpec, version: string, digest: string, instance: string, onExit: (s: Slot) => void): Promise<Slot> {
  if (!spec || !Array.isArray(spec.command) || spec.command.length === 0) throw new Error('deploy needs a run spec with a command');
  const port = await freePort();
  const fill = (s: string) => s.replaceAll('{version}', version).replaceAll('{digest}', digest).replaceAll('{port}', String(port));
  const [cmd, ...args] = spec.command.map(fill);
  const env = {
    ...process.env,
    ...Object.fromEntries(Object.entries(spec.env ?? {}).map(([k, v]) => [k, fill(v)])),
    PORT: String(port),
    VERSION: version,
    DIGEST: digest,
    [RUNTIME_MARK]: instance,
  };
  // detached: a session and process group of its own (its id is the pid), which is what
  // stopping the slot signals, so a service's own children stop with it.
  const child = spawn(cmd, args, { cwd: spec.cwd, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const slot: Slot = {
    state: { version, digest, port, pid: child.pid ?? null, running: true, exitCode: null, startedAt: new Date().toISOString() },
    child,
    log: [],
    stopped: null,
  };
  if (slot.state.pid !== null) live.add(slot);
  const keep = (chunk: Buffer) => {
    slot.log.push(chunk.toString());
    if (slot.log.length > 50) slot.log.shift();
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  let exited = false;
  child.on('exit', (code) => {
    exited = true;
    slot.state.exitCode = code;
    // Whatever the service started goes with it.
    void stopSlot(slot);
    onExit(slot);
  });
  child.on('error', (err) => {
    exited = true;
    live.delete(slot);
    slot.log.push(err.message);
    slot.state.running = false;
  });
  // Ready: the ready path answers 2xx, polled with a deadline.
  const deadline = Date.now() + (spec.readyTimeoutMs || 15_000);
  for (;;) {
    if (exited) throw new Error(`${version} exited before it was ready: ${slot.log.join('').trim().slice(-500)}`);
    const ok = await fetch(`http://127.0.0.1:${port}${spec.readyPath || '/'}`, { signal: AbortSignal.timeout(1000) })
      .then((r) => r.status >= 200 && r.status < 300)
      .catch(() => false);
    if (ok) return slot;
    if (Date.now() > deadline) {
      void stopSlot(slot, 0);
      throw new Error(`${version} did not answer ${spec.readyPath} within ${spec.readyTimeoutMs} ms: ${slot.log.join('').trim().slice(-500)}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Ends a slot's whole process group: SIGTERM, then SIGKILL for whatever is left after
 * `graceMs`. Once per slot: a later call waits for the first. A leader that exited by itself
 * gets here at once from its exit event, while its group id surely still names its group.
 */
function stopSlot(slot: Slot, graceMs = 3000): Promise<void> {
  slot.stopped ??= (async () => {
    slot.state.running = false;
    const group = slot.state.pid;
    if (group !== null && groupAlive(group)) {
      const leaderGone = slot.child.exitCode !== null || slot.child.signalCode !== null;
      const exit = leaderGone ? Promise.resolve() : new Promise<void>((resolve) => slot.child.once('exit', () => resolve()));
      signalGroup(group, 'SIGTERM');
      if (!(await settled(exit, group, graceMs))) {
        signalGroup(group, 'SIGKILL');
        // SIGKILL cannot be caught; the bound only guards against a process stuck in the kernel.
        await settled(exit, group, 5000);
      }
    }
    live.delete(slot);
  })();
  return slot.stopped;
}

/** SIGKILL to every group still held, at once: for a runtime about to exit. */
export function killAllSlotsNow(): void {
  for (const slot of live) if (slot.state.pid !== null) signalGroup(slot.state.pid, 'SIGKILL');
}

/** True once the leader exited and the group is empty; false when `ms` passed first. */
async function settled(exit: Promise<void>, group: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  const exited = await Promise.race([exit.then(() => true as const), late]);
  clearTimeout(timer);
  if (!exited) return false;
  while (groupAlive(group)) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
  return true;
}

function signalGroup(pgid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pgid, sig);
  } catch {
    // the group is gone already
  }
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

function send(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function readJson(req: http.IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > 1_000_000) throw new Error('admin request body too large');
    chunks.push(c as Buffer);
  }
  const text = Buffer.concat(chunks).toString();
  return text ? (JSON.parse(text) as Record<string, unknown>) : {};
}
