// What the access feature keeps: API tokens, by the sha256 of their value (never the value).
export interface ApiToken {
  id: number;
  user: string;
  label: string;
  createdAt: string;
  revokedAt: string | null;
}

export interface AccessStore {
  insertToken(user: string, label: string, sha256: string, at: string): Promise<ApiToken>;
  tokenByHash(sha256: string): Promise<ApiToken | null>;
  tokens(): Promise<ApiToken[]>;
  /** False when there is no active token with this id. */
  revokeToken(id: number, at: string): Promise<boolean>;
}
