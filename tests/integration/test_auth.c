/*
 * test_auth.c - authentication is the broker's. mqchat's BASIC_AUTH callback only watches connections
 * and defers every password that is not one of its own session tokens (test_session_tokens.c), so
 * password_file and dynamic-security alone decide who connects; with plugin_opt_acl_fallback defer,
 * an acl_file or dynamic-security decides whatever mqchat does not deny. mqchat must neither reject
 * what they accept nor accept what they reject, and a connection without a username gets nothing
 * from chat/.
 *
 * What Mosquitto 2.0.11 does around the plugin, as these tests observe it (the order of dynsec and
 * acl_file was seen by hand; no test here runs both):
 * - Authentication callbacks run in config order, plugins before password_file. dynamic-security
 *   answers for the usernames it knows (a wrong password is final, even if password_file would take
 *   it) and defers every other username to password_file.
 * - ACL callbacks run in the same order: mqchat, then dynamic-security, then acl_file; the first
 *   answer that is not a deferral wins, and a check that every source defers is denied. So mqchat's plugin
 * line must come before dynsec's, or dynsec's grants would skip the membership checks.
 * - dynamic-security defers (rather than denies) a username it does not know, and a check that
 *   none of the client's roles matches while the default access is deny. So beside dynsec and
 *   without an acl_file, password_file users connect but get nothing at all, chat/ included.
 * - acl_file grants every SUBSCRIBE (2.0.x checks acl_file on delivery only), so a user that
 *   acl_file keeps out of chat/ can subscribe but is delivered nothing, and cannot publish.
 * Wrong credentials get CONNACK 0x87 "not authorised" (v5) or 5 (3.1.1) from password_file and from
 * dynsec alike.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "th_chat.h"

#define DYNSEC_PLUGIN "/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so"

/* CONNACK reason codes for refused credentials. */
#define REFUSED_V5  0x87
#define REFUSED_V31 5

/* Granted to acl_file users: ada reads and writes chat/ and sensors/, bo only chat/, eve only reads
 * sensors/. Connections without a username may do anything, so that whatever they are refused under
 * chat/ is refused by mqchat. */
static const char acl_file_text[] = "topic readwrite #\n"
				    "\n"
				    "user ada\n"
				    "topic readwrite chat/#\n"
				    "topic readwrite sensors/#\n"
				    "\n"
				    "user bo\n"
				    "topic readwrite chat/#\n"
				    "\n"
				    "user eve\n"
				    "topic read sensors/#\n";


/* Asserts that ev is message seq of channel, sent by from from device with client_msg_id and body;
 * deletes ev. */
static void expect_message(cJSON *ev, const char *channel, int seq, const char *from, const char *device,
			   const char *cmid, const char *body)
{
	char pattern[1024];

	snprintf(pattern, sizeof(pattern),
		 "{\"id\":\"*\",\"channel\":\"%s\",\"seq\":%d,\"type\":\"message\",\"from\":\"%s\","
		 "\"device\":\"%s\",\"ts\":\"*\",\"client_msg_id\":\"%s\",\"body\":\"%s\"}",
		 channel, seq, from, device, cmid, body);
	TH_JSON(ev, pattern);
	cJSON_Delete(ev);
}


/* Publishes to topic from sender and asserts that it is the next message c receives on any topic.
 * The broker writes to one client in order, so whatever it would have delivered to c before (an
 * event, a reply) has come by then: no sleep needed. */
static void expect_barrier_next(struct th_client *sender, struct th_client *c, const char *topic)
{
	struct th_msg *m;

	TH_EQ_INT(th_publish(sender, topic, "barrier", -1, 1, NULL), 0);
	m = th_wait_msg(c, "#", 5000);
	TH_CHECKF(m != NULL, "no barrier on %s", topic);
	TH_EQ_STR(m->topic, topic);
	th_msg_free(m);
}


/* The channel's head seq, as a member sees it. */
static long long head_of(struct th_client *member, const char *channel)
{
	cJSON *page = tc_sync(member, channel, 0, 1);
	long long head = th_json_int(page, "head");

	cJSON_Delete(page);
	return head;
}


