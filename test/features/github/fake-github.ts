// A MOCK of GitHub's REST API for the tests (GitHub cannot be reached from here): an HTTP server
// on loopback that takes deployment protection rule answers at the callback URL and records
// them with their Authorization header, can fail the first ones with 503, and issues
// installation tokens for a GitHub App JWT it verifies with the App's public key. Plus the
// webhook a test sends, shaped like GitHub's and signed as GitHub signs it.
import { createHmac, generateKeyPairSync, verify } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';

export interface Callback {
  path: string;
  authorization: string | undefined;
  body: { environment_name?: string; state?: string; comment?: string };
}

export interface MockGithub {
  url: string;
  /** Answers GitHub took (2xx). */
  callbacks: Callback[];
  /** Every callback request, refused ones included. */
  attempts: Callback[];
  /** The next `n` callbacks are answered 503. */
  failNext(n: number): void;
  /** Installation tokens issued (App mode). */
  issued: string[];
  /** The App's key pair (App mode). */
  privateKeyPem: string;
  close(): Promise<void>;
}

export const APP_ID = '424242';
export const STATIC_TOKEN = 'ghs_statictoken0000000000000000000000';

/**
 * `now` is GitHub's clock (ms), against which it judges an App's JWT: real time unless a test
 * runs shipgate on a clock of its own, which GitHub's must then agree with.
 */
export async function startMockGithub(o: { now?: () => number } = {}): Promise<MockGithub> {
  const now = o.now ?? Date.now;
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const pub = publicKey;
  const callbacks: Callback[] = [];
  const attempts: Callback[] = [];
  const issued: string[] = [];
  let failing = 0;
  const server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString()));
    req.on('end', () => {
      const send = (status: number, body?: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(body === undefined ? '' : JSON.stringify(body));
      };
      const url = req.url ?? '/';
      const token = /^\/app\/installations\/(\d+)\/access_tokens$/.exec(url);
      if (req.method === 'POST' && token) {
        const jwt = (req.headers.authorization ?? '').replace(/^Bearer /, '');
        const [h, c, s] = jwt.split('.');
        const ok = h && c && s && verify('sha256', Buffer.from(`${h}.${c}`), pub, Buffer.from(s, 'base64url'));
        const claims = ok ? JSON.parse(Buffer.from(c, 'base64url').toString()) : null;
        // As GitHub: signed by the App's key, for this App, not expired, not issued in the future.
        const at = now() / 1000;
        if (!ok || claims.iss !== APP_ID || claims.exp <= at || claims.iat > at + 30) return send(401, { message: 'A JSON web token could not be decoded' });
        const t = `ghs_installation${token[1]}_${issued.length + 1}`;
        issued.push(t);
        return send(201, { token: t, expires_at: new Date(now() + 3_600_000).toISOString() });
      }
      if (req.method === 'POST' && /^\/repos\/[^/]+\/[^/]+\/actions\/runs\/\d+\/deployment_protection_rule$/.test(url)) {
        const cb: Callback = { path: url, authorization: req.headers.authorization, body: JSON.parse(raw || '{}') };
        attempts.push(cb);
        if (failing > 0) {
          failing--;
          return send(503, { message: 'Service Unavailable' });
        }
        callbacks.push(cb);
        return send(204);
      }
      send(404, { message: 'Not Found' });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    callbacks,
    attempts,
    issued,
    failNext: (n) => (failing = n),
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

const FIXTURE = path.resolve(import.meta.dirname, '../../fixtures/github/deployment_protection_rule.requested.json');

/** GitHub's deployment_protection_rule webhook (the fixture), its callback on the mock. */
export function protectionWebhook(github: MockGithub, o: { repository?: string; environment?: string; sha?: string; payload?: unknown; run?: number } = {}) {
  const body = JSON.parse(fs.readFileSync(FIXTURE, 'utf8'));
  const repository = o.repository ?? body.repository.full_name;
  body.repository.full_name = repository;
  body.environment = o.environment ?? body.environment;
  body.deployment.environment = body.environment;
  if (o.sha) body.deployment.sha = o.sha;
  if (o.payload !== undefined) body.deployment.payload = o.payload;
  body.deployment_callback_url = `${github.url}/repos/${repository}/actions/runs/${o.run ?? 8120034512}/deployment_protection_rule`;
  return body;
}

/** The headers GitHub sends with a webhook delivery, signed with `secret`. */
export function webhookHeaders(secret: string, raw: string, delivery: string, event = 'deployment_protection_rule'): Record<string, string> {
  return {
    'content-type': 'application/json',
    'user-agent': 'GitHub-Hookshot/abc1234',
    'x-github-event': event,
    'x-github-delivery': delivery,
    'x-github-hook-installation-target-type': 'integration',
    'x-hub-signature-256': `sha256=${createHmac('sha256', secret).update(raw).digest('hex')}`,
  };
}
