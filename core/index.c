/*
 * index.c - channels and members in uthash tables.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "index.h"

static const char *const visibility_names[] = {
	[CHAT_VISIBILITY_PUBLIC] = "public",
	[CHAT_VISIBILITY_PRIVATE] = "private",
	[CHAT_VISIBILITY_DM] = "dm",
};

static const char *const role_names[] = {
	[CHAT_ROLE_MEMBER] = "member",
	[CHAT_ROLE_OWNER] = "owner",
};


/* The index of name in names[0..count), or -1. */
static int find_name(const char *const *names, size_t count, const char *name)
{
	for(size_t i = 0; i < count; i++) {
		if(strcmp(name, names[i]) == 0) {
			return (int)i;
		}
	}
	return -1;
}


const char *chat_visibility__name(enum chat_visibility visibility)
{
	return visibility_names[visibility];
}


bool chat_visibility__parse(const char *name, enum chat_visibility *out)
{
	int i = find_name(visibility_names, sizeof(visibility_names) / sizeof(visibility_names[0]), name);

	if(i >= 0) {
		*out = (enum chat_visibility)i;
	}
	return i >= 0;
}


const char *chat_role__name(enum chat_role role)
{
	return role_names[role];
}


bool chat_role__parse(const char *name, enum chat_role *out)
{
	int i = find_name(role_names, sizeof(role_names) / sizeof(role_names[0]), name);

	if(i >= 0) {
		*out = (enum chat_role)i;
	}
	return i >= 0;
}


struct chat_channel *chat_index__add_channel(struct chat_index *idx, int64_t rowid, const char *name,
					     const char *title, enum chat_visibility visibility,
					     const char *epoch)
{
	size_t len = strlen(name);
	struct chat_channel *ch;

	if(len > CHAT_CHANNEL_ID_MAX || chat_index__find(idx, name, len) != NULL) {
		return NULL;
	}
	ch = calloc(1, sizeof(*ch));
	if(ch == NULL) {
		return NULL;
	}
	ch->title = strdup(title ? title : "");
	if(ch->title == NULL) {
		free(ch);
		return NULL;
	}
	ch->rowid = rowid;
	memcpy(ch->name, name, len + 1);
	ch->visibility = visibility;
	snprintf(ch->epoch, sizeof(ch->epoch), "%s", epoch);
	HASH_ADD(hh, idx->channels, name[0], len, ch);
	idx->generation++;
	return ch;
}


struct chat_channel *chat_index__find(const struct chat_index *idx, const char *name, size_t len)
{
	struct chat_channel *ch = NULL;

	HASH_FIND(hh, idx->channels, name, len, ch);
	return ch;
}


struct chat_member *chat_index__member(const struct chat_channel *ch, const char *user)
{
	struct chat_member *m = NULL;

	HASH_FIND(hh, ch->members, user, strlen(user), m);
	return m;
}


enum chat_err chat_index__lookup(const struct chat_index *idx, const char *name, size_t len,
				 struct chat_channel **out, struct chat_error *err)
{
	*out = chat_index__find(idx, name, len);
	if(*out == NULL) {
		return chat_error__set(err, CHAT_ERR_NO_SUCH_CHANNEL, "there is no channel #%.*s", (int)len,
				       name);
	}
	return CHAT_ERR_OK;
}


enum chat_err chat_index__lookup_visible(const struct chat_index *idx, const char *name, size_t len,
					 const char *user, struct chat_channel **out, struct chat_error *err)
{
	struct chat_channel *ch = chat_index__find(idx, name, len);

	/* A private or direct channel is, to whoever is not in it, a channel that does not exist: the
	 * same code and the same message, word for word (chat_index__lookup's). */
	if(ch != NULL && ch->visibility != CHAT_VISIBILITY_PUBLIC && chat_index__member(ch, user) == NULL) {
		ch = NULL;
	}
	*out = ch;
	if(ch == NULL) {
		return chat_error__set(err, CHAT_ERR_NO_SUCH_CHANNEL, "there is no channel #%.*s", (int)len,
				       name);
	}
	return CHAT_ERR_OK;
}


enum chat_err chat_index__lookup_member(const struct chat_index *idx, const char *name, size_t len,
					const char *user, struct chat_channel **out,
					struct chat_member **member, struct chat_error *err)
{
	if(chat_index__lookup_visible(idx, name, len, user, out, err) != CHAT_ERR_OK) {
		return err->code;
	}
	return chat_index__require_member(*out, user, member, err);
}


enum chat_err chat_index__require_member(const struct chat_channel *ch, const char *user,
					 struct chat_member **out, struct chat_error *err)
{
	struct chat_member *m = chat_index__member(ch, user);

	if(out != NULL) {
		*out = m;
	}
	if(m == NULL) {
		return chat_error__set(err, CHAT_ERR_NOT_MEMBER, "%s is not a member of #%s", user, ch->name);
	}
	return CHAT_ERR_OK;
}


static struct chat_user *find_user(const struct chat_index *idx, const char *user)
{
	struct chat_user *u = NULL;

	HASH_FIND(hh, idx->users, user, strlen(user), u);
	return u;
}


/* The user entry for user, created when missing; NULL when out of memory. */
static struct chat_user *get_user(struct chat_index *idx, const char *user)
{
	struct chat_user *u = find_user(idx, user);
	size_t len = strlen(user);

