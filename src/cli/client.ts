// How a command reaches shipgate: over HTTP to a server (--server, with a token), or in this
// process on the local store. Both call the same operations (features/*/operations.ts) and
// answer the same JSON: the in-process call runs the very handler the server's route runs and
// passes its answer through JSON, as the wire would.
import { ShipgateError, type ErrorCode } from '../errors.js';
import type { Actor } from '../features/access/actor.js';
import type { Shipgate } from '../main.js';
import { invoke, isStreamed, type Operation, pathOf } from '../server/operation.js';

// What commands print is whatever JSON the operation answered.
export type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

export interface CallInput {
  params?: Record<string, string | number>;
  query?: Record<string, string | number | undefined>;
  body?: unknown;
}

export interface Client {
  call(op: Operation, input?: CallInput): Promise<Json>;
  /** A streamed operation's text, chunk by chunk. */
  stream(op: Operation, write: (chunk: string) => unknown, input?: CallInput): Promise<void>;
  close(): Promise<void>;
}

export class InProcessClient implements Client {
  constructor(
    readonly sg: Shipgate,
    readonly actor: Actor,
  ) {}

  async call(op: Operation, input: CallInput = {}): Promise<Json> {
    const out = await invoke(op, this.sg, this.actor, raw(input));
    if (isStreamed(out)) throw new Error(`${op.path} streams its answer: use stream()`);
    return JSON.parse(JSON.stringify(out.body));
  }

  async stream(op: Operation, write: (chunk: string) => unknown, input: CallInput = {}): Promise<void> {
    const out = await invoke(op, this.sg, this.actor, raw(input));
    if (!isStreamed(out)) throw new Error(`${op.path} does not stream its answer`);
    await out.write({ write });
  }

  close() {
    return this.sg.store.close();
  }
}

/** Input as it arrives over HTTP: path parameters and query values are text. */
function raw(input: CallInput) {
  const text = (o: Record<string, unknown> | undefined) =>
    Object.fromEntries(Object.entries(o ?? {}).filter(([, v]) => v !== undefined).map(([k, v]) => [k, String(v)]));
  return { params: text(input.params), query: text(input.query), body: input.body === undefined ? undefined : JSON.parse(JSON.stringify(input.body)) };
}

export class HttpClient implements Client {
  private readonly base: string;
  constructor(
    baseUrl: string,
    private readonly token: string,
  ) {
    this.base = baseUrl.replace(/\/+$/, '');
  }

  private async fetch(op: Operation, input: CallInput): Promise<Response> {
    const query = Object.entries(input.query ?? {}).filter(([, v]) => v !== undefined) as [string, string | number][];
    const qs = query.length ? `?${new URLSearchParams(query.map(([k, v]) => [k, String(v)]))}` : '';
    const hasBody = op.method === 'POST';
    try {
      return await fetch(`${this.base}${pathOf(op, input.params)}${qs}`, {
        method: op.method,
        headers: { authorization: `Bearer ${this.token}`, ...(hasBody ? { 'content-type': 'application/json' } : {}) },
        body: hasBody ? JSON.stringify(input.body ?? {}) : undefined,
      });
    } catch (err) {
      throw new ShipgateError('store_error', `cannot reach the shipgate server at ${this.base}: ${(err as Error).message}`);
    }
  }

  async call(op: Operation, input: CallInput = {}): Promise<Json> {
    const res = await this.fetch(op, input);
    const text = await res.text();
    let json: Json = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      // reported below with the status
    }
    if (!res.ok) {
      const code = (json?.error?.code as ErrorCode) ?? (res.status >= 500 ? 'internal' : 'bad_request');
      throw new ShipgateError(code, json?.error?.message ?? `server answered ${res.status}`, json?.error?.details);
    }
    return json;
  }

  async stream(op: Operation, write: (chunk: string) => unknown, input: CallInput = {}): Promise<void> {
    const res = await this.fetch(op, input);
    if (!res.ok || !res.body) throw new ShipgateError(res.status === 401 ? 'unauthorized' : 'bad_request', `server answered ${res.status} to ${op.path}`);
    const decoder = new TextDecoder();
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) write(decoder.decode(chunk, { stream: true }));
  }

  async close() {}
}
