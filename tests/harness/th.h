/*
 * th: the mqchat test harness.
 *
 * A test program is a list of test functions handed to th_main(). Each test runs in its own forked
 * child process, which is the leader of its own process group, under a timeout. Inside a test, the
 * harness starts real mosquitto brokers (each in its own temporary directory, on its own free port
 * on 127.0.0.1), connects real libmosquitto clients to them, and checks whole JSON replies against
 * patterns. A failed check prints where and why, then the tail of every broker log of the test, and
 * ends the test child; at exit the child disconnects its clients, stops its brokers and removes
 * their directories, so nothing a test started outlives it.
 *
 * Functions that "fail the test" call th_fail(): they do not return on failure. They must be called
 * from the test's own thread, not from a libmosquitto callback. Those that can fail are macros over
 * th_*_at() functions, so that a failure names the line of the test that called them.
 *
 * Environment:
 *   TH_TIMEOUT_S            per-test timeout in seconds (default 90)
 *   TH_KEEP=1               keep broker directories and print where they are
 *   TH_NOFORK=1             run the one selected test in this process (for a debugger)
 *   MQCHAT_MOSQUITTO        broker binary (default /usr/sbin/mosquitto)
 *   MQCHAT_MOSQUITTO_PASSWD mosquitto_passwd binary (default: from PATH)
 *   MQCHAT_PLUGIN           plugin path, overriding the one the test was compiled with
 *   MQCHAT_BROKER_WRAPPER   command prefix for the broker, e.g. "valgrind --error-exitcode=99"
 *   MQCHAT_BROKER_PRELOAD   LD_PRELOAD for the broker only (libasan for sanitizer builds)
 *   MQCHAT_BROKER_ASAN_OPTIONS  ASAN_OPTIONS for the broker only (default with a preload:
 *                           detect_leaks=0:abort_on_error=1)
 *   MQCHAT_BROKER_PRELOAD_EXTRA  a library preloaded into the broker after MQCHAT_BROKER_PRELOAD; a
 *                           test sets it (setenv in its own child) to load tests/faultvfs
 */
#ifndef TH_H
#define TH_H

/* What nearly every test uses, so a test file can start with th.h alone. */
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include <cjson/cJSON.h>
#include <mosquitto.h>

/* Set by tests/CMakeLists.txt for integration tests: the built plugin, the source and build trees. */
#ifndef TH_PLUGIN_PATH
#define TH_PLUGIN_PATH ""
#endif
#ifndef TH_SOURCE_DIR
#define TH_SOURCE_DIR ""
#endif
#ifndef TH_BINARY_DIR
#define TH_BINARY_DIR ""
#endif

/* ---- Test registration and running ---- */

typedef void (*th_test_fn)(void);

struct th_test {
	const char *name;
	th_test_fn fn;
};

/* Runs the tests, each in a forked child with a timeout, printing TAP lines ("ok 1 - name (12 ms)")
 * and a summary. argv[1], if given, selects one test by name ("--list" prints the names). Returns 0
 * only if every test that ran passed. plugin_path is the default for brokers started with the
 * plugin; use th_main(), which passes this program's TH_PLUGIN_PATH. */
int th_main_with_plugin(int argc, char **argv, const struct th_test *tests, size_t count,
			const char *plugin_path);

static inline int th_main(int argc, char **argv, const struct th_test *tests, size_t count)
{
	return th_main_with_plugin(argc, argv, tests, count, TH_PLUGIN_PATH);
}

/* One-line registration: TH_TEST_LIST(TH_TEST(test_a), TH_TEST(test_b)) defines main(). */
/* clang-format off */
#define TH_TEST(fn) {#fn, fn}
/* clang-format on */
#define TH_TEST_LIST(...)                                                                                    \
	int main(int argc, char **argv)                                                                      \
	{                                                                                                    \
		static const struct th_test th_tests_[] = {__VA_ARGS__};                                     \
		return th_main(argc, argv, th_tests_, sizeof(th_tests_) / sizeof(th_tests_[0]));             \
	}

/* ---- Assertions and diagnostics ---- */

