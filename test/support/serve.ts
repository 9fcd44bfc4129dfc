// `shipgate serve` as a real child process for tests: started on a free port, its address
// read from what it prints, stopped (SIGKILL past a grace period) when the test is done.
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import path from 'node:path';

const BIN = path.resolve(import.meta.dirname, '../../bin/shipgate.js');

export interface Served {
  url: string;
  child: ChildProcessWithoutNullStreams;
  /** Everything it printed on stderr so far. */
  stderr(): string;
  running(): boolean;
  stop(): Promise<void>;
}

export async function startServe(dir: string, env: NodeJS.ProcessEnv, args: string[] = []): Promise<Served> {
  const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', ...args], { cwd: dir, env: { SHIPGATE_LOG_LEVEL: 'warn', ...env } });
  let out = '';
  let err = '';
  child.stderr.on('data', (b: Buffer) => (err += b.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`shipgate serve did not start within 30 s: ${out} ${err}`)), 30_000);
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString();
      const m = /listening on (https?:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`shipgate serve exited with ${code}: ${out} ${err}`));
    });
  });
  const running = () => child.exitCode === null && child.signalCode === null;
  return {
    url,
    child,
    stderr: () => err,
    running,
    stop: async () => {
      if (!running()) return;
      const gone = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await gone;
      clearTimeout(timer);
    },
  };
}

/** Polls `fn` until it returns a truthy value or the deadline passes (then throws with `what`). */
export async function until<T>(what: string, fn: () => Promise<T>, timeoutMs = 60_000, everyMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown = null;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
      last = v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Calls shipgate's HTTP API as the holder of `token`; fails the test on any non-2xx answer. */
export async function callApi(served: Served, token: string, method: string, url: string, body?: unknown): Promise<any> {
  const res = await fetch(`${served.url}${url}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const out = await res.json();
  if (!res.ok) throw new Error(`${method} ${url}: ${res.status} ${JSON.stringify(out)}`);
  return out;
}
