// PLACEHOLDER (being written): the Kubernetes driver's contract subject (mock API server).
import type { Subject } from './subject.js';

export function kubernetesSubject(): Subject {
  throw new Error('not yet');
}
