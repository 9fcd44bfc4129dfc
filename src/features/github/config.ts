// PLACEHOLDER (being written): the `github:` section of shipgate.yaml.
import { z } from 'zod';

export const githubSection = z.strictObject({}).optional().describe('GitHub deployment protection rules (being written)');

export type GithubConfig = Record<string, never>;

export function resolveGithub(_raw: z.infer<typeof githubSection>, _dir: string): GithubConfig {
  return {};
}
