// The driver contract, run by every driver in the registry: the canary is deployed taking no
// traffic, weights move traffic and can be set again, a rollback puts everything back on the
// stable version, a promotion makes the canary the stable one, every action can be repeated
// after a crash, and a target that refuses an action says so as a DriverError. Each driver is
// looked at through its own eyes where it has them (local, memory: observe) and through what its
// target did where it has none (command: the state the user's script keeps).
// Then the metrics source contract, for the builtin (the local proxy, real traffic) and the
// memory (scripted) sources: reads from a cursor return what came after it, once.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { CommandDriver } from '../../src/drivers/command/driver.js';
import { type Driver, DriverError, type MetricsBatch, type RolloutContext } from '../../src/drivers/driver.js';
import type { LocalDriver } from '../../src/drivers/local/driver.js';
import { localDriverFor } from '../../src/drivers/local/index.js';
import { MemoryDriver } from '../../src/drivers/memory/driver.js';
import { DRIVER_KINDS } from '../../src/drivers/registry.js';
import { builtinSource } from '../../src/metrics/builtin.js';
import { ScriptedSource } from '../../src/metrics/memory.js';
import { testConfig } from '../support/config.js';
import { tempDir } from '../support/databases.js';
import { kubernetesSubject } from './kubernetes-subject.js';
import { nginxLogSource, nginxSubject } from './nginx-subject.js';
import { prometheusSource } from './prometheus-source.js';
import { ctx, observed, type SourceSubject, type Subject, type TargetView } from './subject.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const SAMPLE = path.join(ROOT, 'examples/sample-service/server.mjs');

/** A user's script for the command driver: keeps the target's state in a JSON file. */
function commandSubject(): Subject {
  const dir = tempDir('shipgate-contract-command-');
  const state = path.join(dir, 'target.json');
  const script = path.join(dir, 'target.mjs');
  fs.writeFileSync(
    script,
    `import fs from 'node:fs';
const file = ${JSON.stringify(state)};
const s = fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, 'utf8')) : { stable: process.env.SHIPGATE_STABLE_VERSION || null, canary: null, weight: 0 };
const v = process.env.SHIPGATE_VERSION;
switch (process.env.SHIPGATE_ACTION) {
  case 'deploy': if (s.stable !== v) s.canary = v; break;
  case 'set-weight': if (s.canary === v) s.weight = Number(process.env.SHIPGATE_WEIGHT); break;
  case 'promote': s.stable = v; s.canary = null; s.weight = 0; break;
  case 'rollback': s.stable = process.env.SHIPGATE_STABLE_VERSION || null; s.canary = null; s.weight = 0; break;
}
fs.writeFileSync(file, JSON.stringify(s));
`,
  );
  const run = [process.execPath, script];
  const make = (deploy: string[] | string) => new CommandDriver({ commands: { deploy, setWeight: run, promote: run, rollback: run, finalize: run }, cwd: dir });
  return {
    driver: make(run),
    look: async () => (fs.existsSync(state) ? (JSON.parse(fs.readFileSync(state, 'utf8')) as TargetView) : { stable: null, canary: null, weight: 0 }),
    refusing: () => make('echo "helm: quota exceeded" >&2; exit 5'),
    close: async () => {},
  };
}

function memorySubject(): Subject {
  const driver = new MemoryDriver();
  return {
    driver,
    look: async (c) => {
      const t = driver.target(c.service, c.environment);
      return { stable: t.stable, canary: t.canary, weight: t.weight };
    },
    refusing: () => {
      const d = new MemoryDriver();
      d.fail.set('deploy', 'no capacity');
      return d;
    },
    close: async () => {},
  };
}

function localSubject(): Subject {
  const dir = tempDir('shipgate-contract-local-');
  const config = testConfig();
  config.store.sqlitePath = path.join(dir, 'shipgate.db');
  const run = { command: [process.execPath, SAMPLE], env: {}, cwd: dir, readyPath: '/ready', readyTimeoutMs: 15_000, ports: {} };
  config.services = [{ name: 'web', description: null, run }, { name: 'broken', description: null, run: { ...run, command: [process.execPath, '-e', 'process.exit(3)'] } }];
  const driver = localDriverFor(config);
  return {
    driver,
    look: observed(driver),
    refusing: () => ({ ...driver, kind: 'local', deploy: (c: RolloutContext) => driver.deploy({ ...c, service: 'broken' }) }) as unknown as Driver,
    close: async () => {
      await driver.shutdown('web', 'production');
      await driver.shutdown('broken', 'production');
    },
  };
}

const SUBJECTS: Record<string, () => Subject> = { local: localSubject, command: commandSubject, memory: memorySubject, nginx: nginxSubject, kubernetes: kubernetesSubject };

test('every driver in the registry runs the contract', () => {
  assert.deepEqual([...DRIVER_KINDS].sort(), Object.keys(SUBJECTS).sort());
});

