// PLACEHOLDER (being written): the nginx driver's contract subject and its access-log source.
import type { SourceSubject, Subject } from './subject.js';

export function nginxSubject(): Subject {
  throw new Error('not yet');
}

export async function nginxLogSource(_closing: { close(): Promise<void> }[]): Promise<SourceSubject> {
  throw new Error('not yet');
}
