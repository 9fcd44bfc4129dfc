// The deployment commands: the gate (check, deploy), the decisions at the gate (approve,
// reject, tick, refresh, cancel), reading (deployments, show), and the hand-over to a rollout
// run elsewhere (start, complete).
import { idArg } from '../../cli/args.js';
import { exitFor, formatDeployment, formatDeploymentRow, formatGate } from '../../cli/output.js';
import type { CommandContext, Outcome } from '../../cli/run.js';
import { EXIT, InputError } from '../../errors.js';
import { cancel as cancelOp, checkGate, complete as completeOp, decide, listDeployments, refreshDeployment, requestDeployment, showDeployment, start as startOp, tick as tickOp } from './operations.js';

interface RequestOptions {
  hotfix?: boolean;
  incident?: string;
  rollback?: boolean;
  digest?: string;
}

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

/** A deployment as shown after a command, exiting by its state. */
function shown(out: { deployment: { state: string } }, exit = exitFor(out.deployment.state)): Outcome {
  return { json: out, human: formatDeployment(out), exit };
}

export async function check(ctx: CommandContext, service: string, version: string, environment: string, o: RequestOptions): Promise<Outcome> {
  const out = await (await ctx.client()).call(checkGate, { body: request(service, version, environment, o) });
  return { json: out, human: `${service} ${version} → ${environment}\n${formatGate(out.gate)}`, exit: exitFor(out.gate.outcome) };
}

export async function deploy(ctx: CommandContext, service: string, version: string, environment: string, o: RequestOptions): Promise<Outcome> {
  return shown(await (await ctx.client()).call(requestDeployment, { body: request(service, version, environment, o) }));
}

export async function list(ctx: CommandContext, o: { service?: string; env?: string; state?: string; limit: string }): Promise<Outcome> {
  const limit = Number(o.limit);
  if (!Number.isInteger(limit) || limit < 1) throw new InputError(`--limit must be a positive whole number (got '${o.limit}')`);
  const out = await (await ctx.client()).call(listDeployments, { query: { service: o.service, environment: o.env, state: o.state, limit } });
  return { json: out, human: out.deployments.map(formatDeploymentRow).join('\n') || 'no deployments' };
}

export async function show(ctx: CommandContext, id: string): Promise<Outcome> {
  return shown(await (await ctx.client()).call(showDeployment, { params: { id: idArg(id) } }));
}

export async function refresh(ctx: CommandContext, id: string): Promise<Outcome> {
  return shown(await (await ctx.client()).call(refreshDeployment, { params: { id: idArg(id) } }));
}

export async function approve(ctx: CommandContext, id: string, o: { comment?: string; role?: string }): Promise<Outcome> {
  const body = { decision: 'approve', ...(o.comment !== undefined ? { comment: o.comment } : {}), ...(o.role !== undefined ? { role: o.role } : {}) };
  return shown(await (await ctx.client()).call(decide, { params: { id: idArg(id) }, body }));
}

export async function reject(ctx: CommandContext, id: string, o: { reason: string }): Promise<Outcome> {
  return shown(await (await ctx.client()).call(decide, { params: { id: idArg(id) }, body: { decision: 'reject', comment: o.reason } }));
}

export async function tick(ctx: CommandContext, id: string, item: string, o: { note?: string }): Promise<Outcome> {
  return shown(await (await ctx.client()).call(tickOp, { params: { id: idArg(id), item }, body: o.note !== undefined ? { note: o.note } : {} }));
}

export async function cancel(ctx: CommandContext, id: string, o: { reason: string }): Promise<Outcome> {
  return shown(await (await ctx.client()).call(cancelOp, { params: { id: idArg(id) }, body: { reason: o.reason } }), EXIT.ok);
}

export async function start(ctx: CommandContext, id: string): Promise<Outcome> {
  return shown(await (await ctx.client()).call(startOp, { params: { id: idArg(id) } }), EXIT.ok);
}

export async function complete(ctx: CommandContext, id: string, o: { outcome: 'succeeded' | 'failed'; reason?: string }): Promise<Outcome> {
  const body = { outcome: o.outcome, ...(o.reason !== undefined ? { reason: o.reason } : {}) };
  return shown(await (await ctx.client()).call(completeOp, { params: { id: idArg(id) }, body }));
}