/* Starts b with mqchat deferring, writes the file name into its directory (text, or when text is
 * NULL with the shell command cmd_fmt, which gets the file's path), and restarts b with extra, in
 * which each (at most two) %s is that path. Mosquitto will not start without the files its config
 * names, and the directory only exists once the broker has been started. */
static void start_with_file(struct th_broker *b, const char *name, const char *text, const char *cmd_fmt,
			    const char *extra)
{
	char *path, *out;
	int status, n;

	th_broker_start(b, "plugin_opt_acl_fallback defer\n");
	path = th_tmpfile(b, name);
	if(text) {
		FILE *fp = fopen(path, "w");

		TH_CHECK(fp != NULL);
		TH_CHECK(fputs(text, fp) >= 0);
		TH_CHECK(fclose(fp) == 0);
	} else {
		out = th_run(&status, cmd_fmt, path);
		TH_CHECKF(status == 0, "%s exited with %d:\n%s", cmd_fmt, status, out);
		free(out);
	}
	n = snprintf(b->extra, sizeof(b->extra), extra, path, path);
	TH_CHECK(n > 0 && (size_t)n < sizeof(b->extra));
	free(path);
	th_broker_restart(b);
}


/* ---- password_file ---- */

/* Only the right password gets in; mqchat adds no check of its own, and takes no part in refusing. */
static void test_password_file_decides_who_connects(void)
{
	struct th_broker b;
	struct th_client *ada, *bo;
	cJSON *ack;

	th_broker_start(&b, "");
	TH_EQ_INT(th_connect_rc(&b, "ada", "bo-pw", NULL, 5, NULL), REFUSED_V5);
	TH_EQ_INT(th_connect_rc(&b, "ada", "bo-pw", NULL, 4, NULL), REFUSED_V31);
	TH_EQ_INT(th_connect_rc(&b, "ada", NULL, NULL, 5, NULL), REFUSED_V5);
	TH_EQ_INT(th_connect_rc(&b, "zed", "zed-pw", NULL, 5, NULL), REFUSED_V5); /* not in the file */
	TH_EQ_INT(th_connect_rc(&b, "zed", "zed-pw", NULL, 4, NULL), REFUSED_V31);
	TH_EQ_INT(th_connect_rc(&b, "ada", "ada-pw", "ada-laptop", 5, &ada), 0);
	TH_EQ_INT(th_connect_rc(&b, "bo", "bo-pw", "bo-phone", 4, &bo), 0);

	/* and an accepted user is a full chat user */
	tc_api_ok(ada, "{\"op\":\"create\",\"channel\":\"general\",\"members\":[\"bo\"]}");
	TH_EQ_INT(th_subscribe(bo, "chat/general", 1), 1);
	ack = tc_send(ada, "general", "a1", "welcome");
	TH_EQ_INT(th_json_int(ack, "seq"), 3);
	cJSON_Delete(ack);
	expect_message(th_expect_json(bo, "chat/general"), "general", 3, "ada", "ada-laptop", "a1",
		       "welcome");
	cJSON_Delete(tc_send(bo, "general", "b1", "thanks"));
	TH_EQ_INT(head_of(ada, "general"), 4);
	th_disconnect(ada);
	th_disconnect(bo);
	th_broker_stop(&b);
}


/* When the broker refuses anonymous connections, so be it; users are unaffected. */
static void test_broker_may_refuse_anonymous(void)
{
	struct th_broker b;
	struct th_client *ada;

	th_broker_start(&b, "allow_anonymous false\n");
	TH_EQ_INT(th_connect_rc(&b, NULL, NULL, NULL, 5, NULL), REFUSED_V5);
	TH_EQ_INT(th_connect_rc(&b, NULL, NULL, NULL, 4, NULL), REFUSED_V31);
	ada = th_connect(&b, "ada", "ada-laptop", 5, true);
	tc_api_ok(ada, "{\"op\":\"create\",\"channel\":\"general\"}");
	th_disconnect(ada);
	th_broker_stop(&b);
}


