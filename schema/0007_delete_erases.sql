-- 0007_delete_erases.sql: a delete removes the content, not just the view (protocol version 2).
--
-- The log stays append-only, with one exception: when a delete is appended, the message it targets
-- and every edit of it are rewritten in the same transaction without their body and with
-- "deleted":true. Seqs, ids, types, authors, times and the delete event itself stay. The trigger
-- below allows exactly that rewrite and nothing else. With PRAGMA secure_delete (store.c) SQLite
-- overwrites the old bytes in the database file's pages once the change is checkpointed into it.

DROP TRIGGER events_no_update;
CREATE TRIGGER events_no_update BEFORE UPDATE ON events
-- (COALESCE: a NULL anywhere in the condition must refuse, not slip through as "not known")
WHEN NOT COALESCE(NEW.channel_id = OLD.channel_id AND NEW.seq = OLD.seq AND NEW.id = OLD.id
                  AND NEW.type = OLD.type AND NEW.type IN ('message', 'edit') AND NEW.author = OLD.author
                  AND NEW.ts = OLD.ts AND NEW.client_msg_id IS OLD.client_msg_id
                  AND NEW.target IS OLD.target AND NEW.msg_no IS OLD.msg_no
                  AND NEW.author_msg_no IS OLD.author_msg_no
                  AND json_extract(NEW.json, '$.deleted') IS 1 AND json_extract(NEW.json, '$.body') IS NULL,
                  0)
BEGIN
  SELECT RAISE(ABORT, 'events: the log is append-only (only a delete erases a message)');
END;

-- Messages deleted before this version: erased now, with their edits.
UPDATE events SET json = json_set(json_remove(json, '$.body'), '$.deleted', json('true'))
WHERE type = 'message' AND EXISTS (SELECT 1 FROM events AS d WHERE d.channel_id = events.channel_id
                                   AND d.target = events.seq AND d.type = 'delete');
UPDATE events SET json = json_set(json_remove(json, '$.body'), '$.deleted', json('true'))
WHERE type = 'edit' AND EXISTS (SELECT 1 FROM events AS d WHERE d.channel_id = events.channel_id
                                AND d.target = events.target AND d.type = 'delete');
