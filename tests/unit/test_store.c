/*
 * test_store.c - the SQLite store: migrations, refusals, the log's invariants, reads, lock contention.
 *
 * Runs against real database files in a fresh temporary directory.
 */
#define _DEFAULT_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "checkpoint.h"
#include "migrations.h"
#include "store.h"
#include "th.h"

static char dir[64];
static char path[128];


static void fresh_path(void)
{
	snprintf(dir, sizeof(dir), "/tmp/mqchat-store-XXXXXX");
	TH_CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/chat.db", dir);
}


static void remove_dir(void)
{
	char file[160];
	const char *suffixes[] = {"", "-wal", "-shm"};

	for(size_t i = 0; i < 3; i++) {
		snprintf(file, sizeof(file), "%s%s", path, suffixes[i]);
		unlink(file);
	}
	rmdir(dir);
}


static struct chat_store *open_store(int *found)
{
	struct chat_store *store = NULL;
	char err[512] = "";

	TH_CHECKF(chat_store__open(path, CHAT_SYNC_FULL, 100, &store, found, err, sizeof(err)) == 0, "%s",
		  err);
	return store;
}


static void exec_sql(const char *sql)
{
	sqlite3 *db = NULL;
	char *msg = NULL;

	TH_EQ_INT(sqlite3_open(path, &db), SQLITE_OK);
	TH_CHECKF(sqlite3_exec(db, sql, NULL, NULL, &msg) == SQLITE_OK, "%s: %s", sql, msg);
	sqlite3_close(db);
}


static long long query_int(const char *sql)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *stmt = NULL;
	long long value = -1;

	TH_EQ_INT(sqlite3_open(path, &db), SQLITE_OK);
	TH_EQ_INT(sqlite3_prepare_v2(db, sql, -1, &stmt, NULL), SQLITE_OK);
	if(sqlite3_step(stmt) == SQLITE_ROW) {
		value = sqlite3_column_int64(stmt, 0);
	}
	sqlite3_finalize(stmt);
	sqlite3_close(db);
	return value;
}


/* How many instructions of the append's bytecode open a temporary b-tree: SQLite builds one per
 * execution for a CHECK with an IN list, on the broker's thread, once per send (schema/0004). */
static int append_opens_temporary_tables(void)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *stmt = NULL;
	int count = 0;

	TH_EQ_INT(sqlite3_open(path, &db), SQLITE_OK);
	TH_EQ_INT(sqlite3_prepare_v2(db,
				     "EXPLAIN INSERT INTO events (channel_id, seq, id, type, author, ts,"
				     " client_msg_id, target, json, msg_no, author_msg_no)"
				     " VALUES (1, 1, 'i', 'message', 'ada', 1, 'c', NULL, '{}', 1, 1)",
				     -1, &stmt, NULL),
		  SQLITE_OK);
	while(sqlite3_step(stmt) == SQLITE_ROW) {
		count += strcmp((const char *)sqlite3_column_text(stmt, 1), "OpenEphemeral") == 0;
	}
	sqlite3_finalize(stmt);
	sqlite3_close(db);
	return count;
}


/* A channel "general" with ada (owner) and one message per body, appended as the plugin would. */
static int64_t seed(struct chat_store *store, const char *const *bodies, int count)
{
	struct chat_error err;
	int64_t rowid = 0;

	TH_EQ_INT(chat_store__begin(store, &err), CHAT_ERR_OK);
	TH_EQ_INT(chat_store__insert_channel(store, "general", CHAT_VISIBILITY_PUBLIC, "General", "epoch-1",
					     "ada", 1, &rowid, &err),
		  CHAT_ERR_OK);
	TH_EQ_INT(chat_store__put_member(store, rowid, "ada", CHAT_ROLE_OWNER, 1, &err), CHAT_ERR_OK);
	for(int i = 0; i < count; i++) {
		char json[64], cmid[16];
		struct chat_event ev = {.channel = "general",
					.seq = i + 1,
					.type = CHAT_EVENT_MESSAGE,
					.from = "ada",
					.device = "d",
					.ts = 100 + i,
					.body = bodies[i],
					.client_msg_id = cmid,
					.msg_no = i + 1,
					.author_msg_no = i + 1};
		snprintf(cmid, sizeof(cmid), "c-%d", i + 1);
		snprintf(ev.id, sizeof(ev.id), "id-%d", i + 1);
		snprintf(json, sizeof(json), "{\"seq\":%d}", i + 1);
		TH_EQ_INT(chat_store__insert_event(store, rowid, &ev, json, strlen(json), &err), CHAT_ERR_OK);
	}
	TH_EQ_INT(chat_store__commit(store, &err), CHAT_ERR_OK);
	return rowid;
}


