// PLACEHOLDER (being written): the Prometheus source's contract subject (real Prometheus).
import type { SourceSubject } from './subject.js';

export async function prometheusSource(_closing: { close(): Promise<void> }[]): Promise<SourceSubject> {
  throw new Error('not yet');
}
