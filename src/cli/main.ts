// The `shipgate` command: every operation from a terminal or a CI job, on the local store or
// against a server (--server / SHIPGATE_SERVER with SHIPGATE_TOKEN).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Command, Option } from 'commander';
import { type Actor, type ReportInput, Shipgate } from '../app/shipgate.js';
import { loadConfig, type ShipgateConfig } from '../config/load.js';
import { configJsonSchema } from '../config/schema.js';
import { initTemplate } from '../config/template.js';
import { isFinal } from '../domain/deployment.js';
import { asShipgateError, EXIT, InputError, NotFoundError } from '../errors.js';
import { rehearseRollback } from '../rollout/rehearse.js';
import { buildController } from '../rollout/runner.js';
import { localDriverFor } from '../rollout/targets.js';
import { openDatabase } from '../store/db.js';
import { type Client, HttpClient, type Json, LocalClient } from './client.js';
import { exitFor, formatDeployment, formatDeploymentRow, formatGate, formatRelease, formatStatus } from './output.js';
import { MAX_ID } from '../server/schemas.js';
import { serve } from './serve.js';

interface GlobalOpts {
  config: string;
  server?: string;
  as?: string;
  json?: boolean;
}

const program = new Command();
// Set before any subcommand is declared: subcommands copy these settings when created, so
// commander's own usage errors (unknown option or subcommand, missing argument or required
// option) exit with the usage code everywhere, as the README's table says.
program.exitOverride((err) => {
  process.exit(err.exitCode === 0 ? 0 : EXIT.usage);
});
program
  .name('shipgate')
  .description('Release gate and progressive-delivery controller: gated, gradual, reversible deployments.')
  .option('-c, --config <file>', 'config file', process.env.SHIPGATE_CONFIG ?? 'shipgate.yaml')
  .option('--server <url>', 'talk to a shipgate server instead of the local store (env SHIPGATE_SERVER; token in SHIPGATE_TOKEN)', process.env.SHIPGATE_SERVER)
  .option('--as <user>', 'who you are when working on the local store (env SHIPGATE_USER)', process.env.SHIPGATE_USER)
  .option('--json', 'print JSON for scripts')
  .showHelpAfterError()
  .addHelpText(
    'after',
    `
Exit codes:
  0  success; for check/deploy/approve: the gate passed (approved or further)
  1  server, store or unexpected error
  2  usage error: bad input, unknown name, not allowed, conflict
  3  gate blocked: waiting for approvals, soak time, checklist or a window
  4  rejected, failed, cancelled or expired`,
  );

function globals(): GlobalOpts {
  return program.opts<GlobalOpts>();
}

function config(): ShipgateConfig {
  return loadConfig(path.resolve(globals().config));
}

async function openLocal(cfg: ShipgateConfig): Promise<Shipgate> {
  const url = process.env[cfg.store.urlEnv];
  const database = await openDatabase(url ? { url } : { sqlitePath: cfg.store.sqlitePath });
  return new Shipgate({ config: cfg, database });
}

/**
 * The acting user on the local store: named by --as, not proven, so the operating-system
 * account that ran the command goes into the audit log beside it.
 */
function localActor(user: string): Actor {
  let osUser: string;
  try {
    osUser = os.userInfo().username;
  } catch {
    osUser = process.env.USER ?? `uid ${process.getuid?.() ?? 'unknown'}`;
  }
  return { user, via: 'local', osUser };
}

async function client(): Promise<Client> {
  const g = globals();
  if (g.server) {
    const token = process.env.SHIPGATE_TOKEN;
    if (!token) throw new InputError('--server needs an API token in the environment variable SHIPGATE_TOKEN');
    return new HttpClient(g.server, token);
  }
  const app = await openLocal(config());
  const actor = localActor(g.as ?? '');
  return new LocalClient(app, actor);
}

function requireUser(): void {
  const g = globals();
  if (!g.server && !g.as) {
    throw new InputError('say who you are: --as <user> or SHIPGATE_USER (the user must be in the config)');
  }
}

