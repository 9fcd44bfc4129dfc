// Builds the rollout controller for a running shipgate (serve, or `shipgate rollout` in the
// foreground) and the loop that drives every deployment with rollout work, one step each per
// pass, so one slow deployment never holds up the others. With leases (replicas on
// PostgreSQL), a replica steps only the deployments whose lease it holds: it takes free or
// expired ones as it finds them, renews them while they have work, and gives them up when their
// rollout ends or it stops; the controller's writes and driver actions go through the lease.
import { performance } from 'node:perf_hooks';
import type { Deployment } from '../../domain/types.js';
import type { Driver } from '../../drivers/driver.js';
import type { Shipgate } from '../../main.js';
import { canaryAnalysis } from './analysis.js';
import { RolloutController } from './controller.js';
import { LeaseLost } from './lease.js';
import { fenced, fencedTargets, type RolloutLeases } from './lease-keeper.js';
import { runSmokeChecks } from './smoke.js';
import { targetsFor } from './targets.js';

export function buildController(
  sg: Shipgate,
  opts: { onProgress?: (d: Deployment, message: string) => void; drivers?: Map<string, Driver>; leases?: RolloutLeases } = {},
): RolloutController {
  const targets = targetsFor(sg.config, opts.drivers);
  return new RolloutController({
    records: opts.leases ? fenced(sg.rollouts, opts.leases) : sg.rollouts,
    target: opts.leases ? fencedTargets(targets, opts.leases) : targets,
    analysis: canaryAnalysis(),
    migrations: (d) => sg.config.services.find((s) => s.name === d.service)?.migrate ?? null,
    smoke: (url, checks) => runSmokeChecks(url, checks),
    now: sg.now,
    onProgress: opts.onProgress,
  });
}

export interface DriveOptions {
  pollMs?: number;
  signal: AbortSignal;
  onError?: (id: number, err: Error) => void;
  /** This replica's leases: given, only deployments whose lease it holds are stepped (the
   * controller must be built with the same leases). */
  leases?: RolloutLeases;
  /** A lease was lost to another replica (or given up after the renew deadline). */
  onLeaseLost?: (id: number, err: LeaseLost) => void;
}

const FREE_EVERY_MS = 250;

/** Runs the controller until `signal` aborts: every `pollMs`, one step for each deployment with work. */
export async function driveRollouts(sg: Shipgate, controller: RolloutController, opts: DriveOptions): Promise<void> {
  const poll = opts.pollMs ?? 500;
  const { leases } = opts;
  const stopRenewing = leases?.start();
  try {
    while (!opts.signal.aborted) {
      let acted = false;
      const work = await sg.rollouts.work().catch(() => null);
      const ids = (work ?? []).map((d) => d.id);
      if (work && leases) await leases.settle(new Set(ids));
      // Which leases are free to take, read again at most every FREE_EVERY_MS during a pass: a
      // long pass (many rollouts held) does not delay taking over a dead replica's.
      let free = new Set<number>();
      let freeAt = -Infinity;
      const isFree = async (id: number) => {
        if (performance.now() - freeAt > FREE_EVERY_MS) {
          free = await leases!.free(ids).catch(() => new Set<number>());
          freeAt = performance.now();
        }
        return free.has(id);
      };
      for (const d of work ?? []) {
        if (opts.signal.aborted) break;
        try {
          // Under leases: step what this replica holds and may act on, or a free lease it takes.
          if (leases && !leases.acting(d.id) && (leases.holds(d.id) || !(await isFree(d.id)) || !(await leases.take(d.id)))) continue;
          const r = await controller.step(d.id);
          acted ||= r.acted;
          if (r.done) await leases?.release(d.id, true);
        } catch (err) {
          if (err instanceof LeaseLost) {
            leases?.drop(d.id);
            opts.onLeaseLost?.(d.id, err);
          } else opts.onError?.(d.id, err as Error);
        }
      }
      if (!acted) await new Promise((resolve) => setTimeout(resolve, poll));
    }
  } finally {
    stopRenewing?.();
    await leases?.releaseAll();
  }
}