for (const kind of DRIVER_KINDS) {
  describe(`the driver contract: ${kind}`, () => {
    const s = SUBJECTS[kind]();
    after(() => s.close());

    test('deploy, weights, rollback, then deploy, 100% and promote: the target follows, each action repeatable', async () => {
      // A first version takes all traffic as a first deployment does.
      const first = ctx('web', '1.0.0', null);
      await s.driver.deploy(first);
      await s.driver.setWeight(first, 100);
      await s.driver.promote(first);
      await s.driver.finalize(first);
      assert.deepEqual(await s.look(first), { stable: '1.0.0', canary: null, weight: 0 });

      const canary = ctx('web', '2.0.0', '1.0.0');
      await s.driver.deploy(canary);
      await s.driver.deploy(canary); // again, as after a crash
      assert.deepEqual(await s.look(canary), { stable: '1.0.0', canary: '2.0.0', weight: 0 }, 'deployed, taking no traffic');
      await s.driver.setWeight(canary, 30);
      await s.driver.setWeight(canary, 30);
      assert.deepEqual(await s.look(canary), { stable: '1.0.0', canary: '2.0.0', weight: 30 });
      await s.driver.rollback(canary);
      await s.driver.rollback(canary);
      assert.deepEqual(await s.look(canary), { stable: '1.0.0', canary: null, weight: 0 }, 'all back on stable');

      const next = ctx('web', '3.0.0', '1.0.0');
      await s.driver.deploy(next);
      await s.driver.setWeight(next, 100);
      await s.driver.promote(next);
      await s.driver.promote(next);
      await s.driver.finalize(next);
      assert.deepEqual(await s.look(next), { stable: '3.0.0', canary: null, weight: 0 }, 'the canary is the stable version');
    });

    test('a target that refuses an action is a DriverError naming the action', async () => {
      await assert.rejects(s.refusing().deploy(ctx('web', '4.0.0', '3.0.0')), (e: Error) => e instanceof DriverError && /deploy|runtime/.test(e.message));
    });
  });
}

describe('the metrics source contract', () => {
  const closing: Subject[] = [];
  after(async () => {
    for (const c of closing) await c.close();
  });
  const sources: [string, () => Promise<SourceSubject>][] = [
    [
      'memory',
      async () => {
        const source = new ScriptedSource();
        return {
          source,
          context: { service: 'web', environment: 'production', canaryVersion: '2.0.0', stableVersion: '1.0.0' },
          serve: async (n) => source.add(...Array.from({ length: n }, (_, i) => ({ at: i, version: (i % 2 ? 'canary' : 'stable') as 'canary' | 'stable', status: 200, latencyMs: 5, error: false }))),
        };
      },
    ],
    [
      'builtin',
      async () => {
        const subject = localSubject();
        closing.push(subject);
        const local = subject.driver as LocalDriver;
        const first = ctx('web', '1.0.0', null);
        await local.deploy(first);
        await local.setWeight(first, 100);
        await local.promote(first);
        const canary = ctx('web', '2.0.0', '1.0.0');
        await local.deploy(canary);
        await local.setWeight(canary, 50);
        const url = await local.proxyUrl('web', 'production');
        return {
          source: builtinSource(local),
          context: { service: 'web', environment: 'production', canaryVersion: '2.0.0', stableVersion: '1.0.0' },
          serve: async (n) => {
            for (let i = 0; i < n; i++) await fetch(`${url}/api/items`).then((r) => r.text());
          },
        };
      },
    ],
    ['nginx access log', () => nginxLogSource(closing)],
    ['prometheus', () => prometheusSource(closing)],
  ];
  for (const [name, make] of sources) {
    test(`${name}: a read from a cursor returns what came after it, once, with each version's requests`, async () => {
      const { source, serve, context } = await make();
      const from = await source.cursor(context);
      await serve(6);
      const first = await source.read(context, from);
      const seen = served(first.batches);
      assert.equal(seen.canary + seen.stable, 6, JSON.stringify(first.batches).slice(0, 400));
      assert.equal(seen.errors, 0, JSON.stringify(seen));
      const again = served((await source.read(context, first.cursor)).batches);
      assert.equal(again.canary + again.stable, 0, 'nothing twice');
      await serve(2);
      const more = served((await source.read(context, first.cursor)).batches);
      assert.equal(more.canary + more.stable, 2);
    });
  }
});

/** Requests per version (and errors) in a read's batches, whichever kind they are. */
function served(batches: MetricsBatch[]): { canary: number; stable: number; errors: number } {
  const out = { canary: 0, stable: 0, errors: 0 };
  for (const b of batches) {
    if (b.kind === 'requests') {
      for (const r of b.records) {
        assert.ok((r.version === 'stable' || r.version === 'canary') && r.status === 200 && r.latencyMs >= 0, JSON.stringify(r));
        out[r.version]++;
        if (r.error) out.errors++;
      }
    } else {
      out.canary += b.canary.requests;
      out.stable += b.stable.requests;
      out.errors += b.canary.errors + b.stable.errors;
      for (const v of [b.canary, b.stable]) if (v.latency) assert.equal(v.latency.counts.reduce((x, y) => x + y, 0), v.requests, 'the histogram holds every request');
    }
  }
  return out;
}
