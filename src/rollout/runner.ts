// Builds the rollout controller for a running shipgate (serve, or `shipgate rollout` in the
// foreground) and the loop that drives every deployment with rollout work, one step each
// per pass, so one slow deployment never holds up the others.
import type { Shipgate } from '../app/shipgate.js';
import type { Deployment } from '../domain/types.js';
import type { LocalDriver } from '../drivers/local/driver.js';
import { canaryAnalysis } from './judge.js';
import { RolloutController } from './controller.js';
import { runSmokeChecks } from './smoke.js';
import { localDriverFor, targetsFor } from './targets.js';

export function buildController(
  app: Shipgate,
  opts: { onProgress?: (d: Deployment, message: string) => void; local?: LocalDriver } = {},
): { controller: RolloutController; local: LocalDriver } {
  const local = opts.local ?? localDriverFor(app.config);
  const controller = new RolloutController({
    app,
    target: targetsFor(app.config, local),
    analysis: canaryAnalysis(),
    smoke: (url, checks) => runSmokeChecks(url, checks),
    onProgress: opts.onProgress,
  });
  return { controller, local };
}

/** Runs the controller until `signal` aborts: every `pollMs`, one step for each deployment with work. */
export async function driveRollouts(
  app: Shipgate,
  controller: RolloutController,
  opts: { pollMs?: number; signal: AbortSignal; onError?: (id: number, err: Error) => void },
): Promise<void> {
  const poll = opts.pollMs ?? 500;
  while (!opts.signal.aborted) {
    let acted = false;
    for (const d of await app.rolloutWork().catch(() => [])) {
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
