/*
 * test_retention.c - retention and channel deletion (docs/operations.md, "Retention" and
 * "Deleting a channel"), against a real broker: setRetention by count and by age (a retention day of
 * one second, plugin_opt_retention_day_seconds), the default options, truncated catch-up forward and
 * backward, search and unread counts after pruning, the rows gone from the database, bad values and
 * non-admins refused; deleteChannel: members told live, history and rows gone, the name created again
 * with a new epoch; mqchat_ctrl driving both.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "th_chat.h"
#include "th_gateway.h"

#define RESPONSE "$CONTROL/mqchat/v1/response"
/* checked often, so that a test waits for the job in milliseconds */
#define OPTIONS "plugin_opt_admins dee\nplugin_opt_retention_check_ms 50\n"

struct fixture {
	struct th_broker b;
	struct th_client *dee; /* the admin, subscribed to the responses */
	struct th_client *ada, *bo;
};


static void setup(struct fixture *f, const char *extra)
{
	th_broker_start(&f->b, OPTIONS "%s", extra ? extra : "");
	tc_sign_in(&f->b, "ada", "bo", NULL);
	f->dee = th_connect(&f->b, "dee", "dee-1", 5, true);
	TH_EQ_INT(th_subscribe(f->dee, RESPONSE, 0), 0);
	f->ada = th_connect(&f->b, "ada", "ada-1", 5, true);
	f->bo = th_connect(&f->b, "bo", "bo-1", 5, true);
	tc_api_ok(f->ada, "{\"op\":\"create\",\"channel\":\"ops\",\"members\":[\"bo\"]}"); /* seqs 1, 2 */
}


static void teardown(struct fixture *f)
{
	th_disconnect(f->bo);
	th_disconnect(f->ada);
	th_disconnect(f->dee);
	th_broker_stop(&f->b);
}


/* Publishes {"commands":[command]} as dee and returns the response's one entry's document. */
static cJSON *admin(struct fixture *f, const char *command)
{
	char req[512];
	cJSON *got;

	snprintf(req, sizeof(req), "{\"commands\":[%s]}", command);
	TH_EQ_INT(th_publish(f->dee, "$CONTROL/mqchat/v1", req, -1, 1, NULL), 0);
	got = th_wait_json(f->dee, RESPONSE, 10000);
	TH_CHECKF(got != NULL, "no response to %s", command);
	return got;
}


static void expect_admin_error(struct fixture *f, const char *command, const char *code)
{
	cJSON *got = admin(f, command);
	const cJSON *e = cJSON_GetArrayItem(cJSON_GetObjectItem(got, "responses"), 0);

	TH_EQ_STR(th_json_str(e, "code"), code);
	cJSON_Delete(got);
}


/* Runs one query on the broker's database (read-only, beside the running broker); its output, trimmed. */
static char *query(const struct th_broker *b, const char *sql)
{
	int status = -1;
	char *out = th_run(&status, "sqlite3 -readonly '%s' \"%s\" 2>&1", b->db_path, sql);

	TH_CHECKF(status == 0, "%s: %s", sql, out);
	out[strcspn(out, "\n")] = '\0';
	return out;
}


static void expect_query(const struct th_broker *b, const char *sql, const char *expect)
{
	char *out = query(b, sql);

	TH_EQ_STR(out, expect);
	free(out);
}


/* Waits (bounded) until a catch-up of ops from 0 says truncated with first == want; returns that page. */
static cJSON *wait_first(struct th_client *c, const char *channel, long long want)
{
	long long deadline = th_now_ms() + 10000;
	cJSON *page = NULL;

	while(th_now_ms() < deadline) {
		page = tc_sync(c, channel, 0, 0);
		if(cJSON_IsTrue(cJSON_GetObjectItem(page, "truncated"))
		   && th_json_int(page, "first") == want) {
			return page;
		}
		cJSON_Delete(page);
		page = NULL;
		th_sleep_ms(20); /* the job runs from the broker's tick; ask again */
	}
	th_fail(__FILE__, __LINE__, "#%s never pruned to first %lld", channel, want);
	return NULL;
}


static long long unread(struct th_client *c, const char *channel)
{
	cJSON *reply = NULL;
	const cJSON *e = tc_inbox_entry(c, channel, &reply);
	long long n = th_json_int(e, "unread");

	cJSON_Delete(reply);
	return n;
}


