/*
 * The harness's own test, against plain Mosquitto (no plugin): brokers start, restart and die as
 * told; clients of both protocol versions publish and receive at every QoS; JSON patterns match
 * and explain mismatches; shell commands run; and a test that fails, hangs, crashes or leaves
 * things open is reported and cleaned up after. The last part runs this program again on the
 * "selftest_" tests, which exist to fail; they are not run otherwise.
 */
#define _GNU_SOURCE

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mqtt_protocol.h>

#include "th.h"

static bool dir_exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}


static bool pid_gone(pid_t pid)
{
	return kill(pid, 0) == -1 && errno == ESRCH;
}


static int count_in(const char *haystack, const char *needle)
{
	int n = 0;

	for(const char *p = strstr(haystack, needle); p; p = strstr(p + 1, needle)) {
		n++;
	}
	return n;
}


/* Receives one message on topic and checks its payload and QoS. */
static void expect_msg(struct th_client *c, const char *topic, const char *payload, int qos)
{
	struct th_msg *m = th_wait_msg(c, topic, 5000);

	TH_CHECKF(m != NULL, "no message on %s for %s", topic, th_client_id(c));
	TH_EQ_STR(m->topic, topic);
	TH_EQ_STR((const char *)m->payload, payload);
	TH_EQ_INT(m->len, strlen(payload));
	TH_EQ_INT(m->qos, qos);
	TH_CHECK(!m->retain);
	th_msg_free(m);
}


static void test_pubsub_every_qos(void)
{
	struct th_broker b;
	struct th_client *v5, *v4;

	th_broker_start_plain(&b, NULL);
	v5 = th_connect(&b, "ada", NULL, 5, true);
	v4 = th_connect(&b, "bo", "smoke-v4", 4, true);
	TH_EQ_STR(th_client_id(v4), "smoke-v4");
	TH_CHECK(strcmp(th_client_id(v5), th_client_id(v4)) != 0);

	TH_EQ_INT(th_subscribe(v5, "to5/#", 2), 2);
	TH_EQ_INT(th_subscribe(v4, "to4/#", 1), 1);
	for(int qos = 0; qos <= 2; qos++) {
		char topic[32], payload[64];

		snprintf(topic, sizeof(topic), "to5/q%d", qos);
		snprintf(payload, sizeof(payload), "{\"from\":\"bo\",\"qos\":%d}", qos);
		TH_EQ_INT(th_publish(v4, topic, payload, -1, qos, NULL), 0);
		expect_msg(v5, topic, payload, qos);

		/* v4 subscribed at QoS 1, so QoS 2 arrives downgraded. */
		snprintf(topic, sizeof(topic), "to4/q%d", qos);
		TH_EQ_INT(th_publish(v5, topic, "x", -1, qos, NULL), 0);
		expect_msg(v4, topic, "x", qos < 1 ? qos : 1);
	}
	TH_EQ_INT(th_acked_count(v4), 3);
	TH_EQ_INT(th_acked_count(v5), 3);
	TH_EQ_INT(th_queued(v5, "#"), 0);
	TH_EQ_INT(th_queued(v4, "#"), 0);
	th_disconnect(v5);
	th_disconnect(v4);
	th_broker_stop(&b);
	TH_CHECK(!th_broker_alive(&b));
}


