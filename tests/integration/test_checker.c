/*
 * test_checker.c - a Jepsen-style checker: a workload of many writers on several channels, live
 * readers and catch-up readers runs against a nemesis (kill -9 of the broker, SIGSTOP/SIGCONT pauses,
 * writers dropped with sends in flight, catch-up readers dropped mid-page, simulated power loss), and
 * the promise "an acknowledged message is never lost, never duplicated, never out of order" is
 * checked per channel:
 *
 *   I1 every acknowledged send is in the log at its acknowledged seq, with its acknowledged id;
 *   I2 no event twice: every event id and every client_msg_id appears at most once in the log;
 *   I3 seqs run 1, 2, 3... without a gap (and catch-up pages chain);
 *   I4 all readers see one history: whatever seq a live reader or a catch-up reader saw carries the
 *      same event in the final log (so nothing seen live is missing from the log);
 *   I5 a live reader sees each channel's seqs strictly increasing within a connection;
 *   I6 every send retried with its client_msg_id ends in the log exactly once, and a retry of an
 *      acknowledged send is answered with the original seq and id.
 *
 * Environment: MQCHAT_CHECKER_CYCLES (fault cycles per test, default 6), MQCHAT_CHECKER_OPS (at most
 * this many sends per cycle, default 300), MQCHAT_CHECKER_SEED (default: from the clock; printed).
 * Each test writes its summary line to <build>/tests/reliability-summary-<test>.txt, which
 * tools/test.sh prints, and logs it as a TAP comment.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "th_chat.h"

#define NCH          3
#define NWRITERS     4
#define NREADERS     2
#define MAX_INFLIGHT 16
#define ID_LEN       40

static const char *const writer_user[NWRITERS] = {"ada", "ada", "bo", "cy"};
static const char *const writer_id[NWRITERS] = {"ada-1", "ada-2", "bo-1", "cy-1"};
static const int writer_proto[NWRITERS] = {5, 4, 5, 4};
static const char *const reader_user[NREADERS] = {"dee", "eve"};
static const char *const reader_filter[NREADERS] = {"chat/+", "chat/#"};

struct op {
	int ch, writer;
	bool acked, lost_once;
	long long seq;
	char id[ID_LEN];
};

/* What some reader saw at one seq of one channel. */
struct seen {
	char id[ID_LEN];
};

struct checker {
	uint64_t rng;
	bool lossy; /* power loss at synchronous=normal: the log may lose its last acknowledged events */
	const char *fault_dir; /* faultvfs's control directory when storage faults are injected, else NULL */
	struct op *ops;
	int nops, cap;
	struct seen *seen[NCH];
	long long seen_cap[NCH];
	struct th_client *w[NWRITERS], *r[NREADERS], *cu;
	int inflight[NWRITERS];
	long long last_live[NREADERS][NCH];
	long long cu_cursor[NCH];
	/* figures */
	long long sends, retries, acks, dup_acks, live_events, cu_pages, cu_events, checks, violations;
	long long lost_acked, cu_stale;
	int kills, pauses, writer_drops, cu_drops, storage_faults;
	long long unavailable;
};

static struct checker K;


static uint64_t rnd(void)
{
	K.rng ^= K.rng << 13;
	K.rng ^= K.rng >> 7;
	K.rng ^= K.rng << 17;
	return K.rng;
}


static int rnd_below(int n)
{
	return (int)(rnd() % (uint64_t)n);
}


static int env_int(const char *name, int def)
{
	const char *v = getenv(name);
	return v && *v ? atoi(v) : def;
}


