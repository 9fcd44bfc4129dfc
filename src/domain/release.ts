// Rules for release identity: a version names exactly one build, and a digest is a sha256.
import { InputError } from '../errors.js';

/** Tags that move from build to build: never a release version. */
export const DEFAULT_MUTABLE_TAGS = [
  'latest', 'prod', 'production', 'stable', 'main', 'master', 'develop', 'development',
  'staging', 'dev', 'head', 'edge', 'release', 'canary', 'nightly', 'current', 'trunk',
];

const VERSION_RE = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$/;

/** Why this version cannot name an immutable build, or null when it can. */
export function mutableVersionReason(version: string, mutableTags: string[] = DEFAULT_MUTABLE_TAGS): string | null {
  const lower = version.toLowerCase();
  if (mutableTags.some((t) => t.toLowerCase() === lower)) {
    return `'${version}' is a mutable tag: it points at different builds over time`;
  }
  if (version.includes('/')) return `'${version}' looks like a branch name, which moves with every commit`;
  if (!VERSION_RE.test(version)) {
    return `'${version}' is not a version: use letters, digits and . _ + - (at most 128), e.g. 1.4.2`;
  }
  if (!/\d/.test(version)) {
    return `'${version}' has no digit, so it looks like a branch or tag name rather than one build (e.g. 1.4.2 or 2026.11.22-3)`;
  }
  return null;
}

/** Normalises "sha256:<hex>" or bare 64-hex to "sha256:<lowercase hex>", or throws. */
export function normalizeDigest(digest: string, field = 'digest'): string {
  const m = /^(?:sha256:)?([0-9a-fA-F]{64})$/.exec(digest.trim());
  if (!m) {
    throw new InputError(`${field} must be sha256:<64 hex characters> (got '${truncate(digest)}')`, { field });
  }
  return `sha256:${m[1].toLowerCase()}`;
}

export function validateCommit(commit: string): string {
  const c = commit.trim();
  if (!/^[0-9a-fA-F]{7,64}$/.test(c)) {
    throw new InputError(`commit must be a git commit hash of 7 to 64 hex characters (got '${truncate(commit)}')`, {
      field: 'commit',
    });
  }
  return c.toLowerCase();
}

export function validateVersion(version: string, mutableTags?: string[]): string {
  const reason = mutableVersionReason(version, mutableTags);
  if (reason) throw new InputError(`version ${reason}`, { field: 'version' });
  return version;
}

function truncate(s: string): string {
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}