static void test_retention_by_count(void)
{
	struct fixture f;
	char cmid[16], body[32];
	cJSON *page;

	setup(&f, NULL);
	cJSON_Delete(tc_send(f.ada, "ops", "m1", "zebra crossing")); /* seq 3: pruned below */
	for(int i = 2; i <= 20; i++) {
		snprintf(cmid, sizeof(cmid), "m%d", i);
		snprintf(body, sizeof(body), "message %d", i);
		cJSON_Delete(tc_send(f.ada, "ops", cmid, body));
	}
	/* head 22. bo has read nothing: 20 unread */
	TH_EQ_INT(unread(f.bo, "ops"), 20);
	page = tc_api(f.bo, "{\"op\":\"search\",\"query\":\"zebra\"}");
	TH_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(page, "results")), 1);
	cJSON_Delete(page);

	page = admin(&f, "{\"command\":\"setRetention\",\"channel\":\"ops\",\"count\":5}");
	TH_JSON(page,
		"{\"responses\":[{\"command\":\"setRetention\",\"data\":{\"channel\":\"ops\",\"days\":0,"
		"\"count\":5,\"first\":1}}]}");
	cJSON_Delete(page);

	/* the newest 5 events stay: 18..22 */
	page = wait_first(f.bo, "ops", 18);
	TH_JSON(page,
		"{\"ok\":true,\"kind\":\"sync\",\"channel\":\"ops\",\"epoch\":\"*\",\"since\":0,"
		"\"truncated\":true,\"first\":18,\"next\":22,\"head\":22,\"more\":false,\"events\":\"*\"}");
	TH_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(page, "events")), 5);
	TH_EQ_INT(th_json_int(cJSON_GetArrayItem(cJSON_GetObjectItem(page, "events"), 0), "seq"), 18);
	cJSON_Delete(page);
	/* a client that has seen up to 17 lost nothing: no truncation */
	page = tc_sync(f.bo, "ops", 17, 0);
	TH_CHECK(cJSON_GetObjectItem(page, "truncated") == NULL
		 && cJSON_GetObjectItem(page, "first") == NULL);
	TH_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(page, "events")), 5);
	cJSON_Delete(page);
	/* backward reaches the first kept seq and says so, with more false */
	page = tc_request(f.bo, "chat/ops/sync", "{\"before\":20}");
	TH_JSON(page, "{\"ok\":true,\"kind\":\"sync\",\"channel\":\"ops\",\"epoch\":\"*\",\"since\":0,"
		      "\"before\":20,\"first\":18,\"truncated\":true,\"next\":19,\"head\":22,\"more\":false,"
		      "\"events\":\"*\"}");
	cJSON_Delete(page);

	/* search no longer finds the pruned message; unread counts from the first kept seq */
	page = tc_api(f.bo, "{\"op\":\"search\",\"query\":\"zebra\"}");
	TH_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(page, "results")), 0);
	cJSON_Delete(page);
	TH_EQ_INT(unread(f.bo, "ops"), 5);
	TH_EQ_INT(unread(f.ada, "ops"), 0); /* her own messages */

	/* the rows are gone from the database */
	expect_query(&f.b, "SELECT count(*), min(seq) FROM events", "5|18");
	expect_query(&f.b, "SELECT first_seq FROM channel_retention", "18");
	expect_query(&f.b, "SELECT count(*) FROM prune_allowed", "0");

	/* a new event keeps the log going after the cut; the policy prunes again */
	cJSON_Delete(tc_send(f.ada, "ops", "m21", "after the cut"));
	cJSON_Delete(wait_first(f.bo, "ops", 19));

	/* out of range, wrong type, unknown channel */
	expect_admin_error(&f, "{\"command\":\"setRetention\",\"channel\":\"ops\",\"count\":-1}",
			   "bad_request");
	expect_admin_error(&f, "{\"command\":\"setRetention\",\"channel\":\"ops\",\"days\":\"7\"}",
			   "bad_request");
	expect_admin_error(&f, "{\"command\":\"setRetention\",\"channel\":\"ops\",\"days\":1e12}",
			   "bad_request");
	expect_admin_error(&f, "{\"command\":\"setRetention\",\"channel\":\"none\",\"days\":1}",
			   "no_such_channel");
	teardown(&f);

	/* with the broker stopped: ordinary SQL still cannot delete events */
	{
		int status = -1;
		char *out = th_run(&status, "sqlite3 '%s' 'DELETE FROM events' 2>&1", f.b.db_path);
		TH_CHECK(status != 0);
		TH_CHECKF(strstr(out, "append-only") != NULL, "%s", out);
		free(out);
	}
}


