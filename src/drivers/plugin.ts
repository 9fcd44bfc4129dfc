// What a driver folder exports so shipgate can use it: its kind (the value of `driver:` in an
// environment's rollout section), the schema of its own config section (`rollout.<kind>:`),
// how that section resolves, and the factory of the driver and of its metrics source.
import type { z } from 'zod';
import type { ShipgateConfig } from '../config/load.js';
import type { Driver, MetricsSource } from './driver.js';

export interface DriverPlugin<S = unknown> {
  kind: string;
  /** One line for the config docs and `shipgate schema`. */
  description: string;
  /** The driver's own section in `rollout:`, keyed by its kind; absent when it has none. */
  section?: z.ZodType;
  /** Said at file:line when the environment picks this driver without its section. */
  sectionRequired?: string;
  /** The section as the driver uses it; `dir` is the config file's directory. */
  settings(section: unknown, dir: string): S;
  /** The driver for one environment's rollouts (the caller keeps one per environment). */
  create(settings: S, config: ShipgateConfig): Driver;
  /** What the target's own metrics are, when it has some (said in docs; lets a policy's
   * monitoring check work without a rollout.metrics source). */
  ownMetrics?: string;
  /** The target's own metrics (used when the environment names no `rollout.metrics:` source);
   * null when it has none. */
  metrics(driver: Driver): MetricsSource | null;
}

export function plugin<S>(p: DriverPlugin<S>): DriverPlugin<S> {
  return p;
}
