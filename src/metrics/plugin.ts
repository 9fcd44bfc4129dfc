// What a metrics source exports so an environment can name it in `rollout.metrics:` (in place of
// its driver's own metrics): its kind (the value of `source:`), the schema of the section, how
// the section resolves, and the factory of the source.
import type { z } from 'zod';
import type { MetricsSource } from '../drivers/driver.js';

export interface MetricsPlugin<S = unknown> {
  kind: string;
  /** One line for the config docs and `shipgate schema`. */
  description: string;
  /** The whole `rollout.metrics:` section, `source: <kind>` included (a strict object). */
  section: z.ZodType;
  /** The section as the source uses it; `dir` is the config file's directory. */
  settings(section: unknown, dir: string): S;
  create(settings: S): MetricsSource;
}

export function metricsPlugin<S>(p: MetricsPlugin<S>): MetricsPlugin<S> {
  return p;
}
