// Approval rules: N approvals per role, each from a distinct person who is not the requester,
// each valid for a limited time; a single rejection ends the deployment.
import type { Approval, ApprovalRule } from './types.js';

export interface ApproverUser {
  name: string;
  roles: string[];
}

export interface RoleTally {
  role: string;
  required: number;
  /** Names of the people whose approval counts for this role now. */
  approvedBy: string[];
}

export interface ApprovalTally {
  satisfied: boolean;
  rejection: Approval | null;
  roles: RoleTally[];
  /** Approvals that no longer count because they are older than the TTL. */
  expired: Approval[];
  /** When the earliest counted approval lapses (ISO), if any counts. */
  firstExpiry: string | null;
  /** One sentence: what is there and what is missing. */
  summary: string;
}

export interface TallyInput {
  rules: ApprovalRule[];
  approvals: Approval[];
  requester: string;
  ttlMinutes: number;
  now: Date;
}

export function approvalExpiresAt(a: Approval, ttlMinutes: number): Date {
  return new Date(Date.parse(a.at) + ttlMinutes * 60_000);
}

export function tallyApprovals(input: TallyInput): ApprovalTally {
  const { rules, approvals, requester, ttlMinutes, now } = input;
  const rejection = approvals.find((a) => a.decision === 'reject') ?? null;
  const expired: Approval[] = [];
  const live: Approval[] = [];
  for (const a of approvals) {
    if (a.decision !== 'approve' || a.user === requester) continue;
    if (approvalExpiresAt(a, ttlMinutes).getTime() <= now.getTime()) expired.push(a);
    else live.push(a);
  }
  // A person counts once, for the role they approved in: the first live approval wins.
  const counted = new Set<string>();
  const roles: RoleTally[] = rules.map((r) => ({ role: r.role, required: r.count, approvedBy: [] }));
  let firstExpiry: number | null = null;
  // ISO timestamps: compared as strings (localeCompare would build a collator on every call).
  for (const a of [...live].sort((x, y) => (x.at < y.at ? -1 : x.at > y.at ? 1 : 0))) {
    if (counted.has(a.user)) continue;
    const tally = roles.find((t) => t.role === a.role);
    if (!tally || tally.approvedBy.length >= tally.required) continue;
    tally.approvedBy.push(a.user);
    counted.add(a.user);
    const exp = approvalExpiresAt(a, ttlMinutes).getTime();
    firstExpiry = firstExpiry === null ? exp : Math.min(firstExpiry, exp);
  }
  const satisfied = !rejection && roles.every((t) => t.approvedBy.length >= t.required);
  return {
    satisfied,
    rejection,
    roles,
    expired,
    firstExpiry: firstExpiry === null ? null : new Date(firstExpiry).toISOString(),
    summary: summarize(roles, rejection, expired),
  };
}

function summarize(roles: RoleTally[], rejection: Approval | null, expired: Approval[]): string {
  if (rejection) {
    return `rejected by ${rejection.user} (${rejection.role}): ${rejection.comment ?? 'no reason given'}`;
  }
  const parts = roles.map((t) => {
    const who = t.approvedBy.length ? ` (${t.approvedBy.join(', ')})` : '';
    return `${t.role} ${t.approvedBy.length}/${t.required}${who}`;
  });
  let text = parts.length ? parts.join(', ') : 'no approvals required';
  if (expired.length) {
    text += `; expired: ${expired.map((a) => `${a.user} at ${a.at}`).join(', ')}`;
  }
  return text;
}

/** Roles in `rules` that this user holds and that still need an approval. */
export function openRolesFor(user: ApproverUser, tally: ApprovalTally): string[] {
  return tally.roles
    .filter((t) => user.roles.includes(t.role) && t.approvedBy.length < t.required)
    .map((t) => t.role);
}

/** The role an approval is recorded under: the one asked for, or the user's only open role. */
export function chooseApprovalRole(
  user: ApproverUser,
  rules: ApprovalRule[],
  tally: ApprovalTally,
  asked: string | null,
): { role: string } | { error: string } {
  const approverRoles = rules.map((r) => r.role).filter((r) => user.roles.includes(r));
  if (approverRoles.length === 0) {
    const needed = rules.map((r) => r.role).join(' or ');
    return { error: `${user.name} holds no approver role here (needs ${needed || 'none: no approvals are configured'})` };
  }
  if (asked) {
    if (!approverRoles.includes(asked)) {
      return { error: `${user.name} cannot approve as ${asked}; their approver roles here: ${approverRoles.join(', ')}` };
    }
    return { role: asked };
  }
  const open = openRolesFor(user, tally);
  if (open.length === 1) return { role: open[0] };
  if (open.length === 0) return { role: approverRoles[0] };
  return { error: `${user.name} holds several approver roles (${open.join(', ')}): say which with --role` };
}
