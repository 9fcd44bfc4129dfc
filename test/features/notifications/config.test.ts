// The `notifications:` section: absent or `{}` means no channels; a full section resolves to
// channels, filters, the UI address and the retry policy; mistakes are named at file:line; the
// secrets themselves are never in the file, only the names of their environment variables.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig } from '../../../src/config/load.js';
import { resolveNotifications, wants } from '../../../src/features/notifications/config.js';

const BASE = `version: 1
roles: [dev]
users:
  - { name: carol, roles: [dev] }
services:
  - name: web
environments:
  - name: production
    policy: { auto_approve: true }
`;

test('no notifications section, or an empty one, sends nothing', () => {
  assert.deepEqual(parseConfig(BASE, '/tmp/shipgate.yaml').notifications, {});
  assert.deepEqual(resolveNotifications(undefined, '/tmp'), {});
  assert.deepEqual(parseConfig(`${BASE}notifications: {}\n`, '/tmp/shipgate.yaml').notifications.channels, []);
});

test('a full section resolves channels, filters, the UI address and the retry policy', () => {
  const cfg = parseConfig(
    `${BASE}notifications:
  ui_url: https://shipgate.example.com/
  retry: { attempts: 5, backoff: 2s, max_backoff: 1m, timeout: 5s }
  channels:
    - name: releases
      type: slack
      url_env: SLACK_WEBHOOK_URL
      events: [approval_requested, rolled_back]
      environments: [production]
    - name: audit-sink
      type: webhook
      url: https://hooks.example.com/shipgate
      secret_env: SHIPGATE_WEBHOOK_SECRET
`,
    '/tmp/shipgate.yaml',
  ).notifications;
  assert.deepEqual(cfg, {
    uiUrl: 'https://shipgate.example.com',
    channels: [
      { name: 'releases', type: 'slack', urlEnv: 'SLACK_WEBHOOK_URL', events: ['approval_requested', 'rolled_back'], environments: ['production'] },
      { name: 'audit-sink', type: 'webhook', url: 'https://hooks.example.com/shipgate', secretEnv: 'SHIPGATE_WEBHOOK_SECRET' },
    ],
    retry: { attempts: 5, backoffMs: 2000, maxBackoffMs: 60_000, timeoutMs: 5000 },
  });
  const [slack, hook] = cfg.channels!;
  assert.equal(wants(slack, 'approval_requested', 'production'), true);
  assert.equal(wants(slack, 'approval_requested', 'staging'), false);
  assert.equal(wants(slack, 'succeeded', 'production'), false);
  assert.equal(wants(slack, 'rollback_failed', 'staging'), true, 'a failed rollback goes everywhere');
  assert.equal(wants(hook, 'step_passed', null), true);
});

test('mistakes are named at file:line: an unknown event, a URL in place of a variable name, a repeated name', () => {
  const bad = (section: string) => () => parseConfig(`${BASE}notifications:\n${section}`, '/tmp/shipgate.yaml');
  assert.throws(bad('  channels:\n    - { name: a, type: slack, url_env: S, events: [deployed] }\n'), /shipgate\.yaml:\d+.*events/s);
  assert.throws(bad('  channels:\n    - { name: a, type: slack, url_env: "https://hooks.slack.com/services/x" }\n'), /environment variable name/);
  assert.throws(bad('  channels:\n    - { name: a, type: slack, url_env: S }\n    - { name: a, type: slack, url_env: T }\n'), /same name/);
  assert.throws(bad('  channels:\n    - { name: a, type: webhook, url: https://x.example.com, secret: whsec_abc }\n'), /secret/);
});
