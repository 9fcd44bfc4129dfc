// The deployment commands: the gate (check, deploy), the decisions at the gate (approve,
// reject, tick, refresh, cancel), reading (deployments, show), and the hand-over to a rollout
// run elsewhere (start, complete).
import { idArg } from '../../cli/args.js';
import { command, type OptionSpec } from '../../cli/command.js';
import { exitFor, formatDeployment, formatDeploymentRow, formatGate } from '../../cli/output.js';
import type { CommandContext, Outcome } from '../../cli/run.js';
import { EXIT, InputError } from '../../errors.js';
import type { Operation } from '../../server/operation.js';

interface RequestOptions {
  hotfix?: boolean;
  incident?: string;
  rollback?: boolean;
  digest?: string;
}

const requestOptions: OptionSpec[] = [
  { flags: '--hotfix', description: 'emergency deployment: needs the emergency approvers, may pass windows and freezes (flagged)' },
  { flags: '--incident <ref>', description: 'incident a hotfix fixes, e.g. INC-123' },
  { flags: '--rollback', description: 'redeploy a release that ran here before' },
  { flags: '--digest <sha256>', description: 'digest of the artifact about to be deployed; must match the recorded one' },
];

function request(service: string, version: string, environment: string, o: RequestOptions) {
  if (o.hotfix && o.rollback) throw new InputError('--hotfix and --rollback cannot be combined');
  return {
    service,
    version,
    environment,
    type: o.hotfix ? ('hotfix' as const) : o.rollback ? ('rollback' as const) : ('standard' as const),
    ...(o.incident !== undefined ? { incident: o.incident } : {}),
    ...(o.digest !== undefined ? { digest: o.digest } : {}),
  };
}

const ops = () => import('./operations.js');

/** Calls an operation on one deployment and shows it, exiting by its state (or `exit`). */
async function onDeployment(ctx: CommandContext, pick: (o: Awaited<ReturnType<typeof ops>>) => Operation, id: string, body?: unknown, exit?: number): Promise<Outcome> {
  const out = await (await ctx.client()).call(pick(await ops()), { params: { id: idArg(id) }, ...(body !== undefined ? { body } : {}) });
  return { json: out, human: formatDeployment(out), exit: exit ?? exitFor(out.deployment.state) };
}

const optional = (o: Record<string, string | undefined>) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));

export const commands = [
  command({
    command: 'check <service> <version> <environment>',
    description: 'dry run of the gate: every check explained; nothing is written',
    options: requestOptions,
    needsUser: true,
    async action(ctx, service: string, version: string, environment: string, o: RequestOptions) {
      const out = await (await ctx.client()).call((await ops()).checkGate, { body: request(service, version, environment, o) });
      return { json: out, human: `${service} ${version} → ${environment}\n${formatGate(out.gate)}`, exit: exitFor(out.gate.outcome) };
    },
  }),
  command({
    command: 'deploy <service> <version> <environment>',
    description: 'request a deployment; the gate is evaluated at once',
    options: requestOptions,
    needsUser: true,
    async action(ctx, service: string, version: string, environment: string, o: RequestOptions) {
      const out = await (await ctx.client()).call((await ops()).requestDeployment, { body: request(service, version, environment, o) });
      return { json: out, human: formatDeployment(out), exit: exitFor(out.deployment.state) };
    },
  }),
  command({
    command: 'deployments',
    description: 'list deployments, newest first',
    options: [
      { flags: '--service <name>', description: 'only this service' },
      { flags: '--env <name>', description: 'only this environment' },
      { flags: '--state <states>', description: 'only these states, comma-separated' },
      { flags: '--limit <n>', description: 'at most this many', default: '50' },
    ],
    async action(ctx, o: { service?: string; env?: string; state?: string; limit: string }) {
      const limit = Number(o.limit);
      if (!Number.isInteger(limit) || limit < 1) throw new InputError(`--limit must be a positive whole number (got '${o.limit}')`);
      const out = await (await ctx.client()).call((await ops()).listDeployments, { query: { service: o.service, environment: o.env, state: o.state, limit } });
      return { json: out, human: out.deployments.map(formatDeploymentRow).join('\n') || 'no deployments' };
    },
  }),
  command({
    command: 'show <id>',
    description: 'one deployment: checks, approvals, checklist, what it waits for',
    action: (ctx, id: string) => onDeployment(ctx, (o) => o.showDeployment, id),
  }),
  command({
    command: 'refresh <id>',
    description: 're-evaluate the gate of a deployment now',
    needsUser: true,
    action: (ctx, id: string) => onDeployment(ctx, (o) => o.refreshDeployment, id),
  }),
  command({
    command: 'approve <id>',
    description: 'approve a deployment',
    options: [
      { flags: '--comment <text>', description: 'what you checked' },
      { flags: '--role <role>', description: 'the approver role to count for, when you hold several' },
    ],
    needsUser: true,
    action: (ctx, id: string, o: { comment?: string; role?: string }) => onDeployment(ctx, (x) => x.decide, id, { decision: 'approve', ...optional(o) }),
  }),
  command({
    command: 'reject <id>',
    description: 'reject a deployment; it ends with your reason',
    options: [{ flags: '--reason <text>', description: 'why (required)', required: true }],
    needsUser: true,
    action: (ctx, id: string, o: { reason: string }) => onDeployment(ctx, (x) => x.decide, id, { decision: 'reject', comment: o.reason }),
  }),
  command({
    command: 'tick <id> <item>',
    description: 'tick a readiness checklist item',
    options: [{ flags: '--note <text>', description: 'what was done' }],
    needsUser: true,
    async action(ctx, id: string, item: string, o: { note?: string }) {
      const out = await (await ctx.client()).call((await ops()).tick, { params: { id: idArg(id), item }, body: optional(o) });
      return { json: out, human: formatDeployment(out), exit: exitFor(out.deployment.state) };
    },
  }),
  command({
    command: 'cancel <id>',
    description: 'cancel a deployment that has not started',
    options: [{ flags: '--reason <text>', description: 'why (required)', required: true }],
    needsUser: true,
    action: (ctx, id: string, o: { reason: string }) => onDeployment(ctx, (x) => x.cancel, id, { reason: o.reason }, EXIT.ok),
  }),
  command({
    command: 'start <id>',
    description: 'start an approved deployment (for rollouts run outside shipgate)',
    needsUser: true,
    action: (ctx, id: string) => onDeployment(ctx, (x) => x.start, id, undefined, EXIT.ok),
  }),
  command({
    command: 'complete <id>',
    description: 'record the end of a rollout run outside shipgate',
    options: [
      { flags: '--outcome <outcome>', description: 'succeeded or failed', required: true, choices: ['succeeded', 'failed'] },
      { flags: '--reason <text>', description: 'required when it failed' },
    ],
    needsUser: true,
    action: (ctx, id: string, o: { outcome: string; reason?: string }) => onDeployment(ctx, (x) => x.complete, id, optional(o)),
  }),
];
