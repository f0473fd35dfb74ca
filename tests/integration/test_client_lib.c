/*
 * test_client_lib.c - libmqchat (clients/) under the faults docs/protocol.md promises to survive: two
 * users exchanging, the client process killed mid-send and restarted from its state file, the broker
 * killed -9 and restarted during sends, 1,100 messages while the client was offline, a restored backup
 * with a new epoch; MQTT 3.1.1 and 5. Each ends with the client's history equal, event for event, to
 * the server's log read by catch-up from 0, and every message sent stored exactly once. Also: the
 * "Writing a client" examples of docs/protocol.md, run as written, and mqchat-cli.
 *
 * The library runs in the test's thread (mqc_loop), so its callbacks may check and fail the test.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mqchat_client.h"
#include "th_chat.h"

/* Sends and requests are not what these tests are about: room for bursts of a few hundred. */
#define RATES "plugin_opt_send_rate 2000\nplugin_opt_send_burst 5000\n"

/* One library client and what its callbacks saw. */
struct lc {
	struct mqc *c;
	const char *name;
	int acks, errors, events, resets, synced, paused;
	int64_t last_seq; /* of #general, to check on_event's order */
	char typing_user[32], online_user[32], last_error[32];
};


static void cb_event(void *ud, const char *ch, const cJSON *ev)
{
	struct lc *l = ud;
	int64_t seq = (int64_t)cJSON_GetObjectItem(ev, "seq")->valuedouble;

	if(strcmp(ch, "general") == 0) {
		TH_CHECKF(seq == l->last_seq + 1, "%s: on_event seq %lld after %lld", l->name, (long long)seq,
			  (long long)l->last_seq);
		l->last_seq = seq;
	}
	l->events++;
}

static void cb_ack(void *ud, const char *ch, const char *cmid, int64_t seq)
{
	struct lc *l = ud;

	(void)ch;
	(void)cmid;
	TH_CHECK(seq > 0);
	l->acks++;
}

static void cb_error(void *ud, const char *ch, const char *cmid, const char *code, const char *message)
{
	struct lc *l = ud;

	th_log("%s: error in #%s (%s): %s %s", l->name, ch ? ch : "-", cmid ? cmid : "-", code,
	       message ? message : "");
	snprintf(l->last_error, sizeof(l->last_error), "%s", code);
	l->errors++;
}

static void cb_reset(void *ud, const char *ch, const char *old_epoch, const char *new_epoch)
{
	struct lc *l = ud;

	th_log("%s: #%s reset, epoch %s -> %s", l->name, ch, old_epoch, new_epoch);
	if(strcmp(ch, "general") == 0) {
		l->last_seq = 0;
	}
	l->resets++;
}

static void cb_synced(void *ud)
{
	((struct lc *)ud)->synced++;
}

static void cb_typing(void *ud, const char *ch, const char *user, bool typing)
{
	struct lc *l = ud;

	(void)ch;
	if(typing) {
		snprintf(l->typing_user, sizeof(l->typing_user), "%s", user);
	}
}

static void cb_presence(void *ud, const char *ch, const char *user, bool online)
{
	struct lc *l = ud;

	(void)ch;
	if(online) {
		snprintf(l->online_user, sizeof(l->online_user), "%s", user);
	}
}

static void cb_log(void *ud, const char *line)
{
	struct lc *l = ud;

	th_log("%s: %s", l->name, line);
	l->paused += strncmp(line, "rate_limited: sends paused", 26) == 0;
}


/* A library client of user on b (client id id, state file <broker dir>/<id>.state), connecting.
 * check_order: whether on_event's seqs are checked (not across a restart from a state file). */
static struct lc *lib_open(struct th_broker *b, const char *user, const char *id, int protocol)
{
	struct lc *l = calloc(1, sizeof(*l));
	char state[64], password[32];
	char *path;
	struct mqc_options o = {.port = b->port, .user = user, .client_id = id, .protocol = protocol};

	TH_CHECK(l != NULL);
	snprintf(state, sizeof(state), "%s.state", id);
	snprintf(password, sizeof(password), "%s-pw", user);
	path = th_tmpfile(b, state);
	o.password = password;
	o.state_path = path;
	o.userdata = l;
	o.retry_ms = 1000;
	o.cb = (struct mqc_callbacks){.on_event = cb_event,
				      .on_ack = cb_ack,
				      .on_error = cb_error,
				      .on_reset = cb_reset,
				      .on_synced = cb_synced,
				      .on_typing = cb_typing,
				      .on_presence = cb_presence,
				      .on_log = cb_log};
	l->name = id;
	l->c = mqc_new(&o);
	TH_CHECKF(l->c != NULL, "mqc_new: %s", strerror(errno));
	free(path);
	l->last_seq = mqc_cursor(l->c, "general", NULL);
	l->last_seq = l->last_seq < 0 ? 0 : l->last_seq;
	TH_EQ_INT(mqc_connect(l->c), MQC_OK);
	return l;
}

