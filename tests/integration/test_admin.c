/*
 * test_admin.c - $CONTROL/mqchat/v1 (docs/operations.md): every admin command against a real broker,
 * whole responses; non-admins refused at the ACL and told nothing; bad fields; mqchat_ctrl run as a
 * program; export equal to catch-up; a backup taken while sends flow holds every acknowledged event
 * and passes integrity_check; a restored backup gives every channel a new epoch.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mqtt_protocol.h>

#include "th_chat.h"

#define RESPONSE "$CONTROL/mqchat/v1/response"
#define ADMINS   "plugin_opt_admins dee, eve\n"

struct fixture {
	struct th_broker b;
	struct th_client *dee; /* the admin, subscribed to the responses */
	struct th_client *ada;
};


static void setup(struct fixture *f, const char *extra)
{
	th_broker_start(&f->b, ADMINS "%s", extra ? extra : "");
	tc_sign_in(&f->b, "ada", "bo", "cy", NULL);
	f->dee = th_connect(&f->b, "dee", "dee-1", 5, true);
	TH_EQ_INT(th_subscribe(f->dee, RESPONSE, 0), 0);
	f->ada = th_connect(&f->b, "ada", "ada-1", 5, true);
}


static void teardown(struct fixture *f)
{
	th_disconnect(f->ada);
	th_disconnect(f->dee);
	th_broker_stop(&f->b);
}


/* Publishes {"commands":[<commands>]} as c and returns the next response document. */
static cJSON *admin_at(const char *file, int line, struct th_client *c, int timeout_ms, const char *commands)
{
	char *req = malloc(strlen(commands) + 32);
	cJSON *got;

	sprintf(req, "{\"commands\":[%s]}", commands);
	if(th_publish(c, "$CONTROL/mqchat/v1", req, -1, 1, NULL) != 0) {
		th_fail(file, line, "publishing %s was refused", req);
	}
	free(req);
	got = th_wait_json_at(file, line, c, RESPONSE, timeout_ms);
	if(got == NULL) {
		th_fail(file, line, "no response to %s", commands);
	}
	return got;
}
#define admin(c, commands)            admin_at(__FILE__, __LINE__, (c), 5000, (commands))
#define admin_slow(c, ms, commands)   admin_at(__FILE__, __LINE__, (c), (ms), (commands))
#define expect_admin(c, cmds, expect) expect_admin_at(__FILE__, __LINE__, (c), (cmds), (expect))


static void expect_admin_at(const char *file, int line, struct th_client *c, const char *commands,
			    const char *pattern)
{
	cJSON *got = admin_at(file, line, c, 5000, commands);

	th_json_check_(file, line, commands, got, pattern);
	cJSON_Delete(got);
}


/* Checks that doc is one error entry for command, with code and a message containing text. */
static void expect_error_at(const char *file, int line, cJSON *doc, const char *command, const char *code,
			    const char *text)
{
	const cJSON *list = cJSON_GetObjectItem(doc, "responses");
	const cJSON *e = cJSON_GetArrayItem(list, 0);
	const char *error = cJSON_GetStringValue(cJSON_GetObjectItem(e, "error"));
	const char *cmd = cJSON_GetStringValue(cJSON_GetObjectItem(e, "command"));
	const char *got_code = cJSON_GetStringValue(cJSON_GetObjectItem(e, "code"));
	char *printed = th_json_print(doc);

	if(cJSON_GetArraySize(list) != 1 || cmd == NULL || strcmp(cmd, command) != 0 || got_code == NULL
	   || strcmp(got_code, code) != 0 || error == NULL || strstr(error, text) == NULL) {
		th_fail(file, line, "expected a %s error %s (\"...%s...\"), got %s", command, code, text,
			printed);
	}
	free(printed);
	cJSON_Delete(doc);
}
#define expect_error(doc, command, code, text)                                                               \
	expect_error_at(__FILE__, __LINE__, (doc), (command), (code), (text))


