// Where each deployment's rollout acts: the driver, metrics source and plan its environment's
// config declares. One driver (and one metrics source) per environment, made by its plug-in
// (drivers/registry.ts, metrics/registry.ts) on first use and kept, so a driver's memory of its
// target lasts across steps.
import type { ShipgateConfig } from '../../config/load.js';
import type { RolloutPlan } from '../../domain/rollout.js';
import type { Driver, MetricsSource } from '../../drivers/driver.js';
import { driverPlugin } from '../../drivers/registry.js';
import { InputError } from '../../errors.js';
import { sourcePlugin } from '../../metrics/registry.js';

export interface Target {
  driver: Driver;
  /** Null when the target has no metrics: steps then advance on smoke tests and time alone. */
  metrics: MetricsSource | null;
  plan: RolloutPlan;
}

export type Targets = (d: { service: string; environment: string }) => Target;

/** `drivers`: drivers already made, by environment (e.g. the local driver shared with the CLI). */
export function targetsFor(config: ShipgateConfig, drivers: Map<string, Driver> = new Map()): Targets {
  const sources = new Map<string, MetricsSource>();
  return (d) => {
    const settings = config.environments.find((e) => e.name === d.environment)?.rollout;
    if (!settings) throw new InputError(`${d.environment} has no rollout: section in ${config.file}; shipgate does not roll deployments out there`);
    const plugin = driverPlugin(settings.driver.kind);
    let driver = drivers.get(d.environment);
    if (!driver || driver.kind !== plugin.kind) {
      driver = plugin.create(settings.driver.settings, config);
      drivers.set(d.environment, driver);
    }
    let metrics: MetricsSource | null;
    if (settings.metrics) {
      metrics = sources.get(d.environment) ?? sourcePlugin(settings.metrics.kind).create(settings.metrics.settings);
      sources.set(d.environment, metrics);
    } else {
      metrics = plugin.metrics(driver);
    }
    return { driver, metrics, plan: settings.servicePlans[d.service] ?? settings.plan };
  };
}
