// The README's Quick start, followed as a newcomer would: the package packed from this checkout
// (`npm pack`), installed with npm into a prefix of its own, and every line of the Quick start
// block run as written by bash, in an empty directory outside the repository. A line marked
// `# exit N` must exit N; every other line must succeed. It reaches a 10 → 50 → 100% rollout
// with live traffic on the local driver.
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';

const ROOT = path.resolve(import.meta.dirname, '../..');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'shipgate-quickstart-'));
const prefix = path.join(work, 'prefix');
const env = { ...process.env, PATH: `${path.join(prefix, 'bin')}:${process.env.PATH}`, NPM_CONFIG_PREFIX: prefix, SHIPGATE_DATABASE_URL: '', SHIPGATE_USER: '' };

/** The lines of the README's Quick start code block. */
function quickStart(): string[] {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Quick start'));
  const block = /```sh\n([\s\S]*?)\n```/.exec(section);
  assert.ok(block, 'the Quick start has a sh block');
  return block[1].split('\n').filter((l) => l.trim() && !l.trim().startsWith('#'));
}

/** One bash script: each line as written, checked for its exit code. */
function script(lines: string[]): string {
  const out = ['set -u', 'trap \'kill $(jobs -p) 2>/dev/null\' EXIT', 'fail() { echo "QUICKSTART LINE FAILED (exit $2): $1" >&2; exit 1; }'];
  for (const line of lines) {
    const expected = /#\s*exit (\d+)/.exec(line)?.[1] ?? '0';
    const command = line.replace(/\s+#\s.*$/, '').trim();
    out.push(`echo "$ ${command.replace(/["$`\\]/g, '\\$&')}"`);
    if (command.endsWith('&')) out.push(command);
    else out.push(`${command}\nrc=$?; [ $rc -eq ${expected} ] || fail ${JSON.stringify(command)} $rc`);
  }
  return `${out.join('\n')}\n`;
}

after(() => {
  const shipgate = path.join(prefix, 'bin', 'shipgate');
  if (fs.existsSync(shipgate)) spawnSync(shipgate, ['runtime', 'stop', 'web', 'staging'], { cwd: path.join(work, 'try-shipgate'), env, timeout: 30_000 });
  fs.rmSync(work, { recursive: true, force: true });
});

test('the README Quick start works from the packed package, in an empty directory, up to a 10/50/100 rollout', { timeout: 20 * 60_000 }, async () => {
  // npm test builds dist/ first; the package is what `npm pack` makes of it.
  const built = fs.statSync(path.join(ROOT, 'dist/cli/main.js'), { throwIfNoEntry: false });
  assert.ok(built, 'dist/ is built (npm test builds it; alone: npm run build)');
  const tarball = execFileSync('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', work], { cwd: ROOT, encoding: 'utf8' }).trim().split('\n').pop()!;
  assert.equal(tarball, 'shipgate-0.1.0.tgz');
  const lines = quickStart();
  assert.ok(lines[0].includes('npm install -g'), 'the Quick start begins with the install');
  const listing = execFileSync('tar', ['tzf', path.join(work, tarball)], { encoding: 'utf8' });
  assert.doesNotMatch(listing, /package\/(test|bench|scratch)\//, 'tests, benchmarks and fixtures stay out of the package');
  assert.match(listing, /package\/dist\/cli\/main\.js/);

  const run = await new Promise<{ code: number | null; out: string }>((resolve) => {
    const child = spawn('bash', ['-c', script(lines)], { cwd: work, env });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (out += b.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 18 * 60_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
  const why = `the Quick start as run:\n${run.out.slice(-6000)}`;
  assert.equal(run.code, 0, why);
  assert.match(run.out, /web 1\.0\.0 → staging: rollout started: steps 100% \(first deployment here/, why);
  assert.match(run.out, /web 1\.1\.0 → staging: step 1\/3: 10% of traffic on 1\.1\.0/, why);
  assert.match(run.out, /web 1\.1\.0 → staging: analysis passed at 10%/, why);
  assert.match(run.out, /web 1\.1\.0 → staging: step 3\/3: 100% of traffic on 1\.1\.0/, why);
  assert.match(run.out, /web 1\.1\.0 → staging: succeeded in/, why);
  assert.match(run.out, /soak\s+pending\s+soaked 0 min of 60 in staging/, why);
  assert.match(run.out, /rollback-target\s+fail\s+first deployment of web to production/, why);
  assert.match(run.out, /audit chain intact/, why);
});