static void test_channel_commands(void)
{
	struct fixture f;
	cJSON *ev;

	setup(&f, NULL);
	expect_admin(f.dee,
		     "{\"command\":\"createChannel\",\"channel\":\"ops\",\"owner\":\"ada\",\"title\":\"Ops\","
		     "\"members\":[\"bo\"],\"correlationData\":\"c1\"}",
		     "{\"responses\":[{\"command\":\"createChannel\",\"correlationData\":\"c1\",\"data\":{"
		     "\"channel\":{\"channel\":\"ops\",\"visibility\":\"public\",\"title\":\"Ops\",\"epoch\":"
		     "\"*\","
		     "\"head\":2,\"messages\":0,\"memberCount\":2,\"members\":[{\"user\":\"ada\",\"role\":"
		     "\"owner\"},"
		     "{\"user\":\"bo\",\"role\":\"member\"}]}}}]}");
	TH_EQ_INT(th_subscribe(f.ada, "chat/ops", 1), 1);
	expect_admin(
		f.dee,
		"{\"command\":\"createChannel\",\"channel\":\"secret\",\"visibility\":\"private\"},"
		"{\"command\":\"listChannels\"}",
		"{\"responses\":[{\"command\":\"createChannel\",\"data\":{\"channel\":{\"channel\":"
		"\"secret\","
		"\"visibility\":\"private\",\"title\":\"\",\"epoch\":\"*\",\"head\":1,\"messages\":0,"
		"\"memberCount\":1,\"members\":[{\"user\":\"dee\",\"role\":\"owner\"}]}}},"
		"{\"command\":\"listChannels\",\"data\":{\"channels\":["
		"{\"channel\":\"ops\",\"visibility\":\"public\",\"title\":\"Ops\",\"epoch\":\"*\",\"head\":2,"
		"\"messages\":0,\"memberCount\":2},"
		"{\"channel\":\"secret\",\"visibility\":\"private\",\"title\":\"\",\"epoch\":\"*\",\"head\":"
		"1,"
		"\"messages\":0,\"memberCount\":1}],\"totalCount\":2}}]}");
	/* membership changes are the same log events as the API's, naming the admin as their cause */
	expect_admin(f.dee, "{\"command\":\"addMember\",\"channel\":\"ops\",\"user\":\"cy\"}",
		     "{\"responses\":[{\"command\":\"addMember\",\"data\":{\"added\":true}}]}");
	ev = tc_expect_event(f.ada, "ops", false);
	TH_JSON(ev, "{\"id\":\"*\",\"channel\":\"ops\",\"seq\":3,\"type\":\"join\",\"from\":\"dee\","
		    "\"device\":\"dee-1\",\"ts\":\"*\",\"user\":\"cy\"}");
	cJSON_Delete(ev);
	expect_admin(f.dee, "{\"command\":\"addMember\",\"channel\":\"ops\",\"user\":\"cy\"}",
		     "{\"responses\":[{\"command\":\"addMember\",\"data\":{\"added\":false}}]}");
	expect_admin(f.dee, "{\"command\":\"removeMember\",\"channel\":\"ops\",\"user\":\"bo\"}",
		     "{\"responses\":[{\"command\":\"removeMember\",\"data\":{\"removed\":true}}]}");
	ev = tc_expect_event(f.ada, "ops", false);
	TH_JSON(ev, "{\"id\":\"*\",\"channel\":\"ops\",\"seq\":4,\"type\":\"leave\",\"from\":\"dee\","
		    "\"device\":\"dee-1\",\"ts\":\"*\",\"user\":\"bo\"}");
	cJSON_Delete(ev);
	expect_admin(f.dee, "{\"command\":\"getChannel\",\"channel\":\"ops\"}",
		     "{\"responses\":[{\"command\":\"getChannel\",\"data\":{\"channel\":{\"channel\":\"ops\","
		     "\"visibility\":\"public\",\"title\":\"Ops\",\"epoch\":\"*\",\"head\":4,\"messages\":0,"
		     "\"memberCount\":2,\"members\":[{\"user\":\"ada\",\"role\":\"owner\"},"
		     "{\"user\":\"cy\",\"role\":\"member\"}]}}}]}");
	teardown(&f);
}


