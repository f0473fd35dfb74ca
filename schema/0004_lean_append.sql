-- 0004_lean_append.sql: a cheaper append. Every send inserts one row into events, on the broker's only
-- thread, so whatever that insert does is paid once per message (docs/benchmarks.md has the profile).
-- The events table is rebuilt, because SQLite cannot alter a CHECK constraint in place:
--
-- - The type CHECK was an IN list, which SQLite evaluates by building an ephemeral b-tree of its six
--   values on every execution of the insert. It is spelled as ORs now: same rule, no table.
-- - msg_no is now set on every event, not only on messages: a message keeps its ordinal, any other
--   event gets the number of messages before it. "How many messages up to seq s" is then the msg_no of
--   row s itself, a primary-key lookup, and events_by_type (an index on every event, used only for
--   that question and to find the last message at start) goes.
-- - author_msg_no is no longer computed by a sub-select inside the insert: the plugin keeps each
--   member's count in memory and binds it (events_by_author stays: unread counts need it).
--
-- The copy runs once, inside the migration's transaction: about 10 s per million events here.

CREATE TABLE events_lean (
  channel_id     INTEGER NOT NULL REFERENCES channels (id),
  seq            INTEGER NOT NULL CHECK (seq > 0),
  id             TEXT NOT NULL,
  type           TEXT NOT NULL CHECK (type = 'message' OR type = 'edit' OR type = 'delete'
                                      OR type = 'reaction' OR type = 'join' OR type = 'leave'),
  author         TEXT NOT NULL,              -- the user who caused the event ("from" on the wire)
  ts             INTEGER NOT NULL,
  client_msg_id  TEXT,
  target         INTEGER,                    -- the seq it refers to: thread root, or edited/deleted/reacted message
  json           TEXT NOT NULL,              -- exactly what subscribers receive, live and in catch-up
  msg_no         INTEGER NOT NULL,           -- messages up to and including this event
  author_msg_no  INTEGER,                    -- messages only: 1, 2, 3... per channel and author
  PRIMARY KEY (channel_id, seq)
) WITHOUT ROWID;

INSERT INTO events_lean
SELECT channel_id, seq, id, type, author, ts, client_msg_id, target, json,
       sum(type = 'message') OVER (PARTITION BY channel_id ORDER BY seq), author_msg_no
FROM events ORDER BY channel_id, seq;

DROP TABLE events; -- with its indexes and triggers, recreated below (events_by_type excepted)
ALTER TABLE events_lean RENAME TO events;

CREATE UNIQUE INDEX events_by_client_msg_id ON events (author, client_msg_id) WHERE client_msg_id IS NOT NULL;
CREATE INDEX events_by_target ON events (channel_id, target, type) WHERE target IS NOT NULL;
CREATE INDEX events_by_author ON events (channel_id, author, seq) WHERE type = 'message';

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