static void test_fresh_database(void)
{
	struct chat_store *store;
	int found = -1;

	fresh_path();
	store = open_store(&found);
	TH_EQ_INT(found, 0);
	TH_EQ_INT(chat_store__schema_version(), chat_migration_count);
	TH_EQ_INT(query_int("PRAGMA user_version"), chat_migration_count);
	TH_EQ_INT(query_int("PRAGMA application_id"), 1836147572);
	TH_EQ_INT(query_int("SELECT count(*) FROM pragma_journal_mode WHERE journal_mode = 'wal'"), 1);
	TH_EQ_INT(append_opens_temporary_tables(), 0);
	chat_store__close(store);
	store = open_store(&found);
	TH_EQ_INT(found, chat_migration_count); /* nothing to do the second time */
	chat_store__close(store);
	remove_dir();
}


static void test_log_invariants(void)
{
	const char *bodies[] = {"one", "two"};
	struct chat_store *store;
	struct chat_error err;
	int64_t rowid;
	int found;

	fresh_path();
	store = open_store(&found);
	rowid = seed(store, bodies, 2);
	/* a gap is refused by the database itself */
	struct chat_event ev = {.channel = "general",
				.seq = 4,
				.id = "x",
				.type = CHAT_EVENT_MESSAGE,
				.from = "ada",
				.device = "d",
				.ts = 1,
				.body = "gap"};
	TH_EQ_INT(chat_store__begin(store, &err), CHAT_ERR_OK);
	TH_EQ_INT(chat_store__insert_event(store, rowid, &ev, "{}", 2, &err), CHAT_ERR_UNAVAILABLE);
	TH_CHECKF(strstr(err.message, "last seq + 1") != NULL, "%s", err.message);
	ev.seq = 2; /* reuse */
	TH_EQ_INT(chat_store__insert_event(store, rowid, &ev, "{}", 2, &err), CHAT_ERR_UNAVAILABLE);
	chat_store__rollback(store);
	chat_store__close(store);
	/* and the log is append-only */
	{
		sqlite3 *db = NULL;
		TH_EQ_INT(sqlite3_open(path, &db), SQLITE_OK);
		TH_CHECK(sqlite3_exec(db, "UPDATE events SET json = '{}'", NULL, NULL, NULL) != SQLITE_OK);
		TH_CHECK(sqlite3_exec(db, "DELETE FROM events", NULL, NULL, NULL) != SQLITE_OK);
		/* the one rewrite a delete makes (erasing the body) is allowed only as that: not with the
		 * body kept, not with another field changed */
		TH_CHECK(sqlite3_exec(db,
				      "UPDATE events SET json = json_set(json, '$.deleted', json('true'), "
				      "'$.body', 'kept')",
				      NULL, NULL, NULL)
			 != SQLITE_OK);
		TH_CHECK(sqlite3_exec(db,
				      "UPDATE events SET author = 'eve', json = json_set(json_remove(json, "
				      "'$.body'), '$.deleted', json('true'))",
				      NULL, NULL, NULL)
			 != SQLITE_OK);
		TH_CHECK(sqlite3_exec(db,
				      "UPDATE events SET json = json_set(json_remove(json, '$.body'), "
				      "'$.deleted', json('true')) WHERE type = 'join'",
				      NULL, NULL, NULL)
			 == SQLITE_OK); /* no join events here: nothing matched */
		sqlite3_close(db);
	}
	TH_EQ_INT(query_int("SELECT count(*) FROM events"), 2);
	TH_EQ_INT(query_int("SELECT count(*) FROM events WHERE json_extract(json, '$.deleted') IS NOT NULL"),
		  0);
	remove_dir();
}


struct collected {
	int64_t seqs[16];
	int count;
	int stop_after;
};


static bool collect(int64_t seq, const char *json, size_t len, void *ctx)
{
	struct collected *c = ctx;

	(void)json;
	(void)len;
	if(c->stop_after > 0 && c->count == c->stop_after) {
		return false;
	}
	c->seqs[c->count++] = seq;
	return true;
}