static void test_user_commands(void)
{
	struct fixture f;

	setup(&f, NULL);
	expect_admin(f.dee, "{\"command\":\"listUsers\"}",
		     "{\"responses\":[{\"command\":\"listUsers\",\"data\":{\"users\":[\"ada\",\"bo\",\"cy\","
		     "\"dee\"],"
		     "\"totalCount\":4}}]}");
	expect_admin(f.dee,
		     "{\"command\":\"addMember\",\"channel\":\"x\",\"user\":\"zed\"},"
		     "{\"command\":\"addUser\",\"user\":\"zed\"},{\"command\":\"addUser\",\"user\":\"zed\"}",
		     "{\"responses\":[{\"command\":\"addMember\",\"error\":\"there is no channel #x\","
		     "\"code\":\"no_such_channel\"},"
		     "{\"command\":\"addUser\",\"data\":{\"added\":true}},"
		     "{\"command\":\"addUser\",\"data\":{\"added\":false}}]}");
	/* a provisioned user can be named as a member at once, and survives a restart */
	expect_admin(
		f.dee, "{\"command\":\"createChannel\",\"channel\":\"team\",\"members\":[\"zed\"]}",
		"{\"responses\":[{\"command\":\"createChannel\",\"data\":{\"channel\":{\"channel\":\"team\","
		"\"visibility\":\"public\",\"title\":\"\",\"epoch\":\"*\",\"head\":2,\"messages\":0,"
		"\"memberCount\":2,\"members\":[{\"user\":\"dee\",\"role\":\"owner\"},"
		"{\"user\":\"zed\",\"role\":\"member\"}]}}}]}");
	th_disconnect(f.ada);
	th_disconnect(f.dee);
	th_broker_restart(&f.b);
	f.dee = th_connect(&f.b, "dee", "dee-1", 5, true);
	TH_EQ_INT(th_subscribe(f.dee, RESPONSE, 0), 0);
	f.ada = NULL;
	expect_admin(f.dee, "{\"command\":\"listUsers\"}",
		     "{\"responses\":[{\"command\":\"listUsers\",\"data\":{\"users\":[\"ada\",\"bo\",\"cy\","
		     "\"dee\","
		     "\"zed\"],\"totalCount\":5}}]}");
	teardown(&f);
}


static void test_bad_input(void)
{
	struct fixture f;
	char cmd[512];
	cJSON *got;

	setup(&f, NULL);
	expect_admin(
		f.dee,
		"{\"command\":\"nope\"},{\"command\":1},{\"command\":\"getChannel\"},"
		"{\"command\":\"getChannel\",\"channel\":7},"
		"{\"command\":\"getChannel\",\"channel\":\"none\"},"
		"{\"command\":\"createChannel\",\"channel\":\"_bad\"},"
		"{\"command\":\"createChannel\",\"channel\":\"x\",\"owner\":\"nobody\"},"
		"{\"command\":\"createChannel\",\"channel\":\"x\",\"members\":\"bo\"},"
		"{\"command\":\"addUser\",\"user\":\"a/b\"},"
		"{\"command\":\"backup\"},{\"command\":\"backup\",\"path\":\"relative.db\"}",
		"{\"responses\":[{\"command\":\"nope\",\"error\":\"Unknown "
		"command\",\"code\":\"bad_request\"},"
		"{\"command\":\"Unknown command\",\"error\":\"*\",\"code\":\"bad_request\"},"
		"{\"command\":\"getChannel\",\"error\":\"*\",\"code\":\"bad_request\"},"
		"{\"command\":\"getChannel\",\"error\":\"*\",\"code\":\"bad_request\"},"
		"{\"command\":\"getChannel\",\"error\":\"there is no channel #none\","
		"\"code\":\"no_such_channel\"},"
		"{\"command\":\"createChannel\",\"error\":\"*\",\"code\":\"bad_request\"},"
		"{\"command\":\"createChannel\",\"error\":\"there is no user nobody\","
		"\"code\":\"no_such_user\"},"
		"{\"command\":\"createChannel\",\"error\":\"members must be an array of user names\","
		"\"code\":\"bad_request\"},"
		"{\"command\":\"addUser\",\"error\":\"*\",\"code\":\"bad_request\"},"
		"{\"command\":\"backup\",\"error\":\"*\",\"code\":\"bad_request\"},"
		"{\"command\":\"backup\",\"error\":\"path must be absolute (a path on the broker's host)\","
		"\"code\":\"conflict\"}]}");
	/* unknown users and members, a direct channel, an export of nothing */
	tc_api_ok(f.ada, "{\"op\":\"create\",\"channel\":\"ops\"}");
	got = tc_api(f.ada, "{\"op\":\"dm\",\"user\":\"bo\"}");
	snprintf(cmd, sizeof(cmd), "{\"command\":\"addMember\",\"channel\":\"%s\",\"user\":\"cy\"}",
		 th_json_str(got, "channel"));
	cJSON_Delete(got);
	expect_error(admin(f.dee, cmd), "addMember", "forbidden", "direct channel");
	expect_error(admin(f.dee, "{\"command\":\"addMember\",\"channel\":\"ops\",\"user\":\"nobody\"}"),
		     "addMember", "no_such_user", "there is no user nobody");
	expect_error(admin(f.dee, "{\"command\":\"removeMember\",\"channel\":\"ops\",\"user\":\"cy\"}"),
		     "removeMember", "not_member", "cy");
	expect_error(admin(f.dee, "{\"command\":\"addMember\",\"channel\":\"ops\",\"user\":[\"cy\"]}"),
		     "addMember", "bad_request", "user");
	expect_error(admin(f.dee, "{\"command\":\"exportChannel\",\"channel\":\"none\",\"path\":\"/tmp/x\"}"),
		     "exportChannel", "no_such_channel", "#none");
	expect_error(admin(f.dee, "{\"command\":\"deleteChannel\",\"channel\":\"none\"}"), "deleteChannel",
		     "no_such_channel", "#none");
	expect_error(admin(f.dee, "{\"command\":\"setRetention\",\"channel\":\"ops\",\"days\":-1}"),
		     "setRetention", "bad_request", "days");
	/* not JSON, not an object with commands: one error entry */
	TH_EQ_INT(th_publish(f.dee, "$CONTROL/mqchat/v1", "hello", -1, 1, NULL), 0);
	got = th_expect_json(f.dee, RESPONSE);
	TH_JSON(got, "{\"responses\":[{\"command\":\"Unknown "
		     "command\",\"error\":\"*\",\"code\":\"bad_request\"}]}");
	cJSON_Delete(got);
	teardown(&f);
}


