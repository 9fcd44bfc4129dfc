// Every shipgate command, declared in one place: names, arguments, options and their help.
// Each action lives in its group's module (features/*/commands.ts, config/commands.ts,
// cli/serve.ts) and is loaded only when its command runs, through the one wrapper (run.ts)
// that owns output, --json and exit codes; so `shipgate --help` loads none of them.
import fs from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { EXIT } from '../errors.js';
import { type Action, type GlobalOpts, type Io, runAction } from './run.js';

type Loader = () => Promise<Record<string, unknown>>;

const groups = {
  config: () => import('../config/commands.js'),
  releases: () => import('../features/releases/commands.js'),
  deployments: () => import('../features/deployments/commands.js'),
  rollouts: () => import('../features/rollouts/commands.js'),
  status: () => import('../features/status/commands.js'),
  audit: () => import('../features/audit/commands.js'),
  access: () => import('../features/access/commands.js'),
  serve: () => import('./serve.js'),
} satisfies Record<string, Loader>;

const EXIT_CODES = `
Exit codes:
  0  success; for check/deploy/approve: the gate passed (approved or further)
  1  server, store or unexpected error
  2  usage error: bad input, unknown name, not allowed, conflict
  3  gate blocked: waiting for approvals, soak time, checklist or a window
  4  rejected, failed, cancelled or expired`;

