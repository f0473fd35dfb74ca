/*
 * test_abuse_limits.c - the attacks of issue 12, by an ordinary account, against a real broker: each
 * must fail with its exact error code while honest users go on unaffected.
 *
 * - made-up members: `create`, `invite` and `dm` name only users (docs/protocol.md, "Users"): someone
 *   the broker has accepted a connection for. A refused login makes no user; users outlive a restart;
 *   a device on an edge makes its user known to the core;
 * - membership inflation: quotas on channels created, members added, and memberships per user
 *   (quota_exceeded, with retry_after_ms where waiting helps), all or nothing;
 * - presence amplification: a user who reconnects in a loop is announced a bounded number of times,
 *   its final state always; one announcement reaches at most presence_max_channels channels;
 * - probing private channels: to a non-member a private channel (or a dm) answers exactly as a missing
 *   one, on every topic and op; create of a taken name says only that, and costs a creation.
 *
 * Counts are asserted, never timings. Where a bound depends on elapsed time (presence: a token per
 * second), the bound is computed from the time the test measured.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "th_chat.h"
#include "th_gateway.h"

#define WAIT_MS 5000


/* ---- helpers ------------------------------------------------------------------------------------------ */

/* An API request that must fail with code and message (message NULL: any). */
#define api_error(c, code, message, ...) tc_expect_error(tc_api((c), __VA_ARGS__), (code), (message))


/* The number of channels in c's inbox. */
static int inbox_size(struct th_client *c)
{
	cJSON *reply = tc_api(c, "{\"op\":\"channels\"}");
	int n;

	TH_CHECK(cJSON_IsTrue(cJSON_GetObjectItem(reply, "ok")));
	n = cJSON_GetArraySize(cJSON_GetObjectItem(reply, "channels"));
	cJSON_Delete(reply);
	return n;
}


/* Whether `members` of ch, asked by c, says user is online: the real state, never held back. */
static bool online_in(struct th_client *c, const char *ch, const char *user)
{
	cJSON *reply = tc_api(c, "{\"op\":\"members\",\"channel\":\"%s\"}", ch);
	const cJSON *m;
	bool online = false;

	TH_CHECK(cJSON_IsTrue(cJSON_GetObjectItem(reply, "ok"))); /* polled: brokers without request limits */
	cJSON_ArrayForEach(m, cJSON_GetObjectItem(reply, "members")) {
		if(strcmp(th_json_str(m, "user"), user) == 0) {
			online = cJSON_IsTrue(cJSON_GetObjectItem(m, "online"));
		}
	}
	cJSON_Delete(reply);
	return online;
}


/* CPU time (user + system) a process has used, in ms. */
static long long cpu_ms(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long utime = 0, stime = 0;
	long ticks = sysconf(_SC_CLK_TCK);
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	TH_CHECK(f != NULL);
	TH_CHECK(fgets(buf, sizeof(buf), f) != NULL);
	fclose(f);
	p = strrchr(buf, ')'); /* the command may hold spaces; fields 14 and 15 follow it */
	TH_CHECK(p != NULL
		 && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime)
			    == 2);
	return (long long)((utime + stime) * 1000ULL / (unsigned long long)ticks);
}


/* The rows of a one-column query on a stopped broker's database, joined by ",". */
static char *db_column(const char *db_path, const char *sql)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *stmt = NULL;
	size_t len = 0;
	char *out = calloc(1, 4096);

	TH_CHECK(out != NULL);
	TH_EQ_INT(sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	TH_EQ_INT(sqlite3_prepare_v2(db, sql, -1, &stmt, NULL), SQLITE_OK);
	while(sqlite3_step(stmt) == SQLITE_ROW) {
		len += (size_t)snprintf(out + len, 4096 - len, "%s%s", len ? "," : "",
					(const char *)sqlite3_column_text(stmt, 0));
	}
	sqlite3_finalize(stmt);
	sqlite3_close(db);
	return out;
}


/* ---- users --------------------------------------------------------------------------------------------- */

/* Only users can be named. A user is someone the broker accepted a connection for: a wrong password
 * makes none. Users are stored and outlive a restart; made-up names never reach the store. */
