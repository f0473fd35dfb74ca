-- 0006_users_and_client_ids.sql: who may be named, and which user holds which client id.
--
-- users: the directory of protocol version 2. Everyone who has authenticated to the broker (recorded
-- once the broker accepted the connection, never on a mere attempt), plus those an admin provisions.
-- create, invite and dm refuse a name in neither set (no_such_user), so a typo or a flood of made-up
-- names never becomes a member.
CREATE TABLE users (
  name         TEXT PRIMARY KEY,
  provisioned  INTEGER NOT NULL DEFAULT 0, -- 1: added by an admin before any login
  first_seen   INTEGER NOT NULL            -- ms since the epoch
) WITHOUT ROWID;

-- The users already named in the log are users: members, and authors of events.
INSERT OR IGNORE INTO users (name, first_seen)
  SELECT user, 0 FROM members UNION SELECT author, 0 FROM events WHERE author IS NOT NULL;

-- client_ids: a client id belongs to the user who first connected with it, for as long as the broker
-- may hold a session for it. Mosquitto ties nothing to a client id, so without this anyone could
-- connect with another user's client id and inherit its session: its subscriptions and whatever is
-- queued or in flight for it, replies included (sessions.c).
CREATE TABLE client_ids (
  client_id  TEXT PRIMARY KEY,
  user       TEXT NOT NULL,
  last_seen  INTEGER NOT NULL -- ms since the epoch: the last connect or disconnect
) WITHOUT ROWID;
