/*
 * sessions.c - client-id bindings, live connections, ended connections and QoS 2 packet ids (see
 * sessions.h for why each exists).
 *
 * Invariants:
 * - every live connection points to the binding of its client id, and a binding counts its live
 *   connections (two while one takes over the other);
 * - a binding is freed only when no connection with its id lives, none asked for a persistent
 *   session since the last clean one, and the store holds no row for it;
 * - `newest` is the live connection that authenticated last, or NULL once that one is gone; any other
 *   live connection with the id is being taken over, and whatever it publishes now is its will.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uthash.h>

#include "sessions.h"

/* Outstanding QoS 2 publishes per client id that a resend can still refer to. Mosquitto accepts at most
 * max_inflight_messages (20 by default) unreleased QoS 2 publishes per client. */
#define QOS2_KEPT 64

struct qos2_taken {
	uint64_t hash;
	uint16_t mid;
	bool used;
};

struct chat_client_id {
	UT_hash_handle hh;
	char *user;             /* who holds the id */
	unsigned live;          /* live connections with this id */
	const void *newest;     /* the last one to authenticate, or NULL */
	bool persist_wanted;    /* the last accepted connection asked for a persistent session */
	bool stored;            /* the store has a row for it */
	bool dirty;             /* stored != persist_wanted: the next flush writes it */
	int64_t last_said_ms;   /* the last quiet-limited answer (chat_sessions__may_say) */
	int64_t drop_logged_ms; /* the last time a dropped answer was logged */
	unsigned qos2_next;     /* where the next QoS 2 packet id is remembered */
	struct qos2_taken qos2[QOS2_KEPT];
	char id[];
};

struct chat_session_conn {
	UT_hash_handle hh;
	const void *client;
	struct chat_client_id *id;
	bool clean; /* its session ends with it */
	bool confirmed;
	char token[CHAT_SESSIONS_TOKEN_ID_MAX + 1]; /* the session token it signed in with; "": none */
	bool revoked; /* its token was revoked: to be disconnected (chat_sessions__take_revoked) */
};

struct chat_ended_conn {
	UT_hash_handle hh;
	const void *client;
	bool delayed; /* a delayed will may still come: kept past the end of the loop iteration */
	char id[];
};


static struct chat_client_id *find_id(const struct chat_sessions *s, const char *client_id)
{
	struct chat_client_id *b = NULL;

	HASH_FIND_STR(s->ids, client_id, b);
	return b;
}


static struct chat_client_id *add_id(struct chat_sessions *s, const char *client_id, const char *user)
{
	size_t len = strlen(client_id);
	struct chat_client_id *b = calloc(1, sizeof(*b) + len + 1);

	if(b == NULL || (b->user = strdup(user)) == NULL) {
		free(b);
		return NULL;
	}
	memcpy(b->id, client_id, len + 1);
	HASH_ADD(hh, s->ids, id[0], len, b);
	return b;
}


static void set_persist(struct chat_sessions *s, struct chat_client_id *b, bool persist)
{
	bool was_dirty = b->dirty;

	b->persist_wanted = persist;
	b->dirty = b->stored != persist;
	if(b->dirty && !was_dirty) {
		s->dirty++;
	} else if(!b->dirty && was_dirty) {
		s->dirty--;
	}
}


/* Frees b if nothing holds it any more (see the invariants above). */
static void release_if_unused(struct chat_sessions *s, struct chat_client_id *b)
{
	if(b->live > 0 || b->persist_wanted || b->stored) {
		return;
	}
	if(b->dirty) {
		s->dirty--;
	}
	HASH_DEL(s->ids, b);
	free(b->user);
	free(b);
}


static void forget_ended(struct chat_sessions *s, struct chat_ended_conn *e)
{
	HASH_DEL(s->ended, e);
	free(e);
}


/* A connection with client_id is authenticating (from client): the will of an earlier connection of
 * the same pointer or id can no longer come (Mosquitto cancels a delayed will when its session is
 * taken up again). */
