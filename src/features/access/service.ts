// Who may come in: API tokens (created on the local store, stored as sha256 hashes, the value
// shown once) and the users the config declares, some of them with tokens of their own.
import { createHash, randomBytes } from 'node:crypto';
import { NotFoundError, UnauthorizedError } from '../../errors.js';
import type { Store } from '../../store/store.js';
import { record } from '../audit/record.js';
import type { Directory } from '../directory.js';
import type { Actor } from './actor.js';
import type { ApiToken } from './store.js';

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

export class AccessService {
  constructor(
    private readonly directory: Directory,
    private readonly store: Store,
    private readonly now: () => Date,
  ) {}

  /** Creates an API token for a user; the plain token is returned once and only its hash is kept. */
  async createToken(actor: Actor, user: string, label: string): Promise<{ token: string; id: number }> {
    this.directory.user(user);
    const token = `sg_${randomBytes(24).toString('base64url')}`;
    const created = await this.store.transaction(async (tx) => {
      const t = await tx.access.insertToken(user, label, sha256(token), this.now().toISOString());
      await record(tx, this.now(), actor, 'token.created', `token:${t.id}`, { user, label });
      return t;
    });
    return { token, id: created.id };
  }

  async revokeToken(actor: Actor, id: number): Promise<void> {
    await this.store.transaction(async (tx) => {
      if (!(await tx.access.revokeToken(id, this.now().toISOString()))) throw new NotFoundError(`no active token with id ${id}`);
      await record(tx, this.now(), actor, 'token.revoked', `token:${id}`, {});
    });
  }

  tokens(): Promise<ApiToken[]> {
    return this.store.access.tokens();
  }

  /** The user a bearer token belongs to, or an UnauthorizedError that does not echo the token. */
  async authenticate(token: string | undefined): Promise<Actor> {
    if (!token) throw new UnauthorizedError('missing API token: send Authorization: Bearer <token>');
    const hash = sha256(token);
    const declared = this.directory.config.users.find((u) => u.tokens?.some((x) => x.sha256 === hash));
    if (declared) return { user: declared.name, via: 'token' };
    const t = await this.store.access.tokenByHash(hash);
    if (!t || t.revokedAt) throw new UnauthorizedError('invalid or revoked API token');
    if (!this.directory.config.users.some((u) => u.name === t.user)) {
      throw new UnauthorizedError(`the token's user '${t.user}' is no longer in the config`);
    }
    return { user: t.user, via: 'token' };
  }

  whoami(actor: Actor): { user: string; roles: string[] } {
    return { user: actor.user, roles: this.directory.user(actor.user).roles };
  }
}
