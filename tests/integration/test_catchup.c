/*
 * test_catchup.c - paging by cursor, limits, page size, reply routing (Response Topic, mosquitto_rr).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mosquitto.h>
#include <mqtt_protocol.h>

#include "th_chat.h"


/* Fills #general (ada, bo) up to head `head` with ada's messages, each `body_len` bytes long. */
static void fill(struct th_client *ada, int head, int body_len)
{
	char *body = malloc((size_t)body_len + 1);
	int mid;

	memset(body, 'x', (size_t)body_len);
	body[body_len] = '\0';
	for(int seq = 3; seq <= head; seq++) {
		TH_EQ_INT(th_publish_async(ada, "chat/general", body, -1, 1, &mid), 0);
	}
	th_wait_until(th_acked_count(ada) >= head - 2, 30000);
	free(body);
}


static void setup(struct th_broker *b, struct th_client **ada, struct th_client **bo, const char *extra)
{
	th_broker_start(b, "plugin_opt_send_rate 0\nplugin_opt_synchronous normal\n%s", extra);
	*ada = th_connect(b, "ada", "ada-laptop", 5, true);
	*bo = th_connect(b, "bo", "bo-phone", 5, true);
	tc_api_ok(*ada, "{\"op\":\"create\",\"channel\":\"general\",\"members\":[\"bo\"]}");
}


static void test_paging_through_a_long_history(void)
{
	struct th_broker b;
	struct th_client *ada, *bo;
	cJSON *page, *all;
	long long since = 0;
	const long long expect_next[] = {1000, 2000, 2500};

	setup(&b, &ada, &bo, "");
	fill(ada, 2500, 20);
	for(int i = 0; i < 3; i++) {
		cJSON *events;
		page = tc_sync(bo, "general", since, 1000);
		events = cJSON_GetObjectItem(page, "events");
		TH_EQ_INT(th_json_int(page, "since"), since);
		TH_EQ_INT(th_json_int(page, "next"), expect_next[i]);
		TH_EQ_INT(th_json_int(page, "head"), 2500);
		TH_EQ_INT(cJSON_IsTrue(cJSON_GetObjectItem(page, "more")), i < 2);
		TH_EQ_INT(cJSON_GetArraySize(events), expect_next[i] - since);
		TH_EQ_INT(th_json_int(cJSON_GetArrayItem(events, 0), "seq"), since + 1);
		since = th_json_int(page, "next");
		cJSON_Delete(page);
	}
	all = tc_history(bo, "general"); /* checks seqs 1..head exactly once, pages chained */
	TH_EQ_INT(cJSON_GetArraySize(all), 2500);
	cJSON_Delete(all);
	th_disconnect(ada);
	th_disconnect(bo);
	th_broker_stop(&b);
}


