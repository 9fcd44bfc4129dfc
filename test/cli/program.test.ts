// The CLI in-process, with output buffers: its help (every option described, the global
// options under every subcommand, --version), and the promise that a command answers the same
// JSON on the local store and through a server, since both run the same operations.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { runCli } from '../../src/cli/program.js';
import { createShipgate, openStore } from '../../src/main.js';
import { buildServer } from '../../src/server/app.js';
import type { Store } from '../../src/store/store.js';
import { loadConfig } from '../../src/config/load.js';
import { tempDir } from '../support/databases.js';

const CONFIG = `version: 1
roles: [dev, lead]
users:
  - { name: carol, roles: [dev] }
  - { name: alice, roles: [lead] }
services:
  - name: web
environments:
  - name: staging
    policy: { auto_approve: true, require_verified_in: null }
  - name: production
    policy:
      approvals: { required: [{ role: lead, count: 1 }] }
`;

/** Runs `shipgate ...argv` in this process; what it printed and its exit code. */
async function shipgate(dir: string, argv: string[], env: NodeJS.ProcessEnv = {}) {
  let stdout = '';
  let stderr = '';
  const code = await runCli(argv, { out: (t) => (stdout += t), err: (t) => (stderr += t), env: { SHIPGATE_DATABASE_URL: '', ...env }, cwd: dir });
  return { code, stdout, stderr };
}

describe('the CLI in-process', () => {
  const dir = tempDir('shipgate-cli-');
  let server: FastifyInstance;
  let store: Store;
  let url = '';
  let token = '';

  before(async () => {
    fs.writeFileSync(path.join(dir, 'shipgate.yaml'), CONFIG);
    const config = loadConfig(path.join(dir, 'shipgate.yaml'));
    store = await openStore({ sqlitePath: config.store.sqlitePath });
    const sg = createShipgate({ config, store });
    token = (await sg.access.createToken({ user: 'admin', via: 'local' }, 'carol', 'cli')).token;
    server = buildServer(sg);
    await server.listen({ host: '127.0.0.1', port: 0 });
    url = `http://127.0.0.1:${(server.server.address() as { port: number }).port}`;
  });
  after(async () => {
    await server.close();
    await store.close();
  });

  test('--version prints the package version; help of a subcommand shows the global options', async () => {
    const pkg = JSON.parse(fs.readFileSync(path.resolve(import.meta.dirname, '../../package.json'), 'utf8'));
    const v = await shipgate(dir, ['--version']);
    assert.deepEqual([v.code, v.stdout.trim()], [0, pkg.version]);
    const help = await shipgate(dir, ['approve', '--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /Global Options:[\s\S]*--config <file>[\s\S]*--server <url>[\s\S]*--as <user>[\s\S]*--json/);
    const nested = await shipgate(dir, ['release', 'register', '--help']);
    assert.match(nested.stdout, /--digest <sha256>[\s\S]*Global Options:/);
  });

  test('every command and every option has a description', async () => {
    const top = (await shipgate(dir, ['--help'])).stdout;
    const commands = [...top.matchAll(/^  ([a-z]+)(?: \[options\])?(?: \[command\])?(?: [<[].*?)?\s{2,}(\S.*)$/gm)].map((m) => m[1]).filter((c) => c !== 'help');
    assert.ok(commands.length >= 25, `commands found: ${commands.join(', ')}`);
    const groups = new Set(['release', 'runtime', 'audit', 'token']);
    const all: string[][] = [];
    for (const c of commands) {
      if (!groups.has(c)) {
        all.push([c]);
        continue;
      }
      const sub = (await shipgate(dir, [c, '--help'])).stdout;
      for (const m of sub.matchAll(/^  ([a-z]+)(?: \[options\])?(?: [<[].*?)?\s{2,}\S/gm)) if (m[1] !== 'help') all.push([c, m[1]]);
    }
    for (const argv of all) {
      const help = (await shipgate(dir, [...argv, '--help'])).stdout;
      const options = help.split('Options:')[1]?.split('Global Options:')[0] ?? '';
      for (const line of options.split('\n').filter((l) => /^  -/.test(l))) {
        assert.match(line, /^  (?:-\w, )?--[\w-]+(?: <[^>]+>)?\s{2,}\S/, `${argv.join(' ')}: an option without a description: ${line.trim()}`);
      }
    }
  });

  test('the config is read from its cache only while the file is unchanged: an edit is parsed, and a mistake named at file:line', async () => {
    const other = tempDir('shipgate-cli-cache-');
    const file = path.join(other, 'shipgate.yaml');
    fs.writeFileSync(file, CONFIG);
    assert.equal((await shipgate(other, ['validate'])).code, 0);
    assert.ok(fs.existsSync(path.join(other, '.shipgate', 'config-cache.json')), 'a cache was written');
    fs.writeFileSync(file, CONFIG.replace('  - name: web\n', '  - name: web\n    colour: red\n'));
    const broken = await shipgate(other, ['status']);
    assert.equal(broken.code, 2);
    assert.match(broken.stderr, /shipgate\.yaml:8:5: services\[web\]\.colour: unknown field 'colour'/);
    fs.writeFileSync(file, CONFIG.replace('  - name: web\n', '  - name: web\n  - name: api\n'));
    assert.match((await shipgate(other, ['validate'])).stdout, /ok — 2 service\(s\)/);
  });

  test('the local store and a server answer the same JSON', async () => {
    const local = (argv: string[]) => shipgate(dir, [...argv, '--json'], { SHIPGATE_USER: 'carol' });
    const remote = (argv: string[]) => shipgate(dir, [...argv, '--json', '--server', url], { SHIPGATE_TOKEN: token });
    assert.equal((await local(['release', 'register', 'web', '1.0.0', '--digest', `sha256:${'a7'.repeat(32)}`, '--commit', 'abc1234'])).code, 0);
    assert.equal((await remote(['deploy', 'web', '1.0.0', 'production'])).code, 3);
    for (const argv of [['status'], ['show', '1'], ['release', 'show', 'web', '1.0.0'], ['release', 'list'], ['deployments'], ['audit', 'list'], ['audit', 'verify']]) {
      const [a, b] = [await local(argv), await remote(argv)];
      assert.equal(a.stdout, b.stdout, `shipgate ${argv.join(' ')} answers the same on both`);
      assert.equal(a.code, b.code);
    }
    const [a, b] = [await local(['show', '99']), await remote(['show', '99'])];
    assert.deepEqual([a.code, a.stdout], [b.code, b.stdout], 'errors too');
    assert.equal(a.code, 2);
  });
});
