// The `status` command: the board.
import { command } from '../../cli/command.js';
import { formatStatus } from '../../cli/output.js';

export const commands = [
  command({
    command: 'status',
    description: 'per service and environment: current release, open deployment, what it waits for',
    async action(ctx) {
      const out = await (await ctx.client()).call((await import('./operations.js')).status);
      return { json: out, human: formatStatus(out.status) };
    },
  }),
];
