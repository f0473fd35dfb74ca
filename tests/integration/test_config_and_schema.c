/*
 * test_config_and_schema.c - the broker refuses bad options and foreign or newer databases with a
 * message that names the cause, and upgrades a database of an older schema.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "th_chat.h"

/* The number of migrations in schema/ (tests/CMakeLists.txt counts them). */
#define STRINGIFY(x)        #x
#define TEXT_OF(x)          STRINGIFY(x)
#define SCHEMA_VERSION_TEXT TEXT_OF(MQCHAT_SCHEMA_VERSION)


static void expect_refused(const char *extra, const char *message)
{
	struct th_broker b;
	int status = th_broker_try_start(&b, "%s", extra);

	TH_CHECKF(status > 0, "the broker started with: %s", extra);
	TH_CHECKF(th_broker_log_contains(&b, message), "log lacks \"%s\"", message);
}


static void test_bad_options_stop_the_broker(void)
{
	expect_refused(
		"plugin_opt_max_body abc",
		"mqchat: cannot start: plugin_opt_max_body: 'abc' is not an integer from 1 to 1048576");
	expect_refused("plugin_opt_synchronous sometimes",
		       "mqchat: cannot start: plugin_opt_synchronous: 'sometimes' is not one of normal full");
	expect_refused("plugin_opt_colour blue",
		       "mqchat: cannot start: plugin_opt_colour: unknown option (value 'blue')");
	expect_refused("plugin_opt_catchup_page_bytes 10",
		       "plugin_opt_catchup_page_bytes: '10' is not an integer from 4096 to 16777216");
}


static void test_database_must_be_usable(void)
{
	expect_refused("plugin_opt_database /nonexistent/dir/chat.db",
		       "mqchat: cannot start: cannot open database /nonexistent/dir/chat.db");
}


static void exec_sql(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	char *msg = NULL;

	TH_EQ_INT(sqlite3_open(path, &db), SQLITE_OK);
	TH_CHECKF(sqlite3_exec(db, sql, NULL, NULL, &msg) == SQLITE_OK, "%s", msg);
	sqlite3_close(db);
}


static void test_newer_schema_is_refused(void)
{
	struct th_broker b;
	int status;

	/* A first start makes the database; the test then ages it. */
	th_broker_start(&b, "");
	th_broker_stop(&b);
	exec_sql(b.db_path, "PRAGMA user_version = 42;");
	status = th_broker_try_restart(&b);
	TH_CHECK(status > 0);
	TH_CHECK(th_broker_log_contains(&b, "has schema version 42, newer than the " SCHEMA_VERSION_TEXT
					    " this mqchat knows"));
}


static void test_foreign_database_is_refused(void)
{
	struct th_broker b;
	int status;

	th_broker_start(&b, "");
	th_broker_stop(&b);
	remove(b.db_path);
	exec_sql(b.db_path, "CREATE TABLE invoices (id INTEGER PRIMARY KEY);");
	status = th_broker_try_restart(&b);
	TH_CHECK(status > 0);
	TH_CHECK(th_broker_log_contains(&b, "is not an mqchat database"));
}


/* A database written by schema version 1 is upgraded at start and keeps serving its log. */
static void test_old_schema_is_upgraded(void)
{
	struct th_broker b;
	struct th_client *ada;
	char path[512], *sql = NULL, *seed;
	FILE *f;
	long size;
	cJSON *page, *ack;

	th_broker_start(&b, "");
	th_broker_stop(&b);
	remove(b.db_path);
	/* An old mqchat left no lineage sidecar (store/lineage.c): this start's would make the version 1
	 * database below look restored, and give it a new epoch. */
	snprintf(path, sizeof(path), "%s/.chat.db.lineage", b.dir);
	TH_EQ_INT(remove(path), 0);
	snprintf(path, sizeof(path), "%s/schema/0001_init.sql", TH_SOURCE_DIR);
	f = fopen(path, "r");
	TH_CHECK(f != NULL);
	fseek(f, 0, SEEK_END);
	size = ftell(f);
	rewind(f);
	sql = calloc(1, (size_t)size + 1);
	TH_EQ_INT(fread(sql, 1, (size_t)size, f), size);
	fclose(f);
	exec_sql(b.db_path, sql);
	seed = "PRAGMA user_version = 1;"
	       "INSERT INTO channels VALUES (1, 'general', 'public', 'General', 'epoch-v1', 'ada', 1);"
	       "INSERT INTO members VALUES (1, 'ada', 'owner', 1);"
	       "INSERT INTO events VALUES (1, 1, 'i1', 'join', 'ada', 10, NULL, NULL,"
	       " '{\"id\":\"i1\",\"channel\":\"general\",\"seq\":1,\"type\":\"join\",\"from\":\"ada\","
	       "\"device\":\"d\",\"ts\":10,\"user\":\"ada\"}');"
	       "INSERT INTO events VALUES (1, 2, 'i2', 'message', 'ada', 11, 'c-1', NULL,"
	       " '{\"id\":\"i2\",\"channel\":\"general\",\"seq\":2,\"type\":\"message\",\"from\":\"ada\","
	       "\"device\":\"d\",\"ts\":11,\"client_msg_id\":\"c-1\",\"body\":\"from v1\"}');";
	exec_sql(b.db_path, seed);
	free(sql);

	th_broker_restart(&b);
	TH_CHECK(th_broker_log_contains(&b, "upgraded database"));
	TH_CHECK(th_broker_log_contains(&b, "from schema version 1 to " SCHEMA_VERSION_TEXT));
	ada = th_connect(&b, "ada", "ada-1", 5, true);
	page = tc_sync(ada, "general", 0, 0);
	TH_JSON(page,
		"{\"ok\":true,\"kind\":\"sync\",\"channel\":\"general\",\"epoch\":\"epoch-v1\",\"since\":0,"
		"\"next\":2,\"head\":2,\"more\":false,\"events\":[\"*\",{\"id\":\"i2\",\"channel\":"
		"\"general\","
		"\"seq\":2,\"type\":\"message\",\"from\":\"ada\",\"device\":\"d\",\"ts\":11,\"client_msg_"
		"id\":\"c-1\","
		"\"body\":\"from v1\"}]}");
	cJSON_Delete(page);
	ack = tc_send(ada, "general", "c-1", "from v1"); /* its ids still de-duplicate */
	TH_CHECK(cJSON_IsTrue(cJSON_GetObjectItem(ack, "duplicate")));
	cJSON_Delete(ack);
	ack = tc_send(ada, "general", "c-2", "after the upgrade");
	TH_EQ_INT(th_json_int(ack, "seq"), 3);
	cJSON_Delete(ack);
	th_disconnect(ada);
	th_broker_stop(&b);
}


TH_TEST_LIST(TH_TEST(test_bad_options_stop_the_broker), TH_TEST(test_database_must_be_usable),
	     TH_TEST(test_newer_schema_is_refused), TH_TEST(test_foreign_database_is_refused),
	     TH_TEST(test_old_schema_is_upgraded))
