// The `memory` driver, plugged in: a target that only remembers what it was told, for dry runs
// of a plan and for tests. Its metrics are whatever a test scripts into it.
import { plugin } from '../plugin.js';
import { MemoryDriver } from './driver.js';

export const memory = plugin<null>({
  kind: 'memory',
  description: 'a target in shipgate\'s own memory that only records what it was told (dry runs, tests)',
  settings: () => null,
  create: () => new MemoryDriver(),
  metrics: () => null,
});
