// Three `shipgate serve` replicas on one PostgreSQL, driving 36 rollouts (12 services, three
// releases each, three of them failing at 50% and rolled back) through the command driver,
// whose script appends every action it is asked to do to one shared log. At seeded random
// points (the seed is printed; SHIPGATE_TEST_SEED repeats a run) one replica holding leases is
// SIGKILLed and another is SIGSTOPped for longer than the lease lives, then SIGCONTed. Asserted:
// every deployment ends as its release deserves (none stuck); each step's audit events are
// written once, in order, and the chain verifies; each driver action was done by the replica
// holding the deployment's lease at that moment, once per lease (a step is redone only by the
// replica that took over from one that died or froze before recording it). Printed: the
// takeover times (median, max) against the 15 s lease.
//
// The test is the client and the load balancer: it sends each request to a replica that is up,
// and stops sending to one before killing or freezing it. PostgreSQL is the throwaway server of
// the run (SHIPGATE_TEST_DATABASE_URL) or, when that is unset, one the test starts itself.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';
import pg from 'pg';
import { cliIn } from '../support/cli.js';
import { freshPostgresUrl, tempDir } from '../support/databases.js';
import { type OwnPostgres, startOwnPostgres } from '../support/postgres.js';
import { mulberry32 } from '../support/random.js';
import { type Served, startServe, until } from '../support/serve.js';

const SERVICES = Array.from({ length: 12 }, (_, i) => `s${String(i + 1).padStart(2, '0')}`);
/** The third release of these fails when asked for 50%: rolled back. */
const FAILING = new Set(['s01', 's02', 's03']);
const REPLICAS = ['r1', 'r2', 'r3'];
const TTL_MS = 15_000;
/** Frozen for longer than a lease lives, so its leases are taken over meanwhile. */
const FREEZE_MS = 20_000;
const FINAL = new Set(['succeeded', 'rolled_back', 'rollback_failed', 'failed', 'cancelled', 'expired', 'rejected']);

// The user's script: log the action (who, which deployment, what, when), and refuse 50% for a
// release whose version says it is bad, as a failing ingress update would.
const DRIVER_SCRIPT = `#!/bin/sh
echo "$REPLICA $SHIPGATE_DEPLOYMENT_ID $SHIPGATE_ACTION \${SHIPGATE_WEIGHT:--} $SHIPGATE_VERSION $(date +%s%3N)" >> "$ACTIONS_LOG"
case "$SHIPGATE_VERSION" in
  *-bad) if [ "$SHIPGATE_ACTION" = set-weight ] && [ "$SHIPGATE_WEIGHT" = 50 ]; then echo "ingress refused the weight" >&2; exit 3; fi ;;
esac
exit 0
`;

function config(): string {
  return `version: 1
roles: [dev]
users:
  - { name: carol, roles: [dev] }
services:
${SERVICES.map((s) => `  - name: ${s}`).join('\n')}
environments:
  - name: production
    policy:
      auto_approve: true
      require_verified_in: null
    rollout:
      driver: command
      command:
        deploy: sh driver.sh
        set_weight: sh driver.sh
        promote: sh driver.sh
        rollback: sh driver.sh
        finalize: sh driver.sh
        timeout: 30s
      steps: [20, 50, 100]
      min_step: 2s
      max_step: 120s
      post_deploy: [0s]
`;
}

interface Replica {
  name: string;
  served: Served;
  state: 'up' | 'frozen' | 'dead';
  inflight: number;
  /** Its log lines (JSON, on stdout) since it started listening. */
  log: string;
}

