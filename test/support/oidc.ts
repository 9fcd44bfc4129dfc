// A real OpenID provider for UI tests: oidc-provider on loopback with a few accounts and their
// `groups` claim, one confidential client (code flow, PKCE required), and its own login and
// consent pages (devInteractions), which the browser fills in like a person would.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
// @ts-expect-error oidc-provider ships no type declarations
import Provider from 'oidc-provider';

export interface TestAccount {
  groups: string[];
  email?: string;
}

export interface TestOidc {
  issuer: string;
  clientId: string;
  clientSecret: string;
  stop(): Promise<void>;
}

/** Starts the provider; `redirectUri` is shipgate's /ui/auth/callback. */
export async function startOidc(accounts: Record<string, TestAccount>, redirectUri: string): Promise<TestOidc> {
  const server = http.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const clientId = 'shipgate';
  const clientSecret = 'test-client-secret-0123456789abcdef';
  const provider = new Provider(issuer, {
    clients: [{ client_id: clientId, client_secret: clientSecret, redirect_uris: [redirectUri], grant_types: ['authorization_code'], response_types: ['code'] }],
    async findAccount(_ctx: unknown, id: string) {
      const a = accounts[id];
      if (!a) return undefined;
      return { accountId: id, claims: async () => ({ sub: id, preferred_username: id, email: a.email ?? `${id}@example.test`, groups: a.groups }) };
    },
    claims: { openid: ['sub'], profile: ['preferred_username'], email: ['email'], groups: ['groups'] },
    scopes: ['openid', 'profile', 'email', 'groups'],
    pkce: { required: () => true },
    features: { devInteractions: { enabled: true } },
    cookies: { keys: ['test-cookie-key-not-secret'] },
  });
  // The provider warns about dev interactions and in-memory storage: expected in a test.
  provider.on('server_error', (_ctx: unknown, err: Error) => console.error('oidc-provider:', err));
  server.on('request', provider.callback());
  return {
    issuer,
    clientId,
    clientSecret,
    stop: () => new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    }),
  };
}