/* ---- acl_file, with plugin_opt_acl_fallback defer ---- */

/* #general: ada (owner), bo, eve. #ops (private): ada. eve is subscribed to sensors/#. */
struct acl_fixture {
	struct th_broker b;
	struct th_client *ada, *bo, *eve;
};


static void acl_setup(struct acl_fixture *f)
{
	start_with_file(&f->b, "acl", acl_file_text, NULL, "plugin_opt_acl_fallback defer\nacl_file %s\n");
	f->ada = th_connect(&f->b, "ada", "ada-laptop", 5, true);
	f->bo = th_connect(&f->b, "bo", "bo-phone", 5, true);
	f->eve = th_connect(&f->b, "eve", "eve-1", 5, true);
	tc_api_ok(f->ada, "{\"op\":\"create\",\"channel\":\"general\",\"members\":[\"bo\",\"eve\"]}");
	tc_api_ok(f->ada, "{\"op\":\"create\",\"channel\":\"ops\",\"visibility\":\"private\"}");
	TH_EQ_INT(th_subscribe(f->eve, "sensors/#", 1), 1);
}


static void acl_teardown(struct acl_fixture *f)
{
	th_disconnect(f->ada);
	th_disconnect(f->bo);
	th_disconnect(f->eve);
	th_broker_stop(&f->b);
}


/* Users that acl_file lets into chat/ chat as usual, and membership still applies on top. */
static void test_acl_file_users_chat_as_members(void)
{
	struct acl_fixture f;

	acl_setup(&f);
	TH_EQ_INT(th_subscribe(f.bo, "chat/general", 1), 1);
	TH_EQ_INT(th_subscribe(f.ada, "chat/general", 1), 1);
	cJSON_Delete(tc_send(f.ada, "general", "a1", "hello"));
	expect_message(th_expect_json(f.bo, "chat/general"), "general", 4, "ada", "ada-laptop", "a1",
		       "hello");
	expect_message(th_expect_json(f.ada, "chat/general"), "general", 4, "ada", "ada-laptop", "a1",
		       "hello");
	cJSON_Delete(tc_send(f.bo, "general", "b1", "hi"));
	expect_message(th_expect_json(f.ada, "chat/general"), "general", 5, "bo", "bo-phone", "b1", "hi");
	expect_message(th_expect_json(f.bo, "chat/general"), "general", 5, "bo", "bo-phone", "b1", "hi");

	/* acl_file grants bo all of chat/#, yet he is no member of #ops */
	TH_EQ_INT(th_subscribe(f.bo, "chat/ops", 1), 0x87);
	TH_EQ_INT(th_subscribe(f.bo, "chat/ops/typing", 0), 0x87);
	tc_expect_error(tc_request(f.bo, "chat/ops/sync", "{}"), "no_such_channel",
			"there is no channel #ops");
	TH_EQ_INT(th_publish(f.bo, "chat/ops", "{\"client_msg_id\":\"x\",\"body\":\"let me in\"}", -1, 1,
			     NULL),
		  0x87);
	tc_expect_error(th_expect_json(f.bo, tc_reply_topic(f.bo)), "no_such_channel",
			"there is no channel #ops");
	/* and reads through a wildcard are filtered per channel */
	TH_EQ_INT(th_unsubscribe(f.bo, "chat/general"), 0);
	TH_EQ_INT(th_subscribe(f.bo, "chat/#", 1), 1);
	cJSON_Delete(tc_send(f.ada, "ops", "o1", "private"));
	cJSON_Delete(tc_send(f.ada, "general", "a2", "after"));
	expect_message(th_expect_json(f.bo, "chat/#"), "general", 6, "ada", "ada-laptop", "a2", "after");
	TH_EQ_INT(head_of(f.ada, "ops"), 2);
	TH_EQ_INT(th_queued(f.bo, "#"), 0);
	acl_teardown(&f);
}


