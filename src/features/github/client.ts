// Talking to GitHub as the App installation: a pre-issued token from the environment (simple
// mode), or an installation access token obtained with a JWT signed by the App's private key
// (App mode, RS256 with node:crypto, cached until shortly before it expires). And the one call
// shipgate makes: the answer to a deployment protection rule run, POSTed to its callback URL.
import { createPrivateKey, sign } from 'node:crypto';
import type { GithubSettings } from './config.js';
import type { GithubAnswer } from './store.js';

export interface CallbackResult {
  status: number;
  /** GitHub's answer text, for the error stored on a failed send. */
  text: string;
}

const b64url = (b: Buffer | string) => Buffer.from(b).toString('base64url');

/** A GitHub App JWT: iss = app id, valid ten minutes (backdated a minute for clock skew). */
export function appJwt(appId: string, privateKeyPem: string, now: Date): string {
  const iat = Math.floor(now.getTime() / 1000) - 60;
  const header = b64url(JSON.stringify({ alg: 'RS256', typ: 'JWT' }));
  const claims = b64url(JSON.stringify({ iat, exp: iat + 600, iss: appId }));
  const signature = sign('sha256', Buffer.from(`${header}.${claims}`), createPrivateKey(privateKeyPem));
  return `${header}.${claims}.${b64url(signature)}`;
}

export class GithubClient {
  private readonly tokens = new Map<number, { token: string; expiresAt: number }>();

  constructor(
    private readonly s: GithubSettings,
    private readonly env: NodeJS.ProcessEnv,
    private readonly now: () => Date,
    private readonly timeoutMs = 15_000,
  ) {}

  /** Which way shipgate authenticates, or what is missing (for logs and docs). */
  mode(): 'app' | 'token' | null {
    if (this.s.app && this.env[this.s.app.privateKeyEnv]) return 'app';
    if (this.s.tokenEnv && this.env[this.s.tokenEnv]) return 'token';
    return null;
  }

  async token(installationId: number | null): Promise<string> {
    const mode = this.mode();
    if (mode === 'token') return this.env[this.s.tokenEnv!]!;
    if (mode !== 'app') {
      throw new Error(`no GitHub credentials: set ${this.s.app ? this.s.app.privateKeyEnv : (this.s.tokenEnv ?? 'github.token_env or github.app')}`);
    }
    if (installationId === null) throw new Error('the webhook named no installation, so no installation token can be obtained');
    const cached = this.tokens.get(installationId);
    if (cached && cached.expiresAt - 60_000 > this.now().getTime()) return cached.token;
    const jwt = appJwt(this.s.app!.id, this.env[this.s.app!.privateKeyEnv]!, this.now());
    const res = await fetch(`${this.s.apiUrl}/app/installations/${installationId}/access_tokens`, {
      method: 'POST',
      headers: { authorization: `Bearer ${jwt}`, accept: 'application/vnd.github+json', 'x-github-api-version': '2022-11-28', 'user-agent': 'shipgate' },
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`GitHub refused an installation token for installation ${installationId}: ${res.status} ${text.slice(0, 300)}`);
    const body = JSON.parse(text) as { token?: string; expires_at?: string };
    if (!body.token) throw new Error('GitHub answered no token for the installation');
    const expiresAt = body.expires_at ? Date.parse(body.expires_at) : this.now().getTime() + 3_600_000;
    this.tokens.set(installationId, { token: body.token, expiresAt });
    return body.token;
  }

  async answer(callbackUrl: string, installationId: number | null, environment: string, state: GithubAnswer, comment: string): Promise<CallbackResult> {
    const token = await this.token(installationId);
    const res = await fetch(callbackUrl, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${token}`,
        accept: 'application/vnd.github+json',
        'content-type': 'application/json',
        'x-github-api-version': '2022-11-28',
        'user-agent': 'shipgate',
      },
      // GitHub caps the comment; a long rejection reason is cut, not refused.
      body: JSON.stringify({ environment_name: environment, state, comment: comment.slice(0, 1000) }),
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    return { status: res.status, text: (await res.text()).slice(0, 300) };
  }
}
