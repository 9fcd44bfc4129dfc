// What the releases feature keeps: releases (immutable builds with their report summaries)
// and where each was verified.
import type { Release, ReportSummary, Verification } from '../../domain/types.js';

export interface ReleaseStore {
  find(service: string, version: string): Promise<Release | null>;
  /** A release of this service built as `digest`, under whatever version. */
  findByDigest(service: string, digest: string): Promise<Release | null>;
  byId(id: number): Promise<Release | null>;
  /** Newest first. */
  list(service: string | undefined, limit: number): Promise<Release[]>;
  /** UniqueViolation when (service, version) exists. */
  insert(r: Omit<Release, 'id'>): Promise<Release>;
  setReports(id: number, reports: ReportSummary[]): Promise<void>;
  verifications(releaseId: number): Promise<Verification[]>;
  /** UniqueViolation when the release is already verified in that environment. */
  insertVerification(v: Verification): Promise<void>;
}
