/*
 * test_durability.c - the log survives restarts and kill -9; an ack means durable; retrying what was
 * not acknowledged yields each message exactly once.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "th_chat.h"

#define BURST           2000
#define KILL_AFTER_ACKS 300


static void test_restart_keeps_log_and_continues_seq(void)
{
	struct th_broker b;
	struct th_client *ada;
	cJSON *before, *after, *ack;
	char cmid[16];

	th_broker_start(&b, "");
	ada = th_connect(&b, "ada", "ada-1", 5, true);
	tc_api_ok(ada, "{\"op\":\"create\",\"channel\":\"general\"}");
	for(int i = 0; i < 10; i++) {
		snprintf(cmid, sizeof(cmid), "c-%d", i);
		cJSON_Delete(tc_send(ada, "general", cmid, "before the restart"));
	}
	before = tc_history(ada, "general");
	th_disconnect(ada);
	th_broker_restart(&b);

	ada = th_connect(&b, "ada", "ada-1", 5, true);
	after = tc_history(ada, "general");
	TH_CHECK(cJSON_Compare(before, after, true));
	ack = tc_send(ada, "general", "c-next", "after the restart");
	TH_EQ_INT(th_json_int(ack, "seq"), 12);
	cJSON_Delete(ack);
	cJSON_Delete(before);
	cJSON_Delete(after);
	th_disconnect(ada);
	th_broker_stop(&b);
}


struct ack_record {
	long long seq; /* 0: not acknowledged */
	char id[40];
};


/* Collects acks from c's reply topic into acks[], until `until` acks are known or none arrives within
 * timeout_ms. Returns the number known. */
static int collect_acks(struct th_client *c, struct ack_record *acks, int known, int until, int timeout_ms)
{
	while(known < until) {
		cJSON *ack = th_wait_json(c, tc_reply_topic(c), timeout_ms);
		int n;
		if(ack == NULL) {
			break;
		}
		TH_CHECKF(cJSON_IsTrue(cJSON_GetObjectItem(ack, "ok")), "send refused during the burst: %s",
			  th_json_str(ack, "code"));
		n = atoi(th_json_str(ack, "client_msg_id") + 2);
		TH_CHECK(n >= 0 && n < BURST);
		if(acks[n].seq == 0) {
			known++;
		}
		acks[n].seq = th_json_int(ack, "seq");
		snprintf(acks[n].id, sizeof(acks[n].id), "%s", th_json_str(ack, "id"));
		cJSON_Delete(ack);
	}
	return known;
}


static void burst_kill_retry(const char *synchronous)
{
	struct ack_record *acks = calloc(BURST, sizeof(*acks));
	struct ack_record *retried = calloc(BURST, sizeof(*retried));
	int *seen = calloc(BURST, sizeof(*seen));
	struct th_broker b;
	struct th_client *ada;
	cJSON *history, *ev;
	char payload[96];
	int acked, mid, stored_unacked = 0;

	th_broker_start(&b, "plugin_opt_send_rate 0\nplugin_opt_synchronous %s", synchronous);
	ada = th_connect(&b, "ada", "ada-1", 5, true);
	tc_api_ok(ada, "{\"op\":\"create\",\"channel\":\"general\"}");
	for(int i = 0; i < BURST; i++) {
		snprintf(payload, sizeof(payload), "{\"client_msg_id\":\"k-%d\",\"body\":\"burst %d\"}", i,
			 i);
		TH_EQ_INT(th_publish_async(ada, "chat/general", payload, -1, 1, &mid), 0);
	}
	acked = collect_acks(ada, acks, 0, KILL_AFTER_ACKS, 10000);
	TH_CHECKF(acked >= KILL_AFTER_ACKS, "only %d acks before the kill", acked);
	th_broker_kill9(&b);
	acked = collect_acks(ada, acks, acked, BURST, 200); /* acks already on their way count too */
	th_log("synchronous=%s: %d of %d sends acknowledged before kill -9", synchronous, acked, BURST);
	TH_CHECKF(acked < BURST, "all %d sends were acknowledged before the kill; nothing was tested", BURST);
	th_drop(ada);

	th_broker_restart(&b);
	ada = th_connect(&b, "ada", "ada-1", 5, true);
	/* every acknowledged event is in the log, as acknowledged */
	history = tc_history(ada, "general");
	cJSON_ArrayForEach(ev, history) {
		const char *cmid = th_json_str(ev, "client_msg_id");
		int n;
		if(cmid == NULL) {
			continue;
		}
		n = atoi(cmid + 2);
		seen[n]++;
		if(acks[n].seq != 0) {
			TH_EQ_INT(th_json_int(ev, "seq"), acks[n].seq);
			TH_EQ_STR(th_json_str(ev, "id"), acks[n].id);
		} else {
			stored_unacked++; /* committed, but the ack died with the broker */
		}
	}
	for(int i = 0; i < BURST; i++) {
		TH_CHECKF(acks[i].seq == 0 || seen[i] == 1, "acknowledged k-%d is missing after kill -9", i);
	}
	th_log("%d sends were stored but not acknowledged", stored_unacked);
	cJSON_Delete(history);

	/* retry everything: the acknowledged ones are recognised, the rest stored exactly once */
	for(int i = 0; i < BURST; i++) {
		snprintf(payload, sizeof(payload), "{\"client_msg_id\":\"k-%d\",\"body\":\"burst %d\"}", i,
			 i);
		TH_EQ_INT(th_publish_async(ada, "chat/general", payload, -1, 1, &mid), 0);
	}
	TH_EQ_INT(collect_acks(ada, retried, 0, BURST, 10000), BURST);
	for(int i = 0; i < BURST; i++) {
		if(acks[i].seq != 0) {
			TH_EQ_INT(retried[i].seq, acks[i].seq);
		}
	}
	history = tc_history(ada, "general"); /* checks seqs run 1..head without a gap */
	TH_EQ_INT(cJSON_GetArraySize(history), 1 + BURST);
	memset(seen, 0, BURST * sizeof(*seen));
	cJSON_ArrayForEach(ev, history) {
		const char *cmid = th_json_str(ev, "client_msg_id");
		if(cmid != NULL) {
			seen[atoi(cmid + 2)]++;
		}
	}
	for(int i = 0; i < BURST; i++) {
		TH_CHECKF(seen[i] == 1, "k-%d is in the log %d times", i, seen[i]);
	}
	cJSON_Delete(history);
	th_disconnect(ada);
	th_broker_stop(&b);
	free(acks);
	free(retried);
	free(seen);
}