static void test_only_users_can_be_named(void)
{
	struct th_broker b;
	struct th_client *ada, *bo, *refused = NULL;
	char *names;

	th_broker_start(&b, "");
	ada = th_connect(&b, "ada", "ada-1", 5, true);

	/* bo is in the password file but has never signed in: not a user yet, and nothing is created */
	api_error(ada, "no_such_user", "there is no user bo",
		  "{\"op\":\"create\",\"channel\":\"team\",\"members\":[\"bo\"]}");
	api_error(ada, "no_such_channel", "there is no channel #team",
		  "{\"op\":\"members\",\"channel\":\"team\"}");
	api_error(ada, "no_such_user", "there is no user bo", "{\"op\":\"dm\",\"user\":\"bo\"}");
	tc_api_ok(ada, "{\"op\":\"create\",\"channel\":\"open\"}");
	api_error(ada, "no_such_user", "there is no user bo",
		  "{\"op\":\"invite\",\"channel\":\"open\",\"user\":\"bo\"}");
	TH_EQ_INT(inbox_size(ada), 1);

	/* a failed login (password_file runs after the plugins) makes no user either */
	TH_CHECK(th_connect_rc(&b, "bo", "wrong", "bo-1", 5, &refused) > 0);
	TH_CHECK(th_connect_rc(&b, "bo", "wrong", "bo-2", 4, &refused) > 0);
	TH_CHECK(refused == NULL);
	api_error(ada, "no_such_user", "there is no user bo",
		  "{\"op\":\"create\",\"channel\":\"team\",\"members\":[\"bo\"]}");

	/* bo signs in once: from then on he may be named, even while offline */
	bo = th_connect(&b, "bo", "bo-1", 5, true);
	th_disconnect(bo);
	tc_api_ok(ada,
		  "{\"op\":\"create\",\"channel\":\"team\",\"visibility\":\"private\",\"members\":[\"bo\"]}");
	tc_api_ok(ada, "{\"op\":\"invite\",\"channel\":\"open\",\"user\":\"bo\"}");
	tc_api_ok(ada, "{\"op\":\"dm\",\"user\":\"bo\"}");
	/* one made-up name among real ones: no_such_user, and the channel is not created */
	api_error(ada, "no_such_user", "there is no user ghost",
		  "{\"op\":\"create\",\"channel\":\"mixed\",\"members\":[\"bo\",\"ghost\",\"cy\"]}");
	api_error(ada, "no_such_channel", "there is no channel #mixed",
		  "{\"op\":\"members\",\"channel\":\"mixed\"}");

	/* users are durable: after a restart bo, who has not been back, can still be named */
	th_disconnect(ada);
	th_broker_restart(&b);
	ada = th_connect(&b, "ada", "ada-1", 5, true);
	tc_api_ok(ada, "{\"op\":\"create\",\"channel\":\"after\",\"members\":[\"bo\"]}");
	api_error(ada, "no_such_user", "there is no user cy", "{\"op\":\"dm\",\"user\":\"cy\"}");
	th_disconnect(ada);
	th_broker_stop(&b);
	/* and the store holds exactly the two who signed in: no ghost, no refused login */
	names = db_column(b.db_path, "SELECT name FROM users ORDER BY name");
	TH_EQ_STR(names, "ada,bo");
	free(names);
}


/* On a gateway the core learns of users from its edges: a device accepted on an edge makes its user a
 * user; a login the edge refused does not. */
static void test_users_are_noted_from_edges(void)
{
	struct th_broker core, e1, e2;
	struct th_client *ada, *bo, *refused = NULL;

	th_core_start(&core, NULL);
	th_edge_start(&e1, &core, 1);
	th_edge_start(&e2, &core, 2);
	ada = th_connect(&e1, "ada", "ada-laptop", 5, true);
	TH_CHECK(th_connect_rc(&e2, "bo", "wrong", "bo-phone", 5, &refused) > 0);
	api_error(ada, "no_such_user", "there is no user bo",
		  "{\"op\":\"create\",\"channel\":\"general\",\"members\":[\"bo\"]}");
	bo = th_connect(&e2, "bo", "bo-phone", 5, true);
	tc_api_ok(bo, "{\"op\":\"channels\"}"); /* follows edge-2's report of bo's connection */
	th_disconnect(bo);
	tc_api_ok(ada, "{\"op\":\"create\",\"channel\":\"general\",\"members\":[\"bo\"]}");
	api_error(ada, "no_such_user", "there is no user ghost", "{\"op\":\"dm\",\"user\":\"ghost\"}");
	th_disconnect(ada);
	th_broker_stop(&e1);
	th_broker_stop(&e2);
	th_broker_stop(&core);
}


/* ---- membership inflation ------------------------------------------------------------------------------ */

/* The finding: create naming 1,000 made-up members, 50 times a second (579k memberships in 10 s). Now
 * every such request is refused with no_such_user, nothing is created, and the broker's memory stays
 * where it was. */
