/*
 * send_request.h - what a client asked for when it published to chat/<ch>.
 *
 * Pure: turns a payload into a validated struct chat_send_request, or an error naming what is wrong.
 * The rules (docs/protocol.md, "Sending"): a payload whose first non-blank byte is '{' must be a JSON
 * object; any other payload is the body of a plain text message and must be valid UTF-8.
 */
#ifndef CHAT_SEND_REQUEST_H
#define CHAT_SEND_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "errors.h"
#include "event_json.h"

#define CHAT_CLIENT_MSG_ID_MAX 128
#define CHAT_EMOJI_MAX         64
#define CHAT_MENTIONS_MAX      256 /* names in an explicit "mentions" list */
#define CHAT_MENTION_NAME_MAX  256 /* bytes of one name: the longest user name (services/users.h) */
#define CHAT_SEND_MEDIA_MAX    10  /* media ids one message may reference */

struct chat_send_request {
	enum chat_event_type type; /* message, edit, delete or reaction */
	char *client_msg_id;       /* NULL if absent */
	char *body;                /* message, edit */
	int64_t thread;            /* message: thread root, 0 if none */
	int64_t target;            /* edit, delete, reaction */
	char *emoji;               /* reaction */
	bool on;                   /* reaction */
	char **mentions;           /* message, edit: the explicit "mentions" list as sent (not yet
				      checked against the members), NULL if absent */
	size_t mention_count;
	char **media;      /* message: the "media" ids as sent (m-<32 hex>; whose they are is the send path's
			      question), NULL if absent; with media, "body" may be empty or absent */
	char **thumbnails; /* parallel to media: the thumbnail id of each entry sent as
			    * {"id","thumbnail"}, or NULL; the array is NULL when media is */
	size_t media_count;
};

/* Parses payload[0..len). Bodies longer than max_body bytes, and payloads too long to hold such a body
 * even fully escaped, are CHAT_ERR_TOO_LARGE. On success the strings in *out are malloc'd and released
 * by chat_send_request__clear; on error *out may hold client_msg_id (when it could be read, so the
 * error can name it) and the mentions read before the error. Call chat_send_request__clear in both
 * cases. */
enum chat_err chat_send_request__parse(const void *payload, size_t len, size_t max_body,
				       struct chat_send_request *out, struct chat_error *err);

/* Releases the strings of req and zeroes it. */
void chat_send_request__clear(struct chat_send_request *req);

/* The largest payload that can carry a body of max_body bytes: every byte escaped as \u00XX, plus room
 * for the other fields. Payloads above it are refused before parsing. */
size_t chat_send_request__max_payload(size_t max_body);

#endif
