/*
 * index.c - channels and members in uthash tables.
 *
 * Every member is in two tables: its channel's members, and (as a chat_membership) its user's
 * channels. Each function that changes one changes the other before it returns, and asserts so; the
 * whole picture is checked by chat_index__check (index.h lists the invariants).
 */
#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* uthash allocates a table on its first add (and buckets as it grows) and by default calls exit() when
 * that allocation fails: one failed allocation would stop the broker (the allocation-failure walk of
 * tests/unit/test_alloc_faults.c found it on joins). Here a failed add is undone instead, leaving the
 * item's hh.tbl NULL, and the function reports out of memory as it does for its own allocations. This
 * must come before the first include of uthash.h, which index.h makes. */
#define HASH_NONFATAL_OOM 1

#include "index.h"

/* True when the HASH_ADD that just put item in a table failed for want of memory (and was undone). */
#define ADD_FAILED(item) ((item)->hh.tbl == NULL)

static const char *const visibility_names[] = {
	[CHAT_VISIBILITY_PUBLIC] = "public",
	[CHAT_VISIBILITY_PRIVATE] = "private",
	[CHAT_VISIBILITY_DM] = "dm",
};

static const char *const role_names[] = {
	[CHAT_ROLE_MEMBER] = "member",
	[CHAT_ROLE_OWNER] = "owner",
};

/* The pieces of chat_index__check that the functions changing the index assert (end of file). */
static bool heads_ok(const struct chat_channel *ch, char *why, size_t why_len);
static bool user_maps(const struct chat_index *idx, const char *user, const struct chat_channel *ch);
static bool member_ok(const struct chat_index *idx, const struct chat_channel *ch,
		      const struct chat_member *m, char *why, size_t why_len);


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
	ch->first = 1;
	ch->keep_days = -1;
	ch->keep_count = -1;
	memcpy(ch->name, name, len + 1);
	ch->visibility = visibility;
	snprintf(ch->epoch, sizeof(ch->epoch), "%s", epoch);
	HASH_ADD(hh, idx->channels, name[0], len, ch);
	if(ADD_FAILED(ch)) {
		free(ch->title);
		free(ch);
		return NULL;
	}
	idx->generation++;
	assert(chat_index__check_channel(idx, ch, NULL, 0));
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
	if(ADD_FAILED(u)) {
		free(u);
		return NULL;
	}
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
		if(ADD_FAILED(d)) {
			free(d);
			return -1;
		}
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
	if(!ADD_FAILED(m)) {
		HASH_ADD_PTR(u->channels, channel, ms);
		if(ADD_FAILED(ms)) {
			HASH_DEL(ch->members, m);
		}
	}
	if(ADD_FAILED(m) || ADD_FAILED(ms)) {
		free(m);
		free(ms);
		drop_user_if_empty(idx, u);
		return -1;
	}
	assert(member_ok(idx, ch, m, NULL, 0));
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
	assert(heads_ok(ch, NULL, 0));
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
	assert(chat_index__member(ch, user) == NULL && !user_maps(idx, user, ch));
}


void chat_index__remove_channel(struct chat_index *idx, struct chat_channel *ch)
{
	struct chat_member *m, *tmp;

	HASH_ITER(hh, ch->members, m, tmp) {
		/* as chat_index__remove_member does, but with m freed last: its name is the key */
		struct chat_user *u = find_user(idx, m->user);
		struct chat_membership *ms = NULL;
		if(u != NULL) {
			HASH_FIND_PTR(u->channels, &ch, ms);
			if(ms != NULL) {
				HASH_DEL(u->channels, ms);
				free(ms);
			}
			drop_user_if_empty(idx, u);
		}
		HASH_DEL(ch->members, m);
		free_member(m);
	}
	HASH_DEL(idx->channels, ch);
	idx->generation++; /* whoever cached a pointer to ch must look it up again */
	free(ch->title);
	free(ch);
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
	assert(idx->channels == NULL && idx->users == NULL);
}


/* ---- invariant checkers (index.h) ------------------------------------------------------------------ */

/* Describes a broken invariant in why (which may be NULL) and returns false. */
__attribute__((format(printf, 3, 4))) static bool broken(char *why, size_t why_len, const char *fmt, ...)
{
	va_list ap;

	if(why != NULL && why_len > 0) {
		va_start(ap, fmt);
		vsnprintf(why, why_len, fmt, ap);
		va_end(ap);
	}
	return false;
}


static bool heads_ok(const struct chat_channel *ch, char *why, size_t why_len)
{
	if(ch->head < 0 || ch->head_ts < 0 || ch->message_count < 0 || ch->last_message_seq < 0) {
		return broken(why, why_len, "#%s: a negative head (%lld, ts %lld, message %lld, count %lld)",
			      ch->name, (long long)ch->head, (long long)ch->head_ts,
			      (long long)ch->last_message_seq, (long long)ch->message_count);
	}
	if(ch->last_message_seq > ch->head) {
		return broken(why, why_len, "#%s: last message %lld after the head %lld", ch->name,
			      (long long)ch->last_message_seq, (long long)ch->head);
	}
	/* The k-th message has a seq of at least k. */
	if(ch->message_count > ch->last_message_seq) {
		return broken(why, why_len, "#%s: %lld messages up to the last one, seq %lld", ch->name,
			      (long long)ch->message_count, (long long)ch->last_message_seq);
	}
	if((ch->message_count == 0) != (ch->last_message_seq == 0)) {
		return broken(why, why_len, "#%s: %lld messages but the last one is seq %lld", ch->name,
			      (long long)ch->message_count, (long long)ch->last_message_seq);
	}
	return true;
}


