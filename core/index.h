/*
 * index.h - the in-memory picture of channels and their members.
 *
 * The read ACL runs for every subscriber of every delivered message, so membership must answer from
 * memory: two hash lookups, no query. The index mirrors the store: it is loaded at start and changed
 * only after the transaction that changed the store has committed, so it never shows what the store
 * does not hold. Every member is indexed both ways: channel -> members and user -> channels.
 */
#ifndef CHAT_INDEX_H
#define CHAT_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uthash.h>

#include "errors.h"
#include "event_json.h"
#include "topic.h"

enum chat_visibility {
	CHAT_VISIBILITY_PUBLIC,
	CHAT_VISIBILITY_PRIVATE,
	CHAT_VISIBILITY_DM,
};

enum chat_role {
	CHAT_ROLE_MEMBER,
	CHAT_ROLE_OWNER,
};

/* A device's delivery cursor in a channel. */
struct chat_delivery {
	UT_hash_handle hh; /* chat_member.deliveries, keyed by device */
	int64_t seq;
	char device[];
};

struct chat_member {
	UT_hash_handle hh; /* chat_channel.members, keyed by user */
	enum chat_role role;
	int64_t joined_seq;               /* seq of the join event: who joined first */
	int64_t read_seq;                 /* the user's read cursor, shared by its devices */
	int64_t own_messages;             /* messages the user has sent here (the author_msg_no of the
					     last), or -1 until a send needs it (send.c) */
	struct chat_delivery *deliveries; /* per device */
	char user[];
};

struct chat_channel {
	UT_hash_handle hh; /* chat_index.channels, keyed by name */
	int64_t rowid;     /* channels.id in the store */
	char name[CHAT_CHANNEL_ID_MAX + 1];
	char *title;
	enum chat_visibility visibility;
	char epoch[CHAT_UUID_LEN + 1];
	int64_t head;             /* seq of the last event appended, 0 when empty; it may still be in the
				     open batch (batch.c), which every reader of the store flushes first */
	int64_t head_ts;          /* ts of that event: the channel's latest activity */
	int64_t last_message_seq; /* seq of the last event of type message, 0 if none */
	int64_t message_count;    /* number of message events: the msg_no of the last one */
	int64_t first;            /* lowest seq still stored: 1 until retention prunes; read it through
				     chat_retention__first, which loads the stored ones at first use */
	int64_t keep_days;        /* the channel's own retention policy: -1 none (the options apply), */
	int64_t keep_count;       /* 0 no limit (retention.c) */
	struct chat_member *members;
};

/* One channel of a user, in chat_user.channels. */
struct chat_membership {
	UT_hash_handle hh; /* keyed by the channel pointer */
	struct chat_channel *channel;
};

struct chat_user {
	UT_hash_handle hh; /* chat_index.users, keyed by name */
	struct chat_membership *channels;
	char name[];
};

struct chat_index {
	struct chat_channel *channels;
	struct chat_user *users;
	/* Grows whenever a channel is added or freed: whoever keeps a pointer to a channel (acl.c's
	 * read cache) knows it is still valid while this has not changed. An edge rebuilds its whole
	 * index from a snapshot (edge.c), freeing every channel. */
	unsigned long generation;
};

/* Wire names: "public", "private", "dm"; "member", "owner". */
const char *chat_visibility__name(enum chat_visibility visibility);
bool chat_visibility__parse(const char *name, enum chat_visibility *out);
const char *chat_role__name(enum chat_role role);
bool chat_role__parse(const char *name, enum chat_role *out);

/* Adds a channel with no members and head 0. Returns it (owned by the index), or NULL when out of
 * memory or when the name is taken. */
struct chat_channel *chat_index__add_channel(struct chat_index *idx, int64_t rowid, const char *name,
					     const char *title, enum chat_visibility visibility,
					     const char *epoch);

/* The channel named name[0..len), or NULL. */
struct chat_channel *chat_index__find(const struct chat_index *idx, const char *name, size_t len);

/* Moves ch's head to the event ev, once it is committed (seq, ts, type; msg_no for a message). */
void chat_index__advance_head(struct chat_channel *ch, const struct chat_event *ev);

/* Marks every member's own_messages of ch unknown: they counted sends a failed commit took back. */
void chat_index__forget_own_messages(struct chat_channel *ch);

/* user's membership of ch, or NULL when user is not a member. */
struct chat_member *chat_index__member(const struct chat_channel *ch, const char *user);

