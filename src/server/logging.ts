// The server's logs: fastify's pino writing one JSON object per line, with every secret a
// request can carry redacted; one line per request (method, route pattern, status, duration,
// user); and a W3C trace context (`traceparent`), so a request's lines share a trace id that
// OpenTelemetry-speaking tools around shipgate (a proxy, a tracing backend) also know.
import { randomFillSync } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { FastifyBaseLogger, FastifyInstance, FastifyRequest } from 'fastify';

/**
 * Where secrets may sit in what is logged: headers of requests and answers (API tokens, session
 * cookies, CSRF tokens, webhook signatures) and fields with a secret's name in any logged
 * object, one and two levels down. Censored, never removed, so a reader sees one was there.
 */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-csrf-token"]',
  'req.headers["x-hub-signature-256"]',
  'req.headers["webhook-signature"]',
  'res.headers["set-cookie"]',
  'headers.authorization',
  'headers.cookie',
  'headers["set-cookie"]',
  'headers["x-csrf-token"]',
  ...['authorization', 'cookie', 'token', 'password', 'secret', 'csrf', 'csrfToken', 'webhookSecret', 'apiKey'].flatMap((k) => [k, `*.${k}`, `*.*.${k}`]),
];

/** The server's logger settings (fastify's pino): JSON lines, ISO times, secrets redacted. */
export function serverLogger(): object {
  return {
    level: process.env.SHIPGATE_LOG_LEVEL ?? 'info',
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    timestamp: () => `,"time":"${new Date().toISOString()}"`,
    formatters: { level: (label: string) => ({ level: label }) },
  };
}

type Level = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';

/**
 * A request's logger (fastify's childLoggerFactory), made only once something is logged at an
 * enabled level. pino makes a child at once and runs the redaction over its bindings, which
 * cost every request a fiftieth of its time though most requests log nothing but their line.
 */
export function lazyChildLogger(logger: FastifyBaseLogger, bindings: Record<string, unknown>, opts: object): FastifyBaseLogger {
  let child: FastifyBaseLogger | undefined;
  const made = () => (child ??= logger.child(bindings, opts));
  const enabled = (level: Level) => (logger as FastifyBaseLogger & { isLevelEnabled?: (l: string) => boolean }).isLevelEnabled?.(level) ?? true;
  const at =
    (level: Level) =>
    (...args: unknown[]) => {
      if (enabled(level)) (made()[level] as (...a: unknown[]) => void)(...args);
    };
  return {
    get level() {
      return (child ?? logger).level;
    },
    set level(value: string) {
      made().level = value;
    },
    fatal: at('fatal'),
    error: at('error'),
    warn: at('warn'),
    info: at('info'),
    debug: at('debug'),
    trace: at('trace'),
    silent: () => {},
    child: (b: Record<string, unknown>, o?: object) => made().child(b, o),
  } as FastifyBaseLogger;
}

export interface TraceContext {
  traceId: string;
  /** The caller's span (absent when shipgate started the trace). */
  parentId: string | null;
  flags: string;
}

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;
const ZEROS = /^0+$/;

/** The trace context of a `traceparent` header (W3C Trace Context, version 00), or null. */
export function parseTraceparent(header: string | string[] | undefined): TraceContext | null {
  const value = Array.isArray(header) ? header[0] : header;
  const m = TRACEPARENT.exec(value?.trim().toLowerCase() ?? '');
  if (!m || ZEROS.test(m[1]) || ZEROS.test(m[2])) return null;
  return { traceId: m[1], parentId: m[2], flags: m[3] };
}

const traces = new WeakMap<IncomingMessage, TraceContext>();

// Random bytes for trace and span ids, drawn from a pool filled 4 KB at a time: one call to the
// system's generator per request for each id cost a twelfth of a cheap request's time.
const pool = Buffer.alloc(4096);
let used = pool.length;

function randomHex(bytes: number): string {
  if (used + bytes > pool.length) {
    randomFillSync(pool);
    used = 0;
  }
  used += bytes;
  return pool.toString('hex', used - bytes, used);
}

/**
 * The request id fastify puts in every log line of the request (as `trace_id`): the caller's
 * trace id when it sent a valid `traceparent`, else a new one.
 */
export function traceIdOf(raw: IncomingMessage): string {
  const trace = parseTraceparent(raw.headers.traceparent) ?? { traceId: randomHex(16), parentId: null, flags: '01' };
  traces.set(raw, trace);
  return trace.traceId;
}

/**
 * Echoes the trace context in every answer (`traceparent` with shipgate's own span id under the
 * caller's trace id) and writes one line per request once it is answered. `userOf` says who
 * made it (null before or without authentication).
 */
export function logRequests(server: FastifyInstance, userOf: (req: FastifyRequest) => string | null): void {
  server.addHook('onRequest', (req, reply, done) => {
    const trace = traces.get(req.raw);
    if (trace) reply.header('traceparent', `00-${trace.traceId}-${randomHex(8)}-${trace.flags}`);
    done();
  });
  server.addHook('onResponse', (req, reply, done) => {
    const trace = traces.get(req.raw);
    req.log.info(
      {
        method: req.method,
        route: routeOf(req),
        status: reply.statusCode,
        duration_ms: Math.round(reply.elapsedTime * 10) / 10,
        user: userOf(req),
        ...(trace?.parentId ? { parent_span_id: trace.parentId } : {}),
      },
      'request',
    );
    done();
  });
}

/** The route's pattern (/api/v1/deployments/:id), never the URL: ids and tokens stay out. */
export function routeOf(req: FastifyRequest): string {
  return req.routeOptions.url ?? '(no route)';
}