static void test_reads(void)
{
	const char *bodies[] = {"a", "b", "c", "d", "e"};
	struct chat_stored_event stored;
	struct chat_event_brief brief;
	struct collected c = {0};
	struct chat_store *store;
	struct chat_error err;
	bool found = false;
	char *json = NULL;
	int64_t rowid;
	int dummy;

	fresh_path();
	store = open_store(&dummy);
	rowid = seed(store, bodies, 5);

	TH_EQ_INT(chat_store__events_after(store, rowid, 1, 3, collect, &c, &err), CHAT_ERR_OK);
	TH_EQ_INT(c.count, 3);
	TH_EQ_INT(c.seqs[0], 2);
	TH_EQ_INT(c.seqs[2], 4);
	c = (struct collected){.stop_after = 2};
	TH_EQ_INT(chat_store__events_after(store, rowid, 0, 100, collect, &c, &err), CHAT_ERR_OK);
	TH_EQ_INT(c.count, 2);

	TH_EQ_INT(chat_store__find_client_msg(store, "ada", "c-3", &found, &stored, &err), CHAT_ERR_OK);
	TH_CHECK(found);
	TH_EQ_INT(stored.seq, 3);
	TH_EQ_STR(stored.id, "id-3");
	TH_EQ_INT(stored.ts, 102);
	TH_EQ_INT(chat_store__find_client_msg(store, "bo", "c-3", &found, &stored, &err), CHAT_ERR_OK);
	TH_CHECK(!found);

	TH_EQ_INT(chat_store__event_brief(store, rowid, 2, &brief, &err), CHAT_ERR_OK);
	TH_CHECK(brief.exists && brief.is_message && !brief.deleted && !brief.in_thread);
	TH_CHECK(chat_event_brief__by(&brief, "ada"));
	TH_CHECK(!chat_event_brief__by(&brief, "ad"));
	TH_EQ_INT(chat_store__event_brief(store, rowid, 99, &brief, &err), CHAT_ERR_OK);
	TH_CHECK(!brief.exists);

	TH_EQ_INT(chat_store__event_json(store, rowid, 4, &json, &err), CHAT_ERR_OK);
	TH_EQ_STR(json, "{\"seq\":4}");
	free(json);
	chat_store__close(store);
	remove_dir();
}


static void test_delete_marks_message(void)
{
	const char *bodies[] = {"a"};
	struct chat_event_brief brief;
	struct chat_store *store;
	struct chat_error err;
	int64_t rowid;
	int dummy;

	fresh_path();
	store = open_store(&dummy);
	rowid = seed(store, bodies, 1);
	struct chat_event del = {.channel = "general",
				 .seq = 2,
				 .id = "d",
				 .type = CHAT_EVENT_DELETE,
				 .from = "ada",
				 .device = "d",
				 .ts = 5,
				 .target = 1};
	TH_EQ_INT(chat_store__begin(store, &err), CHAT_ERR_OK);
	TH_EQ_INT(chat_store__insert_event(store, rowid, &del, "{}", 2, &err), CHAT_ERR_OK);
	TH_EQ_INT(chat_store__commit(store, &err), CHAT_ERR_OK);
	TH_EQ_INT(chat_store__event_brief(store, rowid, 1, &brief, &err), CHAT_ERR_OK);
	TH_CHECK(brief.deleted);
	TH_EQ_INT(chat_store__event_brief(store, rowid, 2, &brief, &err), CHAT_ERR_OK);
	TH_CHECK(brief.exists && !brief.is_message);
	chat_store__close(store);
	remove_dir();
}


static void test_load_index(void)
{
	const char *bodies[] = {"a", "b", "c"};
	struct chat_index idx = {0};
	struct chat_store *store;
	struct chat_channel *ch;
	char err[256] = "";
	int dummy;

	fresh_path();
	store = open_store(&dummy);
	seed(store, bodies, 3);
	TH_EQ_INT(chat_store__load(store, &idx, err, sizeof(err)), 0);
	ch = chat_index__find(&idx, "general", 7);
	TH_CHECK(ch != NULL);
	TH_EQ_INT(ch->head, 3);
	TH_EQ_INT(ch->head_ts, 102);
	TH_EQ_INT(ch->last_message_seq, 3);
	TH_EQ_STR(ch->epoch, "epoch-1");
	TH_EQ_STR(ch->title, "General");
	TH_CHECK(chat_index__member(ch, "ada") != NULL);
	TH_EQ_INT(chat_index__member(ch, "ada")->role, CHAT_ROLE_OWNER);
	chat_index__clear(&idx);
	chat_store__close(store);
	remove_dir();
}


static void test_refuses_newer_schema(void)
{
	struct chat_store *store = NULL;
	char err[512] = "";
	int found;

	fresh_path();
	exec_sql("PRAGMA application_id = 1836147572; PRAGMA user_version = 99; CREATE TABLE future (x);");
	TH_EQ_INT(chat_store__open(path, CHAT_SYNC_FULL, 100, &store, &found, err, sizeof(err)), -1);
	TH_CHECK(store == NULL);
	TH_CHECKF(strstr(err, "schema version 99, newer than the") != NULL, "%s", err);
	TH_EQ_INT(query_int("PRAGMA user_version"), 99); /* untouched */
	remove_dir();
}


static void test_refuses_foreign_database(void)
{
	struct chat_store *store = NULL;
	char err[512] = "";
	int found;

	fresh_path();
	exec_sql("CREATE TABLE customers (id INTEGER PRIMARY KEY);");
	TH_EQ_INT(chat_store__open(path, CHAT_SYNC_FULL, 100, &store, &found, err, sizeof(err)), -1);
	TH_CHECKF(strstr(err, "is not an mqchat database") != NULL, "%s", err);
	remove_dir();
}