/* Prints "FAIL file:line: message", then the last 60 lines of the log of every broker this test
 * started, and exits the test child with status 1 (atexit hooks then stop the brokers). */
void th_fail(const char *file, int line, const char *fmt, ...)
	__attribute__((noreturn, format(printf, 3, 4)));

/* Prints a diagnostic, each of its lines prefixed "# " (a TAP comment). */
void th_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define TH_CHECK(cond)                                                                                       \
	do {                                                                                                 \
		if(!(cond)) {                                                                                \
			th_fail(__FILE__, __LINE__, "check failed: %s", #cond);                              \
		}                                                                                            \
	} while(0)

#define TH_CHECKF(cond, fmt, ...)                                                                            \
	do {                                                                                                 \
		if(!(cond)) {                                                                                \
			th_fail(__FILE__, __LINE__, "check failed: %s: " fmt, #cond, __VA_ARGS__);           \
		}                                                                                            \
	} while(0)

#define TH_EQ_INT(actual, expected)                                                                          \
	do {                                                                                                 \
		long long th_eq_a_ = (long long)(actual);                                                    \
		long long th_eq_e_ = (long long)(expected);                                                  \
		if(th_eq_a_ != th_eq_e_) {                                                                   \
			th_fail(__FILE__, __LINE__, "%s == %s\n  actual:   %lld\n  expected: %lld", #actual, \
				#expected, th_eq_a_, th_eq_e_);                                              \
		}                                                                                            \
	} while(0)

#define TH_EQ_STR(actual, expected) th_eq_str_(__FILE__, __LINE__, #actual, #expected, (actual), (expected))

#define TH_JSON(actual_cjson, pattern)                                                                       \
	th_json_check_(__FILE__, __LINE__, #actual_cjson, (actual_cjson), (pattern))

/* Polls cond_expr every 5 ms; fails the test if it is still false after timeout_ms. For conditions
 * that no callback announces. */
#define th_wait_until(cond_expr, timeout_ms)                                                                 \
	do {                                                                                                 \
		long long th_wu_deadline_ = th_now_ms() + (timeout_ms);                                      \
		while(!(cond_expr)) {                                                                        \
			if(th_now_ms() > th_wu_deadline_) {                                                  \
				th_fail(__FILE__, __LINE__, "still false after %d ms: %s",                   \
					(int)(timeout_ms), #cond_expr);                                      \
			}                                                                                    \
			th_sleep_ms(5);                                                                      \
		}                                                                                            \
	} while(0)

/* Helpers behind TH_EQ_STR and TH_JSON. */
void th_eq_str_(const char *file, int line, const char *actual_expr, const char *expected_expr,
		const char *actual, const char *expected);
void th_json_check_(const char *file, int line, const char *actual_expr, const cJSON *actual,
		    const char *pattern);

/* ---- Brokers ---- */

/* A real mosquitto with its own directory and port. th_broker_start*() initialise every field, so
 * the struct need not be zeroed first. */
struct th_broker {
	pid_t pid; /* 0 when not running */
	int port;
	char dir[256]; /* mkdtemp under $TMPDIR or /tmp, "mqchat-test-XXXXXX" */
	char conf_path[300], db_path[300], log_path[300], passwd_path[300];
	char extra[8192]; /* extra config lines, kept for restart */
	bool with_plugin;
};

/* Users in every broker's password file; each one's password is "<user>-pw". edge-N are the
 * bridge users of th_gateway.h's edges. */
#define TH_USERS "ada", "bo", "cy", "dee", "eve", "mallory", "edge-1", "edge-2", "edge-3", "edge-4"

/* A raw MQTT 3.1.1 connection (th_raw.c), for what a library client will not do: stay silent past its
 * keepalive, or vanish without a DISCONNECT before reading anything. */
struct th_raw_options {
	int keepalive_s;
	bool clean_session;
	const char *will_topic;   /* NULL: no will; otherwise a will on this topic */
	const char *will_payload; /* NULL: "gone" */
	int will_qos;
	bool will_retain;
	int protocol;              /* 4 (MQTT 3.1.1, also when 0) or 5 */
	unsigned will_delay_s;     /* MQTT 5: Will Delay Interval (0: none) */
	unsigned session_expiry_s; /* MQTT 5: Session Expiry Interval (0: none) */
};

/* Connects to b as user (password "<user>-pw"; NULL: anonymous) and client_id, waits for a CONNACK
 * that accepts it and returns the socket (the caller closes it). Fails the test otherwise. */
int th_raw_connect(const struct th_broker *b, const char *user, const char *client_id,
		   const struct th_raw_options *opt);

/* The two halves of th_raw_connect(), for many connections in flight at once: the first connects and
 * sends CONNECT (failing the test if the TCP connection is refused); the second reads the CONNACK and
 * returns its return code (0 accepted), or -1 if none came. */
int th_raw_connect_start(const struct th_broker *b, const char *user, const char *client_id,
			 const struct th_raw_options *opt);
int th_raw_connack(int fd);

/* Subscribes a raw connection (which must have read nothing else since its CONNACK) and reads the
 * SUBACK: returns the granted QoS or 0x80, or -1. */
int th_raw_subscribe(int fd, const char *filter, int qos);

/* Sends a QoS 0 PUBLISH of payload on topic over a raw connection. */
void th_raw_publish(int fd, const char *topic, const char *payload);

/* Sends a PUBLISH with every header bit chosen: qos, packet id mid (qos > 0), dup and retain, for
 * protocol 4 or 5 (an empty property list). */
void th_raw_publish_full(int fd, int protocol, const char *topic, const char *payload, int qos, int mid,
			 bool dup, bool retain);

/* Sends a PUBREL for mid (QoS 2, second half), for protocol 4 or 5. */
void th_raw_pubrel(int fd, int mid);

/* Reads one packet within timeout_ms: returns its first byte (type and flags) and puts its body in
 * body (at most cap bytes; the rest is read and dropped), its length in *len. -1 on timeout or a
 * closed connection. */
int th_raw_read_packet(int fd, unsigned char *body, size_t cap, size_t *len, int timeout_ms);

/* Reads packets until one whose type (high nibble) is type arrives within timeout_ms; returns its
 * first byte as th_raw_read_packet does, or -1. Packets of other types are dropped. */
int th_raw_expect_packet(int fd, int type, unsigned char *body, size_t cap, size_t *len, int timeout_ms);

/* A line for the extra config of a broker without the password file (no authentication source). */
#define TH_NO_PASSWORD_FILE "# th: no password_file"

/* Starts a broker with the plugin (plugin_opt_database <dir>/chat.db) and the extra config lines
 * (printf format, may be NULL). Fails the test if it does not come up. */
#define th_broker_start(b, ...) th_broker_start_at(__FILE__, __LINE__, (b), __VA_ARGS__)

/* As th_broker_start(), without the plugin: plain Mosquitto. */
#define th_broker_start_plain(b, ...) th_broker_start_plain_at(__FILE__, __LINE__, (b), __VA_ARGS__)

/* As th_broker_start() but never fails the test: returns 0 if the broker came up, else its exit
 * status (> 0; 128 + signal if it was killed), or -1 if it exited with status 0 or did not come up
 * in time (then it was killed). For testing bad configurations. */
int th_broker_try_start(struct th_broker *b, const char *extra_fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* SIGTERM, waits up to 10 s (60 s under a wrapper), then SIGKILL; reaps. Fails the test only if a
 * broker wrapper (valgrind) exited with status 99. No-op if not running. */
#define th_broker_stop(b) th_broker_stop_at(__FILE__, __LINE__, (b))

/* SIGKILL and reap: a crash, as far as the broker's files are concerned. No-op if not running. */
void th_broker_kill9(struct th_broker *b);

/* Stops the broker if it is running, then starts it again with the same directory, port and
 * database, and its config written anew from b (so a test may change b->extra in between). Fails
 * the test if it does not come up. */
#define th_broker_restart(b) th_broker_restart_at(__FILE__, __LINE__, (b))
/* Like th_broker_restart, but for a broker expected to refuse its configuration or database: returns 0
 * if it came up, else its exit status (as th_broker_try_start). Never fails the test itself. */
int th_broker_try_restart(struct th_broker *b);

/* The broker's log file followed by its stderr.log, malloc'd and NUL-terminated. */
char *th_broker_log(const struct th_broker *b);

/* True if th_broker_log() contains needle. */
bool th_broker_log_contains(const struct th_broker *b, const char *needle);

/* True if the broker is running; reaps it (and sets b->pid to 0) if it has exited. */
bool th_broker_alive(struct th_broker *b);

/* malloc'd path "<b->dir>/<name>"; the file goes away with the broker's directory. */
char *th_tmpfile(struct th_broker *b, const char *name);

/* ---- Clients ---- */

struct th_client;

/* Connects to b as user (NULL: anonymous; password "<user>-pw") with MQTT v5 (protocol 5) or 3.1.1
 * (protocol 4), client_id NULL for a generated one. With clean_start false, a v5 client also sends
 * Session Expiry Interval 3600 so its session outlives the connection as with 3.1.1. Waits up to
 * 5 s for CONNACK; fails the test if refused. Every message received from then on is queued,
 * whatever its topic. Free with th_disconnect() or th_drop(). */
#define th_connect(b, user, client_id, protocol, clean_start)                                                \
	th_connect_at(__FILE__, __LINE__, (b), (user), (client_id), (protocol), (clean_start))

/* Connects with an explicit password (user and password may be NULL) and a clean start. Returns the
 * CONNACK reason code (0 accepted; then *out is the client) or -1 if there was no CONNACK within 5 s
 * or no TCP connection; *out is NULL unless accepted. Never fails the test. */
int th_connect_rc(struct th_broker *b, const char *user, const char *password, const char *client_id,
		  int protocol, struct th_client **out);

/* Sends DISCONNECT, stops the network thread, frees the client and its queue. NULL-safe. */
void th_disconnect(struct th_client *c);

/* Closes the connection without DISCONNECT (a network loss: the broker sends the will), then frees
 * the client as th_disconnect() does. NULL-safe. */
void th_drop(struct th_client *c);

/* The client id sent in CONNECT. */
const char *th_client_id(const struct th_client *c);

/* Subscribes and waits up to 5 s for SUBACK. Returns the granted QoS (0..2) or the failure code
 * (0x80 for 3.1.1, 0x87 etc. for v5), or -1 on timeout or disconnection. */
int th_subscribe(struct th_client *c, const char *filter, int qos);

/* Unsubscribes and waits up to 5 s for UNSUBACK. Returns 0, or -1 on timeout or disconnection. */
int th_unsubscribe(struct th_client *c, const char *filter);

/* Publishes (len < 0: strlen(payload); props: v5 properties or NULL, not freed). QoS 0: returns 0
 * once written to the socket. QoS 1/2: waits up to 5 s for PUBACK/PUBCOMP and returns its v5 reason
 * code (0 for 3.1.1). Returns -1 if the publish could not be sent, the client was disconnected, or
 * the acknowledgement timed out. */
int th_publish(struct th_client *c, const char *topic, const void *payload, int len, int qos,
	       const mosquitto_property *props);

/* Publishes without waiting; returns the MOSQ_ERR_* of mosquitto_publish_v5(). mid_out may be NULL. */
int th_publish_async(struct th_client *c, const char *topic, const void *payload, int len, int qos,
		     int *mid_out);

/* Number of publishes acknowledged so far (on_publish callbacks). Thread-safe. */
int th_acked_count(struct th_client *c);

/* A received message. payload has an extra NUL after len bytes, so text can be used as a string. */
struct th_msg {
	char *topic;
	void *payload;
	int len;
	int qos;
	bool retain;
	mosquitto_property *props;
};

/* Removes and returns the oldest queued message whose topic matches filter (MQTT wildcards),
 * waiting up to timeout_ms; NULL on timeout. Other messages stay queued in order. Free with
 * th_msg_free(). */
struct th_msg *th_wait_msg(struct th_client *c, const char *filter, int timeout_ms);

/* As th_wait_msg() but returns the payload parsed (caller cJSON_Delete()s it); fails the test if the
 * payload is not JSON. NULL on timeout. */
#define th_wait_json(c, filter, timeout_ms) th_wait_json_at(__FILE__, __LINE__, (c), (filter), (timeout_ms))

/* th_wait_json() with 5 s; fails the test on timeout ("expected a message on <filter>"). */
#define th_expect_json(c, filter) th_expect_json_at(__FILE__, __LINE__, (c), (filter))

/* Number of queued messages matching filter, without waiting. */
int th_queued(struct th_client *c, const char *filter);

/* Frees a message. NULL-safe. */
void th_msg_free(struct th_msg *m);

/* True once the connection has ended (on_disconnect ran). */
bool th_disconnected(struct th_client *c);

/* Waits up to timeout_ms for the connection to end; returns on_disconnect's rc, or -1 on timeout. */
int th_wait_disconnect(struct th_client *c, int timeout_ms);

/* ---- JSON ---- */

/* Matches actual against pattern (JSON text). Objects: the same set of keys, in any order, each
 * value matching. Arrays: the same length, element by element. The string "*" matches any value,
 * but its key must be present. Other values: equal (numbers as doubles). On mismatch returns false
 * and writes to why a reason with its path, e.g. "$.events[2].seq: expected 43, got 44". */
bool th_json_match(const cJSON *actual, const char *pattern, char *why, size_t why_len);

/* Parses text; fails the test if it is not JSON. Caller cJSON_Delete()s the result. */
#define th_json_parse(text) th_json_parse_at(__FILE__, __LINE__, (text))

/* obj[key] if it is a string, else NULL. */
const char *th_json_str(const cJSON *obj, const char *key);

/* obj[key] as an integer; fails the test if absent or not a number. */
#define th_json_int(obj, key) th_json_int_at(__FILE__, __LINE__, (obj), (key))

/* j printed without formatting, malloc'd; "null" for NULL. */
char *th_json_print(const cJSON *j);

/* ---- Processes and time ---- */

/* Runs the command (printf format) with /bin/sh -c in its own process group, stdin from /dev/null,
 * and returns its stdout and stderr together, malloc'd and NUL-terminated. *exit_status (may be
 * NULL) gets the exit code, or 128 + signal. If it runs longer than 30 s, kills its process group
 * and fails the test. */
#define th_run(exit_status, ...) th_run_at(__FILE__, __LINE__, (exit_status), __VA_ARGS__)

/* VmRSS of process pid in KiB, from /proc/<pid>/status; fails the test if it cannot be read. */
#define th_rss_kib(pid) th_rss_kib_at(__FILE__, __LINE__, (pid))
long long th_rss_kib_at(const char *file, int line, pid_t pid);

/* Milliseconds on the monotonic clock. */
long long th_now_ms(void);

/* Sleeps ms milliseconds. Prefer waiting for a condition. */
void th_sleep_ms(int ms);

/* ---- The functions behind the macros above: they name the caller's file:line on failure ---- */

void th_broker_start_at(const char *file, int line, struct th_broker *b, const char *extra_fmt, ...)
	__attribute__((format(printf, 4, 5)));
void th_broker_start_plain_at(const char *file, int line, struct th_broker *b, const char *extra_fmt, ...)
	__attribute__((format(printf, 4, 5)));
void th_broker_stop_at(const char *file, int line, struct th_broker *b);
void th_broker_restart_at(const char *file, int line, struct th_broker *b);
struct th_client *th_connect_at(const char *file, int line, struct th_broker *b, const char *user,
				const char *client_id, int protocol, bool clean_start);
cJSON *th_wait_json_at(const char *file, int line, struct th_client *c, const char *filter, int timeout_ms);
cJSON *th_expect_json_at(const char *file, int line, struct th_client *c, const char *filter);
cJSON *th_json_parse_at(const char *file, int line, const char *text);
long long th_json_int_at(const char *file, int line, const cJSON *obj, const char *key);
char *th_run_at(const char *file, int line, int *exit_status, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#endif
