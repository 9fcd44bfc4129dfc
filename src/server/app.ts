// The HTTP API: the same operations as the CLI, authenticated with API tokens, described by an
// OpenAPI document at /api/v1/openapi.json.
import { PassThrough } from 'node:stream';
import Fastify, { LogController, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Actor, Shipgate } from '../app/shipgate.js';
import type { DeploymentState } from '../domain/types.js';
import { asShipgateError, InputError, ShipgateError, UnauthorizedError } from '../errors.js';
import { addSecurityHeaders, AuthFailureLimit, DEFAULT_HARDENING, type Hardening, serverFactory } from './hardening.js';
import { openApiDocument } from './openapi.js';
import {
  attachBody,
  auditQuery,
  cancelBody,
  completeBody,
  decisionBody,
  deploymentBody,
  deploymentsQuery,
  MAX_ID,
  nulIn,
  parseBody,
  parseQuery,
  registerBody,
  releasesQuery,
  tickBody,
  verifyBody,
} from './schemas.js';

export interface ServerOptions {
  /** Largest request body accepted, in bytes (reports travel inside release bodies). */
  bodyLimit?: number;
  logger?: boolean | object;
  hardening?: Partial<Hardening>;
}

declare module 'fastify' {
  interface FastifyRequest {
    actor: Actor;
  }
}

