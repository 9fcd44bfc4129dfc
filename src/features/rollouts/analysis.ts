// What the controller needs from the canary judge, as a small interface over a plain JSON
// state it persists after every look; the judge itself is src/domain/canary.ts.
import { type CanaryJudgement, createCanaryJudge, type JudgeOptions } from '../../domain/canary.js';
import type { RequestRecord } from '../../drivers/driver.js';

export type Judgement = CanaryJudgement;

export interface CanaryAnalysis {
  start(): unknown;
  /** Adds requests observed while the canary had `canaryShare` (0..1) of the traffic. */
  observe(state: unknown, records: RequestRecord[], canaryShare: number): unknown;
  judge(state: unknown): Judgement;
  /** After promotion: the new version alone, against the stable figures seen during the rollout. */
  postDeploy(state: unknown, records: RequestRecord[]): { ok: boolean; reasons: string[] };
}

export function canaryAnalysis(options: Partial<JudgeOptions> = {}): CanaryAnalysis {
  return createCanaryJudge(options);
}
