// The `builtin` metrics source: every request the local driver's proxy served, with its
// version, status and latency, read incrementally from the runtime.
import type { MetricsSource } from '../drivers/driver.js';
import type { LocalDriver } from '../drivers/local/driver.js';

export function builtinSource(local: LocalDriver): MetricsSource {
  return {
    kind: 'builtin',
    cursor: async (ctx) => String(await local.lastRecord(ctx.service, ctx.environment)),
    read: async (ctx, cursor) => {
      const page = await local.records(ctx.service, ctx.environment, Number(cursor ?? 0));
      return { batches: page.records.length ? [{ kind: 'requests', records: page.records }] : [], cursor: String(page.next) };
    },
  };
}