static void forget_ended_of(struct chat_sessions *s, const void *client, const char *client_id)
{
	struct chat_ended_conn *e, *tmp;

	HASH_ITER(hh, s->ended, e, tmp) {
		if(e->client == client || strcmp(e->id, client_id) == 0) {
			forget_ended(s, e);
		}
	}
}


enum chat_session_verdict chat_sessions__connecting(struct chat_sessions *s, const void *client,
						    const char *user, const char *client_id, bool clean,
						    const char **owner)
{
	struct chat_client_id *b = find_id(s, client_id);
	struct chat_session_conn *c = NULL;

	if(owner != NULL) {
		*owner = b != NULL ? b->user : NULL;
	}
	if(b != NULL && strcmp(b->user, user) != 0) {
		char *copy;
		if(b->live > 0 || b->persist_wanted) {
			return CHAT_SESSION_TAKEN;
		}
		/* released (a clean session ended), only its stored row not yet deleted: free to take */
		if((copy = strdup(user)) == NULL) {
			return CHAT_SESSION_NO_MEMORY;
		}
		free(b->user);
		b->user = copy;
		memset(b->qos2, 0, sizeof(b->qos2));
	}
	HASH_FIND_PTR(s->conns, &client, c);
	if(c != NULL) { /* the broker asked twice for the same connection: nothing new */
		return CHAT_SESSION_ACCEPT;
	}
	forget_ended_of(s, client, client_id);
	if(b == NULL && (b = add_id(s, client_id, user)) == NULL) {
		return CHAT_SESSION_NO_MEMORY;
	}
	c = calloc(1, sizeof(*c));
	if(c == NULL) {
		release_if_unused(s, b);
		return CHAT_SESSION_NO_MEMORY;
	}
	c->client = client;
	c->id = b;
	c->clean = clean;
	HASH_ADD_PTR(s->conns, client, c);
	b->live++;
	b->newest = client;
	s->pending++;
	return CHAT_SESSION_ACCEPT;
}


void chat_sessions__confirm_pending(struct chat_sessions *s)
{
	struct chat_session_conn *c, *tmp;

	if(s->pending == 0) {
		return;
	}
	HASH_ITER(hh, s->conns, c, tmp) {
		if(c->confirmed) {
			continue;
		}
		c->confirmed = true;
		/* A clean start discards whatever session the id had; a persistent one may outlive us. */
		set_persist(s, c->id, !c->clean);
	}
	s->pending = 0;
}


void chat_sessions__gone(struct chat_sessions *s, const void *client, enum chat_session_will will)
{
	struct chat_session_conn *c = NULL;
	struct chat_client_id *b;
	struct chat_ended_conn *e;
	size_t len;

	HASH_FIND_PTR(s->conns, &client, c);
	if(c == NULL) {
		return;
	}
	b = c->id;
	HASH_DEL(s->conns, c);
	if(!c->confirmed) {
		s->pending--;
	}
	if(c->revoked) {
		s->revoked--;
	}
	if(will != CHAT_WILL_NONE) {
		len = strlen(b->id);
		e = calloc(1, sizeof(*e) + len + 1);
		if(e != NULL) { /* out of memory: the will's check finds an unknown client and lets it be */
			e->client = client;
			e->delayed = will == CHAT_WILL_DELAYED;
			memcpy(e->id, b->id, len + 1);
			HASH_ADD_PTR(s->ended, client, e);
		}
	}
	b->live--;
	if(b->newest == client) {
		b->newest = NULL;
	}
	if(b->live == 0 && c->clean && c->confirmed) {
		set_persist(s, b, false); /* a clean session ends with its connection */
	}
	free(c);
	release_if_unused(s, b);
}


void chat_sessions__forget_ended(struct chat_sessions *s)
{
	struct chat_ended_conn *e, *tmp;

	HASH_ITER(hh, s->ended, e, tmp) {
		if(!e->delayed) {
			forget_ended(s, e);
		}
	}
}


