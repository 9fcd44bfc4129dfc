// A seeded fuzzer of the HTTP API: every route of the OpenAPI document, with hostile path
// parameters, query strings (repeated, huge, NUL), bodies (wrong types, NUL bytes, huge
// numbers, deep nesting, broken JSON) and tokens. Bounded in count; repeatable by seed
// (SHIPGATE_FUZZ_SEED). Whatever comes in, the answer is never a 5xx, on either store.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { createShipgate, sqlStoreOn } from '../../src/main.js';
import { OPERATIONS } from '../../src/server/operations.js';
import { buildServer } from '../../src/server/app.js';
import { openApiDocument } from '../../src/server/openapi.js';
import type { Database } from '../../src/store/db.js';
import { testConfig } from '../support/config.js';
import { freshDatabase, STORE_KINDS } from '../support/databases.js';
import { mulberry32 } from '../support/random.js';

const SEED = Number(process.env.SHIPGATE_FUZZ_SEED ?? 20261123);
const REQUESTS = 2500;

const STRINGS = [
  '', 'web', 'api', 'production', 'staging', '1.4.2', 'latest', 'approve', 'reject', 'succeeded', 'failed', 'rollback-plan',
  'a\u0000b', '\u0000', 'x'.repeat(5000), '💥', '../../etc/passwd', "'; drop table deployments; --", '%00', '%zz', ' ', '\n',
  `sha256:${'ab'.repeat(32)}`, 'sha256:', 'deployment:1', 'release:web@1.4.2', 'awaiting_approval', 'approved,rolling_out',
];
const NUMBERS = [0, 1, 2, -1, 2 ** 31, 2 ** 31 - 1, 2 ** 53, 1e308, -0, 0.5, Number.MAX_SAFE_INTEGER];
const PATH_VALUES = ['1', '2', '0', '-1', '999999999999', '99999999999999999999', '2147483648', 'abc', '%00', 'a%00b', '%F0%9F%92%A5', 'web', '1.4.2', 'x'.repeat(3000), '%zz', '1e3', '0x10', ' 1'];
const QUERY_KEYS = ['state', 'service', 'environment', 'limit', 'after', 'subject', 'bogus'];
const BODY_KEYS = ['service', 'version', 'environment', 'digest', 'commit', 'builtAt', 'reports', 'decision', 'comment', 'role', 'reason', 'note', 'outcome', 'type', 'incident', 'name', 'content', 'kind'];

function fuzzer(rand: () => number) {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
  const value = (depth: number): unknown => {
    const r = rand();
    if (r < 0.35) return pick(STRINGS);
    if (r < 0.5) return pick(NUMBERS);
    if (r < 0.58) return pick([true, false, null]);
    if (depth > 3) return pick(STRINGS);
    if (r < 0.75) return Array.from({ length: Math.floor(rand() * 4) }, () => value(depth + 1));
    return object(depth + 1);
  };
  const object = (depth: number): Record<string, unknown> =>
    Object.fromEntries(Array.from({ length: 1 + Math.floor(rand() * 5) }, () => [pick(BODY_KEYS), value(depth)]));
  const body = (): { payload?: string; contentType?: string } => {
    const r = rand();
    if (r < 0.08) return {};
    if (r < 0.14) return { payload: pick(['{', '{"service":', 'null', '[]', '"x"', '{"a":1}}', '\u0000', '{"service":"w\\u0000"}']) , contentType: 'application/json' };
    if (r < 0.18) return { payload: `${'['.repeat(5000)}${']'.repeat(5000)}`, contentType: 'application/json' };
    if (r < 0.21) return { payload: 'service=web', contentType: pick(['text/plain', 'application/x-www-form-urlencoded', 'application/xml']) };
    return { payload: JSON.stringify(rand() < 0.9 ? object(0) : value(0)), contentType: 'application/json' };
  };
  const query = (): string => {
    const n = Math.floor(rand() * 4);
    if (n === 0) return '';
    const parts = Array.from({ length: n }, () => `${pick(QUERY_KEYS)}=${encodeURIComponent(String(rand() < 0.5 ? pick(STRINGS) : pick(NUMBERS)))}`);
    if (rand() < 0.3) parts.push(parts[0]); // the same parameter twice
    if (rand() < 0.1) parts.push(`${pick(QUERY_KEYS)}=%00`);
    return `?${parts.join('&')}`;
  };
  return { pick, body, query };
}

