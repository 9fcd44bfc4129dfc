// Durations as the config file writes them ("30s", "5m", "1h30m", "2d", 0): the schema every
// section uses (the drivers' own included) and their value in seconds.
import { z } from 'zod';

export const DURATION = /^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/;
const DURATION_HINT = 'expected a duration such as "30s", "30m", "1h", "1h30m", "2d" or 0';

export const duration = z.union([z.literal(0), z.string().refine((s) => s !== '' && DURATION.test(s), DURATION_HINT)], { error: DURATION_HINT });

export function durationSeconds(d: string | number): number {
  if (d === 0 || d === '0') return 0;
  const m = DURATION.exec(String(d));
  if (!m) throw new Error(`bad duration ${d}`);
  return Number(m[1] ?? 0) * 86400 + Number(m[2] ?? 0) * 3600 + Number(m[3] ?? 0) * 60 + Number(m[4] ?? 0);
}

export function durationMinutes(d: string | number): number {
  return durationSeconds(d) / 60;
}
