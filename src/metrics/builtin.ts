// The `builtin` metrics source: every request the local driver's proxy served, with its
// version, status and latency, read incrementally from the runtime.
import type { MetricsSource } from '../drivers/driver.js';
import type { LocalDriver } from '../drivers/local/driver.js';

export function builtinSource(local: LocalDriver, service: string, environment: string): MetricsSource {
  return {
    cursor: async () => String(await local.lastRecord(service, environment)),
    read: async (cursor) => {
      const page = await local.records(service, environment, Number(cursor ?? 0));
      return { records: page.records, cursor: String(page.next) };
    },
  };
}
