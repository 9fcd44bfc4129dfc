// Runs a service's migration commands (migration-config.ts): `up` or `down` with the record
// count taken before and after, each command bounded by the timeout. What a run found comes
// back as data — never thrown — for the controller and the rehearsal to record; the output
// lines it quotes have the values of the env_from variables replaced, so a database URL
// printed by a failing tool never reaches a reason, a log or the audit log.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import type { MigrationConfig } from './migration-config.js';

export type MigrationDirection = 'up' | 'down';

/** Which migration: the version whose migration runs, in which environment. */
export interface MigrationContext {
  service: string;
  environment: string;
  version: string;
  digest: string;
  /** The version serving there before (the stable), null on a first deployment. */
  previousVersion: string | null;
}

export interface MigrationOutcome {
  direction: MigrationDirection;
  ok: boolean;
  /** The migration command alone, without the counts. */
  durationMs: number;
  countBefore: number | null;
  countAfter: number | null;
  /** Why the run failed, with the command's last output lines (redacted); null when ok. */
  error: string | null;
}

/** How many output lines a failure quotes. */
const TAIL_LINES = 5;

/** Runs `direction` with counts around it. A count that drops is a failed run: `count` counts
 * what every version must keep. */
export async function runMigration(cfg: MigrationConfig, direction: MigrationDirection, ctx: MigrationContext, base: NodeJS.ProcessEnv = process.env): Promise<MigrationOutcome> {
  const outcome: MigrationOutcome = { direction, ok: false, durationMs: 0, countBefore: null, countAfter: null, error: null };
  const command = direction === 'up' ? cfg.up : cfg.down;
  if (!command) return { ...outcome, error: 'no down command is declared' };
  let prepared: Prepared;
  try {
    prepared = prepare(cfg, ctx, direction, base);
  } catch (err) {
    return { ...outcome, error: (err as Error).message };
  }
  if (cfg.count) {
    const before = await countRecords(cfg, ctx, prepared);
    if (typeof before === 'string') return { ...outcome, error: `count before ${direction}: ${before}; ${direction} was not run` };
    outcome.countBefore = before;
  }
  const t0 = performance.now();
  const run = await runCommand(expand(command, ctx), cfg, prepared);
  outcome.durationMs = Math.round(performance.now() - t0);
  if (cfg.count) {
    const after = await countRecords(cfg, ctx, prepared);
    if (typeof after === 'number') outcome.countAfter = after;
    else if (run.ok) return { ...outcome, error: `count after ${direction}: ${after}` };
  }
  if (!run.ok) return { ...outcome, error: `${direction}: ${run.failure}` };
  if (outcome.countBefore !== null && outcome.countAfter !== null && outcome.countAfter < outcome.countBefore) {
    return { ...outcome, error: `${direction} lost records: the count went from ${outcome.countBefore} to ${outcome.countAfter}` };
  }
  return { ...outcome, ok: true };
}

interface Prepared {
  env: NodeJS.ProcessEnv;
  /** Values to redact from quoted output. */
  secrets: string[];
}

function prepare(cfg: MigrationConfig, ctx: MigrationContext, direction: MigrationDirection, base: NodeJS.ProcessEnv): Prepared {
  const secrets: string[] = [];
  const fromEnv: Record<string, string> = {};
  const declared = Object.keys(cfg.envFrom);
  const mine = cfg.envFrom[ctx.environment];
  // A migration with per-environment settings but none for this environment would run against
  // whatever the defaults point at: refuse instead.
  if (declared.length && !mine) throw new Error(`migrate.env_from has no entry for ${ctx.environment} (it has ${declared.join(', ')}); not run`);
  for (const [name, source] of Object.entries(mine ?? {})) {
    const value = base[source];
    if (value === undefined || value === '') throw new Error(`${source} is not set in shipgate's environment (migrate.env_from.${ctx.environment}.${name}); not run`);
    fromEnv[name] = value;
    secrets.push(value);
    // A tool may print the URL back reformatted: its password alone is redacted too.
    try {
      const password = decodeURIComponent(new URL(value).password);
      if (password) secrets.push(password);
    } catch {
      // not a URL
    }
  }
  return {
    env: {
      ...base,
      ...cfg.env,
      ...fromEnv,
      SERVICE: ctx.service,
      ENVIRONMENT: ctx.environment,
      VERSION: ctx.version,
      DIGEST: ctx.digest,
      PREVIOUS_VERSION: ctx.previousVersion ?? '',
      MIGRATION_DIRECTION: direction,
    },
    secrets: secrets.filter((s) => s.length >= 3).sort((a, b) => b.length - a.length),
  };
}

function expand(argv: string[], ctx: MigrationContext): string[] {
  return argv.map((a) =>
    a.replaceAll('{version}', ctx.version).replaceAll('{digest}', ctx.digest).replaceAll('{environment}', ctx.environment).replaceAll('{previous_version}', ctx.previousVersion ?? ''),
  );
}

/** The count, or why there is none. */
async function countRecords(cfg: MigrationConfig, ctx: MigrationContext, prepared: Prepared): Promise<number | string> {
  const run = await runCommand(expand(cfg.count!, ctx), cfg, prepared);
  if (!run.ok) return run.failure;
  const last = run.stdout.trim().split('\n').at(-1)?.trim() ?? '';
  if (!/^\d+$/.test(last)) return `the count command printed '${redact(last.slice(0, 60), prepared.secrets)}', not a record count`;
  return Number(last);
}

type CommandRun = { ok: true; stdout: string } | { ok: false; failure: string; stdout: string };

function runCommand(argv: string[], cfg: MigrationConfig, prepared: Prepared): Promise<CommandRun> {
  // spawn reports a missing cwd as a missing command: say which it is.
  if (!fs.statSync(cfg.cwd, { throwIfNoEntry: false })?.isDirectory()) return Promise.resolve({ ok: false, stdout: '', failure: `the working directory ${cfg.cwd} (migrate.cwd) does not exist` });
  return new Promise((resolve) => {
    // Its own process group, so a timeout also ends what a wrapper script started.
    const child = spawn(argv[0], argv.slice(1), { cwd: cfg.cwd, env: prepared.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let stdout = '';
    let output = '';
    let timedOut = false;
    const keep = (b: Buffer, out: boolean) => {
      if (out) stdout = (stdout + b.toString()).slice(-4000);
      output = (output + b.toString()).slice(-4000);
    };
    child.stdout.on('data', (b: Buffer) => keep(b, true));
    child.stderr.on('data', (b: Buffer) => keep(b, false));
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    }, cfg.timeoutMs);
    const tail = () => {
      const lines = redact(output, prepared.secrets).split('\n').map((l) => l.trim()).filter(Boolean).slice(-TAIL_LINES);
      return lines.length ? `: ${lines.join(' | ')}` : '';
    };
    child.on('error', (err) => {
      clearTimeout(timer);
      resolve({ ok: false, stdout, failure: `cannot run ${argv[0]}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such command' : err.message}` });
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (timedOut) resolve({ ok: false, stdout, failure: `${argv[0]} did not finish within ${cfg.timeoutMs / 1000} s and was killed${tail()}` });
      else if (code === 0) resolve({ ok: true, stdout });
      else resolve({ ok: false, stdout, failure: `${argv[0]} ${signal ? `was killed by ${signal}` : `exited with ${code}`}${tail()}` });
    });
  });
}

function redact(text: string, secrets: string[]): string {
  return secrets.reduce((t, s) => t.replaceAll(s, '[redacted]'), text);
}
