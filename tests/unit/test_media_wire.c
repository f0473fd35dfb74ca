/*
 * test_media_wire.c - the pure parts of media (docs/protocol.md, "Media"): the chat/_media topic, who
 * may publish, subscribe to and read it, a send's "media" ids, and the event's "media" entries.
 */
#include <string.h>

#include "acl.h"
#include "event_json.h"
#include "send_request.h"
#include "th.h"
#include "topic.h"

#define M "m-0123456789abcdef0123456789abcdef"


static void test_media_topic(void)
{
	static const char *const invalid[] = {
		"chat/_media/" M,                                   /* no offset */
		"chat/_media/" M "/",                               /* empty offset */
		"chat/_media/" M "/01",                             /* leading zero */
		"chat/_media/" M "/-1",                             /* sign */
		"chat/_media/" M "/1/2",                            /* a level too many */
		"chat/_media/" M "/1234567890123456",               /* 16 digits */
		"chat/_media/m-0123456789ABCDEF0123456789abcdef/0", /* upper case */
		"chat/_media/m-0123456789abcdef0123456789abcde/0",  /* 31 digits */
		"chat/_media/x-0123456789abcdef0123456789abcdef/0",
		"chat/_media/+/0",
		"chat/_media/#",
	};
	struct chat_topic t;

	chat_topic__parse("chat/_media/" M "/0", &t);
	TH_EQ_INT(t.kind, CHAT_TOPIC_MEDIA);
	TH_EQ_STR(t.media, M);
	TH_EQ_STR(t.offset, "0");
	chat_topic__parse("chat/_media/" M "/123456789012345", &t);
	TH_EQ_INT(t.kind, CHAT_TOPIC_MEDIA);
	TH_EQ_STR(t.offset, "123456789012345");
	for(size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++) {
		chat_topic__parse(invalid[i], &t);
		TH_CHECKF(t.kind == CHAT_TOPIC_INVALID, "%s: kind %d", invalid[i], t.kind);
	}
}


/* Anyone may publish (media.c answers no_such_media for what is not theirs); nobody reads or
 * subscribes. */
static void test_media_acl(void)
{
	struct chat_index idx;

	memset(&idx, 0, sizeof(idx));
	TH_EQ_INT(chat_acl__check(&idx, "ada", "ada-1", "chat/_media/" M "/0", CHAT_ACCESS_WRITE),
		  CHAT_ACL_GRANT);
	TH_EQ_INT(chat_acl__check(&idx, "ada", "ada-1", "chat/_media/" M "/0", CHAT_ACCESS_READ),
		  CHAT_ACL_DENY);
	TH_EQ_INT(chat_acl__check(&idx, "ada", "ada-1", "chat/_media/" M "/0", CHAT_ACCESS_SUBSCRIBE),
		  CHAT_ACL_DENY);
	TH_EQ_INT(chat_acl__check(&idx, "ada", "ada-1", "chat/_media/#", CHAT_ACCESS_SUBSCRIBE),
		  CHAT_ACL_DENY);
	TH_EQ_INT(chat_acl__check(&idx, NULL, "anon", "chat/_media/" M "/0", CHAT_ACCESS_WRITE),
		  CHAT_ACL_DENY);
}


static enum chat_err parse(const char *json, struct chat_send_request *req, struct chat_error *err)
{
	memset(err, 0, sizeof(*err));
	return chat_send_request__parse(json, strlen(json), 16384, req, err);
}


static void test_send_media(void)
{
	struct chat_send_request req;
	struct chat_error err;

	TH_EQ_INT(parse("{\"body\":\"look\",\"media\":[\"" M "\"]}", &req, &err), CHAT_ERR_OK);
	TH_EQ_INT(req.media_count, 1);
	TH_EQ_STR(req.media[0], M);
	TH_EQ_STR(req.body, "look");
	chat_send_request__clear(&req);
	/* with media, the body may be empty or absent */
	TH_EQ_INT(parse("{\"media\":[\"" M "\",\"" M "\"]}", &req, &err), CHAT_ERR_OK);
	TH_EQ_INT(req.media_count, 2);
	TH_EQ_STR(req.body, "");
	chat_send_request__clear(&req);
	TH_EQ_INT(parse("{\"body\":\"\",\"media\":[\"" M "\"]}", &req, &err), CHAT_ERR_OK);
	chat_send_request__clear(&req);
	/* without, not */
	TH_EQ_INT(parse("{\"body\":\"\"}", &req, &err), CHAT_ERR_BAD_REQUEST);
	chat_send_request__clear(&req);
	TH_EQ_INT(parse("{\"body\":\"x\",\"media\":[]}", &req, &err), CHAT_ERR_BAD_REQUEST);
	chat_send_request__clear(&req);
	TH_EQ_INT(parse("{\"body\":\"x\",\"media\":\"" M "\"}", &req, &err), CHAT_ERR_BAD_REQUEST);
	chat_send_request__clear(&req);
	TH_EQ_INT(parse("{\"body\":\"x\",\"media\":[\"../../etc/passwd\"]}", &req, &err),
		  CHAT_ERR_BAD_REQUEST);
	TH_EQ_STR(err.message, "media ids are m- and 32 hex digits");
	chat_send_request__clear(&req);
	TH_EQ_INT(parse("{\"body\":\"x\",\"media\":[1]}", &req, &err), CHAT_ERR_BAD_REQUEST);
	chat_send_request__clear(&req);
	TH_EQ_INT(parse("{\"body\":\"x\",\"media\":[\"" M "\",\"" M "\",\"" M "\",\"" M "\",\"" M "\",\"" M
			"\",\"" M "\",\"" M "\",\"" M "\",\"" M "\",\"" M "\"]}",
			&req, &err),
		  CHAT_ERR_BAD_REQUEST); /* 11 */
	chat_send_request__clear(&req);
}


static void test_event_media(void)
{
	struct chat_event ev = {.channel = "files",
				.seq = 3,
				.type = CHAT_EVENT_MESSAGE,
				.from = "ada",
				.device = "ada-1",
				.ts = 1,
				.body = "",
				.media_json = "[{\"id\":\"" M "\",\"name\":\"a\",\"type\":\"x/y\",\"size\":0,"
					      "\"sha256\":\"e3\"}]"};
	size_t len = 0;
	char *json;

	strcpy(ev.id, "id-1");
	json = chat_event_json__build(&ev, &len);
	TH_EQ_STR(json,
		  "{\"id\":\"id-1\",\"channel\":\"files\",\"seq\":3,\"type\":\"message\",\"from\":\"ada\","
		  "\"device\":\"ada-1\",\"ts\":1,\"body\":\"\",\"media\":[{\"id\":\"" M
		  "\",\"name\":\"a\",\"type\":\"x/y\",\"size\":0,\"sha256\":\"e3\"}]}");
	free(json);
}


TH_TEST_LIST(TH_TEST(test_media_topic), TH_TEST(test_media_acl), TH_TEST(test_send_media),
	     TH_TEST(test_event_media))
