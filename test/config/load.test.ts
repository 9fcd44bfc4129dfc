// Loading shipgate.yaml: the init template and the demo config load, defaults are filled the
// way docs/config.md says, and each kind of mistake is reported at its file:line:column with
// the field's name.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { loadConfig, parseConfig } from '../../src/config/load.js';
import { configJsonSchema } from '../../src/config/schema.js';
import { initTemplate } from '../../src/config/template.js';
import type { Deployment } from '../../src/domain/types.js';
import { ConfigError } from '../../src/errors.js';
import { targetsFor } from '../../src/features/rollouts/targets.js';
import { tempDir } from '../support/databases.js';

const BASE = `version: 1
roles: [dev, lead]
users:
  - name: ann
    roles: [lead]
  - name: ben
    roles: [dev]
services:
  - name: web
environments:
  - name: staging
    policy:
      auto_approve: true
  - name: production
    policy:
      approvals:
        required: [{ role: lead, count: 1 }]
`;

/** BASE with a rollout in production, and a service that changes its steps and min_step. */
const PLANS = BASE.replace(
  'services:\n  - name: web\n',
  `services:
  - name: web
  - name: api
    rollout:
      production:
        steps: [5, 25, 100]
        min_step: 2m
`,
).concat(`    rollout:
      min_step: 1m
      max_step: 10m
      smoke:
        - { name: health, path: /health }
`);