static void test_upgrades_version_1(void)
{
	char sql[8192];
	struct chat_index idx = {0};
	struct chat_store *store;
	char err[256] = "";
	int found = -1;

	fresh_path();
	/* A database exactly as schema version 1 left it, with one channel and three events. */
	snprintf(sql, sizeof(sql),
		 "BEGIN; %s; PRAGMA user_version = 1;"
		 "INSERT INTO channels VALUES (1, 'old', 'public', 'Old', 'e-old', 'ada', 1);"
		 "INSERT INTO members VALUES (1, 'ada', 'owner', 1);"
		 "INSERT INTO events VALUES (1, 1, 'i1', 'join', 'ada', 10, NULL, NULL, '{\"seq\":1}');"
		 "INSERT INTO events VALUES (1, 2, 'i2', 'message', 'ada', 11, 'c-1', NULL, '{\"seq\":2}');"
		 "INSERT INTO events VALUES (1, 3, 'i3', 'reaction', 'ada', 12, NULL, 2, '{\"seq\":3}');"
		 "COMMIT;",
		 chat_migrations[0].sql);
	exec_sql(sql);
	TH_EQ_INT(query_int("PRAGMA user_version"), 1);

	store = open_store(&found);
	TH_EQ_INT(found, 1);
	TH_EQ_INT(query_int("PRAGMA user_version"), chat_migration_count);
	TH_EQ_INT(query_int("SELECT count(*) FROM sqlite_schema WHERE name = 'events_by_type'"), 0);
	/* the table, 3 indexes, 3 guard triggers (the search index is in a file of its own), 3 triggers
	 * that keep media references (0013) */
	TH_EQ_INT(query_int("SELECT count(*) FROM sqlite_schema WHERE tbl_name = 'events'"), 10);
	TH_EQ_INT(append_opens_temporary_tables(), 0);
	TH_EQ_INT(query_int("SELECT count(*) FROM events"), 3);
	TH_EQ_INT(query_int("SELECT count(*) FROM events WHERE id IN ('i1', 'i2', 'i3')"), 3);
	TH_EQ_INT(chat_store__load(store, &idx, err, sizeof(err)), 0);
	TH_EQ_INT(chat_index__find(&idx, "old", 3)->head, 3);
	TH_EQ_INT(chat_index__find(&idx, "old", 3)->last_message_seq, 2);
	TH_EQ_INT(chat_index__find(&idx, "old", 3)->message_count, 1);
	TH_EQ_INT(query_int("SELECT msg_no FROM events WHERE seq = 2"), 1);
	TH_EQ_INT(query_int("SELECT author_msg_no FROM events WHERE seq = 2"), 1);
	/* 0004 numbers the other events by the messages before them */
	TH_EQ_INT(query_int("SELECT msg_no FROM events WHERE seq = 1"), 0);
	TH_EQ_INT(query_int("SELECT msg_no FROM events WHERE seq = 3"), 1);
	TH_EQ_INT(chat_index__member(chat_index__find(&idx, "old", 3), "ada")->read_seq, 1); /* at its join */
	chat_index__clear(&idx);
	chat_store__close(store);
	remove_dir();
}


static void test_busy_database_is_unavailable(void)
{
	const char *bodies[] = {"a"};
	struct chat_store *store;
	struct chat_error err;
	sqlite3 *other = NULL;
	int dummy;

	fresh_path();
	store = open_store(&dummy);
	seed(store, bodies, 1);
	TH_EQ_INT(sqlite3_open(path, &other), SQLITE_OK);
	TH_EQ_INT(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
	TH_EQ_INT(chat_store__begin(store, &err), CHAT_ERR_UNAVAILABLE);
	TH_CHECKF(strstr(err.message, "locked") != NULL, "%s", err.message);
	sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL);
	sqlite3_close(other);
	TH_EQ_INT(chat_store__begin(store, &err), CHAT_ERR_OK);
	chat_store__rollback(store);
	chat_store__close(store);
	remove_dir();
}


/* Appends one event as the send path would: numbered among the channel's messages (msg_no) and, a
 * message, among its author's (mine). */
static void append(struct chat_store *store, int64_t rowid, int64_t seq, enum chat_event_type type,
		   const char *author, int64_t msg_no, int64_t mine)
{
	struct chat_event ev = {.channel = "general",
				.seq = seq,
				.type = type,
				.from = author,
				.device = "d",
				.ts = seq,
				.body = "x",
				.target = type == CHAT_EVENT_MESSAGE ? 0 : 3,
				.user = author,
				.emoji = "e",
				.msg_no = msg_no,
				.author_msg_no = mine};
	struct chat_error err;

	snprintf(ev.id, sizeof(ev.id), "id-%lld", (long long)seq);
	TH_EQ_INT(chat_store__insert_event(store, rowid, &ev, "{}", 2, &err), CHAT_ERR_OK);
}


/* unread = messages from others above the read cursor: edits, reactions, joins and one's own
 * messages do not count. */
