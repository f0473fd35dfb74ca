/*
 * test_session_tokens.c - "stay signed in" (services/signin.c, docs/protocol.md "Staying signed in").
 *
 * A connection that signed in with its password asks {"op":"session"} and gets a token; a later
 * CONNECT with the same username and the token as password is accepted by mqchat, until the token
 * expires or is revoked. Everything that is not a valid token of that user goes on to password_file,
 * which refuses it (CONNACK 0x87 for MQTT 5, 5 for 3.1.1), while passwords keep working. A connection
 * signed in with a token cannot get another one. The database keeps only a hash of the secret.
 * Every broker here has the harness's password_file (password "<user>-pw").
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "th_chat.h"
#include "th_gateway.h"

#define REFUSED_V5  0x87
#define REFUSED_V31 5

#define DAY_MS 86400000LL
#define CAP    20 /* tokens per user (CHAT_SIGNIN_MAX_PER_USER) */

/* A token as the server issued it. */
struct token {
	char text[256];
	char session[64];
	long long expires_ts;
};


static long long wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}


/* Asks c for a session token; the reply must be exactly the contract's. */
static struct token issue(struct th_client *c)
{
	cJSON *reply = tc_api(c, "{\"op\":\"session\",\"ref\":7}");
	struct token t = {0};

	TH_JSON(reply, "{\"ok\":true,\"kind\":\"api\",\"op\":\"session\",\"token\":\"*\",\"session\":\"*\","
		       "\"expires_ts\":\"*\",\"ref\":7}");
	TH_CHECK(th_json_str(reply, "token") != NULL && th_json_str(reply, "session") != NULL);
	TH_CHECKF(strlen(th_json_str(reply, "token")) <= 200, "%zu", strlen(th_json_str(reply, "token")));
	snprintf(t.text, sizeof(t.text), "%s", th_json_str(reply, "token"));
	snprintf(t.session, sizeof(t.session), "%s", th_json_str(reply, "session"));
	t.expires_ts = th_json_int(reply, "expires_ts");
	/* the public id is part of the token, the secret is not the id */
	TH_CHECK(strstr(t.text, t.session) != NULL && strlen(t.text) > strlen(t.session) + 32);
	cJSON_Delete(reply);
	return t;
}


/* CONNECT as user with password; returns the CONNACK code, disconnecting an accepted client. */
static int try_sign_in(struct th_broker *b, const char *user, const char *password, int protocol)
{
	struct th_client *c = NULL;
	int rc = th_connect_rc(b, user, password, NULL, protocol, &c);

	th_disconnect(c);
	return rc;
}


/* Signs in with the token, which must be accepted, and returns the connection. */
static struct th_client *token_client(struct th_broker *b, const char *user, const struct token *t,
				      const char *client_id)
{
	struct th_client *c = NULL;

	TH_EQ_INT(th_connect_rc(b, user, t->text, client_id, 5, &c), 0);
	return c;
}


static void expect_refused(struct th_broker *b, const char *user, const char *password)
{
	TH_EQ_INT(try_sign_in(b, user, password, 5), REFUSED_V5);
	TH_EQ_INT(try_sign_in(b, user, password, 4), REFUSED_V31);
}


/* ---- issue and sign in ---- */

/* Password -> session -> reconnect with the token (3.1.1 and 5): a full chat user, whose token
 * lasts plugin_opt_session_days (30 by default). */
static void test_token_signs_in(void)
{
	struct th_broker b;
	struct th_client *ada, *ada2;
	long long before = wall_ms();
	struct token t;
	cJSON *reply;

	th_broker_start(&b, "");
	ada = th_connect(&b, "ada", "ada-laptop", 5, true);
	t = issue(ada);
	TH_CHECKF(t.expires_ts >= before + 30 * DAY_MS && t.expires_ts <= wall_ms() + 30 * DAY_MS, "%lld",
		  t.expires_ts - before);
	TH_EQ_INT(try_sign_in(&b, "ada", t.text, 4), 0);
	ada2 = token_client(&b, "ada", &t, "ada-web");
	tc_api_ok(ada2, "{\"op\":\"create\",\"channel\":\"general\"}");
	cJSON_Delete(tc_send(ada2, "general", "w1", "from the browser"));
	reply = tc_api(ada, "{\"op\":\"channels\"}");
	TH_EQ_INT(th_json_int(cJSON_GetArrayItem(cJSON_GetObjectItem(reply, "channels"), 0), "head"), 2);
	cJSON_Delete(reply);
	th_disconnect(ada2);
	th_disconnect(ada);
	th_broker_stop(&b);
}


