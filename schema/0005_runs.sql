-- 0005_runs.sql: what the plugin knows of the run before this one.
--
-- At synchronous=normal a commit reaches the OS but not the disk, so a power loss or OS crash can
-- take back the last acknowledged events, and their seqs would then name other events. The plugin
-- records whether a broker has the database open, at which level, and the kernel's boot id. A start
-- that finds the previous run unfinished, at normal, on a machine that has booted since, gives every
-- channel a new epoch: clients then drop their copy and sync again (store.c, chat_store__begin_run).

CREATE TABLE runs (
  name   TEXT PRIMARY KEY, -- 'running' ('1' while a broker has the database open), 'synchronous', 'boot_id'
  value  TEXT NOT NULL
) WITHOUT ROWID;
