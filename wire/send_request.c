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
	for(size_t i = 0; i < req->mention_count; i++) {
		free(req->mentions[i]);
	}
	free(req->mentions);
	for(size_t i = 0; i < req->media_count; i++) {
		free(req->media[i]);
		free(req->thumbnails ? req->thumbnails[i] : NULL);
	}
	free(req->media);
	free(req->thumbnails);
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


/* The optional "mentions" of a message or edit: an array of at most CHAT_MENTIONS_MAX user names of
 * 1 to CHAT_MENTION_NAME_MAX bytes. Who of them is a member is the send path's question. */
static enum chat_err parse_mentions(const cJSON *obj, struct chat_send_request *out, struct chat_error *err)
{
	const cJSON *list = cJSON_GetObjectItemCaseSensitive(obj, "mentions");
	const cJSON *item;
	int n;

	if(list == NULL || cJSON_IsNull(list)) {
		return CHAT_ERR_OK;
	}
	n = cJSON_IsArray(list) ? cJSON_GetArraySize(list) : -1;
	if(n < 0 || n > CHAT_MENTIONS_MAX) {
		return chat_error__set(err, CHAT_ERR_BAD_REQUEST,
				       "mentions must be an array of at most %d user names",
				       CHAT_MENTIONS_MAX);
	}
	out->mentions = calloc((size_t)n + 1, sizeof(*out->mentions));
	if(out->mentions == NULL) {
		return chat_error__set(err, CHAT_ERR_UNAVAILABLE, "out of memory");
	}
	cJSON_ArrayForEach(item, list) {
		size_t len = cJSON_IsString(item) ? strlen(item->valuestring) : 0;
		if(len == 0 || len > CHAT_MENTION_NAME_MAX) {
			return chat_error__set(err, CHAT_ERR_BAD_REQUEST,
					       "mentions must be user names of 1-%d bytes",
					       CHAT_MENTION_NAME_MAX);
		}
		out->mentions[out->mention_count] = strdup(item->valuestring);
		if(out->mentions[out->mention_count] == NULL) {
			return chat_error__set(err, CHAT_ERR_UNAVAILABLE, "out of memory");
		}
		out->mention_count++;
	}
	return CHAT_ERR_OK;
}


static bool media_id_ok(const cJSON *item)
{
	const char *s = cJSON_IsString(item) ? item->valuestring : "";

	return strlen(s) == 34 && strncmp(s, "m-", 2) == 0 && strspn(s + 2, "0123456789abcdef") == 32;
}


/* The optional "media" of a message: 1 to CHAT_SEND_MEDIA_MAX entries, each a media id ("m-" and 32
 * lower-case hex digits) or {"id":M,"thumbnail":T}, T the id of a smaller image the client made of
 * M (previews). Whether they exist and are the sender's is the send path's question (media.c). */
static enum chat_err parse_media(const cJSON *obj, struct chat_send_request *out, struct chat_error *err)
{
	const cJSON *list = cJSON_GetObjectItemCaseSensitive(obj, "media");
	const cJSON *item;
	int n;

	if(list == NULL || cJSON_IsNull(list)) {
		return CHAT_ERR_OK;
	}
	n = cJSON_IsArray(list) ? cJSON_GetArraySize(list) : -1;
	if(n < 1 || n > CHAT_SEND_MEDIA_MAX) {
		return chat_error__set(err, CHAT_ERR_BAD_REQUEST, "media must be an array of 1-%d media ids",
				       CHAT_SEND_MEDIA_MAX);
	}
	out->media = calloc((size_t)n + 1, sizeof(*out->media));
	out->thumbnails = calloc((size_t)n + 1, sizeof(*out->thumbnails));
	if(out->media == NULL || out->thumbnails == NULL) {
		return chat_error__set(err, CHAT_ERR_UNAVAILABLE, "out of memory");
	}
	cJSON_ArrayForEach(item, list) {
		const cJSON *id = item, *thumb = NULL;

		if(cJSON_IsObject(item)) {
			id = cJSON_GetObjectItemCaseSensitive(item, "id");
			thumb = cJSON_GetObjectItemCaseSensitive(item, "thumbnail");
			if(cJSON_GetArraySize(item) != (thumb != NULL ? 2 : 1)
			   || (thumb != NULL && !media_id_ok(thumb))) {
				return chat_error__set(err, CHAT_ERR_BAD_REQUEST,
						       "a media entry is an id or {\"id\",\"thumbnail\"}, "
						       "both media ids");
			}
		}
		if(!media_id_ok(id)) {
			return chat_error__set(err, CHAT_ERR_BAD_REQUEST,
					       "media ids are m- and 32 hex digits");
		}
		out->media[out->media_count] = strdup(id->valuestring);
		out->thumbnails[out->media_count] = thumb ? strdup(thumb->valuestring) : NULL;
		if(out->media[out->media_count] == NULL
		   || (thumb && out->thumbnails[out->media_count] == NULL)) {
			out->media_count++; /* freed with the request */
			return chat_error__set(err, CHAT_ERR_UNAVAILABLE, "out of memory");
		}
		out->media_count++;
	}
	return CHAT_ERR_OK;
}


/* A message's body; with media it may be empty or absent (a file needs no caption). */
static enum chat_err parse_message_body(const cJSON *obj, size_t max_body, struct chat_send_request *out,
					struct chat_error *err)
{
	const cJSON *body = cJSON_GetObjectItemCaseSensitive(obj, "body");

	if(out->media_count > 0 && (body == NULL || (cJSON_IsString(body) && body->valuestring[0] == '\0'))) {
		out->body = strdup("");
		return out->body != NULL ? CHAT_ERR_OK
					 : chat_error__set(err, CHAT_ERR_UNAVAILABLE, "out of memory");
	}
	return parse_body(obj, max_body, &out->body, err);
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
			   != CHAT_ERR_OK
		   || parse_mentions(obj, out, err) != CHAT_ERR_OK
		   || parse_media(obj, out, err) != CHAT_ERR_OK) {
			return err->code;
		}
		return parse_message_body(obj, max_body, out, err);
	case CHAT_EVENT_EDIT:
		if(chat_json__int(obj, "target", true, 1, CHAT_JSON_INT_MAX, &out->target, err) != CHAT_ERR_OK
		   || parse_mentions(obj, out, err) != CHAT_ERR_OK) {
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
