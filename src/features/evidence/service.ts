// Exporting a deployment's evidence package: what shipgate holds about the deployment gathered
// once (the deployment view, the release's runs in the previous environment, the audit events
// of both, the newest rollback rehearsal, the chain's head with a signed checkpoint of it), the
// artifact producers run over it, the package built and signed, and `evidence.exported`
// recorded. Who may: any user in the config (what the package holds, each user can already read
// through `show` and `audit list`).
import type { Shipgate } from '../../main.js';
import type { Actor } from '../access/actor.js';
import type { AuditEvent } from '../audit/chain.js';
import { deploymentSubject, record, releaseSubject } from '../audit/record.js';
import { ARTIFACT_PRODUCERS, type Artifact, type ArtifactProducer, type EvidenceSource } from './artifacts.js';
import { signCheckpoint } from './checkpoint.js';
import type { SigningKey } from './keys.js';
import { buildPackage } from './package.js';

export interface ExportedPackage {
  zip: Uint8Array;
  manifestSha256: string;
  files: number;
  keyId: string;
  deployment: number;
}

const PAGE = 1000;
/** How many of the service's releases are searched for a rehearsal when the release has none. */
const REHEARSAL_RELEASES = 20;

async function eventsAbout(sg: Shipgate, subject: string, upTo: number): Promise<AuditEvent[]> {
  const out: AuditEvent[] = [];
  let after: number | undefined;
  for (;;) {
    const page = await sg.audit.events({ subject, afterSeq: after, limit: PAGE });
    out.push(...page.filter((e) => e.seq <= upTo));
    if (page.length < PAGE || page[page.length - 1].seq >= upTo) return out;
    after = page[page.length - 1].seq;
  }
}

export async function gatherEvidence(sg: Shipgate, deploymentId: number, key: SigningKey): Promise<EvidenceSource> {
  const at = sg.now();
  // The head first: every event read afterwards is cut at it, so the excerpt and the head agree.
  const head = await sg.audit.head();
  const view = await sg.deployments.get(deploymentId);
  const d = view.deployment;
  const policy = sg.directory.policy(d.environment);
  const order = sg.config.environments.map((e) => e.name);
  const i = order.indexOf(d.environment);
  const previousEnvironment = policy.requireVerifiedIn ?? (i > 0 ? order[i - 1] : null);
  const previousDeployments = previousEnvironment
    ? (await sg.store.deployments.list({ service: d.service, environment: previousEnvironment, limit: 1000 })).filter((p) => p.releaseId === d.releaseId).reverse()
    : [];

  const events = new Map<string, AuditEvent[]>();
  const releaseSubj = releaseSubject(view.release);
  for (const subject of [releaseSubj, deploymentSubject(d), ...previousDeployments.map(deploymentSubject)]) {
    events.set(subject, await eventsAbout(sg, subject, head.seq));
  }

  const lastRehearsal = (list: AuditEvent[]) => list.filter((e) => e.action === 'rehearsal.completed').at(-1) ?? null;
  let rehearsal = lastRehearsal(events.get(releaseSubj)!);
  if (!rehearsal) {
    for (const r of await sg.store.releases.list(d.service, REHEARSAL_RELEASES)) {
      if (r.id === view.release.id) continue;
      rehearsal = lastRehearsal(await eventsAbout(sg, releaseSubject(r), head.seq));
      if (rehearsal) break;
    }
  }
  const chain = await sg.audit.verify();
  const parity = previousEnvironment ? await sg.parity.report(previousEnvironment, d.environment, d.service) : null;
  return { view, policy, previousEnvironment, previousDeployments, events, rehearsal, head, chain, checkpoint: signCheckpoint(head, at, key), at, parity };
}

/**
 * Builds and signs the package of one deployment and records `evidence.exported`. The producers
 * default to ARTIFACT_PRODUCERS.
 */
export async function exportEvidence(sg: Shipgate, actor: Actor, deploymentId: number, key: SigningKey, producers: ArtifactProducer[] = ARTIFACT_PRODUCERS): Promise<ExportedPackage> {
  sg.directory.assertUser(actor);
  const src = await gatherEvidence(sg, deploymentId, key);
  const artifacts: Artifact[] = [];
  for (const produce of producers) {
    const a = await produce(src);
    if (a) artifacts.push(a);
  }
  const d = src.view.deployment;
  const built = buildPackage(
    artifacts,
    {
      deployment: d.id,
      service: d.service,
      version: d.version,
      environment: d.environment,
      artifactDigest: src.view.release.digest,
      predicate: {
        deployment: d.id,
        service: d.service,
        version: d.version,
        environment: d.environment,
        outcome: d.state,
        exportedAt: src.at.toISOString(),
        auditHead: src.head,
      },
    },
    key,
  );
  await sg.store.transaction((tx) => record(tx, src.at, actor, 'evidence.exported', deploymentSubject(d), { sha256: built.manifestSha256, files: built.files, keyId: key.keyId }));
  return { zip: built.zip, manifestSha256: built.manifestSha256, files: built.files, keyId: key.keyId, deployment: d.id };
}
