// The HTTP server's defences, over real sockets on loopback: a request trickled byte by byte is
// cut at its deadline, every answer carries the security headers, failed authentications are
// limited per address, and `shipgate serve --tls-cert --tls-key` speaks HTTPS.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { createShipgate, sqlStoreOn } from '../../src/main.js';
import { buildServer } from '../../src/server/app.js';
import type { Database } from '../../src/store/db.js';
import { cliIn } from '../support/cli.js';
import { testConfig } from '../support/config.js';
import { freshDatabase, tempDir } from '../support/databases.js';
import { startServe, until, type Served } from '../support/serve.js';

const TLS = path.resolve(import.meta.dirname, '../fixtures/tls');

describe('HTTP hardening', () => {
  let database: Database;
  let server: FastifyInstance;
  let base: string;
  let port: number;
  let token: string;

  before(async () => {
    database = await freshDatabase('sqlite');
    const app = createShipgate({ config: testConfig(), store: sqlStoreOn(database) });
    token = (await app.access.createToken({ user: 'admin', via: 'local' }, 'carol', 'test')).token;
    server = buildServer(app, { hardening: { requestTimeoutMs: 1500 } });
    await server.listen({ host: '127.0.0.1', port: 0 });
    port = (server.server.address() as net.AddressInfo).port;
    base = `http://127.0.0.1:${port}`;
  });
  after(async () => {
    await server.close();
    await database.close();
  });

  test('a body trickled one byte at a time is cut at the request deadline with 408', async () => {
    const socket = net.connect(port, '127.0.0.1');
    await new Promise((r) => socket.once('connect', r));
    const started = Date.now();
    let answer = '';
    socket.on('data', (b) => (answer += b.toString()));
    const closed = new Promise<number>((resolve) => socket.once('close', () => resolve(Date.now() - started)));
    socket.write(`POST /api/v1/releases HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n`);
    const drip = setInterval(() => socket.writable && socket.write('{'), 300);
    const ms = await Promise.race([closed, new Promise<number>((r) => setTimeout(() => r(-1), 20_000))]);
    clearInterval(drip);
    socket.destroy();
    assert.ok(ms > 0, 'the server closed the connection within 20 s');
    assert.ok(ms >= 1400, `not before the deadline (${ms} ms)`);
    assert.match(answer, /^HTTP\/1\.1 408/);
  });

  test('every answer carries the security headers, errors included', async () => {
    for (const [url, headers, status] of [
      ['/healthz', {}, 200],
      ['/api/v1/status', { authorization: `Bearer ${token}` }, 200],
      ['/api/v1/nothing-here', { authorization: `Bearer ${token}` }, 404],
      ['/api/v1/status', {}, 401],
    ] as const) {
      const res = await fetch(`${base}${url}`, { headers });
      assert.equal(res.status, status, url);
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff', url);
      assert.equal(res.headers.get('x-frame-options'), 'DENY', url);
      assert.match(res.headers.get('content-security-policy') ?? '', /frame-ancestors 'none'/, url);
      assert.equal(res.headers.get('cache-control'), 'no-store', url);
      assert.equal(res.headers.get('strict-transport-security'), null, 'no HSTS over plain HTTP');
    }
  });

  test('failed authentications are limited per address: past the limit 429 with Retry-After, until the window ends', async () => {
    // A server of its own, so no failure from another test counts here.
    const app = createShipgate({ config: testConfig(), store: sqlStoreOn(database) });
    const limited = buildServer(app, { hardening: { authFailures: { max: 5, windowMs: 10_000 } } });
    await limited.listen({ host: '127.0.0.1', port: 0 });
    after(() => limited.close());
    const base = `http://127.0.0.1:${(limited.server.address() as net.AddressInfo).port}`;
    const statuses: number[] = [];
    let retryAfter: string | null = null;
    // Up to 200 guesses, all inside one window (stopped at 5 s, half of it, on a busy machine).
    const started = Date.now();
    for (let i = 0; i < 200 && Date.now() - started < 5000; i++) {
      const res = await fetch(`${base}/api/v1/status`, { headers: { authorization: `Bearer sg_guess${i}` } });
      statuses.push(res.status);
      if (res.status === 429) retryAfter ??= res.headers.get('retry-after');
    }
    assert.equal(statuses.filter((s) => s === 401).length, 5);
    assert.ok(statuses.length >= 20, `${statuses.length} guesses in 5 s`);
    assert.equal(statuses.filter((s) => s === 429).length, statuses.length - 5);
    assert.ok(Number(retryAfter) >= 1 && Number(retryAfter) <= 10, `Retry-After ${retryAfter}`);
    // Locked out: even a good token from this address waits for the window to end.
    assert.equal((await fetch(`${base}/api/v1/status`, { headers: { authorization: `Bearer ${token}` } })).status, 429);
    await until('the good token works again after the window', async () => (await fetch(`${base}/api/v1/status`, { headers: { authorization: `Bearer ${token}` } })).status === 200, 30_000);
  });
});

describe('serve --tls-cert --tls-key', () => {
  let served: Served | null = null;
  after(async () => served?.stop());

  test('speaks HTTPS with the given certificate, sends HSTS, and refuses plain HTTP', async () => {
    const dir = tempDir('shipgate-tls-');
    fs.writeFileSync(path.join(dir, 'shipgate.yaml'), 'version: 1\nroles: [dev]\nusers:\n  - { name: carol, roles: [dev] }\nservices:\n  - name: web\nenvironments:\n  - name: staging\n    policy: { auto_approve: true }\n');
    const env = { ...process.env, SHIPGATE_DATABASE_URL: '' };
    const bad = await cliIn(dir, () => env).cli(['serve', '--port', '0', '--tls-cert', path.join(TLS, 'cert.pem')]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--tls-cert and --tls-key go together/);

    served = await startServe(dir, env, ['--tls-cert', path.join(TLS, 'cert.pem'), '--tls-key', path.join(TLS, 'key.pem')]);
    assert.match(served.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    const ca = fs.readFileSync(path.join(TLS, 'cert.pem'));
    const res = await new Promise<{ status: number; hsts: string | undefined; body: string }>((resolve, reject) => {
      https
        .get(`${served!.url}/healthz`, { ca }, (r) => {
          let body = '';
          r.on('data', (c) => (body += c));
          r.on('end', () => resolve({ status: r.statusCode ?? 0, hsts: r.headers['strict-transport-security'] as string | undefined, body }));
        })
        .on('error', reject);
    });
    assert.equal(res.status, 200);
    assert.match(res.body, /"status":"ok"/);
    assert.equal(res.hsts, 'max-age=31536000');
    const plain = await fetch(served.url.replace('https:', 'http:') + '/healthz').then((r) => r.status, () => 'refused');
    assert.notEqual(plain, 200, 'plain HTTP gets no answer from the HTTPS port');
  });
});
