// The `notifications:` section of shipgate.yaml: where notices of deployments go (Slack
// incoming webhooks, signed webhooks), which events each channel gets, the UI address for
// links, and how delivery retries. Secrets are named by environment variable and read when a
// notice is sent, so they are never in the file, the config cache, the logs or the audit log.
import { z } from 'zod';
import { duration, durationSeconds } from '../../config/duration.js';

/** Every notice shipgate sends, in the words of the deployment's life. */
export const NOTICE_EVENTS = ['approval_requested', 'approved', 'rejected', 'rollout_started', 'step_passed', 'rolled_back', 'rollback_failed', 'succeeded'] as const;
export type NoticeEvent = (typeof NOTICE_EVENTS)[number];

const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected an environment variable name such as SLACK_WEBHOOK_URL');

const filters = {
  events: z.array(z.enum(NOTICE_EVENTS)).min(1).optional().describe('the notices this channel gets; default all (rollback_failed always goes to every channel)'),
  environments: z.array(z.string().min(1)).min(1).optional().describe('only deployments to these environments; default all'),
};

const channel = z.discriminatedUnion('type', [
  z.strictObject({
    name: z.string().min(1).describe('how logs name this channel'),
    type: z.literal('slack'),
    url_env: envName.describe('environment variable holding the Slack incoming webhook URL'),
    ...filters,
  }),
  z.strictObject({
    name: z.string().min(1).describe('how logs name this channel'),
    type: z.literal('webhook'),
    url: z.url({ protocol: /^https?$/ }).describe('where shipgate POSTs the signed JSON'),
    secret_env: envName.describe('environment variable holding the signing secret, whsec_<base64> (Standard Webhooks)'),
    ...filters,
  }),
]);

export const notificationsSection = z
  .strictObject({
    ui_url: z.url({ protocol: /^https?$/ }).optional().describe("base URL of shipgate's web UI, for links in notices (https://shipgate.example.com)"),
    channels: z
      .array(channel)
      .default([])
      .refine((cs) => new Set(cs.map((c) => c.name)).size === cs.length, 'two channels have the same name; each needs its own')
      .describe('where notices go'),
    retry: z
      .strictObject({
        attempts: z.number().int().min(1).max(100).default(10).describe('tries per notice and channel before it is marked failed'),
        backoff: duration.default('5s').describe('wait after the first failure; doubles after each (with jitter)'),
        max_backoff: duration.default('10m').describe('the longest wait between tries'),
        timeout: duration.default('10s').describe('a receiver must answer within this'),
      })
      .default({ attempts: 10, backoff: '5s', max_backoff: '10m', timeout: '10s' }),
  })
  .optional()
  .describe('where shipgate sends notices of deployments (docs/notifications.md)');

interface ChannelBase {
  name: string;
  /** Absent: every event. */
  events?: NoticeEvent[];
  /** Absent: every environment. */
  environments?: string[];
}
export type SlackChannel = ChannelBase & { type: 'slack'; urlEnv: string };
export type WebhookChannel = ChannelBase & { type: 'webhook'; url: string; secretEnv: string };
export type Channel = SlackChannel | WebhookChannel;

/** Resolved; plain JSON (it is cached with the rest of the config). `{}`: no channels. */
export interface NotificationsConfig {
  uiUrl?: string;
  channels?: Channel[];
  retry?: { attempts: number; backoffMs: number; maxBackoffMs: number; timeoutMs: number };
}

export const DEFAULT_RETRY = { attempts: 10, backoffMs: 5_000, maxBackoffMs: 600_000, timeoutMs: 10_000 };

export function resolveNotifications(raw: z.infer<typeof notificationsSection>, _dir: string): NotificationsConfig {
  if (!raw) return {};
  const channels: Channel[] = raw.channels.map((c) => {
    const base: ChannelBase = { name: c.name, ...(c.events ? { events: c.events } : {}), ...(c.environments ? { environments: c.environments } : {}) };
    return c.type === 'slack' ? { ...base, type: 'slack', urlEnv: c.url_env } : { ...base, type: 'webhook', url: c.url, secretEnv: c.secret_env };
  });
  const r = raw.retry;
  return {
    ...(raw.ui_url ? { uiUrl: raw.ui_url.replace(/\/+$/, '') } : {}),
    channels,
    retry: {
      attempts: r.attempts,
      backoffMs: Math.max(1, durationSeconds(r.backoff)) * 1000,
      maxBackoffMs: Math.max(1, durationSeconds(r.max_backoff)) * 1000,
      timeoutMs: Math.max(1, durationSeconds(r.timeout)) * 1000,
    },
  };
}

/** Whether `channel` gets `event` of a deployment to `environment` (null: not known).
 * A failed rollback is loud: every channel gets it, whatever its filters. */
export function wants(channel: Channel, event: NoticeEvent, environment: string | null): boolean {
  if (event === 'rollback_failed') return true;
  if (channel.events && !channel.events.includes(event)) return false;
  if (channel.environments && (environment === null || !channel.environments.includes(environment))) return false;
  return true;
}
