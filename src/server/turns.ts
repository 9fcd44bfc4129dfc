// Requests take turns: at most one request's handler starts per turn of the event loop, in the
// order the requests arrived.
//
// Why: Node's event loop (libuv 1.45 and later, libuv/libuv#3696) accepts one new connection
// per turn, and on SQLite a request runs start to finish inside the turn that read it
// (better-sqlite3 answers synchronously, so every await in between resolves without going back
// to the loop). Without turns, one turn serves every keep-alive connection that has a request
// ready, then accepts one more connection: when 100 clients connect at once, the connections
// still waiting to be accepted are let in one per round of all the others, and the last ones
// wait for seconds (bench/approve-latency.ts). With turns, a turn costs one request, a waiting
// connection is accepted within a request's time, and every request queues behind at most one
// request per open connection. On PostgreSQL a request waits on the network anyway: starting
// one per turn only orders them.
//
// Work outside requests that runs long on SQLite (the reconciler going over every open
// deployment) awaits takeTurn() between items, so requests are not held up behind it. The
// queue of turns lives in src/store/turns.ts, shared by both (features do not import server).
import type { FastifyInstance } from 'fastify';
import { queueTurn } from '../store/turns.js';

export { takeTurn } from '../store/turns.js';

/** Every request's handler waits for its turn (after the body is read and parsed). */
export function takeTurns(server: FastifyInstance): void {
  server.addHook('preHandler', (_req, _reply, done) => queueTurn(done));
}
