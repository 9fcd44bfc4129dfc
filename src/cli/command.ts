// How a command group declares its commands: name and arguments, description, options with
// their help, whether the local store needs --as, and the action. cli/program.ts turns the
// declarations into the commander program; cli/run.ts runs the action.
import type { Action } from './run.js';

export interface OptionSpec {
  flags: string;
  description: string;
  default?: string;
  required?: boolean;
  /** The option may be given several times; the action gets a list. */
  repeatable?: boolean;
  choices?: string[];
}

export type Group = 'release' | 'runtime' | 'audit' | 'token' | 'evidence' | 'keys';

export interface CommandSpec {
  /** Name and arguments, e.g. `approve <id>`; under `group` when it has one (`release register`). */
  command: string;
  group?: Group;
  description: string;
  options?: OptionSpec[];
  /** On the local store, --as (or SHIPGATE_USER) must name a user. */
  needsUser?: boolean;
  action: Action;
}

/** Declares a command; the identity function, there for its types. */
export function command<A extends unknown[]>(spec: Omit<CommandSpec, 'action'> & { action: (ctx: Parameters<Action>[0], ...args: A) => ReturnType<Action> }): CommandSpec {
  return spec as unknown as CommandSpec;
}