static void test_create_flood_with_made_up_names(void)
{
	struct th_broker b;
	struct th_client *mallory, *bo;
	size_t cap = 1000 * 16 + 128, len;
	char *req = malloc(cap);
	long long rss0, rss1;
	int refused = 0;

	TH_CHECK(req != NULL);
	th_broker_start(&b, "");
	tc_sign_in(&b, "bo", NULL);
	mallory = th_connect(&b, "mallory", "mallory-1", 5, true);
	bo = th_connect(&b, "bo", "bo-1", 5, true);
	rss0 = th_rss_kib(b.pid);
	for(int r = 0; r < 100; r++) { /* within the request burst: 50 a second and more */
		len = (size_t)snprintf(req, cap, "{\"op\":\"create\",\"channel\":\"flood-%d\",\"members\":[",
				       r);
		for(int i = 0; i < 1000; i++) {
			/* a real user among them changes nothing: one bad name refuses the whole create */
			if(i == 500) {
				len += (size_t)snprintf(req + len, cap - len, ",\"bo\"");
			} else {
				len += (size_t)snprintf(req + len, cap - len, "%s\"x%d-%d\"", i ? "," : "", r,
							i);
			}
		}
		snprintf(req + len, cap - len, "]}");
		{
			cJSON *reply = tc_api(mallory, "%s", req);
			const char *code = th_json_str(reply, "code");
			TH_CHECKF(code != NULL && strcmp(code, "no_such_user") == 0, "request %d: %s", r,
				  th_json_print(reply));
			refused++;
			cJSON_Delete(reply);
		}
	}
	rss1 = th_rss_kib(b.pid);
	th_log("100 creates of 1000 made-up members: %d refused; broker RSS %lld -> %lld KiB", refused, rss0,
	       rss1);
	TH_EQ_INT(refused, 100);
	TH_EQ_INT(inbox_size(mallory), 0);
	TH_EQ_INT(inbox_size(bo), 0);
	/* (ASan's quarantine and valgrind keep what is freed: the figure means nothing under them) */
	if(getenv("MQCHAT_BROKER_PRELOAD") == NULL && getenv("MQCHAT_BROKER_WRAPPER") == NULL) {
		TH_CHECKF(rss1 - rss0 < 8 * 1024, "broker RSS grew from %lld to %lld KiB", rss0, rss1);
	}
	/* and it cost mallory nothing of her quotas: a refused request takes no token */
	tc_api_ok(mallory, "{\"op\":\"create\",\"channel\":\"honest\",\"members\":[\"bo\"]}");
	free(req);
	th_disconnect(mallory);
	th_disconnect(bo);
	th_broker_stop(&b);
}


/* With real names, channels created per user are a token bucket (defaults: 50 at once, 60 an hour):
 * a flood gets the burst and then quota_exceeded with retry_after_ms; another user is not touched. */
static void test_create_quota(void)
{
	struct th_broker b;
	struct th_client *mallory, *ada, *bo;
	int created = 0, over = 0;

	th_broker_start(&b, "");
	tc_sign_in(&b, "bo", "cy", "dee", NULL);
	mallory = th_connect(&b, "mallory", "mallory-1", 5, true);
	ada = th_connect(&b, "ada", "ada-1", 5, true);
	bo = th_connect(&b, "bo", "bo-1", 5, true);
	for(int i = 0; i < 120; i++) {
		cJSON *reply = tc_api(
			mallory,
			"{\"op\":\"create\",\"channel\":\"spam-%d\",\"members\":[\"bo\",\"cy\",\"dee\"]}", i);
		if(cJSON_IsTrue(cJSON_GetObjectItem(reply, "ok"))) {
			created++;
		} else {
			/* one token a minute: the next is at most a minute away */
			TH_JSON(reply,
				"{\"ok\":false,\"kind\":\"error\",\"code\":\"quota_exceeded\","
				"\"message\":\"mallory may create 50 channels at once and 60 more per "
				"hour: retry "
				"later\",\"retry_after_ms\":\"*\",\"request\":\"api\",\"op\":\"create\","
				"\"channel\":\"*\"}");
			TH_CHECK(th_json_int(reply, "retry_after_ms") > 0);
			TH_CHECK(th_json_int(reply, "retry_after_ms") <= 60001);
			over++;
		}
		cJSON_Delete(reply);
	}
	th_log("mallory: %d channels created, %d refused", created, over);
	/* the burst, and the one token a minute may have added if this loop took that long */
	TH_CHECKF(created >= 50 && created <= 51, "%d created", created);
	TH_EQ_INT(inbox_size(bo), created);
	api_error(bo, "no_such_channel", "there is no channel #spam-119",
		  "{\"op\":\"members\",\"channel\":\"spam-119\"}");
	/* honest users go on: ada creates with bo, and bo talks there */
	tc_api_ok(ada, "{\"op\":\"create\",\"channel\":\"work\",\"members\":[\"bo\"]}");
	cJSON_Delete(tc_send(bo, "work", "w-1", "still here"));
	th_disconnect(mallory);
	th_disconnect(ada);
	th_disconnect(bo);
	th_broker_stop(&b);
}


/* Members added per user (create's members, invites, a new dm's peer) are a token bucket too; a
 * request takes all its tokens or none, and one naming more than the burst can never pass. */
