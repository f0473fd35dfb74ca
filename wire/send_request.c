/*
 * send_request.c - validates what a client publishes to chat/<ch>.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "json_fields.h"
#include "send_request.h"
#include "utf8.h"

#define MAX_FIELDS_OVERHEAD 4096


size_t chat_send_request__max_payload(size_t max_body)
{
	return max_body * 6 + MAX_FIELDS_OVERHEAD;
}


void chat_send_request__clear(struct chat_send_request *req)
{
	free(req->client_msg_id);
	free(req->body);
	free(req->emoji);
	memset(req, 0, sizeof(*req));
}


static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}


/* True if text[0..len) holds something besides spaces, tabs and line breaks: a message must. */
static bool has_content(const char *text, size_t len)
{
	for(size_t i = 0; i < len; i++) {
		if(strchr(" \t\r\n", text[i]) == NULL) {
			return true;
		}
	}
	return false;
}


static enum chat_err parse_plain_text(const void *payload, size_t len, size_t max_body,
				      struct chat_send_request *out, struct chat_error *err)
{
	if(!chat_utf8__valid(payload, len)) {
		return chat_error__set(err, CHAT_ERR_BAD_UTF8, NULL);
	}
	if(memchr(payload, '\0', len) != NULL) {
		return chat_error__set(err, CHAT_ERR_BAD_REQUEST, "NUL characters are not allowed");
	}
	if(len > max_body) {
		return chat_error__set(err, CHAT_ERR_TOO_LARGE, "body is %zu bytes, the limit is %zu", len,
				       max_body);
	}
	if(!has_content(payload, len)) {
		return chat_error__set(err, CHAT_ERR_BAD_REQUEST, "the message is blank");
	}
	out->type = CHAT_EVENT_MESSAGE;
	out->body = malloc(len + 1);
	if(out->body == NULL) {
		return chat_error__set(err, CHAT_ERR_UNAVAILABLE, "out of memory");
	}
	memcpy(out->body, payload, len);
	out->body[len] = '\0';
	return CHAT_ERR_OK;
}


static enum chat_err parse_type(const cJSON *obj, enum chat_event_type *type, struct chat_error *err)
{
	static const struct {
		const char *name;
		enum chat_event_type type;
	} sendable[] = {
		{"message", CHAT_EVENT_MESSAGE},
		{"edit", CHAT_EVENT_EDIT},
		{"delete", CHAT_EVENT_DELETE},
		{"reaction", CHAT_EVENT_REACTION},
	};
	const char *name = NULL;

	if(chat_json__string(obj, "type", false, 1, 32, &name, err) != CHAT_ERR_OK) {
		return err->code;
	}
	if(name == NULL) {
		*type = CHAT_EVENT_MESSAGE;
		return CHAT_ERR_OK;
	}
	for(size_t i = 0; i < sizeof(sendable) / sizeof(sendable[0]); i++) {
		if(strcmp(name, sendable[i].name) == 0) {
			*type = sendable[i].type;
			return CHAT_ERR_OK;
		}
	}
	return chat_error__set(err, CHAT_ERR_BAD_REQUEST, "type must be message, edit, delete or reaction");
}


static enum chat_err parse_body(const cJSON *obj, size_t max_body, char **out, struct chat_error *err)
{
	const char *body;
	size_t len;

	/* The byte limit is checked below, so the character bounds here only exclude the empty body. */
	if(chat_json__string(obj, "body", true, 1, SIZE_MAX, &body, err) != CHAT_ERR_OK) {
		return err->code;
	}
	len = strlen(body);
	if(len > max_body) {
		return chat_error__set(err, CHAT_ERR_TOO_LARGE, "body is %zu bytes, the limit is %zu", len,
				       max_body);
	}
	if(!has_content(body, len)) {
		return chat_error__set(err, CHAT_ERR_BAD_REQUEST, "body is blank");
	}
	*out = strdup(body);
	if(*out == NULL) {
		return chat_error__set(err, CHAT_ERR_UNAVAILABLE, "out of memory");
	}
	return CHAT_ERR_OK;
}


static enum chat_err parse_fields(const cJSON *obj, size_t max_body, struct chat_send_request *out,
				  struct chat_error *err)
{
	const char *emoji = NULL;

	if(parse_type(obj, &out->type, err) != CHAT_ERR_OK) {
		return err->code;
	}
	switch(out->type) {
	case CHAT_EVENT_MESSAGE:
		if(chat_json__int(obj, "thread", false, 1, CHAT_JSON_INT_MAX, &out->thread, err)
		   != CHAT_ERR_OK) {
			return err->code;
		}
		return parse_body(obj, max_body, &out->body, err);
	case CHAT_EVENT_EDIT:
		if(chat_json__int(obj, "target", true, 1, CHAT_JSON_INT_MAX, &out->target, err)
		   != CHAT_ERR_OK) {
			return err->code;
		}
		return parse_body(obj, max_body, &out->body, err);
	case CHAT_EVENT_DELETE:
		return chat_json__int(obj, "target", true, 1, CHAT_JSON_INT_MAX, &out->target, err);
	case CHAT_EVENT_REACTION:
		out->on = true;
		if(chat_json__int(obj, "target", true, 1, CHAT_JSON_INT_MAX, &out->target, err) != CHAT_ERR_OK
		   || chat_json__string(obj, "emoji", true, 1, CHAT_EMOJI_MAX, &emoji, err) != CHAT_ERR_OK
		   || chat_json__bool(obj, "on", false, &out->on, err) != CHAT_ERR_OK) {
			return err->code;
		}
		out->emoji = strdup(emoji);
		if(out->emoji == NULL) {
			return chat_error__set(err, CHAT_ERR_UNAVAILABLE, "out of memory");
		}
		return CHAT_ERR_OK;
	case CHAT_EVENT_JOIN:
	case CHAT_EVENT_LEAVE:
		break;
	}
	return chat_error__set(err, CHAT_ERR_BAD_REQUEST, "type cannot be sent");
}


enum chat_err chat_send_request__parse(const void *payload, size_t len, size_t max_body,
				       struct chat_send_request *out, struct chat_error *err)
{
	cJSON *obj = NULL;
	const char *client_msg_id = NULL;
	enum chat_err rc;

	memset(out, 0, sizeof(*out));
	if(len == 0) {
		return chat_error__set(err, CHAT_ERR_BAD_REQUEST, "empty message");
	}
	if(len > chat_send_request__max_payload(max_body)) {
		return chat_error__set(err, CHAT_ERR_TOO_LARGE, "payload is %zu bytes, the body limit is %zu",
				       len, max_body);
	}
	if(!chat_json__looks_like_object(payload, len)) {
		return parse_plain_text(payload, len, max_body, out, err);
	}
	if(chat_json__parse_object(payload, len, "a send is a JSON object or plain text", &obj, err)
	   != CHAT_ERR_OK) {
		return err->code;
	}
	rc = chat_json__string(obj, "client_msg_id", false, 1, CHAT_CLIENT_MSG_ID_MAX, &client_msg_id, err);
	if(rc == CHAT_ERR_OK) {
		out->client_msg_id = dup_or_null(client_msg_id);
		if(client_msg_id != NULL && out->client_msg_id == NULL) {
			rc = chat_error__set(err, CHAT_ERR_UNAVAILABLE, "out of memory");
		}
	}
	if(rc == CHAT_ERR_OK) {
		rc = parse_fields(obj, max_body, out, err);
	}
	cJSON_Delete(obj);
	return rc;
}