static void test_queue_keeps_order_per_filter(void)
{
	struct th_broker b;
	struct th_client *sub, *pub;
	struct th_msg *m;
	mosquitto_property *props = NULL;
	char *name = NULL, *value = NULL;
	int mid = -1;

	th_broker_start_plain(&b, NULL);
	sub = th_connect(&b, NULL, NULL, 5, true);
	pub = th_connect(&b, "cy", NULL, 5, true);
	TH_EQ_INT(th_subscribe(sub, "q/#", 1), 1);

	TH_EQ_INT(th_publish_async(pub, "q/a/1", "a1", -1, 1, &mid), MOSQ_ERR_SUCCESS);
	TH_CHECK(mid > 0);
	TH_EQ_INT(th_publish_async(pub, "q/b/1", "b1", -1, 1, NULL), MOSQ_ERR_SUCCESS);
	TH_EQ_INT(th_publish_async(pub, "q/a/2", "a2", -1, 1, NULL), MOSQ_ERR_SUCCESS);
	th_wait_until(th_acked_count(pub) == 3, 5000);
	th_wait_until(th_queued(sub, "q/#") == 3, 5000);
	TH_EQ_INT(th_queued(sub, "q/a/+"), 2);
	TH_EQ_INT(th_queued(sub, "q/c/#"), 0);

	/* Taking the b message leaves the a messages queued, in order. */
	expect_msg(sub, "q/b/1", "b1", 1);
	expect_msg(sub, "q/a/1", "a1", 1);
	expect_msg(sub, "q/a/2", "a2", 1);
	TH_CHECK(th_wait_msg(sub, "#", 50) == NULL);

	/* v5 properties arrive with the message. */
	TH_EQ_INT(mosquitto_property_add_string_pair(&props, MQTT_PROP_USER_PROPERTY, "k", "v"),
		  MOSQ_ERR_SUCCESS);
	TH_EQ_INT(th_publish(pub, "q/props", "p", -1, 2, props), 0);
	mosquitto_property_free_all(&props);
	m = th_wait_msg(sub, "q/props", 5000);
	TH_CHECK(m != NULL);
	TH_EQ_INT(m->qos, 1);
	TH_CHECK(mosquitto_property_read_string_pair(m->props, MQTT_PROP_USER_PROPERTY, &name, &value, false)
		 != NULL);
	TH_EQ_STR(name, "k");
	TH_EQ_STR(value, "v");
	free(name);
	free(value);
	th_msg_free(m);

	/* After unsubscribing nothing more is queued. */
	TH_EQ_INT(th_unsubscribe(sub, "q/#"), 0);
	TH_EQ_INT(th_publish(pub, "q/late", "late", -1, 1, NULL), MQTT_RC_NO_MATCHING_SUBSCRIBERS);
	TH_CHECK(th_wait_msg(sub, "#", 200) == NULL);
	th_disconnect(sub);
	th_disconnect(pub);
}


static void test_reason_codes_from_acl(void)
{
	struct th_broker b;
	struct th_client *v5, *v4;
	char *acl;
	static const char rules[] = "pattern readwrite open/#\n";

	/* The ACL file lives in the broker's directory, which exists once the broker does. */
	th_broker_start_plain(&b, NULL);
	acl = th_tmpfile(&b, "acl");
	{
		FILE *f = fopen(acl, "w");

		TH_CHECK(f != NULL);
		TH_EQ_INT(fwrite(rules, 1, sizeof(rules) - 1, f), sizeof(rules) - 1);
		TH_EQ_INT(fclose(f), 0);
	}
	snprintf(b.extra, sizeof(b.extra), "acl_file %s\n", acl);
	free(acl);
	th_broker_restart(&b);

	v5 = th_connect(&b, "dee", NULL, 5, true);
	v4 = th_connect(&b, "eve", NULL, 4, true);
	/* Mosquitto's own ACL file does not check SUBSCRIBE (a plugin can): both are granted, and
	 * the ACL applies when messages are published and delivered. */
	TH_EQ_INT(th_subscribe(v5, "open/x", 1), 1);
	TH_EQ_INT(th_subscribe(v4, "closed/x", 1), 1);
	TH_EQ_INT(th_publish(v5, "open/x", "ok", -1, 1, NULL), 0);
	expect_msg(v5, "open/x", "ok", 1);
	/* A denied publish: v5 learns why, 3.1.1 gets a plain acknowledgement, nobody gets it. */
	TH_EQ_INT(th_publish(v5, "closed/x", "no", -1, 1, NULL), MQTT_RC_NOT_AUTHORIZED);
	TH_EQ_INT(th_publish(v4, "closed/x", "no", -1, 1, NULL), 0);
	TH_CHECK(th_wait_msg(v4, "#", 200) == NULL);
	th_disconnect(v5);
	th_disconnect(v4);
}


