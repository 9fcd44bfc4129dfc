// The HTTP operations of the figures feature.
import type { Operation } from '../../server/operation.js';

export const figuresOperations: Operation[] = [];