static void test_limits_and_cursors(void)
{
	struct th_broker b;
	struct th_client *ada, *bo;
	cJSON *page;

	setup(&b, &ada, &bo, "");
	fill(ada, 1500, 5);

	page = tc_request(bo, "chat/general/sync", "%s", ""); /* empty request: since 0, default limit */
	TH_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(page, "events")), 100);
	TH_EQ_INT(th_json_int(page, "next"), 100);
	TH_CHECK(cJSON_IsTrue(cJSON_GetObjectItem(page, "more")));
	cJSON_Delete(page);

	page = tc_sync(bo, "general", 0, 5000); /* above the maximum: clamped */
	TH_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(page, "events")), 1000);
	cJSON_Delete(page);

	page = tc_sync(bo, "general", 1500, 10); /* at the head: nothing, nothing more */
	TH_JSON(page, "{\"ok\":true,\"kind\":\"sync\",\"channel\":\"general\",\"epoch\":\"*\",\"since\":1500,"
		      "\"next\":1500,\"head\":1500,\"more\":false,\"events\":[]}");
	cJSON_Delete(page);
	page = tc_sync(bo, "general", 9999, 10); /* past the head (a cursor from another log) */
	TH_JSON(page, "{\"ok\":true,\"kind\":\"sync\",\"channel\":\"general\",\"epoch\":\"*\",\"since\":9999,"
		      "\"next\":9999,\"head\":1500,\"more\":false,\"events\":[]}");
	cJSON_Delete(page);
	page = tc_sync(bo, "general", 1495, 10); /* the tail */
	TH_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(page, "events")), 5);
	TH_CHECK(cJSON_IsFalse(cJSON_GetObjectItem(page, "more")));
	cJSON_Delete(page);

	tc_expect_error(tc_request(bo, "chat/general/sync", "{\"since\":0,\"limit\":0}"), "bad_request",
			"limit must be an integer from 1 to 9007199254740992");
	tc_expect_error(tc_request(bo, "chat/general/sync", "{\"since\":-1}"), "bad_request",
			"since must be an integer from 0 to 9007199254740992");
	tc_expect_error(tc_request(bo, "chat/general/sync", "{\"since\":\"41\"}"), "bad_request", NULL);
	tc_expect_error(tc_request(bo, "chat/general/sync", "since=41"), "bad_request",
			"a catch-up request is a JSON object");
	tc_expect_error(tc_request(bo, "chat/nope/sync", "{}"), "no_such_channel",
			"there is no channel #nope");
	th_disconnect(ada);
	th_disconnect(bo);
	th_broker_stop(&b);
}


/* Pages are bounded in bytes as well as in events; `more` says a short page is not the end. */
static void test_pages_are_bounded_in_bytes(void)
{
	struct th_broker b;
	struct th_client *ada, *bo;
	cJSON *page, *all;
	char *raw;

	setup(&b, &ada, &bo, "plugin_opt_catchup_page_bytes 4096");
	fill(ada, 22, 1000);
	page = tc_sync(bo, "general", 2, 100);
	raw = th_json_print(page);
	TH_CHECKF(strlen(raw) <= 4096, "page of %zu bytes", strlen(raw));
	TH_CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(page, "events")) >= 1);
	TH_CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(page, "events")) < 20);
	TH_CHECK(cJSON_IsTrue(cJSON_GetObjectItem(page, "more")));
	free(raw);
	cJSON_Delete(page);
	all = tc_history(bo, "general");
	TH_EQ_INT(cJSON_GetArraySize(all), 22);
	cJSON_Delete(all);
	th_disconnect(ada);
	th_disconnect(bo);
	th_broker_stop(&b);
}


/* Backward catch-up (extension): {"before":B} pages from the head down. Each page is in seq order and
 * ends just below the previous page's first; the pages cover 1..head exactly once; more is false only
 * at the bottom; since bounds the window; pages stay within their byte budget; bad values are refused. */
static void read_backward(struct th_client *c, long long since, long long head, int limit, int *pages)
{
	bool *seen = calloc((size_t)head + 1, sizeof(bool));
	long long before = head + 1;
	bool more = true;

	TH_CHECK(seen != NULL);
	for(*pages = 0; more && *pages < 1000; (*pages)++) {
		cJSON *page =
			tc_request(c, "chat/general/sync", "{\"since\":%lld,\"before\":%lld,\"limit\":%d}",
				   since, before, limit);
		cJSON *events = cJSON_GetObjectItem(page, "events");
		int n = cJSON_GetArraySize(events);
		TH_CHECKF(cJSON_IsTrue(cJSON_GetObjectItem(page, "ok")), "%s", th_json_print(page));
		TH_EQ_INT(th_json_int(page, "before"), before);
		TH_EQ_INT(th_json_int(page, "head"), head);
		TH_CHECK(n >= 1 && n <= limit);
		/* contiguous, in seq order, ending just below before */
		for(int i = 0; i < n; i++) {
			long long seq = th_json_int(cJSON_GetArrayItem(events, i), "seq");
			TH_EQ_INT(seq, before - n + i);
			TH_CHECK(seq > since && !seen[seq]);
			seen[seq] = true;
		}
		TH_EQ_INT(th_json_int(page, "first"), before - n);
		TH_EQ_INT(th_json_int(page, "next"), before - 1);
		more = cJSON_IsTrue(cJSON_GetObjectItem(page, "more"));
		TH_EQ_INT(more, before - n > since + 1);
		before = th_json_int(page, "first");
		cJSON_Delete(page);
	}
	for(long long seq = since + 1; seq <= head; seq++) {
		TH_CHECKF(seen[seq], "seq %lld never came", seq);
	}
	free(seen);
}