static void test_unread_counts(void)
{
	struct chat_index idx = {0};
	struct chat_store *store;
	struct chat_channel *ch;
	struct chat_error err;
	char msg[256] = "";
	int64_t rowid = 0, unread = -1;
	int dummy;
	/* reader, read cursor, expected unread */
	const struct {
		const char *user;
		int64_t read;
		int64_t unread;
	} cases[] = {
		{"bo", 2, 2},  {"bo", 3, 1},  {"bo", 5, 1},  {"bo", 6, 0},  {"bo", 8, 0},
		{"ada", 1, 2}, {"ada", 4, 1}, {"ada", 7, 1}, {"ada", 8, 0}, {"cy", 0, 4},
	};

	fresh_path();
	store = open_store(&dummy);
	TH_EQ_INT(chat_store__begin(store, &err), CHAT_ERR_OK);
	TH_EQ_INT(chat_store__insert_channel(store, "general", CHAT_VISIBILITY_PUBLIC, "", "e", "ada", 1,
					     &rowid, &err),
		  CHAT_ERR_OK);
	append(store, rowid, 1, CHAT_EVENT_JOIN, "ada", 0, 0);
	append(store, rowid, 2, CHAT_EVENT_JOIN, "bo", 0, 0);
	append(store, rowid, 3, CHAT_EVENT_MESSAGE, "ada", 1, 1);
	append(store, rowid, 4, CHAT_EVENT_MESSAGE, "bo", 2, 1);
	append(store, rowid, 5, CHAT_EVENT_EDIT, "ada", 2, 0);
	append(store, rowid, 6, CHAT_EVENT_MESSAGE, "ada", 3, 2);
	append(store, rowid, 7, CHAT_EVENT_REACTION, "bo", 3, 0);
	append(store, rowid, 8, CHAT_EVENT_MESSAGE, "bo", 4, 2);
	TH_EQ_INT(chat_store__commit(store, &err), CHAT_ERR_OK);
	TH_EQ_INT(query_int("SELECT sum(author_msg_no) FROM events WHERE type = 'message'"), 1 + 1 + 2 + 2);

	TH_EQ_INT(chat_store__load(store, &idx, msg, sizeof(msg)), 0);
	ch = chat_index__find(&idx, "general", 7);
	TH_EQ_INT(ch->message_count, 4);
	TH_EQ_INT(ch->last_message_seq, 8);
	TH_EQ_INT(chat_store__author_messages(store, rowid, "ada", &unread, &err), CHAT_ERR_OK);
	TH_EQ_INT(unread, 2);
	TH_EQ_INT(chat_store__author_messages(store, rowid, "cy", &unread, &err), CHAT_ERR_OK);
	TH_EQ_INT(unread, 0);
	for(size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		TH_EQ_INT(chat_store__unread(store, ch, cases[i].user, cases[i].read, &unread, &err),
			  CHAT_ERR_OK);
		TH_CHECKF(unread == cases[i].unread, "%s at %lld: unread %lld, expected %lld", cases[i].user,
			  (long long)cases[i].read, (long long)unread, (long long)cases[i].unread);
	}
	chat_index__clear(&idx);
	chat_store__close(store);
	remove_dir();
}


/* Starts a run with boot id boot at level sync; returns how many channels got a new epoch. */
static int begin_run(struct chat_store *store, const char *boot, enum chat_synchronous sync)
{
	char err[256] = "";
	int renewed = -1;

	TH_EQ_INT(chat_store__begin_run(store, boot, sync, &renewed, err, sizeof(err)), 0);
	return renewed;
}


/* A log whose last commits a power loss may have taken back gets a new epoch: only after a run at
 * normal that did not stop cleanly, on a machine that has booted since (or whose boot is unknown). */
static void test_new_epoch_after_possible_power_loss(void)
{
	const char *bodies[] = {"a"};
	struct chat_store *store;
	int dummy;

	fresh_path();
	store = open_store(&dummy);
	seed(store, bodies, 1);
	TH_EQ_INT(begin_run(store, "boot-a", CHAT_SYNC_NORMAL), 0); /* no run before */
	TH_EQ_INT(begin_run(store, "boot-a", CHAT_SYNC_NORMAL), 0); /* a crash, no reboot */
	TH_EQ_INT(query_int("SELECT epoch = 'epoch-1' FROM channels"), 1);
	TH_EQ_INT(begin_run(store, "boot-b", CHAT_SYNC_NORMAL), 1); /* a crash and a reboot */
	TH_EQ_INT(query_int("SELECT epoch != 'epoch-1' AND length(epoch) = 36 FROM channels"), 1);
	TH_EQ_INT(chat_store__end_run(store), 0);
	TH_EQ_INT(begin_run(store, "boot-c", CHAT_SYNC_NORMAL), 0); /* a clean stop, then a reboot */
	TH_EQ_INT(begin_run(store, "boot-d", CHAT_SYNC_FULL), 1);   /* the last run was at normal */
	TH_EQ_INT(begin_run(store, "boot-e", CHAT_SYNC_NORMAL), 0); /* the last run was at full */
	TH_EQ_INT(begin_run(store, NULL, CHAT_SYNC_NORMAL), 1);     /* boot unknown: assume one */
	TH_EQ_INT(query_int("SELECT value = '1' FROM runs WHERE name = 'running'"), 1);
	chat_store__close(store);
	remove_dir();
}