/* A stolen token cannot renew itself: a token connection's `session` is forbidden (whatever its
 * client id), and the password connection beside it still gets one. */
static void test_token_connection_cannot_renew(void)
{
	struct th_broker b;
	struct th_client *ada, *web;
	struct token t;

	th_broker_start(&b, "");
	ada = th_connect(&b, "ada", "ada-laptop", 5, true);
	t = issue(ada);
	web = token_client(&b, "ada", &t, "ada-web");
	tc_expect_error(tc_api(web, "{\"op\":\"session\"}"), "forbidden",
			"this connection signed in with a session token, which cannot renew itself; sign in "
			"with your password to get a new one");
	th_disconnect(web);
	/* reconnecting with the password on the very client id the token used gets one again */
	web = th_connect(&b, "ada", "ada-web", 5, true);
	issue(web);
	th_disconnect(web);
	th_disconnect(ada);
	th_broker_stop(&b);
}


/* ---- what is refused ---- */

/* A token signs in its own user only; garbage, truncated and altered tokens are refused; passwords
 * keep working for everyone. */
static void test_only_a_valid_token_of_that_user(void)
{
	struct th_broker b;
	struct th_client *ada;
	struct token t;
	char altered[sizeof(t.text) + 2]; /* room for one more character */
	size_t len;

	th_broker_start(&b, "");
	ada = th_connect(&b, "ada", "ada-laptop", 5, true);
	t = issue(ada);
	len = strlen(t.text);

	expect_refused(&b, "bo", t.text); /* ada's token, bo's name */
	expect_refused(&b, "ada2", t.text);
	expect_refused(&b, "ada", "garbage");
	expect_refused(&b, "ada", "");
	snprintf(altered, sizeof(altered), "%.*s", (int)len - 1, t.text); /* truncated */
	expect_refused(&b, "ada", altered);
	snprintf(altered, sizeof(altered), "%sA", t.text); /* one more character */
	expect_refused(&b, "ada", altered);
	snprintf(altered, sizeof(altered), "%s", t.text); /* the secret's first character */
	altered[len - 43] = altered[len - 43] == 'A' ? 'B' : 'A';
	expect_refused(&b, "ada", altered);
	snprintf(altered, sizeof(altered), "%s", t.text); /* the secret's last character */
	altered[len - 1] = altered[len - 1] == 'A' ? 'Q' : 'A';
	expect_refused(&b, "ada", altered);
	snprintf(altered, sizeof(altered), "%s", t.text); /* the public id */
	altered[strlen("mqs1.")] = altered[strlen("mqs1.")] == '0' ? '1' : '0';
	expect_refused(&b, "ada", altered);
	/* the token's id with another secret of the right shape */
	snprintf(altered, sizeof(altered), "%.*s%s", (int)(len - 43), t.text,
		 "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
	expect_refused(&b, "ada", altered);

	/* the token itself still works, and so do passwords */
	TH_EQ_INT(try_sign_in(&b, "ada", t.text, 5), 0);
	TH_EQ_INT(try_sign_in(&b, "ada", "ada-pw", 5), 0);
	TH_EQ_INT(try_sign_in(&b, "bo", "bo-pw", 4), 0);
	expect_refused(&b, "bo", "ada-pw");
	TH_CHECK(th_broker_log_contains(&b, "refused: wrong secret"));
	TH_CHECK(!th_broker_log_contains(&b, t.text + len - 43)); /* the secret is never logged */
	th_disconnect(ada);
	th_broker_stop(&b);
}


/* ---- logout ---- */

static void test_logout(void)
{
	struct th_broker b;
	struct th_client *ada, *web, *bo, *thief, *tab, *bo_web;
	struct token t1, t2, t3, t4, t5;
	char req[256];
	cJSON *reply;

	th_broker_start(&b, "");
	ada = th_connect(&b, "ada", "ada-laptop", 5, true);
	bo = th_connect(&b, "bo", "bo-phone", 5, true);
	t1 = issue(ada);
	t2 = issue(ada);

	/* logout on a token connection revokes that token: the next CONNECT with it is refused */
	web = token_client(&b, "ada", &t1, "ada-web");
	reply = tc_api(web, "{\"op\":\"logout\",\"ref\":\"x\"}");
	TH_JSON(reply, "{\"ok\":true,\"kind\":\"api\",\"op\":\"logout\",\"revoked\":1,\"ref\":\"x\"}");
	cJSON_Delete(reply);
	th_disconnect(web);
	expect_refused(&b, "ada", t1.text);
	TH_EQ_INT(try_sign_in(&b, "ada", t2.text, 5), 0); /* the other one lives on */

	/* on a password connection, logout alone revokes nothing */
	reply = tc_api(ada, "{\"op\":\"logout\"}");
	TH_JSON(reply, "{\"ok\":true,\"kind\":\"api\",\"op\":\"logout\",\"revoked\":0}");
	cJSON_Delete(reply);
	TH_EQ_INT(try_sign_in(&b, "ada", t2.text, 5), 0);

	/* bo cannot revoke ada's session, even knowing its id */
	snprintf(req, sizeof(req), "{\"op\":\"logout\",\"session\":\"%s\"}", t2.session);
	reply = tc_api(bo, "%s", req);
	TH_JSON(reply, "{\"ok\":true,\"kind\":\"api\",\"op\":\"logout\",\"revoked\":0}");
	cJSON_Delete(reply);
	TH_EQ_INT(try_sign_in(&b, "ada", t2.text, 5), 0);

	/* ada revokes it by id: refused from now on, and a connection it signed in is disconnected
	 * (a thief's, say) */
	thief = token_client(&b, "ada", &t2, "mallory-box");
	reply = tc_api(ada, "%s", req);
	TH_JSON(reply, "{\"ok\":true,\"kind\":\"api\",\"op\":\"logout\",\"revoked\":1}");
	cJSON_Delete(reply);
	TH_CHECK(th_wait_disconnect(thief, 5000) != -1);
	th_disconnect(thief);
	expect_refused(&b, "ada", t2.text);
	TH_CHECK(th_broker_log_contains(&b, "disconnecting mallory-box: its session token was revoked"));

	/* logout all: every token of mine, none of bo's; my other token connections are disconnected,
	 * the asking one gets its answer and stays, and so does the password one */
	t3 = issue(ada);
	t4 = issue(ada);
	t5 = issue(bo);
	web = token_client(&b, "ada", &t3, "ada-web");
	tab = token_client(&b, "ada", &t4, "ada-tab");
	bo_web = token_client(&b, "bo", &t5, "bo-web");
	reply = tc_api(web, "{\"op\":\"logout\",\"all\":true}");
	TH_JSON(reply, "{\"ok\":true,\"kind\":\"api\",\"op\":\"logout\",\"revoked\":2}");
	cJSON_Delete(reply);
	TH_CHECK(th_wait_disconnect(tab, 5000) != -1);
	tc_api_ok(web, "{\"op\":\"sessions\"}");
	tc_api_ok(ada, "{\"op\":\"sessions\"}");
	tc_api_ok(bo_web, "{\"op\":\"sessions\"}");
	TH_CHECK(!th_disconnected(web) && !th_disconnected(ada) && !th_disconnected(bo_web));
	th_disconnect(tab);
	th_disconnect(web);
	th_disconnect(bo_web);
	expect_refused(&b, "ada", t3.text);
	expect_refused(&b, "ada", t4.text);
	TH_EQ_INT(try_sign_in(&b, "bo", t5.text, 5), 0);
	TH_EQ_INT(try_sign_in(&b, "ada", "ada-pw", 5), 0);

	/* malformed */
	tc_expect_error(tc_api(ada, "{\"op\":\"logout\",\"session\":\"nope\"}"), "bad_request",
			"session must be a session id from sessions");
	snprintf(req, sizeof(req), "{\"op\":\"logout\",\"session\":\"%s\",\"all\":true}", t5.session);
	tc_expect_error(tc_api(ada, "%s", req), "bad_request", "give either session or all, not both");
	tc_expect_error(tc_api(ada, "{\"op\":\"logout\",\"all\":1}"), "bad_request", NULL);
	TH_EQ_INT(try_sign_in(&b, "bo", t5.text, 5), 0);
	th_disconnect(bo);
	th_disconnect(ada);
	th_broker_stop(&b);
}


/* ---- sessions ---- */

/* Finds the entry of session in a `sessions` reply, or fails. */
static const cJSON *entry_of(const cJSON *reply, const char *session)
{
	const cJSON *e;

	cJSON_ArrayForEach(e, cJSON_GetObjectItem(reply, "sessions")) {
		if(th_json_str(e, "session") != NULL && strcmp(th_json_str(e, "session"), session) == 0) {
			return e;
		}
	}
	th_fail(__FILE__, __LINE__, "session %s not listed", session);
}


static void test_sessions_list(void)
{
	struct th_broker b;
	struct th_client *ada, *web, *bo;
	struct token t1, t2;
	long long before = wall_ms();
	char pattern[1024];
	cJSON *reply;

	th_broker_start(&b, "");
	ada = th_connect(&b, "ada", "ada-laptop", 5, true);
	bo = th_connect(&b, "bo", "bo-phone", 5, true);
	reply = tc_api(ada, "{\"op\":\"sessions\"}");
	TH_JSON(reply, "{\"ok\":true,\"kind\":\"api\",\"op\":\"sessions\",\"sessions\":[]}");
	cJSON_Delete(reply);
	t1 = issue(ada);
	t2 = issue(ada);
	issue(bo);

	/* from the password connection: both, oldest first, never used, none current */
	reply = tc_api(ada, "{\"op\":\"sessions\"}");
	snprintf(pattern, sizeof(pattern),
		 "{\"ok\":true,\"kind\":\"api\",\"op\":\"sessions\",\"sessions\":["
		 "{\"session\":\"%s\",\"created_ts\":\"*\",\"expires_ts\":%lld,\"last_used_ts\":null,"
		 "\"current\":false},"
		 "{\"session\":\"%s\",\"created_ts\":\"*\",\"expires_ts\":%lld,\"last_used_ts\":null,"
		 "\"current\":false}]}",
		 t1.session, t1.expires_ts, t2.session, t2.expires_ts);
	TH_JSON(reply, pattern);
	TH_CHECK(th_json_int(entry_of(reply, t1.session), "created_ts") >= before);
	TH_CHECK(th_json_int(entry_of(reply, t1.session), "created_ts") <= wall_ms());
	cJSON_Delete(reply);

	/* from t2's own connection: t2 is current, and its use is noted */
	web = token_client(&b, "ada", &t2, "ada-web");
	reply = tc_api(web, "{\"op\":\"sessions\"}");
	TH_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(reply, "sessions")), 2);
	TH_CHECK(cJSON_IsFalse(cJSON_GetObjectItem(entry_of(reply, t1.session), "current")));
	TH_CHECK(cJSON_IsNull(cJSON_GetObjectItem(entry_of(reply, t1.session), "last_used_ts")));
	TH_CHECK(cJSON_IsTrue(cJSON_GetObjectItem(entry_of(reply, t2.session), "current")));
	TH_CHECK(th_json_int(entry_of(reply, t2.session), "last_used_ts") >= before);
	TH_CHECK(th_json_int(entry_of(reply, t2.session), "last_used_ts") <= wall_ms());
	cJSON_Delete(reply);
	th_disconnect(web);
	th_disconnect(bo);
	th_disconnect(ada);
	th_broker_stop(&b);
}


