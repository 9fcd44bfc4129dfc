// Where each deployment's rollout acts: the driver, metrics source and plan that the config
// declares for its environment. The local driver is shared by all local environments, since
// it only holds the addresses of the runtimes it found.
import path from 'node:path';
import type { ShipgateConfig } from '../config/load.js';
import type { Deployment } from '../domain/types.js';
import { CommandDriver } from '../drivers/command.js';
import { LocalDriver } from '../drivers/local/driver.js';
import { InputError } from '../errors.js';
import type { Target } from './controller.js';

export function localDriverFor(config: ShipgateConfig): LocalDriver {
  return new LocalDriver({
    dir: path.join(path.dirname(config.store.sqlitePath), 'runtime'),
    spec: (service, environment) => {
      const run = config.services.find((s) => s.name === service)?.run;
      if (!run) {
        throw new InputError(`service ${service} has no run: section in ${config.file}; the local driver needs the command that starts it`);
      }
      return { ...run, proxyPort: run.ports[environment] ?? 0 };
    },
  });
}

export function targetsFor(config: ShipgateConfig, local: LocalDriver = localDriverFor(config)): (d: Deployment) => Target {
  const commandDrivers = new Map<string, CommandDriver>();
  return (d) => {
    const env = config.environments.find((e) => e.name === d.environment);
    const settings = env?.rollout;
    if (!settings) throw new InputError(`${d.environment} has no rollout: section in ${config.file}; shipgate does not roll deployments out there`);
    const driverSettings = settings.driver;
    const plan = settings.servicePlans[d.service] ?? settings.plan;
    if (driverSettings.kind === 'command') {
      let driver = commandDrivers.get(d.environment);
      if (!driver) {
        driver = new CommandDriver({
          commands: driverSettings.commands,
          canaryUrl: driverSettings.canaryUrl,
          stableUrl: driverSettings.stableUrl,
          cwd: config.dir,
          timeoutMs: driverSettings.timeoutMs,
        });
        commandDrivers.set(d.environment, driver);
      }
      return { driver, metrics: null, plan };
    }
    return { driver: local, metrics: local.metrics(d.service, d.environment), plan };
  };
}
