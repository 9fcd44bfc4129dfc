// Every driver shipgate knows. A new one is a folder beside these (driver.ts + index.ts) and one
// line here: config validation and target selection read this list.
import { command } from './command/index.js';
import { kubernetes } from './kubernetes/index.js';
import { local } from './local/index.js';
import { memory } from './memory/index.js';
import { nginx } from './nginx/index.js';
import type { DriverPlugin } from './plugin.js';

export const DRIVERS: readonly DriverPlugin[] = [local, command, nginx, kubernetes, memory] as DriverPlugin[];

export const DRIVER_KINDS = DRIVERS.map((d) => d.kind) as [string, ...string[]];

export function driverPlugin(kind: string): DriverPlugin {
  const p = DRIVERS.find((d) => d.kind === kind);
  if (!p) throw new Error(`unknown driver '${kind}'; known: ${DRIVER_KINDS.join(', ')}`);
  return p;
}
