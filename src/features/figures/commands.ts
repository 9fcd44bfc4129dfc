// The CLI commands of the figures feature.
import type { CommandSpec } from '../../cli/command.js';

export const commands: CommandSpec[] = [];
