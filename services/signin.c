/*
 * signin.c - session tokens: issue, check, revoke, list (see signin.h).
 *
 * Where each step runs, and what it costs:
 * - check: on the broker's thread inside CONNECT (basic-auth hook), for passwords shaped as a token
 *   only. One primary-key lookup of the public id (the id is not secret), then the SHA-256 of the
 *   presented secret compared with the stored one in constant time. No slow hash: the secret is 256
 *   random bits, so nothing can be guessed offline from the stored hash. The use is written back at
 *   most once an hour per token (last_used_ts is "to the hour"), so a client that reconnects often
 *   costs no write per connect; an hourly write joins the open group commit if there is one.
 * - issue: a chat/_api request, after dispatch has committed the open batch; one transaction that
 *   also deletes expired rows (anyone's) and the user's oldest beyond the cap, committed before the
 *   token is answered, so an answered token survives a crash.
 * - revoke, list: one statement each.
 * Expired rows are refused at once and deleted at the next issue; nothing else needs a timer.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "broker.h"
#include "clock.h"
#include "json_fields.h"
#include "session_tokens.h"
#include "signin.h"

#define MS_PER_DAY     86400000LL
#define TOUCH_EVERY_MS 3600000LL /* last_used_ts is written at most this often per token */


/* How long a new token lives, in ms; 0 when tokens are turned off. */
static int64_t token_lifetime_ms(const struct chat_config *c)
{
	return c->session_seconds > 0 ? c->session_seconds * 1000 : c->session_days * MS_PER_DAY;
}


bool chat_signin__check(struct chat_plugin *plugin, const char *user, const char *password,
			char session[CHAT_TOKEN_ID_LEN + 1])
{
	unsigned char presented[CHAT_TOKEN_HASH_LEN];
	struct chat_token_row row;
	struct chat_error err = {0};
	int64_t now = chat_clock__wall_ms();
	bool found = false, accepted;

	if(plugin->store == NULL || user == NULL
	   || !chat_session_token__parse(password, session, presented)) {
		return false; /* an edge (no table), or not a token: the other sources decide */
	}
	if(chat_tokens__find(plugin->store, session, user, &found, &row, &err) != CHAT_ERR_OK) {
		chat_broker__log(CHAT_LOG_WARNING, "could not check a session token of %s: %s", user,
				 err.message);
		return false;
	}
	accepted = found && chat_session_token__hash_equal(row.hash, presented) && now < row.expires_ts;
	OPENSSL_cleanse(presented, sizeof(presented));
	if(!accepted) {
		/* The id is public, the secret never logged. Then password_file etc. refuse it (it is
		 * nobody's password). */
		chat_broker__log(CHAT_LOG_NOTICE, "session token %s for %s refused: %s", session, user,
				 !found                  ? "unknown, revoked, or another user's"
				 : now >= row.expires_ts ? "expired"
							 : "wrong secret");
		return false;
	}
	if((row.last_used_ts < 0 || now - row.last_used_ts >= TOUCH_EVERY_MS)
	   && chat_tokens__touch(plugin->store, session, now, &err) != CHAT_ERR_OK) {
		chat_broker__log(CHAT_LOG_WARNING, "could not note a session token's use: %s", err.message);
	}
	return true;
}


/* The public id of the token the requesting connection signed in with, or NULL. A client of an edge
 * signed in on the edge, which accepts no tokens (it has no table). */
static const char *current_session(struct chat_plugin *plugin, const struct chat_requester *who,
				   const struct chat_reply_to *rt)
{
	return rt->via != NULL ? NULL : chat_sessions__token(&plugin->sessions, who->device);
}


static enum chat_err out_of_memory(struct chat_error *err)
{
	return chat_error__set(err, CHAT_ERR_UNAVAILABLE, "out of memory");
}


enum chat_err chat_signin__session(struct chat_plugin *plugin, const struct chat_requester *who,
				   const struct chat_reply_to *rt, const cJSON *body, cJSON *reply,
				   struct chat_error *err)
{
	int64_t lifetime = token_lifetime_ms(&plugin->config);
	int64_t now = chat_clock__wall_ms();
	char token[CHAT_TOKEN_LEN + 1];
	struct chat_token_row row = {0};
	enum chat_err rc;