static void test_json_match(void)
{
	static const char doc[] =
		"{\"type\":\"history\",\"room\":\"r1\",\"more\":false,\"cursor\":null,"
		"\"events\":[{\"seq\":41,\"body\":{\"text\":\"hi\"}},{\"seq\":42,\"body\":{}},"
		"{\"seq\":44,\"body\":{\"text\":\"yo\",\"tags\":[1,2]}}]}";
	cJSON *j = th_json_parse(doc);
	char why[512];
	char *printed;

	/* Matches: key order is free, "*" takes any value of any type, numbers compare as doubles. */
	TH_JSON(j, "{\"room\":\"r1\",\"type\":\"history\",\"cursor\":null,\"more\":false,"
		   "\"events\":[{\"seq\":41,\"body\":{\"text\":\"hi\"}},{\"seq\":42.0,\"body\":{}},"
		   "{\"seq\":44,\"body\":{\"tags\":[1,2],\"text\":\"yo\"}}]}");
	TH_JSON(j, "{\"type\":\"*\",\"room\":\"*\",\"more\":\"*\",\"cursor\":\"*\",\"events\":\"*\"}");
	TH_JSON(j, "{\"type\":\"history\",\"room\":\"r1\",\"more\":false,\"cursor\":\"*\","
		   "\"events\":[\"*\",{\"seq\":\"*\",\"body\":\"*\"},{\"seq\":44,\"body\":{\"text\":\"*\","
		   "\"tags\":[\"*\",2]}}]}");

	/* Mismatches, each with the path of the first difference. */
	TH_CHECK(!th_json_match(j,
				"{\"type\":\"history\",\"room\":\"r1\",\"more\":false,\"cursor\":null,"
				"\"events\":[{\"seq\":41,\"body\":\"*\"},{\"seq\":42,\"body\":\"*\"},"
				"{\"seq\":43,\"body\":\"*\"}]}",
				why, sizeof(why)));
	TH_EQ_STR(why, "$.events[2].seq: expected 43, got 44");

	TH_CHECK(!th_json_match(j,
				"{\"type\":\"history\",\"room\":\"r1\",\"more\":false,\"cursor\":null,"
				"\"events\":\"*\",\"next\":\"*\"}",
				why, sizeof(why)));
	TH_EQ_STR(why, "$.next: missing key");

	TH_CHECK(!th_json_match(j, "{\"type\":\"history\",\"room\":\"r1\",\"more\":false,\"events\":\"*\"}",
				why, sizeof(why)));
	TH_EQ_STR(why, "$.cursor: unexpected key (value null)");

	TH_CHECK(!th_json_match(j,
				"{\"type\":\"history\",\"room\":\"r1\",\"more\":false,\"cursor\":null,"
				"\"events\":[\"*\",\"*\"]}",
				why, sizeof(why)));
	TH_EQ_STR(why, "$.events: expected 2 elements, got 3");

	TH_CHECK(!th_json_match(j,
				"{\"type\":\"history\",\"room\":\"r1\",\"more\":true,\"cursor\":null,"
				"\"events\":\"*\"}",
				why, sizeof(why)));
	TH_EQ_STR(why, "$.more: expected true, got false");

	TH_CHECK(!th_json_match(
		j,
		"{\"type\":\"history\",\"room\":\"r1\",\"more\":false,\"cursor\":null,"
		"\"events\":[\"*\",\"*\",{\"seq\":44,\"body\":{\"text\":\"yo\",\"tags\":[1,\"2\"]}}]}",
		why, sizeof(why)));
	TH_EQ_STR(why, "$.events[2].body.tags[1]: expected string \"2\", got number 2");

	TH_CHECK(!th_json_match(j,
				"{\"type\":\"history\",\"room\":\"r1\",\"more\":false,\"cursor\":0,"
				"\"events\":\"*\"}",
				why, sizeof(why)));
	TH_EQ_STR(why, "$.cursor: expected number 0, got null");

	TH_CHECK(!th_json_match(j, "[\"*\"]", why, sizeof(why)));
	TH_CHECK(strncmp(why, "$: expected array", 17) == 0);
	TH_CHECK(!th_json_match(j, "{\"type\":", why, sizeof(why)));
	TH_CHECK(strncmp(why, "the pattern is not valid JSON", 29) == 0);
	TH_CHECK(!th_json_match(NULL, "\"*\"", why, sizeof(why)));
	/* A lone "*" matches the whole document, and why may be omitted. */
	TH_CHECK(th_json_match(j, "\"*\"", NULL, 0));
	TH_CHECK(!th_json_match(j, "{}", NULL, 0));

	/* Accessors. */
	TH_EQ_STR(th_json_str(j, "room"), "r1");
	TH_CHECK(th_json_str(j, "more") == NULL);
	TH_CHECK(th_json_str(j, "absent") == NULL);
	TH_EQ_INT(th_json_int(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "events"), 2), "seq"), 44);
	printed = th_json_print(cJSON_GetObjectItem(j, "events"));
	TH_EQ_STR(printed, "[{\"seq\":41,\"body\":{\"text\":\"hi\"}},{\"seq\":42,\"body\":{}},"
			   "{\"seq\":44,\"body\":{\"text\":\"yo\",\"tags\":[1,2]}}]");
	free(printed);
	printed = th_json_print(NULL);
	TH_EQ_STR(printed, "null");
	free(printed);
	cJSON_Delete(j);
}