/* What acl_file refuses stays refused, under chat/ and outside it. */
static void test_acl_file_denials_stand(void)
{
	struct acl_fixture f;
	struct th_msg *m;

	acl_setup(&f);
	/* outside chat/: bo may not write sensors/, ada may, eve reads it */
	TH_EQ_INT(th_publish(f.bo, "sensors/1", "19.0", -1, 1, NULL), 0x87);
	TH_EQ_INT(th_publish(f.ada, "sensors/1", "21.5", -1, 1, NULL), 0);
	m = th_wait_msg(f.eve, "#", 5000);
	TH_CHECK(m != NULL);
	TH_EQ_STR(m->topic, "sensors/1");
	TH_EQ_STR((char *)m->payload, "21.5");
	th_msg_free(m);

	/* eve is a member of #general, but acl_file gives her nothing of chat/: she cannot publish (so
	 * mqchat never sees her requests and stores nothing), and although 2.0.x acl_file lets every
	 * subscribe through, nothing is delivered to her */
	TH_EQ_INT(th_publish(f.eve, "chat/general", "{\"client_msg_id\":\"e1\",\"body\":\"hi\"}", -1, 1,
			     NULL),
		  0x87);
	TH_EQ_INT(th_publish(f.eve, "chat/general/sync", "{\"since\":0}", -1, 1, NULL), 0x87);
	TH_EQ_INT(th_publish(f.eve, "chat/_api", "{\"op\":\"leave\",\"channel\":\"general\"}", -1, 1, NULL),
		  0x87);
	TH_EQ_INT(th_subscribe(f.eve, "chat/general", 1), 1);
	TH_EQ_INT(th_subscribe(f.eve, "chat/#", 1), 1);
	cJSON_Delete(tc_send(f.ada, "general", "a1", "for members"));
	expect_barrier_next(f.ada, f.eve, "sensors/barrier"); /* no event, no reply came before it */
	TH_EQ_INT(head_of(f.ada, "general"), 4);              /* 3 joins and ada's message: eve is still in */
	TH_EQ_INT(th_queued(f.eve, "#"), 0);
	acl_teardown(&f);
}


/* acl_file lets anonymous connections do anything; under chat/, mqchat still gives them nothing. */
static void test_acl_file_anonymous_gets_nothing_from_chat(void)
{
	struct acl_fixture f;
	struct th_client *anon;
	struct th_msg *m;

	acl_setup(&f);
	anon = th_connect(&f.b, NULL, "anon-1", 5, true);
	TH_EQ_INT(th_subscribe(anon, "chat/general", 1), 0x87);
	TH_EQ_INT(th_subscribe(anon, "chat/#", 1), 0x87);
	TH_EQ_INT(th_subscribe(anon, "chat/_reply/anon-1", 1), 0x87);
	TH_EQ_INT(th_publish(anon, "chat/general", "{\"client_msg_id\":\"n1\",\"body\":\"hi\"}", -1, 1, NULL),
		  0x87);
	TH_EQ_INT(th_publish(anon, "chat/_api", "{\"op\":\"create\",\"channel\":\"anon\"}", -1, 1, NULL),
		  0x87);
	TH_EQ_INT(th_subscribe(anon, "#", 1), 1);
	TH_EQ_INT(th_publish(anon, "sensors/2", "7", -1, 1, NULL), 0); /* it reaches itself and eve */
	m = th_wait_msg(f.eve, "#", 5000);
	TH_CHECK(m != NULL);
	TH_EQ_STR(m->topic, "sensors/2");
	th_msg_free(m);
	m = th_wait_msg(anon, "#", 5000);
	TH_CHECK(m != NULL);
	TH_EQ_STR(m->topic, "sensors/2");
	th_msg_free(m);
	cJSON_Delete(tc_send(f.ada, "general", "a1", "members only"));
	expect_barrier_next(f.ada, anon, "sensors/barrier");
	TH_EQ_INT(head_of(f.ada, "general"), 4);
	/* the anonymous create did not happen */
	tc_api_ok(f.ada, "{\"op\":\"create\",\"channel\":\"anon\"}");
	th_disconnect(anon);
	acl_teardown(&f);
}


