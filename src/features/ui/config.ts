// The `ui:` section of shipgate.yaml: how people sign in to the web UI (OIDC, API tokens),
// how long a session lasts, and which roles may only look. `ui: {}` is a valid, complete
// section: token sign-in only, 8-hour sessions, nobody read-only.
import { z } from 'zod';

const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name');

const oidcSection = z
  .strictObject({
    issuer: z.string().url().describe("the OpenID provider's issuer URL (discovery at /.well-known/openid-configuration)"),
    client_id: z.string().min(1),
    client_secret_env: envName.default('SHIPGATE_OIDC_CLIENT_SECRET').describe('environment variable holding the client secret'),
    public_url: z.string().url().optional().describe("shipgate's address as browsers see it; the redirect is <public_url>/ui/auth/callback (default: from the request's Host)"),
    scopes: z.array(z.string()).default(['openid', 'profile', 'email', 'groups']),
    user_claim: z.string().default('preferred_username').describe('the claim matched to users[].name; a person who matches no user is refused'),
    roles_claim: z.string().default('groups').describe('the claim holding the groups mapped by role_map'),
    role_map: z
      .record(z.string(), z.union([z.string(), z.array(z.string())]))
      .optional()
      .describe('group → shipgate role(s); when set, a session acts only with the config roles its groups also grant'),
  })
  .describe('OpenID Connect sign-in (authorization code + PKCE)');

export const uiSection = z
  .strictObject({
    session_hours: z.number().positive().max(24 * 30).default(8).describe('a session ends this long after sign-in'),
    token_sign_in: z.boolean().default(true).describe('allow signing in with a shipgate API token'),
    read_only_roles: z.array(z.string()).default([]).describe('holders of these roles see everything and can change nothing'),
    oidc: oidcSection.optional(),
  })
  .optional()
  .describe('the web UI at /ui and its sign-in');

export interface OidcConfig {
  issuer: string;
  clientId: string;
  clientSecretEnv: string;
  publicUrl: string | null;
  scopes: string[];
  userClaim: string;
  rolesClaim: string;
  /** group → roles; null: the config's roles apply as they are. */
  roleMap: Record<string, string[]> | null;
}

/** Every field optional, so `{}` (the tests' config) means the defaults. */
export interface UiConfig {
  sessionHours?: number;
  tokenSignIn?: boolean;
  readOnlyRoles?: string[];
  oidc?: OidcConfig | null;
}

export function resolveUi(raw: z.infer<typeof uiSection>, _dir: string): UiConfig {
  if (!raw) return {};
  const o = raw.oidc;
  return {
    sessionHours: raw.session_hours,
    tokenSignIn: raw.token_sign_in,
    readOnlyRoles: raw.read_only_roles,
    oidc: o
      ? {
          issuer: o.issuer,
          clientId: o.client_id,
          clientSecretEnv: o.client_secret_env,
          publicUrl: o.public_url ? o.public_url.replace(/\/+$/, '') : null,
          scopes: o.scopes,
          userClaim: o.user_claim,
          rolesClaim: o.roles_claim,
          roleMap: o.role_map ? Object.fromEntries(Object.entries(o.role_map).map(([g, r]) => [g, Array.isArray(r) ? r : [r]])) : null,
        }
      : null,
  };
}
