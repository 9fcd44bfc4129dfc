// Every metrics source an environment can name in `rollout.metrics:`. Without that section an
// environment reads its driver's own metrics (the local proxy, nginx's access log) or none.
import type { MetricsPlugin } from './plugin.js';
import { prometheus } from './prometheus.js';

export const SOURCES: readonly MetricsPlugin[] = [prometheus] as MetricsPlugin[];

export function sourcePlugin(kind: string): MetricsPlugin {
  const p = SOURCES.find((s) => s.kind === kind);
  if (!p) throw new Error(`unknown metrics source '${kind}'; known: ${SOURCES.map((s) => s.kind).join(', ')}`);
  return p;
}
