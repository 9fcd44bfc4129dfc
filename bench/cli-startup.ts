// How long the shipgate command takes to start, beside bare node in the same run.
//
//   node --import tsx bench/cli-startup.ts [--runs 7]
//
// Times `shipgate --help` and `shipgate status` (a SQLite store with a few releases and
// deployments, so the store is opened and read) as a user runs them: `node bin/shipgate.js`,
// a process each, median of the runs; and `node -e 0` as the floor. The goal is ≤ 3× the floor.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const args = process.argv.slice(2);
const RUNS = Number(args[args.indexOf('--runs') + 1] || 7) || 7;
const ROOT = path.resolve(import.meta.dirname, '..');
const BIN = path.join(ROOT, 'bin/shipgate.js');

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shipgate-startup-'));
fs.writeFileSync(
  path.join(dir, 'shipgate.yaml'),
  `version: 1
roles: [dev, lead]
users:
  - { name: carol, roles: [dev] }
  - { name: alice, roles: [lead] }
services:
  - name: web
  - name: api
environments:
  - name: staging
    policy: { auto_approve: true, require_verified_in: null }
  - name: production
    policy:
      approvals: { required: [{ role: lead, count: 1 }] }
`,
);
const env = { ...process.env, SHIPGATE_USER: 'carol', SHIPGATE_DATABASE_URL: '' };
const sg = (...a: string[]) => execFileSync(process.execPath, [BIN, ...a], { cwd: dir, env, stdio: 'pipe' });
for (const [i, service] of ['web', 'api', 'web'].entries()) {
  sg('release', 'register', service, `1.${i}.0`, '--digest', `sha256:${String(i + 1).repeat(64)}`, '--commit', `abc123${i}`);
  spawnSync(process.execPath, [BIN, 'deploy', service, `1.${i}.0`, 'staging'], { cwd: dir, env });
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function time(argv: string[]): { median: number; runs: number[] } {
  const runs: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t0 = process.hrtime.bigint();
    const r = spawnSync(process.execPath, argv, { cwd: dir, env, stdio: 'pipe' });
    runs.push(Number(process.hrtime.bigint() - t0) / 1e6);
    if (r.status !== 0) throw new Error(`${argv.join(' ')} exited ${r.status}: ${r.stderr}`);
  }
  return { median: median(runs), runs };
}

const floor = time(['-e', '0']);
const help = time([BIN, '--help']);
const status = time([BIN, 'status']);
const fmt = (x: number) => `${x.toFixed(0)} ms`;
console.log(`startup, median of ${RUNS} runs (each a new process), on ${os.cpus().length} cores:`);
console.log(`  node -e 0          ${fmt(floor.median)}   (floor)`);
console.log(`  shipgate --help    ${fmt(help.median)}   ${(help.median / floor.median).toFixed(1)}× the floor (goal ≤ 3×)   runs: ${help.runs.map((x) => x.toFixed(0)).join(', ')}`);
console.log(`  shipgate status    ${fmt(status.median)}   ${(status.median / floor.median).toFixed(1)}× the floor (goal ≤ 3×)   runs: ${status.runs.map((x) => x.toFixed(0)).join(', ')}`);
fs.rmSync(dir, { recursive: true, force: true });