static void test_member_quota(void)
{
	struct th_broker b;
	struct th_client *mallory, *ada;
	cJSON *reply;

	th_broker_start(&b, "plugin_opt_member_burst 6\nplugin_opt_member_rate 1\n");
	tc_sign_in(&b, "ada", "bo", "cy", "dee", "eve", "edge-1", "edge-2", NULL);
	mallory = th_connect(&b, "mallory", "mallory-1", 5, true);
	ada = th_connect(&b, "ada", "ada-1", 5, true);

	api_error(mallory, "quota_exceeded", "one request may add at most 6 members",
		  "{\"op\":\"create\",\"channel\":\"big\",\"members\":[\"ada\",\"bo\",\"cy\",\"dee\",\"eve\","
		  "\"edge-1\",\"edge-2\"]}");
	tc_api_ok(mallory, "{\"op\":\"create\",\"channel\":\"one\",\"members\":[\"bo\",\"cy\",\"dee\"]}");
	tc_api_ok(mallory, "{\"op\":\"invite\",\"channel\":\"one\",\"user\":\"eve\"}");
	tc_api_ok(mallory, "{\"op\":\"dm\",\"user\":\"ada\"}"); /* a new dm adds its peer: 5 of 6 */
	/* two more members with one token left: refused whole, and the token is still there */
	reply = tc_api(mallory, "{\"op\":\"create\",\"channel\":\"two\",\"members\":[\"bo\",\"cy\"]}");
	TH_JSON(reply, "{\"ok\":false,\"kind\":\"error\",\"code\":\"quota_exceeded\",\"message\":\"mallory "
		       "may add 6 members at once and 1 more per minute: retry later\",\"retry_after_ms\":"
		       "\"*\",\"request\":\"api\",\"op\":\"create\",\"channel\":\"two\"}");
	TH_CHECK(th_json_int(reply, "retry_after_ms") > 0 && th_json_int(reply, "retry_after_ms") <= 60001);
	cJSON_Delete(reply);
	api_error(mallory, "no_such_channel", "there is no channel #two",
		  "{\"op\":\"members\",\"channel\":\"two\"}");
	tc_api_ok(mallory, "{\"op\":\"create\",\"channel\":\"two\",\"members\":[\"bo\"]}");
	api_error(mallory, "quota_exceeded", NULL,
		  "{\"op\":\"invite\",\"channel\":\"one\",\"user\":\"ada\"}");
	/* joining adds oneself, not someone else: no token; nor does an existing dm */
	tc_api_ok(mallory, "{\"op\":\"dm\",\"user\":\"ada\"}");
	tc_api_ok(ada, "{\"op\":\"join\",\"channel\":\"one\"}");
	/* another user's bucket is untouched */
	tc_api_ok(ada, "{\"op\":\"create\",\"channel\":\"ada-team\",\"members\":[\"bo\",\"cy\",\"dee\"]}");
	th_disconnect(mallory);
	th_disconnect(ada);
	th_broker_stop(&b);
}


/* No create, join, invite or dm puts anyone beyond max_memberships channels, whoever asks. */
static void test_max_memberships(void)
{
	struct th_broker b;
	struct th_client *mallory, *ada, *bo;
	const char *full = "bo is already in 4 channels, the most one user may be in";

	th_broker_start(&b, "plugin_opt_max_memberships 4\n");
	tc_sign_in(&b, "bo", NULL);
	mallory = th_connect(&b, "mallory", "mallory-1", 5, true);
	ada = th_connect(&b, "ada", "ada-1", 5, true);
	bo = th_connect(&b, "bo", "bo-1", 5, true);
	tc_api_ok(ada, "{\"op\":\"create\",\"channel\":\"a1\",\"members\":[\"bo\"]}");
	tc_api_ok(ada, "{\"op\":\"create\",\"channel\":\"a2\",\"members\":[\"bo\"]}");
	tc_api_ok(ada, "{\"op\":\"create\",\"channel\":\"lobby\"}");
	tc_api_ok(mallory, "{\"op\":\"create\",\"channel\":\"m1\",\"members\":[\"bo\"]}");
	tc_api_ok(mallory, "{\"op\":\"dm\",\"user\":\"bo\"}"); /* bo: a1, a2, m1 and the dm */
	tc_api_ok(mallory, "{\"op\":\"create\",\"channel\":\"m2\"}");
	api_error(mallory, "quota_exceeded", full,
		  "{\"op\":\"create\",\"channel\":\"m3\",\"members\":[\"bo\"]}");
	api_error(mallory, "no_such_channel", NULL, "{\"op\":\"members\",\"channel\":\"m3\"}");
	api_error(mallory, "quota_exceeded", full, "{\"op\":\"invite\",\"channel\":\"m2\",\"user\":\"bo\"}");
	api_error(ada, "quota_exceeded", full, "{\"op\":\"dm\",\"user\":\"bo\"}");
	api_error(bo, "quota_exceeded", full, "{\"op\":\"join\",\"channel\":\"lobby\"}");
	api_error(bo, "quota_exceeded", full, "{\"op\":\"create\",\"channel\":\"mine\"}");
	/* the creator counts too: mallory, in m1, the dm and m2, may create one more, alone */
	tc_api_ok(mallory, "{\"op\":\"create\",\"channel\":\"m4\"}");
	api_error(mallory, "quota_exceeded", "mallory is already in 4 channels, the most one user may be in",
		  "{\"op\":\"create\",\"channel\":\"m5\"}");
	TH_EQ_INT(inbox_size(bo), 4);
	/* bo leaves one of mallory's: now he may join what he chooses */
	tc_api_ok(bo, "{\"op\":\"leave\",\"channel\":\"m1\"}");
	tc_api_ok(bo, "{\"op\":\"join\",\"channel\":\"lobby\"}");
	cJSON_Delete(tc_send(bo, "lobby", "l-1", "hello"));
	th_disconnect(mallory);
	th_disconnect(ada);
	th_disconnect(bo);
	th_broker_stop(&b);
}


