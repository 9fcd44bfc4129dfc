// The rollout commands: run a rollout in the foreground, a person's rollback or resume, the
// rollback rehearsal, and the local driver's runtimes.
import fs from 'node:fs';
import path from 'node:path';
import { idArg } from '../../cli/args.js';
import { command } from '../../cli/command.js';
import { exitFor, formatDeployment } from '../../cli/output.js';
import type { CommandContext, Outcome } from '../../cli/run.js';
import { isFinal } from '../../domain/deployment.js';
import type { Deployment } from '../../domain/types.js';
import type { RuntimeState } from '../../drivers/local/runtime.js';
import { ConflictError, EXIT, InputError, NotFoundError } from '../../errors.js';

async function rollout(ctx: CommandContext, idText: string, o: { poll: string }): Promise<Outcome> {
  ctx.localOnly('rollout runs the controller here, on the local store; against a server, `shipgate serve` runs it');
  const sg = await ctx.local();
  const id = idArg(idText);
  const view = await sg.deployments.get(id);
  const d0 = view.deployment;
  if (!sg.directory.rollsOut(d0.environment)) {
    throw new InputError(`${d0.environment} has no rollout: section in ${sg.config.file}: shipgate does not roll deployments out there (use start and complete)`);
  }
  if (['requested', 'checking', 'awaiting_approval'].includes(d0.state)) {
    const why = `deployment ${id} is ${d0.state}, not approved: its rollout starts once it is; waiting for ${view.waitingFor}`;
    return { json: { deployment: d0, waitingFor: view.waitingFor, message: why }, human: why, exit: EXIT.blocked };
  }
  if (isFinal(d0.state)) {
    const why = `deployment ${id} has already ended: ${d0.state}${d0.reason ? ` (${d0.reason})` : ''}`;
    return { json: { deployment: d0, message: why }, human: why, exit: exitFor(d0.state) };
  }
  if (d0.state === 'waiting_for_window' && !ctx.json) ctx.io.out(`deployment ${id} is approved and waits for its window; it starts here when it opens: ${view.waitingFor}\n`);
  const started = Date.now();
  let lastCollecting = 0;
  const { buildController } = await import('./runner.js');
  // On PostgreSQL, replicas of `shipgate serve` may be driving rollouts: this one runs here only
  // under the deployment's lease, like a replica's (docs/scale.md).
  let leases: import('./lease-keeper.js').RolloutLeases | undefined;
  let stopRenewing = () => {};
  if (sg.store.kind === 'postgres') {
    const { DEFAULT_LEASE_SETTINGS, defaultReplicaId, RolloutLeases } = await import('./lease-keeper.js');
    leases = new RolloutLeases(sg.store, `cli-${defaultReplicaId()}`, DEFAULT_LEASE_SETTINGS, sg.now);
    if (!(await leases.take(id))) {
      const holder = (await sg.store.leases.list()).find((l) => l.deploymentId === id)?.holder;
      throw new ConflictError(`deployment ${id}'s rollout is being driven by ${holder ?? 'another shipgate'} (a lease in the database); follow it with \`shipgate wait ${id}\``);
    }
    stopRenewing = leases.start();
  }
  const controller = buildController(sg, {
    leases,
    onProgress: (d, message) => {
      if (ctx.json) return;
      // "Still collecting evidence" comes every poll: show it every 2 s, everything else at once.
      if (/^\d+%: \d+ canary/.test(message)) {
        if (Date.now() - lastCollecting < 2000) return;
        lastCollecting = Date.now();
      }
      ctx.io.out(`[${((Date.now() - started) / 1000).toFixed(1).padStart(6)} s] ${d.service} ${d.version} → ${d.environment}: ${message}\n`);
    },
  });
  let d: Deployment;
  try {
    d = await controller.run(id, { pollMs: Number(o.poll) });
  } finally {
    stopRenewing();
    await leases?.release(id, true);
  }
  // The progress lines were the human output.
  return { json: { deployment: d }, human: null, exit: exitFor(d.state) };
}