bool chat_sessions__publishing_will(struct chat_sessions *s, const void *client)
{
	struct chat_ended_conn *e = NULL;
	struct chat_session_conn *c = NULL;

	HASH_FIND_PTR(s->ended, &client, e);
	if(e != NULL) {
		forget_ended(s, e); /* a will is checked once, when it is sent */
		return true;
	}
	HASH_FIND_PTR(s->conns, &client, c);
	if(c == NULL) {
		return false; /* authenticated by another source before mqchat was asked: not ours to judge */
	}
	return c->id->newest != NULL && c->id->newest != client;
}


bool chat_sessions__connected(const struct chat_sessions *s, const char *client_id)
{
	const struct chat_client_id *b = find_id(s, client_id);

	return b != NULL && b->live > 0;
}


const void *chat_sessions__client(const struct chat_sessions *s, const char *client_id)
{
	const struct chat_client_id *b = find_id(s, client_id);
	const struct chat_session_conn *c, *tmp;

	if(b == NULL || b->live == 0) {
		return NULL;
	}
	if(b->newest != NULL) {
		return b->newest;
	}
	HASH_ITER(hh, s->conns, c, tmp) { /* rare: the newest was refused, an older one lives on */
		if(c->id == b) {
			return c->client;
		}
	}
	return NULL;
}


void chat_sessions__set_token(struct chat_sessions *s, const void *client, const char *session)
{
	struct chat_session_conn *c = NULL;

	HASH_FIND_PTR(s->conns, &client, c);
	if(c != NULL) {
		snprintf(c->token, sizeof(c->token), "%s", session);
	}
}


const char *chat_sessions__token(const struct chat_sessions *s, const char *client_id)
{
	const void *client = chat_sessions__client(s, client_id);
	const struct chat_session_conn *c = NULL;

	if(client == NULL) {
		return NULL;
	}
	HASH_FIND_PTR(s->conns, &client, c);
	return c != NULL && c->token[0] != '\0' ? c->token : NULL;
}


unsigned chat_sessions__revoke_token(struct chat_sessions *s, const char *user, const char *session,
				     const char *except_client_id)
{
	const void *except = except_client_id != NULL ? chat_sessions__client(s, except_client_id) : NULL;
	struct chat_session_conn *c, *tmp;
	unsigned marked = 0;

	HASH_ITER(hh, s->conns, c, tmp) {
		if(c->token[0] != '\0' && !c->revoked && c->client != except && strcmp(c->id->user, user) == 0
		   && (session == NULL || strcmp(c->token, session) == 0)) {
			c->revoked = true;
			s->revoked++;
			marked++;
		}
	}
	return marked;
}


char **chat_sessions__take_revoked(struct chat_sessions *s, unsigned *count)
{
	struct chat_session_conn *c, *tmp;
	unsigned cap = s->revoked, n = 0;
	char **ids;

	*count = 0;
	if(cap == 0 || (ids = calloc(cap, sizeof(*ids))) == NULL) {
		return NULL;
	}
	HASH_ITER(hh, s->conns, c, tmp) {
		if(!c->revoked) {
			continue;
		}
		/* The broker disconnects by client id, which names the newest connection; an older one
		 * being taken over is leaving anyway. */
		if(c->id->newest == c->client) {
			if(n == cap || (ids[n] = strdup(c->id->id)) == NULL) {
				break; /* out of memory: the rest stay marked */
			}
			n++;
		}
		c->revoked = false;
		s->revoked--;
	}
	if(n == 0) {
		free(ids);
		return NULL;
	}
	*count = n;
	return ids;
}


bool chat_sessions__may_say(struct chat_sessions *s, const char *client_id, int64_t now_ms, int64_t quiet_ms)
{
	struct chat_client_id *b = find_id(s, client_id);

	if(b == NULL) {
		return true;
	}
	if(b->last_said_ms != 0 && now_ms - b->last_said_ms < quiet_ms) {
		return false;
	}
	b->last_said_ms = now_ms;
	return true;
}


bool chat_sessions__note_dropped_reply(struct chat_sessions *s, const char *client_id, int64_t now_ms)
{
	struct chat_client_id *b = find_id(s, client_id);

	if(b == NULL || (b->drop_logged_ms != 0 && now_ms - b->drop_logged_ms < 60000)) {
		return false;
	}
	b->drop_logged_ms = now_ms;
	return true;
}


