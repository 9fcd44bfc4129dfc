// What the controller needs from metrics and from the canary judge, as two small interfaces.
// The record and verdict shapes are the judge's own (src/domain/canary.ts).
import type { CanaryJudgement, CanaryRequest } from '../domain/canary.js';

/** One request seen by the target: which version answered, how, and how fast. */
export type RequestRecord = CanaryRequest;

/** Reads the requests a target served, incrementally. */
export interface MetricsSource {
  /** A position meaning "from now on". */
  cursor(): Promise<string>;
  /** Requests after `cursor` (all retained ones when null), and the position after them. */
  read(cursor: string | null): Promise<{ records: RequestRecord[]; cursor: string }>;
}

export type Judgement = CanaryJudgement;

/**
 * The analysis, over a plain JSON state so the controller can persist it after every step
 * and carry on after a restart.
 */
export interface CanaryAnalysis {
  start(): unknown;
  /** Adds requests observed while the canary had `canaryShare` (0..1) of the traffic. */
  observe(state: unknown, records: RequestRecord[], canaryShare: number): unknown;
  judge(state: unknown): Judgement;
  /** After promotion: the new version alone, against the stable figures seen during the rollout. */
  postDeploy(state: unknown, records: RequestRecord[]): { ok: boolean; reasons: string[] };
}
