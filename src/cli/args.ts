// Arguments every command group reads the same way.
import { InputError } from '../errors.js';
import { idProblem } from '../store/limits.js';

/** A deployment (or token) id: a positive whole number the store can hold. */
export function idArg(value: string, what = 'deployment id'): number {
  const problem = idProblem(value, what);
  if (problem) throw new InputError(problem);
  return Number(value);
}
