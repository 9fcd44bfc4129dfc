// The web UI served by `shipgate serve` under /ui: sign-in (OIDC or an API token), the
// "awaiting me" inbox, the board, deployment pages with the live rollout (server-sent events),
// the audit log, and the deployment figures with their charts. Every change goes through the
// same service methods as the API, with the signed-in user as the actor; every POST carries
// the session's CSRF token.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import formbody from '@fastify/formbody';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { chooseApprovalRole, tallyApprovals } from '../../domain/approvals.js';
import { GATE_STATES } from '../../domain/deployment.js';
import type { Deployment } from '../../domain/types.js';
import { ForbiddenError, InputError, NotFoundError, ShipgateError, UnauthorizedError } from '../../errors.js';
import type { Shipgate } from '../../main.js';
import { html, page } from './html.js';
import { OidcSignIn } from './oidc.js';
import { actorOf, COOKIE, cookies, csrfOk, PENDING_COOKIE, type Session, SessionStore, setCookie } from './session.js';
import { rolloutSnapshot } from './snapshot.js';
import * as views from './views.js';

const UI_CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

const require = createRequire(import.meta.url);
function assetFiles(): Record<string, { file: string; type: string }> {
  const here = path.dirname(fileURLToPath(import.meta.url));
  // From the sources: assets/ beside this file; from the bundle: dist/ui-assets (scripts/build.mjs copies them).
  const candidates = [path.join(here, 'assets'), path.join(here, 'ui-assets'), path.resolve(here, '../ui-assets')];
  const own = candidates.find((d) => fs.existsSync(path.join(d, 'ui.css')));
  if (!own) throw new Error(`the web UI's assets are missing (looked in ${candidates.join(', ')}); reinstall shipgate or run npm run build`);
  return {
    'htmx.min.js': { file: require.resolve('htmx.org/dist/htmx.min.js'), type: 'text/javascript' },
    'uplot.min.js': { file: path.join(path.dirname(require.resolve('uplot')), 'uPlot.iife.min.js'), type: 'text/javascript' },
    'uplot.min.css': { file: path.join(path.dirname(require.resolve('uplot')), 'uPlot.min.css'), type: 'text/css' },
    'ui.css': { file: path.join(own, 'ui.css'), type: 'text/css' },
    'live-rollout.js': { file: path.join(own, 'live-rollout.js'), type: 'text/javascript' },
    'metrics-charts.js': { file: path.join(own, 'metrics-charts.js'), type: 'text/javascript' },
  };
}

/** A page's one script: uPlot then the page's code, so they always run in that order. */
function withUplot(files: ReturnType<typeof assetFiles>, own: string): Buffer {
  return Buffer.concat([fs.readFileSync(files['uplot.min.js']!.file), Buffer.from(';\n'), fs.readFileSync(files[own]!.file)]);
}

declare module 'fastify' {
  interface FastifyRequest {
    uiSession?: Session | null;
  }
}

