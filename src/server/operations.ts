// Every HTTP operation, in the order the OpenAPI document lists them: each feature's own
// (features/*/operations.ts), the health check and the document itself.
import { accessOperations } from '../features/access/operations.js';
import { auditOperations } from '../features/audit/operations.js';
import { deploymentOperations } from '../features/deployments/operations.js';
import { evidenceOperations } from '../features/evidence/operations.js';
import { figuresOperations } from '../features/figures/operations.js';
import { parityOperations } from '../features/parity/operations.js';
import { releaseOperations } from '../features/releases/operations.js';
import { rolloutOperations } from '../features/rollouts/operations.js';
import { statusOperations } from '../features/status/operations.js';
import type { Operation } from './operation.js';
import { healthz, openApiOperation } from './openapi.js';

export const OPERATIONS: Operation[] = [
  healthz,
  openApiOperation(() => OPERATIONS),
  ...accessOperations,
  ...releaseOperations,
  ...deploymentOperations,
  ...rolloutOperations,
  ...statusOperations,
  ...parityOperations,
  ...figuresOperations,
  ...evidenceOperations,
  ...auditOperations,
] as Operation[];