/* At most 20 per user: the 21st drops the oldest. */
static void test_oldest_dropped_over_the_cap(void)
{
	struct th_broker b;
	struct th_client *ada;
	struct token first, second, t;
	cJSON *reply;

	th_broker_start(&b, "");
	ada = th_connect(&b, "ada", "ada-laptop", 5, true);
	first = issue(ada);
	second = issue(ada);
	for(int i = 2; i < CAP + 1; i++) {
		t = issue(ada);
	}
	reply = tc_api(ada, "{\"op\":\"sessions\"}");
	TH_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(reply, "sessions")), CAP);
	cJSON_Delete(reply);
	expect_refused(&b, "ada", first.text);
	TH_EQ_INT(try_sign_in(&b, "ada", second.text, 5), 0);
	TH_EQ_INT(try_sign_in(&b, "ada", t.text, 5), 0);
	th_disconnect(ada);
	th_broker_stop(&b);
}


/* ---- expiry and options ---- */

/* plugin_opt_session_seconds (for tests) stands in for days: the token works until expires_ts, and
 * is refused from then on, and no longer listed. */
static void test_expiry(void)
{
	struct th_broker b;
	struct th_client *ada;
	long long before, refused_at = 0, deadline;
	struct token t;
	cJSON *reply;

	th_broker_start(&b, "plugin_opt_session_seconds 4\n");
	ada = th_connect(&b, "ada", "ada-laptop", 5, true);
	before = wall_ms();
	t = issue(ada);
	TH_CHECKF(t.expires_ts >= before + 4000 && t.expires_ts <= wall_ms() + 4000, "%lld",
		  t.expires_ts - before);
	TH_EQ_INT(try_sign_in(&b, "ada", t.text, 5), 0); /* well within its 4 s */
	deadline = th_now_ms() + 10000;
	while(refused_at == 0 && th_now_ms() < deadline) {
		int rc = try_sign_in(&b, "ada", t.text, 5);
		if(rc != 0) {
			TH_EQ_INT(rc, REFUSED_V5);
			refused_at = wall_ms();
		} else {
			th_sleep_ms(100);
		}
	}
	TH_CHECKF(refused_at != 0, "%s", "still accepted 10 s after issue");
	TH_CHECKF(refused_at >= t.expires_ts, "refused %lld ms before expires_ts", t.expires_ts - refused_at);
	TH_EQ_INT(try_sign_in(&b, "ada", t.text, 4), REFUSED_V31);
	TH_CHECK(th_broker_log_contains(&b, "refused: expired"));
	reply = tc_api(ada, "{\"op\":\"sessions\"}");
	TH_JSON(reply, "{\"ok\":true,\"kind\":\"api\",\"op\":\"sessions\",\"sessions\":[]}");
	cJSON_Delete(reply);
	/* the next issue deletes the expired row */
	issue(ada);
	th_disconnect(ada);
	th_broker_stop(&b);
	{
		sqlite3 *db;
		sqlite3_stmt *st;
		TH_EQ_INT(sqlite3_open_v2(b.db_path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
		TH_EQ_INT(sqlite3_prepare_v2(db, "SELECT count(*) FROM session_tokens", -1, &st, NULL),
			  SQLITE_OK);
		TH_EQ_INT(sqlite3_step(st), SQLITE_ROW);
		TH_EQ_INT(sqlite3_column_int(st, 0), 1);
		sqlite3_finalize(st);
		sqlite3_close(db);
	}
}


/* plugin_opt_session_days 0 turns the op off; a bad value stops the broker. */
static void test_session_days_option(void)
{
	struct th_broker b;
	struct th_client *ada;

	th_broker_start(&b, "plugin_opt_session_days 0\n");
	ada = th_connect(&b, "ada", "ada-laptop", 5, true);
	tc_expect_error(tc_api(ada, "{\"op\":\"session\"}"), "forbidden",
			"session tokens are turned off on this server");
	th_disconnect(ada);
	th_broker_stop(&b);
	TH_CHECK(th_broker_try_start(&b, "plugin_opt_session_days -1\n") != 0);
	TH_CHECK(th_broker_try_start(&b, "plugin_opt_session_days 3651\n") != 0);
}


/* ---- durability and storage ---- */

/* Tokens are rows of the database: they survive a restart, and so does a revocation. */
static void test_tokens_survive_restart(void)
{
	struct th_broker b;
	struct th_client *ada;
	struct token kept, revoked;
	char req[128];

	th_broker_start(&b, "");
	ada = th_connect(&b, "ada", "ada-laptop", 5, true);
	kept = issue(ada);
	revoked = issue(ada);
	snprintf(req, sizeof(req), "{\"op\":\"logout\",\"session\":\"%s\"}", revoked.session);
	tc_api_ok(ada, "%s", req);
	th_disconnect(ada);
	th_broker_kill9(&b); /* not even a clean stop */
	th_broker_restart(&b);
	TH_EQ_INT(try_sign_in(&b, "ada", kept.text, 5), 0);
	expect_refused(&b, "ada", revoked.text);
	th_broker_stop(&b);
}


/* True if the file at path (which may not exist) contains needle. */
static bool file_contains(const char *path, const char *needle)
{
	FILE *fp = fopen(path, "rb");
	size_t nlen = strlen(needle), cap = 1 << 20, len = 0;
	char *buf;
	bool found = false;

	if(fp == NULL) {
		TH_CHECKF(errno == ENOENT, "%s: %s", path, strerror(errno));
		return false;
	}
	buf = malloc(cap);
	TH_CHECK(buf != NULL);
	for(;;) {
		size_t n = fread(buf + len, 1, cap - len, fp);
		len += n;
		if(n == 0 || len < cap) {
			break;
		}
		cap *= 2;
		buf = realloc(buf, cap);
		TH_CHECK(buf != NULL);
	}
	fclose(fp);
	for(size_t i = 0; !found && len >= nlen && i <= len - nlen; i++) {
		found = memcmp(buf + i, needle, nlen) == 0;
	}
	free(buf);
	return found;
}


/* The database, its WAL and its shared-memory file never hold a token's secret; the row holds 32
 * bytes of hash and the public id. */
static void test_database_holds_no_secret(void)
{
	struct th_broker b;
	struct th_client *ada;
	struct token t;
	const char *secret;
	char path[400];
	sqlite3 *db;
	sqlite3_stmt *st;

	th_broker_start(&b, "");
	ada = th_connect(&b, "ada", "ada-laptop", 5, true);
	t = issue(ada);
	secret = t.text + strlen(t.text) - 43;
	TH_EQ_INT(try_sign_in(&b, "ada", t.text, 5), 0); /* and a sign-in writes last_used_ts */
	/* while running (the row is in the WAL), then stopped (checkpointed into the file) */
	for(int pass = 0; pass < 2; pass++) {
		const char *suffix[] = {"", "-wal", "-shm", "-journal"};
		bool id_seen = false;
		for(size_t i = 0; i < sizeof(suffix) / sizeof(suffix[0]); i++) {
			snprintf(path, sizeof(path), "%s%s", b.db_path, suffix[i]);
			TH_CHECKF(!file_contains(path, secret), "%s holds the secret", path);
			TH_CHECKF(!file_contains(path, t.text), "%s holds the token", path);
			id_seen = id_seen || file_contains(path, t.session);
		}
		TH_CHECK(id_seen); /* the check above looks in the right place */
		if(pass == 0) {
			th_disconnect(ada);
			th_broker_stop(&b);
		}
	}
	TH_EQ_INT(sqlite3_open_v2(b.db_path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	TH_EQ_INT(sqlite3_prepare_v2(
			  db, "SELECT id, user, length(secret_hash), typeof(secret_hash) FROM session_tokens",
			  -1, &st, NULL),
		  SQLITE_OK);
	TH_EQ_INT(sqlite3_step(st), SQLITE_ROW);
	TH_EQ_STR((const char *)sqlite3_column_text(st, 0), t.session);
	TH_EQ_STR((const char *)sqlite3_column_text(st, 1), "ada");
	TH_EQ_INT(sqlite3_column_int(st, 2), 32);
	TH_EQ_STR((const char *)sqlite3_column_text(st, 3), "blob");
	TH_EQ_INT(sqlite3_step(st), SQLITE_DONE);
	sqlite3_finalize(st);
	sqlite3_close(db);
}


/* ---- dynamic-security ---- */

#define DYNSEC_PLUGIN "/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so"

static void dynsec(struct th_broker *b, const char *command)
{
	int status;
	char *out = th_run(&status, "mosquitto_ctrl -h 127.0.0.1 -p %d -u admin -P admin-pw dynsec %s",
			   b->port, command);

	TH_CHECKF(status == 0 && strstr(out, "Error") == NULL, "dynsec %s: exit status %d:\n%s", command,
		  status, out);
	free(out);
}


/* Tokens beside dynamic-security (listed after mqchat, as README asks): its client zed gets a token
 * with its password and signs in with it; its passwords keep deciding everything else. */
static void test_tokens_beside_dynsec(void)
{
	struct th_broker b;
	struct th_client *zed, *web;
	struct token t;
	char *path, *out;
	int status, n;

	th_broker_start(&b, "plugin_opt_acl_fallback defer\n");
	path = th_tmpfile(&b, "dynsec.json");
	out = th_run(&status, "mosquitto_ctrl dynsec init %s admin admin-pw", path);
	TH_CHECKF(status == 0, "dynsec init: %d\n%s", status, out);
	free(out);
	n = snprintf(b.extra, sizeof(b.extra),
		     "plugin_opt_acl_fallback defer\nplugin " DYNSEC_PLUGIN "\nplugin_opt_config_file %s\n",
		     path);
	TH_CHECK(n > 0 && (size_t)n < sizeof(b.extra));
	free(path);
	th_broker_restart(&b);
	dynsec(&b, "createClient zed -p zed-pw");
	dynsec(&b, "createRole chatter");
	dynsec(&b, "addRoleACL chatter publishClientSend chat/# allow");
	dynsec(&b, "addRoleACL chatter publishClientReceive chat/# allow");
	dynsec(&b, "addRoleACL chatter subscribePattern chat/# allow");
	dynsec(&b, "addClientRole zed chatter");

	zed = th_connect(&b, "zed", "zed-1", 5, true);
	t = issue(zed);
	web = token_client(&b, "zed", &t, "zed-web");
	tc_api_ok(web, "{\"op\":\"create\",\"channel\":\"general\"}"); /* dynsec's ACL grants it */
	tc_expect_error(tc_api(web, "{\"op\":\"session\"}"), "forbidden", NULL);
	expect_refused(&b, "zed", "wes-pw");
	expect_refused(&b, "ada", t.text);
	TH_EQ_INT(try_sign_in(&b, "zed", "zed-pw", 5), 0);
	TH_EQ_INT(try_sign_in(&b, "ada", "ada-pw", 5), 0); /* password_file, after dynsec */
	tc_api_ok(zed, "{\"op\":\"logout\",\"all\":true}");
	TH_CHECK(th_wait_disconnect(web, 5000) != -1);
	th_disconnect(web);
	expect_refused(&b, "zed", t.text);
	th_disconnect(zed);
	th_broker_stop(&b);
}


/* ---- cost ---- */

/* What a token sign-in costs beside a password one (password_file: PBKDF2-SHA512), from CONNECT to
 * CONNACK and DISCONNECT, one after another; logged, and each must succeed. Then again with 100 more
 * tokens of other users stored. */
static void test_sign_in_cost(void)
{
	enum { ROUNDS = 200 };
	static const char *const others[] = {"bo", "cy", "dee", "eve", "mallory"};
	struct th_broker b;
	struct th_client *ada, *c;
	struct token t;
	long long start, password_us, token_us;

	th_broker_start(&b, "");
	ada = th_connect(&b, "ada", "ada-laptop", 5, true);
	t = issue(ada);
	TH_EQ_INT(try_sign_in(&b, "ada", t.text, 5), 0); /* its first use is written; later ones not */
	for(int pass = 0; pass < 2; pass++) {
		start = th_now_ms();
		for(int i = 0; i < ROUNDS; i++) {
			TH_EQ_INT(try_sign_in(&b, "ada", "ada-pw", 5), 0);
		}
		password_us = (th_now_ms() - start) * 1000 / ROUNDS;
		start = th_now_ms();
		for(int i = 0; i < ROUNDS; i++) {
			TH_EQ_INT(try_sign_in(&b, "ada", t.text, 5), 0);
		}
		token_us = (th_now_ms() - start) * 1000 / ROUNDS;
		th_log("%d tokens stored: a sign-in with the password takes %lld us, with a token %lld us "
		       "(CONNECT to DISCONNECT, mean of %d)",
		       pass == 0 ? 1 : 101, password_us, token_us, ROUNDS);
		for(size_t u = 0; pass == 0 && u < sizeof(others) / sizeof(others[0]); u++) {
			c = th_connect(&b, others[u], NULL, 5, true);
			for(int k = 0; k < CAP; k++) {
				issue(c);
			}
			th_disconnect(c);
		}
	}
	th_disconnect(ada);
	th_broker_stop(&b);
}


/* ---- the gateway tier ---- */

/* An edge has no token table: a client of an edge gets forbidden from `session` (the core answers,
 * knowing the request came through an edge), and the edge refuses a core's token as a password (its
 * password_file decides). The core's tokens work at the core; logout and sessions work through an
 * edge. */
static void test_edge_refuses_session(void)
{
	struct th_broker core, edge;
	struct th_client *ada_core, *ada_edge;
	struct token t;
	char req[128];
	cJSON *reply;

	th_core_start(&core, NULL);
	th_edge_start(&edge, &core, 1);
	ada_core = th_connect(&core, "ada", "ada-laptop", 5, true);
	ada_edge = th_connect(&edge, "ada", "ada-phone", 5, true);
	tc_expect_error(tc_api(ada_edge, "{\"op\":\"session\"}"), "forbidden",
			"session tokens are not available through an edge; sign in with your password");
	t = issue(ada_core);
	expect_refused(&edge, "ada", t.text);
	TH_EQ_INT(try_sign_in(&core, "ada", t.text, 5), 0);
	reply = tc_api(ada_edge, "{\"op\":\"sessions\"}");
	TH_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(reply, "sessions")), 1);
	cJSON_Delete(reply);
	snprintf(req, sizeof(req), "{\"op\":\"logout\",\"session\":\"%s\"}", t.session);
	reply = tc_api(ada_edge, "%s", req);
	TH_JSON(reply, "{\"ok\":true,\"kind\":\"api\",\"op\":\"logout\",\"revoked\":1}");
	cJSON_Delete(reply);
	expect_refused(&core, "ada", t.text);
	th_disconnect(ada_edge);
	th_disconnect(ada_core);
	th_broker_stop(&edge);
	th_broker_stop(&core);
}


TH_TEST_LIST(TH_TEST(test_token_signs_in), TH_TEST(test_token_connection_cannot_renew),
	     TH_TEST(test_only_a_valid_token_of_that_user), TH_TEST(test_logout), TH_TEST(test_sessions_list),
	     TH_TEST(test_oldest_dropped_over_the_cap), TH_TEST(test_expiry),
	     TH_TEST(test_session_days_option), TH_TEST(test_tokens_survive_restart),
	     TH_TEST(test_database_holds_no_secret), TH_TEST(test_tokens_beside_dynsec),
	     TH_TEST(test_sign_in_cost), TH_TEST(test_edge_refuses_session))
