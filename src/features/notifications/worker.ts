// The delivery loop `shipgate serve` runs: fans new outbox events out to the channels that want
// them, claims due deliveries for a lease, sends them, and marks each delivered or schedules its
// next try (exponential backoff with jitter) until the retry policy gives up and marks it failed,
// loudly. At least once: a claim whose server died lapses and the next server sends it again;
// the webhook-id stays the same, so receivers dedupe. The store going away is logged and the
// loop carries on when it is back.
import { createHmac } from 'node:crypto';
import type { ApprovalRule, Deployment } from '../../domain/types.js';
import type { Shipgate } from '../../main.js';
import { type Channel, DEFAULT_RETRY, type NotificationsConfig, wants } from './config.js';
import { type Notice, noticeFor, slackMessage, webhookPayload } from './messages.js';
import type { Delivery, OutboxEvent } from './store.js';

/** The logger's shape (fastify's, pino's): structured fields first, then the message. */
export interface Log {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface WorkerOptions {
  env?: NodeJS.ProcessEnv;
  now?: () => Date;
  random?: () => number;
  /** How often an idle loop looks for work. */
  pollMs?: number;
  batch?: number;
  /** Tests: no loop, they call tick() themselves. */
  manual?: boolean;
}

/** An event older than this when first fanned out (shipgate was not serving for a day) is not
 * sent: a stale "approval requested" helps nobody. It is logged. */
const MAX_EVENT_AGE_MS = 24 * 3600_000;

class DeliveryError extends Error {}

/** The wait before try `attempt + 1` after `attempt` failed tries: doubling, capped, jittered
 * to between half and all of it so many servers do not retry in step. */
export function backoffMs(attempt: number, retry: { backoffMs: number; maxBackoffMs: number }, random: () => number): number {
  const full = Math.min(retry.maxBackoffMs, retry.backoffMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(full / 2 + (random() * full) / 2);
}

/** The Standard Webhooks signature of `body`: `v1,` base64 HMAC-SHA256 of "id.timestamp.body"
 * keyed with the secret's bytes (the base64 after `whsec_`). */
export function sign(secret: string, id: string, timestampSeconds: number, body: string): string {
  const key = Buffer.from(secret.startsWith('whsec_') ? secret.slice(6) : secret, 'base64');
  return `v1,${createHmac('sha256', key).update(`${id}.${timestampSeconds}.${body}`).digest('base64')}`;
}

/** Sends one notice to one channel; throws DeliveryError with a message safe to log. */
export async function send(channel: Channel, notice: Notice, env: NodeJS.ProcessEnv, timeoutMs: number, now: Date): Promise<void> {
  let url: string;
  let body: string;
  const headers: Record<string, string> = { 'content-type': 'application/json', 'user-agent': 'shipgate' };
  const secrets: string[] = [];
  if (channel.type === 'slack') {
    const u = env[channel.urlEnv];
    if (!u) throw new DeliveryError(`environment variable ${channel.urlEnv} (the Slack webhook URL) is not set`);
    url = u;
    secrets.push(u);
    body = JSON.stringify(slackMessage(notice));
  } else {
    const secret = env[channel.secretEnv];
    if (!secret) throw new DeliveryError(`environment variable ${channel.secretEnv} (the signing secret) is not set`);
    if (!/^whsec_[A-Za-z0-9+/]+={0,2}$/.test(secret)) throw new DeliveryError(`the signing secret in ${channel.secretEnv} is not of the form whsec_<base64>`);
    url = channel.url;
    secrets.push(secret);
    body = JSON.stringify(webhookPayload(notice));
    const ts = Math.floor(now.getTime() / 1000);
    Object.assign(headers, { 'webhook-id': notice.id, 'webhook-timestamp': String(ts), 'webhook-signature': sign(secret, notice.id, ts, body) });
  }
  const scrub = (s: string) => secrets.reduce((acc, x) => acc.replaceAll(x, '***'), s);
  let res: Response;
  try {
    res = await fetch(url, { method: 'POST', headers, body, signal: AbortSignal.timeout(timeoutMs), redirect: 'error' });
  } catch (err) {
    const e = err as Error & { cause?: { code?: string; message?: string } };
    const why = e.name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : (e.cause?.code ?? e.cause?.message ?? e.message);
    throw new DeliveryError(scrub(`cannot reach the receiver: ${why}`));
  }
  const text = await res.text().catch(() => '');
  if (!res.ok) throw new DeliveryError(scrub(`receiver answered HTTP ${res.status}${text ? `: ${text.slice(0, 200)}` : ''}`));
}

export interface NotificationWorker {
  /** One round: fan out, claim, send. True when it found work. Exposed for tests. */
  tick(): Promise<boolean>;
  stop(): Promise<void>;
}

export function startNotifications(sg: Pick<Shipgate, 'config' | 'store'>, log: Log, opts: WorkerOptions = {}): NotificationWorker {
  const cfg: NotificationsConfig = sg.config.notifications;
  const channels = cfg.channels ?? [];
  const retry = cfg.retry ?? DEFAULT_RETRY;
  const env = opts.env ?? process.env;
  const now = opts.now ?? (() => new Date());
  const random = opts.random ?? Math.random;
  const pollMs = opts.pollMs ?? 250;
  const batch = opts.batch ?? 50;
  // A claim outlives the longest send, so only a dead server's claim lapses.
  const leaseMs = retry.timeoutMs * 2 + 1000;
  const store = sg.store;

  for (const c of channels) {
    const name = c.type === 'slack' ? c.urlEnv : c.secretEnv;
    if (!env[name]) log.warn({ channel: c.name, variable: name }, `notification channel ${c.name}: environment variable ${name} is not set; its notices will fail until it is`);
  }

  async function deploymentOf(subject: string): Promise<Deployment | null> {
    const m = /^deployment:(\d+)$/.exec(subject);
    return m ? store.deployments.find(Number(m[1])) : null;
  }

  function approversOf(d: Deployment | null): ApprovalRule[] {
    const policy = d && sg.config.environments.find((e) => e.name === d.environment)?.policy;
    if (!policy) return [];
    return d.type === 'hotfix' ? policy.emergency.approvals : policy.approvals;
  }

  async function fanOut(e: OutboxEvent): Promise<void> {
    const at = now();
    const d = await deploymentOf(e.subject);
    const stale = at.getTime() - Date.parse(e.at) > MAX_EVENT_AGE_MS;
    const to = stale ? [] : channels.filter((c) => wants(c, e.event, d?.environment ?? null)).map((c) => c.name);
    if (stale && channels.length > 0) log.warn({ event: e.event, subject: e.subject, at: e.at }, 'notice older than a day not sent');
    await store.transaction((tx) => tx.outbox.expand(e.id, to, at.toISOString()));
  }

  async function deliver(d: Delivery): Promise<void> {
    const channel = channels.find((c) => c.name === d.channel);
    let error: string;
    try {
      if (!channel) throw new DeliveryError(`channel ${d.channel} is no longer in the config`);
      const e = await store.outbox.event(d.eventId);
      if (!e) throw new DeliveryError(`event ${d.eventId} is gone from the outbox`);
      const dep = await deploymentOf(e.subject);
      await send(channel, noticeFor(e, dep, approversOf(dep), cfg.uiUrl), env, retry.timeoutMs, now());
      await store.transaction((tx) => tx.outbox.delivered(d.id, now().toISOString()));
      return;
    } catch (err) {
      // A store error after a send leaves the claim to lapse: the notice goes again (at least once).
      if (!(err instanceof DeliveryError)) throw err;
      error = err.message;
    }
    const attempts = d.attempts + 1;
    const giveUp = !channel || attempts >= retry.attempts;
    const nextAt = giveUp ? null : new Date(now().getTime() + backoffMs(attempts, retry, random)).toISOString();
    await store.transaction((tx) => tx.outbox.attemptFailed(d.id, error, nextAt));
    const fields = { channel: d.channel, notice: `msg_${d.eventId}`, subject: d.subject, attempt: attempts, of: retry.attempts, error };
    if (giveUp) log.error(fields, `notice to ${d.channel} failed for good after ${attempts} tries; it stays in the outbox as failed`);
    else log.warn({ ...fields, nextAt }, `notice to ${d.channel} failed; trying again`);
  }

  async function tick(): Promise<boolean> {
    const events = await store.outbox.unexpanded(batch);
    for (const e of events) await fanOut(e);
    const at = now();
    // Looking first keeps an idle loop from taking SQLite's write lock four times a second.
    if (channels.length === 0 || !(await store.outbox.due(at.toISOString()))) return events.length > 0;
    const claimed = await store.transaction((tx) => tx.outbox.claim(at.toISOString(), new Date(at.getTime() + leaseMs).toISOString(), batch));
    // One delivery per channel and deployment is claimed at a time, so these run side by side.
    const results = await Promise.allSettled(claimed.map(deliver));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    return events.length > 0 || claimed.length > 0;
  }

  let stopped = false;
  let timer: NodeJS.Timeout | null = null;
  let current: Promise<void> = Promise.resolve();
  let storeAway = false;

  const loop = () => {
    timer = null;
    if (stopped) return;
    current = tick().then(
      (busy) => {
        if (storeAway) log.info({}, 'notifications: the store is back; delivering');
        storeAway = false;
        if (!stopped) timer = setTimeout(loop, busy ? 0 : pollMs);
      },
      (err: Error) => {
        if (!storeAway) log.error({ err: err.message }, 'notifications: cannot read or write the outbox; trying again');
        storeAway = true;
        if (!stopped) timer = setTimeout(loop, Math.max(pollMs, 1000));
      },
    );
  };
  if (!opts.manual) timer = setTimeout(loop, 0);

  return {
    tick,
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await current;
    },
  };
}