async function rehearse(ctx: CommandContext, service: string, version: string, environment: string | undefined, o: { out?: string }): Promise<Outcome> {
  ctx.localOnly('rehearse drives the local runtime: run it where the store and the runtime are');
  ctx.requireUser();
  const sg = await ctx.local();
  const env = environment ?? 'staging';
  const { rehearseRollback } = await import('./rehearse.js');
  const report = await rehearseRollback(sg, ctx.actor(), service, version, env);
  const file = path.resolve(ctx.io.cwd, o.out ?? path.join(path.dirname(sg.config.store.sqlitePath), 'rehearsals', `${service}-${version}-${env}.json`));
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  const human = [
    `rollback rehearsal of ${service} ${version} in ${env} (back to ${report.stableVersion}): ${report.ok ? 'ok' : 'FAILED'}`,
    `  deploy:   ready in ${report.msToDeploy ?? '-'} ms, serving all traffic with smoke tests passed in ${report.msToServe ?? '-'} ms`,
    `  rollback: traffic on ${report.stableVersion} in ${report.msToTraffic ?? '-'} ms, verified in ${report.msToVerified ?? '-'} ms`,
    ...(report.migration ? [`  migration: ${report.migration.runs.map((r) => `${r.direction} ${r.ok ? 'ok' : 'FAILED'} in ${r.durationMs} ms (records ${r.countBefore ?? '-'} → ${r.countAfter ?? '-'})`).join(', ')}`] : []),
    ...report.problems.map((p) => `  ✘ ${p}`),
    `  report: ${file}`,
  ].join('\n');
  return { json: { report, file }, human, exit: report.ok ? EXIT.ok : EXIT.failed };
}

const local = async (ctx: CommandContext) => (await import('../../drivers/local/index.js')).localDriverFor(await ctx.config());

export const commands = [
  command({
    command: 'rollout <id>',
    description: 'run the rollout of an approved deployment in the foreground, printing progress (local store)',
    options: [{ flags: '--poll <ms>', description: 'how often to look again while a step waits', default: '250' }],
    action: rollout,
  }),
  command({
    command: 'rollback <id>',
    description: 'roll back a rollout in progress: traffic goes to the stable version at once',
    options: [{ flags: '--reason <text>', description: 'why (required; recorded)', required: true }],
    needsUser: true,
    async action(ctx, id: string, o: { reason: string }) {
      const out = await (await ctx.client()).call((await import('./operations.js')).rollback, { params: { id: idArg(id) }, body: { reason: o.reason } });
      return { json: out, human: `${formatDeployment(out)}\nrollback requested; the controller acts on it at its next step` };
    },
  }),
  command({
    command: 'resume <id>',
    description: 'resume a rollout paused on an inconclusive analysis',
    needsUser: true,
    async action(ctx, id: string) {
      const out = await (await ctx.client()).call((await import('./operations.js')).resume, { params: { id: idArg(id) } });
      return { json: out, human: `${formatDeployment(out)}\nresume requested` };
    },
  }),
  command({
    command: 'rehearse <service> <version> [environment]',
    description: 'rollback rehearsal: deploy a release next to the current one (default in staging), give it all traffic, roll back, time both; a declared migration runs up → down → up with record counts; writes a report',
    options: [{ flags: '-o, --out <file>', description: 'report file (default: .shipgate/rehearsals/<service>-<version>-<environment>.json next to the store)' }],
    action: rehearse,
  }),
  command({
    group: 'runtime',
    command: 'show <service> <environment>',
    description: 'where the proxy listens, which versions run, the weight',
    async action(ctx, service: string, environment: string) {
      const rt = await (await local(ctx)).runtime(service, environment, false);
      if (!rt) throw new NotFoundError(`no local runtime is running for ${service} in ${environment}`);
      const slot = (s: RuntimeState['stable']) => (s ? `${s.version} on :${s.port} (${s.running ? 'running' : `exited ${s.exitCode ?? ''}`})` : 'none');
      return { json: rt, human: `${service} in ${environment}: proxy http://127.0.0.1:${rt.proxyPort}\n  stable  ${slot(rt.stable)}\n  canary  ${slot(rt.canary)} at ${rt.weight}%` };
    },
  }),
  command({
    group: 'runtime',
    command: 'stop <service> <environment>',
    description: 'stop a local runtime and the service processes it holds',
    async action(ctx, service: string, environment: string) {
      await (await local(ctx)).shutdown(service, environment);
      return { json: { stopped: { service, environment } }, human: `stopped ${service} in ${environment}` };
    },
  }),
];
