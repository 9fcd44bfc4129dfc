-- 2.0.0: sign-in sessions move from memory into the database.
CREATE TABLE IF NOT EXISTS sessions (id TEXT PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users(id), expires_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS sessions_by_user ON sessions (user_id);
