// Field schemas the operations share (features/*/operations.ts declare their own from these).
import { z } from 'zod';
import { MAX_ID } from '../store/limits.js';

export { MAX_ID };

/** A name: of a service, a version, an environment, a checklist item. */
export const name = z.string().min(1).max(200);

/** A whole number given as text (a query parameter), from min to max. */
export const count = (field: string, min: number, max: number) =>
  z
    .string()
    .regex(/^\d{1,10}$/, `${field} must be a whole number`)
    .transform(Number)
    .refine((n) => n >= min && n <= max, `${field} must be from ${min} to ${max}`);

/** A deployment or token id in a path: a positive whole number the store can hold. */
export const id = (field = 'deployment id') =>
  z.string().transform((v, ctx) => {
    if (!/^\d{1,10}$/.test(v) || Number(v) === 0 || Number(v) > MAX_ID) {
      ctx.addIssue({ code: 'custom', message: `${field} must be a positive whole number up to ${MAX_ID} (got '${v.slice(0, 40)}')` });
      return z.NEVER;
    }
    return Number(v);
  });
