// Who is acting, and how they proved it: every change is made by an actor and audited with it.

export interface Actor {
  user: string;
  via: 'token' | 'local' | 'system' | 'oidc';
  /** On the local store the user is named, not proven (--as): the operating-system account
   * that ran the command, recorded with every audit event it writes. */
  osUser?: string;
}

/** shipgate itself: the reconciler, the rollout controller. */
export const SYSTEM: Actor = { user: 'shipgate', via: 'system' };
