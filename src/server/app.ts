// The HTTP server: one fastify route per operation (features/*/operations.ts), authenticated
// with API tokens, hardened (hardening.ts), every error a JSON answer with the status of the
// error table in errors.ts. Also shipgate's own telemetry (docs/telemetry.md): /metrics,
// /livez, /readyz, one JSON log line per request with its trace id (logging.ts).
import { timingSafeEqual } from 'node:crypto';
import { PassThrough } from 'node:stream';
import Fastify, { LogController, type FastifyInstance, type FastifyRequest } from 'fastify';
import { asShipgateError, ShipgateError, UnauthorizedError } from '../errors.js';
import type { Actor } from '../features/access/actor.js';
import { sha256 } from '../features/access/service.js';
import type { Shipgate } from '../main.js';
import { registerGithub } from '../features/github/routes.js';
import { registerUi } from '../features/ui/routes.js';
import { OPERATIONS } from './operations.js';
import { addSecurityHeaders, AuthFailureLimit, DEFAULT_HARDENING, type Hardening, serverFactory } from './hardening.js';
import { whenRecorded } from '../features/audit/record.js';
import { openDeploymentsByState, readinessOf } from '../store/sql.js';
import { lazyChildLogger, logRequests, routeOf, traceIdOf } from './logging.js';
import { invoke, isStreamed, type Operation } from './operation.js';
import { countAuditEvent, observeRequest, readOpenDeploymentsFrom, scrape } from './telemetry.js';
import { takeTurns } from './turns.js';

export interface ServerOptions {
  /** Largest request body accepted, in bytes (reports travel inside release bodies). */
  bodyLimit?: number;
  logger?: boolean | object;
  hardening?: Partial<Hardening>;
  operations?: Operation[];
}

const NOBODY: Actor = { user: 'anonymous', via: 'token' };

/** Who may read /metrics besides any user with an API token: the holder of this token. */
export const METRICS_TOKEN_ENV = 'SHIPGATE_METRICS_TOKEN';

function bearerOf(req: FastifyRequest): string | undefined {
  const header = req.headers.authorization;
  return header?.startsWith('Bearer ') ? header.slice(7).trim() : undefined;
}

export function buildServer(sg: Shipgate, opts: ServerOptions = {}): FastifyInstance {
  const hardening: Hardening = { ...DEFAULT_HARDENING, ...opts.hardening };
  const server = Fastify({
    bodyLimit: opts.bodyLimit ?? 5 * 1024 * 1024,
    logger: opts.logger ?? false,
    // Fastify's own request lines would log headers (tokens); logging.ts writes its own.
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: 'trace_id' }),
    genReqId: traceIdOf,
    childLoggerFactory: lazyChildLogger,
    requestIdHeader: false,
    serverFactory: serverFactory(hardening),
  });
  addSecurityHeaders(server, Boolean(hardening.tls));
  takeTurns(server);
  const users = new WeakMap<FastifyRequest, string>();
  logRequests(server, (req) => users.get(req) ?? null);
  whenRecorded(countAuditEvent);
  readOpenDeploymentsFrom(() => openDeploymentsByState(sg.store));
  server.addHook('onResponse', (req, reply, done) => {
    observeRequest(routeOf(req), req.method, reply.statusCode, reply.elapsedTime / 1000);
    done();
  });
  const authFailures = new AuthFailureLimit(hardening.authFailures);

  server.setErrorHandler((err: unknown, _req, reply) => {
    const e = err as { statusCode?: number };
    if (err instanceof ShipgateError) {
      if (err.code === 'too_many_requests') reply.header('retry-after', String(err.details?.retryAfterSeconds ?? 60));
      return reply.status(err.httpStatus).send({ error: { code: err.code, message: err.message, ...(err.details ? { details: err.details } : {}) } });
    }
    // Fastify's own client errors: malformed JSON, body too large, wrong content type.
    if (e.statusCode && e.statusCode >= 400 && e.statusCode < 500) {
      const code = e.statusCode === 413 ? 'payload_too_large' : 'bad_request';
      const message = e.statusCode === 413 ? `request body is larger than the ${server.initialConfig.bodyLimit} bytes allowed` : `malformed request: ${(err as Error).message}`;
      return reply.status(e.statusCode).send({ error: { code, message } });
    }
    const wrapped = asShipgateError(err);
    server.log.error({ code: wrapped.code }, wrapped.message);
    return reply.status(wrapped.httpStatus).send({ error: { code: wrapped.code, message: wrapped.message } });
  });

  server.setNotFoundHandler((req, reply) => {
    reply.status(404).send({ error: { code: 'not_found', message: `no route ${req.method} ${req.url.split('?')[0]}` } });
  });

  const authenticate = async (req: FastifyRequest): Promise<Actor> => {
    authFailures.check(req.ip);
    const token = bearerOf(req);
    try {
      const actor = await sg.access.authenticate(token);
      users.set(req, actor.user);
      return actor;
    } catch (err) {
      if (err instanceof UnauthorizedError) authFailures.failed(req.ip);
      throw err;
    }
  };

  for (const op of opts.operations ?? OPERATIONS) {
    server.route({
      method: op.method,
      url: op.path,
      handler: async (req, reply) => {
        const actor = op.permission === 'anyone' ? NOBODY : await authenticate(req);
        const out = await invoke(op, sg, actor, { params: req.params as Record<string, unknown>, query: req.query as Record<string, unknown>, body: req.body });
        if (isStreamed(out)) {
          // Streamed, so a long log is never held in memory whole.
          const stream = new PassThrough();
          out.write(stream).then(
            () => stream.end(),
            (err: Error) => stream.destroy(err),
          );
          return reply.header('content-type', out.contentType).send(stream);
        }
        return reply.status(out.status).send(out.body);
      },
    });
  }
  // Probes for a process supervisor or load balancer: anyone may ask (no token, nothing secret).
  server.get('/livez', async () => ({ status: 'live' }));
  server.get('/readyz', async (_req, reply) => {
    const r = await readinessOf(sg.store);
    return r.ready ? { status: 'ready' } : reply.status(503).send({ status: 'not ready', reason: r.reason });
  });
  // Metrics: for any user with an API token, or for the metrics token (a scraper's own).
  const metricsToken = process.env[METRICS_TOKEN_ENV] ? sha256(process.env[METRICS_TOKEN_ENV]!) : null;
  server.get('/metrics', async (req, reply) => {
    const presented = bearerOf(req);
    if (!(metricsToken && presented && timingSafeEqual(Buffer.from(sha256(presented)), Buffer.from(metricsToken)))) await authenticate(req);
    const { contentType, text } = await scrape();
    return reply.header('content-type', contentType).send(text);
  });
  // The web UI (its own sign-in and sessions) and GitHub's webhook (its own signature).
  registerUi(server, sg);
  registerGithub(server, sg);
  return server;
}
