// Turns of the event loop, taken one at a time in the order they were asked for: requests
// take one each before their handler runs (src/server/turns.ts), and long work outside
// requests (the reconciler going over every open deployment) takes one between items.
//
// Why: on SQLite a piece of work runs start to finish inside the turn that began it
// (better-sqlite3 answers synchronously, so every await in between resolves without going back
// to the loop). Work that awaits a turn between items lets the requests queued meanwhile run
// in between, instead of holding them up until it ends. Kept here, beside the store whose
// synchronous answers make it needed, so features can take turns without importing the server.

const waiting: Array<() => void> = [];
let scheduled = false;

function next(): void {
  scheduled = false;
  waiting.shift()?.();
  if (waiting.length > 0) schedule();
}

function schedule(): void {
  scheduled = true;
  setImmediate(next);
}

/** Runs `go` on a later turn of the event loop, after everything that queued before it. */
export function queueTurn(go: () => void): void {
  waiting.push(go);
  if (!scheduled) schedule();
}

/** Resolves on a later turn of the event loop, after everything that queued before it. */
export function takeTurn(): Promise<void> {
  return new Promise((resolve) => queueTurn(resolve));
}
