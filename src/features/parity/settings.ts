// An environment's declared settings as parity compares them: plain values as written, secrets
// read from shipgate's own environment or a file and reduced at once to their sha256. The
// secret itself never leaves this function: not in a report, a log line or an audit event.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import type { DeclaredSetting } from '../../config/load.js';
import type { SettingFact } from '../../domain/parity.js';

export function settingFacts(declared: Record<string, DeclaredSetting>, env: NodeJS.ProcessEnv = process.env): Record<string, SettingFact> {
  const out: Record<string, SettingFact> = {};
  for (const [name, s] of Object.entries(declared)) {
    if ('value' in s) {
      out[name] = { kind: 'plain', value: s.value };
    } else if ('secretEnv' in s) {
      const v = env[s.secretEnv];
      out[name] =
        v === undefined
          ? { kind: 'secret', source: `env ${s.secretEnv}`, sha256: null, problem: `${s.secretEnv} is not set in shipgate's environment` }
          : { kind: 'secret', source: `env ${s.secretEnv}`, sha256: sha256(Buffer.from(v)), problem: null };
    } else {
      try {
        out[name] = { kind: 'secret', source: `file ${s.file}`, sha256: sha256(fs.readFileSync(s.file)), problem: null };
      } catch (err) {
        out[name] = { kind: 'secret', source: `file ${s.file}`, sha256: null, problem: `cannot read ${s.file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}` };
      }
    }
  }
  return out;
}

function sha256(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}