static void test_backward_paging(void)
{
	struct th_broker b;
	struct th_client *ada, *bo;
	cJSON *page;
	int pages;

	setup(&b, &ada, &bo, "");
	fill(ada, 250, 20);
	read_backward(bo, 0, 250, 100, &pages);
	TH_EQ_INT(pages, 3); /* 151..250, 51..150, 1..50 */
	read_backward(bo, 120, 250, 50, &pages);
	TH_EQ_INT(pages, 3); /* 201..250, 151..200, 121..150 */
	/* nothing below the first event */
	page = tc_request(bo, "chat/general/sync", "{\"before\":1}");
	TH_JSON(page, "{\"ok\":true,\"kind\":\"sync\",\"channel\":\"general\",\"epoch\":\"*\",\"since\":0,"
		      "\"before\":1,\"first\":1,\"next\":0,\"head\":250,\"more\":false,\"events\":[]}");
	cJSON_Delete(page);
	tc_expect_error(tc_request(bo, "chat/general/sync", "{\"before\":0}"), "bad_request", NULL);
	tc_expect_error(tc_request(bo, "chat/general/sync", "{\"before\":\"head\"}"), "bad_request", NULL);
	th_disconnect(ada);
	th_disconnect(bo);
	th_broker_stop(&b);
}


static void test_backward_pages_are_bounded_in_bytes(void)
{
	struct th_broker b;
	struct th_client *ada, *bo;
	int pages;

	setup(&b, &ada, &bo, "plugin_opt_catchup_page_bytes 4096");
	fill(ada, 22, 1000);
	read_backward(bo, 0, 22, 100, &pages); /* ~3 events a page; checks each page's contiguity */
	TH_CHECKF(pages >= 6, "%d pages", pages);
	th_disconnect(ada);
	th_disconnect(bo);
	th_broker_stop(&b);
}


/* An MQTT v5 request with Response Topic and Correlation Data is answered there, with the same data,
 * and only to the requester. */
static void test_response_topic_and_correlation(void)
{
	struct th_broker b;
	struct th_client *ada, *bo, *dee;
	mosquitto_property *props = NULL;
	struct th_msg *reply;
	void *corr = NULL;
	uint16_t corr_len = 0;
	cJSON *page;

	setup(&b, &ada, &bo, "");
	dee = th_connect(&b, "dee", "dee-1", 5, true);
	TH_EQ_INT(th_subscribe(dee, "resp/#", 1), 1); /* an eavesdropper on the response topic */
	TH_EQ_INT(th_subscribe(ada, "#", 1), 1);      /* and a member listening to everything */
	mosquitto_property_add_string(&props, MQTT_PROP_RESPONSE_TOPIC, "resp/bo/1");
	mosquitto_property_add_binary(&props, MQTT_PROP_CORRELATION_DATA, "req-7", 5);
	TH_CHECK(th_publish(bo, "chat/general/sync", "{\"since\":0,\"limit\":1}", -1, 1, props) >= 0);
	mosquitto_property_free_all(&props);

	reply = th_wait_msg(bo, "resp/bo/1", 5000);
	TH_CHECK(reply != NULL);
	page = th_json_parse((char *)reply->payload);
	TH_JSON(page, "{\"ok\":true,\"kind\":\"sync\",\"channel\":\"general\",\"epoch\":\"*\",\"since\":0,"
		      "\"next\":1,"
		      "\"head\":2,\"more\":true,\"events\":[\"*\"]}");
	TH_CHECK(mosquitto_property_read_binary(reply->props, MQTT_PROP_CORRELATION_DATA, &corr, &corr_len,
						false)
		 != NULL);
	TH_EQ_INT(corr_len, 5);
	TH_CHECK(memcmp(corr, "req-7", 5) == 0);
	free(corr);
	cJSON_Delete(page);
	th_msg_free(reply);
	TH_EQ_INT(th_queued(bo, tc_reply_topic(bo)), 0); /* answered once, in one place */

	/* Neither eavesdropper got it: a barrier published afterwards is the first thing each receives. */
	TH_EQ_INT(th_publish(bo, "resp/barrier", "b", -1, 1, NULL), 0);
	reply = th_wait_msg(dee, "#", 5000);
	TH_CHECK(reply != NULL);
	TH_EQ_STR(reply->topic, "resp/barrier");
	th_msg_free(reply);
	reply = th_wait_msg(ada, "#", 5000);
	TH_CHECK(reply != NULL);
	TH_EQ_STR(reply->topic, "resp/barrier");
	th_msg_free(reply);
	th_disconnect(dee);
	th_disconnect(ada);
	th_disconnect(bo);
	th_broker_stop(&b);
}