static void test_non_admin_learns_nothing(void)
{
	struct fixture f;
	struct th_client *mallory;

	setup(&f, NULL);
	mallory = th_connect(&f.b, "mallory", "mallory-1", 5, true);
	TH_EQ_INT(th_subscribe(mallory, RESPONSE, 0), 0x87);
	TH_EQ_INT(th_subscribe(mallory, "$CONTROL/#", 0), 0);
	/* refused at the ACL: PUBACK 0x87, and nothing is served */
	TH_EQ_INT(th_publish(mallory, "$CONTROL/mqchat/v1",
			     "{\"commands\":[{\"command\":\"createChannel\",\"channel\":\"evil\"}]}", -1, 1,
			     NULL),
		  0x87);
	/* the admin's next answer is to its own request: mallory's made none */
	expect_admin(f.dee, "{\"command\":\"listChannels\"}",
		     "{\"responses\":[{\"command\":\"listChannels\",\"data\":{\"channels\":[],\"totalCount\":"
		     "0}}]}");
	/* and mallory, subscribed to $CONTROL/#, received none of it */
	TH_EQ_INT(th_queued(mallory, "#"), 0);
	TH_EQ_INT(th_queued(mallory, "$CONTROL/#"), 0);
	th_disconnect(mallory);
	teardown(&f);
}


static void test_response_topic(void)
{
	struct fixture f;
	mosquitto_property *props = NULL;
	struct th_client *eve;
	cJSON *got;

	setup(&f, NULL);
	eve = th_connect(&f.b, "eve", "eve-1", 5, true); /* an admin, not subscribed to the broadcast */
	TH_EQ_INT(th_subscribe(eve, "ops/answers", 0), 0);
	mosquitto_property_add_string(&props, MQTT_PROP_RESPONSE_TOPIC, "ops/answers");
	mosquitto_property_add_binary(&props, MQTT_PROP_CORRELATION_DATA, "k9", 2);
	TH_EQ_INT(th_publish(eve, "$CONTROL/mqchat/v1", "{\"commands\":[{\"command\":\"listUsers\"}]}", -1, 1,
			     props),
		  0);
	mosquitto_property_free_all(&props);
	got = th_expect_json(eve, "ops/answers");
	TH_JSON(got, "{\"responses\":[{\"command\":\"listUsers\",\"data\":{\"users\":[\"ada\",\"bo\",\"cy\","
		     "\"dee\",\"eve\"],\"totalCount\":5}}]}");
	cJSON_Delete(got);
	got = th_expect_json(f.dee, RESPONSE); /* and the broadcast, as dynamic-security answers */
	cJSON_Delete(got);
	th_disconnect(eve);
	teardown(&f);
}


