-- 0011_push.sql: push hand-off (protocol version 2, "Push hand-off").
--
-- pushers: where a user's devices want pushes, as the Matrix Push Gateway API names it: an app_id
-- (which app, so which APNs/FCM credentials the gateway uses) and a pushkey (the device's token).
-- A user's pushkeys are unique: pusher_set with a known pushkey replaces its app_id and data.
CREATE TABLE pushers (
  id       INTEGER PRIMARY KEY,
  user     TEXT NOT NULL,
  app_id   TEXT NOT NULL,
  pushkey  TEXT NOT NULL,
  data     TEXT,                 -- a JSON object passed through to the gateway, or NULL
  ts       INTEGER NOT NULL,     -- pushkey_ts: when the pushkey was set, seconds since the epoch
  UNIQUE (user, pushkey)
);

-- A gateway's "rejected" list names pushkeys, not users.
CREATE INDEX pushers_by_key ON pushers (pushkey);

-- push_queue: the notifications waiting to go, at most one per (pusher, channel). services/push.c
-- writes a row in the transaction that appends the message event (a crash loses none); a newer
-- message of the channel replaces seq (and first_ms) and keeps the row's place in the retry schedule.
-- The worker (services/push_worker.c, its own connection) reads due rows, posts them, and deletes a
-- row only if its seq is still the one it posted, so a replacement made meanwhile is not lost.
CREATE TABLE push_queue (
  pusher_id   INTEGER NOT NULL,
  channel_id  INTEGER NOT NULL,
  seq         INTEGER NOT NULL,  -- the message event to notify
  first_ms    INTEGER NOT NULL,  -- wall ms it was queued: retries stop 24 h after
  attempts    INTEGER NOT NULL,  -- failed posts so far
  due_ms      INTEGER NOT NULL,  -- wall ms of the next attempt
  PRIMARY KEY (pusher_id, channel_id)
) WITHOUT ROWID;

CREATE INDEX push_queue_by_due ON push_queue (due_ms);

CREATE TRIGGER push_queue_of_pusher AFTER DELETE ON pushers
BEGIN
  DELETE FROM push_queue WHERE pusher_id = OLD.id;
END;

-- A member who leaves gets no pushes from the channel any more, even waiting ones.
CREATE TRIGGER push_queue_of_leaver AFTER DELETE ON members
BEGIN
  DELETE FROM push_queue WHERE channel_id = OLD.channel_id
    AND pusher_id IN (SELECT id FROM pushers WHERE user = OLD.user);
END;
