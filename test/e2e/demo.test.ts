// The README's first command, run for real: the demo must reach its end with every step as
// expected (real CLI processes, a real server on loopback, a real SQLite file).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';

test('npm run demo takes a release through the production gate and verifies the audit chain', () => {
  const res = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/demo.ts'], { encoding: 'utf8', timeout: 240_000 });
  const out = `${res.stdout}\n${res.stderr}`;
  assert.equal(res.status, 0, out);
  const m = /demo: (\d+) of (\d+) steps ended as expected/.exec(out);
  assert.ok(m, out);
  assert.equal(m[1], m[2]);
  assert.match(out, /\[bob\] shipgate approve \d+ --comment code reviewed[\s\S]*\[approved\]/);
  assert.match(out, /requested deployment \d+ and cannot approve/);
  assert.match(out, /1 critical \(max 0\) in trivy-critical\.json/);
  assert.match(out, /audit chain intact: \d+ events/);
  assert.doesNotMatch(out, /sg_[A-Za-z0-9_-]{20,}/, 'no token value in the output');
});
