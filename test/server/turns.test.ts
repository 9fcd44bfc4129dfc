// A burst of new connections is not starved by clients already connected (server/turns.ts).
// Node accepts one connection per turn of its event loop; a request that works synchronously
// (as every SQLite request does) used to be served together with every other ready request in
// one turn, so 96 clients connecting at once were let in one per round of the others and the
// last waited for seconds. Measured here by order, not by time: how many answers the server
// gave before each new connection got its first one.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { createShipgate, inMemoryStore } from '../../src/main.js';
import { buildServer } from '../../src/server/app.js';
import { operation } from '../../src/server/operation.js';
import { testConfig } from '../support/config.js';

test('100 clients connecting at once beside 4 busy keep-alive clients: each gets its first answer within about one request per client', async () => {
  const served: string[] = [];
  const work = operation({
    method: 'GET',
    path: '/work',
    summary: 'synchronous work, as a SQLite request does',
    permission: 'anyone',
    async handle() {
      const until = performance.now() + 1;
      while (performance.now() < until);
      return { ok: true };
    },
  });
  const sg = createShipgate({ config: testConfig(), store: inMemoryStore() });
  const server = buildServer(sg, { operations: [work] });
  server.addHook('onRequest', async (req) => {
    served.push(`${req.socket.remotePort}`);
  });
  await server.listen({ host: '127.0.0.1', port: 0 });
  const port = (server.server.address() as AddressInfo).port;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 200 });
  const get = () =>
    new Promise<void>((resolve, reject) => {
      http.get({ host: '127.0.0.1', port, path: '/work', agent }, (res) => {
        res.resume();
        res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`status ${res.statusCode}`))));
      }).on('error', reject);
    });
  try {
    // Four clients keep the server busy; then 100 more connect at once and each sends 5 requests.
    await Promise.all([get(), get(), get(), get()]);
    const warm = new Set(served);
    let busy = true;
    const keepBusy = Promise.all(Array.from({ length: 4 }, async () => {
      while (busy) await get();
    }));
    await Promise.all(Array.from({ length: 100 }, async () => {
      for (let i = 0; i < 5; i++) await get();
    }));
    busy = false;
    await keepBusy;
    // Where in the order of requests each new connection was first heard of.
    const firstSeen = new Map<string, number>();
    served.forEach((p, i) => {
      if (!warm.has(p) && !firstSeen.has(p)) firstSeen.set(p, i);
    });
    assert.equal(firstSeen.size, 100);
    const start = Math.min(...firstSeen.values());
    const latest = Math.max(...firstSeen.values()) - start;
    // Fair: every new connection is heard within a couple of rounds of one request per open
    // connection (about 2 × 104). Starved, the last waited behind ~96 rounds of the busy four.
    assert.ok(latest <= 250, `the last new connection was heard after ${latest} other requests`);
  } finally {
    agent.destroy();
    await server.close();
  }
});
