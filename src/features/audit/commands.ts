// The audit commands: verify the chain, export it as JSON lines, list events.
import fs from 'node:fs';
import path from 'node:path';
import { idArg } from '../../cli/args.js';
import type { Json } from '../../cli/client.js';
import { command } from '../../cli/command.js';
import { EXIT } from '../../errors.js';

const ops = () => import('./operations.js');

export const commands = [
  command({
    group: 'audit',
    command: 'verify',
    description: 'check the hash chain; names the first bad event',
    async action(ctx) {
      const out = await (await ctx.client()).call((await ops()).verifyAudit);
      const r = out.result;
      const human = r.ok
        ? `audit chain intact: ${r.events} events, last #${r.lastSeq}, head ${r.lastHash}`
        : `audit chain BROKEN at event #${r.problem.seq} (${r.problem.kind}): ${r.problem.message}`;
      return { json: out, human, exit: r.ok ? EXIT.ok : EXIT.failed };
    },
  }),
  command({
    group: 'audit',
    command: 'head',
    description: "print the last event's number and hash: the anchor to keep outside the store",
    async action(ctx) {
      const out = await (await ctx.client()).call((await ops()).auditHead);
      return { json: out, human: `#${out.head.seq} ${out.head.hash}` };
    },
  }),
  command({
    group: 'audit',
    command: 'export',
    description: 'write every audit event as JSON lines',
    options: [{ flags: '-o, --output <file>', description: 'file to write, whole or not at all (default: standard output)' }],
    async action(ctx, o: { output?: string }) {
      const client = await ctx.client();
      const op = (await ops()).exportAudit;
      if (!o.output) return void (await client.stream(op, (chunk) => ctx.io.out(chunk)));
      const file = path.resolve(ctx.io.cwd, o.output);
      const tmp = `${file}.partial`;
      const fd = fs.openSync(tmp, 'w');
      try {
        await client.stream(op, (chunk) => fs.writeSync(fd, chunk));
      } finally {
        fs.closeSync(fd);
      }
      fs.renameSync(tmp, file);
    },
  }),
  command({
    group: 'audit',
    command: 'list',
    description: 'audit events in sequence order',
    options: [
      { flags: '--after <seq>', description: 'only events after this sequence number' },
      { flags: '--limit <n>', description: 'at most this many', default: '100' },
      { flags: '--subject <subject>', description: 'e.g. deployment:12 or release:web@1.4.2' },
    ],
    async action(ctx, o: { after?: string; limit: string; subject?: string }) {
      const after = o.after === undefined || o.after === '0' ? undefined : idArg(o.after, '--after');
      const limit = Math.min(idArg(o.limit, '--limit'), 1000);
      const out = await (await ctx.client()).call((await ops()).auditEvents, { query: { after, limit, subject: o.subject } });
      const human = out.events.map((e: Json) => `#${e.seq} ${e.at} ${e.actor} ${e.action} ${e.subject} ${JSON.stringify(e.data)}`).join('\n');
      return { json: out, human: human || 'no events' };
    },
  }),
];
