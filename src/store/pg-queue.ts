// A queue in front of pg's pool. pg's pool uses one timeout both for opening a connection and
// for waiting until a busy one is free, so 50 requests racing on 10 connections of a loaded
// machine could be told "store unavailable" while the database answers fine. Here a request
// waits its turn for a slot (up to `waitMs`, then the same "timeout" a dead server gives),
// and pg's own timeout is left to measure only what it should: reaching the server.
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
      let released = false;
      const own = client.release.bind(client);
      client.release = () => {
        own();
        if (!released) {
          released = true;
          release();
        }
      };
      return client;
    },
    end: () => pool.end(),
  };
}
