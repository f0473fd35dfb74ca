/*
 * test_examples.c - what the README and examples/ promise, run as written against a real broker:
 * examples/worked-example.sh, and the commands of the README's five-minute tour.
 */
#include <stdlib.h>
#include <string.h>

#include "th_chat.h"


static void test_worked_example_script(void)
{
	struct th_broker b;
	int status = -1;
	char *out;

	th_broker_start(&b, "");
	out = th_run(&status, "MQCHAT_PORT=%d CHANNEL=general %s/examples/worked-example.sh", b.port,
		     TH_SOURCE_DIR);
	th_log("%s", out);
	TH_EQ_INT(status, 0);
	TH_CHECK(strstr(out, "Seq 42 reached Bo live and Cy by catch-up, exactly once") != NULL);
	free(out);
	th_broker_stop(&b);
}


/* Runs one tour command (with $P set as in the README) and returns its output. */
static char *tour(struct th_broker *b, int expect_status, const char *command)
{
	int status = -1;
	char *out = th_run(&status, "P='-h 127.0.0.1 -p %d'; %s", b->port, command);

	th_log("$ %s\n%s", command, out);
	TH_EQ_INT(status, expect_status);
	return out;
}


static void expect_in(char *out, const char *needle)
{
	TH_CHECKF(strstr(out, needle) != NULL, "expected %s in: %s", needle, out);
	free(out);
}


/* Waits for the presence event of user going online (or offline), skipping others' transitions. */
static void expect_presence(struct th_client *c, const char *user, bool online)
{
	for(;;) {
		cJSON *ev = th_expect_json(c, "chat/general/presence");
		bool match = strcmp(th_json_str(ev, "user"), user) == 0
			     && cJSON_IsTrue(cJSON_GetObjectItem(ev, "online")) == online;
		cJSON_Delete(ev);
		if(match) {
			return;
		}
	}
}


