// Receivers of notices on loopback, for the notifications tests and bench: a webhook endpoint
// that verifies every Standard Webhooks signature with the shared secret (through the
// `standardwebhooks` package, independently of shipgate's own signing) and can be told to fail,
// and a mock of Slack's incoming webhook (Slack cannot be reached from here) that keeps the
// JSON it was sent.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';

export interface Arrival {
  id: string;
  body: any;
  /** When it arrived (ms since epoch). */
  at: number;
}

export interface Receiver {
  url: string;
  /** Every request answered 2xx, in arrival order (retries of one id included). */
  accepted: Arrival[];
  /** Requests answered with a failure on purpose. */
  refused: number;
  /** Requests whose signature did not verify. */
  forged: number;
  /** Accepted arrivals with each id once (the first), as a receiver that dedupes keeps them. */
  unique(): Arrival[];
  close(): Promise<void>;
}

async function listen(handle: (req: http.IncomingMessage, body: string) => { status: number; arrival?: Arrival }, r: Omit<Receiver, 'url' | 'close' | 'unique'>): Promise<Receiver> {
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const out = handle(req, body);
      if (out.arrival) r.accepted.push(out.arrival);
      res.writeHead(out.status, { 'content-type': 'text/plain' }).end(out.status < 300 ? 'ok' : 'try again later');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return Object.assign(r, {
    url: `http://127.0.0.1:${port}/hook`,
    unique() {
      const seen = new Set<string>();
      return r.accepted.filter((a) => !seen.has(a.id) && seen.add(a.id));
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  });
}

/** `fail(n)` says whether the n-th request (from 1) is answered 503. */
export function webhookReceiver(secret: string, fail: (n: number) => boolean = () => false): Promise<Receiver> {
  const verifier = new Webhook(secret);
  let n = 0;
  const r = { accepted: [] as Arrival[], refused: 0, forged: 0 };
  return listen((req, body) => {
    n += 1;
    try {
      verifier.verify(body, req.headers as Record<string, string>);
    } catch {
      r.forged += 1;
      return { status: 400 };
    }
    if (fail(n)) {
      r.refused += 1;
      return { status: 503 };
    }
    return { status: 204, arrival: { id: String(req.headers['webhook-id']), body: JSON.parse(body), at: Date.now() } };
  }, r);
}

/** A mock of a Slack incoming webhook: keeps what it is sent; Slack messages carry no id, so
 * arrivals are keyed by their text. */
export function slackMock(fail: (n: number) => boolean = () => false): Promise<Receiver> {
  let n = 0;
  const r = { accepted: [] as Arrival[], refused: 0, forged: 0 };
  return listen((_req, body) => {
    n += 1;
    if (fail(n)) {
      r.refused += 1;
      return { status: 500 };
    }
    const json = JSON.parse(body);
    return { status: 200, arrival: { id: json.text, body: json, at: Date.now() } };
  }, r);
}

/** A secret in the Standard Webhooks form. */
export function webhookSecret(): string {
  return `whsec_${Buffer.from(crypto.getRandomValues(new Uint8Array(24))).toString('base64')}`;
}