for (const kind of STORE_KINDS) {
  describe(`the HTTP API under a seeded fuzzer on ${kind} (seed ${SEED})`, () => {
    let database: Database;
    after(async () => database?.close());

    test(`${REQUESTS} hostile requests: never a 5xx`, async () => {
      database = await freshDatabase(kind);
      const clock = { now: new Date('2026-11-24T09:00:00Z') };
      const app = createShipgate({ config: testConfig(), store: sqlStoreOn(database), now: () => clock.now });
      const admin = { user: 'admin', via: 'local' as const };
      const tokens = await Promise.all(['alice', 'bob', 'carol'].map(async (u) => (await app.access.createToken(admin, u, 'fuzz')).token));
      // Something to find: a release verified in staging, one deployment waiting for approval.
      await app.releases.register({ user: 'carol', via: 'local' }, { service: 'web', version: '1.4.2', digest: `sha256:${'ab'.repeat(32)}`, commit: 'abc1234' });
      await app.releases.verify({ user: 'carol', via: 'local' }, 'web', '1.4.2', 'staging');
      clock.now = new Date('2026-11-24T10:01:00Z');
      await app.deployments.request({ user: 'carol', via: 'local' }, { service: 'web', version: '1.4.2', environment: 'production' });
      const server = buildServer(app, { bodyLimit: 256 * 1024 });
      const routes = Object.entries((openApiDocument(OPERATIONS) as { paths: Record<string, Record<string, unknown>> }).paths).flatMap(([p, methods]) =>
        Object.keys(methods).map((m) => ({ path: p, method: m.toUpperCase() })),
      );
      const rand = mulberry32(SEED);
      const f = fuzzer(rand);
      const bad: string[] = [];
      const seen = new Map<number, number>();
      try {
        for (let i = 0; i < REQUESTS; i++) {
          const route = f.pick(routes);
          const method = rand() < 0.9 ? route.method : f.pick(['GET', 'POST', 'PUT', 'DELETE', 'PATCH']);
          const url = route.path.replace(/\{[^}]+\}/g, () => (rand() < 0.7 ? f.pick(PATH_VALUES) : encodeURIComponent(f.pick(STRINGS)))) + f.query();
          const b = method === 'GET' ? {} : f.body();
          const auth = rand() < 0.9 ? `Bearer ${f.pick(tokens)}` : f.pick(['', 'Bearer ', 'Bearer sg_nope', 'Basic abc', `Bearer ${'x'.repeat(9000)}`]);
          const res = await server.inject({
            method: method as 'GET',
            url,
            headers: { ...(auth ? { authorization: auth } : {}), ...(b.contentType ? { 'content-type': b.contentType } : {}) },
            ...(b.payload !== undefined ? { payload: b.payload } : {}),
          });
          seen.set(res.statusCode, (seen.get(res.statusCode) ?? 0) + 1);
          if (res.statusCode >= 500) bad.push(`#${i} ${method} ${url.slice(0, 120)} ${(b.payload ?? '').slice(0, 120)} → ${res.statusCode} ${res.body.slice(0, 200)}`);
        }
      } finally {
        await server.close();
      }
      assert.deepEqual(bad.slice(0, 10), [], `${bad.length} of ${REQUESTS} requests got a 5xx (seed ${SEED}); statuses ${JSON.stringify(Object.fromEntries(seen))}`);
      assert.ok((seen.get(200) ?? 0) + (seen.get(201) ?? 0) > 20, `some requests succeed too: ${JSON.stringify(Object.fromEntries(seen))}`);
      assert.equal((await app.audit.verify()).ok, true);
    });
  });
}