static void test_kill9_during_burst_synchronous_full(void)
{
	burst_kill_retry("full");
}


static void test_kill9_during_burst_synchronous_normal(void)
{
	burst_kill_retry("normal");
}


static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	TH_CHECK(f != NULL);
	TH_CHECK(fputs(text, f) >= 0);
	TH_EQ_INT(fclose(f), 0);
}


/* general's epoch as catch-up names it, malloc'd. */
static char *epoch_of(struct th_broker *b)
{
	struct th_client *ada = th_connect(b, "ada", "ada-1", 5, true);
	cJSON *page = tc_sync(ada, "general", 0, 1);
	char *epoch = strdup(th_json_str(page, "epoch"));

	cJSON_Delete(page);
	th_disconnect(ada);
	return epoch;
}


/* At synchronous normal a power loss can take back acknowledged events, whose seqs new events would
 * then reuse. faultvfs (preloaded) keeps writes in memory until an fsync, so kill -9 is a power loss;
 * MQCHAT_BOOT_ID_FILE stands in for the kernel's boot id. After an unclean stop and a reboot every
 * channel starts a new epoch, so a client that saw a lost event syncs again instead of keeping a
 * cursor that names another event. A crash without a reboot, or a clean stop, keeps the epoch. */
static void test_power_loss_at_normal_starts_a_new_epoch(void)
{
	struct th_broker b;
	struct th_client *ada;
	char *boot, *epoch1, *epoch;
	cJSON *ack, *page;
	char cmid[16];

	TH_CHECK(*TH_FAULTVFS_PATH);
	setenv("MQCHAT_BROKER_PRELOAD_EXTRA", TH_FAULTVFS_PATH, 1);
	th_broker_start(&b, "plugin_opt_synchronous normal");
	boot = th_tmpfile(&b, "boot_id");
	write_file(boot, "boot-1\n");
	setenv("MQCHAT_BOOT_ID_FILE", boot, 1);
	th_broker_restart(&b);
	ada = th_connect(&b, "ada", "ada-1", 5, true);
	tc_api_ok(ada, "{\"op\":\"create\",\"channel\":\"general\"}");
	cJSON_Delete(tc_send(ada, "general", "c-1", "synced at the clean stop"));
	th_disconnect(ada);
	th_broker_restart(&b);
	epoch1 = epoch_of(&b);

	/* a crash without a reboot: nothing was lost, the epoch stays */
	th_broker_kill9(&b);
	th_broker_restart(&b);
	epoch = epoch_of(&b);
	TH_EQ_STR(epoch, epoch1);
	free(epoch);
	TH_CHECK(!th_broker_log_contains(&b, "start a new epoch"));

	/* acknowledged sends, then a power loss and a reboot: a new epoch */
	ada = th_connect(&b, "ada", "ada-1", 5, true);
	for(int i = 2; i <= 4; i++) {
		snprintf(cmid, sizeof(cmid), "c-%d", i);
		cJSON_Delete(tc_send(ada, "general", cmid, "acknowledged, maybe lost"));
	}
	th_drop(ada);
	th_broker_kill9(&b);
	write_file(boot, "boot-2\n");
	th_broker_restart(&b);
	TH_CHECK(th_broker_log_contains(&b, "1 channels start a new epoch"));
	epoch = epoch_of(&b);
	TH_CHECKF(strcmp(epoch, epoch1) != 0, "still epoch %s", epoch);
	ada = th_connect(&b, "ada", "ada-1", 5, true);
	page = tc_sync(ada, "general", 0, 0); /* the log itself is intact: 1..head without a gap */
	ack = tc_send(ada, "general", "c-5", "after the power loss");
	TH_EQ_INT(th_json_int(ack, "seq"), th_json_int(page, "head") + 1);
	cJSON_Delete(ack);
	cJSON_Delete(page);
	th_disconnect(ada);

	/* a clean stop, then a reboot: the epoch stays */
	th_broker_stop(&b);
	write_file(boot, "boot-3\n");
	th_broker_restart(&b);
	epoch1 = (free(epoch1), epoch);
	epoch = epoch_of(&b);
	TH_EQ_STR(epoch, epoch1);
	th_broker_stop(&b);
	unsetenv("MQCHAT_BOOT_ID_FILE");
	unsetenv("MQCHAT_BROKER_PRELOAD_EXTRA");
	free(epoch);
	free(epoch1);
	free(boot);
}


TH_TEST_LIST(TH_TEST(test_restart_keeps_log_and_continues_seq),
	     TH_TEST(test_power_loss_at_normal_starts_a_new_epoch),
	     TH_TEST(test_kill9_during_burst_synchronous_full),
	     TH_TEST(test_kill9_during_burst_synchronous_normal))
