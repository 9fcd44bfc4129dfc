-- Undoes 2.0.0 (also a partial run of it): 1.x keeps sessions in memory.
DROP INDEX IF EXISTS sessions_by_user;
DROP TABLE IF EXISTS sessions;
