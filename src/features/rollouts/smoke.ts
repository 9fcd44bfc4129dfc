// Smoke tests: a few HTTP checks run against one version after every weight change and after
// a rollback. Each says what it expected and what came back; an auth token is read from the
// environment variable the check names and never appears in a reason, a log or the record.
import type { SmokeCheckSpec, SmokeOutcome } from '../../domain/rollout.js';

const DEFAULT_TIMEOUT_MS = 5000;
const MAX_BODY = 1_000_000;

export async function runSmokeChecks(baseUrl: string, checks: SmokeCheckSpec[], env: NodeJS.ProcessEnv = process.env): Promise<SmokeOutcome[]> {
  return Promise.all(checks.map((c) => runSmokeCheck(baseUrl, c, env)));
}

export async function runSmokeCheck(baseUrl: string, check: SmokeCheckSpec, env: NodeJS.ProcessEnv = process.env): Promise<SmokeOutcome> {
  const started = performance.now();
  const done = (ok: boolean, status: number | null, reason: string): SmokeOutcome => ({
    name: check.name,
    ok,
    status,
    durationMs: Math.round((performance.now() - started) * 10) / 10,
    reason,
  });
  const headers: Record<string, string> = { accept: 'application/json, text/html;q=0.9, */*;q=0.5' };
  let token: string | undefined;
  if (check.tokenEnv) {
    token = env[check.tokenEnv];
    if (!token) return done(false, null, `${check.name}: the token variable ${check.tokenEnv} is not set`);
    headers.authorization = `Bearer ${token}`;
  }
  const method = (check.method ?? 'GET').toUpperCase();
  const url = new URL(check.path, baseUrl).toString();
  const timeoutMs = check.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const redact = (s: string) => (token ? s.split(token).join('***') : s);
  let res: Response;
  let body: string;
  try {
    res = await fetch(url, { method, headers, signal: AbortSignal.timeout(timeoutMs), redirect: 'manual' });
    body = (await res.text()).slice(0, MAX_BODY);
  } catch (err) {
    const e = err as Error;
    const why = e.name === 'TimeoutError' || e.name === 'AbortError' ? `no answer within ${timeoutMs} ms` : `request failed (${(e.cause as Error | undefined)?.message ?? e.message})`;
    return done(false, null, redact(`${check.name}: ${method} ${check.path}: ${why}`));
  }
  const expected = check.expectStatus ?? 200;
  const where = `${check.name}: ${method} ${check.path}`;
  if (res.status !== expected) return done(false, res.status, redact(`${where} answered ${res.status}, expected ${expected}`));
  if (check.headerPresent && !res.headers.has(check.headerPresent)) {
    return done(false, res.status, `${where}: header ${check.headerPresent} missing`);
  }
  if (check.bodyContains !== undefined && !body.includes(check.bodyContains)) {
    return done(false, res.status, redact(`${where}: body does not contain ${JSON.stringify(check.bodyContains)}`));
  }
  if (check.jsonEquals) {
    let doc: unknown;
    try {
      doc = JSON.parse(body);
    } catch {
      return done(false, res.status, `${where}: body is not JSON`);
    }
    for (const [field, want] of Object.entries(check.jsonEquals)) {
      const got = fieldAt(doc, field);
      if (want === '*' ? got === undefined || got === null : JSON.stringify(got) !== JSON.stringify(want)) {
        const wanted = want === '*' ? 'present' : JSON.stringify(want);
        return done(false, res.status, redact(`${where}: ${field} is ${got === undefined ? 'missing' : JSON.stringify(got)}, expected ${wanted}`));
      }
    }
  }
  return done(true, res.status, `${where} answered ${res.status} as expected`);
}

/** "data.user.id" → doc.data.user.id. */
function fieldAt(doc: unknown, field: string): unknown {
  let v: unknown = doc;
  for (const k of field.split('.')) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string, unknown>)[k];
  }
  return v;
}
