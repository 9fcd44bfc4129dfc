// Field schemas the operations share (features/*/operations.ts declare their own from these).
import { z } from 'zod';
import { idProblem, MAX_ID } from '../store/limits.js';

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
    const problem = idProblem(v, field);
    if (problem) {
      ctx.addIssue({ code: 'custom', message: problem });
      return z.NEVER;
    }
    return Number(v);
  });
