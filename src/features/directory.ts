// What the config declares, looked up by name with the errors a user should see: services,
// environments and their policies, users and their roles. Every feature reads the config
// through this, so an unknown name is said the same way everywhere.
import type { ShipgateConfig } from '../config/load.js';
import type { ApproverUser } from '../domain/approvals.js';
import type { Policy } from '../domain/types.js';
import { NotFoundError, UnauthorizedError } from '../errors.js';
import type { Actor } from './access/actor.js';

export class Directory {
  constructor(readonly config: ShipgateConfig) {}

  user(name: string): ApproverUser {
    const u = this.config.users.find((x) => x.name === name);
    if (!u) throw new UnauthorizedError(`unknown user '${name}'; users are declared in ${this.config.file}`);
    return u;
  }

  /** The actor is a configured user (or shipgate itself). */
  assertUser(actor: Actor): void {
    if (actor.via !== 'system') this.user(actor.user);
  }

  service(name: string): void {
    if (!this.config.services.some((s) => s.name === name)) {
      throw new NotFoundError(`unknown service '${name}'; known: ${this.config.services.map((s) => s.name).join(', ')}`);
    }
  }

  policy(environment: string): Policy {
    const env = this.config.environments.find((e) => e.name === environment);
    if (!env) {
      throw new NotFoundError(`unknown environment '${environment}'; known: ${this.config.environments.map((e) => e.name).join(', ')}`);
    }
    return env.policy;
  }

  /** True when shipgate's controller rolls deployments out in this environment. */
  rollsOut(environment: string): boolean {
    return Boolean(this.config.environments.find((e) => e.name === environment)?.rollout);
  }
}
