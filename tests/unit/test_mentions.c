/*
 * test_mentions.c - the mention rule (services/mentions.h): names in a body, the explicit list,
 * members only, sorted and unique, @channel / @here, where a name ends; and the event JSON that
 * carries the result (wire/event_json.c), byte for byte as cJSON would print it.
 */
#include <stdlib.h>
#include <string.h>

#include "alloc_fault.h"
#include "event_json.h"
#include "mentions.h"
#include "send_request.h"
#include "th.h"

static const char *const members[] = {"ada", "bo", "cy", "bo.b", "jean-luc", "zoë", "a_b", NULL};


static bool is_member(const char *name, void *ctx)
{
	(void)ctx;
	for(size_t i = 0; members[i] != NULL; i++) {
		if(strcmp(members[i], name) == 0) {
			return true;
		}
	}
	return false;
}


/* The mentions of body and list as "a,b|all" (static buffer). */
static const char *run(const char *body, const char *const *list, size_t n)
{
	static char out[512];
	struct chat_mentions m;
	size_t len = 0;

	TH_EQ_INT(chat_mentions__compute(body, list, n, is_member, NULL, &m), 0);
	out[0] = '\0';
	for(size_t i = 0; i < m.count; i++) {
		len += (size_t)snprintf(out + len, sizeof(out) - len, "%s%s", i ? "," : "", m.names[i]);
	}
	if(m.all) {
		snprintf(out + len, sizeof(out) - len, "|all");
	}
	TH_CHECK(m.count > 0 || m.names == NULL);
	chat_mentions__clear(&m);
	return out;
}

#define BODY(body, expected) TH_EQ_STR(run((body), NULL, 0), (expected))


static void test_names_in_a_body(void)
{
	BODY("", "");
	BODY("no mention here", "");
	BODY("@bo", "bo");
	BODY("hi @cy and @bo", "bo,cy");
	BODY("@cy @cy @cy", "cy");        /* unique */
	BODY("@dee is not a member", ""); /* members only */
	BODY("@Bo", "");                  /* case-sensitive, as usernames are */
	BODY("thanks @bo.", "bo");        /* trailing '.' dropped when no member has it */
	BODY("thanks @bo...", "bo");
	BODY("@bo.b says hi", "bo.b"); /* '.' inside a name */
	BODY("@bo.b.", "bo.b");
	BODY("@jean-luc, @a_b!", "a_b,jean-luc");
	BODY("@jean-", ""); /* "jean" is nobody */
	BODY("(@bo) [@cy] {@ada}", "ada,bo,cy");
	BODY("@bo's idea", "bo");
	BODY("mail ada@bo.com", ""); /* inside a word: an address */
	BODY("zoë@bo", "");          /* a non-ASCII letter before '@' is part of a word */
	BODY("@zoë: ok", "zoë");     /* UTF-8 names */
	BODY("@zoëx", "");
	BODY("@", "");
	BODY("@@bo", "bo"); /* the second '@' follows no name character */
	BODY("a @ b", "");
	BODY("line\n@bo\t@cy", "bo,cy");
	BODY("@bobo", ""); /* no prefix matching */
}


static void test_everyone(void)
{
	BODY("@channel", "|all");
	BODY("@here: deploy", "|all");
	BODY("@here. and @bo", "bo|all");
	BODY("@channels", "");
	BODY("#@channel", "|all"); /* '#' is no name character */
	BODY("x@here", "");
}


static void test_explicit_list(void)
{
	static const char *const list[] = {"cy", "dee", "ada", "cy", "with space"};

	TH_EQ_STR(run(NULL, list, 5), "ada,cy"); /* members only, unique, sorted */
	TH_EQ_STR(run("@bo and @cy", list, 5), "ada,bo,cy");
	TH_EQ_STR(run("@channel", list, 1), "cy|all");
	TH_EQ_STR(run("plain", NULL, 0), "");
}


static void test_long_runs(void)
{
	char body[1200];

	body[0] = '@';
	memset(body + 1, 'a', sizeof(body) - 2);
	body[sizeof(body) - 1] = '\0';
	BODY(body, ""); /* longer than any name: skipped, not truncated to a member */
	memcpy(body + 1000, " @bo", 5);
	BODY(body, "bo");
}


