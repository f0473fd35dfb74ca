-- 0013_media.sql: media, upload then reference (protocol version 2, "Media: upload, then reference").
--
-- The bytes never enter this database: they are files beside it (store/blobs.c), a partial file per
-- upload while its pieces arrive, then one file per distinct sha256 (identical bytes stored once).
-- Here is what the plugin knows about each upload:
--   media       one row per upload: who uploaded it, what it claims to be, how much has arrived
--               (ranges: the received byte ranges "s-e,s-e", sorted and merged), and once complete its
--               sha256, which names its blob. referenced: a message referenced it once; released:
--               and none does any more (deleted, pruned), so it goes at the next collection.
--   media_refs  which messages reference which media: the download check ("a member of a channel
--               whose log references M in a message not deleted") is a range of its primary key.
-- media_refs is kept by triggers in the append's own transaction, so it never disagrees with the
-- log. The insert trigger's WHEN costs every append a test (see docs/benchmarks.md, "Media").

CREATE TABLE media (
  id            TEXT PRIMARY KEY,        -- m-<32 hex>
  owner         TEXT NOT NULL,           -- the uploader
  channel_id    INTEGER NOT NULL,        -- the channel named at upload
  name          TEXT NOT NULL,
  type          TEXT NOT NULL,           -- as given
  size          INTEGER NOT NULL CHECK (size >= 0),
  received      INTEGER NOT NULL DEFAULT 0,
  ranges        TEXT NOT NULL DEFAULT '',
  expect_sha256 TEXT,                    -- given at upload: the completed bytes must match it
  sha256        TEXT,                    -- NULL until every byte is in
  created_ms    INTEGER NOT NULL,
  referenced    INTEGER NOT NULL DEFAULT 0,
  released      INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

CREATE INDEX media_by_owner ON media (owner);
CREATE INDEX media_by_sha256 ON media (sha256) WHERE sha256 IS NOT NULL;
-- What collection reads, each pass a short index range however many uploads there are: uploads never
-- referenced, oldest first; uploads released.
CREATE INDEX media_unreferenced ON media (created_ms) WHERE referenced = 0;
CREATE INDEX media_released ON media (id) WHERE released = 1;

CREATE TABLE media_refs (
  media_id    TEXT NOT NULL,
  channel_id  INTEGER NOT NULL,
  seq         INTEGER NOT NULL,
  PRIMARY KEY (media_id, channel_id, seq)
) WITHOUT ROWID;

CREATE INDEX media_refs_by_event ON media_refs (channel_id, seq);

-- A message carrying "media":[{"id":...,"thumbnail":{"id":...}?},...] references each, and each
-- thumbnail (the send path checked them all), so a member may download both.
-- One statement per entry, up to CHAT_SEND_MEDIA_MAX (10); a missing entry is NULL, which the NOT NULL
-- of media_id makes OR IGNORE skip. (An INSERT ... SELECT into a table with a trigger materializes
-- its rows: every append's program would get ephemeral tables, which tests/unit/test_store.c forbids.)
CREATE TRIGGER media_refs_of_message AFTER INSERT ON events
WHEN NEW.type = 'message' AND instr(NEW.json, '"media":[') > 0
BEGIN
  INSERT OR IGNORE INTO media_refs (media_id, channel_id, seq)
    VALUES (json_extract(NEW.json, '$.media[0].id'), NEW.channel_id, NEW.seq);
  INSERT OR IGNORE INTO media_refs (media_id, channel_id, seq)
    VALUES (json_extract(NEW.json, '$.media[1].id'), NEW.channel_id, NEW.seq);
  INSERT OR IGNORE INTO media_refs (media_id, channel_id, seq)
    VALUES (json_extract(NEW.json, '$.media[2].id'), NEW.channel_id, NEW.seq);
  INSERT OR IGNORE INTO media_refs (media_id, channel_id, seq)
    VALUES (json_extract(NEW.json, '$.media[3].id'), NEW.channel_id, NEW.seq);
  INSERT OR IGNORE INTO media_refs (media_id, channel_id, seq)
    VALUES (json_extract(NEW.json, '$.media[4].id'), NEW.channel_id, NEW.seq);
  INSERT OR IGNORE INTO media_refs (media_id, channel_id, seq)
    VALUES (json_extract(NEW.json, '$.media[5].id'), NEW.channel_id, NEW.seq);
  INSERT OR IGNORE INTO media_refs (media_id, channel_id, seq)
    VALUES (json_extract(NEW.json, '$.media[6].id'), NEW.channel_id, NEW.seq);
  INSERT OR IGNORE INTO media_refs (media_id, channel_id, seq)
    VALUES (json_extract(NEW.json, '$.media[7].id'), NEW.channel_id, NEW.seq);
  INSERT OR IGNORE INTO media_refs (media_id, channel_id, seq)
    VALUES (json_extract(NEW.json, '$.media[8].id'), NEW.channel_id, NEW.seq);
  INSERT OR IGNORE INTO media_refs (media_id, channel_id, seq)
    VALUES (json_extract(NEW.json, '$.media[9].id'), NEW.channel_id, NEW.seq);
  INSERT OR IGNORE INTO media_refs (media_id, channel_id, seq)
    VALUES (json_extract(NEW.json, '$.media[0].thumbnail.id'), NEW.channel_id, NEW.seq);
  INSERT OR IGNORE INTO media_refs (media_id, channel_id, seq)
    VALUES (json_extract(NEW.json, '$.media[1].thumbnail.id'), NEW.channel_id, NEW.seq);
  INSERT OR IGNORE INTO media_refs (media_id, channel_id, seq)
    VALUES (json_extract(NEW.json, '$.media[2].thumbnail.id'), NEW.channel_id, NEW.seq);
  INSERT OR IGNORE INTO media_refs (media_id, channel_id, seq)
    VALUES (json_extract(NEW.json, '$.media[3].thumbnail.id'), NEW.channel_id, NEW.seq);
  INSERT OR IGNORE INTO media_refs (media_id, channel_id, seq)
    VALUES (json_extract(NEW.json, '$.media[4].thumbnail.id'), NEW.channel_id, NEW.seq);
  INSERT OR IGNORE INTO media_refs (media_id, channel_id, seq)
    VALUES (json_extract(NEW.json, '$.media[5].thumbnail.id'), NEW.channel_id, NEW.seq);
  INSERT OR IGNORE INTO media_refs (media_id, channel_id, seq)
    VALUES (json_extract(NEW.json, '$.media[6].thumbnail.id'), NEW.channel_id, NEW.seq);
  INSERT OR IGNORE INTO media_refs (media_id, channel_id, seq)
    VALUES (json_extract(NEW.json, '$.media[7].thumbnail.id'), NEW.channel_id, NEW.seq);
  INSERT OR IGNORE INTO media_refs (media_id, channel_id, seq)
    VALUES (json_extract(NEW.json, '$.media[8].thumbnail.id'), NEW.channel_id, NEW.seq);
  INSERT OR IGNORE INTO media_refs (media_id, channel_id, seq)
    VALUES (json_extract(NEW.json, '$.media[9].thumbnail.id'), NEW.channel_id, NEW.seq);
END;

-- Referenced (again): kept. (A trigger of its own: an UPDATE ... WHERE id IN (json_each) would give
-- every append's program an ephemeral table, which tests/unit/test_store.c forbids.)
CREATE TRIGGER media_referenced AFTER INSERT ON media_refs
BEGIN
  UPDATE media SET referenced = 1, released = 0 WHERE id = NEW.media_id;
END;

-- A delete erases the message (0007): its media references go with it.
CREATE TRIGGER media_refs_of_deleted AFTER UPDATE ON events
WHEN NEW.type = 'message' AND json_extract(NEW.json, '$.deleted') IS 1
BEGIN
  DELETE FROM media_refs WHERE channel_id = NEW.channel_id AND seq = NEW.seq;
END;

-- Retention and channel deletion (0012) take whole events: their references too.
CREATE TRIGGER media_refs_of_pruned AFTER DELETE ON events
WHEN OLD.type = 'message'
BEGIN
  DELETE FROM media_refs WHERE channel_id = OLD.channel_id AND seq = OLD.seq;
END;

-- The last reference gone: the upload is released for collection.
CREATE TRIGGER media_released_by_last_ref AFTER DELETE ON media_refs
WHEN NOT EXISTS (SELECT 1 FROM media_refs WHERE media_id = OLD.media_id)
BEGIN
  UPDATE media SET released = 1 WHERE id = OLD.media_id;
END;
