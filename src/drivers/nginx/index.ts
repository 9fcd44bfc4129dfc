// PLACEHOLDER (being written): the nginx driver, plugged in.
import { plugin } from '../plugin.js';

export const nginx = plugin<null>({
  kind: 'nginx',
  description: 'nginx splits traffic between stable and canary servers by weight',
  settings: () => null,
  create: () => {
    throw new Error('not yet');
  },
  metrics: () => null,
});
