// The HTTP operations of the figures feature: the deployment figures (GET /api/v1/metrics) and
// a deployment's readiness report (GET /api/v1/deployments/:id/report), Markdown, HTML or the
// report's data as JSON. Both read only; any signed-in user may call them (`user`), as anyone
// with a token may already read the deployments and audit events they are computed from.
import { z } from 'zod';
import { readinessReport } from '../../domain/readiness.js';
import { readinessHtml } from '../../domain/reports/html.js';
import { readinessMarkdown } from '../../domain/reports/markdown.js';
import { operation } from '../../server/operation.js';
import { id, name } from '../../server/schemas.js';

export const metrics = operation({
  method: 'GET',
  path: '/api/v1/metrics',
  summary: "Deployment figures of an environment (default: the config's last): DORA's five and the seeds', each with its definition",
  permission: 'user',
  query: z.object({ service: name.optional(), env: name.optional(), since: z.string().max(40).optional() }).strict(),
  async handle({ query }, sg) {
    return { metrics: await sg.figures.figures({ service: query.service, environment: query.env, since: query.since }) };
  },
});

export const report = operation({
  method: 'GET',
  path: '/api/v1/deployments/:id/report',
  summary: 'The readiness report of a deployment (QG-PHASE7): PASS/FAIL first; format md (default), html (one self-contained file) or json',
  permission: 'user',
  params: z.object({ id: id() }),
  query: z.object({ format: z.enum(['md', 'html', 'json']).optional() }).strict(),
  async handle({ params, query }, sg) {
    const r = readinessReport(await sg.figures.readiness(params.id));
    if (query.format === 'json') return { report: r };
    const text = query.format === 'html' ? readinessHtml(r) : readinessMarkdown(r);
    return { contentType: query.format === 'html' ? 'text/html; charset=utf-8' : 'text/markdown; charset=utf-8', write: async (out: { write(chunk: string): unknown }) => out.write(text) };
  },
});

export const figuresOperations = [metrics, report];
