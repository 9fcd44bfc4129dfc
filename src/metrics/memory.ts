// The `memory` metrics source: requests a test (or a dry run) scripts, handed out in the order
// they were added, so the controller's analysis can be driven one look at a time.
import type { MetricsSource, RequestRecord } from '../drivers/driver.js';

export class ScriptedSource implements MetricsSource {
  private readonly served: RequestRecord[] = [];
  /** Read calls that throw, as a source that does not answer would. */
  failing: string | null = null;

  /** Adds requests as if the target had just served them. */
  add(...records: RequestRecord[]): void {
    this.served.push(...records);
  }

  async cursor(): Promise<string> {
    return String(this.served.length);
  }

  async read(cursor: string | null): Promise<{ records: RequestRecord[]; cursor: string }> {
    if (this.failing) throw new Error(this.failing);
    const from = Number(cursor ?? 0);
    return { records: this.served.slice(from), cursor: String(this.served.length) };
  }
}
