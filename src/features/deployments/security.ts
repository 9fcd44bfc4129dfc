// Security posture: one HTTPS request to a service's address (the policy's security.url) that
// reads the certificate the server presents and the security headers of its answer. Made
// outside any transaction (it is a network call) and kept for the gate, which reads it
// synchronously (GateInput.security); asked again when older than `maxAgeMs`, on a person's
// refresh, and always just before a rollout starts — the same rhythm as monitoring coverage.
import fs from 'node:fs';
import https from 'node:https';
import { rootCertificates, type TLSSocket } from 'node:tls';
import type { SecurityPolicy, SecurityProbe } from '../../domain/types.js';
import type { Directory } from '../directory.js';

export class SecurityService {
  private readonly answers = new Map<string, SecurityProbe>();

  constructor(
    private readonly directory: Directory,
    private readonly now: () => Date,
    private readonly maxAgeMs = 60_000,
  ) {}

  /** The last answer for a service's address in an environment; null when never asked. */
  last(service: string, environment: string): SecurityProbe | null {
    const url = this.directory.policy(environment).security?.urls[service];
    return url ? (this.answers.get(keyOf(environment, url)) ?? null) : null;
  }

  /** Requests the address when the policy names one and the answer is missing or old (or `fresh`). */
  async ensure(d: { service: string; environment: string }, opts: { fresh?: boolean } = {}): Promise<SecurityProbe | null> {
    const rule = this.directory.policy(d.environment).security;
    const url = rule?.urls[d.service];
    if (!rule || !url) return null;
    const key = keyOf(d.environment, url);
    const known = this.answers.get(key);
    if (known && !opts.fresh && this.now().getTime() - Date.parse(known.at) < this.maxAgeMs) return known;
    const answer = await probe(url, rule, this.now().toISOString());
    this.answers.set(key, answer);
    return answer;
  }
}

function keyOf(environment: string, url: string): string {
  return `${environment}\u0000${url}`;
}

/**
 * One GET, certificate verification left to this code rather than to the connection: an
 * untrusted certificate is a finding (the check fails with its reason), not an unreachable
 * server. Nothing is sent but the request line and Host; redirects are not followed (the
 * headers judged are the address's own). The body is not read beyond what arrives.
 */
export function probe(url: string, rule: Pick<SecurityPolicy, 'timeoutMs' | 'ca'>, at: string): Promise<SecurityProbe> {
  return new Promise((resolve) => {
    let settled = false;
    const done = (p: SecurityProbe) => {
      if (settled) return;
      settled = true;
      resolve(p);
    };
    let ca: Buffer | undefined;
    try {
      ca = rule.ca ? fs.readFileSync(rule.ca) : undefined;
    } catch (err) {
      done({ at, url, error: `cannot read the ca file ${rule.ca}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` });
      return;
    }
    let req: ReturnType<typeof https.request>;
    try {
      req = https.request(url, {
        method: 'GET',
        // With a private CA, trust it as well as the system's (Node replaces them otherwise).
        ca: ca ? [...rootCertificates, ca.toString()] : undefined,
        rejectUnauthorized: false,
        timeout: rule.timeoutMs,
        agent: false,
        headers: { 'user-agent': 'shipgate security check', accept: '*/*' },
      });
    } catch (err) {
      done({ at, url, error: (err as Error).message });
      return;
    }
    req.on('response', (res) => {
      const socket = res.socket as TLSSocket;
      const peer = socket.getPeerCertificate?.();
      const has = peer && Object.keys(peer).length > 0;
      const header = (name: string) => {
        const v = res.headers[name];
        return v === undefined ? null : Array.isArray(v) ? v.join(', ') : v;
      };
      done({
        at,
        url,
        status: res.statusCode ?? 0,
        certificate: has
          ? {
              trusted: socket.authorized,
              problem: socket.authorized ? null : String(socket.authorizationError ?? 'not trusted'),
              validTo: peer.valid_to ? new Date(peer.valid_to).toISOString() : null,
              subject: peer.subject?.CN ? String(peer.subject.CN) : null,
              issuer: peer.issuer?.CN ? String(peer.issuer.CN) : null,
            }
          : null,
        headers: { hsts: header('strict-transport-security'), csp: header('content-security-policy'), xFrameOptions: header('x-frame-options') },
      });
      res.destroy();
    });
    // `timeout` is the socket's idle time; a server trickling its headers byte by byte would
    // outlast it, so the whole answer has a deadline too.
    const deadline = setTimeout(() => {
      done({ at, url, error: `no answer within ${rule.timeoutMs} ms` });
      req.destroy();
    }, rule.timeoutMs);
    req.on('close', () => clearTimeout(deadline));
    req.on('timeout', () => {
      done({ at, url, error: `no answer within ${rule.timeoutMs} ms` });
      req.destroy();
    });
    req.on('error', (err) => done({ at, url, error: err.message }));
    req.end();
  });
}
