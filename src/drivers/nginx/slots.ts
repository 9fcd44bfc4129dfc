// The service processes behind nginx's upstream: each version runs from the service's `run:`
// config on a slot's fixed loopback port, in a process group of its own, detached from the
// shipgate process that started it, so a controller that exits or is killed leaves traffic
// flowing. A process carries a mark in its environment (SLOT_MARK); that mark, read back through
// /proc on Linux, is what says a recorded pid is still the process shipgate started and not one
// that was given the same pid since, before anything is signalled.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';

/** The environment variable holding a slot process's mark. */
export const SLOT_MARK = 'SHIPGATE_NGINX_SLOT';

export interface SlotProcess {
  version: string;
  digest: string;
  port: number;
  pid: number;
  mark: string;
  /** When it was started (ms since the epoch): access log lines from its port before this are
   * another version's. */
  startedAt: number;
}

/** How one version is started: the service's `run:` section. */
export interface SlotSpec {
  /** argv; "{version}", "{digest}" and "{port}" are replaced. */
  command: string[];
  env: Record<string, string>;
  cwd: string;
  readyPath: string;
  readyTimeoutMs: number;
}

const PROC = fs.existsSync('/proc/self/stat');

/**
 * Starts `version` on `port` and resolves once its ready path answers 2xx. `spawned` is told
 * about the process as soon as it exists, before it is ready, so that a shipgate killed while it
 * waits has recorded what to stop. A version that exits or stays unready is stopped and the
 * error quotes the end of its output (in `logFile`).
 */
export async function startSlot(
  spec: SlotSpec,
  version: string,
  digest: string,
  port: number,
  mark: string,
  logFile: string,
  spawned: (p: SlotProcess) => void,
): Promise<SlotProcess> {
  const fill = (s: string) => s.replaceAll('{version}', version).replaceAll('{digest}', digest).replaceAll('{port}', String(port));
  const [cmd, ...args] = spec.command.map(fill);
  const env = {
    ...process.env,
    ...Object.fromEntries(Object.entries(spec.env).map(([k, v]) => [k, fill(v)])),
    PORT: String(port),
    VERSION: version,
    DIGEST: digest,
    [SLOT_MARK]: mark,
  };
  const log = fs.openSync(logFile, 'a');
  fs.writeSync(log, `--- shipgate: starting ${version} on 127.0.0.1:${port} at ${new Date().toISOString()}\n`);
  const child = spawn(cmd, args, { cwd: spec.cwd, env, stdio: ['ignore', log, log], detached: true });
  fs.closeSync(log);
  let exited: string | null = null;
  child.on('error', (err) => (exited = `cannot run ${cmd}: ${err.message}`));
  child.on('exit', (code, signal) => (exited ??= `exited with ${code ?? signal}`));
  child.unref();
  if (child.pid === undefined) {
    await new Promise((r) => setImmediate(r));
    throw new Error(`${version}: ${exited ?? `cannot run ${cmd}`}`);
  }
  const p: SlotProcess = { version, digest, port, pid: child.pid, mark, startedAt: Date.now() };
  spawned(p);
  const deadline = Date.now() + spec.readyTimeoutMs;
  for (;;) {
    if (exited) throw new Error(`${version} ${exited} before it was ready: ${tail(logFile)}`);
    const ok = await fetch(`http://127.0.0.1:${port}${spec.readyPath}`, { signal: AbortSignal.timeout(1000) })
      .then(async (r) => {
        await r.arrayBuffer();
        return r.status >= 200 && r.status < 300;
      })
      .catch(() => false);
    if (ok) return p;
    if (Date.now() > deadline) {
      await stopSlot(p, 0);
      throw new Error(`${version} did not answer ${spec.readyPath} on 127.0.0.1:${port} within ${spec.readyTimeoutMs} ms: ${tail(logFile)}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Whether the recorded process still runs and is the one shipgate started. */
export function slotAlive(p: { pid: number; mark: string }): boolean {
  if (!PROC) return alive(p.pid);
  const stat = procStat(p.pid);
  return stat !== null && stat.state !== 'Z' && stat.state !== 'X' && carriesMark(p.pid, p.mark);
}

/** Whether anything of the slot's process group still runs. */
export function slotGroupAlive(p: { pid: number; mark: string }): boolean {
  if (!PROC) return groupAlive(p.pid);
  return groupMembers(p.pid).length > 0;
}

/** Sends `signal` to the slot's whole process group, if it is still shipgate's. */
export function signalSlot(p: { pid: number; mark: string }, signal: NodeJS.Signals): void {
  // The leader may have exited with its children still running: the group is still ours when
  // one of its members carries the mark.
  const ours = !PROC || slotAlive(p) || groupMembers(p.pid).some((pid) => carriesMark(pid, p.mark));
  if (!ours) return;
  try {
    process.kill(-p.pid, signal);
  } catch {
    // gone already
  }
}

/** SIGTERM to the group, SIGKILL for what is left after `graceMs`; resolves when it is empty. */
export async function stopSlot(p: { pid: number; mark: string }, graceMs = 3000): Promise<void> {
  signalSlot(p, 'SIGTERM');
  if (await drained(p, graceMs)) return;
  signalSlot(p, 'SIGKILL');
  await drained(p, 5000);
}

/** Whether nothing listens on 127.0.0.1:`port` (a bind succeeds). */
export function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen({ port, host: '127.0.0.1', exclusive: true }, () => s.close(() => resolve(true)));
  });
}

/** Every running process whose slot mark starts with `prefix` (Linux only; [] elsewhere). */
export function markedProcesses(prefix: string): { pid: number; mark: string }[] {
  if (!PROC) return [];
  const needle = Buffer.from(`\0${SLOT_MARK}=${prefix}`);
  const out: { pid: number; mark: string }[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const env = Buffer.concat([Buffer.from([0]), fs.readFileSync(`/proc/${name}/environ`)]);
      const at = env.indexOf(needle);
      if (at < 0) continue;
      const end = env.indexOf(0, at + 1);
      const mark = env.subarray(at + 1 + SLOT_MARK.length + 1, end < 0 ? undefined : end).toString();
      const stat = procStat(Number(name));
      if (stat && stat.state !== 'Z') out.push({ pid: Number(name), mark });
    } catch {
      // gone meanwhile, or another user's
    }
  }
  return out;
}

/** The state, parent and process group of a process, from /proc (null when it is gone). */
export function procStat(pid: number): { state: string; ppid: number; pgrp: number } | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // After the command name, which may hold spaces and parentheses: state, ppid, pgrp, …
    const [state, ppid, pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { state, ppid: Number(ppid), pgrp: Number(pgrp) };
  } catch {
    return null;
  }
}

function carriesMark(pid: number, mark: string): boolean {
  try {
    const env = Buffer.concat([Buffer.from([0]), fs.readFileSync(`/proc/${pid}/environ`)]);
    return env.includes(Buffer.from(`\0${SLOT_MARK}=${mark}\0`));
  } catch {
    return false;
  }
}

/** The live (not zombie) processes of a process group. */
function groupMembers(pgid: number): number[] {
  const out: number[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = procStat(Number(name));
    if (stat && stat.pgrp === pgid && stat.state !== 'Z' && stat.state !== 'X') out.push(Number(name));
  }
  return out;
}

async function drained(p: { pid: number; mark: string }, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (slotGroupAlive(p)) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
  return true;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
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

function tail(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8').trim().split('\n').slice(-5).join(' | ').slice(-800);
  } catch {
    return '(no output)';
  }
}
