// The endpoint GitHub's deployment_protection_rule webhook calls, and the loop that answers
// GitHub once shipgate decides. The route lives in a fastify scope of its own whose body parser
// keeps the raw bytes: the signature is over exactly what GitHub sent.
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import type { Shipgate } from '../../main.js';
import { GithubAnswers } from './answers.js';
import { GithubClient } from './client.js';
import { githubSettings } from './config.js';
import { ProtectionRules } from './protection.js';

export const GITHUB_WEBHOOK_PATH = '/api/v1/github/deployment-protection';

export function registerGithub(server: FastifyInstance, sg: Shipgate, env: NodeJS.ProcessEnv = process.env): void {
  const rules = new ProtectionRules(sg, env);
  server.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
    scope.post(GITHUB_WEBHOOK_PATH, async (req, reply) => {
      const header = (name: string) => {
        const v = req.headers[name];
        return Array.isArray(v) ? v[0] : v;
      };
      const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      // A webhook may be set to send form-encoded bodies (payload=<json>); the signature is
      // over the form, the JSON is inside it.
      const form = (header('content-type') ?? '').startsWith('application/x-www-form-urlencoded');
      const out = await rules.receive({
        event: header('x-github-event'),
        deliveryId: header('x-github-delivery'),
        signature: header('x-hub-signature-256'),
        body,
        ...(form ? { json: Buffer.from(new URLSearchParams(body.toString('utf8')).get('payload') ?? '') } : {}),
      });
      return reply.status(out.status).send(out.body);
    });
  });
}

export function startGithub(sg: Shipgate, log: FastifyBaseLogger, env: NodeJS.ProcessEnv = process.env): { stop(): Promise<void> } {
  const s = githubSettings(sg.config.github);
  if (s.repositories.length === 0) return { stop: async () => {} };
  const client = new GithubClient(s, env, sg.now);
  if (!client.mode()) log.warn({}, `GitHub protection rules: no credentials to answer GitHub with; set ${s.app?.privateKeyEnv ?? s.tokenEnv ?? 'github.app or github.token_env'}`);
  const answers = new GithubAnswers(sg, s, client, log);
  // One round at a time: a slow GitHub never piles rounds up.
  let current: Promise<unknown> | null = null;
  let stopped = false;
  const timer = setInterval(() => {
    if (stopped || current) return;
    current = answers
      .round()
      .catch((err: Error) => log.error({ err: err.message }, 'answering GitHub failed'))
      .finally(() => (current = null));
  }, s.pollEveryMs);
  return {
    stop: async () => {
      stopped = true;
      clearInterval(timer);
      await current;
    },
  };
}
