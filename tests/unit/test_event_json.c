/*
 * test_event_json.c - the exact JSON of events, acks and errors, and the error table.
 */
#include <stdlib.h>
#include <string.h>

#include "event_json.h"
#include "th.h"


static void expect_json(char *actual, const char *expected)
{
	TH_CHECK(actual != NULL);
	TH_EQ_STR(actual, expected);
	free(actual);
}


static struct chat_event base_event(enum chat_event_type type)
{
	struct chat_event ev = {
		.channel = "general",
		.seq = 42,
		.id = "0b6c1b8e-0000-4000-8000-000000000000",
		.type = type,
		.from = "ada",
		.device = "ada-laptop",
		.ts = 1763900000123,
	};
	return ev;
}


static void test_message(void)
{
	struct chat_event ev = base_event(CHAT_EVENT_MESSAGE);
	size_t len = 0;

	ev.client_msg_id = "c-5f1e";
	ev.body = "hello \"world\"";
	expect_json(chat_event_json__build(&ev, &len),
		    "{\"id\":\"0b6c1b8e-0000-4000-8000-000000000000\",\"channel\":\"general\",\"seq\":42,"
		    "\"type\":\"message\",\"from\":\"ada\",\"device\":\"ada-laptop\",\"ts\":1763900000123,"
		    "\"client_msg_id\":\"c-5f1e\",\"body\":\"hello \\\"world\\\"\"}");
	ev.client_msg_id = NULL;
	ev.thread = 40;
	ev.body = "re";
	expect_json(chat_event_json__build(&ev, &len),
		    "{\"id\":\"0b6c1b8e-0000-4000-8000-000000000000\",\"channel\":\"general\",\"seq\":42,"
		    "\"type\":\"message\",\"from\":\"ada\",\"device\":\"ada-laptop\",\"ts\":1763900000123,"
		    "\"body\":\"re\",\"thread\":40}");
}


static void test_other_types(void)
{
	struct chat_event ev = base_event(CHAT_EVENT_REACTION);
	const char *prefix =
		"{\"id\":\"0b6c1b8e-0000-4000-8000-000000000000\",\"channel\":\"general\",\"seq\":42,";
	char expected[512];
	size_t len = 0;

	ev.target = 7;
	ev.emoji = ":+1:";
	ev.on = false;
	snprintf(expected, sizeof(expected),
		 "%s\"type\":\"reaction\",\"from\":\"ada\",\"device\":\"ada-laptop\",\"ts\":1763900000123,"
		 "\"target\":7,\"emoji\":\":+1:\",\"on\":false}",
		 prefix);
	expect_json(chat_event_json__build(&ev, &len), expected);

	ev = base_event(CHAT_EVENT_JOIN);
	ev.user = "cy";
	snprintf(expected, sizeof(expected),
		 "%s\"type\":\"join\",\"from\":\"ada\",\"device\":\"ada-laptop\",\"ts\":1763900000123,"
		 "\"user\":\"cy\"}",
		 prefix);
	expect_json(chat_event_json__build(&ev, &len), expected);

	ev = base_event(CHAT_EVENT_DELETE);
	ev.target = 3;
	snprintf(expected, sizeof(expected),
		 "%s\"type\":\"delete\",\"from\":\"ada\",\"device\":\"ada-laptop\",\"ts\":1763900000123,"
		 "\"target\":3}",
		 prefix);
	expect_json(chat_event_json__build(&ev, &len), expected);
}


static void test_signals(void)
{
	size_t len = 0;

	expect_json(chat_presence_json__build("general", "bo", true, 17, &len),
		    "{\"channel\":\"general\",\"user\":\"bo\",\"online\":true,\"ts\":17}");
	expect_json(chat_typing_json__build("general", "ada", "ada-laptop", false, 18, &len),
		    "{\"channel\":\"general\",\"user\":\"ada\",\"device\":\"ada-laptop\",\"typing\":false,"
		    "\"ts\":18}");
	expect_json(chat_cursor_json__build("general", "bo", NULL, 42, 19, &len),
		    "{\"channel\":\"general\",\"user\":\"bo\",\"seq\":42,\"ts\":19}");
	expect_json(chat_cursor_json__build("general", "bo", "bo-phone", 41, 20, &len),
		    "{\"channel\":\"general\",\"user\":\"bo\",\"device\":\"bo-phone\",\"seq\":41,\"ts\":20}");
}


