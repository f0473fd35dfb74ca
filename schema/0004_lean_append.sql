-- 0004_lean_append.sql: a cheaper append. Every send inserts one row into events, on the broker's only
-- thread, so each index and sub-select on that insert is paid once per message (bench/, and
-- docs/benchmarks.md for the profile).
--
-- - msg_no is now set on every event, not only on messages: a message keeps its ordinal, any other
--   event gets the number of messages before it. "How many messages up to seq s" is then the msg_no of
--   row s itself, a primary-key lookup, and events_by_type (an index on every event, used only for
--   that question and the channel's last message at start) goes.
-- - author_msg_no is no longer computed by a sub-select inside the INSERT: the plugin keeps each
--   member's count in memory and binds it (events_by_author stays: unread counts need it).

DROP INDEX events_by_type;

-- Number the non-message events already in the log. Lift the append-only guard for this one pass.
DROP TRIGGER events_no_update;
UPDATE events SET msg_no = o.messages_so_far
FROM (SELECT channel_id, seq,
             sum(type = 'message') OVER (PARTITION BY channel_id ORDER BY seq) AS messages_so_far
      FROM events) AS o
WHERE events.channel_id = o.channel_id AND events.seq = o.seq AND events.type != 'message';
CREATE TRIGGER events_no_update BEFORE UPDATE ON events
BEGIN
  SELECT RAISE(ABORT, 'events: the log is append-only');
END;
