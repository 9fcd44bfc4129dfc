// The Prometheus source's contract subject: two prom-client services (stable 1.0.0, canary
// 2.0.0) on loopback, scraped every second by a real Prometheus, read with a 1 s step. serve(n)
// resolves once the source itself has counted the n requests.
import type { MetricsBatch, MetricsContext } from '../../src/drivers/driver.js';
import { MetricsUnavailable } from '../../src/drivers/driver.js';
import { prometheusSettings, PrometheusSource } from '../../src/metrics/prometheus.js';
import { hit, startPrometheus, startVersionService } from '../support/prometheus.js';
import { until } from '../support/serve.js';
import type { SourceSubject } from './subject.js';

export async function prometheusSource(closing: { close(): Promise<void> }[]): Promise<SourceSubject> {
  const stable = await startVersionService('1.0.0');
  closing.push(stable);
  const canary = await startVersionService('2.0.0');
  closing.push(canary);
  const prom = await startPrometheus({ jobs: [{ job: 'web', targets: [stable.target, canary.target] }], scrapeInterval: '1s' });
  closing.push(prom);
  const source = new PrometheusSource(prometheusSettings({ source: 'prometheus', url: prom.url, step: '1s', timeout: '5s' }));
  const context: MetricsContext = { service: 'web', environment: 'production', canaryVersion: '2.0.0', stableVersion: '1.0.0' };
  // A reader of its own, from before the first request: what it has counted is what is visible.
  let probe = await source.cursor(context);
  let sent = 0;
  let counted = 0;
  return {
    source,
    context,
    serve: async (n) => {
      for (let i = 0; i < n; i++) await hit(i % 2 ? canary : stable, 1);
      sent += n;
      await until(
        `the source counting ${sent} requests`,
        async () => {
          try {
            const read = await source.read(context, probe);
            probe = read.cursor;
            counted += requests(read.batches);
          } catch (err) {
            // One version scraped before the other: not visible yet (the cursor stays).
            if (!(err instanceof MetricsUnavailable)) throw err;
          }
          if (counted > sent) throw new Error(`counted ${counted} requests of ${sent} sent`);
          return counted === sent;
        },
        30_000,
        100,
      );
    },
  };
}

function requests(batches: MetricsBatch[]): number {
  return batches.reduce((n, b) => n + (b.kind === 'counts' ? b.canary.requests + b.stable.requests : b.records.length), 0);
}
