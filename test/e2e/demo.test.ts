// The README's first command, run for real: the demo must reach its end with every step as
// expected (real CLI processes, a real server on loopback running the rollouts, a real SQLite
// file, the sample service as child processes behind the local proxy, loopback traffic).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';

test('npm run demo: the gate, a healthy 10 → 50 → 100 rollout, a bad build rolled back, the audit chain verified', () => {
  const res = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/demo.ts'], { encoding: 'utf8', timeout: 480_000 });
  const out = `${res.stdout}\n${res.stderr}`;
  // CI shows only the start of a failure message: the lines that say what went wrong come first.
  const why = () => {
    const lines = out.split('\n');
    const from = lines.findIndex((l) => l.startsWith('summary'));
    const wrong = lines.filter((l) => /EXPECTED|demo failed|✘|Error/.test(l));
    return [...wrong, ...(from >= 0 ? lines.slice(from) : []), '--- end of the output:', out.slice(-3000)].join('\n');
  };
  assert.equal(res.status, 0, why());
  const m = /demo: (\d+) of (\d+) steps ended as expected/.exec(out);
  assert.ok(m, why());
  assert.equal(m[1], m[2], why());
  assert.match(out, /\[bob\] shipgate approve \d+ --comment code reviewed[\s\S]*\[approved\]/);
  assert.match(out, /requested deployment \d+ and cannot approve/);
  assert.match(out, /1 critical \(max 0\) in trivy-critical\.json/);
  assert.match(out, /step 2\/3 weight  50%/);
  assert.match(out, /web 2\.0\.0: succeeded after \d+\.\d s/, why());
  assert.match(out, /web 3\.0\.0: rolled_back after \d+\.\d s; detected \d+\.\d s into the rollout; traffic back on stable \d+ ms after the decision, verified after \d+ ms/, why());
  assert.match(out, /audit chain intact: \d+ events/, why());
  assert.doesNotMatch(out, /sg_[A-Za-z0-9_-]{20,}/, 'no token value in the output');
  assert.doesNotMatch(out, /demo-smoke-token/, 'no smoke token in the output');
});