/* The checkpointer thread runs on its own connection while the store writes, and stops cleanly. */
static void test_checkpointer_runs_beside_writes(void)
{
	const char *bodies[] = {"a", "b", "c"};
	struct chat_checkpointer *cp = NULL;
	struct chat_store *store;
	char err[256] = "";
	int dummy;

	fresh_path();
	store = open_store(&dummy);
	chat_store__set_autocheckpoint(store, 16384);
	TH_EQ_INT(chat_checkpointer__start(path, 5, &cp, err, sizeof(err)), 0);
	seed(store, bodies, 3);
	th_wait_until(chat_checkpointer__runs(cp) >= 2, 5000);
	chat_checkpointer__stop(cp);
	TH_EQ_INT(query_int("SELECT count(*) FROM events"), 3);
	TH_EQ_INT(chat_checkpointer__start("/nonexistent/dir/x.db", 5, &cp, err, sizeof(err)), -1);
	TH_CHECKF(strstr(err, "cannot open /nonexistent/dir/x.db for checkpoints") != NULL, "%s", err);
	chat_store__close(store);
	remove_dir();
}


/* The connection's synchronous level as PRAGMA reports it: 1 normal, 2 full. */
static long long synchronous_of(struct chat_store *store)
{
	sqlite3_stmt *stmt = NULL;
	long long level = -1;

	TH_EQ_INT(sqlite3_prepare_v2(chat_store__db(store), "PRAGMA synchronous", -1, &stmt, NULL),
		  SQLITE_OK);
	if(sqlite3_step(stmt) == SQLITE_ROW) {
		level = sqlite3_column_int64(stmt, 0);
	}
	sqlite3_finalize(stmt);
	return level;
}


/* A lazy transaction commits at normal and leaves the configured level (full) behind it, whether it
 * commits or rolls back; what it wrote is there. */
static void test_lazy_transaction_restores_the_level(void)
{
	const char *bodies[] = {"a"};
	struct chat_error e = {0};
	struct chat_store *store;
	int dummy;

	fresh_path();
	store = open_store(&dummy);
	seed(store, bodies, 1);
	TH_EQ_INT(synchronous_of(store), 2);
	TH_EQ_INT(chat_store__begin_lazy(store, &e), CHAT_ERR_OK);
	TH_EQ_INT(synchronous_of(store), 1);
	TH_EQ_INT(sqlite3_exec(chat_store__db(store),
			       "INSERT INTO users (name, first_seen) VALUES ('zed', 1)", NULL, NULL, NULL),
		  SQLITE_OK);
	TH_EQ_INT(chat_store__commit(store, &e), CHAT_ERR_OK);
	TH_EQ_INT(synchronous_of(store), 2);
	TH_EQ_INT(query_int("SELECT count(*) FROM users WHERE name = 'zed'"), 1);
	TH_EQ_INT(chat_store__begin_lazy(store, &e), CHAT_ERR_OK);
	chat_store__rollback(store);
	TH_EQ_INT(synchronous_of(store), 2);
	chat_store__close(store);
	remove_dir();
}


/* ---- out of memory ------------------------------------------------------------------------------- */

/* SQLite's allocator with one fault, as SQLite's own tests inject them: the allocation numbered
 * fail_at (from 0, counted since arm_fault) fails, the others go to the real allocator. */
static sqlite3_mem_methods real_mem;
static int fail_at = -1, allocations;
static bool fault_hit;


static bool fault_now(void)
{
	if(allocations++ == fail_at) {
		fault_hit = true;
		return true;
	}
	return false;
}


static void *faulty_malloc(int n)
{
	return fault_now() ? NULL : real_mem.xMalloc(n);
}


static void *faulty_realloc(void *p, int n)
{
	return fault_now() ? NULL : real_mem.xRealloc(p, n);
}


static void install_faulty_allocator(void)
{
	sqlite3_mem_methods m;

	TH_EQ_INT(sqlite3_shutdown(), SQLITE_OK);
	TH_EQ_INT(sqlite3_config(SQLITE_CONFIG_GETMALLOC, &real_mem), SQLITE_OK);
	m = real_mem;
	m.xMalloc = faulty_malloc;
	m.xRealloc = faulty_realloc;
	TH_EQ_INT(sqlite3_config(SQLITE_CONFIG_MALLOC, &m), SQLITE_OK);
	TH_EQ_INT(sqlite3_initialize(), SQLITE_OK);
}


static void arm_fault(int at)
{
	allocations = 0;
	fail_at = at;
	fault_hit = false;
}


