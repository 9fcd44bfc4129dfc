// Prometheus's HTTP query API as the source uses it: instant and range queries over Node's
// fetch, each with a timeout and a bounded answer. Every way of not answering (refused,
// timed out, HTTP error, an error status in the JSON, an answer too large or not JSON) is a
// MetricsUnavailable naming the query; the bearer token is never part of a message.
import { MetricsUnavailable } from '../drivers/driver.js';

export interface PrometheusClientSettings {
  /** Base URL, e.g. http://prometheus:9090 or https://host/prometheus. */
  url: string;
  /** Environment variable holding a bearer token, read at each request. */
  tokenEnv: string | null;
  timeoutMs: number;
  maxResponseBytes: number;
}

/** One series of an answer: its labels and its samples (unix seconds → value). */
export interface Series {
  labels: Record<string, string>;
  values: Map<number, number>;
}

export class PrometheusClient {
  private readonly base: string;

  constructor(private readonly s: PrometheusClientSettings) {
    this.base = s.url.replace(/\/+$/, '');
  }

  /** The value of each series at `at` (unix seconds). */
  async instant(query: string, at: number): Promise<Series[]> {
    const data = await this.call('query', { query, time: String(at) }, query);
    if (data.resultType !== 'vector' || !Array.isArray(data.result)) throw this.unavailable(query, `answered a ${String(data.resultType)} where a vector was expected`);
    return (data.result as { metric: Record<string, string>; value: [number, string] }[]).map((r) => ({ labels: r.metric ?? {}, values: samples([r.value]) }));
  }

  /** Each series evaluated at start, start + step, ... ≤ end (unix seconds). */
  async range(query: string, start: number, end: number, step: number): Promise<Series[]> {
    const data = await this.call('query_range', { query, start: String(start), end: String(end), step: String(step) }, query);
    if (data.resultType !== 'matrix' || !Array.isArray(data.result)) throw this.unavailable(query, `answered a ${String(data.resultType)} where a matrix was expected`);
    return (data.result as { metric: Record<string, string>; values: [number, string][] }[]).map((r) => ({ labels: r.metric ?? {}, values: samples(r.values ?? []) }));
  }

  private async call(endpoint: string, params: Record<string, string>, query: string): Promise<{ resultType?: unknown; result?: unknown }> {
    const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
    if (this.s.tokenEnv) {
      const token = process.env[this.s.tokenEnv];
      if (!token) throw this.unavailable(query, `token_env names ${this.s.tokenEnv}, which is not set`, false);
      headers.authorization = `Bearer ${token}`;
    }
    let res: Response;
    try {
      res = await fetch(`${this.base}/api/v1/${endpoint}`, { method: 'POST', headers, body: new URLSearchParams(params), signal: AbortSignal.timeout(this.s.timeoutMs), redirect: 'error' });
    } catch (err) {
      throw this.unavailable(query, whyNot(err, this.s.timeoutMs), false);
    }
    let text: string;
    try {
      text = await bounded(res, this.s.maxResponseBytes);
    } catch (err) {
      throw this.unavailable(query, err instanceof TooLarge ? err.message : whyNot(err, this.s.timeoutMs));
    }
    let body: { status?: unknown; data?: unknown; errorType?: unknown; error?: unknown } | null = null;
    try {
      body = JSON.parse(text);
    } catch {
      body = null;
    }
    if (body && body.status === 'error') throw this.unavailable(query, `answered an error (HTTP ${res.status}, ${String(body.errorType)}: ${String(body.error)})`);
    if (!res.ok) throw this.unavailable(query, `answered HTTP ${res.status}${text.trim() ? `: ${oneLine(text)}` : ''}`);
    if (!body || body.status !== 'success' || typeof body.data !== 'object' || body.data === null) throw this.unavailable(query, `answered something that is not Prometheus's JSON: ${oneLine(text)}`);
    return body.data as { resultType?: unknown; result?: unknown };
  }

  private unavailable(query: string, why: string, answered = true): MetricsUnavailable {
    const where = `Prometheus at ${this.base}`;
    return new MetricsUnavailable(answered ? `${where} ${why}, for the query ${query}` : `${where} did not answer the query ${query}: ${why}`);
  }
}

function samples(values: [number, string][]): Map<number, number> {
  const out = new Map<number, number>();
  for (const [t, v] of values) {
    const n = Number(v);
    if (Number.isFinite(n)) out.set(Math.round(Number(t) * 1000) / 1000, n);
  }
  return out;
}

class TooLarge extends Error {}

/** The body as text, refusing more than `max` bytes (read as it streams in). */
async function bounded(res: Response, max: number): Promise<string> {
  const declared = Number(res.headers.get('content-length') ?? NaN);
  const tooLarge = () => new TooLarge(`answered more than ${Math.round(max / 1024 / 1024)} MiB (too many series or steps: narrow the selector)`);
  if (declared > max) {
    await res.body?.cancel();
    throw tooLarge();
  }
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      await reader.cancel();
      throw tooLarge();
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Why a request got no answer, in words (the URL and token are not repeated). */
function whyNot(err: unknown, timeoutMs: number): string {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError') return `no answer within ${timeoutMs / 1000} s`;
  const code = e?.cause?.code;
  if (code === 'ECONNREFUSED') return 'connection refused';
  if (code === 'ENOTFOUND') return 'host not found';
  if (code) return `${code}${e.cause?.message ? ` (${e.cause.message})` : ''}`;
  return e?.cause?.message ?? e?.message ?? String(err);
}

function oneLine(text: string): string {
  const s = text.replace(/\s+/g, ' ').trim();
  return s.length > 200 ? `${s.slice(0, 200)}…` : s;
}
