// Answering GitHub once shipgate decides. Each round reads the runs GitHub still waits on,
// derives each one's answer from its shipgate deployment (pure: `answerOf`), and sends every
// decided answer to its callback URL: claimed first (so two servers never send one twice),
// retried with a growing delay when GitHub or the network fails, given up on when GitHub
// refuses it for good (a 4xx other than 408/429: the run is no longer waiting).
import type { Deployment } from '../../domain/types.js';
import type { Shipgate } from '../../main.js';
import type { GithubClient } from './client.js';
import type { GithubRepository, GithubSettings } from './config.js';
import type { GithubAnswer, ProtectionRun } from './store.js';

const APPROVED_AT: Record<GithubRepository['approveWhen'], readonly string[]> = {
  approved: ['approved', 'rolling_out', 'verifying', 'succeeded'],
  succeeded: ['succeeded'],
};
const ENDED_BADLY = ['rejected', 'cancelled', 'expired', 'failed', 'rolled_back', 'rollback_failed'];

/** Seconds before the next send after `attempts` failed ones: 1, 2, 4 ... capped at 5 min. */
export function retryDelayMs(attempts: number): number {
  return Math.min(1000 * 2 ** Math.max(0, attempts - 1), 300_000);
}
export const MAX_ATTEMPTS = 30;

/** GitHub's answer for a deployment as it stands, or null while shipgate has not decided. */
export function answerOf(d: Deployment, approveWhen: GithubRepository['approveWhen']): { answer: GithubAnswer; comment: string } | null {
  const what = `shipgate deployment ${d.id} (${d.service} ${d.version} to ${d.environment})`;
  if (APPROVED_AT[approveWhen].includes(d.state)) return { answer: 'approved', comment: `${what} ${d.state === 'succeeded' ? 'succeeded' : 'approved'}` };
  if (ENDED_BADLY.includes(d.state) || (approveWhen === 'succeeded' && d.state === 'rolling_back')) {
    return { answer: 'rejected', comment: `${what} ${d.state}${d.reason ? `: ${d.reason}` : ''}` };
  }
  return null;
}

export interface RoundLog {
  info(o: object, msg: string): void;
  warn(o: object, msg: string): void;
}

export class GithubAnswers {
  constructor(
    private readonly sg: Shipgate,
    private readonly s: GithubSettings,
    private readonly client: GithubClient,
    private readonly log: RoundLog,
  ) {}

  /** One round; returns how many answers GitHub took. */
  async round(): Promise<number> {
    let sent = 0;
    for (const run of await this.sg.store.github.unanswered(200)) {
      const decided = run.answer ? run : await this.decide(run);
      if (decided?.answer && this.due(decided) && (await this.send(decided))) sent++;
    }
    return sent;
  }

  private due(run: ProtectionRun): boolean {
    return !run.nextAttemptAt || Date.parse(run.nextAttemptAt) <= this.sg.now().getTime();
  }

  private async decide(run: ProtectionRun): Promise<ProtectionRun | null> {
    if (run.deploymentId === null) return null;
    const d = await this.sg.store.deployments.find(run.deploymentId);
    if (!d) return null;
    const repo = this.s.repositories.find((r) => r.repository === run.repository.toLowerCase());
    const a = answerOf(d, repo?.approveWhen ?? 'approved');
    if (!a) return null;
    await this.sg.store.transaction((tx) => tx.github.decide(run.id, a.answer, a.comment, this.sg.now().toISOString()));
    return { ...run, answer: a.answer, comment: a.comment };
  }

  private async send(run: ProtectionRun): Promise<boolean> {
    const now = this.sg.now();
    // A send holds the run for a minute; a server that dies mid-send leaves it to the next round.
    const claimed = await this.sg.store.transaction((tx) => tx.github.claim(run.id, run.attempts, new Date(now.getTime() + 60_000).toISOString()));
    if (!claimed) return false;
    const attempts = run.attempts + 1;
    let status = 0;
    let error: string;
    try {
      const r = await this.client.answer(run.callbackUrl, run.installationId, run.githubEnvironment, run.answer!, run.comment ?? '');
      status = r.status;
      error = `GitHub answered ${r.status}: ${r.text}`;
    } catch (err) {
      error = (err as Error).message;
    }
    const at = this.sg.now().toISOString();
    const ctx = { delivery: run.deliveryId, deployment: run.deploymentId, answer: run.answer, attempts };
    if (status >= 200 && status < 300) {
      await this.sg.store.transaction((tx) => tx.github.answered(run.id, at, status, null));
      this.log.info(ctx, `told GitHub ${run.answer} for ${run.repository} ${run.githubEnvironment}`);
      return true;
    }
    const final = (status >= 400 && status < 500 && status !== 408 && status !== 429) || attempts >= MAX_ATTEMPTS;
    if (final) {
      await this.sg.store.transaction((tx) => tx.github.answered(run.id, at, status, error));
      this.log.warn({ ...ctx, error }, `gave up telling GitHub ${run.answer} for ${run.repository} ${run.githubEnvironment}`);
    } else {
      const next = new Date(this.sg.now().getTime() + retryDelayMs(attempts)).toISOString();
      await this.sg.store.transaction((tx) => tx.github.failed(run.id, error, next));
      this.log.warn({ ...ctx, error, next }, 'telling GitHub failed; will retry');
    }
    return false;
  }
}
