// `shipgate serve`: the HTTP API, a reconciler that re-evaluates open deployments on a timer
// (soak time passing, windows opening, approvals and deployments expiring), and the rollout
// controller for environments shipgate rolls out to.
import fs from 'node:fs';
import path from 'node:path';
import type { CommandContext } from '../cli/run.js';
import { InputError } from '../errors.js';
import { startCheckpoints } from '../features/evidence/checkpoints.js';
import { startGithub } from '../features/github/routes.js';
import { startNotifications } from '../features/notifications/worker.js';
import { buildController, driveRollouts } from '../features/rollouts/runner.js';
import type { Shipgate } from '../main.js';
import { buildServer } from './app.js';
import { serverLogger } from './logging.js';

export interface ServeOptions {
  host: string;
  port: number;
  reconcileEverySeconds: number;
  /** PEM files: serve HTTPS. */
  tls?: { cert: string; key: string };
  requestTimeoutMs: number;
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

  // The rollout controller, for environments whose config has a rollout: section.
  const stopRollouts = new AbortController();
  const controller = buildController(sg, {
    onProgress: (d, message) => server.log.info({ deployment: d.id, state: d.state }, message),
  });
  const rollouts = driveRollouts(sg, controller, {
    signal: stopRollouts.signal,
    onError: (id, err) => server.log.error({ deployment: id, err: err.message }, 'rollout step failed'),
  });

  // Notices from the outbox, and GitHub's protection rule runs answered once shipgate decides.
  const notifications = startNotifications(sg, server.log);
  const github = startGithub(sg, server.log);
  // Signed checkpoints of the audit chain's head (features/evidence/checkpoints.ts).
  const checkpoints = startCheckpoints(sg, server.log);

  await new Promise<void>((resolve) => {
    const stop = async () => {
      clearInterval(timer);
      stopRollouts.abort();
      await rollouts;
      await notifications.stop();
      await github.stop();
      await checkpoints.stop();
      await server.close();
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

/** The `serve` command: options over the config's server section. */
export async function serveCommand(ctx: CommandContext, o: { host?: string; port?: string; reconcileEvery: string; tlsCert?: string; tlsKey?: string }): Promise<void> {
  const cfg = await ctx.config();
  if (Boolean(o.tlsCert) !== Boolean(o.tlsKey)) throw new InputError('--tls-cert and --tls-key go together');
  const tls = o.tlsCert && o.tlsKey ? { cert: path.resolve(ctx.io.cwd, o.tlsCert), key: path.resolve(ctx.io.cwd, o.tlsKey) } : cfg.server.tls;
  await serve(
    await ctx.local(),
    {
      host: o.host ?? cfg.server.host,
      port: o.port !== undefined ? Number(o.port) : cfg.server.port,
      reconcileEverySeconds: Number(o.reconcileEvery),
      tls,
      requestTimeoutMs: cfg.server.requestTimeoutMs,
    },
    ctx.io.out,
  );
}

