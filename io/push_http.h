/*
 * push_http.h - one HTTP POST of a JSON document to a push gateway, with libcurl.
 *
 * Blocking: only the push worker's thread (services/push_worker.c) calls it, never the broker's.
 * A handle keeps its connection to the gateway alive between posts.
 */
#ifndef CHAT_PUSH_HTTP_H
#define CHAT_PUSH_HTTP_H

#include <stdatomic.h>
#include <stddef.h>

struct chat_push_http;

/* A handle posting to url, each post given at most timeout_ms (connecting included); a post in
 * progress gives up as soon as *abort becomes true (stop must not wait for a hanging gateway).
 * Returns NULL when out of memory or libcurl cannot start. Free with chat_push_http__free (NULL is
 * ignored). */
struct chat_push_http *chat_push_http__new(const char *url, long timeout_ms, const atomic_bool *abort);
void chat_push_http__free(struct chat_push_http *h);

/* POSTs json[0..len) as application/json. Returns the HTTP status, or 0 when there was no answer
 * (refused, unreachable, timed out), with why in error. *body is the answer's body, malloc'd and
 * NUL-terminated (at most 64 KiB of it; NULL when none or out of memory): the caller frees it. */
long chat_push_http__post(struct chat_push_http *h, const char *json, size_t len, char **body, char *error,
			  size_t error_len);

#endif
