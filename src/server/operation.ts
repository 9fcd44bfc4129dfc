// One operation of the HTTP API, declared once: method, path, the schemas of its path
// parameters, query and body, its summary, who may call it, and what it does. The fastify
// route (server/app.ts), the OpenAPI document (server/openapi.ts), the CLI's HTTP call and its
// in-process call on the local store (cli/client.ts) all come from this declaration, and the
// last two answer the same JSON.
import type { z } from 'zod';
import { InputError } from '../errors.js';
import type { Actor } from '../features/access/actor.js';
import type { Shipgate } from '../main.js';
import { nulIn, parseBody, parseQuery } from './input.js';

/**
 * Who may call it. `anyone`: no token needed. Otherwise a token (or --as on the local store)
 * and the rule in words: services enforce the rules that depend on the deployment (403).
 */
export type Permission = 'anyone' | 'user' | 'approver' | 'requester or approver';

/** A streamed answer: lines written as they are read, never held whole. */
export interface Streamed {
  contentType: string;
  write(out: { write(chunk: string): unknown }): Promise<unknown>;
}

export interface Answer<R> {
  status: number;
  body: R;
}

type Schema = z.ZodType;
type In<S> = S extends z.ZodType ? z.infer<S> : Record<string, never>;

export interface OperationInput<P, Q, B> {
  actor: Actor;
  params: In<P>;
  query: In<Q>;
  body: In<B>;
}

export interface Operation<P extends Schema | undefined = Schema | undefined, Q extends Schema | undefined = Schema | undefined, B extends Schema | undefined = Schema | undefined, R = unknown> {
  method: 'GET' | 'POST';
  /** fastify style: /api/v1/deployments/:id/approvals */
  path: string;
  summary: string;
  permission: Permission;
  params?: P;
  query?: Q;
  body?: B;
  /** Status of a success (default 200); a handler may answer with another through respond(). */
  status?: number;
  handle(input: OperationInput<P, Q, B>, sg: Shipgate): Promise<R | Answer<R> | Streamed>;
}

/** Declares an operation; the identity function, there for its types. */
export function operation<P extends Schema | undefined, Q extends Schema | undefined, B extends Schema | undefined, R>(op: Operation<P, Q, B, R>): Operation<P, Q, B, R> {
  return op;
}

const ANSWER = Symbol('answer');

/** A success with a status other than the operation's usual one. */
export function respond<R>(status: number, body: R): Answer<R> {
  return Object.assign({ status, body }, { [ANSWER]: true });
}

function isAnswer(x: unknown): x is Answer<unknown> {
  return typeof x === 'object' && x !== null && ANSWER in x;
}

export function isStreamed(x: unknown): x is Streamed {
  return typeof x === 'object' && x !== null && typeof (x as Streamed).write === 'function' && typeof (x as Streamed).contentType === 'string';
}

export interface RawInput {
  params?: Record<string, unknown>;
  query?: Record<string, unknown>;
  body?: unknown;
}

/** Runs an operation on raw input, as the router and the local CLI do: validated, then handled. */
export async function invoke(op: Operation, sg: Shipgate, actor: Actor, raw: RawInput): Promise<Answer<unknown> | Streamed> {
  // No text shipgate keeps may hold a NUL character: refused wherever it comes in.
  const where = nulIn(raw.params, 'path') ?? nulIn(raw.query, 'query') ?? nulIn(raw.body, 'body');
  if (where) throw new InputError(`a NUL character is not allowed (in ${where})`, { field: where });
  const params = op.params ? parseParams(op.params, raw.params ?? {}) : {};
  const query = parseQuery(op.query, raw.query ?? {});
  const body = op.body ? parseBody(op.body, raw.body) : {};
  const out = await op.handle({ actor, params, query, body } as never, sg);
  if (isStreamed(out)) return out;
  if (isAnswer(out)) return { status: out.status, body: out.body };
  return { status: op.status ?? 200, body: out };
}

function parseParams(schema: Schema, params: Record<string, unknown>): unknown {
  const result = schema.safeParse(params);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const field = issue.path.join('.') || '(path)';
  throw new InputError(issue.code === 'custom' ? issue.message : `invalid path parameter ${field}: ${issue.message}`, { field });
}

/** The path with its parameters filled in, each encoded. */
export function pathOf(op: Operation, params: Record<string, string | number> = {}): string {
  return op.path.replace(/:([A-Za-z]+)/g, (_m, name: string) => {
    const v = params[name];
    if (v === undefined) throw new InputError(`${name} is missing`);
    return encodeURIComponent(String(v));
  });
}
