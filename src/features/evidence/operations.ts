// The HTTP operations of the evidence feature.
import type { Operation } from '../../server/operation.js';

export const evidenceOperations: Operation[] = [];
