// `shipgate serve`: the HTTP API, a reconciler that re-evaluates open deployments on a timer
// (soak time passing, windows opening, approvals and deployments expiring), and the rollout
// controller for environments shipgate rolls out to. On PostgreSQL several replicas may run side
// by side: each rollout is driven by the replica holding its lease (features/rollouts/lease*.ts,
// docs/scale.md); on SQLite one process owns the file and drives every rollout, as before.
import fs from 'node:fs';
import path from 'node:path';
import type { CommandContext } from '../cli/run.js';
import { InputError } from '../errors.js';
import { startCheckpoints } from '../features/evidence/checkpoints.js';
import { startGithub } from '../features/github/routes.js';
import { startNotifications } from '../features/notifications/worker.js';
import { checkLeaseSettings, DEFAULT_LEASE_SETTINGS, defaultReplicaId, type LeaseSettings, RolloutLeases } from '../features/rollouts/lease-keeper.js';
import { buildController, driveRollouts } from '../features/rollouts/runner.js';
import type { Shipgate } from '../main.js';
import { startCheckpointer } from '../store/checkpointer.js';
import { databaseOf } from '../store/sql.js';
import { buildServer } from './app.js';
import { serverLogger } from './logging.js';
import { setLeaseHeld } from './telemetry.js';

export interface ServeOptions {
  host: string;
  port: number;
  reconcileEverySeconds: number;
  /** PEM files: serve HTTPS. */
  tls?: { cert: string; key: string };
  requestTimeoutMs: number;
  /** This replica's name in the leases and the audit log (default: host-pid-random). */
  replicaId?: string;
  lease?: LeaseSettings;
}