static void test_readme_tour(void)
{
	struct th_broker b;
	struct th_client *bo_listener;
	cJSON *ev;

	th_broker_start(&b, "");
	bo_listener = th_connect(&b, "bo", "bo-terminal", 4, true);

	expect_in(
		tour(&b, 0,
		     "mosquitto_rr $P -u cy -P cy-pw -t chat/_api -e replies/cy -m '{\"op\":\"channels\"}'"),
		"{\"ok\":true,\"kind\":\"api\",\"op\":\"channels\",\"channels\":[]}");
	expect_in(tour(&b, 0,
		       "mosquitto_rr $P -u ada -P ada-pw -t chat/_api -e replies/ada "
		       "-m "
		       "'{\"op\":\"create\",\"channel\":\"general\",\"title\":\"General\",\"members\":["
		       "\"bo\",\"cy\"]}'"),
		  "\"ok\":true,\"kind\":\"api\",\"op\":\"create\",\"channel\":\"general\"");
	TH_EQ_INT(th_subscribe(bo_listener, "chat/#", 0), 0); /* the README's mosquitto_sub -t 'chat/#' */

	expect_in(tour(&b, 0, "mosquitto_pub $P -u ada -P ada-pw -t chat/general -m 'hello, world'"), "");
	ev = th_expect_json(bo_listener, "chat/general");
	TH_EQ_INT(th_json_int(ev, "seq"), 4);
	TH_EQ_STR(th_json_str(ev, "body"), "hello, world");
	cJSON_Delete(ev);

	expect_in(tour(&b, 0,
		       "mosquitto_rr $P -u ada -P ada-pw -t chat/general -e replies/ada "
		       "-m '{\"client_msg_id\":\"c-1\",\"body\":\"is this thing on?\"}'"),
		  "\"seq\":5,");
	expect_in(tour(&b, 0,
		       "mosquitto_rr $P -u ada -P ada-pw -t chat/general -e replies/ada "
		       "-m '{\"client_msg_id\":\"c-1\",\"body\":\"is this thing on?\"}'"),
		  "\"seq\":5,\"ts\"");
	expect_in(tour(&b, 0,
		       "mosquitto_pub $P -u bo -P bo-pw -t chat/general -m '{\"body\":\"loud and "
		       "clear\",\"thread\":5}'"),
		  "");
	expect_in(tour(&b, 0,
		       "mosquitto_pub $P -u bo -P bo-pw -t chat/general "
		       "-m '{\"type\":\"reaction\",\"target\":5,\"emoji\":\":+1:\"}'"),
		  "");
	expect_in(tour(&b, 0,
		       "mosquitto_pub $P -u ada -P ada-pw -t chat/general "
		       "-m '{\"type\":\"edit\",\"target\":5,\"body\":\"is this on?\"}'"),
		  "");
	ev = th_expect_json(bo_listener, "chat/general"); /* seq 5: the retry was not delivered again */
	TH_EQ_INT(th_json_int(ev, "seq"), 5);
	cJSON_Delete(ev);
	ev = th_expect_json(bo_listener, "chat/general");
	TH_JSON(ev, "{\"id\":\"*\",\"channel\":\"general\",\"seq\":6,\"type\":\"message\",\"from\":\"bo\","
		    "\"device\":\"*\","
		    "\"ts\":\"*\",\"body\":\"loud and clear\",\"thread\":5}");
	cJSON_Delete(ev);
	ev = th_expect_json(bo_listener, "chat/general");
	TH_EQ_STR(th_json_str(ev, "type"), "reaction");
	cJSON_Delete(ev);
	ev = th_expect_json(bo_listener, "chat/general");
	TH_JSON(ev, "{\"id\":\"*\",\"channel\":\"general\",\"seq\":8,\"type\":\"edit\",\"from\":\"ada\","
		    "\"device\":\"*\","
		    "\"ts\":\"*\",\"target\":5,\"body\":\"is this on?\"}");
	cJSON_Delete(ev);

	expect_in(tour(&b, 0,
		       "mosquitto_rr $P -u cy -P cy-pw -t chat/general/sync -e replies/cy -m "
		       "'{\"since\":0,\"limit\":100}'"),
		  "\"since\":0,\"next\":8,\"head\":8,\"more\":false");
	expect_in(tour(&b, 0, "mosquitto_sub $P -u dee -P dee-pw -t chat/general -C 1 -W 2"),
		  "All subscription requests were denied");
	expect_in(tour(&b, 0, "mosquitto_rr $P -u dee -P dee-pw -t chat/general/sync -e replies/dee -m '{}'"),
		  "\"code\":\"not_member\"");
	expect_in(tour(&b, 0,
		       "mosquitto_rr $P -u ada -P ada-pw -t chat/_api -e replies/ada -m "
		       "'{\"op\":\"channels\"}'"),
		  "\"head\":8,\"read\":1,\"unread\":1,\"last\":{");
	expect_in(tour(&b, 0, "mosquitto_pub $P -u ada -P ada-pw -t chat/general/read -m '{\"seq\":8}'"), "");
	ev = th_expect_json(bo_listener, "chat/general/read");
	TH_JSON(ev, "{\"channel\":\"general\",\"user\":\"ada\",\"seq\":8,\"ts\":\"*\"}");
	cJSON_Delete(ev);
	expect_in(tour(&b, 0,
		       "mosquitto_rr $P -u ada -P ada-pw -t chat/_api -e replies/ada -m "
		       "'{\"op\":\"channels\"}'"),
		  "\"head\":8,\"read\":8,\"unread\":0,");
	expect_in(tour(&b, 0,
		       "mosquitto_pub $P -u ada -P ada-pw -t chat/general/typing -m '{\"typing\":true}'"),
		  "");
	ev = th_expect_json(bo_listener, "chat/general/typing");
	TH_JSON(ev,
		"{\"channel\":\"general\",\"user\":\"ada\",\"device\":\"*\",\"typing\":true,\"ts\":\"*\"}");
	cJSON_Delete(ev);
	ev = th_expect_json(bo_listener, "chat/general/typing"); /* mosquitto_pub left: typing is over */
	TH_JSON(ev,
		"{\"channel\":\"general\",\"user\":\"ada\",\"device\":\"*\",\"typing\":false,\"ts\":\"*\"}");
	cJSON_Delete(ev);
	expect_in(tour(&b, 27, "mosquitto_sub $P -u cy -P cy-pw -t chat/general -W 1"),
		  "Timed out"); /* -W: 27 */
	/* every tour command is a connection of its own, so Ada comes and goes too: look for Cy */
	expect_presence(bo_listener, "cy", true);
	expect_presence(bo_listener, "cy", false);
	th_disconnect(bo_listener);
	th_broker_stop(&b);
}


TH_TEST_LIST(TH_TEST(test_worked_example_script), TH_TEST(test_readme_tour))
