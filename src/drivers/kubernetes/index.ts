// PLACEHOLDER (being written): the Kubernetes driver, plugged in.
import { plugin } from '../plugin.js';

export const kubernetes = plugin<null>({
  kind: 'kubernetes',
  description: 'a canary Deployment beside the stable one; weight by replicas or by route',
  settings: () => null,
  create: () => {
    throw new Error('not yet');
  },
  metrics: () => null,
});
