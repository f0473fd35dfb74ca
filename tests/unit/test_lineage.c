/*
 * test_lineage.c - the sidecar that tells a replaced database (store/lineage.h): where it lives, a
 * round trip, a missing file and a garbled one; and chat_store__begin_run's rule, run against real
 * database files: a restart keeps the epochs, an older copy put back renews them, a newer one does not,
 * another database does, and so does an operator's row.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "lineage.h"
#include "store.h"
#include "th.h"

static char dir[] = "/tmp/mqchat-lineage-XXXXXX";


static void test_path_is_a_dot_file_beside_the_database(void)
{
	char *p = chat_lineage__path("/var/lib/mqchat/chat.db");

	TH_EQ_STR(p, "/var/lib/mqchat/.chat.db.lineage");
	free(p);
	p = chat_lineage__path("chat.db");
	TH_EQ_STR(p, ".chat.db.lineage");
	free(p);
	TH_CHECK(chat_lineage__path(":memory:") == NULL);
	TH_CHECK(chat_lineage__path("") == NULL);
	TH_CHECK(chat_lineage__path("file:chat.db?mode=rwc") == NULL);
}


static void test_round_trip_missing_and_garbled(void)
{
	struct chat_lineage l = {.instance = "3f2a9c1e-0000-4000-8000-000000000001", .generation = 42}, got;
	char path[128], err[256];
	FILE *f;

	TH_CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/.chat.db.lineage", dir);
	TH_EQ_INT(chat_lineage__read(path, &got), 0);
	TH_EQ_INT(chat_lineage__write(path, &l, err, sizeof(err)), 0);
	TH_EQ_INT(chat_lineage__read(path, &got), 1);
	TH_EQ_STR(got.instance, l.instance);
	TH_EQ_INT(got.generation, 42);
	f = fopen(path, "w");
	TH_CHECK(f != NULL);
	fputs("mqchat-lineage 1 not-a-uuid 7\n", f);
	fclose(f);
	TH_EQ_INT(chat_lineage__read(path, &got), -1);
	TH_EQ_STR(got.instance, "");
	unlink(path);
	rmdir(dir);
}


/* Opens the database at path, begins and ends a run; returns the number of epochs renewed. */
static int one_run(const char *path)
{
	struct chat_store *store = NULL;
	char err[256];
	int found = 0, renewed = -1;

	TH_EQ_INT(chat_store__open(path, CHAT_SYNC_FULL, 200, &store, &found, err, sizeof(err)), 0);
	TH_EQ_INT(chat_store__begin_run(store, "boot", CHAT_SYNC_FULL, &renewed, err, sizeof(err)), 0);
	TH_EQ_INT(renewed > 0, chat_store__renewed_why(store) != NULL);
	TH_EQ_INT(chat_store__end_run(store), 0);
	chat_store__close(store);
	return renewed;
}


static void sql(const char *path, const char *statement)
{
	sqlite3 *db = NULL;

	TH_EQ_INT(sqlite3_open(path, &db), SQLITE_OK);
	TH_EQ_INT(sqlite3_exec(db, statement, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}


static void copy(const char *from, const char *to)
{
	int status = -1;
	char *out = th_run(&status, "cp '%s' '%s'", from, to);

	TH_EQ_INT(status, 0);
	free(out);
}


static void test_begin_run_renews_epochs_of_a_replaced_database(void)
{
	char path[128], old[128], other[128], side[128];

	TH_CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/chat.db", dir);
	snprintf(old, sizeof(old), "%s/old.db", dir);
	snprintf(other, sizeof(other), "%s/other.db", dir);
	snprintf(side, sizeof(side), "%s/.chat.db.lineage", dir);
	TH_EQ_INT(one_run(path), 0); /* a new database, no sidecar yet */
	sql(path, "INSERT INTO channels (name, visibility, title, epoch, created_by, created_at)"
		  " VALUES ('general', 'public', '', 'e-1', 'ada', 0)");
	TH_EQ_INT(one_run(path), 0); /* a restart */
	copy(path, old);
	TH_EQ_INT(one_run(path), 0);
	copy(old, path); /* an older copy put back */
	TH_EQ_INT(one_run(path), 1);
	TH_EQ_INT(one_run(path), 0); /* and only once */
	copy(path, old);
	TH_EQ_INT(one_run(old), 0); /* old.db has its own sidecar: a newer copy of chat.db's lineage */
	copy(old, path);
	TH_EQ_INT(one_run(path), 0); /* newer than the sidecar: fine */
	TH_EQ_INT(one_run(other), 0);
	sql(other, "INSERT INTO channels (name, visibility, title, epoch, created_by, created_at)"
		   " VALUES ('general', 'public', '', 'e-2', 'ada', 0)");
	copy(other, path); /* another database altogether */
	TH_EQ_INT(one_run(path), 1);
	TH_EQ_INT(one_run(path), 0);
	sql(path, "INSERT INTO runs (name, value) VALUES ('new_epochs', '1')"); /* tools/new_epochs.sh */
	TH_EQ_INT(one_run(path), 1);
	TH_EQ_INT(one_run(path), 0);
	free(th_run(NULL, "rm -rf '%s'", dir)); /* th_run returns the output, the caller's to free */
}


TH_TEST_LIST(TH_TEST(test_path_is_a_dot_file_beside_the_database),
	     TH_TEST(test_round_trip_missing_and_garbled),
	     TH_TEST(test_begin_run_renews_epochs_of_a_replaced_database))