	(void)body;
	if(lifetime == 0) {
		return chat_error__set(err, CHAT_ERR_FORBIDDEN,
				       "session tokens are turned off on this server");
	}
	if(rt->via != NULL) {
		/* Edges have no token table: a token is checked only where it was issued. */
		return chat_error__set(err, CHAT_ERR_FORBIDDEN,
				       "session tokens are not available through an edge; sign in with your "
				       "password");
	}
	if(current_session(plugin, who, rt) != NULL) {
		return chat_error__set(err, CHAT_ERR_FORBIDDEN,
				       "this connection signed in with a session token, which cannot renew "
				       "itself; sign in with your password to get a new one");
	}
	if(chat_session_token__make(token, row.id, row.hash) != 0) {
		return chat_error__set(err, CHAT_ERR_UNAVAILABLE, "no randomness available yet; retry");
	}
	row.created_ts = now;
	row.expires_ts = now + lifetime;
	rc = chat_tokens__issue(plugin->store, who->user, &row, now, CHAT_SIGNIN_MAX_PER_USER, err);
	if(rc == CHAT_ERR_OK
	   && (cJSON_AddStringToObject(reply, "token", token) == NULL
	       || cJSON_AddStringToObject(reply, "session", row.id) == NULL
	       || cJSON_AddNumberToObject(reply, "expires_ts", (double)row.expires_ts) == NULL)) {
		/* stored but not answered: nobody holds it; it expires unused */
		rc = out_of_memory(err);
	}
	OPENSSL_cleanse(token, sizeof(token));
	return rc;
}


enum chat_err chat_signin__logout(struct chat_plugin *plugin, const struct chat_requester *who,
				  const struct chat_reply_to *rt, const cJSON *body, cJSON *reply,
				  struct chat_error *err)
{
	const char *session = NULL;
	bool all = false;
	int revoked = 0;

	if(chat_json__string(body, "session", false, 1, CHAT_TOKEN_ID_LEN, &session, err) != CHAT_ERR_OK
	   || chat_json__bool(body, "all", false, &all, err) != CHAT_ERR_OK) {
		return err->code;
	}
	if(all && session != NULL) {
		return chat_error__set(err, CHAT_ERR_BAD_REQUEST, "give either session or all, not both");
	}
	if(session != NULL && !chat_session_token__id_valid(session)) {
		return chat_error__set(err, CHAT_ERR_BAD_REQUEST,
				       "session must be a session id from sessions");
	}
	if(!all && session == NULL) {
		/* NULL: signed in by password, nothing to revoke */
		session = current_session(plugin, who, rt);
	}
	if(!all && session == NULL) {
		return cJSON_AddNumberToObject(reply, "revoked", 0) != NULL ? CHAT_ERR_OK
									    : out_of_memory(err);
	}
	if(chat_tokens__revoke(plugin->store, who->user, all ? NULL : session, &revoked, err)
	   != CHAT_ERR_OK) {
		return err->code;
	}
	/* A thief's live connection goes too (at the end of this loop turn, events.c), not only its next
	 * CONNECT; the asker's own stays, to get this answer. */
	chat_sessions__revoke_token(&plugin->sessions, who->user, all ? NULL : session,
				    rt->via != NULL ? NULL : who->device);
	return cJSON_AddNumberToObject(reply, "revoked", revoked) != NULL ? CHAT_ERR_OK : out_of_memory(err);
}


struct list_ctx {
	cJSON *list;
	const char *current;
};


static int add_session(void *ctx, const struct chat_token_row *row)
{
	struct list_ctx *l = ctx;
	cJSON *entry = cJSON_CreateObject();

	if(entry == NULL || !cJSON_AddItemToArray(l->list, entry)) {
		cJSON_Delete(entry);
		return -1;
	}
	if(cJSON_AddStringToObject(entry, "session", row->id) == NULL
	   || cJSON_AddNumberToObject(entry, "created_ts", (double)row->created_ts) == NULL
	   || cJSON_AddNumberToObject(entry, "expires_ts", (double)row->expires_ts) == NULL
	   || (row->last_used_ts < 0
		       ? cJSON_AddNullToObject(entry, "last_used_ts")
		       : cJSON_AddNumberToObject(entry, "last_used_ts", (double)row->last_used_ts))
		      == NULL
	   || cJSON_AddBoolToObject(entry, "current", l->current != NULL && strcmp(l->current, row->id) == 0)
		      == NULL) {
		return -1;
	}
	return 0;
}


enum chat_err chat_signin__sessions(struct chat_plugin *plugin, const struct chat_requester *who,
				    const struct chat_reply_to *rt, const cJSON *body, cJSON *reply,
				    struct chat_error *err)
{
	struct list_ctx l = {cJSON_AddArrayToObject(reply, "sessions"), current_session(plugin, who, rt)};

	(void)body;
	if(l.list == NULL) {
		return out_of_memory(err);
	}
	return chat_tokens__list(plugin->store, who->user, chat_clock__wall_ms(), add_session, &l, err);
}