static char *ctrl(struct th_broker *b, int *status, const char *user, const char *args)
{
	return th_run(status, "%s/mqchat_ctrl -h 127.0.0.1 -p %d -u %s -P %s-pw %s", TH_BINARY_DIR, b->port,
		      user, user, args);
}


static void test_ctrl_tool(void)
{
	struct fixture f;
	int status = -1;
	char *out, *opts;
	cJSON *got;
	FILE *fp;

	setup(&f, NULL);
	out = ctrl(&f.b, &status, "dee", "createChannel ops --owner ada --members bo,cy --title 'On call'");
	TH_EQ_INT(status, 0);
	got = th_json_parse(out);
	TH_JSON(got, "{\"channel\":{\"channel\":\"ops\",\"visibility\":\"public\",\"title\":\"On call\","
		     "\"epoch\":\"*\",\"head\":3,\"messages\":0,\"memberCount\":3,\"members\":\"*\"}}");
	cJSON_Delete(got);
	free(out);
	/* an options file, as mosquitto_ctrl's -o */
	opts = th_tmpfile(&f.b, "ctrl.opts");
	fp = fopen(opts, "w");
	TH_CHECK(fp != NULL);
	fprintf(fp, "# admin\n-h 127.0.0.1\n-p %d\n-u dee\n-P dee-pw\n", f.b.port);
	fclose(fp);
	out = th_run(&status, "%s/mqchat_ctrl -o %s getChannel ops", TH_BINARY_DIR, opts);
	TH_EQ_INT(status, 0);
	TH_CHECKF(strstr(out, "\"On call\"") != NULL, "%s", out);
	free(out);
	out = th_run(&status, "%s/mqchat_ctrl -o %s removeMember ops bo", TH_BINARY_DIR, opts);
	TH_EQ_INT(status, 0);
	free(out);
	out = th_run(&status, "%s/mqchat_ctrl -o %s getChannel nowhere", TH_BINARY_DIR, opts);
	TH_EQ_INT(status, 1);
	TH_CHECKF(strstr(out, "there is no channel #nowhere (no_such_channel)") != NULL, "%s", out);
	free(out);
	out = th_run(&status, "%s/mqchat_ctrl -o %s addMember ops", TH_BINARY_DIR, opts);
	TH_EQ_INT(status, 2);
	free(out);
	out = ctrl(&f.b, &status, "mallory", "listChannels");
	TH_EQ_INT(status, 1);
	TH_CHECKF(strstr(out, "not allowed") != NULL, "%s", out);
	TH_CHECK(strstr(out, "ops") == NULL);
	free(out);
	free(opts);
	teardown(&f);
}


/* The lines of the file at path, as a JSON array of the events (each line parsed). */
static cJSON *read_lines(const char *path)
{
	cJSON *all = cJSON_CreateArray();
	char line[65536];
	FILE *fp = fopen(path, "r");

	TH_CHECKF(fp != NULL, "cannot open %s", path);
	while(fgets(line, sizeof(line), fp) != NULL) {
		TH_CHECKF(strchr(line, '\n') != NULL, "a line without its newline in %s", path);
		cJSON_AddItemToArray(all, th_json_parse(line));
	}
	fclose(fp);
	return all;
}