/* ---- dynamic-security, with plugin_opt_acl_fallback defer ---- */

/* dynsec clients (none of them in the password file): zed and wes hold the role "chatter" (publish,
 * receive and subscribe chat/#), yan holds no role. #general: zed (owner), wes, yan, ada. #ops
 * (private): zed. */
struct dynsec_fixture {
	struct th_broker b;
	struct th_client *zed, *wes, *yan;
};


static void dynsec(struct th_broker *b, const char *command)
{
	int status;
	char *out = th_run(&status, "mosquitto_ctrl -h 127.0.0.1 -p %d -u admin -P admin-pw dynsec %s",
			   b->port, command);

	TH_CHECKF(status == 0 && strstr(out, "Error") == NULL, "dynsec %s: exit status %d:\n%s", command,
		  status, out);
	free(out);
}


static void dynsec_setup(struct dynsec_fixture *f)
{
	start_with_file(&f->b, "dynsec.json", NULL, "mosquitto_ctrl dynsec init %s admin admin-pw",
			"plugin_opt_acl_fallback defer\n"
			"plugin " DYNSEC_PLUGIN "\n"
			"plugin_opt_config_file %s\n");
	dynsec(&f->b, "createClient zed -p zed-pw");
	dynsec(&f->b, "createClient wes -p wes-pw");
	dynsec(&f->b, "createClient yan -p yan-pw");
	dynsec(&f->b, "createRole chatter");
	dynsec(&f->b, "addRoleACL chatter publishClientSend chat/# allow");
	dynsec(&f->b, "addRoleACL chatter publishClientReceive chat/# allow");
	dynsec(&f->b, "addRoleACL chatter subscribePattern chat/# allow");
	dynsec(&f->b, "addClientRole zed chatter");
	dynsec(&f->b, "addClientRole wes chatter");
	f->zed = th_connect(&f->b, "zed", "zed-1", 5, true);
	f->wes = th_connect(&f->b, "wes", "wes-1", 5, true);
	f->yan = th_connect(&f->b, "yan", "yan-1", 5, true);
	tc_sign_in(&f->b, "ada", NULL); /* a password_file user: a user once signed in */
	tc_api_ok(f->zed,
		  "{\"op\":\"create\",\"channel\":\"general\",\"members\":[\"wes\",\"yan\",\"ada\"]}");
	tc_api_ok(f->zed, "{\"op\":\"create\",\"channel\":\"ops\",\"visibility\":\"private\"}");
}


static void dynsec_teardown(struct dynsec_fixture *f)
{
	th_disconnect(f->zed);
	th_disconnect(f->wes);
	th_disconnect(f->yan);
	th_broker_stop(&f->b);
}


/* dynsec decides who connects: its clients with its passwords, others are left to password_file. */
static void test_dynsec_decides_who_connects(void)
{
	struct dynsec_fixture f;

	dynsec_setup(&f);
	TH_EQ_INT(th_connect_rc(&f.b, "zed", "wes-pw", NULL, 5, NULL), REFUSED_V5);
	TH_EQ_INT(th_connect_rc(&f.b, "zed", "wes-pw", NULL, 4, NULL), REFUSED_V31);
	TH_EQ_INT(th_connect_rc(&f.b, "vic", "vic-pw", NULL, 5, NULL), REFUSED_V5); /* in neither */
	TH_EQ_INT(th_connect_rc(&f.b, "ada", "ada-pw", NULL, 5, NULL), 0);          /* password_file */
	TH_EQ_INT(th_connect_rc(&f.b, "ada", "bo-pw", NULL, 5, NULL), REFUSED_V5);
	/* a dynsec client that password_file also names: dynsec's password alone counts */
	dynsec(&f.b, "createClient eve -p dynsec-eve-pw");
	TH_EQ_INT(th_connect_rc(&f.b, "eve", "eve-pw", NULL, 5, NULL), REFUSED_V5);
	TH_EQ_INT(th_connect_rc(&f.b, "eve", "dynsec-eve-pw", NULL, 5, NULL), 0);
	dynsec_teardown(&f);
}


