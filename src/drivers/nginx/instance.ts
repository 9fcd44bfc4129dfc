// nginx itself, as the driver uses it: check a config (nginx -t), make nginx load it (a reload,
// confirmed by its workers), and start it when it is shipgate's own. Two kinds:
// - managed: an nginx shipgate runs for a machine-local setup (tests, examples), with its
//   prefix, main config, pid file, logs and temp paths in shipgate's directory, on the ports the
//   include files name. Reloaded by SIGHUP to its master, as `nginx -s reload` does.
// - external: the team's own nginx; shipgate runs their test and reload commands, and when it
//   knows the master's pid file, waits for the reload to take effect as it does for its own.
// A reload counts as done when every old worker has stopped taking connections (exited, or
// titled "shutting down"), which the master asks of them only after the new workers started:
// from then on every new request is routed by the new config. The master waits about 100 ms
// between the two, so a reload takes at least that.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { renderMainConfig } from './render.js';
import { procStat } from './slots.js';

export type Command = string[] | string;

export interface NginxInstance {
  /** nginx -t on the config as written: null when it passes, else nginx's words. */
  test(): Promise<string | null>;
  /** Whether nginx runs (always true for an external one: it is not shipgate's to start). */
  running(): boolean;
  /** Makes the running nginx load the config as written; resolves once it routes by it. */
  reload(): Promise<void>;
  /** Starts a managed nginx that is not running. */
  start(): Promise<void>;
  /** Writes what the instance itself needs (a managed main config); true when that changed. */
  prepare(): boolean;
}

export class ManagedNginx implements NginxInstance {
  readonly conf: string;
  readonly pidFile: string;
  readonly errorLog: string;

  constructor(
    private readonly binary: string,
    /** The prefix: nginx.conf, nginx.pid, logs/ and temp/ live here. */
    readonly prefix: string,
    private readonly confDir: string,
    private readonly timeoutMs: number,
  ) {
    this.conf = path.join(prefix, 'nginx.conf');
    this.pidFile = path.join(prefix, 'nginx.pid');
    this.errorLog = path.join(prefix, 'logs', 'error.log');
  }

  private args(): string[] {
    return ['-p', `${this.prefix}/`, '-c', this.conf, '-e', this.errorLog];
  }

  prepare(): boolean {
    for (const d of ['logs', 'temp']) fs.mkdirSync(path.join(this.prefix, d), { recursive: true });
    fs.mkdirSync(this.confDir, { recursive: true });
    const root = process.getuid?.() === 0;
    return writeIfChanged(this.conf, renderMainConfig(this.prefix, this.confDir, root ? os.userInfo().username : null));
  }

  /** The master's pid when it runs with this config (a pid file left by a dead one is ignored). */
  master(): number | null {
    let pid: number;
    try {
      pid = Number(fs.readFileSync(this.pidFile, 'utf8').trim());
    } catch {
      return null;
    }
    if (!Number.isInteger(pid) || pid <= 0) return null;
    const title = cmdline(pid);
    return title.startsWith('nginx: master process') && title.includes(this.conf) ? pid : null;
  }

  running(): boolean {
    return this.master() !== null;
  }

  async test(): Promise<string | null> {
    const r = await run([this.binary, '-t', ...this.args()], this.prefix, this.timeoutMs);
    return r.code === 0 ? null : nginxWords(r.output) || `${this.binary} -t exited with ${r.code}`;
  }

