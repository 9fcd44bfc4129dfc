// Builds the rollout controller for a running shipgate (serve, or `shipgate rollout` in the
// foreground) and the loop that drives every deployment with rollout work, one step each per
// pass, so one slow deployment never holds up the others.
import type { Deployment } from '../../domain/types.js';
import type { Driver } from '../../drivers/driver.js';
import type { Shipgate } from '../../main.js';
import { canaryAnalysis } from './analysis.js';
import { RolloutController } from './controller.js';
import { runSmokeChecks } from './smoke.js';
import { targetsFor } from './targets.js';

export function buildController(sg: Shipgate, opts: { onProgress?: (d: Deployment, message: string) => void; drivers?: Map<string, Driver> } = {}): RolloutController {
  return new RolloutController({
    records: sg.rollouts,
    target: targetsFor(sg.config, opts.drivers),
    analysis: canaryAnalysis(),
    smoke: (url, checks) => runSmokeChecks(url, checks),
    now: sg.now,
    onProgress: opts.onProgress,
  });
}

/** Runs the controller until `signal` aborts: every `pollMs`, one step for each deployment with work. */
export async function driveRollouts(sg: Shipgate, controller: RolloutController, opts: { pollMs?: number; signal: AbortSignal; onError?: (id: number, err: Error) => void }): Promise<void> {
  const poll = opts.pollMs ?? 500;
  while (!opts.signal.aborted) {
    let acted = false;
    for (const d of await sg.rollouts.work().catch(() => [])) {
      if (opts.signal.aborted) break;
      try {
        const r = await controller.step(d.id);
        acted ||= r.acted;
      } catch (err) {
        opts.onError?.(d.id, err as Error);
      }
    }
    if (!acted) await new Promise((resolve) => setTimeout(resolve, poll));
  }
}
