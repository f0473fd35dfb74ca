/*
 * signin.h - "stay signed in": session tokens (docs/protocol.md, "Staying signed in").
 *
 * A connection that signed in with a real password (password_file, dynamic-security, whatever else
 * accepted it) asks `{"op":"session"}` on chat/_api and gets a token; a later CONNECT with the same
 * username and the token as its password is accepted by mqchat's basic-auth hook
 * (chat_signin__check), until the token expires (plugin_opt_session_days) or is revoked (`logout`).
 * `sessions` lists the user's tokens. The contract's invariants:
 * - a connection that itself signed in with a token (or through an edge, which cannot check tokens)
 *   gets `forbidden` from `session`: a stolen token cannot renew itself, so it dies at its expiry;
 * - only SHA-256 of a token's secret is stored (store/session_tokens.h);
 * - anything that is not a valid, unexpired token of that very user is not mqchat's to accept: the
 *   hook defers it to the broker's other sources, which refuse it unless it is the user's password;
 * - at most CHAT_SIGNIN_MAX_PER_USER tokens per user: issuing one more drops the oldest.
 */
#ifndef CHAT_SIGNIN_H
#define CHAT_SIGNIN_H

#include <stdbool.h>

#include <cjson/cJSON.h>

#include "chat.h"
#include "reply.h"
#include "session_token.h"

#define CHAT_SIGNIN_MAX_PER_USER 20

/* A CONNECT as user with password, on the basic-auth hook. True if password is a valid, unexpired
 * session token of user: session gets its public id (for chat_sessions__set_token). False for anything
 * else (not a token, unknown, revoked, expired, another user's, no store: an edge), without writing.
 * Notes the token's use in the store at most once an hour per token. */
bool chat_signin__check(struct chat_plugin *plugin, const char *user, const char *password,
			char session[CHAT_TOKEN_ID_LEN + 1]);

/* The chat/_api ops. Each validates body, acts for who (whose answer goes to rt), and adds its fields
 * to reply (owned by the caller) or returns the error it set in err. */
enum chat_err chat_signin__session(struct chat_plugin *plugin, const struct chat_requester *who,
				   const struct chat_reply_to *rt, const cJSON *body, cJSON *reply,
				   struct chat_error *err);
enum chat_err chat_signin__logout(struct chat_plugin *plugin, const struct chat_requester *who,
				  const struct chat_reply_to *rt, const cJSON *body, cJSON *reply,
				  struct chat_error *err);
enum chat_err chat_signin__sessions(struct chat_plugin *plugin, const struct chat_requester *who,
				    const struct chat_reply_to *rt, const cJSON *body, cJSON *reply,
				    struct chat_error *err);

#endif