/* A client whose role grants chat/ chats as a member, and is still refused where it is not one. */
static void test_dynsec_role_and_membership_both_apply(void)
{
	struct dynsec_fixture f;

	dynsec_setup(&f);
	TH_EQ_INT(th_subscribe(f.wes, "chat/general", 1), 1);
	cJSON_Delete(tc_send(f.zed, "general", "z1", "hello"));
	expect_message(th_expect_json(f.wes, "chat/general"), "general", 5, "zed", "zed-1", "z1", "hello");
	cJSON_Delete(tc_send(f.wes, "general", "w1", "hi"));
	expect_message(th_expect_json(f.wes, "chat/general"), "general", 6, "wes", "wes-1", "w1", "hi");
	TH_EQ_INT(head_of(f.zed, "general"), 6);

	/* the role grants wes all of chat/#, yet he is no member of #ops */
	TH_EQ_INT(th_subscribe(f.wes, "chat/ops", 1), 0x87);
	tc_expect_error(tc_request(f.wes, "chat/ops/sync", "{}"), "no_such_channel",
			"there is no channel #ops");
	TH_EQ_INT(th_publish(f.wes, "chat/ops", "{\"client_msg_id\":\"x\",\"body\":\"let me in\"}", -1, 1,
			     NULL),
		  0x87);
	tc_expect_error(th_expect_json(f.wes, tc_reply_topic(f.wes)), "no_such_channel",
			"there is no channel #ops");
	TH_EQ_INT(th_unsubscribe(f.wes, "chat/general"), 0);
	TH_EQ_INT(th_subscribe(f.wes, "chat/#", 1), 1);
	cJSON_Delete(tc_send(f.zed, "ops", "o1", "private"));
	cJSON_Delete(tc_send(f.zed, "general", "z2", "after"));
	expect_message(th_expect_json(f.wes, "chat/#"), "general", 7, "zed", "zed-1", "z2", "after");
	TH_EQ_INT(th_queued(f.wes, "#"), 0);
	dynsec_teardown(&f);
}


/* Whom dynsec gives nothing of chat/ gets nothing, member or not: yan (a dynsec client without the
 * role), ada (a password_file user, whom dynsec defers on, with no acl_file to decide) and anonymous
 * connections. None of their requests reaches mqchat. */
static void test_dynsec_denials_stand(void)
{
	struct dynsec_fixture f;
	struct th_client *ada, *anon;
	struct th_client *denied[3];

	dynsec_setup(&f);
	ada = th_connect(&f.b, "ada", "ada-laptop", 5, true);
	anon = th_connect(&f.b, NULL, "anon-1", 5, true);
	denied[0] = f.yan;
	denied[1] = ada;
	denied[2] = anon;
	for(int i = 0; i < 3; i++) {
		struct th_client *c = denied[i];

		TH_EQ_INT(th_subscribe(c, "chat/general", 1), 0x87);
		TH_EQ_INT(th_subscribe(c, "chat/#", 1), 0x87);
		TH_EQ_INT(th_subscribe(c, tc_reply_topic(c), 1), 0x87);
		TH_EQ_INT(th_publish(c, "chat/general", "{\"client_msg_id\":\"d1\",\"body\":\"hi\"}", -1, 1,
				     NULL),
			  0x87);
		TH_EQ_INT(th_publish(c, "chat/general/sync", "{}", -1, 1, NULL), 0x87);
		TH_EQ_INT(th_publish(c, "chat/_api", "{\"op\":\"create\",\"channel\":\"taken\"}", -1, 1,
				     NULL),
			  0x87);
		/* nor anything else: dynsec's default access denies, and there is no other source */
		TH_EQ_INT(th_subscribe(c, "sensors/#", 1), 0x87);
		TH_EQ_INT(th_publish(c, "sensors/1", "1", -1, 1, NULL), 0x87);
	}
	TH_EQ_INT(head_of(f.zed, "general"), 4); /* zed's join and three more: no message stored */
	tc_api_ok(f.zed, "{\"op\":\"create\",\"channel\":\"taken\"}");
	/* nor did a reply come to any of them (a reply would have been queued before zed's last one) */
	for(int i = 0; i < 3; i++) {
		TH_EQ_INT(th_queued(denied[i], "#"), 0);
	}
	th_disconnect(ada);
	th_disconnect(anon);
	dynsec_teardown(&f);
}