function version(): string {
  try {
    return (JSON.parse(fs.readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** Runs the CLI with `argv` (without node and the script); returns the exit code. */
export async function runCli(argv: string[], io: Io): Promise<number> {
  const program = new Command();
  let exit: number = EXIT.ok;
  // Set before any subcommand is declared: subcommands copy these settings when created, so
  // commander's own usage errors (unknown option or subcommand, missing argument or required
  // option) exit with the usage code everywhere, and help goes to the given output.
  program
    .exitOverride()
    .configureOutput({ writeOut: io.out, writeErr: io.err })
    .configureHelp({ showGlobalOptions: true })
    .showHelpAfterError();
  program
    .name('shipgate')
    .description('Release gate and progressive-delivery controller: gated, gradual, reversible deployments.')
    .version(version(), '-V, --version', 'print the version of shipgate')
    .helpOption('-h, --help', 'show help for a command')
    .option('-c, --config <file>', 'config file (env SHIPGATE_CONFIG)', io.env.SHIPGATE_CONFIG ?? 'shipgate.yaml')
    .option('--server <url>', 'talk to a shipgate server instead of the local store (env SHIPGATE_SERVER; token in SHIPGATE_TOKEN)', io.env.SHIPGATE_SERVER)
    .option('--as <user>', 'who you are when working on the local store (env SHIPGATE_USER)', io.env.SHIPGATE_USER)
    .option('--json', 'print JSON for scripts')
    .addHelpText('after', EXIT_CODES)
    .addHelpCommand('help [command]', 'show help for a command');

  /** The action `name` of a group's module, run in the wrapper. */
  const act =
    (group: keyof typeof groups, name: string, opts: { needsUser?: boolean } = {}) =>
    async (...args: unknown[]) => {
      const globals = program.opts<GlobalOpts>();
      const load: Action = async (ctx, ...rest) => {
        const mod = (await groups[group]()) as Record<string, Action>;
        return mod[name](ctx, ...(rest as never[]));
      };
      // commander passes the positional arguments, the options, then the command itself.
      exit = await runAction(io, globals, load, args.slice(0, -1), opts);
    };
  const user = { needsUser: true };

  const reportOptions = (cmd: Command) =>
    cmd
      .option('--scan <file>', 'vulnerability scan report (SARIF, Trivy, Grype, npm audit JSON); repeatable', collect)
      .option('--tests <file>', 'test report (JUnit XML); repeatable', collect)
      .option('--report <file>', 'report of any supported kind, detected from its content; repeatable', collect);
  const deployOptions = (cmd: Command) =>
    cmd
      .option('--hotfix', 'emergency deployment: needs the emergency approvers, may pass windows and freezes (flagged)')
      .option('--incident <ref>', 'incident a hotfix fixes, e.g. INC-123')
      .option('--rollback', 'redeploy a release that ran here before')
      .option('--digest <sha256>', 'digest of the artifact about to be deployed; must match the recorded one');

  // ---- setup ---------------------------------------------------------------------------------
  program.command('init').description('write a commented example config (shipgate.yaml) to start from').option('--force', 'overwrite an existing file').action(act('config', 'init'));
  program.command('schema').description('print the JSON Schema of the config file, for editors').action(act('config', 'schema'));
  program.command('validate').description('check the config file and print a summary').action(act('config', 'validate'));

  // ---- releases ------------------------------------------------------------------------------
  const release = program.command('release').description('register and inspect releases');
  reportOptions(
    release
      .command('register <service> <version>')
      .description('register an immutable release: version, digest, commit, reports (the same build again is a no-op)')
      .requiredOption('--digest <sha256>', 'sha256:<64 hex> digest of the built artifact')
      .requiredOption('--commit <sha>', 'source commit')
      .option('--built-at <time>', 'ISO-8601 build time (default: now)'),
  ).action(act('releases', 'register', user));
  reportOptions(release.command('attach <service> <version>').description('attach test or scan reports to a release')).action(act('releases', 'attach', user));
  release.command('list [service]').description('list releases, newest first').action(act('releases', 'list'));
  release.command('show <service> <version>').description('one release, its reports and where it is verified').action(act('releases', 'show'));
  program
    .command('verify <service> <version> <environment>')
    .description('mark a release verified in an environment, after its tests there passed (audited)')
    .option('--note <text>', 'what was verified')
    .action(act('releases', 'verify', user));

  // ---- the gate and deployments --------------------------------------------------------------
  deployOptions(program.command('check <service> <version> <environment>').description('dry run of the gate: every check explained; nothing is written')).action(
    act('deployments', 'check', user),
  );
  deployOptions(program.command('deploy <service> <version> <environment>').description('request a deployment; the gate is evaluated at once')).action(
    act('deployments', 'deploy', user),
  );
  program
    .command('deployments')
    .description('list deployments, newest first')
    .option('--service <name>', 'only this service')
    .option('--env <name>', 'only this environment')
    .option('--state <states>', 'only these states, comma-separated')
    .option('--limit <n>', 'at most this many', '50')
    .action(act('deployments', 'list'));
  program.command('show <id>').description('one deployment: checks, approvals, checklist, what it waits for').action(act('deployments', 'show'));
  program.command('refresh <id>').description('re-evaluate the gate of a deployment now').action(act('deployments', 'refresh', user));
  program
    .command('approve <id>')
    .description('approve a deployment')
    .option('--comment <text>', 'what you checked')
    .option('--role <role>', 'the approver role to count for, when you hold several')
    .action(act('deployments', 'approve', user));
  program.command('reject <id>').description('reject a deployment; it ends with your reason').requiredOption('--reason <text>', 'why (required)').action(act('deployments', 'reject', user));
  program.command('tick <id> <item>').description('tick a readiness checklist item').option('--note <text>', 'what was done').action(act('deployments', 'tick', user));
  program.command('cancel <id>').description('cancel a deployment that has not started').requiredOption('--reason <text>', 'why (required)').action(act('deployments', 'cancel', user));
  program.command('start <id>').description('start an approved deployment (for rollouts run outside shipgate)').action(act('deployments', 'start', user));
  program
    .command('complete <id>')
    .description('record the end of a rollout run outside shipgate')
    .addOption(new Option('--outcome <outcome>', 'succeeded or failed').choices(['succeeded', 'failed']).makeOptionMandatory())
    .option('--reason <text>', 'required when it failed')
    .action(act('deployments', 'complete', user));

  // ---- rollouts ------------------------------------------------------------------------------
  program
    .command('rollback <id>')
    .description('roll back a rollout in progress: traffic goes to the stable version at once')
    .requiredOption('--reason <text>', 'why (required; recorded)')
    .action(act('rollouts', 'rollback', user));
  program.command('resume <id>').description('resume a rollout paused on an inconclusive analysis').action(act('rollouts', 'resume', user));
  program
    .command('rollout <id>')
    .description('run the rollout of an approved deployment in the foreground, printing progress (local store)')
    .option('--poll <ms>', 'how often to look again while a step waits', '250')
    .action(act('rollouts', 'rollout'));
  program
    .command('rehearse <service> <version> [environment]')
    .description('rollback rehearsal: deploy a release next to the current one (default in staging), give it all traffic, roll back, time both; writes a report')
    .option('-o, --out <file>', 'report file (default: .shipgate/rehearsals/<service>-<version>-<environment>.json next to the store)')
    .action(act('rollouts', 'rehearse'));
  const runtime = program.command('runtime').description('local runtimes: the processes and proxy of the local driver');
  runtime.command('show <service> <environment>').description('where the proxy listens, which versions run, the weight').action(act('rollouts', 'runtimeShow'));
  runtime.command('stop <service> <environment>').description('stop a local runtime and the service processes it holds').action(act('rollouts', 'runtimeStop'));

  program.command('status').description('per service and environment: current release, open deployment, what it waits for').action(act('status', 'status'));

  // ---- audit ---------------------------------------------------------------------------------
  const audit = program.command('audit').description('the tamper-evident audit log');
  audit.command('verify').description('check the hash chain; names the first bad event').action(act('audit', 'verify'));
  audit.command('export').description('write every audit event as JSON lines').option('-o, --output <file>', 'file to write (default: standard output)').action(act('audit', 'exportLog'));
  audit
    .command('list')
    .description('audit events in sequence order')
    .option('--after <seq>', 'only events after this sequence number')
    .option('--limit <n>', 'at most this many', '100')
    .option('--subject <subject>', 'e.g. deployment:12 or release:web@1.4.2')
    .action(act('audit', 'list'));

  // ---- tokens and the server -----------------------------------------------------------------
  const token = program.command('token').description('API tokens (stored hashed; works on the local store)');
  token.command('create <user>').description('create an API token for a user; it is printed once and only its hash is kept').option('--label <text>', 'what the token is for', 'cli').action(act('access', 'create'));
  token.command('list').description('list API tokens (never their values)').action(act('access', 'list'));
  token.command('revoke <id>').description('revoke an API token').action(act('access', 'revoke'));

  program
    .command('serve')
    .description('run the HTTP API, the reconciler and the rollout controller on the configured store')
    .option('--host <host>', 'listen address (default: config server.host)')
    .option('--port <port>', 'listen port (default: config server.port; 0 picks a free one)')
    .option('--reconcile-every <seconds>', 're-evaluate open deployments this often', '15')
    .option('--tls-cert <file>', 'PEM certificate: serve HTTPS (default: config server.tls.cert)')
    .option('--tls-key <file>', 'PEM private key for --tls-cert (default: config server.tls.key)')
    .action(act('serve', 'serveCommand'));

  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    throw err;
  }
  return exit;
}

/** The program, for tests that walk its commands (every option described). */
export type { Command };