static void test_export(void)
{
	struct fixture f;
	char *path, *dir_ro, cmd[1024];
	cJSON *got, *lines, *history;

	setup(&f, NULL);
	tc_api_ok(f.ada, "{\"op\":\"create\",\"channel\":\"ops\",\"members\":[\"bo\"]}");
	for(int i = 0; i < 30; i++) {
		char cmid[16], body[64];
		snprintf(cmid, sizeof(cmid), "m%d", i);
		snprintf(body, sizeof(body), "line %d with \"quotes\" and a\nnewline", i);
		cJSON_Delete(tc_send(f.ada, "ops", cmid, body));
	}
	path = th_tmpfile(&f.b, "ops.jsonl");
	snprintf(cmd, sizeof(cmd), "{\"command\":\"exportChannel\",\"channel\":\"ops\",\"path\":\"%s\"}",
		 path);
	got = admin(f.dee, cmd);
	TH_JSON(got,
		"{\"responses\":[{\"command\":\"exportChannel\",\"data\":{\"path\":\"*\",\"bytes\":\"*\","
		"\"ms\":\"*\",\"channel\":\"ops\",\"events\":32,\"last\":32}}]}");
	cJSON_Delete(got);
	/* JSON Lines equal to catch-up, event for event */
	lines = read_lines(path);
	history = tc_history(f.ada, "ops");
	TH_EQ_INT(cJSON_GetArraySize(lines), 32);
	TH_CHECK(cJSON_Compare(lines, history, true));
	cJSON_Delete(lines);
	cJSON_Delete(history);
	/* the same path again: refused, and the file is untouched */
	expect_error(admin(f.dee, cmd), "exportChannel", "conflict", " already exists");
	/* a directory that does not exist, and one that cannot be written */
	snprintf(cmd, sizeof(cmd),
		 "{\"command\":\"exportChannel\",\"channel\":\"ops\",\"path\":\"%s/none/x.jsonl\"}", f.b.dir);
	expect_error(admin(f.dee, cmd), "exportChannel", "conflict", "cannot write in ");
	dir_ro = th_tmpfile(&f.b, "ro");
	TH_EQ_INT(mkdir(dir_ro, 0500), 0);
	snprintf(cmd, sizeof(cmd), "{\"command\":\"backup\",\"path\":\"%s/x.db\"}", dir_ro);
	got = admin(f.dee, cmd);
	if(geteuid() != 0) { /* root writes anywhere */
		expect_error(got, "backup", "conflict", "cannot write in ");
	} else {
		cJSON_Delete(got);
	}
	chmod(dir_ro, 0700);
	free(dir_ro);
	free(path);
	teardown(&f);
}


/* Runs one sqlite3 query on the file at path and returns its output, trimmed. */
static char *query(const char *path, const char *sql)
{
	int status = -1;
	char *out = th_run(&status, "sqlite3 -readonly '%s' \"%s\"", path, sql);

	TH_EQ_INT(status, 0);
	out[strcspn(out, "\n")] = '\0';
	return out;
}