/* ---- presence amplification ---------------------------------------------------------------------------- */

#define FLAP_CHANNELS 50 /* mallory's creation burst */
#define FLAPS         100

struct flap_result {
	int messages;      /* presence events about mallory that bo received */
	int per_channel;   /* in each channel: the same number everywhere */
	long long elapsed; /* ms from the first flap to the final state's arrival */
	long long cpu;     /* the broker's CPU time over the same span, ms */
};


/* Takes one presence event of mallory's from m into the per-channel tallies, checking that in each
 * channel her states alternate: never the same one twice in a row, so never a stale one. */
static void tally(struct th_msg *m, int count[], int last[], struct flap_result *res)
{
	cJSON *ev = th_json_parse((char *)m->payload);
	int ch = -1;
	bool online = cJSON_IsTrue(cJSON_GetObjectItem(ev, "online"));

	TH_EQ_STR(th_json_str(ev, "user"), "mallory");
	TH_CHECK(sscanf(th_json_str(ev, "channel"), "c%d", &ch) == 1 && ch >= 0 && ch < FLAP_CHANNELS);
	TH_CHECKF(last[ch] != (int)online, "#c%d: %s twice in a row", ch, online ? "online" : "offline");
	last[ch] = online;
	count[ch]++;
	res->messages++;
	cJSON_Delete(ev);
	th_msg_free(m);
}


/* mallory shares FLAP_CHANNELS channels with bo, who listens to chat/+/presence; she connects and
 * disconnects FLAPS times as fast as she can, then stays away. Counts what bo receives about her,
 * checking that in every channel her states alternate and end offline, and that nothing of hers comes
 * after that (a barrier: cy coming online). */
static void flap(const char *extra, struct flap_result *res)
{
	struct th_broker b;
	struct th_client *mallory, *bo, *cy;
	int count[FLAP_CHANNELS] = {0}, last[FLAP_CHANNELS]; /* last: -1 none yet, 0 offline, 1 online */
	struct th_msg *m;
	long long t0, cpu0;
	bool settled = false;

	memset(last, -1, sizeof(last));
	memset(res, 0, sizeof(*res));
	th_broker_start(&b, "%s", extra);
	tc_sign_in(&b, "bo", "cy", NULL);
	mallory = th_connect(&b, "mallory", "mallory-admin", 5, true);
	for(int i = 0; i < FLAP_CHANNELS; i++) {
		tc_api_ok(mallory, "{\"op\":\"create\",\"channel\":\"c%d\",\"members\":[\"bo\"]}", i);
	}
	bo = th_connect(&b, "bo", "bo-1", 5, true);
	tc_api_ok(bo, "{\"op\":\"create\",\"channel\":\"barrier\",\"members\":[\"cy\"]}");
	th_disconnect(mallory);
	th_wait_until(!online_in(bo, "c0", "mallory"), WAIT_MS);
	TH_EQ_INT(th_subscribe(bo, "chat/+/presence", 0), 0);

	t0 = th_now_ms();
	cpu0 = cpu_ms(b.pid);
	for(int i = 0; i < FLAPS; i++) {
		int fd = th_raw_connect(&b, "mallory", "mallory-flap",
					&(struct th_raw_options){.keepalive_s = 60, .clean_session = true});
		close(fd);
	}
	/* Once `members` says she is offline, the broker has taken her last disconnect, and whatever it
	 * announced before is queued for bo ahead of that reply: take it all. */
	th_wait_until(!online_in(bo, "c0", "mallory"), WAIT_MS);
	while((m = th_wait_msg(bo, "chat/+/presence", 0)) != NULL) {
		tally(m, count, last, res);
	}
	/* The last state announced is online only while her offline is held for her next token: it
	 * comes, everywhere, and then nothing more can. */
	while(!settled) {
		settled = true;
		for(int i = 0; i < FLAP_CHANNELS; i++) {
			settled = settled && last[i] == 0;
		}
		if(!settled) {
			m = th_wait_msg(bo, "chat/+/presence", WAIT_MS);
			TH_CHECKF(m != NULL, "mallory's final state did not come (%d events so far)",
				  res->messages);
			tally(m, count, last, res);
		}
	}
	res->elapsed = th_now_ms() - t0;
	res->cpu = cpu_ms(b.pid) - cpu0;
	cy = th_connect(&b, "cy", "cy-1", 5, true);
	{
		cJSON *ev = th_expect_json(bo, "chat/+/presence");
		TH_JSON(ev, "{\"channel\":\"barrier\",\"user\":\"cy\",\"online\":true,\"ts\":\"*\"}");
		cJSON_Delete(ev);
	}
	res->per_channel = count[0];
	for(int i = 0; i < FLAP_CHANNELS; i++) {
		TH_EQ_INT(count[i], res->per_channel); /* the same channels heard every announcement */
	}
	th_disconnect(cy);
	th_disconnect(bo);
	th_broker_stop(&b);
}