/* True if user's entry maps to ch. */
static bool user_maps(const struct chat_index *idx, const char *user, const struct chat_channel *ch)
{
	const struct chat_user *u = find_user(idx, user);
	struct chat_membership *ms = NULL;

	if(u != NULL) {
		HASH_FIND_PTR(u->channels, &ch, ms);
	}
	return ms != NULL && ms->channel == ch;
}


/* m, a member of ch: itself, and its user's side. */
static bool member_ok(const struct chat_index *idx, const struct chat_channel *ch,
		      const struct chat_member *m, char *why, size_t why_len)
{
	struct chat_delivery *d, *tmp;

	if(chat_index__member(ch, m->user) != m) {
		return broken(why, why_len, "#%s: member %s is not found under its name", ch->name, m->user);
	}
	if(m->role != CHAT_ROLE_MEMBER && m->role != CHAT_ROLE_OWNER) {
		return broken(why, why_len, "#%s: member %s has role %d", ch->name, m->user, (int)m->role);
	}
	if(m->joined_seq < 0 || m->read_seq < 0) {
		return broken(why, why_len, "#%s: member %s joined at %lld, read up to %lld", ch->name,
			      m->user, (long long)m->joined_seq, (long long)m->read_seq);
	}
	if(m->own_messages < -1 || m->own_messages > ch->message_count) {
		return broken(why, why_len, "#%s: member %s sent %lld of its %lld messages", ch->name,
			      m->user, (long long)m->own_messages, (long long)ch->message_count);
	}
	HASH_ITER(hh, m->deliveries, d, tmp) {
		if(chat_index__delivery(m, d->device) != d || d->seq < 0) {
			return broken(why, why_len, "#%s: member %s: delivery cursor of %s (%lld) is broken",
				      ch->name, m->user, d->device, (long long)d->seq);
		}
	}
	if(!user_maps(idx, m->user, ch)) {
		return broken(why, why_len, "#%s: member %s is not in its user's channels", ch->name,
			      m->user);
	}
	return true;
}


bool chat_index__check_channel(const struct chat_index *idx, const struct chat_channel *ch, char *why,
			       size_t why_len)
{
	size_t len = strnlen(ch->name, sizeof(ch->name));
	struct chat_member *m, *tmp;

	if(len == 0 || len > CHAT_CHANNEL_ID_MAX) {
		return broken(why, why_len, "a channel name of %zu characters", len);
	}
	if(chat_index__find(idx, ch->name, len) != ch) {
		return broken(why, why_len, "#%s is not found under its name", ch->name);
	}
	if(ch->title == NULL || ch->rowid < 0
	   || (ch->visibility != CHAT_VISIBILITY_PUBLIC && ch->visibility != CHAT_VISIBILITY_PRIVATE
	       && ch->visibility != CHAT_VISIBILITY_DM)) {
		return broken(why, why_len, "#%s: title %s, rowid %lld, visibility %d", ch->name,
			      ch->title ? "set" : "NULL", (long long)ch->rowid, (int)ch->visibility);
	}
	if(!heads_ok(ch, why, why_len)) {
		return false;
	}
	HASH_ITER(hh, ch->members, m, tmp) {
		if(!member_ok(idx, ch, m, why, why_len)) {
			return false;
		}
		if(m->joined_seq > ch->head) {
			return broken(why, why_len, "#%s: member %s joined at %lld, after the head %lld",
				      ch->name, m->user, (long long)m->joined_seq, (long long)ch->head);
		}
	}
	return true;
}


bool chat_index__check_why(const struct chat_index *idx, char *why, size_t why_len)
{
	const struct chat_channel *ch, *ch_tmp;
	const struct chat_user *u, *u_tmp;
	struct chat_membership *ms, *ms_tmp;
	size_t channels = 0, members = 0, memberships = 0;

	HASH_ITER(hh, idx->channels, ch, ch_tmp) {
		if(!chat_index__check_channel(idx, ch, why, why_len)) {
			return false;
		}
		channels++;
		members += HASH_COUNT(ch->members);
	}
	HASH_ITER(hh, idx->users, u, u_tmp) {
		if(find_user(idx, u->name) != u) {
			return broken(why, why_len, "user %s is not found under its name", u->name);
		}
		if(u->channels == NULL) {
			return broken(why, why_len, "user %s is kept with no channel", u->name);
		}
		HASH_ITER(hh, u->channels, ms, ms_tmp) {
			struct chat_membership *found = NULL;
			const struct chat_channel *c = ms->channel;
			HASH_FIND_PTR(u->channels, &c, found);
			if(found != ms) {
				return broken(why, why_len,
					      "user %s: a channel is not found under its pointer", u->name);
			}
			if(c == NULL || chat_index__find(idx, c->name, strlen(c->name)) != c) {
				return broken(why, why_len,
					      "user %s maps to a channel the index does not hold", u->name);
			}
			if(chat_index__member(c, u->name) == NULL) {
				return broken(why, why_len,
					      "user %s maps to #%s, which does not have it as a member",
					      u->name, c->name);
			}
			memberships++;
		}
	}
	if(memberships != members) {
		return broken(why, why_len, "%zu members in channels, %zu in users' channels", members,
			      memberships);
	}
	if(idx->generation < channels) {
		return broken(why, why_len, "generation %lu with %zu channels", idx->generation, channels);
	}
	return true;
}


bool chat_index__check(const struct chat_index *idx)
{
	char why[256];

	if(chat_index__check_why(idx, why, sizeof(why))) {
		return true;
	}
	fprintf(stderr, "chat_index__check: %s\n", why);
	return false;
}
