// The `status` command: the board.
import { formatStatus } from '../../cli/output.js';
import type { CommandContext, Outcome } from '../../cli/run.js';
import { status as statusOp } from './operations.js';

export async function status(ctx: CommandContext): Promise<Outcome> {
  const out = await (await ctx.client()).call(statusOp);
  return { json: out, human: formatStatus(out.status) };
}
