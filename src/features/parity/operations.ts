// The HTTP operations of the parity feature.
import type { Operation } from '../../server/operation.js';

export const parityOperations: Operation[] = [];
