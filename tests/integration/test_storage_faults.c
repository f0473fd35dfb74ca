/*
 * test_storage_faults.c - storage that fails under a running broker: the disk full (SQLITE_FULL, what
 * max_page_count or ENOSPC give), the file turned read-only, writes and fsyncs failing with I/O errors.
 * The faults are injected by tests/faultvfs (preloaded into the broker) while the fault file exists.
 * Under each: sends and account requests are refused with `unavailable`, nothing is fanned out, the
 * log is unchanged and still readable; once the fault clears the plugin works again without a
 * restart, and a retry with the same client_msg_id yields exactly one event. (The database locked by
 * another process is test_errors' test_unavailable_then_retry.)
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "th_chat.h"


/* A broker with faultvfs preloaded, taking faults from files in its own directory. */
static void start_with_faults(struct th_broker *b, const char *synchronous)
{
	TH_CHECK(*TH_FAULTVFS_PATH);
	setenv("MQCHAT_BROKER_PRELOAD_EXTRA", TH_FAULTVFS_PATH, 1);
	th_broker_start(b, "plugin_opt_synchronous %s", synchronous);
	setenv("MQCHAT_FAULTVFS_CTL", b->dir, 1);
	th_broker_restart(b); /* now with the control directory known */
	TH_CHECK(th_broker_log_contains(b, "faults from"));
}


static void set_fault(struct th_broker *b, const char *name, bool on)
{
	char *path = th_tmpfile(b, name);

	if(on) {
		int fd = open(path, O_WRONLY | O_CREAT, 0600);
		TH_CHECK(fd >= 0);
		close(fd);
	} else {
		TH_EQ_INT(unlink(path), 0);
	}
	free(path);
}


static int count_cmid(cJSON *history, const char *cmid)
{
	int count = 0;
	for(int i = 0; i < cJSON_GetArraySize(history); i++) {
		const char *c = th_json_str(cJSON_GetArrayItem(history, i), "client_msg_id");
		count += c != NULL && strcmp(c, cmid) == 0;
	}
	return count;
}


/* c's unread count of ch, from its inbox. */
static long long unread_of(struct th_client *c, const char *ch)
{
	cJSON *reply;
	long long unread = th_json_int(tc_inbox_entry(c, ch, &reply), "unread");

	cJSON_Delete(reply);
	return unread;
}


