// The web UI's sessions: kept in this process's memory, named by a random id in an HttpOnly,
// SameSite=Lax cookie (Secure under TLS), each with its own CSRF token and an expiry. A restart
// signs everyone out, which is the safe way for a release gate to forget.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Actor } from '../access/actor.js';

export const COOKIE = 'sg_session';
/** The short-lived cookie holding a sign-in in progress (OIDC state, nonce, PKCE verifier). */
export const PENDING_COOKIE = 'sg_signin';

export interface Session {
  id: string;
  user: string;
  via: 'oidc' | 'token';
  /** The roles this session acts with: the config's, narrowed by the OIDC groups when mapped. */
  roles: string[];
  readOnly: boolean;
  csrf: string;
  expiresAt: number;
}

export interface PendingSignIn {
  state: string;
  nonce: string;
  verifier: string;
  expiresAt: number;
}

export function randomToken(): string {
  return randomBytes(32).toString('base64url');
}

/** Sessions and sign-ins in progress, bounded and swept of the expired. */
export class SessionStore {
  private readonly sessions = new Map<string, Session>();
  private readonly pending = new Map<string, PendingSignIn>();
  private static readonly MAX = 10_000;

  constructor(
    private readonly hours: number,
    private readonly now: () => number = Date.now,
  ) {}

  create(s: Omit<Session, 'id' | 'csrf' | 'expiresAt'>): Session {
    this.sweep();
    const session: Session = { ...s, id: randomToken(), csrf: randomToken(), expiresAt: this.now() + this.hours * 3_600_000 };
    this.sessions.set(session.id, session);
    return session;
  }

  get(id: string | undefined): Session | null {
    if (!id) return null;
    const s = this.sessions.get(id);
    if (!s) return null;
    if (s.expiresAt <= this.now()) {
      this.sessions.delete(id);
      return null;
    }
    return s;
  }

  end(id: string | undefined): void {
    if (id) this.sessions.delete(id);
  }

  begin(p: Omit<PendingSignIn, 'expiresAt'>): string {
    this.sweep();
    const id = randomToken();
    this.pending.set(id, { ...p, expiresAt: this.now() + 10 * 60_000 });
    return id;
  }

  /** A sign-in in progress is used once. */
  take(id: string | undefined): PendingSignIn | null {
    if (!id) return null;
    const p = this.pending.get(id);
    this.pending.delete(id);
    return p && p.expiresAt > this.now() ? p : null;
  }

  private sweep(): void {
    const now = this.now();
    for (const map of [this.sessions, this.pending] as Map<string, { expiresAt: number }>[]) {
      if (map.size < SessionStore.MAX) continue;
      for (const [k, v] of map) if (v.expiresAt <= now) map.delete(k);
      while (map.size >= SessionStore.MAX) map.delete(map.keys().next().value!);
    }
  }
}

export function cookies(req: FastifyRequest): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0) out[part.slice(0, i).trim()] = decodeURIComponent(part.slice(i + 1).trim());
  }
  return out;
}

export function setCookie(reply: FastifyReply, name: string, value: string, opts: { secure: boolean; maxAgeSeconds: number }): void {
  const attrs = [`${name}=${encodeURIComponent(value)}`, 'Path=/ui', 'HttpOnly', 'SameSite=Lax', `Max-Age=${Math.max(0, Math.floor(opts.maxAgeSeconds))}`];
  if (opts.secure) attrs.push('Secure');
  const prev = reply.getHeader('set-cookie');
  const list = Array.isArray(prev) ? prev : prev ? [String(prev)] : [];
  reply.header('set-cookie', [...list, attrs.join('; ')]);
}

/** The synchronizer token check: the session's token, sent as a form field or the x-csrf-token header. */
export function csrfOk(session: Session, req: FastifyRequest): boolean {
  const body = (req.body ?? {}) as Record<string, unknown>;
  const sent = (typeof body._csrf === 'string' ? body._csrf : undefined) ?? (typeof req.headers['x-csrf-token'] === 'string' ? req.headers['x-csrf-token'] : undefined);
  if (!sent) return false;
  const a = Buffer.from(sent);
  const b = Buffer.from(session.csrf);
  return a.length === b.length && timingSafeEqual(a, b);
}

export function actorOf(s: Session): Actor {
  return { user: s.user, via: s.via };
}