/* The finding: Bo in 1,000 small channels with mallory, who flapped 470 times in 10 s, received 940,003
 * presence events. Here, 50 channels and 100 flaps: without coalescing (presence_rate 0) every one of
 * the 2 x 100 transitions reaches all 50 channels; with the defaults (60 a minute, bursts of 5) at most
 * 5 + 1 a second are announced, the last always her real state. */
static void test_presence_flap_is_bounded(void)
{
	struct flap_result open, bounded;
	long long announcements;

	flap("plugin_opt_request_rate 0\nplugin_opt_presence_rate 0\n", &open);
	th_log("unbounded: %d presence events to bo (%d per channel) in %lld ms, broker CPU %lld ms",
	       open.messages, open.per_channel, open.elapsed, open.cpu);
	TH_EQ_INT(open.per_channel, 2 * FLAPS); /* what the attack got before: every transition */

	flap("plugin_opt_request_rate 0\n", &bounded);
	th_log("bounded: %d presence events to bo (%d per channel) in %lld ms, broker CPU %lld ms",
	       bounded.messages, bounded.per_channel, bounded.elapsed, bounded.cpu);
	/* the burst, one token a second over the measured span, and the final state */
	announcements = 5 + bounded.elapsed / 1000 + 1;
	TH_CHECKF(bounded.per_channel <= announcements, "%d announcements in %lld ms", bounded.per_channel,
		  bounded.elapsed);
	TH_CHECK(bounded.per_channel >= 1);
	TH_CHECK(bounded.messages * 10 < open.messages);
}


/* One announcement reaches at most presence_max_channels channels: the user's dms first, then its other
 * channels; the same ones for online and for offline. */
static void test_presence_reaches_at_most_max_channels(void)
{
	struct th_broker b;
	struct th_client *mallory, *bo, *cy;
	char seen[64][80];
	cJSON *dm;
	int n = 0;

	th_broker_start(&b, "plugin_opt_presence_max_channels 10\nplugin_opt_request_rate 0\n");
	tc_sign_in(&b, "bo", "cy", NULL);
	mallory = th_connect(&b, "mallory", "mallory-admin", 5, true);
	for(int i = 0; i < 20; i++) {
		tc_api_ok(mallory, "{\"op\":\"create\",\"channel\":\"c%d\",\"members\":[\"bo\"]}", i);
	}
	dm = tc_api(mallory, "{\"op\":\"dm\",\"user\":\"bo\"}"); /* joined last, announced first */
	th_disconnect(mallory);
	bo = th_connect(&b, "bo", "bo-1", 5, true);
	tc_api_ok(bo, "{\"op\":\"create\",\"channel\":\"barrier\",\"members\":[\"cy\"]}");
	th_wait_until(!online_in(bo, "c0", "mallory"), WAIT_MS);
	TH_EQ_INT(th_subscribe(bo, "chat/+/presence", 0), 0);

	for(int round = 0; round < 2; round++) {
		int got = 0;
		if(round == 0) {
			mallory = th_connect(&b, "mallory", "mallory-1", 5, true);
		} else {
			th_disconnect(mallory);
			th_wait_until(!online_in(bo, "c0", "mallory"), WAIT_MS); /* announced by now */
		}
		cy = th_connect(&b, "cy", round == 0 ? "cy-1" : "cy-2", 5, true); /* the barrier */
		for(;;) {
			cJSON *ev = th_expect_json(bo, "chat/+/presence");
			const char *ch = th_json_str(ev, "channel");
			if(strcmp(th_json_str(ev, "user"), "cy") == 0) {
				cJSON_Delete(ev);
				break;
			}
			TH_EQ_STR(th_json_str(ev, "user"), "mallory");
			TH_EQ_INT(cJSON_IsTrue(cJSON_GetObjectItem(ev, "online")), round == 0);
			if(round == 0) {
				snprintf(seen[n++], sizeof(seen[0]), "%s", ch);
			} else {
				TH_EQ_STR(ch, seen[got]); /* the same channels, in the same order */
			}
			got++;
			cJSON_Delete(ev);
		}
		TH_EQ_INT(got, 10);
		th_disconnect(cy);
		th_wait_until(!online_in(bo, "barrier", "cy"), WAIT_MS);
		cJSON_Delete(th_expect_json(bo, "chat/barrier/presence")); /* cy offline */
	}
	TH_EQ_STR(seen[0], th_json_str(dm, "channel"));
	cJSON_Delete(dm);
	th_disconnect(bo);
	th_broker_stop(&b);
}


/* ---- probing private channels -------------------------------------------------------------------------- */

/* The answer c gets on its reply topic to payload on topic, printed, with `from` replaced by `to`
 * wherever it occurs (names of the same length). */
static char *answer(struct th_client *c, const char *topic, const char *payload, const char *from,
		    const char *to)
{
	cJSON *reply = tc_request(c, topic, "%s", payload);
	char *text = th_json_print(reply), *p;

	cJSON_Delete(reply);
	TH_EQ_INT(strlen(from), strlen(to));
	while((p = strstr(text, from)) != NULL) {
		memcpy(p, to, strlen(to));
	}
	return text;
}


