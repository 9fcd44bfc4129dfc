// The `command` driver: the user's own scripts do each driver action (helm, kubectl, ssh, ...).
// shipgate passes the context in environment variables and reads only the exit code; the last
// lines of stderr explain a failure.
import { spawn } from 'node:child_process';
import { type Driver, DriverError, type RolloutContext, type TargetObservation } from '../driver.js';

export interface CommandDriverConfig {
  /** Each action is an argv array (no shell) or a string run by /bin/sh -c. */
  commands: {
    deploy: string[] | string;
    setWeight: string[] | string;
    promote: string[] | string;
    rollback: string[] | string;
    /** Optional: retire the old version once the release is verified. */
    finalize?: string[] | string;
  };
  /** Where smoke tests reach each version, if the scripts publish them there. */
  canaryUrl?: string | null;
  stableUrl?: string | null;
  cwd?: string;
  timeoutMs?: number;
  /** Extra environment for every command. */
  env?: Record<string, string>;
}

export class CommandDriver implements Driver {
  readonly kind = 'command';
  constructor(private readonly config: CommandDriverConfig) {}

  deploy(ctx: RolloutContext) {
    return this.run('deploy', this.config.commands.deploy, ctx, null);
  }
  setWeight(ctx: RolloutContext, canaryPercent: number) {
    return this.run('set-weight', this.config.commands.setWeight, ctx, canaryPercent);
  }
  promote(ctx: RolloutContext) {
    return this.run('promote', this.config.commands.promote, ctx, 100);
  }
  rollback(ctx: RolloutContext) {
    return this.run('rollback', this.config.commands.rollback, ctx, 0);
  }
  async finalize(ctx: RolloutContext) {
    if (this.config.commands.finalize) await this.run('finalize', this.config.commands.finalize, ctx, 100);
  }
  urls() {
    return { canary: this.config.canaryUrl ?? null, stable: this.config.stableUrl ?? null };
  }
  /** The scripts report nothing back, so the controller trusts its own record. */
  async observe(): Promise<TargetObservation | null> {
    return null;
  }

  private run(action: string, command: string[] | string, ctx: RolloutContext, weight: number | null): Promise<void> {
    const argv = typeof command === 'string' ? ['/bin/sh', '-c', command] : command;
    const env: Record<string, string> = {
      ...(process.env as Record<string, string>),
      ...this.config.env,
      SHIPGATE_ACTION: action,
      SHIPGATE_DEPLOYMENT_ID: String(ctx.deploymentId),
      SHIPGATE_SERVICE: ctx.service,
      SHIPGATE_ENVIRONMENT: ctx.environment,
      SHIPGATE_VERSION: ctx.version,
      SHIPGATE_DIGEST: ctx.digest,
      SHIPGATE_STABLE_VERSION: ctx.stableVersion ?? '',
      SHIPGATE_STABLE_DIGEST: ctx.stableDigest ?? '',
      ...(weight === null ? {} : { SHIPGATE_WEIGHT: String(weight) }),
    };
    const timeoutMs = this.config.timeoutMs ?? 300_000;
    return new Promise<void>((resolve, reject) => {
      const child = spawn(argv[0], argv.slice(1), { cwd: this.config.cwd, env, stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (b: Buffer) => {
        stderr = (stderr + b.toString()).slice(-4000);
      });
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new DriverError(action, `${argv[0]} did not finish within ${timeoutMs} ms and was killed`));
      }, timeoutMs);
      child.on('error', (err) => {
        clearTimeout(timer);
        reject(new DriverError(action, `cannot run ${argv[0]}: ${err.message}`));
      });
      child.on('exit', (code, signal) => {
        clearTimeout(timer);
        if (code === 0) return resolve();
        const tail = stderr.trim().split('\n').slice(-5).join(' | ');
        reject(new DriverError(action, `${argv[0]} exited with ${code ?? signal}${tail ? `: ${tail}` : ''}`));
      });
    });
  }
}
