/*
 * test_worked_example.c - the seeds' worked example, end to end.
 *
 * Ada posts in #general with Bo online and Cy offline; the post becomes seq 42; Bo sees it live; Cy
 * reconnects with last-seen 41 and catch-up delivers seq 42 exactly once, byte for byte what Bo got.
 */
#include <stdlib.h>
#include <string.h>

#include "th_chat.h"


static void test_worked_example(void)
{
	struct th_broker b;
	struct th_client *ada, *bo, *cy;
	struct th_msg *live;
	cJSON *ack, *page, *event, *live_event;
	char cmid[32];

	th_broker_start(&b, "");
	ada = th_connect(&b, "ada", "ada-laptop", 5, true);
	bo = th_connect(&b, "bo", "bo-phone", 5, true);
	cy = th_connect(&b, "cy", "cy-tablet", 4, true);
	tc_api_ok(ada, "{\"op\":\"create\",\"channel\":\"general\",\"members\":[\"bo\",\"cy\"]}");
	TH_EQ_INT(th_subscribe(bo, "chat/general", 1), 1);
	TH_EQ_INT(th_subscribe(cy, "chat/general", 1), 1);

	/* seqs 1-3 are the joins of ada, bo and cy; 4-41 the history Cy saw before going offline */
	for(int i = 4; i <= 41; i++) {
		snprintf(cmid, sizeof(cmid), "c-%d", i);
		ack = tc_send(ada, "general", cmid, "earlier");
		TH_EQ_INT(th_json_int(ack, "seq"), i);
		cJSON_Delete(ack);
	}
	for(int i = 4; i <= 41; i++) {
		cJSON *seen = th_expect_json(cy, "chat/general");
		TH_EQ_INT(th_json_int(seen, "seq"), i);
		cJSON_Delete(seen);
		seen = th_expect_json(bo, "chat/general");
		TH_EQ_INT(th_json_int(seen, "seq"), i);
		cJSON_Delete(seen);
	}
	th_disconnect(cy);

	ack = tc_send(ada, "general", "c-5f1e", "hello");
	TH_JSON(ack, "{\"ok\":true,\"kind\":\"ack\",\"channel\":\"general\",\"client_msg_id\":\"c-5f1e\","
		     "\"id\":\"*\","
		     "\"seq\":42,\"ts\":\"*\",\"duplicate\":false}");

	live = th_wait_msg(bo, "chat/general", 5000);
	TH_CHECK(live != NULL);
	live_event = th_json_parse((char *)live->payload);
	TH_JSON(live_event,
		"{\"id\":\"*\",\"channel\":\"general\",\"seq\":42,\"type\":\"message\",\"from\":\"ada\","
		"\"device\":\"ada-laptop\",\"ts\":\"*\",\"client_msg_id\":\"c-5f1e\",\"body\":\"hello\"}");
	TH_EQ_STR(th_json_str(live_event, "id"), th_json_str(ack, "id"));
	TH_EQ_INT(th_json_int(live_event, "ts"), th_json_int(ack, "ts"));

	cy = th_connect(&b, "cy", "cy-tablet", 4, true);
	page = tc_sync(cy, "general", 41, 0);
	TH_JSON(page, "{\"ok\":true,\"kind\":\"sync\",\"channel\":\"general\",\"epoch\":\"*\",\"since\":41,"
		      "\"next\":42,"
		      "\"head\":42,\"more\":false,\"events\":[\"*\"]}");
	event = cJSON_GetArrayItem(cJSON_GetObjectItem(page, "events"), 0);
	TH_CHECK(cJSON_Compare(event, live_event, true));
	{
		/* byte for byte: the page embeds the very text Bo received */
		char *raw = th_json_print(page);
		TH_CHECKF(strstr(raw, (char *)live->payload) != NULL, "live payload not in page: %s", raw);
		free(raw);
	}
	cJSON_Delete(page);

	/* and nothing more after it: exactly once */
	page = tc_sync(cy, "general", 42, 0);
	TH_JSON(page, "{\"ok\":true,\"kind\":\"sync\",\"channel\":\"general\",\"epoch\":\"*\",\"since\":42,"
		      "\"next\":42,"
		      "\"head\":42,\"more\":false,\"events\":[]}");
	cJSON_Delete(page);
	TH_EQ_INT(th_queued(bo, "chat/general"), 0);

	cJSON_Delete(live_event);
	cJSON_Delete(ack);
	th_msg_free(live);
	th_disconnect(ada);
	th_disconnect(bo);
	th_disconnect(cy);
	th_broker_stop(&b);
}


TH_TEST_LIST(TH_TEST(test_worked_example))
