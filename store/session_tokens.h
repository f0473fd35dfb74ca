/*
 * session_tokens.h - the session_tokens table (schema/0008_session_tokens.sql): issue, find, touch,
 * revoke, list. Rows hold the SHA-256 of a token's secret, never the secret (session_token.h).
 *
 * Each function prepares its statements on the store's connection and finalizes them before it
 * returns: tokens are issued and revoked rarely, and checked once per CONNECT that presents one, where
 * a prepare (tens of microseconds) is small beside the connection's own cost.
 *
 * Every function that can fail returns CHAT_ERR_OK or CHAT_ERR_UNAVAILABLE with SQLite's message in err.
 */
#ifndef CHAT_STORE_SESSION_TOKENS_H
#define CHAT_STORE_SESSION_TOKENS_H

#include <stdbool.h>
#include <stdint.h>

#include "errors.h"
#include "session_token.h"
#include "store.h"

/* One stored session, as `sessions` lists it. last_used_ts is -1 when it never signed anyone in. */
struct chat_token_row {
	char id[CHAT_TOKEN_ID_LEN + 1];
	unsigned char hash[CHAT_TOKEN_HASH_LEN];
	int64_t created_ts;
	int64_t expires_ts;
	int64_t last_used_ts;
};

/* Stores a new session of user, durably (committed before it returns, unless the caller's transaction
 * is open, then with it), in one transaction with: deleting every expired session (of anyone: now_ms
 * >= expires_ts), and deleting user's oldest sessions beyond max_per_user. */
enum chat_err chat_tokens__issue(struct chat_store *store, const char *user, const struct chat_token_row *row,
				 int64_t now_ms, int max_per_user, struct chat_error *err);

/* Looks up session id of user: *found false when there is none (or it is another user's); else row is
 * filled. Reads only. */
enum chat_err chat_tokens__find(struct chat_store *store, const char *id, const char *user, bool *found,
				struct chat_token_row *row, struct chat_error *err);

/* Records that session id signed a connection in at now_ms. */
enum chat_err chat_tokens__touch(struct chat_store *store, const char *id, int64_t now_ms,
				 struct chat_error *err);

/* Deletes user's session id, or with id NULL all of user's sessions; *revoked gets how many. */
enum chat_err chat_tokens__revoke(struct chat_store *store, const char *user, const char *id, int *revoked,
				  struct chat_error *err);

/* Calls cb(ctx, row) for each of user's sessions not expired at now_ms, oldest first; cb returns 0, or
 * -1 to stop (out of memory: then CHAT_ERR_UNAVAILABLE). */
enum chat_err chat_tokens__list(struct chat_store *store, const char *user, int64_t now_ms,
				int (*cb)(void *ctx, const struct chat_token_row *row), void *ctx,
				struct chat_error *err);

#endif