static void fault_then_recover(const char *fault, const char *synchronous)
{
	struct th_broker b;
	struct th_client *ada, *bo, *cy;
	cJSON *ack, *ev, *before, *during, *history;
	struct th_msg *m;

	start_with_faults(&b, synchronous);
	ada = th_connect(&b, "ada", "ada-1", 5, true);
	bo = th_connect(&b, "bo", "bo-1", 5, true);
	cy = th_connect(&b, "cy", "cy-1", 4, true);
	tc_api_ok(ada, "{\"op\":\"create\",\"channel\":\"general\",\"members\":[\"bo\"]}");
	TH_EQ_INT(th_subscribe(bo, "chat/general", 1), 1);
	cJSON_Delete(tc_send(ada, "general", "a0", "before the fault"));
	cJSON_Delete(th_expect_json(bo, "chat/general"));
	before = tc_history(bo, "general");

	set_fault(&b, fault, true);
	/* sends: refused with unavailable, nothing fanned out. The MQTT 5 PUBACK says 0x87 when the
	 * fault shows at the insert; when it shows only at the group commit (commit/batch.c), the broker
	 * has acknowledged the publish already (0x10, no matching subscribers), and the JSON error,
	 * which is the durability promise, is the only answer. Either way never a plain success. */
	for(int i = 0; i < 5; i++) {
		int puback =
			th_publish(ada, "chat/general",
				   "{\"client_msg_id\":\"f1\",\"body\":\"during the fault\"}", -1, 1, NULL);
		TH_CHECKF(puback == 0x87 || puback == 0x10, "PUBACK 0x%02x", puback);
		ev = th_expect_json(ada, tc_reply_topic(ada));
		TH_JSON(ev, "{\"ok\":false,\"kind\":\"error\",\"code\":\"unavailable\",\"message\":\"*\","
			    "\"request\":\"send\",\"channel\":\"general\",\"client_msg_id\":\"f1\"}");
		cJSON_Delete(ev);
	}
	/* a plain-text QoS 0 send and an account request: refused too */
	TH_EQ_INT(th_publish(ada, "chat/general", "plain text during the fault", -1, 0, NULL), 0);
	tc_expect_error(th_expect_json(ada, tc_reply_topic(ada)), "unavailable", NULL);
	tc_expect_error(tc_api(ada, "{\"op\":\"create\",\"channel\":\"later\"}"), "unavailable", NULL);
	tc_expect_error(tc_api(cy, "{\"op\":\"dm\",\"user\":\"ada\"}"), "unavailable", NULL);
	/* reads still work, and the log is unchanged */
	during = tc_history(bo, "general");
	TH_CHECK(cJSON_Compare(before, during, true));
	m = th_wait_msg(bo, "chat/general", 300);
	TH_CHECKF(m == NULL, "delivered during the fault: %s", m ? (char *)m->payload : "");
	TH_CHECK(th_broker_alive(&b));

	set_fault(&b, fault, false);
	/* recovered without a restart: the retry is stored once, delivered once */
	ack = tc_send(ada, "general", "f1", "during the fault");
	TH_EQ_INT(th_json_int(ack, "seq"), 4);
	TH_CHECK(cJSON_IsFalse(cJSON_GetObjectItem(ack, "duplicate")));
	cJSON_Delete(ack);
	ack = tc_send(ada, "general", "f1", "during the fault");
	TH_CHECK(cJSON_IsTrue(cJSON_GetObjectItem(ack, "duplicate")));
	TH_EQ_INT(th_json_int(ack, "seq"), 4);
	cJSON_Delete(ack);
	ev = th_expect_json(bo, "chat/general");
	TH_EQ_INT(th_json_int(ev, "seq"), 4);
	TH_EQ_STR(th_json_str(ev, "client_msg_id"), "f1");
	cJSON_Delete(ev);
	ack = tc_send(ada, "general", "a1", "after the fault");
	TH_EQ_INT(th_json_int(ack, "seq"), 5);
	cJSON_Delete(ack);
	tc_api_ok(ada, "{\"op\":\"create\",\"channel\":\"later\"}");
	history = tc_history(bo, "general"); /* seqs 1..5 without a gap */
	TH_EQ_INT(cJSON_GetArraySize(history), 5);
	TH_EQ_INT(count_cmid(history, "f1"), 1);
	cJSON_Delete(history);
	/* Unread counts rest on each message's ordinal among its author's (kept in memory, schema/0004):
	 * the refused sends took no number, so ada has nothing unread and bo her three messages. */
	TH_EQ_INT(unread_of(ada, "general"), 0);
	TH_EQ_INT(unread_of(bo, "general"), 3);

	/* and all of it survives a restart: the database is intact */
	th_disconnect(ada);
	th_disconnect(bo);
	th_disconnect(cy);
	th_broker_restart(&b);
	bo = th_connect(&b, "bo", "bo-1", 5, true);
	history = tc_history(bo, "general");
	TH_EQ_INT(cJSON_GetArraySize(history), 5);
	TH_EQ_INT(count_cmid(history, "f1"), 1);
	cJSON_Delete(history);
	TH_EQ_INT(unread_of(bo, "general"), 3);
	th_disconnect(bo);
	th_broker_stop(&b);
	TH_CHECK(!th_broker_log_contains(&b, "integrity"));
	cJSON_Delete(before);
	cJSON_Delete(during);
}


static void test_disk_full(void)
{
	fault_then_recover("full", "full");
}


static void test_disk_full_synchronous_normal(void)
{
	fault_then_recover("full", "normal");
}


static void test_read_only(void)
{
	fault_then_recover("readonly", "full");
}


static void test_io_error(void)
{
	fault_then_recover("ioerr", "full");
}


static void test_io_error_synchronous_normal(void)
{
	fault_then_recover("ioerr", "normal");
}


/* Every start records itself in the database (store.c, chat_store__begin_run), so a database that
 * cannot be written stops the broker from starting, with the reason in its log; once it can be
 * written again the broker starts with its log intact. */
static void test_start_refused_while_unwritable(void)
{
	struct th_broker b;
	struct th_client *ada;
	cJSON *history;

	start_with_faults(&b, "normal");
	ada = th_connect(&b, "ada", "ada-1", 5, true);
	tc_api_ok(ada, "{\"op\":\"create\",\"channel\":\"general\"}");
	cJSON_Delete(tc_send(ada, "general", "a0", "before the fault"));
	th_disconnect(ada);
	th_broker_stop(&b);

	set_fault(&b, "readonly", true);
	TH_CHECK(th_broker_try_restart(&b) > 0);
	TH_CHECK(th_broker_log_contains(&b, "cannot record the start of this run"));

	set_fault(&b, "readonly", false);
	th_broker_restart(&b);
	ada = th_connect(&b, "ada", "ada-1", 5, true);
	history = tc_history(ada, "general");
	TH_EQ_INT(cJSON_GetArraySize(history), 2); /* the join and a0 */
	TH_EQ_INT(count_cmid(history, "a0"), 1);
	cJSON_Delete(history);
	th_disconnect(ada);
	th_broker_stop(&b);
}


TH_TEST_LIST(TH_TEST(test_disk_full), TH_TEST(test_disk_full_synchronous_normal), TH_TEST(test_read_only),
	     TH_TEST(test_io_error), TH_TEST(test_io_error_synchronous_normal),
	     TH_TEST(test_start_refused_while_unwritable))
