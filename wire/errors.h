/*
 * errors.h - the one table of mqchat's errors.
 *
 * Each error is listed once: its enum value, the stable code clients see on the wire and a default
 * message. Services return an `enum chat_err` and fill a `struct chat_error` with a message about the
 * specific case; only the broker adapters (events.c) translate an error into a MOSQ_ERR_* value.
 */
#ifndef CHAT_ERRORS_H
#define CHAT_ERRORS_H

#include <stddef.h>
#include <stdint.h>

#define CHAT_ERROR_MAP(X)                                                                                    \
	X(OK, "ok", "ok")                                                                                    \
	X(BAD_REQUEST, "bad_request", "malformed request")                                                   \
	X(BAD_UTF8, "bad_utf8", "payload is not valid UTF-8")                                                \
	X(TOO_LARGE, "too_large", "payload is larger than the configured limit")                             \
	X(BAD_TOPIC, "bad_topic", "no such topic")                                                           \
	X(NO_SUCH_CHANNEL, "no_such_channel", "no such channel")                                             \
	X(NOT_MEMBER, "not_member", "not a member of this channel")                                          \
	X(FORBIDDEN, "forbidden", "not allowed")                                                             \
	X(CONFLICT, "conflict", "conflicts with the current state")                                          \
	X(RATE_LIMITED, "rate_limited", "too many requests, slow down")                                      \
	X(UNAVAILABLE, "unavailable", "storage failed: nothing was stored, safe to retry")                   \
	X(NO_SUCH_USER, "no_such_user", "no such user")                                                      \
	X(NO_SUCH_MEDIA, "no_such_media", "no such media")                                                   \
	X(QUOTA_EXCEEDED, "quota_exceeded", "over a quota of this account")

enum chat_err {
#define CHAT_ERR_ENUM(name, code, message) CHAT_ERR_##name,
	CHAT_ERROR_MAP(CHAT_ERR_ENUM)
#undef CHAT_ERR_ENUM
		CHAT_ERR__COUNT
};

/* An error with the message for this particular case, e.g. "ada is not a member of #ops". */
struct chat_error {
	enum chat_err code;
	char message[256];
	int64_t retry_after_ms; /* rate_limited, quota_exceeded: when a retry can succeed; 0 when not
				   known (or never) */
};

/* The wire code of err ("not_member"); never NULL. */
const char *chat_err_code(enum chat_err err);

/* The default message of err; never NULL. */
const char *chat_err_message(enum chat_err err);

/* Records code and a printf-style message in err (which may be NULL) and returns code, so a failing
 * function can end with `return chat_error__set(err, CHAT_ERR_FORBIDDEN, "...")`. A NULL fmt uses the
 * default message. */
enum chat_err chat_error__set(struct chat_error *err, enum chat_err code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
