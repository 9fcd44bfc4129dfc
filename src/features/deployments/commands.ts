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

/** What `wait --until` can wait for: a state and every state past it on the way to success. */
const WAIT_TARGETS = ['approved', 'rolling_out', 'succeeded'] as const;
const PAST: Record<(typeof WAIT_TARGETS)[number], string[]> = {
  approved: ['approved', 'waiting_for_window', 'rolling_out', 'verifying', 'succeeded'],
  rolling_out: ['rolling_out', 'verifying', 'succeeded'],
  succeeded: ['succeeded'],
};
const ENDED = ['succeeded', 'rejected', 'cancelled', 'expired', 'failed', 'rolled_back', 'rollback_failed'];

/**
 * Polls one deployment until it ends or reaches `--until`, printing a line whenever its state,
 * step or what it waits for changes. Exit: 0 when it succeeded (or reached --until), 4 when it
 * ended any other way (rejected, cancelled, expired, failed, rolled back, rollback failed), 3
 * when --timeout passed first; a deployment that does not exist is 2.
 */
async function wait(ctx: CommandContext, id: string, o: { until?: (typeof WAIT_TARGETS)[number]; timeout: string; poll: string }): Promise<Outcome> {
  const { durationSeconds, DURATION } = await import('../../config/duration.js');
  for (const [flag, value] of [['--timeout', o.timeout], ['--poll', o.poll]] as const) {
    if (!value || !DURATION.test(value)) throw new InputError(`${flag} must be a duration such as 30s, 10m or 2h (got '${value}')`);
  }
  const deadline = Date.now() + durationSeconds(o.timeout) * 1000;
  const pollMs = Math.min(Math.max(durationSeconds(o.poll) * 1000, 200), 60_000);
  const show = (await ops()).showDeployment;
  const client = await ctx.client();
  const target = o.until ? PAST[o.until] : ['succeeded'];
  let last = '';
  for (;;) {
    const out = await client.call(show, { params: { id: idArg(id) } });
    const d = out.deployment;
    const rec = d.rollout;
    const step = rec ? ` ${rec.weight}% (step ${Math.min(rec.step + 1, rec.plan.steps.length)} of ${rec.plan.steps.length}, ${rec.phase})` : '';
    const line = `deployment ${d.id} ${d.service} ${d.version} → ${d.environment}: ${d.state}${step}${out.waitingFor ? `; waiting for ${out.waitingFor}` : ''}${d.reason && ENDED.includes(d.state) ? `: ${d.reason}` : ''}`;
    if (line !== last && !ctx.json) ctx.io.err(`${line}\n`);
    last = line;
    if (target.includes(d.state)) return { json: out, human: null, exit: EXIT.ok };
    if (ENDED.includes(d.state)) {
      if (d.state === 'rollback_failed' && !ctx.json) ctx.io.err(`ROLLBACK FAILED: where traffic goes is not known to shipgate; look at ${d.service} in ${d.environment} now\n`);
      return { json: out, human: null, exit: EXIT.failed };
    }
    if (Date.now() + pollMs > deadline) {
      if (!ctx.json) ctx.io.err(`gave up after ${o.timeout}: deployment ${d.id} is ${d.state}\n`);
      return { json: out, human: null, exit: EXIT.blocked };
    }
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
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
    command: 'wait <id>',
    description: 'wait until a deployment ends (or reaches --until), printing its progress; for CI',
    options: [
      { flags: '--until <state>', description: 'stop once the deployment has reached this state: approved (or later), rolling_out (or later), succeeded', choices: [...WAIT_TARGETS] },
      { flags: '--timeout <duration>', description: 'give up after this long (e.g. 30m, 12h); exit 3', default: '6h' },
      { flags: '--poll <duration>', description: 'how often to look', default: '2s' },
    ],
    action: wait,
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
