// The `github:` section of shipgate.yaml: how shipgate acts as a GitHub deployment protection
// rule. Which repositories are which services, which GitHub environments are which shipgate
// environments, who requests the deployments, and how shipgate authenticates to GitHub. Secrets
// appear only as the names of environment variables that hold them. An empty or absent section
// is valid: the endpoint then answers that the protection rule is not configured.
import { z } from 'zod';
import { duration, durationSeconds } from '../../config/duration.js';

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const envName = (what: string) => z.string().regex(ENV_NAME, `expected the name of an environment variable holding ${what}`);

const repository = z.strictObject({
  repository: z
    .string()
    .regex(/^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/, 'expected owner/name, e.g. acme/web')
    .describe('the GitHub repository, owner/name (case-insensitive)'),
  service: z.string().min(1).describe('the shipgate service its deployments are'),
  environments: z
    .record(z.string().min(1), z.string().min(1))
    .optional()
    .describe('GitHub environment name → shipgate environment; absent: the same name in both'),
  approve_when: z
    .enum(['approved', 'succeeded'])
    .default('approved')
    .describe("answer GitHub 'approved' once shipgate approved the deployment (the job deploys), or once shipgate's own rollout succeeded"),
});

export const githubSection = z
  .strictObject({
    webhook_secret_env: envName('the GitHub App webhook secret').default('SHIPGATE_GITHUB_WEBHOOK_SECRET'),
    api_url: z.url().default('https://api.github.com').describe("GitHub's REST API; callbacks are only ever sent to this origin"),
    user: z.string().min(1).default('github').describe('the shipgate user (in users:) deployments from GitHub are requested as'),
    token_env: envName('a pre-issued installation access token').optional().describe('simple mode: a token used as is for every callback'),
    app: z
      .strictObject({
        id: z.union([z.number().int().positive(), z.string().regex(/^\d+$/)]).describe('the GitHub App id'),
        private_key_env: envName("the App's PEM private key").describe('the key signs the JWT that obtains installation tokens'),
      })
      .optional()
      .describe('App mode: installation tokens obtained with a JWT signed by the App key (preferred over token_env)'),
    poll_every: duration.default('5s').describe("how often shipgate looks for decisions to send to GitHub"),
    repositories: z.array(repository).default([]),
  })
  .optional()
  .describe('GitHub deployment protection rule: GitHub asks shipgate before a job deploys to an environment (docs/github.md)');

export interface GithubRepository {
  /** owner/name, lower-cased. */
  repository: string;
  service: string;
  /** GitHub environment (lower-cased) → shipgate environment; null: same name. */
  environments: Record<string, string> | null;
  approveWhen: 'approved' | 'succeeded';
}

/** Every field optional, so `{}` (no section) is valid; `githubSettings` fills the defaults. */
export interface GithubConfig {
  webhookSecretEnv?: string;
  apiUrl?: string;
  user?: string;
  tokenEnv?: string;
  app?: { id: string; privateKeyEnv: string };
  pollEveryMs?: number;
  repositories?: GithubRepository[];
}

export type GithubSettings = Required<Omit<GithubConfig, 'tokenEnv' | 'app'>> & Pick<GithubConfig, 'tokenEnv' | 'app'>;

export function resolveGithub(raw: z.infer<typeof githubSection>, _dir: string): GithubConfig {
  if (!raw) return {};
  return {
    webhookSecretEnv: raw.webhook_secret_env,
    apiUrl: raw.api_url.replace(/\/+$/, ''),
    user: raw.user,
    ...(raw.token_env ? { tokenEnv: raw.token_env } : {}),
    ...(raw.app ? { app: { id: String(raw.app.id), privateKeyEnv: raw.app.private_key_env } } : {}),
    pollEveryMs: Math.max(1, durationSeconds(raw.poll_every)) * 1000,
    repositories: raw.repositories.map((r) => ({
      repository: r.repository.toLowerCase(),
      service: r.service,
      environments: r.environments ? Object.fromEntries(Object.entries(r.environments).map(([k, v]) => [k.toLowerCase(), v])) : null,
      approveWhen: r.approve_when,
    })),
  };
}

export function githubSettings(c: GithubConfig): GithubSettings {
  return {
    webhookSecretEnv: c.webhookSecretEnv ?? 'SHIPGATE_GITHUB_WEBHOOK_SECRET',
    apiUrl: (c.apiUrl ?? 'https://api.github.com').replace(/\/+$/, ''),
    user: c.user ?? 'github',
    tokenEnv: c.tokenEnv,
    app: c.app,
    pollEveryMs: c.pollEveryMs ?? 5000,
    repositories: c.repositories ?? [],
  };
}

/** The service and environment a GitHub repository and environment are, or why there are none. */
export function mapTarget(s: GithubSettings, repository: string, githubEnvironment: string): { repo: GithubRepository; environment: string } | { problem: string } {
  const repo = s.repositories.find((r) => r.repository === repository.toLowerCase());
  if (!repo) {
    return { problem: `shipgate has no service for GitHub repository ${repository}; add it to github.repositories in shipgate.yaml (known: ${s.repositories.map((r) => r.repository).join(', ') || 'none'})` };
  }
  if (!repo.environments) return { repo, environment: githubEnvironment };
  const environment = repo.environments[githubEnvironment.toLowerCase()];
  if (!environment) {
    return { problem: `GitHub environment '${githubEnvironment}' of ${repository} maps to no shipgate environment; github.repositories maps: ${Object.keys(repo.environments).join(', ')}` };
  }
  return { repo, environment };
}
