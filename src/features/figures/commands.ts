// The CLI commands of the figures feature: `metrics` (the deployment figures, each beside its
// definition) and `report <deployment>` (the readiness report, Markdown or HTML, to standard
// output or a file written whole).
import fs from 'node:fs';
import path from 'node:path';
import { idArg } from '../../cli/args.js';
import type { Json } from '../../cli/client.js';
import { command } from '../../cli/command.js';
import { type Figure, type Figures, formatFigure } from '../../domain/figures.js';
import { InputError } from '../../errors.js';

const ops = () => import('./operations.js');

/** The figures as a table: each figure's number, its definition under it. */
export function formatFigures(m: Figures): string {
  const head = `Deployment figures for ${m.environment}${m.service ? ` (${m.service})` : ' (all services)'}, ${m.since.slice(0, 10)} → ${m.now.slice(0, 10)} (${m.days} days): ${m.deployed} reached ${m.environment}, ${m.finished} ended`;
  const row = (f: Figure) => `  ${f.name.padEnd(32)} ${formatFigure(f)}\n  ${''.padEnd(32)} ${f.definition}`;
  const split = m.rollbacks;
  const caught = split.deployments.map((r) => `    #${r.id} ${r.service} ${r.state}: ${r.caught === 'canary' ? `caught by the canary at ${r.weight}%` : `reached 100%${r.trigger ? ` (${r.trigger})` : ''}`}`);
  return [
    head,
    '',
    "DORA's five",
    ...m.figures.filter((f) => f.family === 'dora').map(row),
    '',
    "The seeds' figures",
    ...m.figures.filter((f) => f.family === 'seeds').map(row),
    '',
    `Failures: ${split.canaryCaught} caught by the canary before 100%, ${split.reachedFull} reached 100%`,
    `  ${split.definition}`,
    ...caught,
  ].join('\n');
}

export const commands = [
  command({
    command: 'metrics',
    description: "deployment figures: DORA's five (frequency, lead time, change failure rate, recovery time, rework rate) and the seeds', each with its definition",
    options: [
      { flags: '--service <service>', description: 'only this service' },
      { flags: '--env <environment>', description: "the environment (default: the config's last, production)" },
      { flags: '--since <when>', description: 'start of the window: 30d, 12h, 2w or a date (2026-11-01)', default: '30d' },
    ],
    async action(ctx, o: { service?: string; env?: string; since: string }) {
      const out = await (await ctx.client()).call((await ops()).metrics, { query: { service: o.service, env: o.env, since: o.since } });
      return { json: out, human: formatFigures(out.metrics as Figures) };
    },
  }),
  command({
    command: 'report <deployment>',
    description: 'the readiness report of a deployment (QG-PHASE7): PASS/FAIL, canary against baseline, verdicts, rollback readiness, monitoring, migrations, security, approvals',
    options: [
      { flags: '--format <format>', description: 'md or html (one self-contained file with its charts)', default: 'md', choices: ['md', 'html'] },
      { flags: '-o, --output <file>', description: 'file to write, whole or not at all (default: standard output)' },
    ],
    async action(ctx, deployment: string, o: { format: string; output?: string }) {
      const id = idArg(deployment);
      const client = await ctx.client();
      const op = (await ops()).report;
      if (ctx.json) {
        const out = await client.call(op, { params: { id }, query: { format: 'json' } });
        if (o.output) writeWhole(path.resolve(ctx.io.cwd, o.output), JSON.stringify(out, null, 2) + '\n');
        return { json: out, human: null };
      }
      if (!['md', 'html'].includes(o.format)) throw new InputError(`--format must be md or html (got '${o.format}')`, { field: 'format' });
      let text = '';
      await client.stream(op, (chunk) => (text += chunk), { params: { id }, query: { format: o.format } });
      if (!o.output) {
        ctx.io.out(text);
        return;
      }
      const file = path.resolve(ctx.io.cwd, o.output);
      writeWhole(file, text);
      const verdict = /(?:id="verdict">|^## )(PASS|FAIL)\b/m.exec(text)?.[1] ?? '?';
      return { json: { file } as Json, human: `${verdict}: readiness report of deployment ${id} written to ${file}` };
    },
  }),
];

/** Writes a file whole or not at all: a temporary file renamed into place. */
function writeWhole(file: string, text: string): void {
  const tmp = `${file}.partial`;
  fs.writeFileSync(tmp, text);
  fs.renameSync(tmp, file);
}
