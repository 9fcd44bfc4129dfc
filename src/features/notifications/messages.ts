// What a notice says: one sentence, the deployment it is about, the event's details; and how
// that becomes a Slack Block Kit message or a Standard Webhooks payload. Pure: data in, data out.
import type { ApprovalRule, Deployment } from '../../domain/types.js';
import type { NoticeEvent } from './config.js';
import type { OutboxEvent } from './store.js';

export interface Notice {
  /** Stable across retries and servers: receivers dedupe by it (the webhook-id). */
  id: string;
  event: NoticeEvent;
  at: string;
  actor: string;
  sentence: string;
  deployment: { id: number | null; service: string | null; environment: string | null; version: string | null; type: string | null; incident: string | null; requestedBy: string | null; url: string | null };
  details: Record<string, unknown>;
}

const ms = (n: unknown) => (typeof n === 'number' ? (n < 1000 ? `${n} ms` : `${(n / 1000).toFixed(1)} s`) : 'unknown');

/** The notice of an outbox event. `deployment` is null when it cannot be read (then the
 * sentence names the subject); `approvers` are the roles the deployment's policy asks for. */
export function noticeFor(e: OutboxEvent, deployment: Deployment | null, approvers: ApprovalRule[], uiUrl: string | undefined): Notice {
  const idFromSubject = /^deployment:(\d+)$/.exec(e.subject);
  const id = deployment?.id ?? (idFromSubject ? Number(idFromSubject[1]) : null);
  const what = deployment ? `${deployment.service} ${deployment.version} to ${deployment.environment}` : e.subject;
  const where = deployment ? `${deployment.service} ${deployment.version} in ${deployment.environment}` : e.subject;
  const d = e.data;
  let sentence: string;
  let details: Record<string, unknown> = {};
  switch (e.event) {
    case 'approval_requested': {
      const roles = approvers.map((a) => `${a.role}${a.count > 1 ? ` ×${a.count}` : ''}`).join(', ');
      sentence = `${what} needs approval${roles ? ` from ${roles}` : ''}${deployment ? ` (requested by ${deployment.requestedBy})` : ''}`;
      details = { approvers: approvers.map((a) => ({ role: a.role, count: a.count })) };
      break;
    }
    case 'approved':
      sentence = `${what} was approved${e.actor === 'shipgate' ? ' (every check passed)' : ` by ${e.actor}`}`;
      details = { by: e.actor, reason: d.reason ?? null };
      break;
    case 'rejected':
      sentence = `${e.actor} rejected ${what}${d.comment ? `: ${String(d.comment)}` : ''}`;
      details = { by: e.actor, role: d.role ?? null, reason: d.comment ?? null };
      break;
    case 'rollout_started':
      sentence = `rollout of ${what} started`;
      details = { by: e.actor };
      break;
    case 'step_passed':
      sentence = `${where}: step ${Number(d.step) + 1} passed at ${d.weight}% traffic${d.message ? ` (${String(d.message)})` : ''}`;
      details = { step: d.step, weight: d.weight, message: d.message ?? null };
      break;
    case 'rolled_back':
      sentence = `${where} was rolled back (${d.trigger}): ${d.reason}. Traffic back on stable in ${ms(d.msToTraffic)}, verified in ${ms(d.msToVerified)}`;
      details = { reason: d.reason, trigger: d.trigger, decidedAt: d.decidedAt, trafficRestoredAt: d.trafficRestoredAt ?? null, verifiedAt: d.verifiedAt ?? null, msToTraffic: d.msToTraffic ?? null, msToVerified: d.msToVerified ?? null };
      break;
    case 'rollback_failed':
      sentence = `ROLLBACK FAILED for ${where}: where traffic goes is not known. Rolled back because ${d.reason}${d.detail ? `; ${String(d.detail)}` : ''}`;
      details = { reason: d.reason, trigger: d.trigger, detail: d.detail ?? null, decidedAt: d.decidedAt, msToTraffic: d.msToTraffic ?? null };
      break;
    case 'succeeded':
      sentence = `${what} succeeded`;
      details = {};
      break;
  }
  return {
    id: `msg_${e.id}`,
    event: e.event,
    at: e.at,
    actor: e.actor,
    sentence,
    deployment: {
      id,
      service: deployment?.service ?? null,
      environment: deployment?.environment ?? null,
      version: deployment?.version ?? null,
      type: deployment?.type ?? null,
      incident: deployment?.incident ?? null,
      requestedBy: deployment?.requestedBy ?? null,
      url: uiUrl && id !== null ? `${uiUrl}/ui/deployments/${id}` : null,
    },
    details,
  };
}

/** The Standard Webhooks payload: `{ type, timestamp, data }`. */
export function webhookPayload(n: Notice): { type: string; timestamp: string; data: Record<string, unknown> } {
  return { type: `deployment.${n.event}`, timestamp: n.at, data: { id: n.id, sentence: n.sentence, actor: n.actor, deployment: n.deployment, ...n.details } };
}

const EMOJI: Record<NoticeEvent, string> = {
  approval_requested: ':raising_hand:',
  approved: ':white_check_mark:',
  rejected: ':no_entry:',
  rollout_started: ':rocket:',
  step_passed: ':arrow_forward:',
  rolled_back: ':rewind:',
  rollback_failed: ':rotating_light:',
  succeeded: ':tada:',
};

/** Slack's mrkdwn gives &, < and > meaning: a user's text must not make links or mentions. */
function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** A Slack incoming-webhook message: Block Kit blocks, and `text` for notifications and
 * clients that show no blocks. */
export function slackMessage(n: Notice): { text: string; blocks: object[] } {
  const loud = n.event === 'rollback_failed' ? '<!channel> ' : '';
  const text = `${loud}${EMOJI[n.event]} ${esc(n.sentence)}`;
  const dep = n.deployment;
  const fields = [
    ['Service', dep.service],
    ['Version', dep.version],
    ['Environment', dep.environment],
    ['Who', n.actor],
  ]
    .filter((f): f is [string, string] => typeof f[1] === 'string')
    .map(([k, v]) => ({ type: 'mrkdwn', text: `*${k}*\n${esc(v)}` }));
  if (dep.type === 'hotfix') fields.push({ type: 'mrkdwn', text: `*Hotfix*\n${esc(dep.incident ?? 'no incident named')}` });
  const blocks: object[] = [{ type: 'section', text: { type: 'mrkdwn', text } }];
  if (fields.length > 0) blocks.push({ type: 'section', fields });
  if (dep.url) {
    blocks.push({
      type: 'actions',
      elements: [{ type: 'button', text: { type: 'plain_text', text: n.event === 'approval_requested' ? 'Review in shipgate' : 'Open in shipgate' }, url: dep.url, action_id: 'open_deployment' }],
    });
  }
  return { text, blocks };
}
