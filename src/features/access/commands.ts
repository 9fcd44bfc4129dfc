// The token commands. Tokens are administered where the store is, never over HTTP: whoever can
// open the store may, and each change is audited with the OS user who ran it.
import { idArg } from '../../cli/args.js';
import type { CommandContext, Outcome } from '../../cli/run.js';

const LOCAL_ONLY = 'token commands work on the local store only; run them where the store is';

export async function create(ctx: CommandContext, user: string, o: { label: string }): Promise<Outcome> {
  ctx.localOnly(LOCAL_ONLY);
  const t = await (await ctx.local()).access.createToken(ctx.actor('admin'), user, o.label);
  return { json: { id: t.id, user, label: o.label, token: t.token }, human: `token ${t.id} for ${user} (shown once, keep it secret):\n${t.token}` };
}

export async function list(ctx: CommandContext): Promise<Outcome> {
  ctx.localOnly(LOCAL_ONLY);
  const tokens = await (await ctx.local()).access.tokens();
  const human = tokens.map((t) => `${t.id}  ${t.user}  ${t.label}  created ${t.createdAt}${t.revokedAt ? `  revoked ${t.revokedAt}` : ''}`).join('\n');
  return { json: { tokens }, human: human || 'no tokens' };
}

export async function revoke(ctx: CommandContext, id: string): Promise<Outcome> {
  ctx.localOnly(LOCAL_ONLY);
  await (await ctx.local()).access.revokeToken(ctx.actor('admin'), idArg(id, 'token id'));
  return { json: { revoked: Number(id) }, human: `token ${id} revoked` };
}
