// PLACEHOLDER (being written): the `notifications:` section of shipgate.yaml.
import { z } from 'zod';

export const notificationsSection = z.strictObject({}).optional().describe('where shipgate sends notices of deployments (being written)');

export type NotificationsConfig = Record<string, never>;

export function resolveNotifications(_raw: z.infer<typeof notificationsSection>, _dir: string): NotificationsConfig {
  return {};
}
