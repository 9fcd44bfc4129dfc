// Service processes a local runtime left behind when it died without stopping them (SIGKILL,
// OOM killer, power to the process lost): they hold ports and memory and serve nobody, since
// the proxy died with the runtime. A runtime puts a mark of its own in the environment of each
// process it starts, in a process group of its own; whoever finds the dead runtime's state
// file ends the processes carrying that mark, with their groups. The mark, not a recorded pid,
// says a process is one of them: a pid may have been given to an unrelated process since.
import fs from 'node:fs';

/** The environment variable a runtime sets on the processes it starts: its instance id. */
export const RUNTIME_MARK = 'SHIPGATE_RUNTIME';

interface Seen {
  pid: number;
  pgid: number;
  marked: boolean;
}

/**
 * Ends every process carrying `instance`'s mark, and the rest of their process groups: SIGTERM,
 * then SIGKILL for what is left after `graceMs`. Returns the pids that carried the mark. Where
 * processes cannot be looked into (no /proc: not Linux), nothing is signalled, since nothing
 * proves which processes were the runtime's.
 */
export async function endOrphans(instance: string, graceMs = 3000): Promise<number[]> {
  if (!instance || !fs.existsSync('/proc/self/stat')) return [];
  const needle = Buffer.from(`\0${RUNTIME_MARK}=${instance}\0`);
  const now = scan(needle);
  const self = now.find((p) => p.pid === process.pid);
  const found = now.filter((p) => p.marked && p.pid !== process.pid);
  if (found.length === 0) return [];
  // A group to signal is one a marked process is in (each its own session, so nothing else is
  // in it); never the caller's own (a shipgate run from inside a service carries the mark too).
  const groups = new Set(found.map((p) => p.pgid).filter((g) => g > 1 && g !== self?.pgid));
  const left = () => scan(needle).filter((p) => p.pid !== process.pid && (p.marked || groups.has(p.pgid)));
  const signal = (sig: NodeJS.Signals) => {
    for (const g of groups) tryKill(-g, sig);
    for (const p of left()) tryKill(p.pid, sig);
  };
  signal('SIGTERM');
  if (!(await drained(left, graceMs))) {
    signal('SIGKILL');
    await drained(left, 2000);
  }
  return found.map((p) => p.pid);
}

/** Whether `pid` runs a shipgate runtime for this state file (false when it cannot be told). */
export function runsRuntime(pid: number, stateFile: string): boolean {
  try {
    const argv = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return argv.some((a) => /runtime-main\.[jt]s$/.test(a)) && argv.includes(stateFile);
  } catch {
    return false;
  }
}

async function drained(left: () => Seen[], ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (left().length > 0) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
  return true;
}

/** Live processes (zombies hold nothing and are left to their parent), each with its group. */
function scan(needle: Buffer): Seen[] {
  const seen: Seen[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      // After the command name, which may hold spaces and parentheses: state, ppid, pgrp, …
      const stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
      const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (state === 'Z' || state === 'X') continue;
      // Variables are NUL-terminated; a leading NUL lets the first one match like the others.
      const environ = Buffer.concat([Buffer.from([0]), fs.readFileSync(`/proc/${name}/environ`)]);
      seen.push({ pid: Number(name), pgid: Number(pgrp), marked: environ.includes(needle) });
    } catch {
      // Gone meanwhile, or another user's: not ours either way.
    }
  }
  return seen;
}

function tryKill(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // gone already
  }
}
