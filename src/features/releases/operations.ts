// The releases' HTTP operations (and the CLI's calls): register, list, show, attach reports,
// verify in an environment.
import { z } from 'zod';
import { name } from '../../server/schemas.js';
import { operation, respond } from '../../server/operation.js';

const report = z
  .object({
    name: z.string().min(1).max(300).describe('file name of the report, as shown to users'),
    content: z.string().describe('the report text: SARIF, Trivy, Grype or npm-audit JSON, or JUnit XML'),
    kind: z.enum(['scan', 'tests']).optional(),
    format: z.string().optional(),
  })
  .strict();

const releaseParams = z.object({ service: name, version: name }).strict();

export const registerRelease = operation({
  method: 'POST',
  path: '/api/v1/releases',
  summary: 'Register a release (immutable: version, digest, commit, reports); the same build again is a no-op (200)',
  permission: 'user',
  status: 201,
  body: z
    .object({
      service: name,
      version: name,
      digest: z.string().describe('sha256:<64 hex> of the built artifact'),
      commit: z.string().describe('source commit hash'),
      builtAt: z.string().optional().describe('ISO-8601 build time; default: now'),
      reports: z.array(report).max(50).optional(),
    })
    .strict(),
  async handle({ actor, body }, sg) {
    const out = await sg.releases.register(actor, body);
    return out.alreadyRegistered ? respond(200, out) : out;
  },
});

export const listReleases = operation({
  method: 'GET',
  path: '/api/v1/releases',
  summary: 'List releases, newest first',
  permission: 'user',
  query: z.object({ service: name.optional() }).strict(),
  async handle({ query }, sg) {
    return { releases: await sg.releases.list(query.service) };
  },
});

export const showRelease = operation({
  method: 'GET',
  path: '/api/v1/releases/:service/:version',
  summary: 'One release and where it is verified',
  permission: 'user',
  params: releaseParams,
  async handle({ params }, sg) {
    const release = await sg.releases.get(params.service, params.version);
    return { release, verifications: await sg.releases.verifications(release.id) };
  },
});

export const attachReports = operation({
  method: 'POST',
  path: '/api/v1/releases/:service/:version/reports',
  summary: 'Attach test or scan reports to a release',
  permission: 'user',
  params: releaseParams,
  body: z.object({ reports: z.array(report).min(1).max(50) }).strict(),
  async handle({ actor, params, body }, sg) {
    return { release: await sg.releases.attach(actor, params.service, params.version, body.reports) };
  },
});

export const verifyRelease = operation({
  method: 'POST',
  path: '/api/v1/releases/:service/:version/verifications',
  summary: 'Mark a release verified in an environment (starts the soak clock)',
  permission: 'user',
  status: 201,
  params: releaseParams,
  body: z.object({ environment: name, note: z.string().max(2000).optional() }).strict(),
  async handle({ actor, params, body }, sg) {
    const release = await sg.releases.verify(actor, params.service, params.version, body.environment, body.note);
    return { release, verifications: await sg.releases.verifications(release.id) };
  },
});

export const releaseOperations = [registerRelease, listReleases, showRelease, attachReports, verifyRelease];
