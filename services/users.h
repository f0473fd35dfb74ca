/*
 * users.h - the directory of users (docs/protocol.md, "Users"): who may be named as a member.
 *
 * A user is a name the broker has accepted a connection for (a password_file check that failed, or any
 * other refused login, never makes one), or a name an admin provisioned, or anyone already named in
 * the log (every member is a user). `create` (its members), `invite` and `dm` refuse any other name
 * with no_such_user, so neither a typo nor a flood of made-up names becomes a member.
 *
 * Invariants:
 * - the set in memory is the one answer: a name noted is known at once, before it is stored;
 * - the store's `users` table follows it: new names are written in one transaction at the tick's
 *   periodic flush (every plugin_opt_cursor_flush_ms, and at shutdown), like cursor moves. A crash
 *   may lose the names noted since the last flush; each comes back at that user's next login, and
 *   those already made members come back at load from the members table (a member is a user).
 * - names longer than CHAT_USER_MAX (which no request can name) are not recorded.
 */
#ifndef CHAT_USERS_H
#define CHAT_USERS_H

#include <stdbool.h>
#include <stddef.h>

/* Longest user name mqchat accepts in requests. */
#define CHAT_USER_MAX 256

struct chat_plugin;
struct chat_index;
struct chat_user_entry;

struct chat_users {
	struct chat_user_entry *known;    /* every user, keyed by name */
	struct chat_user_entry *unstored; /* those not yet written to the store, newest first */
};

/* Fills the directory from the store's users table and from the members in idx (loaded before).
 * Returns 0, or -1 with a message in err. */
int chat_users__load(struct chat_plugin *plugin, char *err, size_t err_len);

/* user's connection was accepted by the broker (never call it for a mere attempt): from now on user is
 * a user. Idempotent and cheap for a known name (one hash lookup). Out of memory, the name is not
 * recorded (logged); the user's next connection records it. */
void chat_users__note(struct chat_plugin *plugin, const char *user);

/* True if user is in the directory. */
bool chat_users__exists(const struct chat_plugin *plugin, const char *user);

/* The number of users in the directory. */
size_t chat_users__count(const struct chat_users *users);

/* Calls cb with each user's name, in no particular order (admin.c: listUsers). */
void chat_users__each(const struct chat_users *users, void (*cb)(const char *name, void *ctx), void *ctx);

/* Writes the names not yet stored in one transaction. On failure they stay pending for the next flush
 * (logged). A no-op without a store (an edge). */
void chat_users__flush(struct chat_plugin *plugin);

/* Frees the directory without writing anything. */
void chat_users__clear(struct chat_users *users);

#endif
