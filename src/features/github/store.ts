// What the GitHub feature keeps: one row per deployment protection rule run GitHub asked about
// (by its delivery id, so a redelivery finds it), the shipgate deployment it waits on, the
// answer once shipgate decided, and how sending that answer to GitHub went.
import type { Generated } from 'kysely';

export type GithubAnswer = 'approved' | 'rejected';

export interface ProtectionRun {
  id: number;
  /** X-GitHub-Delivery of the webhook that asked. */
  deliveryId: string;
  repository: string;
  githubEnvironment: string;
  installationId: number | null;
  callbackUrl: string;
  /** The shipgate deployment it waits on; null when shipgate could not take the request. */
  deploymentId: number | null;
  receivedAt: string;
  answer: GithubAnswer | null;
  comment: string | null;
  /** Sends tried so far; also the claim's revision, so two servers never send one answer twice. */
  attempts: number;
  nextAttemptAt: string | null;
  lastError: string | null;
  /** When GitHub took the answer (or refused it for good: see answerStatus). */
  answeredAt: string | null;
  answerStatus: number | null;
}

export type NewProtectionRun = Pick<ProtectionRun, 'deliveryId' | 'repository' | 'githubEnvironment' | 'installationId' | 'callbackUrl' | 'deploymentId' | 'receivedAt' | 'answer' | 'comment'>;

export interface GithubStore {
  /** UniqueViolation when a run with this delivery id exists. */
  insertRun(run: NewProtectionRun): Promise<ProtectionRun>;
  runByDelivery(deliveryId: string): Promise<ProtectionRun | null>;
  /** Runs GitHub has not had an answer to yet, oldest first. */
  unanswered(limit: number): Promise<ProtectionRun[]>;
  /** Sets the answer if none is set yet. */
  decide(id: number, answer: GithubAnswer, comment: string, at: string): Promise<void>;
  /** Takes the run for one send (attempts + 1, next attempt pushed to `leaseUntil`) unless
   * someone else did since `attempts` was read; false then. */
  claim(id: number, attempts: number, leaseUntil: string): Promise<boolean>;
  failed(id: number, error: string, nextAttemptAt: string): Promise<void>;
  answered(id: number, at: string, status: number, error: string | null): Promise<void>;
  runsOf(deploymentId: number): Promise<ProtectionRun[]>;
}

export interface GithubProtectionRunsTable {
  id: Generated<number>;
  delivery_id: string;
  repository: string;
  github_environment: string;
  installation_id: number | null;
  callback_url: string;
  deployment_id: number | null;
  received_at: string;
  answer: string | null;
  comment: string | null;
  attempts: number;
  next_attempt_at: string | null;
  last_error: string | null;
  answered_at: string | null;
  answer_status: number | null;
}

export interface GithubTables {
  github_protection_runs: GithubProtectionRunsTable;
}
