/*
 * search.h - the `search` op of chat/_api (docs/protocol.md, "Search"), answered off the broker's
 * thread by the search worker (search_worker.h).
 */
#ifndef CHAT_SEARCH_H
#define CHAT_SEARCH_H

#include <cjson/cJSON.h>

#include "chat.h"
#include "reply.h"

#define CHAT_SEARCH_LIMIT_DEFAULT 20
#define CHAT_SEARCH_LIMIT_MAX     100

struct chat_search;

/* The search state of a plugin (plugin->search), or NULL when out of memory. The worker starts at
 * the first tick. */
struct chat_search *chat_search__new(void);

/* Stops the worker (dropping the searches it holds unanswered) and frees s. NULL is fine. */
void chat_search__free(struct chat_search *s);

/* Validates the search request (the chat/_api object, with "query" and the optional "channel",
 * "from", "after_ts", "before_ts", "limit", "cursor") for user over the channels user is a member of
 * now, and hands it to the worker; its answer goes to rt (copied) from a later tick. *channel is set
 * to the request's channel, if any, for the error's context. Returns CHAT_ERR_OK when handed over (no
 * answer now), or the error to answer with: bad_request for any query that cannot be searched,
 * no_such_channel / not_member for a channel the asker may not read, unavailable (out of memory, the
 * worker not running, or SEARCH_QUEUE searches already in it). */
enum chat_err chat_search__submit(struct chat_plugin *plugin, const char *user, const cJSON *request,
				  const struct chat_reply_to *rt, const char **channel,
				  struct chat_error *err);

/* In the tick, right before the group commit: notes the channels it is about to commit, which
 * chat_search__tick then names to the worker (a pass over them only is the cheap one). */
void chat_search__before_commit(struct chat_plugin *plugin);

/* Every tick: starts the worker if it is not running, tells it about the commits made, and sends the
 * answers of the searches it finished. wake (may be NULL) is what the worker calls, on its thread,
 * when answers are ready: it should make the broker's loop come round (and so this tick) soon. */
void chat_search__tick(struct chat_plugin *plugin, void (*wake)(void));

/* Searches handed to the worker whose answer has not been sent yet (tests wait for 0). */
unsigned chat_search__pending(const struct chat_plugin *plugin);

#endif