/** The ConfigError thrown for `text`, checked to name file:line:col. */
function errorOf(text: string): ConfigError {
  try {
    parseConfig(text, '/etc/shipgate.yaml');
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${err}`);
    return err;
  }
  assert.fail('the config loaded but should have been refused');
}

function expectError(text: string, line: number, col: number, ...fragments: string[]): void {
  const err = errorOf(text);
  assert.equal(err.line, line, err.message);
  assert.equal(err.column, col, err.message);
  assert.ok(err.message.startsWith(`/etc/shipgate.yaml:${line}:${col}: `), err.message);
  for (const f of fragments) assert.ok(err.message.includes(f), `"${f}" not in: ${err.message}`);
}

describe('config: what loads', () => {
  test('the init template loads, and its production policy is the seeds\' story', () => {
    const cfg = parseConfig(initTemplate(), '/srv/app/shipgate.yaml');
    assert.deepEqual(
      cfg.environments.map((e) => e.name),
      ['dev', 'staging', 'production'],
    );
    const prod = cfg.environments[2].policy;
    assert.equal(prod.requireVerifiedIn, 'staging');
    assert.equal(prod.soakMinutes, 60);
    assert.deepEqual(prod.maxVulnerabilities, { critical: 0, high: 5 });
    assert.deepEqual(prod.approvals, [
      { role: 'devops-lead', count: 1 },
      { role: 'tech-lead', count: 1 },
    ]);
    assert.equal(prod.approvalTtlMinutes, 24 * 60);
    assert.equal(prod.deploymentTtlMinutes, 72 * 60);
    assert.deepEqual(prod.emergency, { approvals: [{ role: 'vp-engineering', count: 1 }], mayBypass: ['window', 'freeze', 'soak'] });
    assert.equal(prod.calendar.timezone, 'Europe/Amsterdam');
    assert.deepEqual(prod.calendar.windows, [{ days: ['tue', 'wed', 'thu'], start: '10:00', end: '14:00' }]);
    assert.deepEqual(
      prod.calendar.freezes.map((f) => f.kind),
      ['yearly', 'weekly', 'holidays'],
    );
    assert.equal(cfg.store.sqlitePath, '/srv/app/.shipgate/shipgate.db');
    assert.equal(cfg.environments[0].policy.autoApprove, true);
  });

  test('the demo config loads', () => {
    const cfg = loadConfig('examples/demo/shipgate.yaml');
    assert.equal(cfg.file, path.resolve('examples/demo/shipgate.yaml'));
    assert.deepEqual(
      cfg.services.map((s) => s.name),
      ['web'],
    );
  });

  test('defaults: verified in the previous environment, 1 h soak, zero critical, 24 h approvals, 72 h deployments', () => {
    const cfg = parseConfig(BASE, '/etc/shipgate.yaml');
    const [staging, prod] = cfg.environments.map((e) => e.policy);
    assert.equal(staging.requireVerifiedIn, null);
    assert.equal(staging.soakMinutes, 0);
    assert.equal(prod.requireVerifiedIn, 'staging');
    assert.equal(prod.soakMinutes, 60);
    assert.deepEqual(prod.maxVulnerabilities, { critical: 0 });
    assert.equal(prod.rollbackTarget, 'warn');
    assert.equal(prod.approvalTtlMinutes, 1440);
    assert.equal(prod.deploymentTtlMinutes, 4320);
    assert.deepEqual(prod.emergency.mayBypass, ['window', 'freeze', 'soak']);
    assert.equal(prod.calendar.timezone, 'UTC');
    assert.deepEqual(cfg.server, { host: '127.0.0.1', port: 8080, requestTimeoutMs: 30_000 });
    const tls = parseConfig(BASE.replace('version: 1', 'version: 1\nserver:\n  tls: { cert: certs/c.pem, key: certs/k.pem }\n  request_timeout: 10s'), '/etc/shipgate/shipgate.yaml');
    assert.deepEqual(tls.server, { host: '127.0.0.1', port: 8080, tls: { cert: '/etc/shipgate/certs/c.pem', key: '/etc/shipgate/certs/k.pem' }, requestTimeoutMs: 10_000 });
  });

  test('durations, an explicit null require_verified_in, and every freeze form', () => {
    const cfg = parseConfig(
      BASE.replace(
        '      approvals:\n',
        `      require_verified_in: null
      soak: 1h30m
      deployment_ttl: 2d
      freezes:
        - { name: launch, from: "2026-11-27", to: "2026-11-30T09:00", reason: launch week }
        - { name: eoy, yearly: { from: "12-20", to: "01-02" } }
        - { name: weekend, weekly: { from: "fri 15:00", to: "mon 09:00" } }
        - { name: holidays, holidays: { country: de, region: BY } }
      approvals:
`,
      ),
      '/etc/shipgate.yaml',
    );
    const prod = cfg.environments[1].policy;
    assert.equal(prod.requireVerifiedIn, null);
    assert.equal(prod.soakMinutes, 90);
    assert.equal(prod.deploymentTtlMinutes, 2 * 1440);
    assert.deepEqual(prod.calendar.freezes, [
      { name: 'launch', kind: 'once', from: '2026-11-27', to: '2026-11-30T09:00', reason: 'launch week' },
      { name: 'eoy', kind: 'yearly', from: '12-20', to: '01-02' },
      { name: 'weekend', kind: 'weekly', from: 'fri 15:00', to: 'mon 09:00' },
      { name: 'holidays', kind: 'holidays', country: 'DE', region: 'BY' },
    ]);
  });

  test("a service changes its environment's rollout plan; the other services keep it", () => {
    const cfg = parseConfig(PLANS, '/etc/shipgate.yaml');
    const prod = cfg.environments[1].rollout!;
    assert.deepEqual(prod.plan.steps, [10, 50, 100]);
    assert.equal(prod.plan.minStepSeconds, 60);
    assert.deepEqual(Object.keys(prod.servicePlans), ['api']);
    const api = prod.servicePlans.api;
    assert.deepEqual(api.steps, [5, 25, 100], "the service's steps");
    assert.equal(api.minStepSeconds, 120, "the service's min_step");
    assert.equal(api.maxStepSeconds, 600, "the environment's max_step");
    assert.deepEqual(api.smoke.map((c) => c.name), ['health'], "the environment's smoke checks");
    const target = targetsFor(cfg);
    assert.deepEqual(target({ service: 'api', environment: 'production' } as Deployment).plan.steps, [5, 25, 100]);
    assert.deepEqual(target({ service: 'web', environment: 'production' } as Deployment).plan.steps, [10, 50, 100]);
  });

  test('a token declared by its sha256 is kept; the JSON Schema describes the file', () => {
    const cfg = parseConfig(
      BASE.replace('  - name: ben\n', `  - name: ben\n    tokens: [{ label: ci, sha256: "${'a1'.repeat(32)}" }]\n`),
      '/etc/shipgate.yaml',
    );
    assert.deepEqual(cfg.users[1].tokens, [{ label: 'ci', sha256: 'a1'.repeat(32) }]);
    const schema = configJsonSchema() as { properties: Record<string, unknown>; required: string[] };
    assert.ok(schema.properties.environments && schema.properties.users);
    assert.ok(schema.required.includes('environments'));
  });
});

describe('config: mistakes are named at file:line:column', () => {
  test('malformed YAML', () => {
    expectError('version: 1\nroles: [dev\nusers: []\n', 3, 1, 'not valid YAML');
  });

  test('an unknown field points at its key', () => {
    expectError(BASE.replace('  - name: web\n', '  - name: web\n    colour: red\n'), 10, 5, "services[web].colour: unknown field 'colour'");
  });

  test('a misspelt policy field', () => {
    expectError(BASE.replace('      auto_approve: true', '      auto_aprove: true'), 13, 7, "environments[staging].policy.auto_aprove: unknown field");
  });

  test('a missing required field names it', () => {
    expectError(BASE.replace('services:\n  - name: web\n', ''), 1, 1, "services: missing required field 'services'");
  });

  test('an unknown role held by a user', () => {
    expectError(BASE.replace('roles: [dev]', 'roles: [developer]'), 7, 13, "users[ben].roles[0]: unknown role 'developer'; roles are: dev, lead");
  });

  test('an approval role nobody holds enough of', () => {
    expectError(BASE.replace('count: 1', 'count: 2'), 17, 41, 'environments[production].policy.approvals.required[0].count', 'only 1 user(s) hold that role');
  });

  test('an environment with neither approvals nor auto_approve', () => {
    expectError(BASE.replace('      auto_approve: true\n', '      soak: 0\n'), 13, 7, 'no approvals.required and no auto_approve');
  });

  test('require_verified_in naming a later or unknown environment', () => {
    expectError(BASE.replace('      auto_approve: true', '      auto_approve: true\n      require_verified_in: production'), 14, 28, "'production' must come before staging");
    expectError(BASE.replace('      approvals:', '      require_verified_in: qa\n      approvals:'), 16, 28, "unknown environment 'qa'");
  });

  test('a bad timezone, window time and duration', () => {
    expectError(BASE.replace('  - name: production\n', '  - name: production\n    timezone: Europe/Amsterdm\n'), 15, 15, "environments[production].timezone: unknown timezone 'Europe/Amsterdm'");
    expectError(
      BASE.replace('      approvals:', '      windows:\n        - { days: [tue], start: "10:00", end: "25:00" }\n      approvals:'),
      17,
      47,
      'windows[0].end',
      "'25:00' is not a time of day",
    );
    expectError(BASE.replace('      approvals:', '      soak: 5\n      approvals:'), 16, 13, 'policy.soak: expected a duration such as "30s", "30m"');
  });

  test('a freeze with two kinds, and an unknown holiday country', () => {
    expectError(
      BASE.replace('      approvals:', '      freezes:\n        - { name: x, from: "2026-01-01", to: "2026-01-02", weekly: { from: "fri 15:00", to: "mon 09:00" } }\n      approvals:'),
      17,
      11,
      "freeze 'x' needs exactly one of",
    );
    expectError(
      BASE.replace('      approvals:', '      freezes:\n        - { name: x, holidays: { country: XX } }\n      approvals:'),
      17,
      32,
      "unknown holiday country 'XX'",
    );
  });

  test("a service's plan for an unknown environment, one without a rollout, and bad changes", () => {
    expectError(PLANS.replace('      production:\n', '      prod:\n'), 12, 7, "services[api].rollout.prod: unknown environment 'prod'; environments are: staging, production");
    expectError(PLANS.replace('      production:\n', '      staging:\n'), 12, 7, 'staging has no rollout: section, so there is no plan for api to change there');
    expectError(PLANS.replace('steps: [5, 25, 100]', 'steps: [5, 25, 90]'), 13, 16, 'services[api].rollout.production.steps: the last step must be 100 (got 5, 25, 90)');
    expectError(PLANS.replace('min_step: 2m', 'min_step: 20m'), 14, 19, 'services[api].rollout.production.min_step: max_step must not be shorter than min_step');
    expectError(PLANS.replace('min_step: 2m', 'colour: red'), 14, 9, "services[api].rollout.production.colour: unknown field 'colour'");
  });

  test('monitoring.require needs a metrics source to ask; a rollout.metrics section is checked by its source', () => {
    const monitored = PLANS.replace('      approvals:\n        required: [{ role: lead, count: 1 }]\n', '      approvals:\n        required: [{ role: lead, count: 1 }]\n      monitoring:\n        require: [requests, { name: conversion, query: "sum(conversions_total)" }]\n');
    // The local driver's proxy counts requests itself: accepted.
    assert.deepEqual(parseConfig(monitored, '/etc/shipgate.yaml').environments[1].policy.monitoring, [
      { name: 'requests', query: null },
      { name: 'conversion', query: 'sum(conversions_total)' },
    ]);
    const commandDriver = monitored.replace('      min_step: 1m\n', '      driver: command\n      command: { deploy: d.sh, set_weight: w.sh, promote: p.sh, rollback: r.sh }\n      min_step: 1m\n');
    expectError(commandDriver, 24, 9, "environments[production].policy.monitoring: production's command driver has no metrics of its own; name a source in rollout.metrics");
    expectError(BASE.replace('      auto_approve: true\n', '      auto_approve: true\n      monitoring: { require: [latency] }\n'), 14, 19, 'staging has no rollout: section, so there is no metrics source to ask');
    expectError(monitored.replace('      min_step: 1m\n', '      metrics: { source: prometheus, url: "not a url" }\n      min_step: 1m\n'), 26, 43, 'environments[production].rollout.metrics.url: Invalid URL');
    expectError(monitored.replace('      min_step: 1m\n', '      metrics: { source: graphite }\n      min_step: 1m\n'), 26, 26, 'environments[production].rollout.metrics.source: expected "prometheus"');
  });

  test('rollback_rehearsal, security and parity: defaults filled, settings resolved', () => {
    const text = BASE.replace('      auto_approve: true\n', '      auto_approve: true\n    settings:\n      DB_URL: postgres://staging\n      REPLICAS: 2\n      API_KEY: { secret_env: STAGING_API_KEY }\n      TLS_KEY: { file: secrets/tls.key }\n').concat(
      '      rollback_rehearsal: {}\n      security: { url: "https://{service}.example.com/health" }\n      parity: { allow: [DB_URL, REPLICAS] }\n',
    );
    const cfg = parseConfig(text, '/etc/shipgate/shipgate.yaml');
    const prod = cfg.environments[1].policy;
    assert.deepEqual(prod.rollbackRehearsal, { environment: 'staging', maxAgeDays: 7, sloSeconds: 300 });
    assert.deepEqual(prod.security, {
      urls: { web: 'https://web.example.com/health' },
      minCertDays: 14,
      require: ['hsts', 'csp', 'x_frame_options'],
      hstsMinMaxAgeSeconds: 180 * 86_400,
      timeoutMs: 5000,
      ca: null,
    });
    assert.deepEqual(prod.parity, { against: 'staging', allow: ['DB_URL', 'REPLICAS'], critical: 'all_except_allowed' });
    assert.deepEqual(cfg.environments[0].settings, {
      DB_URL: { value: 'postgres://staging' },
      REPLICAS: { value: '2' },
      API_KEY: { secretEnv: 'STAGING_API_KEY' },
      TLS_KEY: { file: '/etc/shipgate/secrets/tls.key' },
    });
    assert.equal(cfg.environments[0].policy.rollbackRehearsal, null);
    assert.equal(cfg.environments[0].policy.security, null);
    assert.equal(cfg.environments[0].policy.parity, null);
    const explicit = parseConfig(BASE.concat('      rollback_rehearsal: { environment: staging, within: 14d, slo: 2m30s }\n      security: { url: { web: "https://w.example.com" }, min_cert_days: 30, require: [hsts], timeout: 2s }\n      parity: { against: staging, critical: [FEATURE_*] }\n'), '/etc/shipgate.yaml').environments[1].policy;
    assert.deepEqual(explicit.rollbackRehearsal, { environment: 'staging', maxAgeDays: 14, sloSeconds: 150 });
    assert.deepEqual([explicit.security?.urls, explicit.security?.minCertDays, explicit.security?.require, explicit.security?.timeoutMs], [{ web: 'https://w.example.com' }, 30, ['hsts'], 2000]);
    assert.deepEqual(explicit.parity?.critical, ['FEATURE_*']);
    const schema = JSON.stringify(configJsonSchema());
    for (const words of ['require a rollback rehearsal', 'HTTPS checks of each service', "compare this environment's settings", 'secrets are compared by sha256']) assert.ok(schema.includes(words), words);
  });

  test('rollback_rehearsal, security, parity and settings mistakes are named at file:line:column', () => {
    expectError(BASE.concat('      rollback_rehearsal: { environment: qa }\n'), 18, 42, 'environments[production].policy.rollback_rehearsal.environment: unknown environment \'qa\'; environments are: staging, production');
    expectError(BASE.concat('      rollback_rehearsal: { slo: 5 minutes }\n'), 18, 34, 'environments[production].policy.rollback_rehearsal.slo: expected a duration');
    expectError(BASE.concat('      rollback_rehearsal: { within: 2h }\n'), 18, 37, 'within counts whole days: at least 1d');
    expectError(BASE.replace('      auto_approve: true\n', '      auto_approve: true\n      parity: {}\n'), 14, 15, 'environments[staging].policy.parity: staging is the first environment, so there is no previous one to default to');
    expectError(BASE.concat('      parity: { against: production }\n'), 18, 26, 'production cannot be compared with itself');
    expectError(BASE.concat('      parity: { critical: some }\n'), 18, 27, 'environments[production].policy.parity.critical');
    expectError(BASE.concat('      security: { url: "http://web.example.com" }\n'), 18, 24, 'environments[production].policy.security.url');
    expectError(BASE.concat('      security: { url: { api: "https://api.example.com" } }\n'), 18, 26, "environments[production].policy.security.url.api: unknown service 'api'; services are: web");
    expectError(BASE.concat('      security: { url: "https://w.example.com", require: [hsts, cookies] }\n'), 18, 65, 'expected one of "hsts", "csp", "x_frame_options"');
    expectError(BASE.concat('      security: { url: "https://w.example.com", ca: nowhere/ca.pem }\n'), 18, 53, 'no such file: /etc/nowhere/ca.pem');
    expectError(BASE.replace('      auto_approve: true\n', '      auto_approve: true\n    settings:\n      API_KEY: { secret_env: "not a var" }\n'), 15, 30, 'environments[staging].settings.API_KEY.secret_env: expected an environment variable name');
    expectError(BASE.replace('      auto_approve: true\n', '      auto_approve: true\n    settings:\n      API_KEY: { value: x }\n'), 15, 16, 'environments[staging].settings.API_KEY: expected a plain value, { secret_env: VAR } or { file: path }');
  });

  test('duplicate names', () => {
    expectError(BASE.replace('  - name: production\n', '  - name: staging\n'), 14, 5, "environments[staging]: duplicate environment 'staging'");
  });

  test('an alias naming no anchor, and an alias bomb, are errors at the alias', () => {
    expectError(BASE.replace('roles: [dev, lead]', 'roles: *everyone'), 2, 8, 'alias *everyone names no anchor (&everyone) set before it');
    const layers = ['a: &a [x, x, x, x, x, x, x, x, x]', ...'bcdefgh'.split('').map((c, i) => `${c}: &${c} [${Array(9).fill(`*${'abcdefg'[i]}`).join(', ')}]`)];
    const bomb = `x-bomb:\n${layers.map((l) => `  ${l}`).join('\n')}\n${BASE}`;
    expectError(bomb, 3, 10, 'aliases expand to too much (more than 100 expansions, starting with *a)');
    // A few aliases for shared settings are fine.
    const shared = BASE.replace('roles: [dev, lead]', 'roles: &roles [dev, lead]').replace('    roles: [lead]', '    roles: *roles');
    assert.deepEqual(parseConfig(shared, 'shipgate.yaml').users[0].roles, ['dev', 'lead']);
  });

  test('an empty file and a missing file', () => {
    assert.match(errorOf('# nothing yet\n').message, /the file is empty/);
    assert.throws(() => loadConfig('/nonexistent/shipgate.yaml'), /no such file; `shipgate init` writes an example/);
  });
});

describe('config: the CLI', () => {
  const cli = (cwd: string, ...args: string[]) =>
    spawnSync(process.execPath, [path.resolve('bin/shipgate.js'), ...args], { cwd, encoding: 'utf8', timeout: 60_000 });

  test('init writes a config that validate accepts; a broken one exits 2 naming file:line:col', () => {
    const dir = tempDir('shipgate-init-');
    const init = cli(dir, 'init');
    assert.equal(init.status, 0, init.stderr);
    assert.ok(fs.existsSync(path.join(dir, 'shipgate.yaml')));
    assert.ok(fs.existsSync(path.join(dir, 'shipgate.schema.json')));
    const again = cli(dir, 'init');
    assert.equal(again.status, 2, 'init refuses to overwrite');
    const ok = cli(dir, 'validate');
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stdout, /ok — 1 service\(s\), environments dev → staging → production, 4 user\(s\)/);

    const file = path.join(dir, 'shipgate.yaml');
    fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace('start: "10:00"', 'start: "10:0"'));
    const bad = cli(dir, 'validate');
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /shipgate\.yaml:\d+:\d+: environments\[production\]\.policy\.windows\[0\]\.start: '10:0' is not a time of day/);

    fs.writeFileSync(file, `version: 1\nroles: &r [a]\nx: [${Array(200).fill('*r').join(', ')}]\n`);
    const bomb = cli(dir, 'validate');
    assert.equal(bomb.status, 2, bomb.stderr);
    assert.match(bomb.stderr, /shipgate\.yaml:3:5: aliases expand to too much/);
    assert.doesNotMatch(bomb.stderr, /internal error/);
  });
});
