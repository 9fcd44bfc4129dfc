// Signed checkpoints of the audit chain's head, written on a schedule by `shipgate serve`.
import type { Shipgate } from '../../main.js';

export interface Log {
  info(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export function startCheckpoints(_sg: Shipgate, _log: Log): { stop(): Promise<void> } {
  return { stop: async () => {} };
}
