// The HTTP operations of the evidence feature: a deployment's signed evidence package, as a zip.
// The server signs with the key of its own config (evidence.key or evidence.key_env); a request
// never carries a key. Verifying a package needs no server (`shipgate evidence verify`).
import { z } from 'zod';
import { operation, type Streamed } from '../../server/operation.js';
import { id } from '../../server/schemas.js';
import { requireSigningKey } from './keys.js';

export const exportEvidencePackage = operation({
  method: 'GET',
  path: '/api/v1/deployments/:id/evidence',
  summary: "A deployment's signed evidence package (application/zip); records evidence.exported",
  permission: 'user',
  params: z.object({ id: id() }).strict(),
  async handle({ actor, params }, sg) {
    const key = requireSigningKey(sg.config.evidence, process.env);
    const { exportEvidence } = await import('./service.js');
    // Built whole before answering, so a missing deployment or an unavailable store is a 404 or
    // 503, never a zip cut short.
    const pkg = await exportEvidence(sg, actor, params.id, key);
    const zip: Streamed = {
      contentType: 'application/zip',
      // Bytes, not text: the route's stream passes a Buffer through as it is.
      write: async (out) => out.write(Buffer.from(pkg.zip) as unknown as string),
    };
    return zip;
  },
});

export const evidenceOperations = [exportEvidencePackage];
