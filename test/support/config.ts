// A resolved config like `shipgate init` writes: dev and staging auto-approve, production
// needs one devops lead and one tech lead, hotfixes need a VP. carol and gina are developers.
import type { ShipgateConfig } from '../../src/config/load.js';
import type { Policy } from '../../src/domain/types.js';
import { productionPolicy } from './fixtures.js';

export function testConfig(production: Partial<Policy> = {}): ShipgateConfig {
  const auto = (requireVerifiedIn: string | null): Policy =>
    productionPolicy({
      requireVerifiedIn,
      soakMinutes: 0,
      autoApprove: true,
      approvals: [],
      emergency: { approvals: [], mayBypass: [] },
      rollbackTarget: 'warn',
    });
  return {
    file: '/tmp/shipgate.yaml',
    dir: '/tmp',
    store: { sqlitePath: '/tmp/unused.db', urlEnv: 'SHIPGATE_DATABASE_URL' },
    server: { host: '127.0.0.1', port: 0, requestTimeoutMs: 30_000 },
    ui: {},
    notifications: {},
    github: {},
    evidence: {},
    roles: ['developer', 'devops-lead', 'tech-lead', 'vp-engineering'],
    users: [
      { name: 'alice', roles: ['devops-lead'] },
      { name: 'bob', roles: ['tech-lead'] },
      { name: 'carol', roles: ['developer'] },
      { name: 'dana', roles: ['vp-engineering'] },
      { name: 'erin', roles: ['devops-lead', 'tech-lead'] },
      { name: 'frank', roles: ['devops-lead'] },
      { name: 'gina', roles: ['developer'] },
    ],
    services: [
      { name: 'web', description: null },
      { name: 'api', description: null },
    ],
    environments: [
      { name: 'dev', policy: auto(null) },
      { name: 'staging', policy: auto('dev') },
      // Most tests here start from an empty production, so a first deployment must be able to
      // pass; rollback_target: required is tested on its own.
      { name: 'production', policy: productionPolicy({ rollbackTarget: 'warn', ...production }) },
    ],
  };
}
