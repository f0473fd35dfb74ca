/*
 * test_gateway.c - the gateway tier: a core and edges (plugin_opt_role edge), separate mosquitto
 * processes on loopback ports, bridged with Mosquitto's own bridge.
 */
#include <stdlib.h>
#include <string.h>

#include "th_chat.h"
#include "th_gateway.h"


/* Members on different edges chat both ways; acks go to the sender only, events to every member. */
static void test_members_on_two_edges_chat_both_ways(void)
{
	struct th_broker core, e1, e2;
	struct th_client *ada, *bo;
	cJSON *ack, *ev;

	th_core_start(&core, NULL);
	th_edge_start(&e1, &core, 1);
	th_edge_start(&e2, &core, 2);
	ada = th_connect(&e1, "ada", "ada-laptop", 5, true);
	bo = th_connect(&e2, "bo", "bo-phone", 4, true);
	tc_api_ok(ada, "{\"op\":\"create\",\"channel\":\"general\",\"members\":[\"bo\"]}");
	TH_EQ_INT(th_subscribe(ada, "chat/general", 1), 1);
	TH_EQ_INT(th_subscribe(bo, "chat/general", 1), 1);

	ack = tc_send(ada, "general", "c-1", "hi bo");
	TH_JSON(ack, "{\"ok\":true,\"kind\":\"ack\",\"channel\":\"general\",\"client_msg_id\":\"c-1\",\"id\":\"*\","
		     "\"seq\":3,\"ts\":\"*\",\"duplicate\":false}");
	cJSON_Delete(ack);
	ev = th_expect_json(bo, "chat/general");
	TH_JSON(ev, "{\"id\":\"*\",\"channel\":\"general\",\"seq\":3,\"type\":\"message\",\"from\":\"ada\","
		    "\"device\":\"ada-laptop\",\"ts\":\"*\",\"client_msg_id\":\"c-1\",\"body\":\"hi bo\"}");
	cJSON_Delete(ev);
	ev = th_expect_json(ada, "chat/general");
	TH_EQ_INT(th_json_int(ev, "seq"), 3);
	cJSON_Delete(ev);

	ack = tc_send(bo, "general", "c-2", "hi ada");
	TH_EQ_INT(th_json_int(ack, "seq"), 4);
	cJSON_Delete(ack);
	ev = th_expect_json(ada, "chat/general");
	TH_JSON(ev, "{\"id\":\"*\",\"channel\":\"general\",\"seq\":4,\"type\":\"message\",\"from\":\"bo\","
		    "\"device\":\"bo-phone\",\"ts\":\"*\",\"client_msg_id\":\"c-2\",\"body\":\"hi ada\"}");
	cJSON_Delete(ev);
	ev = th_expect_json(bo, "chat/general");
	TH_EQ_INT(th_json_int(ev, "seq"), 4);
	cJSON_Delete(ev);
	/* nothing else reached either of them: no duplicate, no other client's reply */
	th_sleep_ms(200);
	TH_EQ_INT(th_queued(ada, "#"), 0);
	TH_EQ_INT(th_queued(bo, "#"), 0);

	th_disconnect(ada);
	th_disconnect(bo);
	th_broker_stop(&e1);
	th_broker_stop(&e2);
	th_broker_stop(&core);
}


TH_TEST_LIST(TH_TEST(test_members_on_two_edges_chat_both_ways))
