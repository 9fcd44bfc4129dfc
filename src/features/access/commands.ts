// The token commands. Tokens are administered where the store is, never over HTTP: whoever can
// open the store may, and each change is audited with the OS user who ran it.
import { idArg } from '../../cli/args.js';
import { command } from '../../cli/command.js';

const LOCAL_ONLY = 'token commands work on the local store only; run them where the store is';

export const commands = [
  command({
    group: 'token',
    command: 'create <user>',
    description: 'create an API token for a user; it is printed once and only its hash is kept',
    options: [{ flags: '--label <text>', description: 'what the token is for', default: 'cli' }],
    async action(ctx, user: string, o: { label: string }) {
      ctx.localOnly(LOCAL_ONLY);
      const t = await (await ctx.local()).access.createToken(ctx.actor('admin'), user, o.label);
      return { json: { id: t.id, user, label: o.label, token: t.token }, human: `token ${t.id} for ${user} (shown once, keep it secret):\n${t.token}` };
    },
  }),
  command({
    group: 'token',
    command: 'list',
    description: 'list API tokens (never their values)',
    async action(ctx) {
      ctx.localOnly(LOCAL_ONLY);
      const tokens = await (await ctx.local()).access.tokens();
      const human = tokens.map((t) => `${t.id}  ${t.user}  ${t.label}  created ${t.createdAt}${t.revokedAt ? `  revoked ${t.revokedAt}` : ''}`).join('\n');
      return { json: { tokens }, human: human || 'no tokens' };
    },
  }),
  command({
    group: 'token',
    command: 'revoke <id>',
    description: 'revoke an API token',
    async action(ctx, id: string) {
      ctx.localOnly(LOCAL_ONLY);
      await (await ctx.local()).access.revokeToken(ctx.actor('admin'), idArg(id, 'token id'));
      return { json: { revoked: Number(id) }, human: `token ${id} revoked` };
    },
  }),
];
