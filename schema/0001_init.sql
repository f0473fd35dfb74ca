-- 0001_init.sql: channels, their members, and each channel's event log.
--
-- Applied by the plugin at start inside one transaction, which also sets PRAGMA user_version = 1.
-- The log is append-only and gapless: the triggers below make the database itself refuse an update,
-- a delete, or an event whose seq is not the channel's last seq + 1.

PRAGMA application_id = 1836147572; -- 'mqct': marks the file as an mqchat database

CREATE TABLE channels (
  id          INTEGER PRIMARY KEY,
  name        TEXT NOT NULL UNIQUE,          -- the channel id clients use in topics
  visibility  TEXT NOT NULL CHECK (visibility IN ('public', 'private', 'dm')),
  title       TEXT NOT NULL DEFAULT '',
  epoch       TEXT NOT NULL,                 -- names this log; a client cursor is valid only within it
  created_by  TEXT NOT NULL,
  created_at  INTEGER NOT NULL               -- ms since the Unix epoch
);

CREATE TABLE members (
  channel_id  INTEGER NOT NULL REFERENCES channels (id),
  user        TEXT NOT NULL,
  role        TEXT NOT NULL CHECK (role IN ('owner', 'member')),
  joined_seq  INTEGER NOT NULL,              -- seq of the join event
  PRIMARY KEY (channel_id, user)
) WITHOUT ROWID;

CREATE TABLE events (
  channel_id     INTEGER NOT NULL REFERENCES channels (id),
  seq            INTEGER NOT NULL CHECK (seq > 0),
  id             TEXT NOT NULL,
  type           TEXT NOT NULL CHECK (type IN ('message', 'edit', 'delete', 'reaction', 'join', 'leave')),
  author         TEXT NOT NULL,              -- the user who caused the event ("from" on the wire)
  ts             INTEGER NOT NULL,
  client_msg_id  TEXT,
  target         INTEGER,                    -- the seq it refers to: thread root, or edited/deleted/reacted message
  json           TEXT NOT NULL,              -- exactly what subscribers receive, live and in catch-up
  PRIMARY KEY (channel_id, seq)
) WITHOUT ROWID;

-- A retried send is recognised by (user, client_msg_id).
CREATE UNIQUE INDEX events_by_client_msg_id ON events (author, client_msg_id) WHERE client_msg_id IS NOT NULL;

CREATE TRIGGER events_gapless BEFORE INSERT ON events
WHEN NEW.seq != COALESCE((SELECT MAX(seq) FROM events WHERE channel_id = NEW.channel_id), 0) + 1
BEGIN
  SELECT RAISE(ABORT, 'events: seq must be the channel''s last seq + 1');
END;

CREATE TRIGGER events_no_update BEFORE UPDATE ON events
BEGIN
  SELECT RAISE(ABORT, 'events: the log is append-only');
END;

CREATE TRIGGER events_no_delete BEFORE DELETE ON events
BEGIN
  SELECT RAISE(ABORT, 'events: the log is append-only');
END;