/* Runs setup, then call_ok with a fault at one allocation, for each allocation in turn, until a run
 * makes no allocation fail. Each run must either succeed (call_ok true) and pass check, or fail with
 * a message that says "out of memory" (a fault is the only way it can fail here); some must fail. */
#define OOM_LOOP(setup, call_ok, message, check)                                                             \
	do {                                                                                                 \
		int oom_failed_ = 0;                                                                         \
		for(int at_ = 0;; at_++) {                                                                   \
			bool ok_, hit_;                                                                      \
			TH_CHECK(at_ < 100000);                                                              \
			setup;                                                                               \
			arm_fault(at_);                                                                      \
			ok_ = (call_ok);                                                                     \
			hit_ = fault_hit;                                                                    \
			arm_fault(-1);                                                                       \
			if(ok_) {                                                                            \
				check;                                                                       \
			} else {                                                                             \
				TH_CHECKF(hit_, "failed without a fault: %s", (message));                    \
				TH_CHECKF(strstr((message), "out of memory") != NULL,                        \
					  "fault at allocation %d: \"%s\" does not say out of memory", at_,  \
					  (message));                                                        \
				oom_failed_++;                                                               \
			}                                                                                    \
			if(!hit_) {                                                                          \
				break;                                                                       \
			}                                                                                    \
		}                                                                                            \
		TH_CHECK(oom_failed_ > 0);                                                                   \
	} while(0)


/* Values of 38 bytes (see add_blob_rows). */
#define ZED        "zed-with-a-name-of-38-bytes-0123456789"
#define ZED_DEVICE "zed-phone-an-id-of-38-bytes-0123456789"
#define ID_2       "id-2-with-an-id-of-38-bytes-0123456789"
#define JSON_2     "{\"seq\":2,\"pad\":\"0123456789abcdefghij\"}"
#define BLOBS      "blobs-with-a-name-of-38-bytes-01234567"


struct last_json {
	int64_t seq;
	char json[64];
	int calls;
};


static bool take_json(int64_t seq, const char *json, size_t len, void *ctx)
{
	struct last_json *f = ctx;

	TH_CHECKF(json != NULL, "seq %lld handed over without its json", (long long)seq);
	f->seq = seq;
	snprintf(f->json, sizeof(f->json), "%.*s", (int)len, json);
	f->calls++;
	return true;
}


static bool note_user(const char *name, void *ctx)
{
	TH_CHECK(name != NULL);
	*(int *)ctx += strcmp(name, ZED) == 0;
	return true;
}


static int note_client_id(void *ctx, const char *client_id, const char *user)
{
	TH_CHECK(client_id != NULL && user != NULL);
	*(int *)ctx += strcmp(client_id, ZED_DEVICE) == 0 && strcmp(user, ZED) == 0;
	return 0;
}


/* Rows written by another program, with blobs in text columns. SQLite keeps a blob as it is, and
 * sqlite3_column_text converts it, which may allocate (to add the terminating NUL when the value fills
 * its buffer: 38 bytes does, with SQLite's default allocator) and returns NULL when that fails, as
 * SQLite documents for any value. Blobs only where no read searches by them: a blob never equals a
 * text. */
static void add_blob_rows(void)
{
	exec_sql("INSERT INTO events (channel_id, seq, id, type, author, ts, client_msg_id, target, json,"
		 " msg_no, author_msg_no) VALUES (1, 2, CAST('" ID_2 "' AS BLOB), 'message', '" ZED "', 101,"
		 " 'c-2', NULL, CAST('" JSON_2 "' AS BLOB), 2, 1);"
		 "INSERT INTO events (channel_id, seq, id, type, author, ts, client_msg_id, target, json,"
		 " msg_no, author_msg_no) VALUES (1, 3, 'id-3', 'message', CAST('" ZED
		 "' AS BLOB), 102, NULL,"
		 " NULL, '{\"seq\":3}', 3, 2);"
		 "INSERT INTO channels (name, visibility, title, epoch, created_by, created_at)"
		 " VALUES (CAST('" BLOBS "' AS BLOB), 'private', CAST('" ZED "' AS BLOB),"
		 " CAST('" ID_2 "' AS BLOB), 'zed', 1);"
		 "INSERT INTO members VALUES (2, CAST('" ZED "' AS BLOB), 'owner', 1);"
		 "INSERT INTO read_cursors VALUES (2, CAST('" ZED "' AS BLOB), 1, 1);"
		 "INSERT INTO delivered_cursors VALUES (2, CAST('" ZED "' AS BLOB), CAST('" ZED_DEVICE
		 "' AS BLOB),"
		 " 1, 1);"
		 "INSERT INTO users (name, first_seen) VALUES (CAST('" ZED "' AS BLOB), 1);"
		 "INSERT INTO client_ids VALUES (CAST('" ZED_DEVICE "' AS BLOB), CAST('" ZED
		 "' AS BLOB), 1);");
}


