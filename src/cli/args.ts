// Arguments every command group reads the same way.
import { InputError } from '../errors.js';
import { MAX_ID } from '../store/limits.js';

/** A deployment (or token) id: a positive whole number the store can hold. */
export function idArg(value: string, what = 'deployment id'): number {
  if (!/^\d{1,10}$/.test(value) || Number(value) === 0 || Number(value) > MAX_ID) {
    throw new InputError(`${what} must be a positive whole number up to ${MAX_ID} (got '${value}')`);
  }
  return Number(value);
}