/* ---- plugin_opt_acl_fallback auto, as the Debian package ships it ---- */

/* auto reads the broker's configuration: beside an acl_file it defers (the file's denials stand, and
 * the start is not refused as it is with allow); with no other source it allows what mqchat does not
 * forbid. */
static void test_acl_fallback_auto_follows_the_broker(void)
{
	struct th_broker b;
	struct th_client *ada, *bo;

	start_with_file(&b, "acl", acl_file_text, NULL, "plugin_opt_acl_fallback auto\nacl_file %s\n");
	TH_CHECK(th_broker_log_contains(&b, "plugin_opt_acl_fallback auto: defer"));
	ada = th_connect(&b, "ada", "ada-laptop", 5, true);
	bo = th_connect(&b, "bo", "bo-phone", 5, true);
	TH_EQ_INT(th_publish(bo, "sensors/1", "19.0", -1, 1, NULL), 0x87);  /* acl_file's denial */
	TH_CHECK(th_publish(ada, "sensors/1", "21.5", -1, 1, NULL) < 0x80); /* granted: 0 or 0x10 */
	tc_api_ok(ada, "{\"op\":\"create\",\"channel\":\"general\",\"members\":[\"bo\"]}");
	cJSON_Delete(tc_send(bo, "general", "b1", "hi"));
	th_disconnect(ada);
	th_disconnect(bo);
	th_broker_stop(&b);

	th_broker_start(&b, "plugin_opt_acl_fallback auto\n");
	TH_CHECK(th_broker_log_contains(&b, "plugin_opt_acl_fallback auto: allow"));
	bo = th_connect(&b, "bo", "bo-phone", 5, true);
	TH_CHECK(th_publish(bo, "sensors/1", "19.0", -1, 1, NULL) < 0x80);
	th_disconnect(bo);
	th_broker_stop(&b);
}


/* ---- the default: plugin_opt_acl_fallback allow, no other ACL source ---- */