interface AuditRow {
  seq: number;
  at: string;
  action: string;
  subject: string;
  data: Record<string, any>;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let own: OwnPostgres | null = null;
const replicas: Replica[] = [];
after(async () => {
  for (const r of replicas) if (r.served.running()) r.served.child.kill('SIGCONT');
  await Promise.all(replicas.map((r) => r.served.stop()));
  own?.destroy();
});

test('3 replicas on PostgreSQL, one killed and one frozen mid-rollout: no step applied twice, no audit event lost or doubled, no deployment stuck', { timeout: 290_000 }, async () => {
  const started = Date.now();
  const seed = Number(process.env.SHIPGATE_TEST_SEED ?? Math.floor(Math.random() * 1e9));
  const rand = mulberry32(seed);
  console.log(`replicas: seed ${seed} (SHIPGATE_TEST_SEED=${seed} repeats the chaos schedule)`);

  let url: string;
  if (process.env.SHIPGATE_TEST_DATABASE_URL) url = await freshPostgresUrl();
  else {
    own = startOwnPostgres();
    url = own.url;
  }
  const db = new pg.Client({ connectionString: url });
  await db.connect();
  try {
    // As docs/scale.md recommends: a frozen replica's open transaction must not hold its locks
    // (the audit chain's head among them) for longer than this.
    const name = (await db.query('select current_database() as n')).rows[0].n as string;
    await db.query(`alter database "${name}" set idle_in_transaction_session_timeout = '5s'`);

    const dir = tempDir('shipgate-replicas-');
    const log = path.join(dir, 'actions.log');
    fs.writeFileSync(path.join(dir, 'shipgate.yaml'), config());
    fs.writeFileSync(path.join(dir, 'driver.sh'), DRIVER_SCRIPT);
    fs.writeFileSync(log, '');
    const env = { ...process.env, SHIPGATE_DATABASE_URL: url, SHIPGATE_USER: '', ACTIONS_LOG: log };
    const { cli, json } = cliIn(dir, () => env);
    const { token } = await json(['token', 'create', 'carol']);
    assert.ok(token, 'a token for carol');

    // One after the other: three cold starts at once on a busy 2-core machine can each take
    // longer than startServe waits.
    for (const name of REPLICAS) {
      const r: Replica = { name, served: await startServe(dir, { ...env, REPLICA: name }, ['--replica-id', name, '--reconcile-every', '2']), state: 'up', inflight: 0, log: '' };
      r.served.child.stdout.on('data', (b: Buffer) => (r.log += b.toString()));
      replicas.push(r);
    }

    // ---- the client, spreading requests over the replicas that are up --------------------
    let turn = 0;
    async function call(method: string, route: string, body?: unknown): Promise<{ status: number; body: any }> {
      let last: unknown = null;
      for (let attempt = 0; attempt < 10; attempt++) {
        const up = replicas.filter((r) => r.state === 'up');
        const r = up[turn++ % up.length];
        r.inflight++;
        try {
          const res = await fetch(`${r.served.url}${route}`, {
            method,
            headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
            body: body ? JSON.stringify(body) : undefined,
            signal: AbortSignal.timeout(30_000),
          });
          return { status: res.status, body: await res.json() };
        } catch (err) {
          last = err;
        } finally {
          r.inflight--;
        }
      }
      throw new Error(`${method} ${route}: no replica answered: ${(last as Error)?.message}`);
    }

    let releases = 0;
    /** Registers a release, requests it in production, and waits for its rollout to end. */
    async function ship(service: string, version: string): Promise<{ id: number; state: string }> {
      releases += 1;
      const reg = await call('POST', '/api/v1/releases', { service, version, digest: `sha256:${releases.toString(16).padStart(64, '0')}`, commit: `c0ffee${releases}` });
      assert.ok(reg.status === 201 || reg.status === 200, `register ${service} ${version}: ${reg.status} ${JSON.stringify(reg.body)}`);
      const req = await call('POST', '/api/v1/deployments', { service, version, environment: 'production' });
      assert.equal(req.status, 201, `request ${service} ${version}: ${JSON.stringify(req.body)}`);
      const id = req.body.deployment.id as number;
      const d = await until(
        `deployment ${id} (${service} ${version}) ends`,
        async () => {
          const r = await call('GET', `/api/v1/deployments/${id}`);
          return FINAL.has(r.body.deployment?.state) ? r.body.deployment : null;
        },
        240_000,
        400,
      );
      return { id, state: d.state };
    }

    // ---- first releases everywhere (straight to 100%), then two more per service under chaos ----
    const firsts = await Promise.all(SERVICES.map((s) => ship(s, '1.0.0')));
    assert.deepEqual(firsts.map((f) => f.state), SERVICES.map(() => 'succeeded'));

    const liveLeases = async (holder: string) =>
      (await db.query('select deployment_id from rollout_leases where holder = $1 and expires_at > (extract(epoch from clock_timestamp()) * 1000)::bigint', [holder])).rows.map((r) => Number(r.deployment_id));
    /** A replica that is up and holds leases, chosen by the seeded random; waits for one. */
    const holderAmong = async (candidates: Replica[]): Promise<Replica> =>
      (await until('a replica holding rollout leases', async () => {
        const holding: Replica[] = [];
        for (const r of candidates) if ((await liveLeases(r.name)).length > 0) holding.push(r);
        return holding.length ? holding[Math.floor(rand() * holding.length)] : null;
      }, 60_000, 100))!;
    /** Takes the replica out of the client's rotation and waits for its requests in flight. */
    const drain = async (r: Replica, to: Replica['state']) => {
      r.state = to;
      await until(`requests to ${r.name} finished`, async () => r.inflight === 0, 30_000, 20);
    };

    const phase2 = Date.now();
    const killAfter = 2000 + Math.floor(rand() * 4000);
    const freezeAfter = 3000 + Math.floor(rand() * 4000);
    const chaos = (async () => {
      await sleep(killAfter);
      const victim = await holderAmong(replicas.filter((r) => r.state === 'up'));
      await drain(victim, 'dead');
      const killedHeld = await liveLeases(victim.name);
      victim.served.child.kill('SIGKILL');
      const killedAt = Date.now();
      console.log(`replicas: SIGKILL ${victim.name} at +${killedAt - phase2} ms holding leases of deployments ${killedHeld.join(', ')}`);
      await sleep(freezeAfter);
      const frozen = await holderAmong(replicas.filter((r) => r.state === 'up'));
      await drain(frozen, 'frozen');
      const frozenHeld = await liveLeases(frozen.name);
      frozen.served.child.kill('SIGSTOP');
      const frozenAt = Date.now();
      console.log(`replicas: SIGSTOP ${frozen.name} at +${frozenAt - phase2} ms holding leases of deployments ${frozenHeld.join(', ')}; SIGCONT in ${FREEZE_MS / 1000} s`);
      await sleep(FREEZE_MS);
      frozen.served.child.kill('SIGCONT');
      frozen.state = 'up';
      return { victim: victim.name, killedAt, killedHeld, frozen: frozen.name, frozenAt, frozenHeld };
    })();

    const outcomes = await Promise.all(
      SERVICES.map(async (s) => {
        await sleep(Math.floor(rand() * 3000));
        const second = await ship(s, '2.0.0');
        const bad = FAILING.has(s);
        const third = await ship(s, bad ? '3.0.0-bad' : '3.0.0');
        return [
          { service: s, ...second, expected: 'succeeded', steps: 3 },
          { service: s, ...third, expected: bad ? 'rolled_back' : 'succeeded', steps: 3 },
        ];
      }),
    );
    const c = await chaos;
    const rollouts = [...firsts.map((f, i) => ({ service: SERVICES[i], ...f, expected: 'succeeded', steps: 1 })), ...outcomes.flat()];

    // ---- 0 stuck: every rollout ended as its release deserves ---------------------------------
    assert.ok(rollouts.length >= 20);
    assert.deepEqual(
      rollouts.filter((r) => r.state !== r.expected).map((r) => `${r.service} deployment ${r.id}: ${r.state}, expected ${r.expected}`),
      [],
    );

    // ---- 0 lost or doubled audit events: the chain verifies; each step written once, in order --
    const verified = await cli(['audit', 'verify']);
    assert.equal(verified.code, 0, `audit verify: ${verified.stdout}${verified.stderr}`);
    const events: AuditRow[] = (await db.query('select seq, at, action, subject, data from audit_events order by seq')).rows.map((r) => ({ ...r, seq: Number(r.seq), data: JSON.parse(r.data) }));
    const problems: string[] = [];
    for (const r of rollouts) {
      const mine = events.filter((e) => e.subject === `deployment:${r.id}` && e.action.startsWith('rollout.') && e.action !== 'rollout.lease_taken');
      const keys = mine.map((e) => `${e.action}${e.data.step !== undefined ? `#${e.data.step}` : e.data.check !== undefined ? `#${e.data.check}` : ''}`);
      const doubled = keys.filter((k, i) => keys.indexOf(k) !== i);
      if (doubled.length) problems.push(`deployment ${r.id}: written twice: ${doubled.join(', ')}`);
      const want =
        r.expected === 'succeeded'
          ? ['rollout.deployed', ...Array.from({ length: r.steps }, (_, i) => `rollout.weight#${i + 1}`), 'rollout.promoted', 'rollout.verified#1', 'rollout.succeeded']
          : ['rollout.deployed', 'rollout.weight#1', 'rollout.rollback_decided#2', 'rollout.rolled_back'];
      const inOrder = keys.filter((k) => want.includes(k));
      if (JSON.stringify(inOrder) !== JSON.stringify(want)) problems.push(`deployment ${r.id}: ${JSON.stringify(inOrder)}, expected ${JSON.stringify(want)}`);
    }
    assert.deepEqual(problems, []);

    // ---- 0 double-applied steps: each driver action by the lease holder of that moment, once ----
    const takes = new Map<number, { at: number; holder: string; token: number; previous: string | null }[]>();
    for (const e of events.filter((x) => x.action === 'rollout.lease_taken')) {
      const id = Number(e.subject.split(':')[1]);
      takes.set(id, [...(takes.get(id) ?? []), { at: Date.parse(e.at), holder: e.data.holder, token: e.data.token, previous: e.data.previousHolder }]);
    }
    const calls = fs
      .readFileSync(log, 'utf8')
      .trim()
      .split('\n')
      .map((l) => {
        const [replica, id, action, weight, version, ms] = l.split(' ');
        return { replica, id: Number(id), action, weight, version, ms: Number(ms) };
      });
    const stale: string[] = [];
    const perLease = new Map<string, number>();
    const redone = new Set<string>();
    const seenStep = new Map<string, number>();
    for (const k of calls) {
      const lease = (takes.get(k.id) ?? []).filter((t) => t.at <= k.ms).at(-1);
      if (!lease || lease.holder !== k.replica) {
        stale.push(`${k.replica} did ${k.action} ${k.weight} on deployment ${k.id} at ${new Date(k.ms).toISOString()} while ${lease?.holder ?? 'nobody'} held its lease`);
        continue;
      }
      const step = `${k.id} ${k.action} ${k.weight}`;
      perLease.set(`${step} token ${lease.token}`, (perLease.get(`${step} token ${lease.token}`) ?? 0) + 1);
      if (seenStep.has(step) && seenStep.get(step) !== lease.token) redone.add(step);
      seenStep.set(step, lease.token);
    }
    assert.deepEqual(stale, [], 'a replica acted on a deployment whose lease it did not hold');
    assert.deepEqual([...perLease].filter(([, n]) => n > 1).map(([k, n]) => `${k}: ${n} times`), [], 'a step was applied twice under one lease');
    // A step is done again only after a takeover, by the new holder, from a holder that died or froze.
    for (const step of redone) {
      const id = Number(step.split(' ')[0]);
      const gone = (takes.get(id) ?? []).filter((t) => t.previous === c.victim || t.previous === c.frozen);
      assert.ok(gone.length > 0, `deployment ${id}: ${step} redone without a takeover from the killed or frozen replica`);
    }

    // ---- takeover times ------------------------------------------------------------------------
    const takeover = (held: number[], from: string, at: number) =>
      held.flatMap((id) => {
        const t = (takes.get(id) ?? []).find((x) => x.previous === from && x.at >= at);
        return t ? [{ id, ms: t.at - at, by: t.holder }] : [];
      });
    const killed = takeover(c.killedHeld, c.victim, c.killedAt);
    const frozen = takeover(c.frozenHeld, c.frozen, c.frozenAt);
    const all = [...killed, ...frozen].map((t) => t.ms);
    assert.ok(all.length >= 1, `no lease was taken over (killed held ${c.killedHeld.length}, frozen held ${c.frozenHeld.length})`);
    // Held when the replica went away and the rollout still had work: taken over, not stuck.
    for (const [held, list, who] of [[c.killedHeld, killed, c.victim], [c.frozenHeld, frozen, c.frozen]] as const) {
      for (const id of held) {
        const ended = events.find((e) => e.subject === `deployment:${id}` && (e.action === 'rollout.succeeded' || e.action === 'rollout.rolled_back'));
        const endedBefore = ended && Date.parse(ended.at) <= (who === c.victim ? c.killedAt : c.frozenAt) + 1000;
        assert.ok(endedBefore || list.some((t) => t.id === id), `deployment ${id}: the lease of ${who} was never taken over`);
      }
    }
    const lostNotices = (replicas.find((r) => r.name === c.frozen)!.log.match(/rollout lease lost/g) ?? []).length;
    const fmt = (xs: { id: number; ms: number; by: string }[]) => xs.map((t) => `${t.id}→${t.by} ${(t.ms / 1000).toFixed(1)} s`).join(', ') || 'none';
    console.log(`replicas: ${rollouts.length} rollouts, ${calls.length} driver actions, ${events.length} audit events; 0 stale actions, 0 doubled steps, 0 doubled events, 0 stuck`);
    console.log(`replicas: takeovers after SIGKILL ${c.victim}: ${fmt(killed)}`);
    console.log(`replicas: takeovers after SIGSTOP ${c.frozen}: ${fmt(frozen)}`);
    console.log(
      `replicas: takeover time median ${(median(all) / 1000).toFixed(1)} s, max ${(Math.max(...all) / 1000).toFixed(1)} s over ${all.length} leases (lease ttl ${TTL_MS / 1000} s); ` +
        `steps redone by the new holder: ${redone.size}${redone.size ? ` (${[...redone].map((s) => `deployment ${s}`).join(', ')})` : ''}; lease-lost notices logged by the frozen replica: ${lostNotices}; whole run ${((Date.now() - started) / 1000).toFixed(0)} s`,
    );
  } finally {
    await db.end();
  }
});
