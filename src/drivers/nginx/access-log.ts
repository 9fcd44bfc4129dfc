// The nginx driver's metrics: every request in nginx's access log, written in shipgate's format
// (render.ts LOG_FORMAT), told apart by the upstream address that answered — a slot's port, and
// the version that ran there at that time (the driver's history). A request nginx tried on one
// server and then another is a record per try, so a canary that refuses connections counts
// against the canary even though the user got the stable's answer. A line with no server of
// this service (nginx answered itself) is no version's. The cursor is the log file's identity
// and a byte offset in it; a log that was rotated (another file) or truncated (smaller than the
// offset) is read from its start.
import fs from 'node:fs';
import { type MetricsContext, type MetricsSource, MetricsUnavailable, type RequestRecord } from '../driver.js';
import type { NginxDriver } from './driver.js';
import { upstreamName } from './render.js';

/** At most this much of the log per read; the next read goes on from there. */
const MAX_READ = 32 << 20;

export function accessLogSource(driver: NginxDriver): MetricsSource {
  return {
    kind: 'nginx',
    cursor: async (ctx) => {
      const s = stat(driver.accessLog(ctx.service, ctx.environment));
      return s ? `${s.ino}:${s.size}` : '0:0';
    },
    read: async (ctx, cursor) => {
      const file = driver.accessLog(ctx.service, ctx.environment);
      const s = stat(file);
      if (!s) {
        const name = upstreamName(ctx.service, ctx.environment);
        throw new MetricsUnavailable(`no access log at ${file}; nginx writes it where the server proxying to ${name} says \`access_log ${file} ${name};\``);
      }
      const [ino, at] = (cursor ?? `${s.ino}:0`).split(':').map(Number);
      const from = ino === s.ino && at <= s.size ? at : 0;
      const { text, consumed } = readLines(file, from, Math.min(s.size, from + MAX_READ));
      const records = parseAccessLog(text, driver.history(ctx.service, ctx.environment), ctx);
      return { batches: records.length ? [{ kind: 'requests', records }] : [], cursor: `${s.ino}:${from + consumed}` };
    },
  };
}

/**
 * Requests of the canary and stable versions in access log lines of shipgate's format.
 * `history`: which version ran on which port since when (ms), newest last.
 */
export function parseAccessLog(text: string, history: { port: number; version: string; startedAt: number }[], ctx: MetricsContext): RequestRecord[] {
  const records: RequestRecord[] = [];
  const versionAt = (port: number, at: number): string | null => {
    for (let i = history.length - 1; i >= 0; i--) {
      const h = history[i];
      if (h.port === port && h.startedAt <= at) return h.version;
    }
    return null;
  };
  for (const line of text.split('\n')) {
    const f = line.split('|');
    if (f.length !== 6) continue;
    const at = Math.round(Number(f[0]) * 1000);
    if (!Number.isFinite(at)) continue;
    const addrs = tries(f[3]);
    const statuses = tries(f[4]);
    const times = tries(f[5]);
    const last = addrs.length - 1;
    addrs.forEach((addr, i) => {
      const port = /^127\.0\.0\.1:(\d+)$/.exec(addr);
      if (!port) return;
      const release = versionAt(Number(port[1]), at);
      const version = release === ctx.canaryVersion ? 'canary' : release !== null && release === ctx.stableVersion ? 'stable' : null;
      if (!version) return;
      // No status: the server never answered (refused, timed out); nginx's own status stands
      // for the last try.
      const answered = Number(statuses[i]);
      const status = Number.isInteger(answered) && answered > 0 ? answered : i === last ? Number(f[1]) || 502 : 502;
      const seconds = Number(times[i]);
      const latencyMs = Number.isFinite(seconds) ? seconds * 1000 : Number(f[2]) * 1000 || 0;
      records.push({ at, version, status, latencyMs, error: status >= 500 || !(answered > 0) });
    });
  }
  return records;
}

/** The tries in one of nginx's upstream lists ("a, b" between servers, "a : b" between upstreams). */
function tries(field: string): string[] {
  return field.split(/, | : /).map((s) => s.trim());
}

function stat(file: string): fs.Stats | null {
  try {
    return fs.statSync(file);
  } catch {
    return null;
  }
}

/** The whole lines in [from, to): a line nginx is still writing is left for the next read. */
function readLines(file: string, from: number, to: number): { text: string; consumed: number } {
  if (to <= from) return { text: '', consumed: 0 };
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.alloc(to - from);
    const n = fs.readSync(fd, buf, 0, buf.length, from);
    const end = buf.subarray(0, n).lastIndexOf(0x0a);
    if (end < 0) return { text: '', consumed: 0 };
    return { text: buf.subarray(0, end).toString(), consumed: end + 1 };
  } finally {
    fs.closeSync(fd);
  }
}
