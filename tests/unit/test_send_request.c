/*
 * test_send_request.c - what a publish to chat/<ch> may carry, and the error for each way it can be wrong.
 */
#include <string.h>

#include "send_request.h"
#include "th.h"

#define MAX_BODY 16


static enum chat_err parse(const char *payload, struct chat_send_request *req, struct chat_error *err)
{
	memset(err, 0, sizeof(*err));
	return chat_send_request__parse(payload, strlen(payload), MAX_BODY, req, err);
}


static void expect_error(const char *payload, enum chat_err code, const char *message)
{
	struct chat_send_request req;
	struct chat_error err;
	enum chat_err rc = parse(payload, &req, &err);

	TH_CHECKF(rc == code, "%s: got %s (%s), expected %s", payload, chat_err_code(rc), err.message,
		  chat_err_code(code));
	TH_EQ_INT(err.code, code);
	if(message) {
		TH_EQ_STR(err.message, message);
	}
	chat_send_request__clear(&req);
}


static void test_plain_text(void)
{
	struct chat_send_request req;
	struct chat_error err;

	TH_EQ_INT(parse("hi there", &req, &err), CHAT_ERR_OK);
	TH_EQ_INT(req.type, CHAT_EVENT_MESSAGE);
	TH_EQ_STR(req.body, "hi there");
	TH_CHECK(req.client_msg_id == NULL);
	chat_send_request__clear(&req);

	/* Not an object: taken as text, quotes and all. */
	TH_EQ_INT(parse("[1,2]", &req, &err), CHAT_ERR_OK);
	TH_EQ_STR(req.body, "[1,2]");
	chat_send_request__clear(&req);
	TH_EQ_INT(parse("\"quoted\"", &req, &err), CHAT_ERR_OK);
	TH_EQ_STR(req.body, "\"quoted\"");
	chat_send_request__clear(&req);
}


static void test_message_object(void)
{
	struct chat_send_request req;
	struct chat_error err;

	TH_EQ_INT(parse(" {\"client_msg_id\":\"c-1\",\"body\":\"hello\",\"thread\":40,\"from\":\"mallory\"} ",
			&req, &err),
		  CHAT_ERR_OK);
	TH_EQ_INT(req.type, CHAT_EVENT_MESSAGE);
	TH_EQ_STR(req.client_msg_id, "c-1");
	TH_EQ_STR(req.body, "hello");
	TH_EQ_INT(req.thread, 40);
	chat_send_request__clear(&req);

	TH_EQ_INT(parse("{\"body\":\"caf\\u00e9 \\ud83d\\udc4d\"}", &req, &err), CHAT_ERR_OK);
	TH_EQ_STR(req.body, "caf\xc3\xa9 \xf0\x9f\x91\x8d");
	chat_send_request__clear(&req);
}


static void test_other_types(void)
{
	struct chat_send_request req;
	struct chat_error err;

	TH_EQ_INT(parse("{\"type\":\"edit\",\"target\":42,\"body\":\"fixed\"}", &req, &err), CHAT_ERR_OK);
	TH_EQ_INT(req.type, CHAT_EVENT_EDIT);
	TH_EQ_INT(req.target, 42);
	TH_EQ_STR(req.body, "fixed");
	chat_send_request__clear(&req);

	TH_EQ_INT(parse("{\"type\":\"delete\",\"target\":7}", &req, &err), CHAT_ERR_OK);
	TH_EQ_INT(req.type, CHAT_EVENT_DELETE);
	TH_EQ_INT(req.target, 7);
	chat_send_request__clear(&req);

	TH_EQ_INT(parse("{\"type\":\"reaction\",\"target\":7,\"emoji\":\":+1:\"}", &req, &err), CHAT_ERR_OK);
	TH_EQ_INT(req.type, CHAT_EVENT_REACTION);
	TH_EQ_STR(req.emoji, ":+1:");
	TH_CHECK(req.on);
	chat_send_request__clear(&req);

	TH_EQ_INT(parse("{\"type\":\"reaction\",\"target\":7,\"emoji\":\":+1:\",\"on\":false}", &req, &err),
		  CHAT_ERR_OK);
	TH_CHECK(!req.on);
	chat_send_request__clear(&req);
}