export function buildServer(app: Shipgate, opts: ServerOptions = {}): FastifyInstance {
  const hardening: Hardening = { ...DEFAULT_HARDENING, ...opts.hardening };
  const server = Fastify({
    bodyLimit: opts.bodyLimit ?? 5 * 1024 * 1024,
    logger: opts.logger ?? false,
    // Tokens travel in headers; never let them into logs.
    logController: new LogController({ disableRequestLogging: true }),
    serverFactory: serverFactory(hardening),
  });
  addSecurityHeaders(server, Boolean(hardening.tls));
  const authFailures = new AuthFailureLimit(hardening.authFailures);

  server.decorateRequest('actor', null as unknown as Actor);

  server.setErrorHandler((err: unknown, _req, reply) => {
    const e = err as { statusCode?: number; code?: string; message?: string };
    if (err instanceof ShipgateError) {
      if (err.code === 'too_many_requests') reply.header('retry-after', String(err.details?.retryAfterSeconds ?? 60));
      return reply.status(err.httpStatus).send({ error: { code: err.code, message: err.message, ...(err.details ? { details: err.details } : {}) } });
    }
    // Fastify's own client errors: malformed JSON, body too large, wrong content type.
    if (e.statusCode && e.statusCode >= 400 && e.statusCode < 500) {
      const code = e.statusCode === 413 ? 'payload_too_large' : 'bad_request';
      const message =
        e.statusCode === 413
          ? `request body is larger than the ${server.initialConfig.bodyLimit} bytes allowed`
          : `malformed request: ${e.message}`;
      return reply.status(e.statusCode).send({ error: { code, message } });
    }
    const wrapped = asShipgateError(err);
    server.log.error({ code: wrapped.code }, wrapped.message);
    return reply.status(wrapped.httpStatus).send({ error: { code: wrapped.code, message: wrapped.message } });
  });

  server.setNotFoundHandler((req, reply) => {
    reply.status(404).send({ error: { code: 'not_found', message: `no route ${req.method} ${req.url.split('?')[0]}` } });
  });

  // No text shipgate keeps may hold a NUL character: refused wherever it comes in.
  server.addHook('preHandler', async (req) => {
    const where = nulIn(req.params, 'path') ?? nulIn(req.query, 'query') ?? nulIn(req.body, 'body');
    if (where) throw new InputError(`a NUL character is not allowed (in ${where})`, { field: where });
  });

  const authenticate = async (req: FastifyRequest) => {
    authFailures.check(req.ip);
    const header = req.headers.authorization;
    const token = header?.startsWith('Bearer ') ? header.slice(7).trim() : undefined;
    try {
      req.actor = await app.authenticate(token);
    } catch (err) {
      if (err instanceof UnauthorizedError) authFailures.failed(req.ip);
      throw err;
    }
  };

  server.get('/healthz', async () => ({ status: 'ok' }));
  server.get('/api/v1/openapi.json', async () => openApiDocument());

  server.register(async (api) => {
    api.addHook('onRequest', authenticate);

    api.get('/api/v1/whoami', async (req) => ({ user: req.actor.user, roles: app.user(req.actor.user).roles }));

    // releases
    api.post('/api/v1/releases', async (req, reply) => {
      const body = parseBody(registerBody, req.body);
      const { release, alreadyRegistered } = await app.registerRelease(req.actor, body);
      return reply.status(alreadyRegistered ? 200 : 201).send({ release, alreadyRegistered });
    });
    api.get('/api/v1/releases', async (req) => {
      const { service } = parseQuery(releasesQuery, req.query);
      return { releases: await app.listReleases(service) };
    });
    api.get('/api/v1/releases/:service/:version', async (req) => {
      const { service, version } = req.params as { service: string; version: string };
      const release = await app.getRelease(service, version);
      return { release, verifications: await app.verificationsOf(release.id) };
    });
    api.post('/api/v1/releases/:service/:version/reports', async (req) => {
      const { service, version } = req.params as { service: string; version: string };
      const body = parseBody(attachBody, req.body);
      return { release: await app.attachReports(req.actor, service, version, body.reports) };
    });
    api.post('/api/v1/releases/:service/:version/verifications', async (req, reply) => {
      const { service, version } = req.params as { service: string; version: string };
      const body = parseBody(verifyBody, req.body);
      const release = await app.verifyRelease(req.actor, service, version, body.environment, body.note);
      return reply.status(201).send({ release, verifications: await app.verificationsOf(release.id) });
    });

    // the gate
    api.post('/api/v1/check', async (req) => {
      const body = parseBody(deploymentBody, req.body);
      return { gate: await app.check(req.actor, body) };
    });

    // deployments
    api.post('/api/v1/deployments', async (req, reply) => {
      const body = parseBody(deploymentBody, req.body);
      const { view, gate } = await app.requestDeployment(req.actor, body);
      return reply.status(201).send({ ...view, gate });
    });
    api.get('/api/v1/deployments', async (req) => {
      const q = parseQuery(deploymentsQuery, req.query);
      if (q.limit === 0) throw new InputError('limit must be at least 1', { field: 'limit' });
      const states = q.state as DeploymentState[] | undefined;
      return { deployments: await app.listDeployments({ service: q.service, environment: q.environment, states, limit: q.limit }) };
    });
    api.get('/api/v1/deployments/:id', async (req) => app.getDeployment(deploymentId(req)));
    api.post('/api/v1/deployments/:id/refresh', async (req) => {
      const { view, gate } = await app.refresh(req.actor, deploymentId(req));
      return { ...view, gate };
    });
    api.post('/api/v1/deployments/:id/approvals', async (req, reply) => {
      const body = parseBody(decisionBody, req.body);
      const { view, gate } = await app.decide(req.actor, deploymentId(req), body);
      return reply.status(201).send({ ...view, gate });
    });
    api.post('/api/v1/deployments/:id/checklist/:item', async (req, reply) => {
      const body = parseBody(tickBody, req.body);
      const { item } = req.params as { item: string };
      return reply.status(201).send(await app.tick(req.actor, deploymentId(req), item, body.note));
    });
    api.post('/api/v1/deployments/:id/cancel', async (req) => {
      const body = parseBody(cancelBody, req.body);
      return app.cancel(req.actor, deploymentId(req), body.reason);
    });
    api.post('/api/v1/deployments/:id/start', async (req) => app.start(req.actor, deploymentId(req)));
    api.post('/api/v1/deployments/:id/rollback', async (req) => {
      const body = parseBody(cancelBody, req.body);
      return app.requestRolloutAction(req.actor, deploymentId(req), 'abort', body.reason);
    });
    api.post('/api/v1/deployments/:id/resume', async (req) => app.requestRolloutAction(req.actor, deploymentId(req), 'resume'));
    api.post('/api/v1/deployments/:id/complete', async (req) => {
      const body = parseBody(completeBody, req.body);
      return app.complete(req.actor, deploymentId(req), body.outcome, body.reason);
    });

    api.get('/api/v1/status', async () => ({ status: await app.status() }));

    // audit
    api.get('/api/v1/audit', async (req) => {
      const q = parseQuery(auditQuery, req.query);
      if (q.limit === 0) throw new InputError('limit must be at least 1', { field: 'limit' });
      return { events: await app.auditEvents({ afterSeq: q.after, limit: q.limit ?? 100, subject: q.subject }) };
    });
    api.get('/api/v1/audit/verify', async () => ({ result: await app.verifyAudit() }));
    api.get('/api/v1/audit/export', async (_req, reply: FastifyReply) => {
      // Streamed, so a long log is never held in memory whole.
      const stream = new PassThrough();
      app.exportAudit(stream).then(
        () => stream.end(),
        (err: Error) => stream.destroy(err),
      );
      return reply.header('content-type', 'application/x-ndjson').send(stream);
    });
  });

  return server;
}

function deploymentId(req: FastifyRequest): number {
  const { id } = req.params as { id: string };
  return positiveInt(id, 'deployment id');
}

function positiveInt(value: string, field: string): number {
  if (!/^\d{1,10}$/.test(value) || Number(value) === 0 || Number(value) > MAX_ID) {
    throw new InputError(`${field} must be a positive whole number up to ${MAX_ID} (got '${value.slice(0, 40)}')`, { field });
  }
  return Number(value);
}
