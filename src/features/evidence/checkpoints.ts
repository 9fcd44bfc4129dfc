// Signed checkpoints of the audit chain's head, written on a schedule by `shipgate serve` into
// evidence.checkpoints_dir (one file per checkpoint, named by the head's number), each recorded
// as `audit.checkpoint`. A tick whose head is the one the last checkpoint's own event left
// writes nothing, so an idle server does not fill the directory with checkpoints of themselves.
import path from 'node:path';
import type { Shipgate } from '../../main.js';
import { SYSTEM } from '../access/actor.js';
import { evidenceSettings } from './config.js';
import { checkpointText, makeCheckpoint, writeWhole } from './checkpoint.js';
import { configuredSigningKey } from './keys.js';

export interface Log {
  info(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** The file a checkpoint of `seq` is written to: names sort in sequence order. */
export function checkpointFile(dir: string, seq: number): string {
  return path.join(dir, `audit-checkpoint-${String(seq).padStart(12, '0')}.json`);
}

export interface CheckpointOptions {
  env?: NodeJS.ProcessEnv;
  /** Told after every tick whether it wrote a checkpoint (tests count ticks with it). */
  onTick?: (wrote: boolean) => void;
}

export function startCheckpoints(sg: Shipgate, log: Log, opts: CheckpointOptions = {}): { stop(): Promise<void> } {
  const env = opts.env ?? process.env;
  const settings = evidenceSettings(sg.config.evidence, sg.config.dir);
  const idle = { stop: async () => {} };
  if (settings.checkpointEveryMs <= 0) return idle;
  let key;
  try {
    key = configuredSigningKey(sg.config.evidence, env);
  } catch (err) {
    log.error({ err: (err as Error).message }, 'audit checkpoints are off: the evidence signing key cannot be used');
    return idle;
  }
  if (!key) {
    log.info({}, 'audit checkpoints are off: no evidence signing key configured (evidence.key or evidence.key_env)');
    return idle;
  }
  const signingKey = key;
  // The head the last checkpoint's own audit event left: unchanged means nothing happened since.
  let leftAt: { seq: number; hash: string } | null = null;
  let running: Promise<void> | null = null;

  const tick = async () => {
    try {
      const head = await sg.audit.head();
      if (leftAt && head.seq === leftAt.seq && head.hash === leftAt.hash) return opts.onTick?.(false);
      let file = '';
      const { checkpoint } = await makeCheckpoint(sg, SYSTEM, signingKey, (envelope, c) => {
        file = checkpointFile(settings.checkpointsDir, c.seq);
        writeWhole(file, checkpointText(envelope));
      });
      leftAt = await sg.audit.head();
      log.info({ seq: checkpoint.seq, file, keyId: signingKey.keyId }, 'wrote an audit checkpoint');
      opts.onTick?.(true);
    } catch (err) {
      log.error({ err: (err as Error).message }, 'audit checkpoint failed');
      opts.onTick?.(false);
    }
  };
  const run = () => {
    if (running) return;
    running = tick().finally(() => (running = null));
  };
  run();
  // Node runs a longer interval than 2^31-1 ms at once, and then every millisecond.
  const timer = setInterval(run, Math.min(settings.checkpointEveryMs, 2 ** 31 - 1));
  return {
    stop: async () => {
      clearInterval(timer);
      await running;
    },
  };
}
