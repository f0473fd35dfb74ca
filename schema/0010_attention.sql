-- 0010_attention.sql: mentions and notification levels (protocol version 2, "Mentions" and
-- "Notification level and mute"). Threads need nothing new: events_by_target (0004) already indexes
-- (channel_id, target, type), which finds a root's replies and, through them, what targets them.
--
-- mentions: one row per (message, person mentioned), so "how many unread events mention me here" is
-- an index range count, whatever the log's length. The event JSON carries the truth ("mentions",
-- "mentions_all", computed by services/mentions.c when the event is built); store.c writes these rows
-- in the same transaction as the event it appends (chat_store__insert_event), so the count never
-- disagrees with the log and a crash loses neither:
--   - message -> a row per member it names (its author excepted: nobody is notified by themselves),
--     and one with user '' for @channel / @here;
--   - edit -> the same, for the message it edits, but only for those the message (or an earlier
--     edit) did not mention already (INSERT OR IGNORE on the key): fixing a typo in "@cy hi" does
--     not count as a second mention of cy;
--   - in a direct channel every message counts as a mention of the other person;
--   - delete -> the message's rows go: a deleted message stops counting (delete erases).
-- msg_seq is the message a row belongs to; event_seq the event that brought it (the message or the
-- edit), which is what the read cursor is compared with and what the `mentions` op returns.
--
-- Why the plugin writes the rows rather than AFTER INSERT triggers on events (which would read the
-- JSON): every trigger on events costs every append a frame of its own, even when its WHEN clause is
-- false. Measured with callgrind on the broker over 2,200 acknowledged sends, three such triggers cost
-- ~19,000 instructions per send (about 5 % of the broker's total); written by the plugin, an event
-- that mentions nobody costs nothing here.

CREATE TABLE mentions (
  channel_id  INTEGER NOT NULL,
  msg_seq     INTEGER NOT NULL,   -- the message mentioned in (an edit's target)
  user        TEXT NOT NULL,      -- the member mentioned; '' for everyone (@channel, @here)
  event_seq   INTEGER NOT NULL,   -- the event that first mentioned them: the message or a later edit
  author      TEXT NOT NULL,      -- who wrote it: an @channel does not count for its own author
  ts          INTEGER NOT NULL,   -- that event's ts
  PRIMARY KEY (channel_id, msg_seq, user)
) WITHOUT ROWID;

-- "Unread mentions of u in c above r": users u and '' from event_seq r up, covering (author for the
-- filter, ts for the `mentions` op's order).
CREATE INDEX mentions_by_user ON mentions (channel_id, user, event_seq, author, ts);

-- Nothing here touches the events table itself (no trigger on it): whatever prunes events (retention,
-- channel deletion: none yet) must delete their mentions rows too, by (channel_id, msg_seq).

-- Direct messages already in the log count as mentions of the other person (named mentions were
-- never computed for them: their events carry none).
INSERT OR IGNORE INTO mentions (channel_id, msg_seq, user, event_seq, author, ts)
SELECT e.channel_id, e.seq, m.user, e.seq, e.author, e.ts
FROM events AS e
JOIN channels AS c ON c.id = e.channel_id AND c.visibility = 'dm'
JOIN members AS m ON m.channel_id = e.channel_id AND m.user != e.author
WHERE e.type = 'message' AND json_extract(e.json, '$.deleted') IS NOT 1;

-- notify_levels: a member's notification level for a channel, when not the default 'all'
-- ('none' is mute). Push hand-off reads it; clients show it. A member who leaves loses it, as they
-- lose their cursors.
CREATE TABLE notify_levels (
  channel_id  INTEGER NOT NULL,
  user        TEXT NOT NULL,
  level       TEXT NOT NULL CHECK (level = 'mentions' OR level = 'none'),
  PRIMARY KEY (channel_id, user)
) WITHOUT ROWID;

CREATE TRIGGER notify_levels_of_leaver AFTER DELETE ON members
BEGIN
  DELETE FROM notify_levels WHERE channel_id = OLD.channel_id AND user = OLD.user;
END;