static void test_event_json(void)
{
	static const char *const names[] = {"bo", "c\"y"};
	struct chat_event ev = {
		.channel = "general",
		.seq = 5,
		.id = "00000000-0000-0000-0000-000000000000",
		.type = CHAT_EVENT_MESSAGE,
		.from = "ada",
		.device = "ada-1",
		.ts = 1763900000123,
		.body = "hi",
		.thread = 4,
		.mentions = names,
		.mention_count = 2,
		.mentions_all = true,
	};
	size_t len;
	char *json = chat_event_json__build(&ev, &len);
	cJSON *parsed = cJSON_Parse(json);
	char *reprinted = cJSON_PrintUnformatted(parsed);

	TH_EQ_STR(json,
		  "{\"id\":\"00000000-0000-0000-0000-000000000000\",\"channel\":\"general\",\"seq\":5,"
		  "\"type\":\"message\",\"from\":\"ada\",\"device\":\"ada-1\",\"ts\":1763900000123,"
		  "\"body\":\"hi\",\"thread\":4,\"mentions\":[\"bo\",\"c\\\"y\"],\"mentions_all\":true}");
	TH_EQ_STR(reprinted, json); /* what cJSON prints */
	TH_EQ_INT(len, strlen(json));
	free(reprinted);
	cJSON_Delete(parsed);
	free(json);

	ev.type = CHAT_EVENT_EDIT;
	ev.target = 3;
	ev.mention_count = 1;
	ev.mentions_all = false;
	json = chat_event_json__build(&ev, &len);
	TH_EQ_STR(json, "{\"id\":\"00000000-0000-0000-0000-000000000000\",\"channel\":\"general\",\"seq\":5,"
			"\"type\":\"edit\",\"from\":\"ada\",\"device\":\"ada-1\",\"ts\":1763900000123,"
			"\"target\":3,\"body\":\"hi\",\"mentions\":[\"bo\"]}");
	free(json);
}


/* Every allocation failure of the rule and of the send's "mentions" list: each run fails cleanly
 * (-1, or unavailable) with nothing left allocated, and the run that reaches no failure succeeds. */
static void test_allocation_failures(void)
{
	static const char *const list[] = {"cy", "ada", "dee"};
	static const char payload[] = "{\"body\":\"@bo @cy @a_b @bo.b\",\"mentions\":[\"cy\",\"ada\"]}";
	bool done = false;
	unsigned long n;

	for(n = 1; !done && n < 100; n++) {
		struct chat_mentions m;
		size_t live = ts_alloc_live();
		int rc;
		ts_alloc_arm(n, false);
		rc = chat_mentions__compute("@bo @cy @a_b @bo.b", list, 3, is_member, NULL, &m);
		done = ts_alloc_failures() == 0;
		ts_alloc_disarm();
		TH_EQ_INT(rc, done ? 0 : -1);
		TH_CHECK(rc == 0 ? m.count == 5 : (m.count == 0 && m.names == NULL));
		chat_mentions__clear(&m);
		TH_EQ_INT(ts_alloc_live(), live);
	}
	TH_CHECK(done && n > 5); /* the walk failed some allocations before one run had none to fail */
	done = false;
	for(n = 1; !done && n < 100; n++) {
		struct chat_send_request req;
		struct chat_error err = {0};
		size_t live = ts_alloc_live();
		enum chat_err rc;
		ts_alloc_arm(n, false);
		rc = chat_send_request__parse(payload, sizeof(payload) - 1, 16384, &req, &err);
		done = ts_alloc_failures() == 0;
		ts_alloc_disarm();
		TH_EQ_INT(rc, done ? CHAT_ERR_OK : CHAT_ERR_UNAVAILABLE);
		TH_CHECK(rc != CHAT_ERR_OK || req.mention_count == 2);
		chat_send_request__clear(&req);
		TH_EQ_INT(ts_alloc_live(), live);
	}
	TH_CHECK(done && n > 3);
}


TH_TEST_LIST(TH_TEST(test_names_in_a_body), TH_TEST(test_everyone), TH_TEST(test_explicit_list),
	     TH_TEST(test_long_runs), TH_TEST(test_event_json), TH_TEST(test_allocation_failures))
