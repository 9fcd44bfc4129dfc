// The `memory` metrics source: requests or counters a test (or a dry run) scripts, handed out in
// the order they were added, so the controller's analysis can be driven one look at a time.
import { type CoverageResult, type MetricsBatch, MetricsUnavailable, type MetricsSource, type RequestRecord, type RequiredMetric } from '../drivers/driver.js';

export class ScriptedSource implements MetricsSource {
  readonly kind = 'memory';
  private readonly served: MetricsBatch[] = [];
  /** Read calls that fail, as a source that does not answer would. */
  failing: string | null = null;
  /** The metrics this source has, for the coverage check (null: every one asked for). */
  has: string[] | null = null;

  /** Adds requests as if the target had just served them. */
  add(...records: RequestRecord[]): void {
    this.served.push({ kind: 'requests', records });
  }

  /** Adds a batch of counters (or requests) as a scraping source would read them. */
  addBatch(batch: MetricsBatch): void {
    this.served.push(batch);
  }

  async cursor(): Promise<string> {
    return String(this.served.length);
  }

  async read(_ctx: unknown, cursor: string | null): Promise<{ batches: MetricsBatch[]; cursor: string }> {
    if (this.failing) throw new MetricsUnavailable(this.failing);
    const from = Number(cursor ?? 0);
    return { batches: this.served.slice(from), cursor: String(this.served.length) };
  }

  async coverage(_ctx: unknown, required: RequiredMetric[]): Promise<CoverageResult[]> {
    return required.map((m) => {
      const found = this.has === null || this.has.includes(m.name);
      return { name: m.name, query: m.query ?? m.name, found, detail: found ? null : 'no series' };
    });
  }
}