static void test_json_over_mqtt(void)
{
	struct th_broker b;
	struct th_client *sub, *pub;
	cJSON *j;

	th_broker_start_plain(&b, NULL);
	sub = th_connect(&b, "ada", NULL, 5, true);
	pub = th_connect(&b, "bo", NULL, 4, true);
	TH_EQ_INT(th_subscribe(sub, "j/#", 1), 1);
	TH_EQ_INT(th_publish(pub, "j/1", "{\"n\":1,\"id\":\"x\"}", -1, 1, NULL), 0);
	j = th_expect_json(sub, "j/1");
	TH_JSON(j, "{\"n\":1,\"id\":\"*\"}");
	cJSON_Delete(j);
	TH_CHECK(th_wait_json(sub, "j/#", 100) == NULL);
	th_disconnect(sub);
	th_disconnect(pub);
}


static void test_restart_and_reconnect(void)
{
	struct th_broker b;
	struct th_client *c;
	pid_t first;
	int port;
	char *log;

	th_broker_start_plain(&b, NULL);
	TH_CHECK(th_broker_alive(&b));
	first = b.pid;
	port = b.port;
	c = th_connect(&b, "ada", "smoke-restart", 5, false);
	TH_EQ_INT(th_subscribe(c, "r/#", 1), 1);

	th_broker_restart(&b);
	TH_CHECK(th_broker_alive(&b));
	TH_CHECK(b.pid != first);
	TH_CHECK(pid_gone(first));
	TH_EQ_INT(b.port, port);
	TH_CHECK(th_wait_disconnect(c, 5000) >= 0);
	TH_CHECK(th_disconnected(c));
	th_disconnect(c);

	/* Same id, same port, new broker (persistence is off, so a new session too). */
	c = th_connect(&b, "ada", "smoke-restart", 5, true);
	TH_EQ_INT(th_subscribe(c, "r/#", 1), 1);
	TH_EQ_INT(th_publish(c, "r/1", "again", -1, 1, NULL), 0);
	expect_msg(c, "r/1", "again", 1);
	th_disconnect(c);

	/* One log across both runs. */
	log = th_broker_log(&b);
	TH_EQ_INT(count_in(log, "mosquitto version 2.0.11 running"), 2);
	free(log);
	th_broker_stop(&b);
	TH_CHECK(!th_broker_alive(&b));
	TH_EQ_INT(b.pid, 0);
	TH_CHECK(th_broker_log_contains(&b, "terminating"));
}


static void test_kill9(void)
{
	struct th_broker b;
	struct th_client *c;
	pid_t pid;

	th_broker_start_plain(&b, NULL);
	c = th_connect(&b, "bo", NULL, 4, true);
	pid = b.pid;
	th_broker_kill9(&b);
	TH_EQ_INT(b.pid, 0);
	TH_CHECK(!th_broker_alive(&b));
	TH_CHECK(pid_gone(pid));
	TH_CHECK(th_wait_disconnect(c, 5000) >= 0);
	/* Publishing on a lost connection reports it instead of waiting. */
	TH_EQ_INT(th_publish(c, "k/1", "x", -1, 1, NULL), -1);
	th_disconnect(c);
	TH_CHECK(!th_broker_log_contains(&b, "terminating"));

	th_broker_restart(&b);
	TH_CHECK(th_broker_alive(&b));
	c = th_connect(&b, "bo", NULL, 4, true);
	th_disconnect(c);
}