static void test_retention_by_age_and_default(void)
{
	struct fixture f;
	long long head;
	cJSON *page;

	/* a retention day lasts one second here; the default keeps 3 events per channel */
	setup(&f, "plugin_opt_retention_day_seconds 1\nplugin_opt_retention_count 3\n");
	for(int i = 1; i <= 6; i++) {
		char cmid[16];
		snprintf(cmid, sizeof(cmid), "m%d", i);
		cJSON_Delete(tc_send(f.ada, "ops", cmid, "old news"));
	}
	/* the default: the newest 3 of 8 */
	cJSON_Delete(wait_first(f.bo, "ops", 6));
	/* by age: older than one "day" goes, but the last event always stays */
	page = admin(&f, "{\"command\":\"setRetention\",\"channel\":\"ops\",\"days\":1}");
	TH_JSON(page,
		"{\"responses\":[{\"command\":\"setRetention\",\"data\":{\"channel\":\"ops\",\"days\":1,"
		"\"count\":0,\"first\":6}}]}");
	cJSON_Delete(page);
	page = wait_first(f.bo, "ops", 8);
	head = th_json_int(page, "head");
	TH_EQ_INT(head, 8);
	TH_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(page, "events")), 1);
	cJSON_Delete(page);
	/* fresh events stay until they are a day old */
	cJSON_Delete(tc_send(f.ada, "ops", "m7", "fresh"));
	page = tc_sync(f.bo, "ops", 8, 0);
	TH_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(page, "events")), 1);
	cJSON_Delete(page);
	cJSON_Delete(wait_first(f.bo, "ops", 9));
	expect_query(&f.b, "SELECT count(*) FROM events", "1");
	teardown(&f);
}


static void test_delete_channel(void)
{
	struct fixture f;
	char epoch[64];
	cJSON *got, *ev;
	int status = -1;
	char *out;

	setup(&f, NULL);
	TH_EQ_INT(th_subscribe(f.ada, "chat/ops", 1), 1);
	TH_EQ_INT(th_subscribe(f.bo, "chat/ops", 1), 1);
	cJSON_Delete(tc_send(f.ada, "ops", "m1", "@bo the secret plan"));
	cJSON_Delete(tc_expect_event(f.ada, "ops", true));
	cJSON_Delete(tc_expect_event(f.bo, "ops", true));
	got = tc_sync(f.ada, "ops", 0, 0);
	snprintf(epoch, sizeof(epoch), "%s", th_json_str(got, "epoch"));
	cJSON_Delete(got);
	tc_api_ok(f.bo, "{\"op\":\"notify\",\"channel\":\"ops\",\"level\":\"mentions\"}");

	/* non-admins are refused by the tool (the ACL answers nothing) */
	out = th_run(&status,
		     "%s/mqchat_ctrl -h 127.0.0.1 -p %d -u ada -P ada-pw --timeout 2 deleteChannel ops",
		     TH_BINARY_DIR, f.b.port);
	TH_CHECK(status != 0);
	free(out);
	out = th_run(&status, "%s/mqchat_ctrl -h 127.0.0.1 -p %d -u dee -P dee-pw deleteChannel ops",
		     TH_BINARY_DIR, f.b.port);
	TH_EQ_INT(status, 0);
	got = th_json_parse(out);
	TH_JSON(got, "{\"channel\":\"ops\",\"deleted\":true}");
	cJSON_Delete(got);
	free(out);
	/* the broadcast copy of the tool's answer, which every admin sees */
	got = th_expect_json(f.dee, RESPONSE);
	TH_JSON(got, "{\"responses\":[{\"command\":\"deleteChannel\",\"correlationData\":\"*\",\"data\":{"
		     "\"channel\":\"ops\",\"deleted\":true}}]}");
	cJSON_Delete(got);

	/* each member is told by their own leave, live, in seq order */
	for(int i = 0; i < 2; i++) {
		struct th_client *c = i == 0 ? f.ada : f.bo;
		bool saw_own = false;
		for(int n = 0; n < 2 && !saw_own; n++) {
			ev = tc_expect_event(c, "ops", false);
			TH_EQ_STR(th_json_str(ev, "type"), "leave");
			saw_own = strcmp(th_json_str(ev, "user"), i == 0 ? "ada" : "bo") == 0;
			cJSON_Delete(ev);
		}
		TH_CHECK(saw_own);
	}
	/* history gone: to the members, to the database */
	tc_expect_error(tc_sync(f.ada, "ops", 0, 0), "no_such_channel", NULL);
	expect_query(&f.b, "SELECT count(*) FROM channels WHERE name = 'ops'", "0");
	expect_query(
		&f.b,
		"SELECT (SELECT count(*) FROM events) + (SELECT count(*) FROM members) + (SELECT count(*) "
		"FROM mentions) + (SELECT count(*) FROM notify_levels) "
		"+ (SELECT count(*) FROM read_cursors) + (SELECT count(*) FROM delivered_cursors)",
		"0");
	/* the inbox forgets it */
	got = tc_api(f.bo, "{\"op\":\"channels\"}");
	out = th_json_print(got);
	TH_CHECKF(strstr(out, "\"ops\"") == NULL, "%s", out);
	free(out);
	cJSON_Delete(got);

	/* the name again: a new channel, a new epoch, seqs from 1 */
	tc_api_ok(f.bo, "{\"op\":\"create\",\"channel\":\"ops\"}");
	got = tc_sync(f.bo, "ops", 0, 0);
	TH_CHECK(strcmp(th_json_str(got, "epoch"), epoch) != 0);
	TH_EQ_INT(th_json_int(got, "head"), 1);
	cJSON_Delete(got);
	tc_expect_error(tc_sync(f.ada, "ops", 0, 0), "not_member", NULL);
	expect_admin_error(&f, "{\"command\":\"deleteChannel\",\"channel\":\"gone\"}", "no_such_channel");
	teardown(&f);
}


