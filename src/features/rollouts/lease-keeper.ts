// One replica's side of the rollout leases: which deployments it may act on now, taking a
// free or expired lease (with its audit event), renewing what it holds on a timer, giving
// leases up when a rollout ends or the replica stops. And the two wrappers that make the
// controller act only under a lease: its record writes carry the fence (checked by the store in
// the save's transaction) and its driver actions are refused once the lease is in doubt.
//
// Timing, as leader election usually does it: a lease lives `ttlMs` on the database's clock from
// its last renewal; the holder renews every `renewEveryMs`; a holder that could not renew for
// `renewDeadlineMs` (measured on its own monotonic clock from when the renewal was sent, so a
// pause of the process counts) stops acting, well before anyone else may take the lease over.
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Driver } from '../../drivers/driver.js';
import { InputError } from '../../errors.js';
import type { Store } from '../../store/store.js';
import { SYSTEM } from '../access/actor.js';
import { deploymentSubject, record } from '../audit/record.js';
import { type Fence, LeaseLost } from './lease.js';
import type { RolloutRecords } from './records.js';
import type { Target, Targets } from './targets.js';

export interface LeaseSettings {
  ttlMs: number;
  renewEveryMs: number;
  renewDeadlineMs: number;
}

export const DEFAULT_LEASE_SETTINGS: LeaseSettings = { ttlMs: 15_000, renewEveryMs: 2_000, renewDeadlineMs: 10_000 };

/** Refuses settings under which a holder could still act after its lease expired. */
export function checkLeaseSettings(s: LeaseSettings): LeaseSettings {
  const names: Record<keyof LeaseSettings, string> = { ttlMs: 'ttl', renewEveryMs: 'renew', renewDeadlineMs: 'deadline' };
  for (const [key, name] of Object.entries(names)) {
    const v = s[key as keyof LeaseSettings];
    if (!(Number.isFinite(v) && v > 0)) throw new InputError(`lease ${name} must be a positive number of seconds (got ${v / 1000})`);
  }
  if (!(s.renewEveryMs < s.renewDeadlineMs && s.renewDeadlineMs < s.ttlMs)) {
    throw new InputError(
      `lease settings must renew more often than the renew deadline, and give up before the lease expires: renew every ${s.renewEveryMs / 1000} s < deadline ${s.renewDeadlineMs / 1000} s < ttl ${s.ttlMs / 1000} s`,
    );
  }
  return s;
}

