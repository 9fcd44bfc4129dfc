// The CLI commands of the parity feature.
import type { CommandSpec } from '../../cli/command.js';

export const commands: CommandSpec[] = [];