static void test_ctrl_set_retention(void)
{
	struct fixture f;
	int status = -1;
	char *out;
	cJSON *got;

	setup(&f, NULL);
	out = th_run(&status, "%s/mqchat_ctrl -h 127.0.0.1 -p %d -u dee -P dee-pw setRetention ops --count 1",
		     TH_BINARY_DIR, f.b.port);
	TH_EQ_INT(status, 0);
	got = th_json_parse(out);
	TH_JSON(got, "{\"channel\":\"ops\",\"days\":0,\"count\":1,\"first\":1}");
	cJSON_Delete(got);
	free(out);
	cJSON_Delete(wait_first(f.ada, "ops", 2));
	out = th_run(&status, "%s/mqchat_ctrl -h 127.0.0.1 -p %d -u dee -P dee-pw setRetention ops --days x",
		     TH_BINARY_DIR, f.b.port);
	TH_EQ_INT(status, 2);
	free(out);
	teardown(&f);
}


/* A backlog of 3,000 events pruned in batches of 500: the job's own log line gives the longest batch,
 * the time it held the broker's thread at once. */
static void test_batch_time(void)
{
	struct fixture f;
	long long deadline;
	char *log = NULL, *line;
	cJSON *page;
	int n = 3000;

	setup(&f, "plugin_opt_send_rate 0\n");
	for(int i = 1; i <= n; i++) {
		char cmid[16];
		snprintf(cmid, sizeof(cmid), "m%d", i);
		cJSON_Delete(tc_send(f.ada, "ops", cmid,
				     "a message of ordinary length, with @bo mentioned in it"));
	}
	cJSON_Delete(admin(&f, "{\"command\":\"setRetention\",\"channel\":\"ops\",\"count\":1}"));
	page = wait_first(f.bo, "ops", n + 2);
	cJSON_Delete(page);
	deadline = th_now_ms() + 5000;
	while(th_now_ms() < deadline) {
		free(log);
		log = th_broker_log(&f.b);
		if((line = strstr(log, "retention: pruned")) != NULL) {
			break;
		}
		th_sleep_ms(20); /* the summary is logged at the tick after the last batch */
	}
	line = log ? strstr(log, "retention: pruned") : NULL;
	TH_CHECKF(line != NULL, "%s", "no retention summary in the log");
	{
		long long rows = 0, batches = 0, us = 0;
		TH_EQ_INT(sscanf(line, "retention: pruned %lld events in %lld batches, the longest %lld us",
				 &rows, &batches, &us),
			  3);
		th_log("retention pruned %lld events in %lld batches; longest batch %lld us", rows, batches,
		       us);
		TH_EQ_INT(rows, n + 1);
		TH_CHECK(batches >= (n + 1) / 500);
		TH_CHECKF(us < 250000, "a batch held the broker for %lld us", us);
	}
	free(log);
	expect_query(&f.b, "SELECT count(*), min(msg_seq) FROM mentions", "1|3002"); /* the kept one */

	/* the same backlog erased at once by deleteChannel: one transaction, its time logged */
	cJSON_Delete(admin(&f, "{\"command\":\"setRetention\",\"channel\":\"ops\",\"count\":0}"));
	for(int i = 1; i <= n; i++) {
		char cmid[16];
		snprintf(cmid, sizeof(cmid), "again%d", i);
		cJSON_Delete(tc_send(f.ada, "ops", cmid,
				     "a message of ordinary length, with @bo mentioned in it"));
	}
	page = admin(&f, "{\"command\":\"deleteChannel\",\"channel\":\"ops\"}");
	TH_JSON(page, "{\"responses\":[{\"command\":\"deleteChannel\",\"data\":{\"channel\":\"ops\","
		      "\"deleted\":true}}]}");
	cJSON_Delete(page);
	log = th_broker_log(&f.b);
	line = strstr(log, "channel #ops (");
	TH_CHECKF(line != NULL, "%s", "no deletion in the log");
	th_log("deleteChannel: %.*s", (int)strcspn(line, "\n"), line);
	free(log);
	expect_query(&f.b, "SELECT count(*) FROM events", "0");
	teardown(&f);
}


