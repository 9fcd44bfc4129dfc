// The bounds of what the store holds, checked where input comes in.

/** The largest id or sequence number the store holds (a 32-bit signed integer column). */
export const MAX_ID = 2_147_483_647;

/** What is wrong with `text` as an id (a deployment's, a token's...), or null when it is one. */
export function idProblem(text: string, what = 'deployment id'): string | null {
  if (/^\d{1,10}$/.test(text) && Number(text) > 0 && Number(text) <= MAX_ID) return null;
  return `${what} must be a positive whole number up to ${MAX_ID} (got '${text.slice(0, 40)}')`;
}