static void test_auth(void)
{
	static const char *const users[] = {TH_USERS};
	struct th_broker b;
	struct th_client *c = (struct th_client *)&c;
	int rc;

	th_broker_start_plain(&b, NULL);
	rc = th_connect_rc(&b, "ada", "not-ada-pw", NULL, 5, &c);
	th_log("wrong password, MQTT 5: reason code %d", rc);
	TH_CHECK(rc != 0);
	TH_CHECK(rc == MQTT_RC_BAD_USERNAME_OR_PASSWORD || rc == MQTT_RC_NOT_AUTHORIZED);
	TH_CHECK(c == NULL);
	c = (struct th_client *)&c;
	rc = th_connect_rc(&b, "ada", "not-ada-pw", NULL, 4, &c);
	th_log("wrong password, MQTT 3.1.1: return code %d", rc);
	TH_CHECK(rc == 4 || rc == 5);
	TH_CHECK(c == NULL);
	TH_CHECK(th_connect_rc(&b, "nobody", "nobody-pw", NULL, 5, NULL) != 0);

	TH_EQ_INT(th_connect_rc(&b, "ada", "ada-pw", "smoke-auth", 5, &c), 0);
	TH_CHECK(c != NULL);
	TH_EQ_STR(th_client_id(c), "smoke-auth");
	th_disconnect(c);
	for(size_t i = 0; i < sizeof(users) / sizeof(users[0]); i++) {
		th_disconnect(th_connect(&b, users[i], NULL, i % 2 ? 4 : 5, true));
	}
	th_disconnect(th_connect(&b, NULL, NULL, 5, true));
	/* A closed port: no CONNACK, no client. */
	th_broker_stop(&b);
	c = (struct th_client *)&c;
	TH_EQ_INT(th_connect_rc(&b, "ada", "ada-pw", NULL, 5, &c), -1);
	TH_CHECK(c == NULL);
}


static void test_drop_and_takeover(void)
{
	struct th_broker b1, b2;
	struct th_client *dropped, *first, *second;
	char needle[128];

	th_broker_start_plain(&b1, NULL);
	dropped = th_connect(&b1, "cy", "smoke-dropped", 5, true);
	/* A broker started after the client exists must not hold a copy of its socket. */
	th_broker_start_plain(&b2, NULL);
	TH_CHECK(b1.port != b2.port);
	TH_CHECK(strcmp(b1.dir, b2.dir) != 0);
	th_drop(dropped);
	snprintf(needle, sizeof(needle), "Client smoke-dropped closed its connection");
	th_wait_until(th_broker_log_contains(&b1, needle), 5000);

	/* A clean disconnect reads differently in the log. */
	th_disconnect(th_connect(&b1, "cy", "smoke-clean", 5, true));
	th_wait_until(th_broker_log_contains(&b1, "Client smoke-clean disconnected"), 5000);

	/* A client whose session is taken over stays off: it does not reconnect and kick back. */
	first = th_connect(&b2, "dee", "smoke-dup", 5, true);
	second = th_connect(&b2, "dee", "smoke-dup", 4, true);
	TH_CHECK(th_wait_disconnect(first, 5000) >= 0);
	TH_EQ_INT(th_wait_disconnect(second, 1500), -1);
	TH_CHECK(!th_disconnected(second));
	TH_EQ_INT(th_publish(second, "still/here", "1", -1, 1, NULL), 0);
	th_disconnect(first);
	th_disconnect(second);
}


