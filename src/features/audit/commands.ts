// The audit commands: verify the chain, export it as JSON lines, list events.
import fs from 'node:fs';
import path from 'node:path';
import { idArg } from '../../cli/args.js';
import type { Json } from '../../cli/client.js';
import type { CommandContext, Outcome } from '../../cli/run.js';
import { EXIT } from '../../errors.js';
import { auditEvents, exportAudit, verifyAudit } from './operations.js';

export async function verify(ctx: CommandContext): Promise<Outcome> {
  const out = await (await ctx.client()).call(verifyAudit);
  const r = out.result;
  const human = r.ok
    ? `audit chain intact: ${r.events} events, last #${r.lastSeq}, head ${r.lastHash}`
    : `audit chain BROKEN at event #${r.problem.seq} (${r.problem.kind}): ${r.problem.message}`;
  return { json: out, human, exit: r.ok ? EXIT.ok : EXIT.failed };
}

/** To a file (written whole or not at all) or to standard output. */
export async function exportLog(ctx: CommandContext, o: { output?: string }): Promise<void> {
  const client = await ctx.client();
  if (!o.output) return client.stream(exportAudit, (chunk) => ctx.io.out(chunk));
  const file = path.resolve(ctx.io.cwd, o.output);
  const tmp = `${file}.partial`;
  const fd = fs.openSync(tmp, 'w');
  try {
    await client.stream(exportAudit, (chunk) => fs.writeSync(fd, chunk));
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
}

export async function list(ctx: CommandContext, o: { after?: string; limit: string; subject?: string }): Promise<Outcome> {
  const after = o.after === undefined || o.after === '0' ? undefined : idArg(o.after, '--after');
  const limit = Math.min(idArg(o.limit, '--limit'), 1000);
  const out = await (await ctx.client()).call(auditEvents, { query: { after, limit, subject: o.subject } });
  const human = out.events.map((e: Json) => `#${e.seq} ${e.at} ${e.actor} ${e.action} ${e.subject} ${JSON.stringify(e.data)}`).join('\n');
  return { json: out, human: human || 'no events' };
}
