/*
 * mentions.h - who a message or an edit mentions (docs/protocol.md, "Mentions").
 *
 * Pure: a body, the explicit "mentions" list of the send, and a way to ask "is this name a member
 * now?" in; the sorted, unique list of members mentioned and whether everyone is, out. No store, no
 * broker: the send path (send.c) calls it when it builds a message or edit event, and the result goes
 * into the event's JSON ("mentions", "mentions_all"), from which schema/0010_attention.sql's triggers
 * index it.
 *
 * The rule for "@name" in a body. User ids are MQTT usernames, which mqchat does not restrict beyond
 * their length, so a body cannot say where every possible name ends. A mention is an '@' that does not
 * follow a name character (so "ada@example.com" mentions nobody), then the longest run of name
 * characters: ASCII letters and digits, '.', '_', '-', and every byte of a non-ASCII character (UTF-8
 * names work). Any other character ends it. If the run is not a member's name, trailing '.', '_' and
 * '-' are dropped one at a time until it is ("thanks @bo." mentions bo). "@channel" and "@here" mention
 * everyone. Names are case-sensitive, as usernames are. Members whose names hold other characters (a
 * space, '@') are mentioned through the explicit list, which a client's autocomplete fills.
 */
#ifndef CHAT_MENTIONS_H
#define CHAT_MENTIONS_H

#include <stdbool.h>
#include <stddef.h>

/* The result: names is a malloc'd array of malloc'd strings, sorted by strcmp, without duplicates,
 * NULL when count is 0. Release with chat_mentions__clear. */
struct chat_mentions {
	char **names;
	size_t count;
	bool all; /* @channel or @here */
};

/* Whether name (NUL-terminated) is a member of the channel now. */
typedef bool (*chat_mentions_member_fn)(const char *name, void *ctx);

/* Fills *out with the members body (NULL: none) names as "@name" and the members of listed[0..count)
 * (the send's explicit list; non-members are dropped silently). Returns 0, or -1 when out of memory
 * (*out is then empty). Allocates nothing when the body has no '@' and the list is empty. */
int chat_mentions__compute(const char *body, const char *const *listed, size_t listed_count,
			   chat_mentions_member_fn is_member, void *ctx, struct chat_mentions *out);

/* Frees what chat_mentions__compute allocated and empties m. */
void chat_mentions__clear(struct chat_mentions *m);

#endif