/** hostname-pid-random: unique per process, readable in the audit log. */
export function defaultReplicaId(): string {
  return `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
}

interface Held {
  token: number;
  /** performance.now() past which this replica no longer acts on it. */
  actUntil: number;
}

export class RolloutLeases {
  private readonly held = new Map<number, Held>();
  /** Told each time this replica starts or stops holding a deployment's lease (a gauge, say). */
  onHeld: (deploymentId: number, held: boolean) => void = () => {};
  /** Renewals and releases run one at a time, so a renewal never revives a lease just released. */
  private chain: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly store: Store,
    readonly holder: string,
    readonly settings: LeaseSettings = DEFAULT_LEASE_SETTINGS,
    private readonly now: () => Date = () => new Date(),
    private readonly clock: () => number = () => performance.now(),
  ) {}

  /** How many leases this replica holds. */
  count(): number {
    return this.held.size;
  }

  holds(id: number): boolean {
    return this.held.has(id);
  }

  /** Whether this replica may act on the deployment now. */
  acting(id: number): boolean {
    const h = this.held.get(id);
    return h !== undefined && this.clock() < h.actUntil;
  }

  /** The fence for a write on the deployment; LeaseLost (and the lease dropped, to be taken
   * again with a new token once it expires) when this replica may no longer act on it. */
  fence(id: number): Fence {
    const h = this.held.get(id);
    if (!h || this.clock() >= h.actUntil) {
      this.forget(id);
      throw new LeaseLost({ deploymentId: id, holder: this.holder, token: h?.token ?? 0 }, null);
    }
    return { deploymentId: id, holder: this.holder, token: h.token };
  }

  /**
   * Takes the deployment's lease if it is free or expired; true when this replica now holds
   * it (or already did). A takeover and its `rollout.lease_taken` event commit together.
   */
  async take(id: number): Promise<boolean> {
    if (this.held.has(id)) return this.acting(id);
    const sent = this.clock();
    const got = await this.store.transaction(async (tx) => {
      const r = await tx.leases.acquire(id, this.holder, this.settings.ttlMs);
      if ('lease' in r) {
        await record(tx, this.now(), SYSTEM, 'rollout.lease_taken', deploymentSubject({ id }), { holder: this.holder, token: r.lease.token, previousHolder: r.previousHolder });
      }
      return r;
    });
    if ('heldBy' in got) return false;
    this.held.set(id, { token: got.lease.token, actUntil: sent + this.settings.renewDeadlineMs });
    this.onHeld(id, true);
    return true;
  }

  /** Renews every lease held; those another replica took meanwhile are dropped. */
  renew(): Promise<void> {
    return this.serially(async () => {
      const fences = [...this.held].map(([deploymentId, h]) => ({ deploymentId, holder: this.holder, token: h.token }));
      if (fences.length === 0) return;
      const sent = this.clock();
      let renewed: Set<string>;
      try {
        renewed = new Set((await this.store.leases.renew(fences, this.settings.ttlMs)).map((l) => `${l.deploymentId}:${l.token}`));
      } catch {
        // The store is away: keep acting until the renew deadline, then stop (see acting()).
        return;
      }
      for (const f of fences) {
        const h = this.held.get(f.deploymentId);
        if (!h || h.token !== f.token) continue;
        if (renewed.has(`${f.deploymentId}:${f.token}`)) h.actUntil = sent + this.settings.renewDeadlineMs;
        else this.forget(f.deploymentId);
      }
    });
  }

  /** Forgets a lease the store says is no longer this replica's (it expires on its own). */
  drop(id: number): void {
    this.forget(id);
  }

  /** Gives the deployment's lease up: `ended` when its rollout is over (the row goes). */
  release(id: number, ended: boolean): Promise<void> {
    const h = this.held.get(id);
    if (!h) return Promise.resolve();
    this.forget(id);
    return this.serially(() => this.store.leases.release({ deploymentId: id, holder: this.holder, token: h.token }, ended).catch(() => {}));
  }

  /** Gives every lease up (a replica shutting down): the others take over at once. */
  async releaseAll(): Promise<void> {
    await Promise.all([...this.held.keys()].map((id) => this.release(id, false)));
  }

  /** Forgets leases of deployments without rollout work any more (ended by a person, say). */
  async settle(withWork: Set<number>): Promise<void> {
    for (const id of [...this.held.keys()]) if (!withWork.has(id)) await this.release(id, true);
  }

  /** Of these deployments, those whose lease this replica does not hold and anyone may take
   * now: one read, so a pass asks for a lease (a write) only where taking it can succeed. */
  async free(ids: number[]): Promise<Set<number>> {
    return new Set(await this.store.leases.free(ids.filter((id) => !this.held.has(id))));
  }

  /** Renews every `renewEveryMs` until the returned function is called. */
  start(): () => void {
    const timer = setInterval(() => void this.renew(), this.settings.renewEveryMs);
    return () => clearInterval(timer);
  }

  private forget(id: number): void {
    if (this.held.delete(id)) this.onHeld(id, false);
  }

  private serially<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn, fn);
    this.chain = run.catch(() => {});
    return run;
  }
}

/** The controller's records, every write under the deployment's lease. */
export function fenced(records: RolloutRecords, leases: RolloutLeases): RolloutRecords {
  return {
    work: () => records.work(),
    get: (id) => records.get(id),
    admit: (id) => records.admit(id),
    context: (d) => records.context(d),
    // Starting is guarded by the deployment's state too: only an approved one starts, once.
    begin: (id, first) => {
      leases.fence(id);
      return records.begin(id, first);
    },
    save: (d, rec, opts = {}) => {
      try {
        return records.save(d, rec, { ...opts, fence: leases.fence(d.id) });
      } catch (err) {
        return Promise.reject(err);
      }
    },
  };
}

/** The targets, their drivers acting only while the lease is held. The check runs right before
 * the driver is called, in the same tick, so a replica paused for longer than the renew
 * deadline finds its lease in doubt when it wakes and does nothing to the target. */
export function fencedTargets(targets: Targets, leases: RolloutLeases): Targets {
  const wrapped = new WeakMap<Driver, Driver>();
  return (d) => {
    const t: Target = targets(d);
    let driver = wrapped.get(t.driver);
    if (!driver) {
      const inner = t.driver;
      const guard = <A extends unknown[]>(fn: (...a: A) => Promise<void>) => (...a: A) => {
        try {
          leases.fence((a[0] as { deploymentId: number }).deploymentId);
        } catch (err) {
          return Promise.reject(err);
        }
        return fn(...a);
      };
      driver = {
        kind: inner.kind,
        deploy: guard((ctx) => inner.deploy(ctx)),
        setWeight: guard((ctx, w: number) => inner.setWeight(ctx, w)),
        promote: guard((ctx) => inner.promote(ctx)),
        rollback: guard((ctx) => inner.rollback(ctx)),
        finalize: guard((ctx) => inner.finalize(ctx)),
        urls: (ctx) => inner.urls(ctx),
        observe: (ctx) => inner.observe(ctx),
      };
      wrapped.set(t.driver, driver);
    }
    return { ...t, driver };
  };
}