	if(u != NULL) {
		return u;
	}
	u = calloc(1, sizeof(*u) + len + 1);
	if(u == NULL) {
		return NULL;
	}
	memcpy(u->name, user, len + 1);
	HASH_ADD(hh, idx->users, name[0], len, u);
	return u;
}


struct chat_delivery *chat_index__delivery(const struct chat_member *m, const char *device)
{
	struct chat_delivery *d = NULL;

	HASH_FIND(hh, m->deliveries, device, strlen(device), d);
	return d;
}


int chat_index__set_delivery(struct chat_member *m, const char *device, int64_t seq)
{
	struct chat_delivery *d = chat_index__delivery(m, device);
	size_t len = strlen(device);

	if(d == NULL) {
		d = calloc(1, sizeof(*d) + len + 1);
		if(d == NULL) {
			return -1;
		}
		memcpy(d->device, device, len + 1);
		HASH_ADD(hh, m->deliveries, device[0], len, d);
	}
	d->seq = seq;
	return 0;
}


static void free_member(struct chat_member *m)
{
	struct chat_delivery *d, *tmp;

	HASH_ITER(hh, m->deliveries, d, tmp) {
		HASH_DEL(m->deliveries, d);
		free(d);
	}
	free(m);
}


static void drop_user_if_empty(struct chat_index *idx, struct chat_user *u)
{
	if(u->channels == NULL) {
		HASH_DEL(idx->users, u);
		free(u);
	}
}


int chat_index__add_member(struct chat_index *idx, struct chat_channel *ch, const char *user,
			   enum chat_role role, int64_t joined_seq)
{
	struct chat_member *m = chat_index__member(ch, user);
	struct chat_membership *ms;
	struct chat_user *u;
	size_t len = strlen(user);

	if(m != NULL) {
		m->role = role;
		return 0;
	}
	u = get_user(idx, user);
	if(u == NULL) {
		return -1;
	}
	m = calloc(1, sizeof(*m) + len + 1);
	ms = calloc(1, sizeof(*ms));
	if(m == NULL || ms == NULL) {
		free(m);
		free(ms);
		drop_user_if_empty(idx, u);
		return -1;
	}
	m->role = role;
	m->joined_seq = joined_seq;
	m->read_seq = joined_seq;
	m->own_messages = -1;
	memcpy(m->user, user, len + 1);
	HASH_ADD(hh, ch->members, user[0], len, m);
	ms->channel = ch;
	HASH_ADD_PTR(u->channels, channel, ms);
	return 0;
}


void chat_index__advance_head(struct chat_channel *ch, const struct chat_event *ev)
{
	ch->head = ev->seq;
	ch->head_ts = ev->ts;
	ch->message_count = ev->msg_no;
	if(ev->type == CHAT_EVENT_MESSAGE) {
		ch->last_message_seq = ev->seq;
	}
}


void chat_index__forget_own_messages(struct chat_channel *ch)
{
	struct chat_member *m, *tmp;

	HASH_ITER(hh, ch->members, m, tmp) {
		m->own_messages = -1;
	}
}


void chat_index__remove_member(struct chat_index *idx, struct chat_channel *ch, const char *user)
{
	struct chat_member *m = chat_index__member(ch, user);
	struct chat_user *u = find_user(idx, user);
	struct chat_membership *ms = NULL;

	if(m != NULL) {
		HASH_DEL(ch->members, m);
		free_member(m);
	}
	if(u != NULL) {
		HASH_FIND_PTR(u->channels, &ch, ms);
		if(ms != NULL) {
			HASH_DEL(u->channels, ms);
			free(ms);
		}
		drop_user_if_empty(idx, u);
	}
}


struct chat_member *chat_index__longest_member(const struct chat_channel *ch, const char *except)
{
	struct chat_member *m, *tmp, *best = NULL;

	HASH_ITER(hh, ch->members, m, tmp) {
		if(except != NULL && strcmp(m->user, except) == 0) {
			continue;
		}
		if(best == NULL || m->joined_seq < best->joined_seq) {
			best = m;
		}
	}
	return best;
}


bool chat_index__has_other_owner(const struct chat_channel *ch, const char *except)
{
	struct chat_member *m, *tmp;

	HASH_ITER(hh, ch->members, m, tmp) {
		if(m->role == CHAT_ROLE_OWNER && (except == NULL || strcmp(m->user, except) != 0)) {
			return true;
		}
	}
	return false;
}


const struct chat_user *chat_index__user(const struct chat_index *idx, const char *user)
{
	return find_user(idx, user);
}


void chat_index__clear(struct chat_index *idx)
{
	struct chat_channel *ch, *ch_tmp;
	struct chat_member *m, *m_tmp;
	struct chat_user *u, *u_tmp;
	struct chat_membership *ms, *ms_tmp;

	HASH_ITER(hh, idx->users, u, u_tmp) {
		HASH_ITER(hh, u->channels, ms, ms_tmp) {
			HASH_DEL(u->channels, ms);
			free(ms);
		}
		HASH_DEL(idx->users, u);
		free(u);
	}
	HASH_ITER(hh, idx->channels, ch, ch_tmp) {
		HASH_ITER(hh, ch->members, m, m_tmp) {
			HASH_DEL(ch->members, m);
			free_member(m);
		}
		HASH_DEL(idx->channels, ch);
		idx->generation++;
		free(ch->title);
		free(ch);
	}
}
