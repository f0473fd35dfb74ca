-- 0012_retention.sql: retention and channel deletion (protocol version 2, "Operations").
--
-- The log stays append-only for ordinary code: the only way an event row goes is through a row of
-- prune_allowed, which store/retention.c writes and deletes again inside the one transaction that
-- prunes (a batch of old events) or erases (a deleted channel). The trigger below consults it, so a
-- stray DELETE anywhere else still aborts. With PRAGMA secure_delete (store.c, 0007) the pruned rows'
-- bytes are overwritten in the file once checkpointed.
--
-- Always whole seq ranges: everything of a channel below a cut seq, reactions, edits and deletes with
-- it. An edit or reaction above the cut whose target is below it stays; it names a seq that the
-- "first" of a truncated catch-up says is gone.

CREATE TABLE prune_allowed (
  channel_id  INTEGER PRIMARY KEY,
  below       INTEGER NOT NULL          -- events of the channel with seq < below may be deleted
);

DROP TRIGGER events_no_delete;
CREATE TRIGGER events_no_delete BEFORE DELETE ON events
WHEN NOT COALESCE(OLD.seq < (SELECT below FROM prune_allowed WHERE channel_id = OLD.channel_id), 0)
BEGIN
  SELECT RAISE(ABORT, 'events: the log is append-only');
END;

-- A channel's retention policy and the first seq it still holds. No row: no policy of its own (the
-- plugin_opt_retention_* defaults apply) and nothing pruned yet (first is 1).
--   days   events older than this many days go (0: no limit by age)
--   count  only the newest `count` events stay (0: no limit by count)
-- Whichever limit cuts more wins; the channel's last event always stays (it holds the head: the
-- gapless trigger numbers the next event from it).
CREATE TABLE channel_retention (
  channel_id  INTEGER PRIMARY KEY,
  days        INTEGER,                  -- NULL: the default option; 0: none
  count       INTEGER,                  -- NULL: the default option; 0: none
  first_seq   INTEGER NOT NULL DEFAULT 1 CHECK (first_seq >= 1)
);
