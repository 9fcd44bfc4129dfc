// The `command` driver, plugged in: its section names the team's scripts for each action.
import { z } from 'zod';
import { duration, durationSeconds } from '../../config/duration.js';
import { plugin } from '../plugin.js';
import { type CommandDriverConfig, CommandDriver } from './driver.js';

const script = z.union([z.string(), z.array(z.string()).min(1)]);

const section = z
  .strictObject({
    deploy: script,
    set_weight: script,
    promote: script,
    rollback: script,
    finalize: script.optional(),
    canary_url: z.string().url().optional(),
    stable_url: z.string().url().optional(),
    timeout: duration.default('5m'),
  })
  .describe('the command driver: scripts run with SHIPGATE_* variables');

export const command = plugin<CommandDriverConfig>({
  kind: 'command',
  description: 'your scripts deploy, set the weight, promote and roll back (helm, kubectl, ssh...)',
  section,
  sectionRequired: 'driver: command needs a command section with deploy, set_weight, promote and rollback',
  settings(raw, dir) {
    const c = section.parse(raw);
    return {
      commands: {
        deploy: c.deploy,
        setWeight: c.set_weight,
        promote: c.promote,
        rollback: c.rollback,
        ...(c.finalize ? { finalize: c.finalize } : {}),
      },
      canaryUrl: c.canary_url ?? null,
      stableUrl: c.stable_url ?? null,
      cwd: dir,
      timeoutMs: durationSeconds(c.timeout) * 1000,
    };
  },
  create: (settings) => new CommandDriver(settings),
  metrics: () => null,
});
