// The shipgate program: global options, and every command group's declarations
// (features/*/commands.ts, config/commands.ts, server/commands.ts) turned into commander
// commands, each run through the one wrapper (run.ts) that owns output, --json and exit codes.
// A group's module holds only declarations and small actions; what an action needs (the store,
// the server, the operations) it loads when it runs, so `shipgate --help` stays light.
import { Command, CommanderError, Option } from 'commander';
import { commands as config } from '../config/commands.js';
import { EXIT } from '../errors.js';
import { packageVersion } from '../install.js';
import { commands as access } from '../features/access/commands.js';
import { commands as audit } from '../features/audit/commands.js';
import { commands as deployments } from '../features/deployments/commands.js';
import { commands as evidence } from '../features/evidence/commands.js';
import { commands as figures } from '../features/figures/commands.js';
import { commands as parity } from '../features/parity/commands.js';
import { commands as releases } from '../features/releases/commands.js';
import { commands as rollouts } from '../features/rollouts/commands.js';
import { commands as status } from '../features/status/commands.js';
import { commands as server } from '../server/commands.js';
import type { CommandSpec, Group } from './command.js';
import { type GlobalOpts, type Io, runAction } from './run.js';

/** In the order `shipgate --help` lists them. */
const COMMANDS: CommandSpec[] = [...config, ...releases, ...deployments, ...rollouts, ...status, ...parity, ...figures, ...evidence, ...audit, ...access, ...server];

const GROUPS: Record<Group, string> = {
  release: 'register and inspect releases',
  runtime: 'local runtimes: the processes and proxy of the local driver',
  audit: 'the tamper-evident audit log',
  token: 'API tokens (stored hashed; works on the local store)',
  evidence: 'signed evidence packages of deployments',
  keys: 'signing keys of evidence packages and audit checkpoints',
};

const EXIT_CODES = `
Exit codes:
  0  success; for check/deploy/approve: the gate passed (approved or further)
  1  server, store or unexpected error
  2  usage error: bad input, unknown name, not allowed, conflict
  3  gate blocked: waiting for approvals, soak time, checklist or a window
  4  rejected, failed, cancelled or expired`;

function version(): string {
  try {
    return packageVersion();
  } catch {
    return 'unknown';
  }
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
    .showHelpAfterError()
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

  const groups = new Map<Group, Command>();
  for (const spec of COMMANDS) {
    let parent = program;
    if (spec.group) {
      // A group may also be a command of its own (`evidence <deployment>` beside `evidence verify`).
      if (!groups.has(spec.group)) groups.set(spec.group, program.commands.find((c) => c.name() === spec.group) ?? program.command(spec.group).description(GROUPS[spec.group]));
      parent = groups.get(spec.group)!;
    }
    const cmd = parent.command(spec.command).description(spec.description);
    for (const o of spec.options ?? []) {
      const option = new Option(o.flags, o.description);
      if (o.default !== undefined) option.default(o.default);
      if (o.required) option.makeOptionMandatory();
      if (o.choices) option.choices(o.choices);
      if (o.repeatable) option.argParser((value: string, previous: string[] = []) => [...previous, value]);
      cmd.addOption(option);
    }
    cmd.action(async (...args: unknown[]) => {
      // commander passes the positional arguments, the options, then the command itself.
      exit = await runAction(io, program.opts<GlobalOpts>(), spec.action, args.slice(0, -1), { needsUser: spec.needsUser });
    });
  }

  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    throw err;
  }
  return exit;
}