static void test_ack_and_error(void)
{
	struct chat_error err;
	struct chat_error_context ctx = {.channel = "ops", .client_msg_id = "c-1"};
	size_t len = 0;

	expect_json(chat_ack_json__build("general", "c-5f1e", "0b6c", 42, 1763900000123, true, &len),
		    "{\"ok\":true,\"kind\":\"ack\",\"channel\":\"general\",\"client_msg_id\":\"c-5f1e\","
		    "\"id\":\"0b6c\","
		    "\"seq\":42,\"ts\":1763900000123,\"duplicate\":true}");
	chat_error__set(&err, CHAT_ERR_NOT_MEMBER, "%s is not a member of #%s", "ada", "ops");
	expect_json(chat_error_json__build(&err, &ctx, &len),
		    "{\"ok\":false,\"kind\":\"error\",\"code\":\"not_member\",\"message\":\"ada is not a "
		    "member of "
		    "#ops\",\"channel\":\"ops\",\"client_msg_id\":\"c-1\"}");
	chat_error__set(&err, CHAT_ERR_RATE_LIMITED, "ada is sending messages too fast; slow down");
	err.retry_after_ms = 48;
	expect_json(chat_error_json__build(&err, &ctx, &len),
		    "{\"ok\":false,\"kind\":\"error\",\"code\":\"rate_limited\","
		    "\"message\":\"ada is sending messages too fast; slow down\",\"retry_after_ms\":48,"
		    "\"channel\":\"ops\",\"client_msg_id\":\"c-1\"}");
	/* a quota that refills says when too; one that never will (retry_after_ms 0) says nothing */
	chat_error__set(&err, CHAT_ERR_QUOTA_EXCEEDED,
			"ada may create 50 channels at once and 60 more per hour: retry later");
	err.retry_after_ms = 60000;
	expect_json(chat_error_json__build(&err, &ctx, &len),
		    "{\"ok\":false,\"kind\":\"error\",\"code\":\"quota_exceeded\","
		    "\"message\":\"ada may create 50 channels at once and 60 more per hour: retry later\","
		    "\"retry_after_ms\":60000,\"channel\":\"ops\",\"client_msg_id\":\"c-1\"}");
	chat_error__set(&err, CHAT_ERR_QUOTA_EXCEEDED,
			"bo is already in 1000 channels, the most one user may be in");
	expect_json(chat_error_json__build(&err, &ctx, &len),
		    "{\"ok\":false,\"kind\":\"error\",\"code\":\"quota_exceeded\","
		    "\"message\":\"bo is already in 1000 channels, the most one user may be in\","
		    "\"channel\":\"ops\",\"client_msg_id\":\"c-1\"}");
}


static void test_error_table(void)
{
	static const char *const expected[] = {"ok",
					       "bad_request",
					       "bad_utf8",
					       "too_large",
					       "bad_topic",
					       "no_such_channel",
					       "not_member",
					       "forbidden",
					       "conflict",
					       "rate_limited",
					       "unavailable",
					       "no_such_user",
					       "no_such_media",
					       "quota_exceeded"};
	struct chat_error err;

	TH_EQ_INT(CHAT_ERR__COUNT, sizeof(expected) / sizeof(expected[0]));
	for(int i = 0; i < CHAT_ERR__COUNT; i++) {
		TH_EQ_STR(chat_err_code((enum chat_err)i), expected[i]);
		TH_CHECK(strlen(chat_err_message((enum chat_err)i)) > 0);
	}
	TH_EQ_INT(chat_error__set(&err, CHAT_ERR_CONFLICT, NULL), CHAT_ERR_CONFLICT);
	TH_EQ_STR(err.message, "conflicts with the current state");
}


/* The event and ack builders write JSON directly; it must be byte for byte what cJSON prints for the
 * same object, escapes included: quotes, backslashes, every control character, UTF-8 kept as is. */
static void test_same_bytes_as_cjson(void)
{
	struct chat_event ev = base_event(CHAT_EVENT_MESSAGE);
	char body[64 + 32];
	cJSON *obj;
	char *ours, *theirs;
	size_t len = 0;

	for(int c = 1; c < 32; c++) {
		body[c - 1] = (char)c;
	}
	memcpy(body + 31, "\"\\/ é ✓ end", sizeof("\"\\/ é ✓ end"));
	ev.body = body;
	ev.client_msg_id = "q\"\\";
	ev.thread = 7;
	obj = cJSON_CreateObject();
	cJSON_AddStringToObject(obj, "id", ev.id);
	cJSON_AddStringToObject(obj, "channel", ev.channel);
	cJSON_AddNumberToObject(obj, "seq", (double)ev.seq);
	cJSON_AddStringToObject(obj, "type", "message");
	cJSON_AddStringToObject(obj, "from", ev.from);
	cJSON_AddStringToObject(obj, "device", ev.device);
	cJSON_AddNumberToObject(obj, "ts", (double)ev.ts);
	cJSON_AddStringToObject(obj, "client_msg_id", ev.client_msg_id);
	cJSON_AddStringToObject(obj, "body", ev.body);
	cJSON_AddNumberToObject(obj, "thread", (double)ev.thread);
	theirs = cJSON_PrintUnformatted(obj);
	ours = chat_event_json__build(&ev, &len);
	TH_EQ_STR(ours, theirs);
	TH_EQ_INT((long long)len, (long long)strlen(theirs));
	free(ours);
	free(theirs);
	cJSON_Delete(obj);
}