static void violation(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void violation(const char *fmt, ...)
{
	va_list ap;
	char buf[512];

	K.violations++;
	if(K.violations <= 20) {
		va_start(ap, fmt);
		vsnprintf(buf, sizeof(buf), fmt, ap);
		va_end(ap);
		th_log("VIOLATION: %s", buf);
	}
}


static void check(bool ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void check(bool ok, const char *fmt, ...)
{
	K.checks++;
	if(!ok) {
		va_list ap;
		char buf[512];
		va_start(ap, fmt);
		vsnprintf(buf, sizeof(buf), fmt, ap);
		va_end(ap);
		violation("%s", buf);
	}
}


static int channel_index(const char *ch)
{
	if(ch && strlen(ch) == 2 && ch[0] == 'c' && ch[1] >= '0' && ch[1] < '0' + NCH) {
		return ch[1] - '0';
	}
	return -1;
}


/* I4: the first reader to see (ch, seq) records its event id; every later sighting must agree. */
static void saw(int ch, long long seq, const char *id, const char *who)
{
	if(seq >= K.seen_cap[ch]) {
		long long cap = K.seen_cap[ch] ? K.seen_cap[ch] : 1024;
		while(cap <= seq) {
			cap *= 2;
		}
		K.seen[ch] = realloc(K.seen[ch], (size_t)cap * sizeof(struct seen));
		TH_CHECK(K.seen[ch] != NULL);
		memset(K.seen[ch] + K.seen_cap[ch], 0, (size_t)(cap - K.seen_cap[ch]) * sizeof(struct seen));
		K.seen_cap[ch] = cap;
	}
	if(K.seen[ch][seq].id[0] == '\0') {
		snprintf(K.seen[ch][seq].id, ID_LEN, "%s", id);
	} else {
		check(strcmp(K.seen[ch][seq].id, id) == 0, "c%d seq %lld: %s saw %s, another reader saw %s",
		      ch, seq, who, id, K.seen[ch][seq].id);
	}
}


static void connect_writer(struct th_broker *b, int i)
{
	K.w[i] = th_connect(b, writer_user[i], writer_id[i], writer_proto[i], true);
	K.inflight[i] = 0;
}


static void connect_reader(struct th_broker *b, int i)
{
	char id[16];

	snprintf(id, sizeof(id), "%s-live", reader_user[i]);
	K.r[i] = th_connect(b, reader_user[i], id, i == 0 ? 5 : 4, true);
	TH_EQ_INT(th_subscribe(K.r[i], reader_filter[i], 1), 1);
	for(int ch = 0; ch < NCH; ch++) {
		K.last_live[i][ch] = 0;
	}
}


static void connect_all(struct th_broker *b)
{
	for(int i = 0; i < NWRITERS; i++) {
		connect_writer(b, i);
	}
	for(int i = 0; i < NREADERS; i++) {
		connect_reader(b, i);
	}
	K.cu = th_connect(b, "mallory", "mallory-cu", 5, true);
}


static void drop_all(void)
{
	for(int i = 0; i < NWRITERS; i++) {
		th_drop(K.w[i]);
		K.w[i] = NULL;
	}
	for(int i = 0; i < NREADERS; i++) {
		th_drop(K.r[i]);
		K.r[i] = NULL;
	}
	th_drop(K.cu);
	K.cu = NULL;
}


static void publish_op(int n)
{
	struct op *op = &K.ops[n];
	char payload[128];
	char topic[16];
	int mid;

	snprintf(topic, sizeof(topic), "chat/c%d", op->ch);
	snprintf(payload, sizeof(payload), "{\"client_msg_id\":\"op-%d\",\"body\":\"op %d from %s\"}", n, n,
		 writer_id[op->writer]);
	/* a failure here means the connection is gone: the op stays pending and is retried later */
	if(th_publish_async(K.w[op->writer], topic, payload, -1, 1, &mid) == 0) {
		K.inflight[op->writer]++;
	}
}


static void new_op(void)
{
	struct op *op;
	int w = rnd_below(NWRITERS);

	if(K.inflight[w] >= MAX_INFLIGHT) {
		return;
	}
	if(K.nops == K.cap) {
		K.cap = K.cap ? K.cap * 2 : 1024;
		K.ops = realloc(K.ops, (size_t)K.cap * sizeof(*K.ops));
		TH_CHECK(K.ops != NULL);
	}
	op = &K.ops[K.nops];
	memset(op, 0, sizeof(*op));
	op->ch = rnd_below(NCH);
	op->writer = w;
	K.sends++;
	publish_op(K.nops++);
}


static void handle_reply(int w, cJSON *reply)
{
	const char *cmid = th_json_str(reply, "client_msg_id");
	struct op *op;
	int n;

	K.inflight[w] = K.inflight[w] > 0 ? K.inflight[w] - 1 : 0;
	if(K.fault_dir && !cJSON_IsTrue(cJSON_GetObjectItem(reply, "ok")) && th_json_str(reply, "code")
	   && !strcmp(th_json_str(reply, "code"), "unavailable")) {
		K.unavailable++; /* refused during a storage fault: stays pending, to be retried */
		return;
	}
	if(!cJSON_IsTrue(cJSON_GetObjectItem(reply, "ok"))) {
		char *text = th_json_print(reply);
		violation("%s: a send was refused: %s", writer_id[w], text);
		free(text);
		return;
	}
	if(cmid == NULL || strncmp(cmid, "op-", 3) != 0 || (n = atoi(cmid + 3)) < 0 || n >= K.nops) {
		char *text = th_json_print(reply);
		violation("%s: an ack for no send of ours: %s", writer_id[w], text);
		free(text);
		return;
	}
	op = &K.ops[n];
	K.acks++;
	check(op->writer == w, "op-%d was sent by %s, acknowledged to %s", n, writer_id[op->writer],
	      writer_id[w]);
	check(channel_index(th_json_str(reply, "channel")) == op->ch, "op-%d: ack names the wrong channel",
	      n);
	if(cJSON_IsTrue(cJSON_GetObjectItem(reply, "duplicate"))) {
		K.dup_acks++;
	}
	if(op->acked) { /* I6: a retry is answered with the original */
		check(th_json_int(reply, "seq") == op->seq && !strcmp(th_json_str(reply, "id"), op->id),
		      "op-%d acknowledged at seq %lld (%s), again at seq %lld (%s)", n, op->seq, op->id,
		      th_json_int(reply, "seq"), th_json_str(reply, "id"));
		return;
	}
	op->acked = true;
	op->seq = th_json_int(reply, "seq");
	snprintf(op->id, ID_LEN, "%s", th_json_str(reply, "id"));
	saw(op->ch, op->seq, op->id, "an ack");
}


/* Takes every reply and live event already received, waiting up to wait_ms for the first. */
static void drain(int wait_ms)
{
	struct th_msg *m;

	for(int i = 0; i < NWRITERS; i++) {
		if(K.w[i] == NULL) {
			continue;
		}
		while((m = th_wait_msg(K.w[i], tc_reply_topic(K.w[i]), wait_ms)) != NULL) {
			cJSON *reply = th_json_parse((const char *)m->payload);
			handle_reply(i, reply);
			cJSON_Delete(reply);
			th_msg_free(m);
			wait_ms = 0;
		}
	}
	for(int i = 0; i < NREADERS; i++) {
		if(K.r[i] == NULL) {
			continue;
		}
		while((m = th_wait_msg(K.r[i], "chat/+", 0)) != NULL) {
			int ch = channel_index(m->topic + 5);
			if(ch >= 0) {
				cJSON *ev = th_json_parse((const char *)m->payload);
				long long seq = th_json_int(ev, "seq");
				K.live_events++;
				check(channel_index(th_json_str(ev, "channel")) == ch,
				      "%s: event on %s names %s", reader_user[i], m->topic,
				      th_json_str(ev, "channel"));
				/* I5: in order within one connection */
				check(seq > K.last_live[i][ch], "%s: live c%d seq %lld after %lld",
				      reader_user[i], ch, seq, K.last_live[i][ch]);
				K.last_live[i][ch] = seq;
				saw(ch, seq, th_json_str(ev, "id"), reader_user[i]);
				cJSON_Delete(ev);
			}
			th_msg_free(m);
		}
		/* anything else the wildcard brought (none expected) */
		while((m = th_wait_msg(K.r[i], "#", 0)) != NULL) {
			th_msg_free(m);
		}
	}
}


/* A catch-up page of channel ch since `since`, by the catch-up reader. Replies go to a client id, so
 * a reader that dropped its connection with a request in flight and came back under the same id may
 * still receive that request's page: like any client, it matches pages to requests (channel, since)
 * and skips stale ones. */
static cJSON *cu_request(int ch, long long since, int limit)
{
	char topic[24], payload[64];
	int mid;

	snprintf(topic, sizeof(topic), "chat/c%d/sync", ch);
	snprintf(payload, sizeof(payload), "{\"since\":%lld,\"limit\":%d}", since, limit);
	TH_EQ_INT(th_publish_async(K.cu, topic, payload, -1, 1, &mid), 0);
	for(;;) {
		cJSON *page = th_wait_json(K.cu, tc_reply_topic(K.cu), 5000);
		TH_CHECKF(page != NULL, "no catch-up page of c%d since %lld", ch, since);
		if(channel_index(th_json_str(page, "channel")) == ch && cJSON_GetObjectItem(page, "since")
		   && th_json_int(page, "since") == since) {
			return page;
		}
		K.cu_stale++;
		cJSON_Delete(page);
	}
}


/* One catch-up step of the catch-up reader; now and then it drops its connection right after the
 * request (a client gone mid-catch-up) and comes back to ask again from the same cursor. */
static void catchup_step(struct th_broker *b)
{
	int ch = rnd_below(NCH), limit = 1 + rnd_below(60);
	char payload[64], topic[24];
	cJSON *page, *ev;
	long long expect;

	snprintf(topic, sizeof(topic), "chat/c%d/sync", ch);
	snprintf(payload, sizeof(payload), "{\"since\":%lld,\"limit\":%d}", K.cu_cursor[ch], limit);
	if(rnd_below(5) == 0) {
		int mid;
		th_publish_async(K.cu, topic, payload, -1, 1, &mid);
		th_drop(K.cu);
		K.cu_drops++;
		K.cu = th_connect(b, "mallory", "mallory-cu", 5, true);
		return;
	}
	page = cu_request(ch, K.cu_cursor[ch], limit);
	K.cu_pages++;
	check(cJSON_IsTrue(cJSON_GetObjectItem(page, "ok")), "c%d: catch-up refused", ch);
	expect = K.cu_cursor[ch];
	cJSON_ArrayForEach(ev, cJSON_GetObjectItem(page, "events")) {
		long long seq = th_json_int(ev, "seq");
		/* I3: pages chain, seqs without a gap */
		check(seq == expect + 1, "c%d: catch-up since %lld returned seq %lld after %lld", ch,
		      K.cu_cursor[ch], seq, expect);
		expect = seq;
		saw(ch, seq, th_json_str(ev, "id"), "catch-up");
		K.cu_events++;
	}
	check(th_json_int(page, "next") == expect, "c%d: next %lld, last event %lld", ch,
	      th_json_int(page, "next"), expect);
	K.cu_cursor[ch] = expect;
	cJSON_Delete(page);
}


static void retry_pending(bool also_some_acked)
{
	for(int n = 0; n < K.nops; n++) {
		struct op *op = &K.ops[n];
		if(!op->acked || (also_some_acked && rnd_below(50) == 0)) {
			K.retries++;
			publish_op(n);
		}
	}
}


/* After power loss at synchronous=normal: the log may have lost its last events. Reads the heads,
 * counts the acknowledged sends beyond them as lost and makes them pending again (their retry must
 * then store them once), and forgets what readers saw beyond the heads. */
static void forget_beyond_heads(void)
{
	for(int ch = 0; ch < NCH; ch++) {
		cJSON *page = cu_request(ch, 0, 1);
		long long head = th_json_int(page, "head");
		cJSON_Delete(page);
		for(int n = 0; n < K.nops; n++) {
			if(K.ops[n].ch == ch && K.ops[n].acked && K.ops[n].seq > head) {
				K.ops[n].acked = false;
				K.ops[n].lost_once = true;
				K.lost_acked++;
			}
		}
		for(long long s = head + 1; s < K.seen_cap[ch]; s++) {
			K.seen[ch][s].id[0] = '\0';
		}
		if(K.cu_cursor[ch] > head) {
			K.cu_cursor[ch] = head;
		}
	}
}


/* SIGSTOP for 50-450 ms while the writers keep sending, then SIGCONT. */
static void pause_broker(struct th_broker *b)
{
	int pause_ms = 50 + rnd_below(400);

	TH_EQ_INT(kill(b->pid, SIGSTOP), 0);
	K.pauses++;
	for(long long until = th_now_ms() + pause_ms; th_now_ms() < until;) {
		new_op();
		th_sleep_ms(10);
	}
	TH_EQ_INT(kill(b->pid, SIGCONT), 0);
}


/* The disk full or failing with I/O errors (faultvfs) for 50-300 ms while the writers keep sending:
 * their sends are refused with unavailable and retried later; nothing of them may show anywhere. */
static void storage_fault(void)
{
	const char *name = rnd_below(2) ? "full" : "ioerr";
	int ms = 50 + rnd_below(250);
	char path[600];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", K.fault_dir, name);
	f = fopen(path, "w");
	TH_CHECK(f != NULL);
	fclose(f);
	K.storage_faults++;
	for(long long until = th_now_ms() + ms; th_now_ms() < until;) {
		new_op();
		drain(5);
	}
	TH_EQ_INT(unlink(path), 0);
}


static void one_cycle(struct th_broker *b, int max_ops)
{
	int ops = 20 + rnd_below(max_ops > 20 ? max_ops - 20 : 1);
	int fault_at = rnd_below(ops);
	/* of 20: 11 kill -9, 5 pauses, 3 writer drops, 1 none; with storage faults: 10 kill -9, 4 pauses,
	 * 3 writer drops, 3 storage faults */
	int kind = rnd_below(20);
	long long deadline = th_now_ms() + 30000;

	for(int i = 0; i < ops && th_now_ms() < deadline; i++) {
		new_op();
		if(i % 16 == 0) {
			drain(0);
		}
		if(rnd_below(40) == 0) {
			catchup_step(b);
		}
		if(i == fault_at) {
			if(K.fault_dir && kind >= 17) {
				storage_fault();
			} else if(K.fault_dir && kind >= 10 && kind <= 13) {
				pause_broker(b);
			} else if(kind <= (K.fault_dir ? 9 : 10)) {
				th_broker_kill9(b);
				K.kills++;
				drain(200); /* acks already on their way count too */
				drop_all();
				if(K.lossy) {
					th_broker_restart(b);
					connect_all(b);
					forget_beyond_heads();
				} else {
					th_broker_restart(b);
					connect_all(b);
				}
				retry_pending(true);
			} else if(!K.fault_dir && kind <= 15) {
				pause_broker(b);
			} else if(kind <= 18) {
				int w = rnd_below(NWRITERS);
				th_drop(K.w[w]);
				K.writer_drops++;
				connect_writer(b, w);
				for(int n = 0; n < K.nops; n++) {
					if(K.ops[n].writer == w && !K.ops[n].acked) {
						K.retries++;
						publish_op(n);
					}
				}
			}
		}
	}
	drain(50);
}


static int pending_count(void)
{
	int pending = 0;
	for(int n = 0; n < K.nops; n++) {
		pending += !K.ops[n].acked;
	}
	return pending;
}


/* The whole log of channel ch, page after page (as tc_history, skipping stale pages). */
static cJSON *cu_history(int ch)
{
	cJSON *all = cJSON_CreateArray();
	long long since = 0;

	for(int pages = 0; pages < 100000; pages++) {
		cJSON *page = cu_request(ch, since, 1000), *ev;
		bool more = cJSON_IsTrue(cJSON_GetObjectItem(page, "more"));
		cJSON_ArrayForEach(ev, cJSON_GetObjectItem(page, "events")) {
			cJSON_AddItemToArray(all, cJSON_Duplicate(ev, true));
		}
		since = th_json_int(page, "next");
		cJSON_Delete(page);
		if(!more) {
			return all;
		}
	}
	th_fail(__FILE__, __LINE__, "c%d: catch-up never ends", ch);
}


static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}


/* The final log of every channel against everything acknowledged and seen. */
static void check_final_log(void)
{
	char *cmid_seen = calloc((size_t)K.nops + 1, 1);

	TH_CHECK(cmid_seen != NULL);
	for(int ch = 0; ch < NCH; ch++) {
		cJSON *history = cu_history(ch), *ev;
		long long expect = 1, head;
		int nev = cJSON_GetArraySize(history);
		char **ids = calloc((size_t)nev + 1, sizeof(char *));

		cJSON_ArrayForEach(ev, history) {
			long long seq = th_json_int(ev, "seq");
			const char *cmid = th_json_str(ev, "client_msg_id");
			const char *id = th_json_str(ev, "id");

			check(seq == expect, "c%d: seq %lld where %lld belongs", ch, seq, expect); /* I3 */
			ids[expect - 1] = (char *)id;
			expect++;
			if(seq < K.seen_cap[ch] && K.seen[ch][seq].id[0]) { /* I4 */
				check(!strcmp(K.seen[ch][seq].id, id),
				      "c%d seq %lld: seen as %s, in the log as %s", ch, seq,
				      K.seen[ch][seq].id, id);
			}
			if(cmid && !strncmp(cmid, "op-", 3)) {
				int n = atoi(cmid + 3);
				TH_CHECK(n >= 0 && n < K.nops);
				check(cmid_seen[n] == 0, "op-%d is in the log twice", n); /* I2 */
				cmid_seen[n] = 1;
				check(K.ops[n].ch == ch, "op-%d in the wrong channel", n);
				check(K.ops[n].acked && K.ops[n].seq == seq
					      && !strcmp(K.ops[n].id, id), /* I1 */
				      "op-%d acknowledged at seq %lld as %s, in the log at %lld as %s", n,
				      K.ops[n].seq, K.ops[n].id, seq, id);
			}
		}
		head = expect - 1;
		/* I2: event ids unique */
		qsort(ids, (size_t)head, sizeof(char *), cmp_str);
		for(long long i = 1; i < head; i++) {
			check(strcmp(ids[i - 1], ids[i]) != 0, "c%d: event id %s twice", ch, ids[i]);
		}
		/* I4: nothing seen (live, ack or catch-up) beyond the log */
		for(long long s = head + 1; s < K.seen_cap[ch]; s++) {
			check(K.seen[ch][s].id[0] == '\0',
			      "c%d: seq %lld was seen (%s) but is not in the log", ch, s, K.seen[ch][s].id);
		}
		free(ids);
		cJSON_Delete(history);
	}
	for(int n = 0; n < K.nops; n++) { /* I1 and I6: every send exactly once */
		check(cmid_seen[n] == 1, "op-%d (acked %d, seq %lld) is not in the log", n, K.ops[n].acked,
		      K.ops[n].seq);
	}
	free(cmid_seen);
}


/* Logs the line and writes it to <build>/tests/reliability-summary-<name>.txt for tools/test.sh. */
static void write_summary(const char *name, const char *line)
{
	char path[600];
	int fd;

	th_log("%s", line);
	if(!*TH_BINARY_DIR) {
		return;
	}
	snprintf(path, sizeof(path), "%s/tests/reliability-summary-%s.txt", TH_BINARY_DIR, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if(fd >= 0) {
		char buf[1200];
		int n = snprintf(buf, sizeof(buf), "%s\n", line);
		if(write(fd, buf, (size_t)n) != n) {
			th_log("could not write %s", path);
		}
		close(fd);
	}
}


static void run_checker(const char *name, const char *synchronous, bool power_loss)
{
	int cycles = env_int("MQCHAT_CHECKER_CYCLES", 6), max_ops = env_int("MQCHAT_CHECKER_OPS", 300);
	unsigned long long seed = (unsigned long long)env_int("MQCHAT_CHECKER_SEED", 0);
	struct th_broker b;
	struct th_client *ada;
	char line[1024];
	long long t0 = th_now_ms();

	if(seed == 0) {
		seed = (unsigned long long)time(NULL) ^ ((unsigned long long)getpid() << 16);
	}
	memset(&K, 0, sizeof(K));
	K.rng = seed * 2654435761ULL + 1;
	K.lossy = power_loss && !strcmp(synchronous, "normal");
	th_log("%s: seed %llu, %d cycles of at most %d sends, synchronous=%s%s", name, seed, cycles, max_ops,
	       synchronous, power_loss ? ", power loss" : "");
	if(power_loss) {
		TH_CHECK(*TH_FAULTVFS_PATH);
		setenv("MQCHAT_BROKER_PRELOAD_EXTRA", TH_FAULTVFS_PATH, 1);
	}
	th_broker_start(&b, "plugin_opt_send_rate 0\nplugin_opt_request_rate 0\nplugin_opt_synchronous %s",
			synchronous);
	if(power_loss) {
		TH_CHECK(th_broker_log_contains(&b, "faultvfs: registered"));
	}
	tc_sign_in(&b, "bo", "cy", "dee", "eve", "mallory", NULL);
	ada = th_connect(&b, "ada", "ada-admin", 5, true);
	for(int ch = 0; ch < NCH; ch++) {
		tc_api_ok(ada,
			  "{\"op\":\"create\",\"channel\":\"c%d\",\"members\":[\"bo\",\"cy\",\"dee\",\"eve\","
			  "\"mallory\"]}",
			  ch);
	}
	th_disconnect(ada);
	if(power_loss) {
		/* the channels must not be lost themselves: make them durable with a clean restart, which
		 * also lets faultvfs take storage faults from the broker's directory */
		setenv("MQCHAT_FAULTVFS_CTL", b.dir, 1);
		K.fault_dir = b.dir;
		th_broker_restart(&b);
	}
	connect_all(&b);

	for(int c = 0; c < cycles; c++) {
		one_cycle(&b, max_ops);
	}
	/* settle: retry until every send is acknowledged, bounded in rounds and time */
	for(int round = 0; round < 20 && pending_count() > 0; round++) {
		retry_pending(false);
		for(long long until = th_now_ms() + 5000; th_now_ms() < until && pending_count() > 0;) {
			drain(50);
		}
	}
	drain(100);
	check(pending_count() == 0, "%d sends never acknowledged", pending_count());
	check_final_log();
	snprintf(line, sizeof(line),
		 "checker %s (seed %llu, %.1f s): operations %lld (sends %lld, retries %lld, acks %lld "
		 "of which duplicate %lld, live events %lld, catch-up pages %lld with %lld events); "
		 "faults injected %d (%s %d, SIGSTOP pauses %d, writers dropped mid-send %d, catch-up "
		 "readers dropped %d, their stale pages skipped %lld, storage faults %d with %lld sends "
		 "refused unavailable); invariants checked %lld; violations: %lld",
		 name, seed, (double)(th_now_ms() - t0) / 1000.0, K.sends + K.retries + K.cu_pages, K.sends,
		 K.retries, K.acks, K.dup_acks, K.live_events, K.cu_pages, K.cu_events,
		 K.kills + K.pauses + K.writer_drops + K.cu_drops + K.storage_faults,
		 power_loss ? "power losses" : "kill -9", K.kills, K.pauses, K.writer_drops, K.cu_drops,
		 K.cu_stale, K.storage_faults, K.unavailable, K.checks, K.violations);
	if(K.lossy) {
		size_t len = strlen(line);
		int distinct = 0;
		for(int n = 0; n < K.nops; n++) {
			distinct += K.ops[n].lost_once;
		}
		snprintf(line + len, sizeof(line) - len,
			 "; acknowledged sends lost to power loss at normal: %lld (%d distinct sends; each "
			 "was "
			 "retried and stored once)",
			 K.lost_acked, distinct);
	}
	write_summary(name, line);
	TH_EQ_INT(K.violations, 0);
	drop_all();
	th_broker_stop(&b);
	for(int ch = 0; ch < NCH; ch++) {
		free(K.seen[ch]);
	}
	free(K.ops);
}


static void test_checker_kill9_full(void)
{
	run_checker("kill9-full", "full", false);
}


static void test_checker_kill9_normal(void)
{
	run_checker("kill9-normal", "normal", false);
}


static void test_checker_power_loss_full(void)
{
	run_checker("powerloss-full", "full", true);
}


/* At normal an ack survives a process crash but not a power loss: the checker then holds the log to
 * being a prefix of what was acknowledged (I1 for every send up to the head that survived), counts
 * the acknowledged sends lost, and requires their retry to store each once. */
static void test_checker_power_loss_normal(void)
{
	run_checker("powerloss-normal", "normal", true);
}


TH_TEST_LIST(TH_TEST(test_checker_kill9_full), TH_TEST(test_checker_kill9_normal),
	     TH_TEST(test_checker_power_loss_full), TH_TEST(test_checker_power_loss_normal))
