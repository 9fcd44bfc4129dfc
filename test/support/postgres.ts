// A PostgreSQL server of a test's own, on loopback in a temp dir (scripts/pg-start.sh), that the
// test may stop and start again on the same port and data: for what happens to shipgate when
// its store goes away. Never the shared server other test files use.
import { execFileSync } from 'node:child_process';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '../..');
const PGBIN = process.env.PGBIN ?? '/usr/lib/postgresql/15/bin';

export interface OwnPostgres {
  url: string;
  stop(): void;
  start(): void;
  /** Stops it for good and removes its files. */
  destroy(): void;
}

function asPostgres(cmd: string, args: string[]): string[] {
  return process.getuid?.() === 0 ? ['runuser', '-u', 'postgres', '--', cmd, ...args] : [cmd, ...args];
}

export function startOwnPostgres(): OwnPostgres {
  const out = execFileSync('bash', [path.join(ROOT, 'scripts/pg-start.sh')], { encoding: 'utf8' });
  const url = /SHIPGATE_TEST_DATABASE_URL=(\S+)/.exec(out)![1];
  const dir = /SHIPGATE_TEST_PGDIR=(\S+)/.exec(out)![1];
  const port = new URL(url).port;
  const ctl = (args: string[]) => {
    const [cmd, ...rest] = asPostgres(path.join(PGBIN, 'pg_ctl'), ['-D', path.join(dir, 'data'), ...args]);
    execFileSync(cmd, rest, { stdio: 'ignore' });
  };
  return {
    url,
    stop: () => ctl(['-m', 'immediate', '-w', 'stop']),
    start: () => ctl(['-l', path.join(dir, 'server.log'), '-w', '-t', '60', '-o', `-h 127.0.0.1 -p ${port} -k ${dir} -c fsync=off -c max_connections=200`, 'start']),
    destroy: () => execFileSync('bash', [path.join(ROOT, 'scripts/pg-stop.sh'), dir], { stdio: 'ignore' }),
  };
}
