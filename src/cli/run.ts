// The one wrapper every command runs in: it gives the command what it needs (the config, a
// client for the local store or the server, the local app), prints what the command returns
// (human text, or JSON with --json), turns every error into `shipgate: <message>` and the exit
// code of the error table, and closes what was opened. Output goes to the Io it is given, so
// tests run commands in-process with buffers.
import os from 'node:os';
import path from 'node:path';
import type { ShipgateConfig } from '../config/load.js';
import { asShipgateError, EXIT, InputError } from '../errors.js';
import type { Actor } from '../features/access/actor.js';
import type { Shipgate } from '../main.js';
import type { Client, Json } from './client.js';

export interface Io {
  out(text: string): void;
  err(text: string): void;
  env: NodeJS.ProcessEnv;
  cwd: string;
}

export interface GlobalOpts {
  config: string;
  server?: string;
  as?: string;
  json?: boolean;
}

/** What a command hands back to be printed; `exit` defaults to success. `human: null`: the
 * command printed as it went (progress) and has nothing to add. */
export interface Outcome {
  json: Json;
  human: string | null;
  exit?: number;
}

export class CommandContext {
  private opened: (() => Promise<unknown>)[] = [];
  private app: Shipgate | null = null;

  constructor(
    readonly io: Io,
    readonly globals: GlobalOpts,
  ) {}

  get json(): boolean {
    return Boolean(this.globals.json);
  }

  configFile(): string {
    return path.resolve(this.io.cwd, this.globals.config);
  }

  async config(): Promise<ShipgateConfig> {
    const { loadConfigCached } = await import('../config/cached.js');
    return loadConfigCached(this.configFile());
  }

  /** The acting user on the local store: named by --as, not proven, so the operating-system
   * account that ran the command goes into the audit log beside it. */
  actor(fallback = ''): Actor {
    let osUser: string;
    try {
      osUser = os.userInfo().username;
    } catch {
      osUser = this.io.env.USER ?? `uid ${process.getuid?.() ?? 'unknown'}`;
    }
    return { user: this.globals.as || fallback, via: 'local', osUser };
  }

  requireUser(): void {
    if (!this.globals.server && !this.globals.as) throw new InputError('say who you are: --as <user> or SHIPGATE_USER (the user must be in the config)');
  }

  /** shipgate on the local store the config names (SQLite, or PostgreSQL from its url variable). */
  async local(): Promise<Shipgate> {
    if (this.app) return this.app;
    const config = await this.config();
    const { createShipgate, openConfiguredStore } = await import('../main.js');
    const store = await openConfiguredStore(config, this.io.env);
    this.opened.push(() => store.close());
    this.app = createShipgate({ config, store });
    return this.app;
  }

  /** The server when --server is given, else the local store in this process. */
  async client(): Promise<Client> {
    if (this.globals.server) {
      const token = this.io.env.SHIPGATE_TOKEN;
      if (!token) throw new InputError('--server needs an API token in the environment variable SHIPGATE_TOKEN');
      const { HttpClient } = await import('./client.js');
      return new HttpClient(this.globals.server, token);
    }
    const { InProcessClient } = await import('./client.js');
    return new InProcessClient(await this.local(), this.actor());
  }

  /** Refuses a command that needs the store and its runtimes on this machine. */
  localOnly(what: string): void {
    if (this.globals.server) throw new InputError(what);
  }

  print(out: Outcome): void {
    if (this.json) this.io.out(`${JSON.stringify(out.json, null, 2)}\n`);
    else if (out.human !== null) this.io.out(`${out.human}\n`);
  }

  async close(): Promise<void> {
    for (const close of this.opened.reverse()) await close().catch(() => {});
    this.opened = [];
  }
}

export type Action = (ctx: CommandContext, ...args: never[]) => Promise<Outcome | void>;

/**
 * Runs one command: prints its outcome, sets the exit code, reports errors as every command
 * does. Returns the exit code.
 */
export async function runAction(io: Io, globals: GlobalOpts, action: Action, args: unknown[], opts: { needsUser?: boolean } = {}): Promise<number> {
  const ctx = new CommandContext(io, globals);
  try {
    if (opts.needsUser) ctx.requireUser();
    const out = await action(ctx, ...(args as never[]));
    if (!out) return EXIT.ok;
    ctx.print(out);
    return out.exit ?? EXIT.ok;
  } catch (err) {
    const e = asShipgateError(err);
    if (ctx.json) io.out(`${JSON.stringify({ error: { code: e.code, message: e.message, ...(e.details ? { details: e.details } : {}) } }, null, 2)}\n`);
    io.err(`shipgate: ${e.message}\n`);
    return e.exitCode;
  } finally {
    await ctx.close();
  }
}
