// The demo of shipgate's main job on the embedded default: a SQLite store in a temp dir, a real
// `shipgate serve` on loopback, and the real CLI taking a release through dev, staging and the
// production gate, with approvals from two people, a refused self-approval, a release refused
// for a critical vulnerability, and the audit chain verified at the end.
// Exits non-zero if any step does not end as expected.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const bin = path.join(root, 'bin', 'shipgate.js');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'shipgate-demo-'));
const config = path.join(work, 'shipgate.yaml');
fs.copyFileSync(path.join(root, 'examples/demo/shipgate.yaml'), config);
const reports = path.join(root, 'examples/demo/reports');

let failures = 0;
let steps = 0;
const tokens: Record<string, string> = {};
let serverUrl = '';

function show(text: string): void {
  process.stdout.write(text.replace(/^/gm, '    ').trimEnd() + '\n');
}

/** Runs one CLI command, prints it and its output, and checks its exit code. */
function sg(args: string[], opts: { as?: string; expect?: number; quiet?: boolean } = {}): { code: number; stdout: string } {
  const env: Record<string, string> = { ...process.env } as Record<string, string>;
  delete env.SHIPGATE_USER;
  delete env.SHIPGATE_SERVER;
  delete env.SHIPGATE_TOKEN;
  const viaServer = !!(opts.as && serverUrl);
  if (viaServer) {
    env.SHIPGATE_SERVER = serverUrl;
    env.SHIPGATE_TOKEN = tokens[opts.as!];
  }
  const res = spawnSync(process.execPath, [bin, '-c', config, ...args], { cwd: work, env, encoding: 'utf8' });
  const code = res.status ?? -1;
  const expect = opts.expect ?? 0;
  steps++;
  if (!opts.quiet) {
    process.stdout.write(`\n$ ${opts.as ? `[${opts.as}] ` : ''}shipgate ${args.join(' ')}\n`);
    show(`${res.stdout}${res.stderr}`);
    process.stdout.write(`    (exit ${code}${code === expect ? '' : `, EXPECTED ${expect}`})\n`);
  }
  if (code !== expect) failures++;
  return { code, stdout: res.stdout };
}

async function main(): Promise<void> {
  process.stdout.write(`shipgate demo in ${work}\n`);
  sg(['validate']);
  for (const user of ['alice', 'bob', 'carol', 'dana']) {
    const out = sg(['--json', 'token', 'create', user, '--label', 'demo'], { quiet: true });
    tokens[user] = JSON.parse(out.stdout).token;
  }
  process.stdout.write('\ncreated API tokens for alice, bob, carol and dana (values kept out of this output)\n');

  const server = spawn(process.execPath, [bin, '-c', config, 'serve', '--port', '0'], {
    cwd: work,
    env: { ...process.env, SHIPGATE_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  try {
    serverUrl = await new Promise<string>((resolve, reject) => {
      let out = '';
      const deadline = setTimeout(() => reject(new Error(`server did not start within 20 s: ${out}`)), 20_000);
      server.stdout.on('data', (b: Buffer) => {
        out += b.toString();
        const m = /listening on (http:\/\/\S+)/.exec(out);
        if (m) {
          clearTimeout(deadline);
          resolve(m[1]);
        }
      });
      server.on('exit', (c) => reject(new Error(`server exited with ${c}: ${out}`)));
    });
    process.stdout.write(`shipgate serve is listening on ${serverUrl}; the steps below go through its HTTP API\n`);

    const digest = (v: string) => `sha256:${Buffer.from(v.padEnd(32, '.')).toString('hex').slice(0, 64)}`;
    sg(['release', 'register', 'web', '1.0.0', '--digest', digest('web-1.0.0'), '--commit', '9f2e1c7a', '--scan', path.join(reports, 'trivy-clean.json'), '--tests', path.join(reports, 'junit.xml')], { as: 'carol' });
    sg(['verify', 'web', '1.0.0', 'dev', '--note', 'unit and integration tests green'], { as: 'carol' });
    const staging = JSON.parse(sg(['--json', 'deploy', 'web', '1.0.0', 'staging'], { as: 'carol', quiet: true }).stdout);
    sg(['show', String(staging.deployment.id)], { as: 'carol' });
    sg(['start', String(staging.deployment.id)], { as: 'carol', quiet: true });
    sg(['complete', String(staging.deployment.id), '--outcome', 'succeeded'], { as: 'carol', quiet: true });
    sg(['verify', 'web', '1.0.0', 'staging', '--note', 'e2e suite green in staging'], { as: 'carol' });

    sg(['check', 'web', '1.0.0', 'production'], { as: 'carol', expect: 3 });
    const prod = JSON.parse(sg(['--json', 'deploy', 'web', '1.0.0', 'production'], { as: 'carol', expect: 3, quiet: true }).stdout);
    const id = String(prod.deployment.id);
    sg(['show', id], { as: 'carol', expect: 3 });
    sg(['approve', id], { as: 'carol', expect: 2 });
    sg(['tick', id, 'rollback-plan', '--note', 'runbook RB-12 reviewed'], { as: 'alice', expect: 3 });
    sg(['approve', id, '--comment', 'dashboards ready'], { as: 'alice', expect: 3 });
    sg(['approve', id, '--comment', 'code reviewed'], { as: 'bob', expect: 0 });
    sg(['start', id], { as: 'carol', quiet: true });
    sg(['complete', id, '--outcome', 'succeeded'], { as: 'carol', quiet: true });

    sg(['release', 'register', 'web', '1.1.0', '--digest', digest('web-1.1.0'), '--commit', '0c4d2e9b', '--scan', path.join(reports, 'trivy-critical.json'), '--tests', path.join(reports, 'junit.xml')], { as: 'carol' });
    sg(['verify', 'web', '1.1.0', 'staging'], { as: 'carol' });
    sg(['check', 'web', '1.1.0', 'production'], { as: 'carol', expect: 4 });
    sg(['release', 'register', 'web', 'latest', '--digest', digest('web-latest'), '--commit', '0c4d2e9b'], { as: 'carol', expect: 2 });

    sg(['status'], { as: 'carol' });
    sg(['audit', 'verify'], { as: 'carol' });
  } finally {
    server.kill('SIGTERM');
  }
  process.stdout.write(`\ndemo: ${steps - failures} of ${steps} steps ended as expected; files in ${work}\n`);
  if (failures) process.exitCode = 1;
}

main().catch((err) => {
  process.stderr.write(`demo failed: ${(err as Error).message}\n`);
  process.exitCode = 1;
});