static void test_mosquitto_rr(void)
{
	struct th_broker b;
	struct th_client *ada, *bo;
	int status = -1;
	cJSON *page;
	char *out;

	setup(&b, &ada, &bo, "");
	cJSON_Delete(tc_send(ada, "general", "c-1", "hello"));
	out = th_run(&status,
		     "mosquitto_rr -h 127.0.0.1 -p %d -u bo -P bo-pw -t chat/general/sync -e resp/bo "
		     "-D publish correlation-data abc -m '{\"since\":2}' -W 5",
		     b.port);
	TH_EQ_INT(status, 0);
	page = th_json_parse(out);
	TH_JSON(page, "{\"ok\":true,\"kind\":\"sync\",\"channel\":\"general\",\"epoch\":\"*\",\"since\":2,"
		      "\"next\":3,"
		      "\"head\":3,\"more\":false,\"events\":[{\"id\":\"*\",\"channel\":\"general\",\"seq\":3,"
		      "\"type\":\"message\",\"from\":\"ada\",\"device\":\"ada-laptop\",\"ts\":\"*\","
		      "\"client_msg_id\":\"c-1\",\"body\":\"hello\"}]}");
	cJSON_Delete(page);
	free(out);
	th_disconnect(ada);
	th_disconnect(bo);
	th_broker_stop(&b);
}


/* The epoch names the log: stable across requests and restarts, different for another channel. */
static void test_epoch(void)
{
	struct th_broker b;
	struct th_client *ada, *bo;
	cJSON *p1, *p2, *other;

	setup(&b, &ada, &bo, "");
	tc_api_ok(ada, "{\"op\":\"create\",\"channel\":\"random\"}");
	p1 = tc_sync(ada, "general", 0, 1);
	other = tc_sync(ada, "random", 0, 1);
	TH_CHECK(strlen(th_json_str(p1, "epoch")) == 36);
	TH_CHECK(strcmp(th_json_str(p1, "epoch"), th_json_str(other, "epoch")) != 0);
	th_disconnect(ada);
	th_disconnect(bo);
	th_broker_restart(&b);
	ada = th_connect(&b, "ada", "ada-laptop", 5, true);
	p2 = tc_sync(ada, "general", 0, 1);
	TH_EQ_STR(th_json_str(p2, "epoch"), th_json_str(p1, "epoch"));
	cJSON_Delete(p1);
	cJSON_Delete(p2);
	cJSON_Delete(other);
	th_disconnect(ada);
	th_broker_stop(&b);
}


TH_TEST_LIST(TH_TEST(test_paging_through_a_long_history), TH_TEST(test_limits_and_cursors),
	     TH_TEST(test_backward_paging), TH_TEST(test_backward_pages_are_bounded_in_bytes),
	     TH_TEST(test_pages_are_bounded_in_bytes), TH_TEST(test_response_topic_and_correlation),
	     TH_TEST(test_mosquitto_rr), TH_TEST(test_epoch))
