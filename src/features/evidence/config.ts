// The `evidence:` section of shipgate.yaml: the signing key of evidence packages and audit
// checkpoints, and how often a checkpoint of the audit chain's head is written. The key is named
// by a file path (relative to the config file) or by an environment variable holding the PEM;
// its content never appears in the config, in logs or in output.
import path from 'node:path';
import { z } from 'zod';
import { duration, durationSeconds } from '../../config/duration.js';

const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected the name of an environment variable holding a PEM private key');

export const evidenceSection = z
  .strictObject({
    key: z.string().min(1).optional().describe('PEM private key file (ECDSA P-256 or Ed25519; `shipgate keys generate` writes one), relative to this file'),
    key_env: envName.optional().describe('instead of key: an environment variable holding the PEM private key'),
    checkpoint_every: duration.default('1h').describe('how often `shipgate serve` writes a signed checkpoint of the audit head (0: never)'),
    checkpoints_dir: z.string().min(1).default('audit-checkpoints').describe('where `shipgate serve` writes the checkpoints, relative to this file'),
  })
  .refine((e) => !(e.key && e.key_env), { message: 'give key or key_env, not both', path: ['key_env'] })
  .optional()
  .describe('signing of evidence packages and audit checkpoints (docs/evidence.md)');

/** Every field optional, so `{}` (the tests' config) means the defaults. */
export interface EvidenceConfig {
  /** Absolute path of the PEM private key. */
  keyFile?: string;
  /** Name of the environment variable holding the PEM private key. */
  keyEnv?: string;
  /** 0: no scheduled checkpoints. */
  checkpointEveryMs?: number;
  /** Absolute path of the checkpoints directory. */
  checkpointsDir?: string;
}

export const DEFAULT_CHECKPOINT_EVERY_MS = 3_600_000;

export function resolveEvidence(raw: z.infer<typeof evidenceSection>, dir: string): EvidenceConfig {
  if (!raw) return {};
  return {
    ...(raw.key ? { keyFile: path.resolve(dir, raw.key) } : {}),
    ...(raw.key_env ? { keyEnv: raw.key_env } : {}),
    checkpointEveryMs: durationSeconds(raw.checkpoint_every) * 1000,
    checkpointsDir: path.resolve(dir, raw.checkpoints_dir),
  };
}

/** The section with its defaults filled in, for a config whose file lives in `configDir`. */
export function evidenceSettings(c: EvidenceConfig, configDir: string): Required<Pick<EvidenceConfig, 'checkpointEveryMs' | 'checkpointsDir'>> & Pick<EvidenceConfig, 'keyFile' | 'keyEnv'> {
  return {
    keyFile: c.keyFile,
    keyEnv: c.keyEnv,
    checkpointEveryMs: c.checkpointEveryMs ?? DEFAULT_CHECKPOINT_EVERY_MS,
    checkpointsDir: c.checkpointsDir ?? path.resolve(configDir, 'audit-checkpoints'),
  };
}
