// A queue in front of pg's pool. pg's pool uses one timeout both for opening a connection and
// for waiting until a busy one is free, so 50 requests racing on 10 connections of a loaded
// machine could be told "store unavailable" while the database answers fine. Here a request
// waits its turn for a slot (up to `waitMs`, then the same "timeout" a dead server gives),
// and pg's own timeout is left to measure only what it should: reaching the server. It also
// listens for the errors of the connections it lends out (below).
import type { EventEmitter } from 'node:events';
import type { PostgresPool, PostgresPoolClient } from 'kysely';

export function queuedPool(pool: PostgresPool, slots: number, waitMs: number): PostgresPool {
  let free = slots;
  const waiting: Array<() => void> = [];
  const release = () => {
    const next = waiting.shift();
    if (next) next();
    else free++;
  };
  const turn = () =>
    new Promise<void>((resolve, reject) => {
      if (free > 0) {
        free--;
        resolve();
        return;
      }
      const go = () => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        const at = waiting.indexOf(go);
        if (at >= 0) waiting.splice(at, 1);
        reject(new Error(`timeout exceeded when trying to connect: no free database connection after ${waitMs} ms`));
      }, waitMs);
      waiting.push(go);
    });
  return {
    async connect(): Promise<PostgresPoolClient> {
      await turn();
      let client: PostgresPoolClient;
      try {
        client = await pool.connect();
      } catch (err) {
        release();
        throw err;
      }
      // pg's pool stops listening for a connection's errors while it is lent out. One the server
      // cuts then (PostgreSQL stopping, pg_terminate_backend) between two statements would
      // raise an 'error' nobody hears, and that ends the process. Heard here instead: the next
      // statement fails as a store error, and the connection is dropped when given back.
      let cut: Error | undefined;
      const onError = (err: Error) => {
        cut ??= err;
      };
      const events = client as PostgresPoolClient & Partial<Pick<EventEmitter, 'on' | 'removeListener'>>;
      events.on?.('error', onError);
      let released = false;
      const own = client.release.bind(client) as (err?: Error) => void;
      client.release = () => {
        if (released) return own();
        released = true;
        events.removeListener?.('error', onError);
        own(cut);
        release();
      };
      return client;
    },
    end: () => pool.end(),
  };
}
