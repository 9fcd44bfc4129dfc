// The `builtin` metrics source: every request the local driver's proxy served, with its
// version, status and latency, read incrementally from the runtime. It has the standard
// metrics (requests, errors, latency) of every service it serves, and no others.
import type { MetricsSource } from '../drivers/driver.js';
import type { LocalDriver } from '../drivers/local/driver.js';

const STANDARD = ['requests', 'errors', 'latency'];

export function builtinSource(local: LocalDriver): MetricsSource {
  return {
    kind: 'builtin',
    cursor: async (ctx) => String(await local.lastRecord(ctx.service, ctx.environment)),
    read: async (ctx, cursor) => {
      const page = await local.records(ctx.service, ctx.environment, Number(cursor ?? 0));
      return { batches: page.records.length ? [{ kind: 'requests', records: page.records }] : [], cursor: String(page.next) };
    },
    coverage: async (_ctx, required) =>
      required.map((m) => {
        const found = m.query === null && STANDARD.includes(m.name);
        return { name: m.name, query: m.query ?? m.name, found, detail: found ? null : "the local driver's proxy measures only requests, errors and latency; name a rollout.metrics source for other metrics" };
      }),
  };
}