export function registerUi(server: FastifyInstance, sg: Shipgate): void {
  server.get('/', (_req, reply) => reply.redirect('/ui'));
  server.register(async (app) => {
    await app.register(formbody);
    const cfg = sg.config.ui ?? {};
    const sessions = new SessionStore(cfg.sessionHours ?? 8);
    const signInOidc = cfg.oidc ? new OidcSignIn(cfg.oidc, sg.directory) : null;
    const tokenSignIn = cfg.tokenSignIn ?? true;
    const readOnlyRoles = new Set(cfg.readOnlyRoles ?? []);
    const assets = assetFiles();
    let live: Buffer | null = null;
    let charts: Buffer | null = null;
    const secure = (req: FastifyRequest) => req.protocol === 'https';
    const origin = (req: FastifyRequest) => `${req.protocol}://${req.headers.host}`;

    app.addHook('onSend', async (_req, reply, payload) => {
      reply.header('content-security-policy', UI_CSP);
      return payload;
    });

    // Every page but sign-in and the assets needs a session; an API-style JSON error never
    // reaches a browser here.
    app.addHook('preHandler', async (req, reply) => {
      const url = req.url.split('?')[0]!;
      req.uiSession = sessions.get(cookies(req)[COOKIE]);
      if (url.startsWith('/ui/assets/') || url.startsWith('/ui/auth/') || url === '/ui/signin') return;
      if (!req.uiSession) {
        if (req.method === 'GET') return reply.redirect(`/ui/signin?next=${encodeURIComponent(url)}`);
        return sendError(reply, 401, 'Sign in first.', null);
      }
      if (req.method === 'POST' && !csrfOk(req.uiSession, req)) return sendError(reply, 403, 'This form is missing its CSRF token or the token is wrong; reload the page and try again.', req.uiSession);
    });

    app.setErrorHandler((err, req, reply) => {
      const status = err instanceof ShipgateError ? err.httpStatus : ((err as { statusCode?: number }).statusCode ?? 500);
      if (status >= 500) app.log.error({ err: (err as Error).message }, 'ui request failed');
      return sendError(reply, status, status >= 500 ? 'Something went wrong; the error is in the server log.' : (err as Error).message, req.uiSession ?? null);
    });

    function sendError(reply: FastifyReply, status: number, message: string, s: Session | null) {
      return reply
        .status(status)
        .type('text/html; charset=utf-8')
        .send(page({ title: status === 403 ? 'Not allowed' : status === 401 ? 'Not signed in' : 'Could not do that', user: frameUser(s) }, html`<p class="error" role="alert" data-status="${status}">${message}</p><p><a href="/ui">Back to the inbox</a></p>`));
    }

    const frameUser = (s: Session | null) => (s ? { name: s.user, roles: s.roles, readOnly: s.readOnly, csrf: s.csrf } : null);
    const send = (reply: FastifyReply, s: Session, title: string, body: ReturnType<typeof html>, scripts?: string[]) =>
      reply.type('text/html; charset=utf-8').send(page({ title, user: frameUser(s), scripts }, body));

    // ---- assets ---------------------------------------------------------------------------------
    app.get<{ Params: { name: string } }>('/ui/assets/:name', async (req, reply) => {
      if (req.params.name === 'live.js') return reply.header('cache-control', 'public, max-age=3600').type('text/javascript').send((live ??= withUplot(assets, 'live-rollout.js')));
      if (req.params.name === 'metrics.js') return reply.header('cache-control', 'public, max-age=3600').type('text/javascript').send((charts ??= withUplot(assets, 'metrics-charts.js')));
      const a = assets[req.params.name];
      if (!a) return reply.status(404).type('text/plain').send('no such asset');
      return reply.header('cache-control', 'public, max-age=3600').type(a.type).send(await fs.promises.readFile(a.file));
    });

    // ---- sign-in --------------------------------------------------------------------------------
    const startSession = (reply: FastifyReply, req: FastifyRequest, user: string, via: Session['via'], roles: string[]) => {
      sessions.end(cookies(req)[COOKIE]);
      const s = sessions.create({ user, via, roles, readOnly: roles.some((r) => readOnlyRoles.has(r)) || sg.directory.user(user).roles.some((r) => readOnlyRoles.has(r)) });
      setCookie(reply, COOKIE, s.id, { secure: secure(req), maxAgeSeconds: (s.expiresAt - Date.now()) / 1000 });
      return reply.redirect('/ui', 303);
    };

    app.get<{ Querystring: { error?: string } }>('/ui/signin', (req, reply) =>
      reply.type('text/html; charset=utf-8').send(page({ title: 'Sign in' }, views.signIn({ oidc: Boolean(signInOidc), token: tokenSignIn, error: req.query.error ?? null }))),
    );

    app.post<{ Body: { token?: string } }>('/ui/auth/token', async (req, reply) => {
      if (!tokenSignIn) throw new ForbiddenError('token sign-in is turned off (ui.token_sign_in: false)');
      let actor;
      try {
        actor = await sg.access.authenticate(req.body?.token?.trim() || undefined);
      } catch (err) {
        if (err instanceof UnauthorizedError) return reply.redirect(`/ui/signin?error=${encodeURIComponent('That token is not valid.')}`, 303);
        throw err;
      }
      return startSession(reply, req, actor.user, 'token', sg.directory.user(actor.user).roles);
    });

    app.get('/ui/auth/oidc', async (req, reply) => {
      if (!signInOidc) return reply.redirect('/ui/signin');
      const start = await signInOidc.start(origin(req));
      const id = sessions.begin({ state: start.state, nonce: start.nonce, verifier: start.verifier });
      setCookie(reply, PENDING_COOKIE, id, { secure: secure(req), maxAgeSeconds: 600 });
      return reply.redirect(start.url);
    });

    app.get('/ui/auth/callback', async (req, reply) => {
      if (!signInOidc) return reply.redirect('/ui/signin');
      const pending = sessions.take(cookies(req)[PENDING_COOKIE]);
      setCookie(reply, PENDING_COOKIE, '', { secure: secure(req), maxAgeSeconds: 0 });
      if (!pending) return reply.redirect(`/ui/signin?error=${encodeURIComponent('That sign-in expired; try again.')}`);
      let who;
      try {
        who = await signInOidc.finish(new URL(req.url, signInOidc.redirectUri(origin(req))), pending);
      } catch (err) {
        return reply.redirect(`/ui/signin?error=${encodeURIComponent(`Sign-in failed: ${(err as Error).message}`)}`);
      }
      return startSession(reply, req, who.user, 'oidc', who.roles);
    });

    app.post('/ui/auth/logout', async (req, reply) => {
      sessions.end(req.uiSession?.id);
      setCookie(reply, COOKIE, '', { secure: secure(req), maxAgeSeconds: 0 });
      return reply.redirect('/ui/signin', 303);
    });

    // ---- what a session may do ------------------------------------------------------------------
    const approverRolesOf = (environment: string) => {
      const p = sg.directory.policy(environment);
      return new Set([...p.approvals, ...p.emergency.approvals].map((r) => r.role));
    };

    /** The role this session would approve as now, or why it cannot (same domain rules the service applies). */
    async function approvalRole(s: Session, d: Deployment): Promise<{ role: string } | { error: string }> {
      if (s.readOnly) return { error: `${s.user} has a read-only role in the UI` };
      if (d.state !== 'awaiting_approval') return { error: `deployment ${d.id} is ${d.state}` };
      if (d.requestedBy === s.user) return { error: `${s.user} requested deployment ${d.id} and cannot approve or reject it` };
      const policy = sg.directory.policy(d.environment);
      const rules = d.type === 'hotfix' ? policy.emergency.approvals : policy.approvals;
      const approvals = (await sg.store.deployments.approvals(d.id)).filter((a) => !a.lapsedAt);
      if (approvals.some((a) => a.user === s.user && a.decision === 'approve')) return { error: `${s.user} already approved deployment ${d.id}` };
      const tally = tallyApprovals({ rules, approvals, requester: d.requestedBy, ttlMinutes: policy.approvalTtlMinutes, now: sg.now() });
      return chooseApprovalRole({ name: s.user, roles: s.roles }, rules, tally, null);
    }

    async function abilities(s: Session, d: Deployment) {
      const approverRoles = approverRolesOf(d.environment);
      const mayAct = !s.readOnly && (d.requestedBy === s.user || approverRoles.size === 0 || s.roles.some((r) => approverRoles.has(r)));
      return {
        csrf: s.csrf,
        approve: 'role' in (await approvalRole(s, d)),
        tick: !s.readOnly && GATE_STATES.includes(d.state),
        rollback: mayAct && ['approved', 'waiting_for_window', 'rolling_out', 'verifying'].includes(d.state),
        rollbackNow: d.state === 'rolling_out' || d.state === 'verifying',
      };
    }

    async function card(s: Session, id: number) {
      const { view, gate } = await sg.deployments.gated(id, null);
      const d = view.deployment;
      const running = await sg.deployments.currentRelease(d.service, d.environment);
      return views.deploymentCard(view, gate, running, sg.directory.policy(d.environment).checklist, await abilities(s, d));
    }

    // ---- pages ----------------------------------------------------------------------------------
    app.get('/ui', async (req, reply) => {
      const s = req.uiSession!;
      const open = await sg.deployments.list({ states: ['awaiting_approval'], limit: 200 });
      const mine: number[] = [];
      for (const d of open) if ('role' in (await approvalRole(s, d))) mine.push(d.id);
      return send(reply, s, 'Awaiting me', views.inbox(await Promise.all(mine.map((id) => card(s, id)))));
    });

    app.get('/ui/board', async (req, reply) => {
      const cells = await sg.status.status();
      return send(
        reply,
        req.uiSession!,
        'Board',
        views.board(
          cells,
          sg.config.services.map((x) => x.name),
          sg.config.environments.map((e) => e.name),
        ),
      );
    });

    app.get<{ Params: { id: string } }>('/ui/deployments/:id', async (req, reply) => {
      const s = req.uiSession!;
      const id = idOf(req.params.id);
      const view = await sg.deployments.get(id);
      const d = view.deployment;
      const body = html`${await card(s, id)}${d.rollout || sg.directory.rollsOut(d.environment) ? views.rolloutPanel(id, await abilities(s, d), true) : ''}`;
      return send(reply, s, `Deployment #${id}`, body, ['/ui/assets/live.js']);
    });

    // The live rollout: a snapshot of the record and the judge's figures each time they change.
    app.get<{ Params: { id: string } }>('/ui/deployments/:id/events', async (req, reply) => {
      const id = idOf(req.params.id);
      await sg.deployments.get(id);
      reply.hijack();
      reply.raw.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', connection: 'keep-alive' });
      let last = '';
      let closed = false;
      req.raw.on('close', () => (closed = true));
      const deadline = Date.now() + 30 * 60_000;
      while (!closed && Date.now() < deadline && req.uiSession && sessions.get(req.uiSession.id)) {
        const view = await sg.deployments.get(id).catch(() => null);
        if (view) {
          const snap = JSON.stringify(rolloutSnapshot(view.deployment, Date.now()));
          if (snap !== last) {
            reply.raw.write(`data: ${snap}\n\n`);
            last = snap;
          } else reply.raw.write(': still here\n\n');
        }
        await new Promise((r) => setTimeout(r, 1000));
      }
      reply.raw.end();
    });

    app.get<{ Querystring: { subject?: string; action?: string; actor?: string; after?: string } }>('/ui/audit', async (req, reply) => {
      const f = { subject: (req.query.subject ?? '').trim(), action: (req.query.action ?? '').trim(), actor: (req.query.actor ?? '').trim() };
      const after = Math.max(0, Number(req.query.after) || 0);
      // Reads pages in sequence order until 200 events match, so the action and actor filters
      // (which the store does not index) still fill a page.
      const shown = [];
      let cursor = after;
      let more = true;
      for (let pages = 0; pages < 20 && shown.length < 200 && more; pages++) {
        const batch = await sg.audit.events({ afterSeq: cursor, limit: 1000, subject: f.subject || undefined });
        more = batch.length === 1000;
        for (const e of batch) {
          cursor = e.seq;
          if (f.action && !e.action.startsWith(f.action)) continue;
          if (f.actor && e.actor !== f.actor) continue;
          shown.push(e);
          if (shown.length >= 200) break;
        }
      }
      const full = shown.length >= 200 || more;
      return send(reply, req.uiSession!, 'Audit log', views.audit(shown, await sg.audit.verify(), f, full ? cursor : null));
    });

    // The deployment figures (features/figures): any signed-in user, like GET /api/v1/metrics.
    app.get<{ Querystring: { service?: string; env?: string; since?: string } }>('/ui/metrics', async (req, reply) => {
      const figures = sg.figures;
      const f = { service: (req.query.service ?? '').trim(), env: (req.query.env ?? '').trim() || figures.defaultEnvironment(), since: (req.query.since ?? '').trim() || '30d' };
      const m = await figures.figures({ service: f.service || undefined, environment: f.env, since: f.since });
      const body = views.metrics(
        m,
        f,
        sg.config.services.map((x) => x.name),
        sg.config.environments.map((e) => e.name),
      );
      return send(reply, req.uiSession!, 'Metrics', body, ['/ui/assets/metrics.js']);
    });

    // ---- changes: the services decide, with the signed-in user as the actor ----------------------
    const assertWritable = (s: Session) => {
      if (s.readOnly) throw new ForbiddenError(`${s.user} has a read-only role in the UI (${[...readOnlyRoles].join(', ')}): they can look but not act`);
    };

    for (const decision of ['approve', 'reject'] as const) {
      app.post<{ Params: { id: string }; Body: { comment?: string } }>(`/ui/deployments/:id/${decision}`, async (req, reply) => {
        const s = req.uiSession!;
        assertWritable(s);
        const id = idOf(req.params.id);
        const d = (await sg.deployments.get(id)).deployment;
        // With a role map, the session may act only with the roles its groups grant.
        const chosen = await approvalRole(s, d);
        const narrowed = s.roles.length !== sg.directory.user(s.user).roles.length;
        if ('error' in chosen && narrowed) throw new ForbiddenError(chosen.error);
        await sg.decisions.decide(actorOf(s), id, { decision, comment: req.body?.comment ?? null, role: 'role' in chosen ? chosen.role : null });
        return reply.redirect(`/ui/deployments/${id}`, 303);
      });
    }

    app.post<{ Params: { id: string; item: string }; Body: { note?: string } }>('/ui/deployments/:id/tick/:item', async (req, reply) => {
      const s = req.uiSession!;
      assertWritable(s);
      const id = idOf(req.params.id);
      await sg.decisions.tick(actorOf(s), id, req.params.item, req.body?.note ?? null);
      return reply.redirect(`/ui/deployments/${id}`, 303);
    });

    app.post<{ Params: { id: string }; Body: { reason?: string } }>('/ui/deployments/:id/rollback', async (req, reply) => {
      const s = req.uiSession!;
      assertWritable(s);
      const id = idOf(req.params.id);
      const d = (await sg.deployments.get(id)).deployment;
      const approverRoles = approverRolesOf(d.environment);
      if (d.requestedBy !== s.user && approverRoles.size > 0 && !s.roles.some((r) => approverRoles.has(r))) {
        throw new ForbiddenError(`${s.user} may not roll back deployment ${id}: only its requester or a holder of ${[...approverRoles].join(', ')} may`);
      }
      const reason = req.body?.reason?.trim();
      if (!reason) throw new InputError('a rollback needs a reason', { field: 'reason' });
      await sg.rollouts.request(actorOf(s), id, 'abort', reason);
      return reply.redirect(`/ui/deployments/${id}`, 303);
    });
  });
}

function idOf(text: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 1 || n > 2 ** 31) throw new NotFoundError(`no deployment ${text}`);
  return n;
}