  async start(): Promise<void> {
    // A master killed on its own (the OOM killer) leaves its workers serving the old config on
    // its ports; they would keep a new master from binding them.
    await this.endOrphans();
    // nginx daemonizes itself (a session of its own); the command returns once it has bound its
    // ports and written the pid file, or failed to.
    const r = await run([this.binary, ...this.args()], this.prefix, this.timeoutMs);
    if (r.code !== 0) throw new Error(`nginx did not start: ${nginxWords(r.output) || `${this.binary} exited with ${r.code}`}`);
    const deadline = Date.now() + this.timeoutMs;
    while (this.master() === null) {
      if (Date.now() > deadline) throw new Error(`nginx did not start within ${this.timeoutMs} ms: ${errorTail(this.errorLog)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  async reload(): Promise<void> {
    const master = this.master();
    if (master === null) throw new Error('nginx is not running');
    await reloaded(master, () => process.kill(master, 'SIGHUP'), this.timeoutMs, this.errorLog);
  }

  /** Stops this nginx (fast shutdown), waiting for its workers; for tests and clean-up. */
  async stop(): Promise<void> {
    const master = this.master();
    if (master === null) return this.endOrphans();
    const workers = children(master);
    process.kill(master, 'SIGTERM');
    const deadline = Date.now() + 5000;
    const left = () => [master, ...workers].filter((p) => cmdline(p).startsWith('nginx:'));
    while (left().length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    for (const p of left()) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        // gone
      }
    }
  }

  /** Workers of this nginx whose master is gone: nginx processes without a master holding a
   * file of this prefix open (their error log). */
  private orphans(): number[] {
    const out: number[] = [];
    for (const name of fs.readdirSync('/proc')) {
      if (!/^\d+$/.test(name)) continue;
      const pid = Number(name);
      const title = cmdline(pid);
      if (!title.startsWith('nginx: ') || title.startsWith('nginx: master process')) continue;
      const stat = procStat(pid);
      if (!stat || stat.state === 'Z' || cmdline(stat.ppid).startsWith('nginx: master process')) continue;
      try {
        const fds = fs.readdirSync(`/proc/${pid}/fd`);
        if (fds.some((fd) => safeReadlink(`/proc/${pid}/fd/${fd}`).startsWith(`${this.prefix}/`))) out.push(pid);
      } catch {
        // another user's, or gone
      }
    }
    return out;
  }

  private async endOrphans(): Promise<void> {
    if (!fs.existsSync('/proc/self/stat')) return;
    const signal = (sig: NodeJS.Signals) => {
      for (const pid of this.orphans()) {
        try {
          process.kill(pid, sig);
        } catch {
          // gone
        }
      }
    };
    signal('SIGTERM');
    const deadline = Date.now() + 2000;
    while (this.orphans().length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    signal('SIGKILL');
  }
}

export class ExternalNginx implements NginxInstance {
  constructor(
    private readonly commands: { test: Command; reload: Command },
    /** The master's pid file, when known: reloads are then confirmed. */
    private readonly pidFile: string | null,
    private readonly cwd: string,
    private readonly timeoutMs: number,
  ) {}

  prepare(): boolean {
    return false;
  }

  running(): boolean {
    return true;
  }

  async test(): Promise<string | null> {
    const r = await run(this.commands.test, this.cwd, this.timeoutMs);
    return r.code === 0 ? null : nginxWords(r.output) || `${label(this.commands.test)} exited with ${r.code}`;
  }

  async reload(): Promise<void> {
    const master = this.master();
    const command = async () => {
      const r = await run(this.commands.reload, this.cwd, this.timeoutMs);
      if (r.code !== 0) throw new Error(`${label(this.commands.reload)} exited with ${r.code}: ${nginxWords(r.output) || '(no output)'}`);
    };
    if (master === null) return command();
    await reloaded(master, command, this.timeoutMs, null);
  }

  async start(): Promise<void> {
    throw new Error('nginx is not shipgate\'s to start (mode: external)');
  }

  private master(): number | null {
    if (!this.pidFile) return null;
    try {
      const pid = Number(fs.readFileSync(this.pidFile, 'utf8').trim());
      return cmdline(pid).startsWith('nginx: master process') ? pid : null;
    } catch {
      return null;
    }
  }
}

/** Writes `text` to `file` (atomically) unless it holds that already; true when it wrote. */
export function writeIfChanged(file: string, text: string): boolean {
  let old: string | null = null;
  try {
    old = fs.readFileSync(file, 'utf8');
  } catch {
    // none yet
  }
  if (old === text) return false;
  writeAtomically(file, text);
  return true;
}

/** Replaces `file` whole: nginx never reads half of it. The temporary name does not end in
 * .conf, so an include glob never picks it up. */
export function writeAtomically(file: string, text: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  fs.writeFileSync(tmp, text);
  fs.renameSync(tmp, file);
}

/**
 * Triggers a reload (`trigger`) of the master `master`, then waits until it routes by the new
 * config. The master tells its old workers to stop only once the new ones have started, and not
 * at all when it cannot apply the config, so the reload has taken effect when every old worker
 * has exited or is titled "shutting down" (it no longer accepts connections). Only those few
 * processes are looked at while waiting. A master that refuses the config says why in its error
 * log, which is read when known.
 */
async function reloaded(master: number, trigger: () => unknown, timeoutMs: number, errorLog: string | null): Promise<void> {
  const old = children(master);
  const logFrom = errorLog ? size(errorLog) : 0;
  await trigger();
  const deadline = Date.now() + timeoutMs;
  const stopped = (pid: number) => {
    const stat = procStat(pid);
    return stat === null || stat.state === 'Z' || stat.ppid !== master || cmdline(pid).includes('shutting down');
  };
  for (;;) {
    if (old.every(stopped)) return;
    if (errorLog) {
      const refused = /\[(?:emerg|alert)\][^\n]*/.exec(readFrom(errorLog, logFrom));
      if (refused) throw new Error(`nginx kept its previous config: ${refused[0].replace(/^\[\w+\] \d+#\d+: /, '')}`);
    }
    if (procStat(master) === null) throw new Error(`the nginx master (pid ${master}) exited during the reload`);
    if (Date.now() > deadline) throw new Error(`nginx (pid ${master}) did not start workers with the new config within ${timeoutMs} ms${errorLog ? `: ${errorTail(errorLog)}` : ''}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** The live children of a process (an nginx master's workers). */
function children(parent: number): number[] {
  const out: number[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = procStat(Number(name));
    if (stat && stat.ppid === parent && stat.state !== 'Z' && stat.state !== 'X') out.push(Number(name));
  }
  return out;
}

/** A process's title as `ps` shows it (nginx rewrites its own: "nginx: worker process"). */
function cmdline(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0+$/, '').replaceAll('\0', ' ');
  } catch {
    return '';
  }
}

function safeReadlink(p: string): string {
  try {
    return fs.readlinkSync(p);
  } catch {
    return '';
  }
}

function size(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch {
    return 0;
  }
}

function readFrom(file: string, offset: number): string {
  try {
    const fd = fs.openSync(file, 'r');
    try {
      const len = Math.max(0, Math.min(fs.fstatSync(fd).size - offset, 1 << 20));
      const buf = Buffer.alloc(len);
      fs.readSync(fd, buf, 0, len, offset);
      return buf.toString();
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return '';
  }
}

function errorTail(file: string): string {
  const text = readFrom(file, Math.max(0, size(file) - 4000));
  return text.trim().split('\n').filter((l) => /\[(?:emerg|alert|crit|error)\]/.test(l)).slice(-3).join(' | ') || `see ${file}`;
}

/** What nginx said that matters: its [emerg]/[alert] lines and the verdict, without the noise. */
function nginxWords(output: string): string {
  const lines = output.trim().split('\n').map((l) => l.trim()).filter(Boolean);
  const key = lines.filter((l) => /\[(?:emerg|alert|crit)\]|test failed/.test(l));
  return (key.length ? key : lines.slice(-3)).join(' | ').slice(0, 1500);
}

function label(command: Command): string {
  return typeof command === 'string' ? command : command.join(' ');
}

/** Runs a command (argv, or a string for /bin/sh -c), bounded in time; its output together. */
function run(command: Command, cwd: string, timeoutMs: number): Promise<{ code: number | string; output: string }> {
  const argv = typeof command === 'string' ? ['/bin/sh', '-c', command] : command;
  return new Promise((resolve) => {
    const child = spawn(argv[0], argv.slice(1), { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const keep = (b: Buffer) => (output = (output + b.toString()).slice(-8000));
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      output += `\n(killed after ${timeoutMs} ms)`;
    }, timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      resolve({ code: 'not run', output: `cannot run ${argv[0]}: ${err.message}` });
    });
    // Its output is complete at 'close'; but a daemonizing nginx hands its stderr on to the
    // master, which lives on, so 'exit' plus a moment is enough.
    let result: { code: number | string; output: string } | null = null;
    const done = () => result && resolve({ ...result, output });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      result = { code: code ?? String(signal), output };
      setTimeout(done, 200);
    });
    child.on('close', () => done());
  });
}
