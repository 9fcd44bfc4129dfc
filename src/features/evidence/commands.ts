// The CLI commands of the evidence feature.
import type { CommandSpec } from '../../cli/command.js';

export const commands: CommandSpec[] = [];