/* The channel named name[0..len) in *out, or CHAT_ERR_NO_SUCH_CHANNEL ("there is no channel #x"). */
enum chat_err chat_index__lookup(const struct chat_index *idx, const char *name, size_t len,
				 struct chat_channel **out, struct chat_error *err);

/* The channel named name[0..len) as user may know it, in *out. CHAT_ERR_NO_SUCH_CHANNEL ("there is no
 * channel #x") when there is none, and exactly the same error, message included, when it is a private
 * or direct channel that user is not a member of: to a non-member a private channel does not exist
 * (as a private repository is a 404 to a stranger), so no answer tells the two apart. A public channel
 * is found whoever asks: anyone may join it. */
enum chat_err chat_index__lookup_visible(const struct chat_index *idx, const char *name, size_t len,
					 const char *user, struct chat_channel **out, struct chat_error *err);

/* chat_index__lookup_visible, then user's membership of it in *member (may be NULL): the check of every
 * member-only topic. A public channel user is not in is CHAT_ERR_NOT_MEMBER. */
enum chat_err chat_index__lookup_member(const struct chat_index *idx, const char *name, size_t len,
					const char *user, struct chat_channel **out,
					struct chat_member **member, struct chat_error *err);

/* user's membership of ch in *out (out may be NULL), or CHAT_ERR_NOT_MEMBER ("cy is not a member of
 * #ops"). */
enum chat_err chat_index__require_member(const struct chat_channel *ch, const char *user,
					 struct chat_member **out, struct chat_error *err);

/* Makes user a member of ch with role (updating the role if already a member), its read cursor at
 * joined_seq. Returns 0, or -1 when out of memory (the index is then unchanged). */
int chat_index__add_member(struct chat_index *idx, struct chat_channel *ch, const char *user,
			   enum chat_role role, int64_t joined_seq);

/* The delivery cursor of device in m, or NULL. */
struct chat_delivery *chat_index__delivery(const struct chat_member *m, const char *device);

/* Sets the delivery cursor of device in m. Returns 0, or -1 when out of memory. */
int chat_index__set_delivery(struct chat_member *m, const char *device, int64_t seq);

/* Removes user from ch; a no-op if user is not a member. */
void chat_index__remove_member(struct chat_index *idx, struct chat_channel *ch, const char *user);

/* Removes ch, its members first, and frees it: a deleted channel (admin.c), or one an edge no longer
 * needs. Moves the generation on, so cached pointers to ch are dropped. */
void chat_index__remove_channel(struct chat_index *idx, struct chat_channel *ch);

/* The member of ch who joined first among those other than except (which may be NULL), or NULL. */
struct chat_member *chat_index__longest_member(const struct chat_channel *ch, const char *except);

/* True if ch has an owner other than except (which may be NULL). */
bool chat_index__has_other_owner(const struct chat_channel *ch, const char *except);

/* The user's channels, or NULL when user is a member of none. */
const struct chat_user *chat_index__user(const struct chat_index *idx, const char *user);

/* Frees every channel, member and user of idx and empties it. */
void chat_index__clear(struct chat_index *idx);

/*
 * Invariant checkers, for assert(): SQLite's assert(pager_ok()) style. Asserts call them where the
 * index must be whole, so they run in debug and sanitizer builds and compile out with NDEBUG; a unit
 * test calls them directly (tests/unit/test_checkers.c). Each returns true when every invariant holds,
 * and otherwise false with the first broken one described in why (why may be NULL). Invariants:
 * - every channel is found under its own name, which is 1 to CHAT_CHANNEL_ID_MAX characters; it has a
 *   title, a known visibility and a rowid >= 0;
 * - its heads are sane: 0 <= message_count <= last_message_seq <= head, and last_message_seq is 0
 *   exactly when message_count is (no message yet); head_ts >= 0;
 * - every member is found under its own name, has a known role, joined at or before the head, has
 *   cursors >= 0 and an own_messages of -1 (unknown) up to the channel's message_count;
 * - every member's channel is in its user's channels, and every channel a user maps to has that user
 *   as a member (the two directions agree; a user with no channel is not kept);
 * - generation >= the number of channels (each one added moved it).
 * chat_index__check walks every channel, member and user (and reports a failure on stderr, so a failed
 * assert says which invariant broke); chat_index__check_channel only ch and its members.
 */
bool chat_index__check(const struct chat_index *idx);
bool chat_index__check_why(const struct chat_index *idx, char *why, size_t why_len);
bool chat_index__check_channel(const struct chat_index *idx, const struct chat_channel *ch, char *why,
			       size_t why_len);

#endif
