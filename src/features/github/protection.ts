// A `deployment_protection_rule` webhook from GitHub, taken in: the signature checked over the
// raw body, the repository and GitHub environment mapped to a shipgate service and environment,
// the release found, the shipgate deployment requested (as the configured user) or found, and
// the run remembered so its answer can be sent once shipgate decides (answers.ts).
import { createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { normalizeDigest } from '../../domain/release.js';
import type { Release } from '../../domain/types.js';
import { ConflictError, InputError, NotFoundError, ShipgateError, UnauthorizedError } from '../../errors.js';
import type { Shipgate } from '../../main.js';
import { UniqueViolation } from '../../store/store.js';
import type { Actor } from '../access/actor.js';
import { type GithubSettings, githubSettings, mapTarget } from './config.js';
import type { ProtectionRun } from './store.js';

/** True when `header` (X-Hub-Signature-256) is the HMAC-SHA256 of `body` under `secret`. */
export function validSignature(secret: string, body: Buffer, header: string | undefined): boolean {
  if (!header?.startsWith('sha256=')) return false;
  const given = Buffer.from(header.slice(7), 'hex');
  const expected = createHmac('sha256', secret).update(body).digest();
  // Compared in constant time; a wrong length (or non-hex) is simply not equal.
  return given.length === expected.length && timingSafeEqual(given, expected);
}

export function sign(secret: string, body: Buffer | string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

const webhook = z.object({
  action: z.string(),
  environment: z.string().min(1),
  deployment_callback_url: z.url(),
  deployment: z
    .object({
      id: z.number().optional(),
      sha: z.string().optional(),
      ref: z.string().optional(),
      payload: z.unknown().optional(),
    })
    .optional(),
  repository: z.object({ full_name: z.string().min(3) }),
  installation: z.object({ id: z.number().int() }).optional(),
});

export type ProtectionRequest = z.infer<typeof webhook>;

export interface Accepted {
  status: number;
  body: Record<string, unknown>;
}

export interface Delivery {
  event: string | undefined;
  deliveryId: string | undefined;
  signature: string | undefined;
  /** The bytes as received: what the signature covers. */
  body: Buffer;
  /** The JSON when it is not the body itself (a form-encoded webhook's payload field). */
  json?: Buffer;
}

export class ProtectionRules {
  readonly settings: GithubSettings;

  constructor(
    private readonly sg: Shipgate,
    private readonly env: NodeJS.ProcessEnv = process.env,
  ) {
    this.settings = githubSettings(sg.config.github);
  }

  /** Answers one webhook delivery: what the HTTP route sends back. Throws ShipgateErrors. */
  async receive(d: Delivery): Promise<Accepted> {
    const secret = this.env[this.settings.webhookSecretEnv];
    if (!secret) {
      throw new NotFoundError(`GitHub protection rules are not configured here: set ${this.settings.webhookSecretEnv} (github.webhook_secret_env) to the GitHub App's webhook secret`);
    }
    if (!validSignature(secret, d.body, d.signature)) throw new UnauthorizedError('X-Hub-Signature-256 does not match the body signed with the webhook secret');
    if (d.event === 'ping') return { status: 200, body: { ok: true } };
    if (d.event !== 'deployment_protection_rule') return { status: 202, body: { ignored: `event ${d.event ?? '(none)'} is not deployment_protection_rule` } };
    let raw: unknown;
    try {
      raw = JSON.parse((d.json ?? d.body).toString('utf8'));
    } catch (err) {
      throw new InputError(`the body is not JSON: ${(err as Error).message}`);
    }
    const parsed = webhook.safeParse(raw);
    if (!parsed.success) {
      const i = parsed.error.issues[0];
      throw new InputError(`not a deployment_protection_rule payload: ${i.path.join('.') || '(body)'}: ${i.message}`, { field: i.path.join('.') });
    }
    const p = parsed.data;
    if (p.action !== 'requested') return { status: 202, body: { ignored: `action ${p.action}` } };
    if (!d.deliveryId?.trim()) throw new InputError('X-GitHub-Delivery is missing: it identifies the run across redeliveries');
    // The installation token is sent to the callback URL: only ever to the configured API.
    if (new URL(p.deployment_callback_url).origin !== new URL(this.settings.apiUrl).origin) {
      throw new InputError(`deployment_callback_url ${p.deployment_callback_url} is not on ${this.settings.apiUrl} (github.api_url); shipgate sends its GitHub token nowhere else`, { field: 'deployment_callback_url' });
    }
    const deliveryId = d.deliveryId.trim();
    const known = await this.sg.store.github.runByDelivery(deliveryId);
    if (known) return this.answerFor(known, true);

    let deploymentId: number | null = null;
    let problem: ShipgateError | null = null;
    try {
      deploymentId = await this.deploymentFor(p);
    } catch (err) {
      if (!(err instanceof ShipgateError) || err.code === 'store_error' || err.code === 'internal') throw err;
      problem = err;
    }
    const run = await this.remember(deliveryId, p, deploymentId, problem);
    if (problem && run.deploymentId === null) {
      // GitHub is told too (rejected, with this message) so the job fails now instead of
      // waiting up to 30 days for an answer: docs/github.md.
      throw withDetails(problem, { deliveryId, answer: 'rejected' });
    }
    return this.answerFor(run, false);
  }

  private answerFor(run: ProtectionRun, redelivered: boolean): Accepted {
    return { status: 202, body: { deliveryId: run.deliveryId, deploymentId: run.deploymentId, answer: run.answer, comment: run.comment, redelivered } };
  }

  private async remember(deliveryId: string, p: ProtectionRequest, deploymentId: number | null, problem: ShipgateError | null): Promise<ProtectionRun> {
    try {
      return await this.sg.store.transaction((tx) =>
        tx.github.insertRun({
          deliveryId,
          repository: p.repository.full_name,
          githubEnvironment: p.environment,
          installationId: p.installation?.id ?? null,
          callbackUrl: p.deployment_callback_url,
          deploymentId,
          receivedAt: this.sg.now().toISOString(),
          answer: problem ? 'rejected' : null,
          comment: problem ? `shipgate: ${problem.message}` : null,
        }),
      );
    } catch (err) {
      // The same delivery, taken in by a racing request: answer from its row.
      if (err instanceof UniqueViolation) {
        const run = await this.sg.store.github.runByDelivery(deliveryId);
        if (run) return run;
      }
      throw err;
    }
  }

  /** The shipgate deployment this run waits on: requested now, or the open one of the same release. */
  private async deploymentFor(p: ProtectionRequest): Promise<number> {
    const s = this.settings;
    const target = mapTarget(s, p.repository.full_name, p.environment);
    if ('problem' in target) throw new NotFoundError(target.problem);
    const { repo, environment } = target;
    if (!this.sg.config.environments.some((e) => e.name === environment)) {
      throw new NotFoundError(`GitHub environment '${p.environment}' of ${p.repository.full_name} is shipgate environment '${environment}', which shipgate.yaml does not declare; map it in github.repositories[].environments`);
    }
    if (!this.sg.config.users.some((u) => u.name === s.user)) {
      throw new InputError(`github.user '${s.user}' is not a user in shipgate.yaml; add it (with no approver role) so deployments from GitHub have a requester`);
    }
    const { release, digest } = await this.releaseFor(repo.service, p);
    const actor: Actor = { user: s.user, via: 'token' };
    try {
      const { view } = await this.sg.deployments.request(actor, { service: repo.service, version: release.version, environment, digest });
      return view.deployment.id;
    } catch (err) {
      if (!(err instanceof ConflictError)) throw err;
      // A re-run of the job, or a deployment requested from the CLI first: the same release
      // already open there is the one this run waits on.
      const open = await this.sg.store.deployments.findOpen(repo.service, environment);
      if (open && open.version === release.version) return open.id;
      throw err;
    }
  }

  /**
   * The release a GitHub deployment is: `version` (or `digest`) in the deployment's payload,
   * at its top level or under `shipgate`, else the release whose commit is the deployment's sha.
   */
  private async releaseFor(service: string, p: ProtectionRequest): Promise<{ release: Release; digest: string | null }> {
    const payload = payloadOf(p.deployment?.payload);
    const version = str(payload.version);
    const digest = str(payload.digest);
    const releases = this.sg.store.releases;
    if (version) {
      const r = await releases.find(service, version);
      if (!r) throw new NotFoundError(`no release ${service} ${version} (the deployment payload's version); register it first: shipgate release register ${service} ${version} --digest ... --commit ...`);
      return { release: r, digest: digest ? normalizeDigest(digest) : null };
    }
    if (digest) {
      const d = normalizeDigest(digest);
      const r = await releases.findByDigest(service, d);
      if (!r) throw new NotFoundError(`no release of ${service} with digest ${d} (the deployment payload's digest); register it first`);
      return { release: r, digest: d };
    }
    const sha = p.deployment?.sha?.toLowerCase();
    if (!sha) throw new InputError('the deployment has neither a sha nor a version or digest in its payload: shipgate cannot tell which release it is', { field: 'sha' });
    // A release records the commit it was built from, full or abbreviated; newest first.
    const r = (await releases.list(service, 500)).find((x) => x.commit.length >= 7 && sha.startsWith(x.commit.toLowerCase()));
    if (!r) throw new NotFoundError(`no release of ${service} built from commit ${sha}; register it first (shipgate release register ${service} <version> --digest ... --commit ${sha}) or put version in the deployment payload`);
    return { release: r, digest: null };
  }
}

function payloadOf(raw: unknown): Record<string, unknown> {
  let v = raw;
  if (typeof v === 'string') {
    try {
      v = JSON.parse(v);
    } catch {
      return {};
    }
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) return {};
  const o = v as Record<string, unknown>;
  const nested = o.shipgate;
  return nested && typeof nested === 'object' && !Array.isArray(nested) ? { ...o, ...(nested as Record<string, unknown>) } : o;
}

function str(v: unknown): string | null {
  return typeof v === 'string' && v.trim() ? v.trim() : null;
}

function withDetails(err: ShipgateError, details: Record<string, unknown>): ShipgateError {
  return new ShipgateError(err.code, err.message, { ...err.details, ...details });
}
