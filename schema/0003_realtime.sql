-- 0003_realtime.sql: read and delivery cursors, and the message ordinals that make unread counts cheap.
--
-- Unread = messages from others above my read cursor. With each message numbered within its channel
-- (msg_no) and within its author's messages in that channel (author_msg_no), that count is
--   (msg_no at head - msg_no at cursor) - (my author_msg_no at head - my author_msg_no at cursor)
-- where "at s" means "of the last message with seq <= s": four index lookups, whatever the history.

ALTER TABLE events ADD COLUMN msg_no INTEGER;        -- messages only: 1, 2, 3... per channel
ALTER TABLE events ADD COLUMN author_msg_no INTEGER; -- messages only: 1, 2, 3... per channel and author

-- Number the messages already in the log. The log is append-only: lift the guard for this one pass.
DROP TRIGGER events_no_update;
UPDATE events SET msg_no = o.msg_no, author_msg_no = o.author_msg_no
FROM (SELECT channel_id, seq,
             row_number() OVER (PARTITION BY channel_id ORDER BY seq) AS msg_no,
             row_number() OVER (PARTITION BY channel_id, author ORDER BY seq) AS author_msg_no
      FROM events WHERE type = 'message') AS o
WHERE events.channel_id = o.channel_id AND events.seq = o.seq;
CREATE TRIGGER events_no_update BEFORE UPDATE ON events
BEGIN
  SELECT RAISE(ABORT, 'events: the log is append-only');
END;

CREATE INDEX events_by_author ON events (channel_id, author, seq) WHERE type = 'message';

-- A user's read cursor in a channel, shared by its devices.
CREATE TABLE read_cursors (
  channel_id  INTEGER NOT NULL REFERENCES channels (id),
  user        TEXT NOT NULL,
  seq         INTEGER NOT NULL,
  ts          INTEGER NOT NULL,
  PRIMARY KEY (channel_id, user)
) WITHOUT ROWID;

-- A device's delivery cursor in a channel.
CREATE TABLE delivered_cursors (
  channel_id  INTEGER NOT NULL REFERENCES channels (id),
  user        TEXT NOT NULL,
  device      TEXT NOT NULL,
  seq         INTEGER NOT NULL,
  ts          INTEGER NOT NULL,
  PRIMARY KEY (channel_id, user, device)
) WITHOUT ROWID;

-- Members from before: their read cursor starts at their join, so earlier history is not unread.
INSERT INTO read_cursors (channel_id, user, seq, ts)
SELECT m.channel_id, m.user, m.joined_seq, COALESCE(e.ts, 0)
FROM members m LEFT JOIN events e ON e.channel_id = m.channel_id AND e.seq = m.joined_seq;
