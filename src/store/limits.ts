// The bounds of what the store holds, checked where input comes in.

/** The largest id or sequence number the store holds (a 32-bit signed integer column). */
export const MAX_ID = 2_147_483_647;
