// The analysis the controller uses: the canary judge of src/domain/canary.ts behind the
// controller's CanaryAnalysis interface.
import { createCanaryJudge, type JudgeOptions } from '../domain/canary.js';
import type { CanaryAnalysis } from './analysis.js';

export function canaryAnalysis(options: Partial<JudgeOptions> = {}): CanaryAnalysis {
  const judge = createCanaryJudge(options);
  return {
    start: () => judge.start(),
    observe: (state, records, share) => judge.observe(state, records, share),
    judge: (state) => judge.judge(state),
    postDeploy: (state, records) => judge.postDeploy(state, records),
  };
}