static void test_bad_requests(void)
{
	expect_error("", CHAT_ERR_BAD_REQUEST, "empty message");
	expect_error("{\"body\":", CHAT_ERR_BAD_REQUEST, "malformed JSON");
	expect_error("{\"body\":\"x\"} trailing", CHAT_ERR_BAD_REQUEST,
		     "malformed JSON: text after the object");
	expect_error("{}", CHAT_ERR_BAD_REQUEST, "body is required");
	expect_error("{\"body\":\"\"}", CHAT_ERR_BAD_REQUEST, "body must not be empty");
	expect_error("{\"body\":\"  \\n\\t \"}", CHAT_ERR_BAD_REQUEST, "body is blank");
	expect_error("   ", CHAT_ERR_BAD_REQUEST, "the message is blank");
	expect_error("{\"body\":42}", CHAT_ERR_BAD_REQUEST, "body must be a string");
	expect_error("{\"body\":\"x\",\"thread\":\"40\"}", CHAT_ERR_BAD_REQUEST, NULL);
	expect_error("{\"body\":\"x\",\"thread\":0}", CHAT_ERR_BAD_REQUEST, NULL);
	expect_error("{\"body\":\"x\",\"thread\":1.5}", CHAT_ERR_BAD_REQUEST, NULL);
	expect_error("{\"body\":\"x\",\"client_msg_id\":\"\"}", CHAT_ERR_BAD_REQUEST,
		     "client_msg_id must be 1 to 128 characters long");
	expect_error("{\"body\":\"x\",\"client_msg_id\":7}", CHAT_ERR_BAD_REQUEST,
		     "client_msg_id must be a string");
	expect_error("{\"type\":\"join\",\"body\":\"x\"}", CHAT_ERR_BAD_REQUEST,
		     "type must be message, edit, delete or reaction");
	expect_error("{\"type\":\"edit\",\"body\":\"x\"}", CHAT_ERR_BAD_REQUEST, "target is required");
	expect_error("{\"type\":\"reaction\",\"target\":1}", CHAT_ERR_BAD_REQUEST, "emoji is required");
	expect_error("{\"type\":\"reaction\",\"target\":1,\"emoji\":\"x\",\"on\":1}", CHAT_ERR_BAD_REQUEST,
		     "on must be true or false");
	expect_error("{\"body\":\"a\\u0000b\"}", CHAT_ERR_BAD_REQUEST, "NUL characters are not allowed");
}


static void test_escaped_backslash_is_not_nul(void)
{
	struct chat_send_request req;
	struct chat_error err;

	TH_EQ_INT(parse("{\"body\":\"a\\\\u0000b\"}", &req, &err), CHAT_ERR_OK);
	TH_EQ_STR(req.body, "a\\u0000b");
	chat_send_request__clear(&req);
}


static void test_bad_utf8(void)
{
	struct chat_send_request req;
	struct chat_error err;

	TH_EQ_INT(chat_send_request__parse("caf\xc3", 4, MAX_BODY, &req, &err), CHAT_ERR_BAD_UTF8);
	chat_send_request__clear(&req);
	TH_EQ_INT(chat_send_request__parse("{\"body\":\"\xed\xa0\x80\"}", 14, MAX_BODY, &req, &err),
		  CHAT_ERR_BAD_UTF8);
	chat_send_request__clear(&req);
	TH_EQ_INT(chat_send_request__parse("a\0b", 3, MAX_BODY, &req, &err), CHAT_ERR_BAD_REQUEST);
	chat_send_request__clear(&req);
}


static void test_too_large(void)
{
	char big[chat_send_request__max_payload(MAX_BODY) + 2];
	struct chat_send_request req;
	struct chat_error err;

	expect_error("0123456789abcdefX", CHAT_ERR_TOO_LARGE, "body is 17 bytes, the limit is 16");
	expect_error("{\"body\":\"0123456789abcdefX\"}", CHAT_ERR_TOO_LARGE,
		     "body is 17 bytes, the limit is 16");
	TH_EQ_INT(parse("0123456789abcdef", &req, &err), CHAT_ERR_OK);
	chat_send_request__clear(&req);

	memset(big, ' ', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	TH_EQ_INT(parse(big, &req, &err), CHAT_ERR_TOO_LARGE);
	chat_send_request__clear(&req);
}


static void test_error_keeps_client_msg_id(void)
{
	struct chat_send_request req;
	struct chat_error err;

	TH_EQ_INT(parse("{\"client_msg_id\":\"c-9\",\"body\":42}", &req, &err), CHAT_ERR_BAD_REQUEST);
	TH_EQ_STR(req.client_msg_id, "c-9");
	chat_send_request__clear(&req);
}


int main(int argc, char **argv)
{
	static const struct th_test tests[] = {
		{"plain_text", test_plain_text},
		{"message_object", test_message_object},
		{"other_types", test_other_types},
		{"bad_requests", test_bad_requests},
		{"escaped_backslash_is_not_nul", test_escaped_backslash_is_not_nul},
		{"bad_utf8", test_bad_utf8},
		{"too_large", test_too_large},
		{"error_keeps_client_msg_id", test_error_keeps_client_msg_id},
	};

	return th_main(argc, argv, tests, sizeof(tests) / sizeof(tests[0]));
}
