// The deployment state machine: which states are open, which are final, and which moves are
// allowed. Every transition elsewhere goes through `assertTransition`.
import { ConflictError } from '../errors.js';
import type { DeploymentState } from './types.js';

const NEXT: Record<DeploymentState, readonly DeploymentState[]> = {
  requested: ['checking', 'rejected', 'cancelled', 'expired', 'failed'],
  checking: ['awaiting_approval', 'approved', 'rejected', 'cancelled', 'expired', 'failed'],
  awaiting_approval: ['checking', 'approved', 'rejected', 'cancelled', 'expired', 'failed'],
  // An approval may lapse before the rollout starts: back to checking.
  approved: ['checking', 'waiting_for_window', 'rolling_out', 'rejected', 'cancelled', 'expired', 'failed'],
  // The window opened or the freeze lifted: approved again, ready to start.
  waiting_for_window: ['checking', 'approved', 'rolling_out', 'rejected', 'cancelled', 'expired', 'failed'],
  rolling_out: ['verifying', 'rolling_back', 'failed'],
  verifying: ['succeeded', 'rolling_back', 'failed'],
  rolling_back: ['rolled_back', 'rollback_failed'],
  succeeded: [],
  rejected: [],
  cancelled: [],
  expired: [],
  failed: [],
  rolled_back: [],
  rollback_failed: [],
};

export const DEPLOYMENT_STATES = Object.keys(NEXT) as DeploymentState[];

/** States before any traffic moved: a gate decision is still being made. */
export const GATE_STATES: readonly DeploymentState[] = [
  'requested', 'checking', 'awaiting_approval', 'approved', 'waiting_for_window',
];

export function isFinal(state: DeploymentState): boolean {
  return NEXT[state].length === 0;
}

export function isOpen(state: DeploymentState): boolean {
  return !isFinal(state);
}

export function canTransition(from: DeploymentState, to: DeploymentState): boolean {
  return NEXT[from].includes(to);
}

export function assertTransition(id: number, from: DeploymentState, to: DeploymentState): void {
  if (!canTransition(from, to)) {
    throw new ConflictError(`deployment ${id} is ${from}; it cannot become ${to}`, { state: from });
  }
}

/**
 * The states a deployment passes through to get from `from` to `to`, ending with `to`: the
 * shortest way along allowed moves, through open states only. A gate decision can skip
 * states (the last approval arrives while a freeze holds the deployment: awaiting_approval →
 * approved → waiting_for_window), and each state on the way is recorded as it is passed.
 */
export function pathBetween(id: number, from: DeploymentState, to: DeploymentState): DeploymentState[] {
  if (from === to) return [];
  const cameFrom = new Map<DeploymentState, DeploymentState>([[from, from]]);
  const queue: DeploymentState[] = [from];
  while (queue.length) {
    const at = queue.shift()!;
    for (const next of NEXT[at]) {
      if (cameFrom.has(next)) continue;
      cameFrom.set(next, at);
      if (next === to) {
        const path: DeploymentState[] = [to];
        for (let s = at; s !== from; s = cameFrom.get(s)!) path.unshift(s);
        return path;
      }
      if (!isFinal(next)) queue.push(next);
    }
  }
  assertTransition(id, from, to);
  return [to];
}