static void test_cli_tools(void)
{
	struct th_broker b;
	struct th_client *sub;
	char *out;
	int status = -1;

	th_broker_start_plain(&b, NULL);
	sub = th_connect(&b, "ada", NULL, 5, true);
	TH_EQ_INT(th_subscribe(sub, "cli/#", 1), 1);

	out = th_run(&status, "mosquitto_pub -h 127.0.0.1 -p %d -u bo -P bo-pw -q 1 -t cli/a -m hello",
		     b.port);
	TH_EQ_INT(status, 0);
	TH_EQ_STR(out, "");
	free(out);
	expect_msg(sub, "cli/a", "hello", 1);

	out = th_run(&status, "mosquitto_pub -h 127.0.0.1 -p %d -r -q 1 -t cli/retained -m r1", b.port);
	TH_EQ_INT(status, 0);
	free(out);
	out = th_run(&status, "mosquitto_sub -h 127.0.0.1 -p %d -u cy -P cy-pw -t cli/retained -C 1 -W 5",
		     b.port);
	TH_EQ_INT(status, 0);
	TH_EQ_STR(out, "r1\n");
	free(out);

	out = th_run(&status, "mosquitto_pub -h 127.0.0.1 -p %d -u bo -P wrong -t cli/x -m x", b.port);
	TH_CHECK(status != 0);
	TH_CHECKF(strstr(out, "refused") || strstr(out, "authori"), "output: %s", out);
	free(out);

	/* Nothing is retained here: mosquitto_sub gives up after -W. */
	out = th_run(&status, "mosquitto_sub -h 127.0.0.1 -p %d -t cli/empty -C 1 -W 1", b.port);
	TH_CHECK(status != 0);
	free(out);

	/* th_run itself: exit codes, both output streams, a signal. */
	out = th_run(&status, "echo out; echo err >&2; exit %d", 3);
	TH_EQ_INT(status, 3);
	TH_CHECK(strstr(out, "out\n") && strstr(out, "err\n"));
	free(out);
	out = th_run(&status, "kill -9 $$");
	TH_EQ_INT(status, 128 + 9);
	free(out);
	th_disconnect(sub);
}


static void test_try_start_reports_exit_status(void)
{
	struct th_broker b;

	/* A bad option: mosquitto refuses the config and exits with 1 or more. */
	setenv("MQCHAT_PLUGIN", "/nonexistent/mqchat.so", 1);
	TH_CHECK(th_broker_try_start(&b, "no_such_option 1\n") > 0);
	TH_EQ_INT(b.pid, 0);
	TH_CHECK(!th_broker_alive(&b));
	TH_CHECK(th_broker_log_contains(&b, "no_such_option"));
	TH_CHECK(dir_exists(b.dir));
}


/* ---- The tests above catch what they should: tests that must fail, run as a child program ---- */

static void selftest_fail_eq_int(void)
{
	TH_EQ_INT(2 + 2, 5);
}


static void selftest_fail_json(void)
{
	cJSON *j = th_json_parse("{\"a\":1,\"b\":[true]}");

	TH_JSON(j, "{\"a\":2,\"b\":[true]}");
}


static void selftest_fail_expect(void)
{
	struct th_broker b;
	struct th_client *c;

	th_broker_start_plain(&b, NULL);
	c = th_connect(&b, NULL, NULL, 5, true);
	th_log("broker pid %d dir %s", (int)b.pid, b.dir);
	cJSON_Delete(th_expect_json(c, "never/arrives"));
}


static void selftest_hang(void)
{
	struct th_broker b;

	th_broker_start_plain(&b, NULL);
	th_disconnect(th_connect(&b, "ada", "selftest-hang", 5, true));
	th_log("broker pid %d dir %s", (int)b.pid, b.dir);
	for(;;) {
		pause();
	}
}


static void selftest_crash(void)
{
	struct th_broker b;

	th_broker_start_plain(&b, NULL);
	th_log("broker pid %d dir %s", (int)b.pid, b.dir);
	abort();
}


static void selftest_leave_open(void)
{
	struct th_broker b;

	th_broker_start_plain(&b, NULL);
	th_log("broker pid %d dir %s", (int)b.pid, b.dir);
	TH_EQ_INT(th_subscribe(th_connect(&b, "bo", NULL, 5, true), "x", 0), 0);
}


static const struct th_test selftests[] = {
	TH_TEST(selftest_fail_eq_int), TH_TEST(selftest_fail_json), TH_TEST(selftest_fail_expect),
	TH_TEST(selftest_hang),        TH_TEST(selftest_crash),     TH_TEST(selftest_leave_open),
};


/* Runs one self-test in a new process of this program; returns its output. */
static char *run_selftest(const char *name, const char *env, int *status)
{
	char self[4096];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	TH_CHECK(n > 0);
	self[n] = '\0';
	return th_run(status, "%s '%s' %s", env, self, name);
}


