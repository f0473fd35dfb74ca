-- 0009_search.sql: full-text search (protocol version 2, "Search") keeps nothing in the log.
--
-- The index lives in a database file of its own beside the log ("<database>-search", with its own
-- WAL), written by the search worker's thread (services/search_worker.c, store/search_store.c) from
-- the committed events: indexing never runs inside a send's transaction nor takes the log's write
-- lock (docs/benchmarks.md, "Search", for why: 60-75 us of the broker's thread per message when
-- FTS5 was kept current by triggers here). A log of any age is indexed by the worker from its
-- per-channel watermarks, in batches, after the broker starts; deleting the search file is always
-- safe (it is rebuilt the same way).
--
-- This migration stays in the sequence (user_version counts it). A database that had an unreleased
-- development version of it loses that version's objects here; on any other it does nothing.
DROP TRIGGER IF EXISTS search_index_message;
DROP TRIGGER IF EXISTS search_index_edit;
DROP TRIGGER IF EXISTS search_index_delete;
DROP TRIGGER IF EXISTS search_index_pruned;
DROP TABLE IF EXISTS search_fts;
DROP TABLE IF EXISTS search_docs;