/* What mallory gets for channel `name` on every member-only topic and op, as text, one line each, with
 * the name replaced by NAME. */
static char *probe(struct th_client *mallory, const char *name)
{
	static const struct {
		const char *topic, *payload;
	} probes[] = {
		{"chat/%s", "{\"client_msg_id\":\"p-1\",\"body\":\"knock knock\"}"},
		{"chat/%s", "plain text"},
		{"chat/%s/sync", "{\"since\":0}"},
		{"chat/%s/typing", "{\"typing\":true}"},
		{"chat/%s/read", "{\"seq\":1}"},
		{"chat/%s/delivered", "{\"seq\":1}"},
		{"chat/_api", "{\"op\":\"join\",\"channel\":\"%s\"}"},
		{"chat/_api", "{\"op\":\"leave\",\"channel\":\"%s\"}"},
		{"chat/_api", "{\"op\":\"members\",\"channel\":\"%s\"}"},
		{"chat/_api", "{\"op\":\"invite\",\"channel\":\"%s\",\"user\":\"mallory\"}"},
		{"chat/_api", "{\"op\":\"invite\",\"channel\":\"%s\",\"user\":\"ghost\"}"},
		{"chat/_api", "{\"op\":\"remove\",\"channel\":\"%s\",\"user\":\"bo\"}"},
	};
	size_t cap = 16384, len = 0;
	char *all = calloc(1, cap), topic[128], payload[256], placeholder[80];

	TH_CHECK(all != NULL);
	memset(placeholder, 'N', strlen(name));
	placeholder[strlen(name)] = '\0';
	for(size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
		char *text;
		snprintf(topic, sizeof(topic), probes[i].topic, name);
		snprintf(payload, sizeof(payload), probes[i].payload, name);
		text = answer(mallory, topic, payload, name, placeholder);
		len += (size_t)snprintf(all + len, cap - len, "%s\n", text);
		free(text);
	}
	return all;
}


/* To a non-member a private channel, or a dm, is a channel that does not exist: every topic and op
 * answers exactly as for a missing name, code, message and fields, and subscribing is refused alike.
 * Members get their usual answers; a public channel is visible to all (anyone may join it). */
static void test_private_channels_answer_as_missing(void)
{
	struct th_broker b;
	struct th_client *ada, *bo, *mallory;
	char *missing, *secret, *dm_probe, *removed, missing_dm[80];
	cJSON *dm;

	th_broker_start(&b, "");
	tc_sign_in(&b, "bo", NULL);
	ada = th_connect(&b, "ada", "ada-1", 5, true);
	bo = th_connect(&b, "bo", "bo-1", 5, true);
	mallory = th_connect(&b, "mallory", "mallory-1", 5, true);
	tc_api_ok(
		ada,
		"{\"op\":\"create\",\"channel\":\"secret\",\"visibility\":\"private\",\"members\":[\"bo\"]}");
	cJSON_Delete(tc_send(ada, "secret", "s-1", "the plan"));
	dm = tc_api(ada, "{\"op\":\"dm\",\"user\":\"bo\"}");

	missing = probe(mallory, "nosuch"); /* the same length as "secret" */
	th_log("a missing channel:\n%s", missing);
	TH_CHECKF(strstr(missing, "\"code\":\"no_such_channel\",\"message\":\"there is no channel #NNNNNN\"")
			  != NULL,
		  "%s", missing);
	secret = probe(mallory, "secret");
	TH_EQ_STR(secret, missing);
	/* a dm's name is of another length: a missing one of the same */
	snprintf(missing_dm, sizeof(missing_dm), "dm-%016d", 0);
	free(missing);
	missing = probe(mallory, missing_dm);
	dm_probe = probe(mallory, th_json_str(dm, "channel"));
	TH_EQ_STR(dm_probe, missing);
	/* subscriptions: refused alike (SUBACK 0x87) */
	TH_EQ_INT(th_subscribe(mallory, "chat/secret", 1), 0x87);
	TH_EQ_INT(th_subscribe(mallory, "chat/nosuch", 1), 0x87);
	TH_EQ_INT(th_subscribe(mallory, "chat/secret/presence", 1), 0x87);
	TH_EQ_INT(th_subscribe(mallory, "chat/nosuch/presence", 1), 0x87);

	/* members see it as it is */
	tc_api_ok(bo, "{\"op\":\"members\",\"channel\":\"secret\"}");
	api_error(bo, "forbidden", "only an owner of #secret may invite",
		  "{\"op\":\"invite\",\"channel\":\"secret\",\"user\":\"mallory\"}");
	/* someone removed from it is a stranger again */
	tc_api_ok(ada, "{\"op\":\"remove\",\"channel\":\"secret\",\"user\":\"bo\"}");
	removed = probe(bo, "secret");
	free(missing);
	missing = probe(bo, "nosuch");
	TH_EQ_STR(removed, missing);
	/* a public channel is no secret: a non-member is told just that */
	tc_api_ok(ada, "{\"op\":\"create\",\"channel\":\"lobby\"}");
	tc_expect_error(tc_sync(mallory, "lobby", 0, 0), "not_member", "mallory is not a member of #lobby");
	tc_api_ok(mallory, "{\"op\":\"members\",\"channel\":\"lobby\"}");

	free(missing);
	free(secret);
	free(dm_probe);
	free(removed);
	cJSON_Delete(dm);
	th_disconnect(ada);
	th_disconnect(bo);
	th_disconnect(mallory);
	th_broker_stop(&b);
}


