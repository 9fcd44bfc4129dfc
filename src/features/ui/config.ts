// PLACEHOLDER (being written): the `ui:` section of shipgate.yaml (sign-in).
import { z } from 'zod';

export const uiSection = z.strictObject({}).optional().describe('the web UI and its sign-in (being written)');

export type UiConfig = Record<string, never>;

export function resolveUi(_raw: z.infer<typeof uiSection>, _dir: string): UiConfig {
  return {};
}