static void test_backup_while_sending(void)
{
	struct fixture f;
	struct th_client *bo;
	char *path, cmd[1024], *out, reply_topic[300];
	int acked = 0, sent = 0, acked_before = 0;
	cJSON *got;

	setup(&f, "plugin_opt_send_rate 0\n");
	tc_api_ok(f.ada, "{\"op\":\"create\",\"channel\":\"ops\",\"members\":[\"bo\"]}");
	bo = th_connect(&f.b, "bo", "bo-1", 5, true);
	snprintf(reply_topic, sizeof(reply_topic), "%s", tc_reply_topic(bo));
	TH_EQ_INT(th_subscribe(bo, reply_topic, 1), 1);
	path = th_tmpfile(&f.b, "backup.db");
	snprintf(cmd, sizeof(cmd), "{\"commands\":[{\"command\":\"backup\",\"path\":\"%s\"}]}", path);
	/* sends flow before, during and after the backup */
	for(int round = 0; round < 400; round++) {
		char body[96];
		snprintf(body, sizeof(body), "{\"client_msg_id\":\"b%d\",\"body\":\"message %d\"}", round,
			 round);
		TH_EQ_INT(th_publish_async(bo, "chat/ops", body, -1, 1, NULL), 0);
		sent++;
		while(acked < sent - 20) { /* at most 20 in flight */
			cJSON *ack = th_wait_json(bo, reply_topic, 5000);
			TH_CHECKF(ack != NULL && cJSON_IsTrue(cJSON_GetObjectItem(ack, "ok")), "ack: %s",
				  ack ? th_json_print(ack) : "none");
			cJSON_Delete(ack);
			acked++;
		}
		if(round == 200) {
			acked_before = acked; /* every one of these was acknowledged before the backup */
			TH_EQ_INT(th_publish(f.dee, "$CONTROL/mqchat/v1", cmd, -1, 1, NULL), 0);
		}
	}
	got = th_wait_json(f.dee, RESPONSE, 60000);
	TH_JSON(got, "{\"responses\":[{\"command\":\"backup\",\"data\":{\"path\":\"*\",\"bytes\":\"*\","
		     "\"ms\":\"*\","
		     "\"integrity\":\"ok\"}}]}");
	cJSON_Delete(got);
	th_log("backup while sending: %d acked before it, %d sent in all", acked_before, sent);
	/* the copy: consistent, and holds every event acknowledged before it was asked for (seq 1 is the
	 * creator's join, bo's join is 2: message k is seq k + 3) */
	out = query(path, "PRAGMA integrity_check");
	TH_EQ_STR(out, "ok");
	free(out);
	snprintf(
		cmd, sizeof(cmd),
		"SELECT count(*) FROM events WHERE channel_id = (SELECT id FROM channels WHERE name = 'ops') "
		"AND type = 'message' AND seq <= %d",
		acked_before + 2);
	out = query(path, cmd);
	TH_EQ_INT(atoi(out), acked_before);
	free(out);
	/* no .partial left behind; a second backup to the same path is refused */
	snprintf(cmd, sizeof(cmd), "%s.partial", path);
	TH_CHECK(access(cmd, F_OK) != 0);
	snprintf(cmd, sizeof(cmd), "{\"command\":\"backup\",\"path\":\"%s\"}", path);
	expect_error(admin(f.dee, cmd), "backup", "conflict", " already exists");
	while(acked < sent) {
		cJSON *ack = th_wait_json(bo, reply_topic, 5000);
		TH_CHECK(ack != NULL);
		cJSON_Delete(ack);
		acked++;
	}
	th_disconnect(bo);
	free(path);
	teardown(&f);
}


/* The documented restore (docs/operations.md): stop, copy the backup over the database, start. */
static void test_restore_gives_new_epochs(void)
{
	struct fixture f;
	char *path, cmd[1024], *out, epoch_before[64];
	cJSON *got, *page;
	int status = -1;

	setup(&f, NULL);
	tc_api_ok(f.ada, "{\"op\":\"create\",\"channel\":\"ops\"}");
	cJSON_Delete(tc_send(f.ada, "ops", "a1", "before the backup"));
	page = tc_sync(f.ada, "ops", 0, 0);
	snprintf(epoch_before, sizeof(epoch_before), "%s", th_json_str(page, "epoch"));
	cJSON_Delete(page);
	path = th_tmpfile(&f.b, "backup.db");
	snprintf(cmd, sizeof(cmd), "{\"command\":\"backup\",\"path\":\"%s\"}", path);
	got = admin(f.dee, cmd);
	TH_JSON(got, "{\"responses\":[{\"command\":\"backup\",\"data\":\"*\"}]}");
	cJSON_Delete(got);
	cJSON_Delete(tc_send(f.ada, "ops", "a2", "after the backup: the restore loses it"));
	th_disconnect(f.ada);
	th_disconnect(f.dee);
	th_broker_stop(&f.b);
	out = th_run(&status, "cp '%s' '%s' && rm -f '%s-wal' '%s-shm'", path, f.b.db_path, f.b.db_path,
		     f.b.db_path);
	TH_EQ_INT(status, 0);
	free(out);
	th_broker_restart(&f.b);
	TH_CHECK(th_broker_log_contains(&f.b, "new epoch"));
	f.ada = th_connect(&f.b, "ada", "ada-1", 5, true);
	f.dee = th_connect(&f.b, "dee", "dee-1", 5, true);
	page = tc_sync(f.ada, "ops", 0, 0);
	TH_CHECKF(strcmp(th_json_str(page, "epoch"), epoch_before) != 0, "epoch %s kept", epoch_before);
	TH_EQ_INT(th_json_int(page, "head"), 2); /* the join and the message before the backup */
	cJSON_Delete(page);
	free(path);
	teardown(&f);
}