export async function serve(sg: Shipgate, opts: ServeOptions, out: (text: string) => void = (t) => process.stdout.write(t)): Promise<void> {
  if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535) {
    throw new InputError(`port must be a whole number from 0 to 65535 (got '${opts.port}')`);
  }
  if (!(opts.reconcileEverySeconds > 0)) {
    throw new InputError(`--reconcile-every must be a positive number of seconds (got '${opts.reconcileEverySeconds}')`);
  }
  const tls = opts.tls ? { cert: readPem(opts.tls.cert, 'certificate'), key: readPem(opts.tls.key, 'key') } : undefined;
  let server: ReturnType<typeof buildServer>;
  try {
    server = buildServer(sg, { logger: serverLogger(), hardening: { tls, requestTimeoutMs: opts.requestTimeoutMs } });
  } catch (err) {
    throw new InputError(`cannot use the TLS certificate and key (${opts.tls?.cert}, ${opts.tls?.key}): ${(err as Error).message}`);
  }
  try {
    await server.listen({ host: opts.host, port: opts.port });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') throw new InputError(`port ${opts.port} on ${opts.host} is in use; choose another with --port (or server.port in the config)`);
    if (code === 'EACCES') throw new InputError(`not allowed to listen on port ${opts.port} on ${opts.host}; choose a port above 1023 with --port`);
    if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') throw new InputError(`cannot listen on ${opts.host}: no such address on this machine; choose another with --host`);
    throw err;
  }
  const address = server.server.address();
  const port = typeof address === 'object' && address ? address.port : opts.port;
  out(`shipgate listening on ${tls ? 'https' : 'http'}://${opts.host.includes(':') ? `[${opts.host}]` : opts.host}:${port} (store: ${sg.store.kind} ${sg.store.location})\n`);

  let running = false;
  const timer = setInterval(async () => {
    if (running) return;
    running = true;
    try {
      const changed = await sg.deployments.reconcile();
      if (changed) server.log.info({ changed }, 'reconciled open deployments');
    } catch (err) {
      server.log.error({ err: (err as Error).message }, 'reconcile failed');
    } finally {
      running = false;
    }
  }, opts.reconcileEverySeconds * 1000);

  // The rollout controller, for environments whose config has a rollout: section; under leases
  // on PostgreSQL, where other replicas may share the database.
  const leases = sg.store.kind === 'postgres' ? new RolloutLeases(sg.store, opts.replicaId ?? defaultReplicaId(), opts.lease ?? DEFAULT_LEASE_SETTINGS, sg.now) : null;
  // The lease-holder gauge of /metrics (server/telemetry.ts).
  if (leases) leases.onHeld = setLeaseHeld;
  if (leases) {
    const s = leases.settings;
    out(`replica ${leases.holder}: rollouts under leases (ttl ${s.ttlMs / 1000} s, renewed every ${s.renewEveryMs / 1000} s, given up after ${s.renewDeadlineMs / 1000} s without renewal)\n`);
  }
  const stopRollouts = new AbortController();
  const controller = buildController(sg, {
    onProgress: (d, message) => server.log.info({ deployment: d.id, state: d.state }, message),
    leases: leases ?? undefined,
  });
  const rollouts = driveRollouts(sg, controller, {
    signal: stopRollouts.signal,
    leases: leases ?? undefined,
    onError: (id, err) => server.log.error({ deployment: id, err: err.message }, 'rollout step failed'),
    onLeaseLost: (id, err) => server.log.warn({ deployment: id, err: err.message }, 'rollout lease lost; another replica drives it'),
  });

  // Notices from the outbox, and GitHub's protection rule runs answered once shipgate decides.
  const notifications = startNotifications(sg, server.log);
  const github = startGithub(sg, server.log);
  // Signed checkpoints of the audit chain's head (features/evidence/checkpoints.ts).
  const checkpoints = startCheckpoints(sg, server.log);
  // SQLite's write-ahead log folded back on a worker thread, never inside a request's commit.
  const database = databaseOf(sg.store);
  const walCheckpointer = database
    ? await startCheckpointer(database, {
        onError: (err) => server.log.warn({ err: err.message }, 'the WAL checkpoint thread is not running; commits checkpoint for themselves'),
      })
    : null;

  await new Promise<void>((resolve) => {
    const stop = async () => {
      clearInterval(timer);
      stopRollouts.abort();
      await rollouts;
      await notifications.stop();
      await github.stop();
      await checkpoints.stop();
      await server.close();
      await walCheckpointer?.stop();
      resolve();
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
}

function readPem(file: string, what: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (err) {
    throw new InputError(`cannot read the TLS ${what} ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

/** The `serve` command's flags, as commander gives them. */
export interface ServeFlags {
  host?: string;
  port?: string;
  reconcileEvery: string;
  tlsCert?: string;
  tlsKey?: string;
  replicaId?: string;
  leaseTtl?: string;
  leaseRenew?: string;
  leaseDeadline?: string;
}

/** Lease settings from the flags, else SHIPGATE_LEASE_TTL / _RENEW / _DEADLINE, else the defaults. */
export function leaseSettingsFrom(o: ServeFlags, env: NodeJS.ProcessEnv): LeaseSettings {
  const seconds = (flag: string, given: string | undefined, fallbackMs: number) => {
    if (given === undefined || given === '') return fallbackMs;
    const n = Number(given);
    if (!(Number.isFinite(n) && n > 0)) throw new InputError(`${flag} must be a positive number of seconds (got '${given}')`);
    return n * 1000;
  };
  const d = DEFAULT_LEASE_SETTINGS;
  return checkLeaseSettings({
    ttlMs: seconds('--lease-ttl', o.leaseTtl ?? env.SHIPGATE_LEASE_TTL, d.ttlMs),
    renewEveryMs: seconds('--lease-renew', o.leaseRenew ?? env.SHIPGATE_LEASE_RENEW, d.renewEveryMs),
    renewDeadlineMs: seconds('--lease-deadline', o.leaseDeadline ?? env.SHIPGATE_LEASE_DEADLINE, d.renewDeadlineMs),
  });
}

/** The `serve` command: options over the config's server section. */
export async function serveCommand(ctx: CommandContext, o: ServeFlags): Promise<void> {
  const cfg = await ctx.config();
  if (Boolean(o.tlsCert) !== Boolean(o.tlsKey)) throw new InputError('--tls-cert and --tls-key go together');
  const tls = o.tlsCert && o.tlsKey ? { cert: path.resolve(ctx.io.cwd, o.tlsCert), key: path.resolve(ctx.io.cwd, o.tlsKey) } : cfg.server.tls;
  const lease = leaseSettingsFrom(o, process.env);
  const replicaId = (o.replicaId ?? process.env.SHIPGATE_REPLICA_ID ?? '').trim() || undefined;
  if (replicaId !== undefined && !/^[A-Za-z0-9._:@-]{1,100}$/.test(replicaId)) {
    throw new InputError(`--replica-id must be 1 to 100 letters, digits or . _ : @ - (got '${replicaId}')`);
  }
  await serve(
    await ctx.local(),
    {
      host: o.host ?? cfg.server.host,
      port: o.port !== undefined ? Number(o.port) : cfg.server.port,
      reconcileEverySeconds: Number(o.reconcileEvery),
      tls,
      requestTimeoutMs: cfg.server.requestTimeoutMs,
      replicaId,
      lease,
    },
    ctx.io.out,
  );
}

