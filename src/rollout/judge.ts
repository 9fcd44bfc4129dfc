// The analysis the controller uses: the canary judge of src/domain/canary.ts behind the
// controller's CanaryAnalysis interface.
import { createCanaryJudge, type JudgeOptions } from '../domain/canary.js';
import type { CanaryAnalysis } from './analysis.js';

export function canaryAnalysis(options: Partial<JudgeOptions> = {}): CanaryAnalysis {
  return createCanaryJudge(options);
}