/** Runs one command: prints its result (human or --json) and sets the exit code. */
async function run(
  fn: (c: Client) => Promise<{ json: Json; human: string; exit?: number }>,
  opts: { needsUser?: boolean } = {},
): Promise<void> {
  let c: Client | null = null;
  try {
    if (opts.needsUser) requireUser();
    c = await client();
    const out = await fn(c);
    process.stdout.write(globals().json ? `${JSON.stringify(out.json, null, 2)}\n` : `${out.human}\n`);
    process.exitCode = out.exit ?? EXIT.ok;
  } catch (err) {
    const e = asShipgateError(err);
    if (globals().json) {
      process.stdout.write(`${JSON.stringify({ error: { code: e.code, message: e.message, ...(e.details ? { details: e.details } : {}) } }, null, 2)}\n`);
    }
    process.stderr.write(`shipgate: ${e.message}\n`);
    process.exitCode = e.exitCode;
  } finally {
    await c?.close().catch(() => {});
  }
}

/** Prints an error the way every command does and sets the exit code it maps to. */
function reportError(err: unknown): void {
  const e = asShipgateError(err);
  process.stderr.write(`shipgate: ${e.message}\n`);
  process.exitCode = e.exitCode;
}

function readReports(files: { path: string; kind?: 'scan' | 'tests' }[]): ReportInput[] {
  return files.map((f) => {
    let content: string;
    try {
      content = fs.readFileSync(f.path, 'utf8');
    } catch (err) {
      throw new InputError(`cannot read report ${f.path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    return { name: path.basename(f.path), content, kind: f.kind };
  });
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

function deploymentIdArg(value: string, what = 'deployment id'): number {
  if (!/^\d{1,10}$/.test(value) || Number(value) === 0 || Number(value) > MAX_ID) {
    throw new InputError(`${what} must be a positive whole number up to ${MAX_ID} (got '${value}')`);
  }
  return Number(value);
}

function reportOptions(cmd: Command): Command {
  return cmd
    .option('--scan <file>', 'vulnerability scan report (SARIF, Trivy, Grype, npm audit JSON); repeatable', collect)
    .option('--tests <file>', 'test report (JUnit XML); repeatable', collect)
    .option('--report <file>', 'report of any supported kind, detected from its content; repeatable', collect);
}

function reportFiles(o: { scan?: string[]; tests?: string[]; report?: string[] }) {
  return readReports([
    ...(o.scan ?? []).map((p) => ({ path: p, kind: 'scan' as const })),
    ...(o.tests ?? []).map((p) => ({ path: p, kind: 'tests' as const })),
    ...(o.report ?? []).map((p) => ({ path: p })),
  ]);
}

// ---- setup -------------------------------------------------------------------------------------

program
  .command('init')
  .description('write a commented example config (shipgate.yaml) to start from')
  .option('--force', 'overwrite an existing file')
  .action(async (o: { force?: boolean }) => {
    const file = path.resolve(globals().config);
    if (fs.existsSync(file) && !o.force) {
      process.stderr.write(`shipgate: ${file} already exists; use --force to overwrite it\n`);
      process.exitCode = EXIT.usage;
      return;
    }
    fs.writeFileSync(file, initTemplate());
    const schemaFile = path.join(path.dirname(file), 'shipgate.schema.json');
    fs.writeFileSync(schemaFile, `${JSON.stringify(configJsonSchema(), null, 2)}\n`);
    process.stdout.write(
      `wrote ${path.relative(process.cwd(), file) || file} and ${path.basename(schemaFile)} (for editors)\n` +
        `next: create an API token for each user who will use the server: shipgate token create <user>\n`,
    );
  });

program
  .command('schema')
  .description('print the JSON Schema of the config file, for editors')
  .action(() => {
    process.stdout.write(`${JSON.stringify(configJsonSchema(), null, 2)}\n`);
  });

program
  .command('validate')
  .description('check the config file and print a summary')
  .action(async () => {
    try {
      const cfg = config();
      const envs = cfg.environments.map((e) => e.name).join(' → ');
      process.stdout.write(
        globals().json
          ? `${JSON.stringify({ ok: true, services: cfg.services.length, environments: cfg.environments.map((e) => e.name), users: cfg.users.length })}\n`
          : `${cfg.file}: ok — ${cfg.services.length} service(s), environments ${envs}, ${cfg.users.length} user(s)\n`,
      );
    } catch (err) {
      reportError(err);
    }
  });

// ---- releases -----------------------------------------------------------------------------------

const release = program.command('release').description('register and inspect releases');

reportOptions(
  release
    .command('register <service> <version>')
    .description('register an immutable release: version, digest, commit, reports')
    .requiredOption('--digest <sha256>', 'sha256:<64 hex> digest of the built artifact')
    .requiredOption('--commit <sha>', 'source commit')
    .option('--built-at <time>', 'ISO-8601 build time (default: now)'),
).action(async (service: string, version: string, o: Json) =>
  run(
    async (c) => {
      const out = await c.registerRelease({ service, version, digest: o.digest, commit: o.commit, builtAt: o.builtAt, reports: reportFiles(o) });
      if (out.alreadyRegistered) return { json: out, human: `${service} ${out.release.version} is already registered with this digest and commit; nothing to do\n${formatRelease(out.release)}` };
      return { json: out, human: `registered ${formatRelease(out.release)}` };
    },
    { needsUser: true },
  ),
);

reportOptions(release.command('attach <service> <version>').description('attach test or scan reports to a release')).action(
  async (service: string, version: string, o: Json) =>
    run(
      async (c) => {
        const out = await c.attachReports(service, version, reportFiles(o));
        return { json: out, human: formatRelease(out.release) };
      },
      { needsUser: true },
    ),
);

release
  .command('list [service]')
  .description('list releases, newest first')
  .action(async (service?: string) =>
    run(async (c) => {
      const out = await c.listReleases(service);
      const rows = out.releases.map((r: Json) => `${r.service} ${r.version}  ${r.digest.slice(0, 19)}…  ${r.createdAt}`);
      return { json: out, human: rows.join('\n') || 'no releases' };
    }),
  );

release
  .command('show <service> <version>')
  .description('one release, its reports and where it is verified')
  .action(async (service: string, version: string) =>
    run(async (c) => {
      const out = await c.getRelease(service, version);
      return { json: out, human: formatRelease(out.release, out.verifications) };
    }),
  );

program
  .command('verify <service> <version> <environment>')
  .description('mark a release verified in an environment, after its tests there passed (audited)')
  .option('--note <text>', 'what was verified')
  .action(async (service: string, version: string, environment: string, o: { note?: string }) =>
    run(
      async (c) => {
        const out = await c.verify(service, version, environment, o.note);
        return { json: out, human: `${service} ${version} verified in ${environment}` };
      },
      { needsUser: true },
    ),
  );

// ---- the gate and deployments ---------------------------------------------------------------------

function deployOptions(cmd: Command): Command {
  return cmd
    .option('--hotfix', 'emergency deployment: needs the emergency approvers, may pass windows and freezes (flagged)')
    .option('--incident <ref>', 'incident a hotfix fixes, e.g. INC-123')
    .option('--rollback', 'redeploy a release that ran here before')
    .option('--digest <sha256>', 'digest of the artifact about to be deployed; must match the recorded one');
}

function deployRequest(service: string, version: string, environment: string, o: Json) {
  if (o.hotfix && o.rollback) throw new InputError('--hotfix and --rollback cannot be combined');
  return {
    service,
    version,
    environment,
    type: o.hotfix ? ('hotfix' as const) : o.rollback ? ('rollback' as const) : ('standard' as const),
    incident: o.incident,
    digest: o.digest,
  };
}

deployOptions(
  program.command('check <service> <version> <environment>').description('dry run of the gate: every check explained; nothing is written'),
).action(async (service: string, version: string, environment: string, o: Json) =>
  run(
    async (c) => {
      const out = await c.check(deployRequest(service, version, environment, o));
      return { json: out, human: `${service} ${version} → ${environment}\n${formatGate(out.gate)}`, exit: exitFor(out.gate.outcome) };
    },
    { needsUser: true },
  ),
);

deployOptions(
  program.command('deploy <service> <version> <environment>').description('request a deployment; the gate is evaluated at once'),
).action(async (service: string, version: string, environment: string, o: Json) =>
  run(
    async (c) => {
      const out = await c.request(deployRequest(service, version, environment, o));
      return { json: out, human: formatDeployment(out), exit: exitFor(out.deployment.state) };
    },
    { needsUser: true },
  ),
);

program
  .command('deployments')
  .description('list deployments, newest first')
  .option('--service <name>')
  .option('--env <name>')
  .option('--state <states>', 'comma-separated states')
  .option('--limit <n>', 'at most this many', '50')
  .action(async (o: Json) =>
    run(async (c) => {
      const limit = Number(o.limit);
      if (!Number.isInteger(limit) || limit < 1) throw new InputError(`--limit must be a positive whole number (got '${o.limit}')`);
      const out = await c.list({ service: o.service, environment: o.env, state: o.state, limit });
      return { json: out, human: out.deployments.map(formatDeploymentRow).join('\n') || 'no deployments' };
    }),
  );

program
  .command('show <id>')
  .description('one deployment: checks, approvals, checklist, what it waits for')
  .action(async (id: string) =>
    run(async (c) => {
      const out = await c.get(deploymentIdArg(id));
      return { json: out, human: formatDeployment(out), exit: exitFor(out.deployment.state) };
    }),
  );

program
  .command('refresh <id>')
  .description('re-evaluate the gate of a deployment now')
  .action(async (id: string) =>
    run(
      async (c) => {
        const out = await c.refresh(deploymentIdArg(id));
        return { json: out, human: formatDeployment(out), exit: exitFor(out.deployment.state) };
      },
      { needsUser: true },
    ),
  );

program
  .command('approve <id>')
  .description('approve a deployment')
  .option('--comment <text>')
  .option('--role <role>', 'the approver role to count for, when you hold several')
  .action(async (id: string, o: Json) =>
    run(
      async (c) => {
        const out = await c.decide(deploymentIdArg(id), { decision: 'approve', comment: o.comment, role: o.role });
        return { json: out, human: formatDeployment(out), exit: exitFor(out.deployment.state) };
      },
      { needsUser: true },
    ),
  );

program
  .command('reject <id>')
  .description('reject a deployment; it ends with your reason')
  .requiredOption('--reason <text>', 'why (required)')
  .action(async (id: string, o: Json) =>
    run(
      async (c) => {
        const out = await c.decide(deploymentIdArg(id), { decision: 'reject', comment: o.reason });
        return { json: out, human: formatDeployment(out), exit: exitFor(out.deployment.state) };
      },
      { needsUser: true },
    ),
  );

program
  .command('tick <id> <item>')
  .description('tick a readiness checklist item')
  .option('--note <text>')
  .action(async (id: string, item: string, o: Json) =>
    run(
      async (c) => {
        const out = await c.tick(deploymentIdArg(id), item, o.note);
        return { json: out, human: formatDeployment(out), exit: exitFor(out.deployment.state) };
      },
      { needsUser: true },
    ),
  );

program
  .command('cancel <id>')
  .description('cancel a deployment that has not started')
  .requiredOption('--reason <text>', 'why (required)')
  .action(async (id: string, o: Json) =>
    run(
      async (c) => {
        const out = await c.cancel(deploymentIdArg(id), o.reason);
        return { json: out, human: formatDeployment(out), exit: EXIT.ok };
      },
      { needsUser: true },
    ),
  );

program
  .command('start <id>')
  .description('start an approved deployment (for rollouts run outside shipgate)')
  .action(async (id: string) =>
    run(
      async (c) => {
        const out = await c.start(deploymentIdArg(id));
        return { json: out, human: formatDeployment(out) };
      },
      { needsUser: true },
    ),
  );

program
  .command('rollback <id>')
  .description('roll back a rollout in progress: traffic goes to the stable version at once')
  .requiredOption('--reason <text>', 'why (required; recorded)')
  .action(async (id: string, o: Json) =>
    run(
      async (c) => {
        const out = await c.rolloutAction(deploymentIdArg(id), 'abort', o.reason);
        return { json: out, human: `${formatDeployment(out)}\nrollback requested; the controller acts on it at its next step` };
      },
      { needsUser: true },
    ),
  );

program
  .command('resume <id>')
  .description('resume a rollout paused on an inconclusive analysis')
  .action(async (id: string) =>
    run(
      async (c) => {
        const out = await c.rolloutAction(deploymentIdArg(id), 'resume');
        return { json: out, human: `${formatDeployment(out)}\nresume requested` };
      },
      { needsUser: true },
    ),
  );

program
  .command('rollout <id>')
  .description('run the rollout of an approved deployment in the foreground, printing progress (local store)')
  .option('--poll <ms>', 'how often to look again while a step waits', '250')
  .action(async (idArg: string, o: { poll: string }) => {
    let app: Shipgate | null = null;
    try {
      if (globals().server) throw new InputError('rollout runs the controller here, on the local store; against a server, `shipgate serve` runs it');
      app = await openLocal(config());
      const id = deploymentIdArg(idArg);
      const view = await app.getDeployment(id);
      const d0 = view.deployment;
      if (!app.rollsOut(d0.environment)) {
        throw new InputError(`${d0.environment} has no rollout: section in ${app.config.file}: shipgate does not roll deployments out there (use start and complete)`);
      }
      if (['requested', 'checking', 'awaiting_approval'].includes(d0.state)) {
        const why = `deployment ${id} is ${d0.state}, not approved: its rollout starts once it is; waiting for ${view.waitingFor}`;
        process.stdout.write(globals().json ? `${JSON.stringify({ deployment: d0, waitingFor: view.waitingFor, message: why }, null, 2)}\n` : `${why}\n`);
        process.exitCode = EXIT.blocked;
        return;
      }
      if (isFinal(d0.state)) {
        const why = `deployment ${id} has already ended: ${d0.state}${d0.reason ? ` (${d0.reason})` : ''}`;
        process.stdout.write(globals().json ? `${JSON.stringify({ deployment: d0, message: why }, null, 2)}\n` : `${why}\n`);
        process.exitCode = exitFor(d0.state);
        return;
      }
      if (d0.state === 'waiting_for_window' && !globals().json) {
        process.stdout.write(`deployment ${id} is approved and waits for its window; it starts here when it opens: ${view.waitingFor}\n`);
      }
      const started = Date.now();
      let lastCollecting = 0;
      const { controller } = buildController(app, {
        onProgress: (d, message) => {
          if (globals().json) return;
          // "Still collecting evidence" comes every poll: show it every 2 s, everything else at once.
          if (/^\d+%: \d+ canary/.test(message)) {
            if (Date.now() - lastCollecting < 2000) return;
            lastCollecting = Date.now();
          }
          process.stdout.write(`[${((Date.now() - started) / 1000).toFixed(1).padStart(6)} s] ${d.service} ${d.version} → ${d.environment}: ${message}\n`);
        },
      });
      const d = await controller.run(id, { pollMs: Number(o.poll) });
      if (globals().json) process.stdout.write(`${JSON.stringify({ deployment: d }, null, 2)}\n`);
      process.exitCode = exitFor(d.state);
    } catch (err) {
      reportError(err);
    } finally {
      await app?.database.close().catch(() => {});
    }
  });

program
  .command('rehearse <service> <version> [environment]')
  .description('rollback rehearsal: deploy a release next to the current one (default in staging), give it all traffic, roll back, time both; writes a report')
  .option('-o, --out <file>', 'report file (default: .shipgate/rehearsals/<service>-<version>-<environment>.json next to the store)')
  .action(async (service: string, version: string, environment: string | undefined, o: { out?: string }) => {
    let app: Shipgate | null = null;
    try {
      if (globals().server) throw new InputError('rehearse drives the local runtime: run it where the store and the runtime are');
      requireUser();
      const cfg = config();
      app = await openLocal(cfg);
      const env = environment ?? 'staging';
      const report = await rehearseRollback(app, localActor(globals().as ?? ''), service, version, env);
      const file = path.resolve(o.out ?? path.join(path.dirname(cfg.store.sqlitePath), 'rehearsals', `${service}-${version}-${env}.json`));
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
      process.stdout.write(
        globals().json
          ? `${JSON.stringify({ report, file }, null, 2)}\n`
          : [
              `rollback rehearsal of ${service} ${version} in ${env} (back to ${report.stableVersion}): ${report.ok ? 'ok' : 'FAILED'}`,
              `  deploy:   ready in ${report.msToDeploy ?? '-'} ms, serving all traffic with smoke tests passed in ${report.msToServe ?? '-'} ms`,
              `  rollback: traffic on ${report.stableVersion} in ${report.msToTraffic ?? '-'} ms, verified in ${report.msToVerified ?? '-'} ms`,
              ...report.problems.map((p) => `  ✘ ${p}`),
              `  report: ${file}`,
            ].join('\n') + '\n',
      );
      process.exitCode = report.ok ? EXIT.ok : EXIT.failed;
    } catch (err) {
      reportError(err);
    } finally {
      await app?.database.close().catch(() => {});
    }
  });

const runtime = program.command('runtime').description('local runtimes: the processes and proxy of the local driver');
runtime
  .command('show <service> <environment>')
  .description('where the proxy listens, which versions run, the weight')
  .action(async (service: string, environment: string) => {
    try {
      const cfg = config();
      const rt = await localDriverFor(cfg).runtime(service, environment, false);
      if (!rt) throw new NotFoundError(`no local runtime is running for ${service} in ${environment}`);
      const slot = (s: typeof rt.stable) => (s ? `${s.version} on :${s.port} (${s.running ? 'running' : `exited ${s.exitCode ?? ''}`})` : 'none');
      process.stdout.write(
        globals().json
          ? `${JSON.stringify(rt, null, 2)}\n`
          : `${service} in ${environment}: proxy http://127.0.0.1:${rt.proxyPort}\n  stable  ${slot(rt.stable)}\n  canary  ${slot(rt.canary)} at ${rt.weight}%\n`,
      );
    } catch (err) {
      reportError(err);
    }
  });
runtime
  .command('stop <service> <environment>')
  .description('stop a local runtime and the service processes it holds')
  .action(async (service: string, environment: string) => {
    try {
      await localDriverFor(config()).shutdown(service, environment);
      process.stdout.write(`stopped ${service} in ${environment}\n`);
    } catch (err) {
      reportError(err);
    }
  });

program
  .command('complete <id>')
  .description('record the end of a rollout run outside shipgate')
  .addOption(new Option('--outcome <outcome>', 'succeeded or failed').choices(['succeeded', 'failed']).makeOptionMandatory())
  .option('--reason <text>', 'required when it failed')
  .action(async (id: string, o: Json) =>
    run(
      async (c) => {
        const out = await c.complete(deploymentIdArg(id), o.outcome, o.reason);
        return { json: out, human: formatDeployment(out), exit: exitFor(out.deployment.state) };
      },
      { needsUser: true },
    ),
  );

program
  .command('status')
  .description('per service and environment: current release, open deployment, what it waits for')
  .action(async () =>
    run(async (c) => {
      const out = await c.status();
      return { json: out, human: formatStatus(out.status) };
    }),
  );

// ---- audit -----------------------------------------------------------------------------------------

const audit = program.command('audit').description('the tamper-evident audit log');

audit
  .command('verify')
  .description('check the hash chain; names the first bad event')
  .action(async () =>
    run(async (c) => {
      const out = await c.auditVerify();
      const r = out.result;
      const human = r.ok
        ? `audit chain intact: ${r.events} events, last #${r.lastSeq}, head ${r.lastHash}`
        : `audit chain BROKEN at event #${r.problem.seq} (${r.problem.kind}): ${r.problem.message}`;
      return { json: out, human, exit: r.ok ? EXIT.ok : EXIT.failed };
    }),
  );

audit
  .command('export')
  .description('write every audit event as JSON lines')
  .option('-o, --output <file>', 'file to write (default: standard output)')
  .action(async (o: { output?: string }) => {
    let c: Client | null = null;
    try {
      c = await client();
      if (o.output) {
        const tmp = `${o.output}.partial`;
        const fd = fs.openSync(tmp, 'w');
        try {
          await c.auditExport((chunk) => fs.writeSync(fd, chunk));
        } finally {
          fs.closeSync(fd);
        }
        fs.renameSync(tmp, o.output);
      } else {
        await c.auditExport((chunk) => process.stdout.write(chunk));
      }
    } catch (err) {
      reportError(err);
    } finally {
      await c?.close().catch(() => {});
    }
  });

audit
  .command('list')
  .description('audit events in sequence order')
  .option('--after <seq>', 'only events after this sequence number')
  .option('--limit <n>', 'at most this many', '100')
  .option('--subject <subject>', 'e.g. deployment:12 or release:web@1.4.2')
  .action(async (o: Json) =>
    run(async (c) => {
      const after = o.after === undefined || o.after === '0' ? undefined : deploymentIdArg(o.after, '--after');
      const out = await c.auditEvents({ after, limit: Math.min(deploymentIdArg(o.limit, '--limit'), 1000), subject: o.subject });
      const human = out.events.map((e: Json) => `#${e.seq} ${e.at} ${e.actor} ${e.action} ${e.subject} ${JSON.stringify(e.data)}`).join('\n');
      return { json: out, human: human || 'no events' };
    }),
  );

// ---- tokens and the server ---------------------------------------------------------------------------

const token = program.command('token').description('API tokens (stored hashed; works on the local store)');

token
  .command('create <user>')
  .description('create an API token for a user; it is printed once and only its hash is kept')
  .option('--label <text>', 'what the token is for', 'cli')
  .action(async (user: string, o: { label: string }) =>
    localAdmin(async (app, actor) => {
      const t = await app.createToken(actor, user, o.label);
      return { json: { id: t.id, user, label: o.label, token: t.token }, human: `token ${t.id} for ${user} (shown once, keep it secret):\n${t.token}` };
    }),
  );

token
  .command('list')
  .description('list API tokens (never their values)')
  .action(async () =>
    localAdmin(async (app) => {
      const tokens = await app.listTokens();
      const human = tokens.map((t) => `${t.id}  ${t.user}  ${t.label}  created ${t.createdAt}${t.revokedAt ? `  revoked ${t.revokedAt}` : ''}`).join('\n');
      return { json: { tokens }, human: human || 'no tokens' };
    }),
  );

token
  .command('revoke <id>')
  .description('revoke an API token')
  .action(async (id: string) =>
    localAdmin(async (app, actor) => {
      await app.revokeToken(actor, deploymentIdArg(id, 'token id'));
      return { json: { revoked: Number(id) }, human: `token ${id} revoked` };
    }),
  );

/** Token administration needs the store itself: it is not offered over HTTP. */
async function localAdmin(fn: (app: Shipgate, actor: Actor) => Promise<{ json: Json; human: string }>): Promise<void> {
  let app: Shipgate | null = null;
  try {
    if (globals().server) throw new InputError('token commands work on the local store only; run them where the store is');
    app = await openLocal(config());
    const actor = localActor(globals().as || 'admin');
    const out = await fn(app, actor);
    process.stdout.write(globals().json ? `${JSON.stringify(out.json, null, 2)}\n` : `${out.human}\n`);
  } catch (err) {
    reportError(err);
  } finally {
    await app?.database.close().catch(() => {});
  }
}

program
  .command('serve')
  .description('run the HTTP API (and the reconciler) on the configured store')
  .option('--host <host>', 'listen address (default: config server.host)')
  .option('--port <port>', 'listen port (default: config server.port; 0 picks a free one)')
  .option('--reconcile-every <seconds>', 're-evaluate open deployments this often', '15')
  .option('--tls-cert <file>', 'PEM certificate: serve HTTPS (default: config server.tls.cert)')
  .option('--tls-key <file>', 'PEM private key for --tls-cert (default: config server.tls.key)')
  .action(async (o: { host?: string; port?: string; reconcileEvery: string; tlsCert?: string; tlsKey?: string }) => {
    let app: Shipgate | null = null;
    try {
      const cfg = config();
      if (Boolean(o.tlsCert) !== Boolean(o.tlsKey)) throw new InputError('--tls-cert and --tls-key go together');
      const tls = o.tlsCert && o.tlsKey ? { cert: path.resolve(o.tlsCert), key: path.resolve(o.tlsKey) } : cfg.server.tls;
      app = await openLocal(cfg);
      await serve(app, {
        host: o.host ?? cfg.server.host,
        port: o.port !== undefined ? Number(o.port) : cfg.server.port,
        reconcileEverySeconds: Number(o.reconcileEvery),
        tls,
        requestTimeoutMs: cfg.server.requestTimeoutMs,
      });
    } catch (err) {
      reportError(err);
      await app?.database.close().catch(() => {});
    }
  });

await program.parseAsync(process.argv);