static struct qos2_taken *qos2_find(const struct chat_client_id *b, uint16_t mid)
{
	for(unsigned i = 0; i < QOS2_KEPT; i++) {
		if(b->qos2[i].used && b->qos2[i].mid == mid) {
			return (struct qos2_taken *)&b->qos2[i];
		}
	}
	return NULL;
}


bool chat_sessions__qos2_resent(const struct chat_sessions *s, const char *client_id, uint16_t mid, bool dup,
				uint64_t hash)
{
	const struct chat_client_id *b = find_id(s, client_id);
	const struct qos2_taken *slot = b != NULL ? qos2_find(b, mid) : NULL;

	/* Only a resend carries DUP. The content must match too: a packet id is free again once its flow
	 * completed, and a new publish that reuses it may itself be resent (with DUP) after a reconnect
	 * before its first copy ever arrived. */
	return slot != NULL && dup && slot->hash == hash;
}


void chat_sessions__qos2_taken(struct chat_sessions *s, const char *client_id, uint16_t mid, uint64_t hash)
{
	struct chat_client_id *b = find_id(s, client_id);
	struct qos2_taken *slot;

	if(b == NULL) {
		return;
	}
	slot = qos2_find(b, mid);
	if(slot == NULL) {
		slot = &b->qos2[b->qos2_next];
		b->qos2_next = (b->qos2_next + 1) % QOS2_KEPT;
	}
	slot->used = true;
	slot->mid = mid;
	slot->hash = hash;
}


uint64_t chat_sessions__hash(const char *topic, const void *payload, size_t len)
{
	const unsigned char *p = (const unsigned char *)topic;
	uint64_t h = 14695981039346656037ULL;
	size_t i;

	for(; *p != '\0'; p++) {
		h = (h ^ *p) * 1099511628211ULL;
	}
	h = (h ^ 0xff) * 1099511628211ULL; /* "a/b" + "c" differs from "a/" + "bc" */
	p = payload;
	for(i = 0; i < len; i++) {
		h = (h ^ p[i]) * 1099511628211ULL;
	}
	return h;
}


int chat_sessions__load(struct chat_sessions *s, const char *client_id, const char *user)
{
	struct chat_client_id *b = find_id(s, client_id);

	if(b == NULL && (b = add_id(s, client_id, user)) == NULL) {
		return -1;
	}
	b->stored = true;
	b->persist_wanted = true;
	return 0;
}


int chat_sessions__each_dirty(const struct chat_sessions *s,
			      int (*write)(void *ctx, const char *client_id, const char *user), void *ctx)
{
	const struct chat_client_id *b, *tmp;
	int rc;

	if(s->dirty == 0) {
		return 0;
	}
	HASH_ITER(hh, s->ids, b, tmp) {
		if(b->dirty && (rc = write(ctx, b->id, b->persist_wanted ? b->user : NULL)) != 0) {
			return rc;
		}
	}
	return 0;
}


void chat_sessions__flushed(struct chat_sessions *s)
{
	struct chat_client_id *b, *tmp;

	if(s->dirty == 0) {
		return;
	}
	HASH_ITER(hh, s->ids, b, tmp) {
		if(!b->dirty) {
			continue;
		}
		b->stored = b->persist_wanted;
		b->dirty = false;
		s->dirty--;
		release_if_unused(s, b);
	}
}


void chat_sessions__clear(struct chat_sessions *s)
{
	struct chat_session_conn *c, *c_tmp;
	struct chat_client_id *b, *b_tmp;
	struct chat_ended_conn *e, *e_tmp;

	HASH_ITER(hh, s->conns, c, c_tmp) {
		HASH_DEL(s->conns, c);
		free(c);
	}
	HASH_ITER(hh, s->ids, b, b_tmp) {
		HASH_DEL(s->ids, b);
		free(b->user);
		free(b);
	}
	HASH_ITER(hh, s->ended, e, e_tmp) {
		HASH_DEL(s->ended, e);
		free(e);
	}
	memset(s, 0, sizeof(*s));
}
