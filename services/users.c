/*
 * users.c - the directory of users in a uthash set (see users.h for the model and its invariants).
 *
 * New names are written the way cursor moves are (cursors.c): kept in memory at once, marked
 * unstored, and written in one transaction by the tick's flush, because a login must not wait for an
 * fsync and a reconnect storm of new users must not cost one transaction each.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uthash.h>

#include "batch.h"
#include "broker.h"
#include "chat.h"
#include "clock.h"
#include "store.h"
#include "users.h"

struct chat_user_entry {
	UT_hash_handle hh;
	struct chat_user_entry *next_unstored; /* chat_users.unstored: the next one to write */
	int64_t first_seen;                    /* ms since the epoch, for the row */
	char name[];
};


static struct chat_user_entry *find(const struct chat_users *users, const char *name)
{
	struct chat_user_entry *e = NULL;

	HASH_FIND(hh, users->known, name, strlen(name), e);
	return e;
}


/* Adds name unless known; false when out of memory. */
static bool add(struct chat_users *users, const char *name, bool stored)
{
	size_t len = strlen(name);
	struct chat_user_entry *e;

	if(len == 0 || len > CHAT_USER_MAX || find(users, name) != NULL) {
		return true;
	}
	e = calloc(1, sizeof(*e) + len + 1);
	if(e == NULL) {
		return false;
	}
	memcpy(e->name, name, len + 1);
	e->first_seen = chat_clock__wall_ms();
	HASH_ADD(hh, users->known, name[0], len, e);
	if(!stored) {
		e->next_unstored = users->unstored;
		users->unstored = e;
	}
	return true;
}


static bool add_stored(const char *name, void *ctx)
{
	return add(ctx, name, true);
}


int chat_users__load(struct chat_plugin *plugin, char *err, size_t err_len)
{
	struct chat_user *u, *tmp;

	if(chat_store__load_users(plugin->store, add_stored, plugin->users, err, err_len) != 0) {
		chat_users__clear(plugin->users);
		return -1;
	}
	/* A member is a user, whatever the users table says (a crash may have lost the row of someone
	 * made a member since the last flush): the next flush writes what was missing. */
	HASH_ITER(hh, plugin->index.users, u, tmp) {
		if(!add(plugin->users, u->name, false)) {
			chat_users__clear(plugin->users);
			snprintf(err, err_len, "cannot load users: out of memory");
			return -1;
		}
	}
	return 0;
}


void chat_users__note(struct chat_plugin *plugin, const char *user)
{
	if(user != NULL && !add(plugin->users, user, false)) {
		chat_broker__log(CHAT_LOG_WARNING,
				 "out of memory recording user %s; it is recorded at its next login", user);
	}
}


bool chat_users__exists(const struct chat_plugin *plugin, const char *user)
{
	return find(plugin->users, user) != NULL;
}


size_t chat_users__count(const struct chat_users *users)
{
	return HASH_COUNT(users->known);
}


void chat_users__each(const struct chat_users *users, void (*cb)(const char *name, void *ctx), void *ctx)
{
	for(const struct chat_user_entry *e = users->known; e != NULL; e = e->hh.next) {
		cb(e->name, ctx);
	}
}


void chat_users__flush(struct chat_plugin *plugin)
{
	struct chat_users *users = plugin->users;
	struct chat_user_entry *e, *next;
	struct chat_error err = {0};
	enum chat_err rc;

	if(users->unstored == NULL || plugin->store == NULL) {
		return;
	}
	chat_batch__flush(plugin); /* its own transaction, after the sends' */
	rc = chat_store__begin(plugin->store, &err);
	for(e = users->unstored; e != NULL && rc == CHAT_ERR_OK; e = e->next_unstored) {
		rc = chat_store__insert_user(plugin->store, e->name, e->first_seen, &err);
	}
	if(rc == CHAT_ERR_OK) {
		rc = chat_store__commit(plugin->store, &err);
	} else {
		chat_store__rollback(plugin->store);
	}
	if(rc != CHAT_ERR_OK) {
		chat_broker__log(CHAT_LOG_WARNING, "new users not stored yet, will retry: %s", err.message);
		return;
	}
	for(e = users->unstored; e != NULL; e = next) {
		next = e->next_unstored;
		e->next_unstored = NULL;
	}
	users->unstored = NULL;
}


void chat_users__clear(struct chat_users *users)
{
	struct chat_user_entry *e, *tmp;

	HASH_ITER(hh, users->known, e, tmp) {
		HASH_DEL(users->known, e);
		free(e);
	}
	users->unstored = NULL;
}
