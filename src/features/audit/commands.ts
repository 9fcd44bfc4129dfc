// The audit commands: verify the chain (and hold it to signed checkpoints), export it as JSON
// lines, list events, and sign a checkpoint of the head.
import fs from 'node:fs';
import path from 'node:path';
import { idArg } from '../../cli/args.js';
import type { Client, Json } from '../../cli/client.js';
import { command } from '../../cli/command.js';
import type { CommandContext } from '../../cli/run.js';
import { EXIT, InputError } from '../../errors.js';

const ops = () => import('./operations.js');

/** The key checkpoints are verified with: --key, else the public half of the config's evidence key. */
async function checkpointKey(ctx: CommandContext, keyFile: string | undefined) {
  const { readVerifyingKey, configuredSigningKey } = await import('../evidence/keys.js');
  if (keyFile) return readVerifyingKey(path.resolve(ctx.io.cwd, keyFile));
  let configured = null;
  try {
    configured = configuredSigningKey((await ctx.config()).evidence, ctx.io.env);
  } catch {
    // said below
  }
  if (!configured) throw new InputError("--checkpoint needs the signer's public key: --key pub.pem (or evidence.key in the config)");
  return configured;
}

/** Holds the store's chain to each checkpoint file: signature, then the event at its number. */
async function checkCheckpoints(ctx: CommandContext, client: Client, files: string[], keyFile: string | undefined) {
  const key = await checkpointKey(ctx, keyFile);
  const { openCheckpoint, checkAnchor } = await import('../evidence/checkpoint.js');
  const o = await ops();
  const head = (await client.call(o.auditHead)).head as { seq: number; hash: string };
  const eventAt = async (seq: number) => (await client.call(o.auditEvents, { query: { after: seq - 1, limit: 1 } })).events[0] ?? null;
  const results = [];
  for (const f of files) {
    const file = path.resolve(ctx.io.cwd, f);
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (err) {
      throw new InputError(`cannot read the checkpoint ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    const opened = openCheckpoint(text, key);
    if (!opened.ok) {
      results.push({ file, ok: false, checkpoint: null, message: `${f}: ${opened.problem}` });
      continue;
    }
    results.push({ file, ...(await checkAnchor(opened.checkpoint, eventAt, head)) });
  }
  return results;
}

export const commands = [
  command({
    group: 'audit',
    command: 'verify',
    description: 'check the hash chain (and that each signed checkpoint still holds); names the first bad event',
    options: [
      { flags: '--checkpoint <file>', description: 'a signed checkpoint of the head (audit checkpoint, serve, evidence packages); repeatable', repeatable: true },
      { flags: '--key <file>', description: "PEM public key the checkpoints were signed with (default: the config's evidence key)" },
    ],
    async action(ctx, o: { checkpoint?: string[]; key?: string }) {
      const client = await ctx.client();
      const out = await client.call((await ops()).verifyAudit);
      const r = out.result;
      const human = [
        r.ok
          ? `audit chain intact: ${r.events} events, last #${r.lastSeq}, head ${r.lastHash}`
          : `audit chain BROKEN at event #${r.problem.seq} (${r.problem.kind}): ${r.problem.message}`,
      ];
      if (!o.checkpoint?.length) return { json: out, human: human[0], exit: r.ok ? EXIT.ok : EXIT.failed };
      const checkpoints = await checkCheckpoints(ctx, client, o.checkpoint, o.key);
      for (const c of checkpoints) human.push(c.ok ? `checkpoint ok: ${c.message}` : `CHECKPOINT FAILED: ${c.message}`);
      const ok = r.ok && checkpoints.every((c) => c.ok);
      return { json: { ...out, checkpoints, ok }, human: human.join('\n'), exit: ok ? EXIT.ok : EXIT.failed };
    },
  }),
  command({
    group: 'audit',
    command: 'checkpoint',
    description: "sign a checkpoint of the head (number and hash) with the evidence key; records audit.checkpoint",
    options: [
      { flags: '-o, --output <file>', description: 'file to write, whole or not at all (default: standard output)' },
      { flags: '--signing-key <file>', description: 'PEM private key to sign with (default: evidence.key in the config); local store only' },
    ],
    async action(ctx, o: { output?: string; signingKey?: string }) {
      const { checkpointText, makeCheckpoint, writeWhole } = await import('../evidence/checkpoint.js');
      const file = o.output ? path.resolve(ctx.io.cwd, o.output) : null;
      const keep = (text: string) => (file ? writeWhole(file, text) : undefined);
      let made: { envelope: Json; checkpoint: Json };
      if (ctx.globals.server) {
        if (o.signingKey) throw new InputError('--signing-key works on the local store only: the server signs with the key of its own config (evidence.key)');
        made = await (await ctx.client()).call((await ops()).auditCheckpoint);
        keep(checkpointText(made.envelope));
      } else {
        ctx.requireUser();
        const sg = await ctx.local();
        const { requireSigningKey } = await import('../evidence/keys.js');
        const key = requireSigningKey(sg.config.evidence, ctx.io.env, o.signingKey ? path.resolve(ctx.io.cwd, o.signingKey) : undefined);
        made = await makeCheckpoint(sg, ctx.actor(), key, (envelope) => keep(checkpointText(envelope)));
      }
      const c = made.checkpoint;
      if (!file) return { json: made.envelope, human: checkpointText(made.envelope).trimEnd() };
      return { json: { file, checkpoint: c }, human: `wrote ${file}: checkpoint of #${c.seq} ${c.hash}, signed by key ${c.keyId}` };
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
