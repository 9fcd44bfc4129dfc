// Typed errors with a stable code, a human message, and the one place where codes map to
// HTTP statuses and CLI exit codes.

/** CLI exit codes, documented in the README. */
export const EXIT = {
  ok: 0, // success; for gate commands: the gate passed
  storeError: 1, // server, store or unexpected error
  usage: 2, // bad input, unknown name, forbidden, not found, conflict
  blocked: 3, // gate blocked: waiting on approvals, time or a window
  failed: 4, // rejected, failed, cancelled or expired
} as const;

export type ErrorCode =
  | 'bad_request'
  | 'config_invalid'
  | 'not_found'
  | 'conflict'
  | 'forbidden'
  | 'unauthorized'
  | 'payload_too_large'
  | 'too_many_requests'
  | 'store_error'
  | 'internal';

const STATUS: Record<ErrorCode, number> = {
  bad_request: 400,
  config_invalid: 400,
  not_found: 404,
  conflict: 409,
  forbidden: 403,
  unauthorized: 401,
  payload_too_large: 413,
  too_many_requests: 429,
  store_error: 503,
  internal: 500,
};

export class ShipgateError extends Error {
  readonly code: ErrorCode;
  readonly details?: Record<string, unknown>;
  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>) {
    super(message);
    this.name = 'ShipgateError';
    this.code = code;
    this.details = details;
  }
  get httpStatus(): number {
    return STATUS[this.code];
  }
  get exitCode(): number {
    return this.code === 'store_error' || this.code === 'internal' ? EXIT.storeError : EXIT.usage;
  }
}

/** Bad input from a user: names the field that is wrong. */
export class InputError extends ShipgateError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('bad_request', message, details);
    this.name = 'InputError';
  }
}

export class NotFoundError extends ShipgateError {
  constructor(message: string) {
    super('not_found', message);
    this.name = 'NotFoundError';
  }
}

/** A state change that lost a race or is not allowed from the current state. */
export class ConflictError extends ShipgateError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('conflict', message, details);
    this.name = 'ConflictError';
  }
}

export class ForbiddenError extends ShipgateError {
  constructor(message: string) {
    super('forbidden', message);
    this.name = 'ForbiddenError';
  }
}

export class UnauthorizedError extends ShipgateError {
  constructor(message: string) {
    super('unauthorized', message);
    this.name = 'UnauthorizedError';
  }
}

/** A config file problem, located at file:line:column. */
export class ConfigError extends ShipgateError {
  readonly file: string;
  readonly line?: number;
  readonly column?: number;
  constructor(file: string, message: string, line?: number, column?: number) {
    const where = line ? `${file}:${line}:${column ?? 1}` : file;
    super('config_invalid', `${where}: ${message}`, { file, line, column });
    this.name = 'ConfigError';
    this.file = file;
    this.line = line;
    this.column = column;
  }
}

export class StoreError extends ShipgateError {
  constructor(message: string) {
    super('store_error', message);
    this.name = 'StoreError';
  }
}

/** Converts anything thrown into a ShipgateError without leaking internals to users. */
export function asShipgateError(err: unknown): ShipgateError {
  if (err instanceof ShipgateError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new ShipgateError('internal', `internal error: ${message}`);
}