/* cJSON's allocator, counted, with one fault: the allocation numbered fail_at (from 0) fails. */
static int live, allocations, fail_at = -1;
static bool fault_hit;


static void *counted_malloc(size_t n)
{
	void *p;

	if(allocations++ == fail_at) {
		fault_hit = true;
		return NULL;
	}
	p = malloc(n);
	live += p != NULL;
	return p;
}


static void counted_free(void *p)
{
	live -= p != NULL;
	free(p);
}


/* Runs build with a fault at each of cJSON's allocations in turn, until a run has none: each run
 * returns either NULL (with len 0) or exactly expected, and leaves no allocation behind. */
#define OOM_BUILD(build, expected)                                                                           \
	do {                                                                                                 \
		for(int at_ = 0;; at_++) {                                                                   \
			int before_ = live;                                                                  \
			size_t len_ = 99;                                                                    \
			char *json_;                                                                         \
			bool hit_;                                                                           \
			allocations = 0;                                                                     \
			fail_at = at_;                                                                       \
			fault_hit = false;                                                                   \
			json_ = (build);                                                                     \
			hit_ = fault_hit;                                                                    \
			fail_at = -1;                                                                        \
			if(json_ != NULL) {                                                                  \
				TH_EQ_STR(json_, (expected));                                                \
				TH_EQ_INT(len_, strlen(expected));                                           \
				counted_free(json_);                                                         \
			} else {                                                                             \
				TH_CHECKF(hit_, "NULL without a fault at %d", at_);                          \
				TH_EQ_INT(len_, 0);                                                          \
			}                                                                                    \
			TH_CHECKF(live == before_, "fault at allocation %d: %d allocations left behind",     \
				  at_, live - before_);                                                      \
			if(!hit_) {                                                                          \
				break;                                                                       \
			}                                                                                    \
		}                                                                                            \
	} while(0)


/* Out of memory anywhere while a builder runs: NULL, nothing half-built, nothing leaked. */
static void test_builders_out_of_memory(void)
{
	cJSON_Hooks hooks = {counted_malloc, counted_free};
	struct chat_error err;
	struct chat_error_context ctx = {.channel = "ops", .client_msg_id = "c-1", .op = "invite"};
	cJSON *ref;

	cJSON_InitHooks(&hooks);
	ref = cJSON_Parse("{\"n\":[1,\"two\"]}");
	TH_CHECK(ref != NULL);
	ctx.ref = ref;
	chat_error__set(&err, CHAT_ERR_FORBIDDEN, "only an owner of #%s may invite", "ops");
	OOM_BUILD(
		chat_error_json__build(&err, &ctx, &len_),
		"{\"ok\":false,\"kind\":\"error\",\"code\":\"forbidden\",\"message\":\"only an owner of #ops "
		"may invite\",\"op\":\"invite\",\"channel\":\"ops\",\"client_msg_id\":\"c-1\","
		"\"ref\":{\"n\":[1,\"two\"]}}");
	OOM_BUILD(chat_presence_json__build("general", "bo", true, 17, &len_),
		  "{\"channel\":\"general\",\"user\":\"bo\",\"online\":true,\"ts\":17}");
	OOM_BUILD(chat_typing_json__build("general", "ada", "ada-laptop", false, 18, &len_),
		  "{\"channel\":\"general\",\"user\":\"ada\",\"device\":\"ada-laptop\",\"typing\":false,"
		  "\"ts\":18}");
	OOM_BUILD(chat_cursor_json__build("general", "bo", "bo-phone", 41, 20, &len_),
		  "{\"channel\":\"general\",\"user\":\"bo\",\"device\":\"bo-phone\",\"seq\":41,\"ts\":20}");
	OOM_BUILD(chat_json__print(ref, &len_), "{\"n\":[1,\"two\"]}");
	cJSON_Delete(ref);
	TH_EQ_INT(live, 0);
	cJSON_InitHooks(NULL);
}


int main(int argc, char **argv)
{
	static const struct th_test tests[] = {
		{"message", test_message},
		{"other_types", test_other_types},
		{"signals", test_signals},
		{"ack_and_error", test_ack_and_error},
		{"error_table", test_error_table},
		{"same_bytes_as_cjson", test_same_bytes_as_cjson},
		{"builders_out_of_memory", test_builders_out_of_memory},
	};

	return th_main(argc, argv, tests, sizeof(tests) / sizeof(tests[0]));
}