/* The last run: unfinished, at normal, on another boot than "boot-b". */
static void set_blob_runs(void)
{
	exec_sql("INSERT OR REPLACE INTO runs VALUES ('running', CAST('1' AS BLOB));"
		 "INSERT OR REPLACE INTO runs VALUES ('synchronous', CAST('normal' AS BLOB));"
		 "INSERT OR REPLACE INTO runs VALUES ('boot_id', CAST('" ID_2 "' AS BLOB));");
}


/* Out of memory anywhere in a read, sqlite3_column_text's NULL included, fails that read with "out of
 * memory": never a NULL string passed on, copied or printed, never another error's message. */
static void test_reads_out_of_memory(void)
{
	const char *bodies[] = {"a"};
	struct chat_stored_event stored;
	struct chat_event_brief brief;
	struct last_json last;
	struct chat_store *store;
	struct chat_index idx = {0};
	struct chat_error err;
	char *json = NULL, msg[256];
	bool found = false;
	int64_t rowid;
	int dummy, zeds = 0, renewed = 0;

	install_faulty_allocator();
	fresh_path();
	store = open_store(&dummy);
	rowid = seed(store, bodies, 1);
	add_blob_rows();

	OOM_LOOP((void)0,
		 chat_store__find_client_msg(store, ZED, "c-2", &found, &stored, &err) == CHAT_ERR_OK,
		 err.message, {
			 TH_CHECK(found);
			 TH_CHECK(strncmp(stored.id, ID_2, CHAT_UUID_LEN) == 0); /* ids are UUIDs: cut */
		 });
	OOM_LOOP((void)0, chat_store__event_brief(store, rowid, 3, &brief, &err) == CHAT_ERR_OK, err.message,
		 {
			 TH_CHECK(brief.exists && brief.is_message);
			 TH_CHECK(chat_event_brief__by(&brief, ZED));
		 });
	OOM_LOOP(last = (struct last_json){0},
		 chat_store__events_after(store, rowid, 1, 10, take_json, &last, &err) == CHAT_ERR_OK,
		 err.message, {
			 TH_EQ_INT(last.calls, 2);
			 TH_EQ_STR(last.json, "{\"seq\":3}");
		 });
	OOM_LOOP((void)0, chat_store__event_json(store, rowid, 2, &json, &err) == CHAT_ERR_OK, err.message, {
		TH_EQ_STR(json, JSON_2);
		free(json);
	});
	OOM_LOOP(chat_index__clear(&idx), chat_store__load(store, &idx, msg, sizeof(msg)) == 0, msg, {
		struct chat_channel *ch = chat_index__find(&idx, BLOBS, strlen(BLOBS));
		TH_CHECK(ch != NULL);
		TH_CHECK(strncmp(ch->epoch, ID_2, CHAT_UUID_LEN) == 0); /* a UUID: cut */
		TH_EQ_STR(ch->title, ZED);
		TH_CHECK(chat_index__member(ch, ZED) != NULL);
		TH_EQ_INT(chat_index__member(ch, ZED)->read_seq, 1);
	});
	chat_index__clear(&idx);
	OOM_LOOP(zeds = 0, chat_store__load_users(store, note_user, &zeds, msg, sizeof(msg)) == 0, msg,
		 TH_EQ_INT(zeds, 1));
	OOM_LOOP(zeds = 0, chat_store__load_client_ids(store, note_client_id, &zeds, msg, sizeof(msg)) == 0,
		 msg, TH_EQ_INT(zeds, 1));
	/* the last run: unfinished, at normal, and another boot; read as blobs */
	OOM_LOOP(set_blob_runs(),
		 chat_store__begin_run(store, "boot-b", CHAT_SYNC_NORMAL, &renewed, msg, sizeof(msg)) == 0,
		 msg, TH_EQ_INT(renewed, 2));
	chat_store__close(store);
	remove_dir();
}


int main(int argc, char **argv)
{
	static const struct th_test tests[] = {
		{"fresh_database", test_fresh_database},
		{"log_invariants", test_log_invariants},
		{"reads", test_reads},
		{"delete_marks_message", test_delete_marks_message},
		{"load_index", test_load_index},
		{"refuses_newer_schema", test_refuses_newer_schema},
		{"refuses_foreign_database", test_refuses_foreign_database},
		{"upgrades_version_1", test_upgrades_version_1},
		{"busy_database_is_unavailable", test_busy_database_is_unavailable},
		{"checkpointer_runs_beside_writes", test_checkpointer_runs_beside_writes},
		{"lazy_transaction_restores_the_level", test_lazy_transaction_restores_the_level},
		{"unread_counts", test_unread_counts},
		{"new_epoch_after_possible_power_loss", test_new_epoch_after_possible_power_loss},
		{"reads_out_of_memory", test_reads_out_of_memory},
	};

	return th_main(argc, argv, tests, sizeof(tests) / sizeof(tests[0]));
}