/* Outside chat/ the broker is open to anyone, as one without ACLs; chat/ is for members only. */
static void test_allow_fallback_opens_other_topics_only(void)
{
	struct th_broker b;
	struct th_client *ada, *dee, *anon;
	struct th_msg *m;

	th_broker_start(&b, "");
	tc_sign_in(&b, "bo", NULL);
	ada = th_connect(&b, "ada", "ada-laptop", 5, true);
	dee = th_connect(&b, "dee", "dee-1", 5, true);
	anon = th_connect(&b, NULL, "anon-1", 4, true);
	tc_api_ok(ada, "{\"op\":\"create\",\"channel\":\"general\",\"members\":[\"bo\"]}");

	TH_EQ_INT(th_subscribe(dee, "sensors/#", 1), 1);
	TH_EQ_INT(th_subscribe(anon, "#", 1), 1);
	TH_EQ_INT(th_subscribe(anon, "$SYS/broker/version", 0), 0);
	TH_EQ_INT(th_publish(dee, "anything/at/all", "x", -1, 1, NULL), 0);
	TH_EQ_INT(th_publish(anon, "sensors/1", "21.5", -1, 1, NULL), 0);
	m = th_wait_msg(dee, "sensors/#", 5000);
	TH_CHECK(m != NULL);
	TH_EQ_STR((char *)m->payload, "21.5");
	th_msg_free(m);
	m = th_wait_msg(anon, "anything/#", 5000);
	TH_CHECK(m != NULL);
	TH_EQ_STR(m->topic, "anything/at/all");
	th_msg_free(m);
	m = th_wait_msg(anon, "sensors/1", 5000); /* its own, echoed */
	TH_CHECK(m != NULL);
	th_msg_free(m);
	m = th_wait_msg(anon, "$SYS/broker/version", 5000);
	TH_CHECK(m != NULL);
	th_msg_free(m);

	/* while under chat/ neither the non-member nor the anonymous client gets in */
	TH_EQ_INT(th_subscribe(dee, "chat/general", 1), 0x87);
	TH_EQ_INT(th_subscribe(anon, "chat/general", 1), 0x80);
	TH_EQ_INT(th_subscribe(anon, "chat/#", 1), 0x80);
	TH_EQ_INT(th_publish(dee, "chat/general", "{\"client_msg_id\":\"d1\",\"body\":\"hi\"}", -1, 1, NULL),
		  0x87);
	tc_expect_error(th_expect_json(dee, tc_reply_topic(dee)), "not_member",
			"dee is not a member of #general");
	cJSON_Delete(tc_send(ada, "general", "a1", "members only"));
	expect_barrier_next(ada, anon, "sensors/barrier");
	TH_EQ_INT(head_of(ada, "general"), 3);
	th_disconnect(ada);
	th_disconnect(dee);
	th_disconnect(anon);
	th_broker_stop(&b);
}


/* A broker with no authentication source at all. Mosquitto 2.0 refuses a username that every
 * authentication hook deferred on, so with mqchat's hook registered and the default
 * auth_fallback defer, a client with a username is refused (and the log tells why to set allow);
 * with auth_fallback allow it is accepted under the name it presents, and chats. */
static void test_auth_fallback_without_other_source(void)
{
	struct th_broker b;
	struct th_client *ada = NULL, *bo = NULL;
	cJSON *ev;

	th_broker_start(&b, TH_NO_PASSWORD_FILE "\n");
	TH_CHECK(th_connect_rc(&b, "ada", "anything", "ada-1", 5, &ada) != 0);
	TH_CHECK(ada == NULL);
	th_broker_stop(&b);

	th_broker_start(&b, TH_NO_PASSWORD_FILE "\nplugin_opt_auth_fallback allow\n");
	TH_CHECK(th_broker_log_contains(&b, "auth_fallback allow: clients are accepted under any username"));
	TH_EQ_INT(th_connect_rc(&b, "ada", "anything", "ada-1", 5, &ada), 0);
	TH_EQ_INT(th_connect_rc(&b, "bo", NULL, "bo-1", 4, &bo), 0);
	tc_api_ok(ada, "{\"op\":\"create\",\"channel\":\"general\",\"members\":[\"bo\"]}");
	TH_EQ_INT(th_subscribe(bo, "chat/general", 1), 1);
	cJSON_Delete(tc_send(ada, "general", "c-1", "no password needed"));
	ev = th_expect_json(bo, "chat/general");
	TH_EQ_STR(th_json_str(ev, "from"), "ada");
	cJSON_Delete(ev);
	th_disconnect(ada);
	th_disconnect(bo);
	th_broker_stop(&b);
}


TH_TEST_LIST(TH_TEST(test_password_file_decides_who_connects),
	     TH_TEST(test_auth_fallback_without_other_source), TH_TEST(test_broker_may_refuse_anonymous),
	     TH_TEST(test_acl_file_users_chat_as_members), TH_TEST(test_acl_file_denials_stand),
	     TH_TEST(test_acl_file_anonymous_gets_nothing_from_chat),
	     TH_TEST(test_dynsec_decides_who_connects), TH_TEST(test_dynsec_role_and_membership_both_apply),
	     TH_TEST(test_dynsec_denials_stand), TH_TEST(test_acl_fallback_auto_follows_the_broker),
	     TH_TEST(test_allow_fallback_opens_other_topics_only))