/* The broker killed while a backup runs: the live database is unharmed, nothing at the path (a
 * .partial at most), and the next backup to the same path succeeds. The database gets 128 MiB of
 * ballast (a table the plugin ignores) so that the copy takes long enough to be killed. */
static void test_killed_during_backup(void)
{
	struct fixture f;
	char *path, *partial, cmd[1024], *out;
	int status = -1, polls;
	cJSON *got;

	setup(&f, NULL);
	tc_api_ok(f.ada, "{\"op\":\"create\",\"channel\":\"ops\"}");
	cJSON_Delete(tc_send(f.ada, "ops", "a1", "kept"));
	th_disconnect(f.ada);
	th_disconnect(f.dee);
	th_broker_stop(&f.b);
	out = th_run(
		&status,
		"sqlite3 '%s' \"CREATE TABLE ballast (b BLOB); WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL "
		"SELECT i + 1 FROM n WHERE i < 128) INSERT INTO ballast SELECT randomblob(1048576) FROM n;\"",
		f.b.db_path);
	TH_EQ_INT(status, 0);
	free(out);
	th_broker_restart(&f.b);
	f.dee = th_connect(&f.b, "dee", "dee-1", 5, true);
	TH_EQ_INT(th_subscribe(f.dee, RESPONSE, 0), 0);
	f.ada = th_connect(&f.b, "ada", "ada-1", 5, true);
	path = th_tmpfile(&f.b, "killed.db");
	partial = th_tmpfile(&f.b, "killed.db.partial");
	snprintf(cmd, sizeof(cmd), "{\"commands\":[{\"command\":\"backup\",\"path\":\"%s\"}]}", path);
	TH_EQ_INT(th_publish(f.dee, "$CONTROL/mqchat/v1", cmd, -1, 1, NULL), 0);
	for(polls = 0; polls < 5000 && access(partial, F_OK) != 0; polls++) { /* the copy has begun */
		th_sleep_ms(1);
	}
	TH_CHECK(access(partial, F_OK) == 0);
	th_broker_kill9(&f.b);
	TH_CHECKF(access(path, F_OK) != 0, "%s exists after a kill during the copy", path);
	out = query(f.b.db_path, "PRAGMA integrity_check");
	TH_EQ_STR(out, "ok");
	free(out);
	th_disconnect(f.ada);
	th_disconnect(f.dee);
	th_broker_restart(&f.b);
	f.dee = th_connect(&f.b, "dee", "dee-1", 5, true);
	TH_EQ_INT(th_subscribe(f.dee, RESPONSE, 0), 0);
	f.ada = th_connect(&f.b, "ada", "ada-1", 5, true);
	got = tc_sync(f.ada, "ops", 0, 0);
	TH_EQ_INT(th_json_int(got, "head"), 2);
	cJSON_Delete(got);
	/* the stale .partial is no obstacle, and is gone once the backup succeeds */
	snprintf(cmd, sizeof(cmd), "{\"command\":\"backup\",\"path\":\"%s\"}", path);
	got = admin_slow(f.dee, 60000, cmd);
	TH_JSON(got, "{\"responses\":[{\"command\":\"backup\",\"data\":{\"path\":\"*\",\"bytes\":\"*\","
		     "\"ms\":\"*\","
		     "\"integrity\":\"ok\"}}]}");
	th_log("backup of a %lld-byte database: %lld ms",
	       th_json_int(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(got, "responses"), 0),
					       "data"),
			   "bytes"),
	       th_json_int(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(got, "responses"), 0),
					       "data"),
			   "ms"));
	cJSON_Delete(got);
	TH_CHECK(access(partial, F_OK) != 0);
	free(partial);
	free(path);
	teardown(&f);
}


TH_TEST_LIST(TH_TEST(test_channel_commands), TH_TEST(test_user_commands), TH_TEST(test_bad_input),
	     TH_TEST(test_non_admin_learns_nothing), TH_TEST(test_response_topic), TH_TEST(test_ctrl_tool),
	     TH_TEST(test_export), TH_TEST(test_backup_while_sending), TH_TEST(test_restore_gives_new_epochs),
	     TH_TEST(test_killed_during_backup))
