-- 0008_session_tokens.sql: "stay signed in" (services/signin.c).
--
-- A connection that signed in with a real password may ask for a session token; later CONNECTs with
-- the same username and the token as password are accepted by mqchat's basic-auth hook. Only the
-- SHA-256 of the token's secret is kept: reading this table (or a backup of the file) signs nobody in.
-- A row is the whole session: revoking deletes it, and an expired one is refused, then deleted.
CREATE TABLE session_tokens (
  n             INTEGER PRIMARY KEY,   -- issue order (two tokens may share a created_ts)
  id            TEXT NOT NULL UNIQUE,  -- the public session id: 32 hex digits, also inside the token
  user          TEXT NOT NULL,         -- the only username the token signs in
  secret_hash   BLOB NOT NULL,         -- SHA-256 of the token's secret part (32 bytes)
  created_ts    INTEGER NOT NULL,      -- ms since the epoch
  expires_ts    INTEGER NOT NULL,      -- ms since the epoch; refused from then on
  last_used_ts  INTEGER                -- ms: the last sign-in with it (to the hour); NULL: never
);

-- A user's sessions, oldest first (`sessions`, `logout all`, and dropping the oldest over the cap).
CREATE INDEX session_tokens_by_user ON session_tokens (user, n);
-- Expired rows, deleted when the next token is issued.
CREATE INDEX session_tokens_by_expiry ON session_tokens (expires_ts);
