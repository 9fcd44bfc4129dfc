// The newest rollback rehearsal of a service in an environment, read back from the audit log
// (`rehearsal.completed`, written by `shipgate rehearse`), for the gate's rollback-rehearsal
// check. Any release of the service counts: the rollback path is what was rehearsed.
import type { RehearsalFact } from '../../domain/types.js';
import type { Stores } from '../../store/store.js';
import { releaseSubject } from '../audit/record.js';

/** The audit log is searched by release (its subject); this many of the newest releases. */
export const REHEARSED_RELEASES_READ = 25;

export async function latestRehearsal(q: Stores, service: string, environment: string): Promise<RehearsalFact | null> {
  const releases = await q.releases.list(service, REHEARSED_RELEASES_READ);
  let newest: RehearsalFact | null = null;
  for (const r of releases) {
    const events = await q.audit.read({ subject: releaseSubject(r), limit: 10_000 });
    for (const e of events) {
      if (e.action !== 'rehearsal.completed') continue;
      const fact = factOf(e.data, service, r.version, e.at);
      if (fact && fact.environment === environment && (!newest || fact.at > newest.at)) newest = fact;
    }
  }
  return newest;
}

function factOf(data: unknown, service: string, version: string, at: string): RehearsalFact | null {
  if (!data || typeof data !== 'object') return null;
  const d = data as Record<string, unknown>;
  if (typeof d.environment !== 'string') return null;
  return {
    service,
    version,
    environment: d.environment,
    at,
    ok: d.ok === true,
    msToVerified: typeof d.msToVerified === 'number' ? d.msToVerified : null,
    problems: Array.isArray(d.problems) ? d.problems.filter((p): p is string => typeof p === 'string') : [],
  };
}