/* Checks that the broker a self-test announced is gone, and its directory with it. */
static void check_cleaned_up(const char *out)
{
	const char *p = strstr(out, "# broker pid ");
	int pid = 0;
	char dir[256] = "";

	TH_CHECKF(p != NULL, "no broker announced in:\n%s", out);
	TH_EQ_INT(sscanf(p, "# broker pid %d dir %255s", &pid, dir), 2);
	TH_CHECK(pid > 0);
	TH_CHECKF(pid_gone(pid), "broker %d still running", pid);
	TH_CHECKF(!dir_exists(dir), "%s still exists", dir);
}


static void test_failures_are_reported(void)
{
	char *out;
	int status = -1;

	out = run_selftest("selftest_fail_eq_int", "", &status);
	TH_EQ_INT(status, 1);
	TH_CHECKF(strstr(out, "not ok 1 - selftest_fail_eq_int"), "%s", out);
	TH_CHECKF(strstr(out, "2 + 2 == 5\n#     actual:   4\n#     expected: 5"), "%s", out);
	TH_CHECKF(strstr(out, "test_harness_smoke.c:"), "%s", out);
	TH_CHECKF(strstr(out, "# 0 passed, 1 failed"), "%s", out);
	free(out);

	out = run_selftest("selftest_fail_json", "", &status);
	TH_EQ_INT(status, 1);
	TH_CHECKF(strstr(out, "$.a: expected 2, got 1"), "%s", out);
	TH_CHECKF(strstr(out, "actual:  {\"a\":1,\"b\":[true]}"), "%s", out);
	free(out);

	/* A failure shows the broker's log, names the caller's line, and cleans up. */
	out = run_selftest("selftest_fail_expect", "", &status);
	TH_EQ_INT(status, 1);
	TH_CHECKF(strstr(out, "expected a message on never/arrives"), "%s", out);
	TH_CHECKF(strstr(out, "test_harness_smoke.c:"), "%s", out);
	TH_CHECKF(strstr(out, "mosquitto version 2.0.11 running"), "%s", out);
	check_cleaned_up(out);
	free(out);
}


static void test_hangs_and_crashes_are_cleaned_up(void)
{
	char *out;
	int status = -1;
	long long start = th_now_ms();

	out = run_selftest("selftest_hang", "TH_TIMEOUT_S=1", &status);
	TH_EQ_INT(status, 1);
	TH_CHECKF(strstr(out, "timed out after 1 s; stopping it"), "%s", out);
	TH_CHECKF(strstr(out, "not ok 1 - selftest_hang"), "%s", out);
	TH_CHECKF(strstr(out, "Client selftest-hang disconnected"), "%s", out);
	check_cleaned_up(out);
	free(out);
	TH_CHECK(th_now_ms() - start < 10000);

	out = run_selftest("selftest_crash", "", &status);
	TH_EQ_INT(status, 1);
	TH_CHECKF(strstr(out, "killed by signal 6"), "%s", out);
	TH_CHECKF(strstr(out, "mosquitto version 2.0.11 running"), "%s", out);
	check_cleaned_up(out);
	free(out);

	/* Returning with a client and a broker open is fine: both are closed at exit. */
	out = run_selftest("selftest_leave_open", "", &status);
	TH_EQ_INT(status, 0);
	TH_CHECKF(strstr(out, "ok 1 - selftest_leave_open"), "%s", out);
	check_cleaned_up(out);
	free(out);
}


static const struct th_test tests[] = {
	TH_TEST(test_pubsub_every_qos),
	TH_TEST(test_queue_keeps_order_per_filter),
	TH_TEST(test_reason_codes_from_acl),
	TH_TEST(test_json_match),
	TH_TEST(test_json_over_mqtt),
	TH_TEST(test_restart_and_reconnect),
	TH_TEST(test_kill9),
	TH_TEST(test_auth),
	TH_TEST(test_drop_and_takeover),
	TH_TEST(test_cli_tools),
	TH_TEST(test_try_start_reports_exit_status),
	TH_TEST(test_failures_are_reported),
	TH_TEST(test_hangs_and_crashes_are_cleaned_up),
};


int main(int argc, char **argv)
{
	if(argc > 1 && !strncmp(argv[1], "selftest_", 9)) {
		return th_main(argc, argv, selftests, sizeof(selftests) / sizeof(selftests[0]));
	}
	return th_main(argc, argv, tests, sizeof(tests) / sizeof(tests[0]));
}
