// PLACEHOLDER (being written): the Prometheus metrics source.
import { z } from 'zod';
import type { MetricsSource } from '../drivers/driver.js';
import { metricsPlugin } from './plugin.js';

export const prometheus = metricsPlugin<{ url: string }>({
  kind: 'prometheus',
  description: 'per-version counters and latency histograms read from Prometheus',
  section: z.strictObject({ source: z.literal('prometheus'), url: z.string().url() }),
  settings: (raw) => raw as { url: string },
  create: (): MetricsSource => {
    throw new Error('not yet');
  },
});
