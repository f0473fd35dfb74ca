-- 0002_event_lookups.sql: indexes for the questions the send path and the inbox ask of the log.
--
-- "Is message 42 deleted?" (edits, reactions and thread replies must target a live message) and
-- "which is the last message of this channel?" (the inbox's `last`) would otherwise scan a channel's
-- whole log.

CREATE INDEX events_by_target ON events (channel_id, target, type) WHERE target IS NOT NULL;

CREATE INDEX events_by_type ON events (channel_id, type, seq);
