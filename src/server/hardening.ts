// What keeps the HTTP server safe to expose: a deadline for every request (a client trickling
// its body cannot hold a connection for minutes), security headers on every answer, a limit on
// failed sign-ins per address, and HTTPS when the team has no TLS proxy in front.
import http from 'node:http';
import https from 'node:https';
import type { FastifyInstance, FastifyServerFactory } from 'fastify';
import { ShipgateError } from '../errors.js';

export interface Hardening {
  /** A request's headers and body must have arrived within this. */
  requestTimeoutMs: number;
  /** PEM certificate and key: the server speaks HTTPS. */
  tls?: { cert: string | Buffer; key: string | Buffer };
  /** Failed authentications allowed per client address per window before 429. */
  authFailures: { max: number; windowMs: number };
}

export const DEFAULT_HARDENING: Hardening = {
  requestTimeoutMs: 30_000,
  authFailures: { max: 20, windowMs: 60_000 },
};

/** The node server fastify runs on, with the request deadline enforced. */
export function serverFactory(h: Hardening): FastifyServerFactory {
  const options = {
    requestTimeout: h.requestTimeoutMs,
    headersTimeout: Math.min(h.requestTimeoutMs, 20_000),
    // Node checks the deadlines on this interval (default 30 s), so it bounds how late they fire.
    connectionsCheckingInterval: Math.min(1000, h.requestTimeoutMs),
  };
  return (handler) => (h.tls ? https.createServer({ ...options, cert: h.tls.cert, key: h.tls.key }, handler) : http.createServer(options, handler));
}

/** Headers every answer carries: an API answer is never sniffed, framed, cached or referred. */
export function addSecurityHeaders(server: FastifyInstance, tls: boolean): void {
  server.addHook('onSend', (_req, reply, payload, done) => {
    reply.header('x-content-type-options', 'nosniff');
    reply.header('x-frame-options', 'DENY');
    reply.header('content-security-policy', "default-src 'none'; frame-ancestors 'none'");
    reply.header('referrer-policy', 'no-referrer');
    reply.header('cache-control', 'no-store');
    if (tls) reply.header('strict-transport-security', 'max-age=31536000');
    done(null, payload);
  });
}

/**
 * Counts failed authentications per client address in a fixed window. Past the limit, the
 * address gets 429 before its token is even looked at, so guessing tokens costs the guesser a
 * window per few attempts and the server almost nothing. Bounded in memory: the oldest
 * addresses are forgotten first.
 */
export class AuthFailureLimit {
  private readonly seen = new Map<string, { count: number; since: number }>();
  private static readonly MAX_ADDRESSES = 10_000;

  constructor(
    private readonly limit: Hardening['authFailures'],
    private readonly now: () => number = Date.now,
  ) {}

  /** Throws a 429 when the address used up its failures in this window. */
  check(address: string): void {
    const entry = this.seen.get(address);
    if (!entry) return;
    const age = this.now() - entry.since;
    if (age >= this.limit.windowMs) {
      this.seen.delete(address);
      return;
    }
    if (entry.count >= this.limit.max) {
      const retry = Math.ceil((this.limit.windowMs - age) / 1000);
      throw new ShipgateError('too_many_requests', `too many failed authentications from ${address}: ${entry.count} in ${this.limit.windowMs / 1000} s; try again in ${retry} s`, {
        retryAfterSeconds: retry,
      });
    }
  }

  failed(address: string): void {
    const entry = this.seen.get(address);
    if (entry && this.now() - entry.since < this.limit.windowMs) {
      entry.count++;
      return;
    }
    this.seen.delete(address);
    if (this.seen.size >= AuthFailureLimit.MAX_ADDRESSES) this.seen.delete(this.seen.keys().next().value!);
    this.seen.set(address, { count: 1, since: this.now() });
  }
}
