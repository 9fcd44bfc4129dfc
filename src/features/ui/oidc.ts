// OIDC sign-in for the web UI: authorization code with PKCE (openid-client), the person matched
// to a configured user by one claim, and their groups mapped to the shipgate roles the session
// may act with. A person who matches no user in the config is refused: every decision shipgate
// records names a configured user, and the services check those users' roles.
import * as oidc from 'openid-client';
import { ForbiddenError, InputError, UnauthorizedError } from '../../errors.js';
import type { Directory } from '../directory.js';
import type { OidcConfig } from './config.js';

export class OidcSignIn {
  private discovered: Promise<oidc.Configuration> | null = null;

  constructor(
    private readonly cfg: OidcConfig,
    private readonly directory: Directory,
    private readonly env: NodeJS.ProcessEnv = process.env,
  ) {}

  private configuration(): Promise<oidc.Configuration> {
    const secret = this.env[this.cfg.clientSecretEnv];
    if (!secret) return Promise.reject(new InputError(`OIDC sign-in needs the client secret in the environment variable ${this.cfg.clientSecretEnv}`));
    const issuer = new URL(this.cfg.issuer);
    // Plain http only on loopback (a provider on this machine); anywhere else the issuer must be https.
    const loopback = ['127.0.0.1', 'localhost', '[::1]'].includes(issuer.hostname);
    this.discovered ??= oidc.discovery(issuer, this.cfg.clientId, secret, undefined, loopback ? { execute: [oidc.allowInsecureRequests] } : undefined).catch((err: unknown) => {
      this.discovered = null;
      throw new UnauthorizedError(`cannot reach the OIDC provider ${this.cfg.issuer}: ${(err as Error).message}`);
    });
    return this.discovered;
  }

  redirectUri(requestOrigin: string): string {
    return `${this.cfg.publicUrl ?? requestOrigin}/ui/auth/callback`;
  }

  /** Where to send the browser, and what to remember until it comes back. */
  async start(requestOrigin: string): Promise<{ url: string; state: string; nonce: string; verifier: string }> {
    const config = await this.configuration();
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const nonce = oidc.randomNonce();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: this.redirectUri(requestOrigin),
      scope: this.cfg.scopes.join(' '),
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    });
    return { url: url.href, state, nonce, verifier };
  }

  /** The provider's answer turned into a configured user and the roles the session acts with. */
  async finish(callbackUrl: URL, pending: { state: string; nonce: string; verifier: string }): Promise<{ user: string; roles: string[] }> {
    const config = await this.configuration();
    const tokens = await oidc.authorizationCodeGrant(config, callbackUrl, { pkceCodeVerifier: pending.verifier, expectedState: pending.state, expectedNonce: pending.nonce });
    const idClaims: Record<string, unknown> = tokens.claims() ?? {};
    let claims: Record<string, unknown> = { ...idClaims };
    // Providers that keep profile claims out of the ID token answer them at userinfo.
    if (!(this.cfg.userClaim in claims) || !(this.cfg.rolesClaim in claims)) {
      const info = await oidc.fetchUserInfo(config, tokens.access_token, String(idClaims.sub)).catch(() => ({}));
      claims = { ...info, ...claims };
    }
    const name = claims[this.cfg.userClaim];
    if (typeof name !== 'string' || !name) throw new UnauthorizedError(`the OIDC provider sent no '${this.cfg.userClaim}' claim to match a shipgate user`);
    const user = this.directory.config.users.find((u) => u.name === name);
    if (!user) throw new ForbiddenError(`'${name}' signed in at the OIDC provider but is not a user in ${this.directory.config.file}; ask an administrator to add them`);
    return { user: user.name, roles: mapRoles(user.roles, claims[this.cfg.rolesClaim], this.cfg.roleMap) };
  }
}

/** The config's roles, narrowed to those the person's groups grant when a role map is set. */
export function mapRoles(configRoles: string[], groups: unknown, roleMap: Record<string, string[]> | null): string[] {
  if (!roleMap) return configRoles;
  const list = Array.isArray(groups) ? groups.map(String) : typeof groups === 'string' ? [groups] : [];
  const granted = new Set(list.flatMap((g) => roleMap[g] ?? []));
  return configRoles.filter((r) => granted.has(r));
}