/* Names are unique, so creating a taken name fails, but says no more than that: the same conflict for a
 * private channel, a public one, a dm, one's own. Each such answer costs a token of the creation quota,
 * so names cannot be probed faster than channels can be created; once it is spent, taken and free names
 * get the same quota_exceeded. */
static void test_create_reveals_only_that_a_name_is_taken(void)
{
	struct th_broker b;
	struct th_client *ada, *mallory;
	cJSON *dm, *reply;
	char *taken_private, *taken_public;

	th_broker_start(&b, "plugin_opt_create_burst 6\nplugin_opt_create_rate 1\n");
	tc_sign_in(&b, "bo", NULL);
	ada = th_connect(&b, "ada", "ada-1", 5, true);
	mallory = th_connect(&b, "mallory", "mallory-1", 5, true);
	tc_api_ok(
		ada,
		"{\"op\":\"create\",\"channel\":\"secret\",\"visibility\":\"private\",\"members\":[\"bo\"]}");
	tc_api_ok(ada, "{\"op\":\"create\",\"channel\":\"public\"}");
	dm = tc_api(ada, "{\"op\":\"dm\",\"user\":\"bo\"}");

	taken_private = answer(mallory, "chat/_api", "{\"op\":\"create\",\"channel\":\"secret\",\"ref\":1}",
			       "secret", "NNNNNN");
	taken_public = answer(mallory, "chat/_api", "{\"op\":\"create\",\"channel\":\"public\",\"ref\":1}",
			      "public", "NNNNNN");
	TH_EQ_STR(taken_private, "{\"ok\":false,\"kind\":\"error\",\"code\":\"conflict\",\"message\":"
				 "\"channel #NNNNNN already "
				 "exists\",\"request\":\"api\",\"op\":\"create\",\"channel\":\"NNNNNN\","
				 "\"ref\":1}");
	TH_EQ_STR(taken_public, taken_private);
	api_error(mallory, "conflict", NULL,
		  "{\"op\":\"create\",\"channel\":\"%s\",\"visibility\":\"private\"}",
		  th_json_str(dm, "channel"));
	/* ada, who is in it, is told the same */
	api_error(ada, "conflict", "channel #secret already exists",
		  "{\"op\":\"create\",\"channel\":\"secret\"}");

	/* mallory's 3 probes took 3 of her 6 creations; 2 more probes, 1 real channel, then nothing */
	api_error(mallory, "conflict", NULL, "{\"op\":\"create\",\"channel\":\"secret\"}");
	api_error(mallory, "conflict", NULL, "{\"op\":\"create\",\"channel\":\"public\"}");
	tc_api_ok(mallory, "{\"op\":\"create\",\"channel\":\"mine\"}");
	reply = tc_api(mallory, "{\"op\":\"create\",\"channel\":\"secret\"}");
	TH_JSON(reply, "{\"ok\":false,\"kind\":\"error\",\"code\":\"quota_exceeded\",\"message\":\"mallory "
		       "may create 6 channels at once and 1 more per hour: retry later\",\"retry_after_ms\":"
		       "\"*\",\"request\":\"api\",\"op\":\"create\",\"channel\":\"secret\"}");
	cJSON_Delete(reply);
	reply = tc_api(mallory, "{\"op\":\"create\",\"channel\":\"fresh\"}");
	TH_JSON(reply, "{\"ok\":false,\"kind\":\"error\",\"code\":\"quota_exceeded\",\"message\":\"mallory "
		       "may create 6 channels at once and 1 more per hour: retry later\",\"retry_after_ms\":"
		       "\"*\",\"request\":\"api\",\"op\":\"create\",\"channel\":\"fresh\"}");
	cJSON_Delete(reply);
	/* ada's own quota is hers */
	tc_api_ok(ada, "{\"op\":\"create\",\"channel\":\"fresh\"}");
	free(taken_private);
	free(taken_public);
	cJSON_Delete(dm);
	th_disconnect(ada);
	th_disconnect(mallory);
	th_broker_stop(&b);
}


TH_TEST_LIST(TH_TEST(test_only_users_can_be_named), TH_TEST(test_users_are_noted_from_edges),
	     TH_TEST(test_create_flood_with_made_up_names), TH_TEST(test_create_quota),
	     TH_TEST(test_member_quota), TH_TEST(test_max_memberships),
	     TH_TEST(test_presence_flap_is_bounded), TH_TEST(test_presence_reaches_at_most_max_channels),
	     TH_TEST(test_private_channels_answer_as_missing),
	     TH_TEST(test_create_reveals_only_that_a_name_is_taken))
