// Releases: immutable builds (version, sha256 digest, commit, build time) with the summaries
// of their test and scan reports, and where each was verified (which starts the soak clock).
import { normalizeDigest, validateCommit, validateVersion } from '../../domain/release.js';
import { summarizeReport } from '../../domain/reports.js';
import type { Release, ReportKind, ReportSummary, Verification } from '../../domain/types.js';
import { ConflictError, InputError, NotFoundError } from '../../errors.js';
import { retrying, type Store, type Stores } from '../../store/store.js';
import type { Actor } from '../access/actor.js';
import { sha256 } from '../access/service.js';
import type { ReportAudit } from '../audit/catalogue.js';
import { record, releaseSubject } from '../audit/record.js';
import type { Directory } from '../directory.js';

export interface ReportInput {
  name: string;
  content: string;
  kind?: ReportKind;
  format?: string;
}

export interface RegisterInput {
  service: string;
  version: string;
  digest: string;
  commit: string;
  builtAt?: string;
  reports?: ReportInput[];
}

export class ReleaseService {
  constructor(
    private readonly directory: Directory,
    private readonly store: Store,
    private readonly now: () => Date,
  ) {}

  /**
   * Records a release. Registering the same build again (same version, digest, commit and no
   * new reports) is a no-op that succeeds, so a retried CI job passes; anything else under a
   * registered version, or the same digest under a second version, is refused.
   */
  async register(actor: Actor, input: RegisterInput): Promise<{ release: Release; alreadyRegistered: boolean }> {
    this.directory.assertUser(actor);
    this.directory.service(input.service);
    const version = validateVersion(input.version);
    const digest = normalizeDigest(input.digest);
    const commit = validateCommit(input.commit);
    const builtAt = input.builtAt ? isoTime(input.builtAt, 'builtAt') : this.now().toISOString();
    const reports = (input.reports ?? []).map(summarize);
    return retrying(() =>
      this.store.transaction(async (tx) => {
        const existing = await tx.releases.find(input.service, version);
        if (existing) return { release: sameBuild(existing, digest, commit, reports), alreadyRegistered: true };
        const twin = await tx.releases.findByDigest(input.service, digest);
        if (twin) {
          throw new ConflictError(`${digest} is already registered as ${input.service} ${twin.version}; one build has one version (register a new build for ${version})`, {
            releaseId: twin.id,
          });
        }
        const release = await tx.releases.insert({
          service: input.service,
          version,
          digest,
          commit,
          builtAt,
          createdAt: this.now().toISOString(),
          createdBy: actor.user,
          reports,
        });
        await record(tx, this.now(), actor, 'release.registered', releaseSubject(release), { digest, commit, builtAt, reports: reports.map(reportAudit) });
        return { release, alreadyRegistered: false };
      }),
    );
  }

  async attach(actor: Actor, service: string, version: string, inputs: ReportInput[]): Promise<Release> {
    this.directory.assertUser(actor);
    if (inputs.length === 0) throw new InputError('no report to attach');
    const added = inputs.map(summarize);
    return this.store.transaction(async (tx) => {
      const release = await this.get(service, version, tx);
      const reports = [...release.reports, ...added];
      await tx.releases.setReports(release.id, reports);
      await record(tx, this.now(), actor, 'release.reports_attached', releaseSubject(release), { reports: added.map(reportAudit) });
      return { ...release, reports };
    });
  }

  get(service: string, version: string, q: Stores = this.store): Promise<Release> {
    return releaseNamed(q, service, version);
  }

  list(service?: string): Promise<Release[]> {
    if (service) this.directory.service(service);
    return this.store.releases.list(service, 100);
  }

  async verify(actor: Actor, service: string, version: string, environment: string, note?: string | null): Promise<Release> {
    this.directory.assertUser(actor);
    this.directory.policy(environment);
    return retrying(() =>
      this.store.transaction(async (tx) => {
        const release = await this.get(service, version, tx);
        const existing = await tx.releases.verifications(release.id);
        if (existing.some((v) => v.environment === environment)) throw new ConflictError(`${service} ${version} is already verified in ${environment}`);
        await tx.releases.insertVerification({ releaseId: release.id, environment, verifiedAt: this.now().toISOString(), verifiedBy: actor.user, note: note ?? null });
        await record(tx, this.now(), actor, 'release.verified', releaseSubject(release), { environment, note: note ?? null });
        return release;
      }),
    );
  }

  verifications(releaseId: number): Promise<Verification[]> {
    return this.store.releases.verifications(releaseId);
  }
}

export async function releaseNamed(q: Stores, service: string, version: string): Promise<Release> {
  const r = await q.releases.find(service, version);
  if (!r) throw new NotFoundError(`no release ${version} of ${service} is registered`);
  return r;
}

export async function releaseById(q: Stores, id: number): Promise<Release> {
  const r = await q.releases.byId(id);
  if (!r) throw new NotFoundError(`no release with id ${id}`);
  return r;
}

/** The release registered again as the same build, or why it is not the same build. */
function sameBuild(existing: Release, digest: string, commit: string, reports: ReportSummary[]): Release {
  const what = `${existing.service} ${existing.version}`;
  if (existing.digest !== digest) {
    throw new ConflictError(`${what} is already registered with digest ${existing.digest}; a version names one build and cannot be re-registered with ${digest}`);
  }
  if (existing.commit !== commit) throw new ConflictError(`${what} is already registered with commit ${existing.commit}, not ${commit}`, { releaseId: existing.id });
  const known = new Set(existing.reports.map((r) => r.sha256));
  const other = reports.filter((r) => !known.has(r.sha256));
  if (other.length) {
    throw new ConflictError(`${what} is already registered, without ${other.map((r) => r.name).join(', ')}; add reports with \`shipgate release attach\``, { releaseId: existing.id });
  }
  return existing;
}

function summarize(r: ReportInput): ReportSummary {
  if (!r || typeof r.name !== 'string' || typeof r.content !== 'string') {
    throw new InputError('each report needs a name and its content as text', { field: 'reports' });
  }
  return summarizeReport({ name: r.name, content: r.content, kind: r.kind, format: r.format }, sha256(r.content));
}

function reportAudit(r: ReportSummary): ReportAudit {
  return { name: r.name, kind: r.kind, format: r.format, sha256: r.sha256, vulnerabilities: r.vulnerabilities, tests: r.tests };
}

function isoTime(value: string, field: string): string {
  const t = Date.parse(value);
  if (Number.isNaN(t)) throw new InputError(`${field} must be an ISO-8601 time (got '${value}')`, { field });
  return new Date(t).toISOString();
}