static void lib_close(struct lc *l)
{
	mqc_free(l->c);
	free(l);
}

/* Runs the clients' loops until cond holds; fails the test after ms. */
#define LIB_WAIT(cond, ms, ...)                                                                              \
	do {                                                                                                 \
		struct lc *lw_[] = {__VA_ARGS__};                                                            \
		long long lw_deadline_ = th_now_ms() + (ms);                                                 \
		while(!(cond)) {                                                                             \
			if(th_now_ms() > lw_deadline_) {                                                     \
				th_fail(__FILE__, __LINE__, "still false after %d ms: %s", (int)(ms),        \
					#cond);                                                              \
			}                                                                                    \
			for(size_t lw_i_ = 0; lw_i_ < sizeof(lw_) / sizeof(lw_[0]); lw_i_++) {               \
				mqc_loop(lw_[lw_i_]->c, 5);                                                  \
			}                                                                                    \
		}                                                                                            \
	} while(0)


static bool collect(void *arg, const cJSON *ev)
{
	cJSON_AddItemToArray(arg, cJSON_Duplicate(ev, true));
	return true;
}

/* The server's log of ch, read by catch-up from 0 by a connection of user of its own. */
static cJSON *server_log(struct th_broker *b, const char *user, const char *ch)
{
	struct th_client *reader = th_connect(b, user, NULL, 5, true);
	cJSON *log = tc_history(reader, ch);

	th_disconnect(reader);
	return log;
}

/* The client's history of ch equals the server's log (cJSON_Compare, event by event). Returns the
 * server's log (caller deletes). */
#define expect_same_history(b, l, user, ch) expect_same_history_at(__FILE__, __LINE__, (b), (l), (user), (ch))

static cJSON *expect_same_history_at(const char *file, int line, struct th_broker *b, struct lc *l,
				     const char *user, const char *ch)
{
	cJSON *server = server_log(b, user, ch), *mine = cJSON_CreateArray();
	int n = cJSON_GetArraySize(server);

	TH_EQ_INT(mqc_history(l->c, ch, collect, mine), cJSON_GetArraySize(mine));
	if(cJSON_GetArraySize(mine) != n) {
		th_fail(file, line, "%s: %d events in the client's history, %d in the server's log", l->name,
			cJSON_GetArraySize(mine), n);
	}
	for(int i = 0; i < n; i++) {
		if(!cJSON_Compare(cJSON_GetArrayItem(mine, i), cJSON_GetArrayItem(server, i), true)) {
			th_fail(file, line, "%s: event %d differs:\n  client: %s\n  server: %s", l->name, i,
				th_json_print(cJSON_GetArrayItem(mine, i)),
				th_json_print(cJSON_GetArrayItem(server, i)));
		}
	}
	TH_EQ_INT(mqc_cursor(l->c, ch, NULL), n);
	cJSON_Delete(mine);
	return server;
}

/* Each body "<prefix><i>", i < count, is in log exactly once, and no other body with prefix is. */
static void expect_each_once(const cJSON *log, const char *prefix, int count)
{
	int *seen = calloc((size_t)count, sizeof(int));
	const cJSON *ev;
	size_t plen = strlen(prefix);

	cJSON_ArrayForEach(ev, log) {
		const char *body = th_json_str(ev, "body");
		if(body && strncmp(body, prefix, plen) == 0) {
			int i = atoi(body + plen);
			TH_CHECKF(i >= 0 && i < count, "unexpected body %s", body);
			seen[i]++;
		}
	}
	for(int i = 0; i < count; i++) {
		TH_CHECKF(seen[i] == 1, "%s%d stored %d times", prefix, i, seen[i]);
	}
	free(seen);
}

/* A broker with #general (ada, bo). */
static void start_with_general(struct th_broker *b, const char *extra)
{
	struct th_client *adm;

	th_broker_start(b, "%s", extra);
	tc_sign_in(b, "bo", NULL);
	adm = th_connect(b, "ada", "ada-admin", 5, true);
	tc_api_ok(adm, "{\"op\":\"create\",\"channel\":\"general\",\"members\":[\"bo\"]}");
	th_disconnect(adm);
}


/* Ada (MQTT 5) and Bo (3.1.1) exchange 30 messages each, with typing and presence. */
static void test_two_users(void)
{
	struct th_broker b;
	struct lc *ada, *bo;
	cJSON *log;
	char body[32];

	start_with_general(&b, RATES);
	bo = lib_open(&b, "bo", "bo-dev", 4);
	LIB_WAIT(bo->synced > 0, 5000, bo);
	ada = lib_open(&b, "ada", "ada-dev", 5);
	LIB_WAIT(ada->synced > 0 && strcmp(bo->online_user, "ada") == 0, 5000, ada, bo);
	TH_EQ_INT(mqc_cursor(ada->c, "general", NULL), 2); /* the two joins */
	for(int i = 0; i < 30; i++) {
		snprintf(body, sizeof(body), "a-%d", i);
		TH_EQ_INT(mqc_send(ada->c, "general", body, NULL), MQC_OK);
		snprintf(body, sizeof(body), "b-%d", i);
		TH_EQ_INT(mqc_send(bo->c, "general", body, NULL), MQC_OK);
		mqc_loop(ada->c, 1);
		mqc_loop(bo->c, 1);
	}
	LIB_WAIT(mqc_outbox_count(ada->c) + mqc_outbox_count(bo->c) == 0
			 && mqc_cursor(ada->c, "general", NULL) == 62
			 && mqc_cursor(bo->c, "general", NULL) == 62,
		 20000, ada, bo);
	TH_EQ_INT(ada->acks, 30);
	TH_EQ_INT(bo->acks, 30);
	TH_EQ_INT(ada->errors + bo->errors, 0);
	TH_EQ_INT(ada->events, 62);
	TH_EQ_INT(mqc_typing(ada->c, "general", true), MQC_OK);
	LIB_WAIT(strcmp(bo->typing_user, "ada") == 0, 5000, ada, bo);

	log = expect_same_history(&b, ada, "ada", "general");
	cJSON_Delete(log);
	log = expect_same_history(&b, bo, "bo", "general");
	expect_each_once(log, "a-", 30);
	expect_each_once(log, "b-", 30);
	cJSON_Delete(log);
	lib_close(ada);
	lib_close(bo);
	th_broker_stop(&b);
}


/* The child of run_client_killed: sends "k<round>-0", "k<round>-1", ... and reports each index on fd
 * once mqc_send() has queued it. Never returns. */
static void sending_child(int port, int fd, int protocol, const char *state, int round)
{
	struct mqc_options o = {.port = port,
				.user = "ada",
				.password = "ada-pw",
				.client_id = "ada-dev",
				.protocol = protocol,
				.state_path = state};
	struct mqc *c = mqc_new(&o);
	char body[32];

	if(c == NULL) {
		_exit(3);
	}
	mqc_connect(c);
	for(int i = 0; i < 100000; i++) {
		snprintf(body, sizeof(body), "k%d-%d", round, i);
		if(mqc_send(c, "general", body, NULL) != MQC_OK || write(fd, &i, sizeof(i)) != sizeof(i)) {
			_exit(4);
		}
		mqc_loop(c, 2);
	}
	_exit(5); /* not reached: the parent kills it long before */
}


static int count_prefix(const cJSON *log, const char *prefix)
{
	const cJSON *ev;
	int n = 0;

	cJSON_ArrayForEach(ev, log) {
		const char *body = th_json_str(ev, "body");
		n += body && strncmp(body, prefix, strlen(prefix)) == 0;
	}
	return n;
}


/* A device sending in a loop is killed (SIGKILL) mid-send, three times, and restarted from its state
 * file each time; at the end every message it queued is stored exactly once. */
static void run_client_killed(int protocol)
{
	struct th_broker b;
	struct lc *ada;
	char *state;
	int queued[3] = {0, 0, 0};
	cJSON *log;

	start_with_general(&b, RATES);
	state = th_tmpfile(&b, "ada-dev.state");
	for(int round = 0; round < 3; round++) {
		int fds[2], status = 0, i = -1, target = 40 + 30 * round;
		pid_t pid;

		TH_CHECK(pipe(fds) == 0);
		pid = fork();
		TH_CHECK(pid >= 0);
		if(pid == 0) {
			close(fds[0]);
			sending_child(b.port, fds[1], protocol, state, round);
		}
		close(fds[1]);
		for(long long deadline = th_now_ms() + 20000; queued[round] < target;) {
			struct pollfd p = {fds[0], POLLIN, 0};
			TH_CHECKF(th_now_ms() < deadline, "the child queued only %d", queued[round]);
			if(poll(&p, 1, 100) > 0 && read(fds[0], &i, sizeof(i)) == sizeof(i)) {
				queued[round] = i + 1;
			}
		}
		kill(pid, SIGKILL);
		TH_EQ_INT(waitpid(pid, &status, 0), pid);
		TH_CHECK(WIFSIGNALED(status));
		while(read(fds[0], &i, sizeof(i)) == sizeof(i)) {
			queued[round] = i + 1; /* what it reported before it died */
		}
		close(fds[0]);
		/* restarted from the same state file: it sends again what may not have been stored */
		ada = lib_open(&b, "ada", "ada-dev", protocol);
		th_log("round %d: killed after queueing %d; %d left in its outbox", round, queued[round],
		       mqc_outbox_count(ada->c));
		LIB_WAIT(mqc_outbox_count(ada->c) == 0 && ada->synced > 0, 20000, ada);
		lib_close(ada);
	}
	ada = lib_open(&b, "ada", "ada-dev", protocol);
	LIB_WAIT(ada->synced > 0, 5000, ada);
	log = expect_same_history(&b, ada, "ada", "general");
	for(int round = 0; round < 3; round++) {
		char prefix[16];
		int stored;

		snprintf(prefix, sizeof(prefix), "k%d-", round);
		stored = count_prefix(log, prefix);
		/* one more than reported: queued (in the state file) just before the kill, not reported */
		TH_CHECKF(stored == queued[round] || stored == queued[round] + 1,
			  "round %d: stored %d, queued %d", round, stored, queued[round]);
		expect_each_once(log, prefix, stored);
	}
	cJSON_Delete(log);
	lib_close(ada);
	free(state);
	th_broker_stop(&b);
}

static void test_client_killed_mid_send_v311(void)
{
	run_client_killed(4);
}

static void test_client_killed_mid_send_v5(void)
{
	run_client_killed(5);
}


/* The broker is killed -9 while the device sends 150 messages, and comes back: each is stored once. */
static void run_broker_killed(int protocol)
{
	struct th_broker b;
	struct lc *ada;
	char body[32];
	cJSON *log;

	start_with_general(&b, RATES);
	ada = lib_open(&b, "ada", "ada-dev", protocol);
	LIB_WAIT(ada->synced > 0, 5000, ada);
	for(int i = 0; i < 150; i++) {
		snprintf(body, sizeof(body), "s-%d", i);
		TH_EQ_INT(mqc_send(ada->c, "general", body, NULL), MQC_OK);
		for(int k = 0; k < 3 && (i < 40 || i > 60); k++) {
			mqc_loop(ada->c, 1); /* 40..60: sent, their acks left unread when the broker dies */
		}
		if(i == 60) {
			th_log("kill -9 with %d messages unacknowledged", mqc_outbox_count(ada->c));
			th_broker_kill9(&b);
		} else if(i == 100) {
			th_broker_restart(&b);
		}
	}
	LIB_WAIT(mqc_outbox_count(ada->c) == 0 && mqc_is_synced(ada->c)
			 && mqc_cursor(ada->c, "general", NULL) == 152,
		 30000, ada);
	log = expect_same_history(&b, ada, "ada", "general");
	expect_each_once(log, "s-", 150);
	cJSON_Delete(log);
	lib_close(ada);
	th_broker_stop(&b);
}

static void test_broker_killed_during_sends_v5(void)
{
	run_broker_killed(5);
}

static void test_broker_killed_during_sends_v311(void)
{
	run_broker_killed(4);
}


/* Bo's device is away while Ada sends 1,100 messages (more than the broker queues for it): when it
 * comes back it applies each exactly once, in order, and its history is the server's. */
static void run_offline(int protocol)
{
	struct th_broker b;
	struct lc *bo;
	struct th_client *ada;
	cJSON *log;
	char body[32];

	start_with_general(&b, RATES);
	bo = lib_open(&b, "bo", "bo-dev", protocol);
	LIB_WAIT(bo->synced > 0, 5000, bo);
	lib_close(bo); /* its session (chat/# at QoS 1) stays: the broker queues what it can */
	ada = th_connect(&b, "ada", "ada-th", 5, true);
	for(int i = 0; i < 1100; i++) {
		snprintf(body, sizeof(body), "o-%d", i);
		TH_EQ_INT(th_publish_async(ada, "chat/general", body, -1, 1, NULL), MOSQ_ERR_SUCCESS);
	}
	th_wait_until(th_acked_count(ada) == 1100, 30000);
	th_disconnect(ada);

	bo = lib_open(&b, "bo", "bo-dev", protocol);
	LIB_WAIT(bo->synced > 0 && mqc_cursor(bo->c, "general", NULL) == 1102, 30000, bo);
	TH_EQ_INT(bo->events, 1100); /* each once, in order (cb_event checks) */
	log = expect_same_history(&b, bo, "bo", "general");
	expect_each_once(log, "o-", 1100);
	cJSON_Delete(log);
	lib_close(bo);
	th_broker_stop(&b);
}

static void test_offline_1100_v311(void)
{
	run_offline(4);
}

static void test_offline_1100_v5(void)
{
	run_offline(5);
}


/* With the shipped rate limits (bursts of 100 sends, then 20 a second), 160 messages queued at once
 * over MQTT 3.1.1, where the sends refused past the first rate_limited error of each second get no
 * answer at all: the outbox pauses and retries, and each message is stored once. A send refused for
 * good (not a member) leaves the outbox with on_error. */
static void test_rate_limited_and_refused_v311(void)
{
	struct th_broker b;
	struct th_client *cy;
	struct lc *bo;
	char body[32];
	cJSON *log;

	start_with_general(&b, "");
	cy = th_connect(&b, "cy", "cy-th", 5, true);
	tc_api_ok(cy, "{\"op\":\"create\",\"channel\":\"ops\"}");
	th_disconnect(cy);
	bo = lib_open(&b, "bo", "bo-dev", 4);
	LIB_WAIT(bo->synced > 0, 5000, bo);
	TH_EQ_INT(mqc_send(bo->c, "ops", "not a member", NULL), MQC_OK);
	LIB_WAIT(bo->errors == 1, 5000, bo);
	TH_EQ_STR(bo->last_error, "not_member");
	TH_EQ_INT(mqc_outbox_count(bo->c), 0);
	TH_EQ_INT(mqc_send(bo->c, "bad/channel", "x", NULL), MQC_ERR_INVAL);
	for(int i = 0; i < 160; i++) {
		snprintf(body, sizeof(body), "r-%d", i);
		TH_EQ_INT(mqc_send(bo->c, "general", body, NULL), MQC_OK);
	}
	LIB_WAIT(mqc_outbox_count(bo->c) == 0 && mqc_is_synced(bo->c)
			 && mqc_cursor(bo->c, "general", NULL) == 162,
		 40000, bo);
	TH_EQ_INT(bo->acks, 160);
	TH_EQ_INT(bo->errors, 1);
	TH_CHECK(bo->paused > 0); /* the server did refuse some: this test saw the retry path */
	log = expect_same_history(&b, bo, "bo", "general");
	expect_each_once(log, "r-", 160);
	cJSON_Delete(log);
	lib_close(bo);
	th_broker_stop(&b);
}


/* A client id with + # and %: its answers come on chat/_reply/bo%2Bdev%231%25x (docs/protocol.md,
 * "Replies"), which the library computes, so acks and pages find it over 3.1.1 too. */
static void test_client_id_with_wildcards_v311(void)
{
	struct th_broker b;
	struct lc *bo;
	cJSON *log;

	start_with_general(&b, RATES);
	bo = lib_open(&b, "bo", "bo+dev#1%x", 4);
	LIB_WAIT(bo->synced > 0, 5000, bo);
	for(int i = 0; i < 3; i++) {
		char body[16];
		snprintf(body, sizeof(body), "w-%d", i);
		TH_EQ_INT(mqc_send(bo->c, "general", body, NULL), MQC_OK);
	}
	LIB_WAIT(bo->acks == 3 && mqc_cursor(bo->c, "general", NULL) == 5, 5000, bo);
	log = expect_same_history(&b, bo, "bo", "general");
	expect_each_once(log, "w-", 3);
	cJSON_Delete(log);
	lib_close(bo);
	th_broker_stop(&b);
}


/* A new device of a user in 30 channels catches all of them up (8 at a time) and reports synced. */
static void test_many_channels_v5(void)
{
	struct th_broker b;
	struct th_client *ada;
	struct lc *bo;
	char name[16], cmid[32];
	cJSON *log;

	th_broker_start(&b, RATES);
	tc_sign_in(&b, "bo", NULL);
	ada = th_connect(&b, "ada", "ada-th", 5, true);
	for(int i = 0; i < 30; i++) {
		snprintf(name, sizeof(name), "ch-%02d", i);
		tc_api_ok(ada, "{\"op\":\"create\",\"channel\":\"%s\",\"members\":[\"bo\"]}", name);
		for(int k = 0; k < 3; k++) {
			snprintf(cmid, sizeof(cmid), "%s-%d", name, k);
			cJSON_Delete(tc_send(ada, name, cmid, cmid));
		}
	}
	th_disconnect(ada);
	bo = lib_open(&b, "bo", "bo-dev", 5);
	LIB_WAIT(bo->synced > 0, 10000, bo);
	TH_EQ_INT(bo->events, 30 * 5); /* two joins and three messages each */
	for(int i = 0; i < 30; i++) {
		snprintf(name, sizeof(name), "ch-%02d", i);
		TH_EQ_INT(mqc_cursor(bo->c, name, NULL), 5);
	}
	log = expect_same_history(&b, bo, "bo", "ch-29");
	cJSON_Delete(log);
	lib_close(bo);
	th_broker_stop(&b);
}


/* The epoch of channel ch, from a catch-up page (malloc'd). */
/* Retention cut the log below what the device had (docs/protocol.md, "truncated"): the library takes
 * the catch-up's first as its cursor instead of asking for the gap forever, and its history ends
 * with exactly the kept log. Bo's session goes with a restart (the harness runs without persistence),
 * so nothing queued live hides the cut. */
static void test_history_cut_by_retention_v5(void)
{
	struct th_broker b;
	struct th_client *ada;
	struct lc *bo;
	cJSON *kept, *mine, *page;
	char body[32];
	int n, m;

	start_with_general(&b, RATES "plugin_opt_retention_count 10\nplugin_opt_retention_check_ms 50\n");
	bo = lib_open(&b, "bo", "bo-dev", 5);
	LIB_WAIT(bo->synced > 0 && mqc_cursor(bo->c, "general", NULL) == 2, 5000, bo);
	lib_close(bo);
	th_broker_restart(&b);
	ada = th_connect(&b, "ada", "ada-th", 5, true);
	for(int i = 0; i < 30; i++) {
		snprintf(body, sizeof(body), "r-%d", i);
		cJSON_Delete(tc_send(ada, "general", body, body));
	}
	/* the newest 10 stay: 23..32 */
	page = NULL;
	for(long long deadline = th_now_ms() + 10000; th_now_ms() < deadline; th_sleep_ms(20)) {
		cJSON_Delete(page);
		page = tc_sync(ada, "general", 0, 100);
		if(cJSON_IsTrue(cJSON_GetObjectItem(page, "truncated")) && th_json_int(page, "first") == 23) {
			break;
		}
	}
	TH_EQ_INT(th_json_int(page, "first"), 23);
	cJSON_Delete(page);
	th_disconnect(ada);

	bo = lib_open(&b, "bo", "bo-dev", 5);
	bo->last_seq = 22; /* cb_event's order check: the next event it sees is the first kept, 23 */
	LIB_WAIT(bo->synced > 0 && mqc_cursor(bo->c, "general", NULL) == 32, 10000, bo);
	ada = th_connect(&b, "ada", "ada-th", 5, true);
	page = tc_sync(ada, "general", 0, 100); /* the kept log: one page */
	th_disconnect(ada);
	kept = cJSON_DetachItemFromObject(page, "events");
	cJSON_Delete(page);
	mine = cJSON_CreateArray();
	mqc_history(bo->c, "general", collect, mine);
	n = cJSON_GetArraySize(kept);
	m = cJSON_GetArraySize(mine);
	TH_EQ_INT(n, 10);
	TH_EQ_INT(m, 12); /* the two joins it had, then the kept ten */
	for(int i = 0; i < n; i++) {
		TH_CHECK(cJSON_Compare(cJSON_GetArrayItem(mine, m - n + i), cJSON_GetArrayItem(kept, i),
				       true));
	}
	cJSON_Delete(kept);
	cJSON_Delete(mine);
	lib_close(bo);
	th_broker_stop(&b);
}


static char *server_epoch(struct th_broker *b, const char *ch)
{
	struct th_client *r = th_connect(b, "ada", NULL, 5, true);
	cJSON *page = tc_sync(r, ch, 0, 1);
	char *epoch = strdup(th_json_str(page, "epoch"));

	cJSON_Delete(page);
	th_disconnect(r);
	return epoch;
}

static void copy_file(const char *from, const char *to)
{
	int status = -1;
	char *out = th_run(&status, "cp '%s' '%s'", from, to);

	TH_EQ_INT(status, 0);
	free(out);
}


/* A backup is restored under a device that had seen more than the backup holds: the log it knew is
 * gone, and seqs it has are now other events. With a new epoch the device drops its copy, catches up
 * from 0, and ends with the restored log plus what came after, the server's log exactly. */
static void test_restored_backup_new_epoch(void)
{
	struct th_broker b;
	struct th_client *ada;
	struct lc *bo;
	char *backup, *before, *after, cmid[32];
	cJSON *log;

	start_with_general(&b, RATES);
	ada = th_connect(&b, "ada", "ada-th", 5, true);
	for(int i = 0; i < 5; i++) {
		snprintf(cmid, sizeof(cmid), "kept-%d", i);
		cJSON_Delete(tc_send(ada, "general", cmid, "kept"));
	}
	th_disconnect(ada);
	th_broker_stop(&b); /* a clean stop: the database file alone is the backup */
	backup = th_tmpfile(&b, "backup.db");
	copy_file(b.db_path, backup);
	th_broker_restart(&b);
	before = server_epoch(&b, "general");

	bo = lib_open(&b, "bo", "bo-dev", 5);
	ada = th_connect(&b, "ada", "ada-th", 5, true);
	for(int i = 0; i < 5; i++) {
		snprintf(cmid, sizeof(cmid), "lost-%d", i);
		cJSON_Delete(tc_send(ada, "general", cmid, "lost with the restore"));
	}
	th_disconnect(ada);
	LIB_WAIT(bo->synced > 0 && mqc_cursor(bo->c, "general", NULL) == 12, 10000, bo);
	lib_close(bo);

	th_broker_stop(&b);
	copy_file(backup, b.db_path);
	th_broker_restart(&b);
	after = server_epoch(&b, "general");
	if(strcmp(before, after) == 0) {
		/* a server that does not yet renew epochs on restore: do what it would */
		sqlite3 *db;
		th_log("the restore kept epoch %s: renewing it as the server should", before);
		th_broker_stop(&b);
		TH_EQ_INT(sqlite3_open(b.db_path, &db), SQLITE_OK);
		TH_EQ_INT(sqlite3_exec(
				  db, "UPDATE channels SET epoch = 'restored-epoch-1' WHERE name = 'general'",
				  NULL, NULL, NULL),
			  SQLITE_OK);
		sqlite3_close(db);
		th_broker_restart(&b);
		free(after);
		after = server_epoch(&b, "general");
	}
	TH_CHECK(strcmp(before, after) != 0);
	ada = th_connect(&b, "ada", "ada-th", 5, true);
	for(int i = 0; i < 3; i++) {
		snprintf(cmid, sizeof(cmid), "after-%d", i);
		cJSON_Delete(tc_send(ada, "general", cmid, "after the restore"));
	}
	th_disconnect(ada);

	bo = lib_open(&b, "bo", "bo-dev", 5);
	TH_EQ_INT(bo->last_seq, 12); /* what it had */
	LIB_WAIT(bo->synced > 0 && bo->resets == 1 && mqc_cursor(bo->c, "general", NULL) == 10, 10000, bo);
	log = expect_same_history(&b, bo, "bo", "general");
	TH_EQ_STR(th_json_str(cJSON_GetArrayItem(log, 9), "body"), "after the restore");
	{
		char epoch[40];
		mqc_cursor(bo->c, "general", epoch);
		TH_EQ_STR(epoch, after);
	}
	cJSON_Delete(log);
	lib_close(bo);
	free(backup);
	free(before);
	free(after);
	th_broker_stop(&b);
}


/* mqchat-cli: prints the history, sends stdin's lines, exits once they are acknowledged. */
static void test_cli(void)
{
	struct th_broker b;
	struct th_client *ada;
	int status = -1;
	char *out, *state;
	cJSON *log;

	start_with_general(&b, RATES);
	ada = th_connect(&b, "ada", "ada-th", 5, true);
	cJSON_Delete(tc_send(ada, "general", "c-1", "hello from ada"));
	tc_api_ok(ada, "{\"op\":\"create\",\"channel\":\"ops\",\"members\":[\"bo\"]}");
	cJSON_Delete(tc_send(ada, "ops", "c-2", "deploy at noon"));
	cJSON_Delete(tc_send(ada, "ops", "c-3", "done"));
	state = th_tmpfile(&b, "cli.state");
	out = th_run(&status,
		     "printf 'hi ada\\nsecond line\\n' | MQCHAT_PASSWORD=bo-pw %s/mqchat-cli -4 -s %s "
		     "bo@127.0.0.1:%d general",
		     TH_BINARY_DIR, state, b.port);
	th_log("%s", out);
	TH_EQ_INT(status, 0);
	TH_CHECK(strstr(out, "[3] ada: hello from ada") != NULL);
	TH_CHECK(strstr(out, "unread: #ops: 2 unread") != NULL);
	free(out);
	log = server_log(&b, "ada", "general");
	TH_EQ_INT(cJSON_GetArraySize(log), 5);
	TH_EQ_STR(th_json_str(cJSON_GetArrayItem(log, 3), "body"), "hi ada");
	TH_EQ_STR(th_json_str(cJSON_GetArrayItem(log, 4), "body"), "second line");
	cJSON_Delete(log);
	/* again, with nothing to send: the history now comes from the state's events file */
	out = th_run(&status,
		     "MQCHAT_PASSWORD=bo-pw %s/mqchat-cli -4 -n 2 -s %s bo@127.0.0.1:%d general </dev/null",
		     TH_BINARY_DIR, state, b.port);
	th_log("%s", out);
	TH_EQ_INT(status, 0);
	TH_CHECK(strstr(out, "[4] bo: hi ada\n[5] bo: second line") != NULL);
	TH_CHECK(strstr(out, "hello from ada") == NULL); /* -n 2: the last two only */
	free(out);
	free(state);
	th_disconnect(ada);
	th_broker_stop(&b);
}


/* docs/protocol.md, "Writing a client": each ```sh example block's commands, run as written with $P
 * set; a line "# -> text" after a command says what its output must contain. */
static void test_protocol_examples(void)
{
	struct th_broker b;
	FILE *f;
	char *line = NULL, *cmd = NULL;
	size_t cap = 0;
	bool in_section = false, in_block = false;
	int ran = 0, checked = 0;
	struct th_client *bo;

	th_broker_start(&b, "");
	tc_sign_in(&b, "bo", "cy", NULL);
	bo = th_connect(&b, "bo", "bo-listener", 5, true);
	f = fopen(TH_SOURCE_DIR "/docs/protocol.md", "r");
	TH_CHECK(f != NULL);
	char *out = NULL;
	while(getline(&line, &cap, f) > 0) {
		line[strcspn(line, "\n")] = '\0';
		if(strncmp(line, "## ", 3) == 0) {
			in_section = strcmp(line, "## Writing a client") == 0;
		} else if(in_section && strcmp(line, "```sh example") == 0) {
			in_block = true;
		} else if(in_block && strcmp(line, "```") == 0) {
			in_block = false;
		} else if(in_block && strncmp(line, "# -> ", 5) == 0) {
			TH_CHECKF(out != NULL && strstr(out, line + 5) != NULL,
				  "expected \"%s\" in the output of %s: %s", line + 5, cmd,
				  out ? out : "(none)");
			checked++;
		} else if(in_block && line[0] != '#' && line[0] != '\0') {
			int status = -1;
			free(out);
			free(cmd);
			cmd = strdup(line);
			out = th_run(&status, "P='-h 127.0.0.1 -p %d'; %s", b.port, line);
			th_log("$ %s\n%s", line, out);
			TH_EQ_INT(status, 0);
			ran++;
		}
	}
	fclose(f);
	free(line);
	free(out);
	free(cmd);
	TH_CHECKF(ran >= 3 && checked >= 3, "ran %d commands, checked %d outputs", ran, checked);
	th_disconnect(bo);
	th_broker_stop(&b);
}


TH_TEST_LIST(TH_TEST(test_two_users), TH_TEST(test_history_cut_by_retention_v5),
	     TH_TEST(test_client_killed_mid_send_v311), TH_TEST(test_client_killed_mid_send_v5),
	     TH_TEST(test_broker_killed_during_sends_v5), TH_TEST(test_broker_killed_during_sends_v311),
	     TH_TEST(test_offline_1100_v311), TH_TEST(test_offline_1100_v5),
	     TH_TEST(test_restored_backup_new_epoch), TH_TEST(test_rate_limited_and_refused_v311),
	     TH_TEST(test_many_channels_v5), TH_TEST(test_client_id_with_wildcards_v311), TH_TEST(test_cli),
	     TH_TEST(test_protocol_examples))