/* Members on an edge are told too, and the edge forgets the channel: the same name created again (its
 * seqs from 1 again) reaches its members there. */
static void test_delete_on_edges(void)
{
	struct th_broker core, e1;
	struct th_client *dee, *ada, *bo;
	cJSON *got, *ev;

	th_core_start(&core, OPTIONS);
	th_edge_start(&e1, &core, 1);
	dee = th_connect(&core, "dee", "dee-1", 5, true);
	TH_EQ_INT(th_subscribe(dee, RESPONSE, 0), 0);
	ada = th_connect(&e1, "ada", "ada-1", 5, true);
	bo = th_connect(&e1, "bo", "bo-1", 5, true);
	tc_api_ok(bo, "{\"op\":\"channels\"}"); /* bo is a user at the core */
	tc_api_ok(ada, "{\"op\":\"create\",\"channel\":\"ops\",\"members\":[\"bo\"]}");
	TH_EQ_INT(th_subscribe(ada, "chat/ops", 1), 1);
	TH_EQ_INT(th_subscribe(bo, "chat/ops", 1), 1);
	cJSON_Delete(tc_send(ada, "ops", "m1", "before"));
	ev = tc_expect_event(bo, "ops", true);
	TH_EQ_INT(th_json_int(ev, "seq"), 3);
	cJSON_Delete(ev);
	cJSON_Delete(tc_expect_event(ada, "ops", true));

	TH_EQ_INT(th_publish(dee, "$CONTROL/mqchat/v1",
			     "{\"commands\":[{\"command\":\"deleteChannel\",\"channel\":\"ops\"}]}", -1, 1,
			     NULL),
		  0);
	got = th_wait_json(dee, RESPONSE, 10000);
	TH_JSON(got, "{\"responses\":[{\"command\":\"deleteChannel\",\"data\":{\"channel\":\"ops\","
		     "\"deleted\":true}}]}");
	cJSON_Delete(got);
	for(int i = 0; i < 2; i++) {
		struct th_client *c = i == 0 ? ada : bo;
		const char *me = i == 0 ? "ada" : "bo";
		bool saw_own = false;
		for(int n = 0; n < 2 && !saw_own; n++) {
			ev = tc_expect_event(c, "ops", false);
			TH_EQ_STR(th_json_str(ev, "type"), "leave");
			saw_own = strcmp(th_json_str(ev, "user"), me) == 0;
			cJSON_Delete(ev);
		}
		TH_CHECK(saw_own);
	}
	/* the name again, from the edge: bo gets its events there, from seq 1 */
	tc_api_ok(bo, "{\"op\":\"create\",\"channel\":\"ops\"}");
	ev = tc_expect_event(bo, "ops", false);
	TH_JSON(ev, "{\"id\":\"*\",\"channel\":\"ops\",\"seq\":1,\"type\":\"join\",\"from\":\"bo\","
		    "\"device\":\"bo-1\",\"ts\":\"*\",\"user\":\"bo\"}");
	cJSON_Delete(ev);
	cJSON_Delete(tc_send(bo, "ops", "n1", "after"));
	ev = tc_expect_event(bo, "ops", false);
	TH_EQ_INT(th_json_int(ev, "seq"), 2);
	cJSON_Delete(ev);
	TH_EQ_INT(th_queued(ada, "chat/ops"), 0); /* not a member of the new one */

	th_disconnect(bo);
	th_disconnect(ada);
	th_disconnect(dee);
	th_broker_stop(&e1);
	th_broker_stop(&core);
}


TH_TEST_LIST(TH_TEST(test_retention_by_count), TH_TEST(test_retention_by_age_and_default),
	     TH_TEST(test_delete_channel), TH_TEST(test_ctrl_set_retention), TH_TEST(test_batch_time),
	     TH_TEST(test_delete_on_edges))
