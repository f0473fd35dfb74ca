/*
 * membership.c - creating channels and changing their members.
 *
 * Each operation: check the rules against the index, then in one transaction append the join/leave
 * events and change the members table, commit (which queues the events), and only then change the
 * index. If the index cannot follow (out of memory) the store is still right and the next start
 * rebuilds the index from it; that is logged.
 *
 * A join's or leave's seq (and msg_no) is read from the channel's head once chat_txn__begin has
 * returned, not before: begin is what commits the open group commit (batch.c), and only then is the
 * head the seq of the last committed event. A batch moves heads in memory as it appends and puts them
 * back when its commit fails, so a head read before begin is right only as long as nothing between
 * the read and the begin appends or fails; today dispatch.c commits the batch before every chat/_api
 * request, which is all that made the old order safe. This order needs nothing of the caller.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker.h"
#include "clock.h"
#include "ids.h"
#include "cursors.h"
#include "membership.h"
#include "presence.h"
#include "quotas.h"
#include "sessions.h"
#include "store.h"
#include "txn.h"
#include "users.h"

#define DM_PREFIX   "dm-"
#define DM_ID_BYTES 8

/* One member added or removed by an operation, for the index once committed. */
struct change {
	const char *user;
	enum chat_role role;
	int64_t seq;      /* of its join or leave event */
	int64_t messages; /* in the channel before that event: the event's msg_no */
};


static void index_failed(const char *what, const char *channel)
{
	chat_broker__log(CHAT_LOG_ERR, "out of memory updating the index (%s in #%s); restart the broker",
			 what, channel);
}


/* Appends a join (or leave) event of user to channel and records the member row. */
static enum chat_err append_membership(struct chat_txn *txn, int64_t rowid, const char *channel,
				       const struct chat_requester *who, enum chat_event_type type,
				       struct change *change, struct chat_event *ev, struct chat_error *err)
{
	struct chat_store *store = txn->plugin->store;

	*ev = (struct chat_event){
		.channel = channel,
		.seq = change->seq,
		.type = type,
		.from = who->user,
		.device = who->device,
		.user = change->user,
		.msg_no = change->messages,
	};
	if(chat_txn__append(txn, rowid, ev, err) != CHAT_ERR_OK) {
		return err->code;
	}
	if(type == CHAT_EVENT_JOIN) {
		/* History before the join is not unread: the read cursor starts at the join itself. */
		if(chat_store__put_member(store, rowid, change->user, change->role, change->seq, err)
		   != CHAT_ERR_OK) {
			return err->code;
		}
		return chat_store__set_read_cursor(store, rowid, change->user, change->seq, ev->ts, false,
						   err);
	}
	if(chat_store__delete_member(store, rowid, change->user, err) != CHAT_ERR_OK) {
		return err->code;
	}
	return chat_store__delete_cursors(store, rowid, change->user, err);
}


/* ---- create and dm ---------------------------------------------------------------------------------- */

static bool listed(const char *const *users, size_t count, const char *user)
{
	for(size_t i = 0; i < count; i++) {
		if(strcmp(users[i], user) == 0) {
			return true;
		}
	}
	return false;
}


/* The distinct users of the new channel, creator first; malloc'd array of borrowed strings. */
static struct change *initial_members(const struct chat_requester *who, enum chat_visibility visibility,
				      const char *const *members, size_t member_count, size_t *count)
{
	struct change *changes = calloc(member_count + 1, sizeof(*changes));
	size_t n = 0;

	if(changes == NULL) {
		return NULL;
	}
	changes[n++] =
		(struct change){who->user,
				visibility == CHAT_VISIBILITY_DM ? CHAT_ROLE_MEMBER : CHAT_ROLE_OWNER, 1, 0};
	for(size_t i = 0; i < member_count; i++) {
		if(strcmp(members[i], who->user) != 0 && !listed(members, i, members[i])) {
			changes[n] = (struct change){members[i], CHAT_ROLE_MEMBER, (int64_t)n + 1, 0};
			n++;
		}
	}
	*count = n;
	return changes;
}


static enum chat_err store_new_channel(struct chat_plugin *plugin, const struct chat_requester *who,
				       const char *name, enum chat_visibility visibility, const char *title,
				       const char *epoch, struct change *changes, size_t count,
				       int64_t *rowid, struct chat_event *last, struct chat_error *err)
{
	struct chat_txn txn;

	if(chat_txn__begin(&txn, plugin, err) != CHAT_ERR_OK) {
		return err->code;
	}
	if(chat_store__insert_channel(plugin->store, name, visibility, title, epoch, who->user,
				      chat_clock__wall_ms(), rowid, err)
	   != CHAT_ERR_OK) {
		chat_txn__abort(&txn);
		return err->code;
	}
	for(size_t i = 0; i < count; i++) {
		if(append_membership(&txn, *rowid, name, who, CHAT_EVENT_JOIN, &changes[i], last, err)
		   != CHAT_ERR_OK) {
			chat_txn__abort(&txn);
			return err->code;
		}
	}
	return chat_txn__commit(&txn, err);
}


/* Creates channel name holding the users of changes (from initial_members), checked already. */
static enum chat_err create_channel(struct chat_plugin *plugin, const struct chat_requester *who,
				    const char *name, enum chat_visibility visibility, const char *title,
				    struct change *changes, size_t count, struct chat_channel **out,
				    struct chat_error *err)
{
	char epoch[CHAT_UUID_LEN + 1];
	struct chat_event last;
	struct chat_channel *ch;
	int64_t rowid = 0;

	chat_ids__uuid(epoch);
	if(store_new_channel(plugin, who, name, visibility, title, epoch, changes, count, &rowid, &last, err)
	   != CHAT_ERR_OK) {
		return err->code;
	}
	ch = chat_index__add_channel(&plugin->index, rowid, name, title, visibility, epoch);
	for(size_t i = 0; ch != NULL && i < count; i++) {
		if(chat_index__add_member(&plugin->index, ch, changes[i].user, changes[i].role,
					  changes[i].seq)
		   != 0) {
			index_failed("adding a member", name);
		}
	}
	if(ch == NULL) {
		index_failed("adding the channel", name);
		return chat_error__set(err, CHAT_ERR_UNAVAILABLE, "out of memory");
	}
	chat_index__advance_head(ch, &last);
	*out = ch;
	return CHAT_ERR_OK;
}


/* Every user a new channel would hold exists, and may be in one more channel. */
static enum chat_err check_new_members(const struct chat_plugin *plugin, const struct change *changes,
				       size_t count, struct chat_error *err)
{
	/* All names first: a create naming one made-up user is no_such_user whatever else is wrong. The
	 * creator (changes[0]) is connected, so known. */
	for(size_t i = 1; i < count; i++) {
		if(!chat_users__exists(plugin, changes[i].user)) {
			return chat_error__set(err, CHAT_ERR_NO_SUCH_USER, "there is no user %s",
					       changes[i].user);
		}
	}
	for(size_t i = 0; i < count; i++) {
		if(chat_quotas__may_join(plugin, changes[i].user, err) != CHAT_ERR_OK) {
			return err->code;
		}
	}
	return CHAT_ERR_OK;
}


/*
 * Channel names are one namespace, so creating a name that is taken must fail, even when what holds
 * it is a private or direct channel the creator may not know of. The answer says no more than that the
 * name is taken: the same `conflict` and the same message whether the holder is public, private or a
 * dm, whether or not the asker is in it, and nothing of the channel itself. And since each such answer
 * is one bit about a name, it costs a token of the creation quota like a create that succeeds: names
 * cannot be probed faster than channels can be created (plugin_opt_create_rate).
 */
enum chat_err chat_membership__create(struct chat_plugin *plugin, const struct chat_requester *who,
				      const char *name, enum chat_visibility visibility, const char *title,
				      const char *const *members, size_t member_count,
				      struct chat_channel **out, struct chat_error *err)
{
	struct change *changes;
	size_t count = 0;
	enum chat_err rc;

	if(visibility == CHAT_VISIBILITY_DM) {
		return chat_error__set(err, CHAT_ERR_BAD_REQUEST,
				       "direct channels are opened with the dm op");
	}
	if(chat_index__find(&plugin->index, name, strlen(name)) != NULL) {
		if(chat_quotas__admit(plugin, who->user, 1, 0, err) != CHAT_ERR_OK) {
			return err->code;
		}
		return chat_error__set(err, CHAT_ERR_CONFLICT, "channel #%s already exists", name);
	}
	changes = initial_members(who, visibility, members, member_count, &count);
	if(changes == NULL) {
		return chat_error__set(err, CHAT_ERR_UNAVAILABLE, "out of memory");
	}
	rc = check_new_members(plugin, changes, count, err);
	if(rc == CHAT_ERR_OK) {
		rc = chat_quotas__admit(plugin, who->user, 1, (int64_t)count - 1, err);
	}
	if(rc == CHAT_ERR_OK) {
		rc = create_channel(plugin, who, name, visibility, title, changes, count, out, err);
	}
	free(changes);
	return rc;
}


const char *chat_membership__dm_peer(const struct chat_channel *ch, const char *user)
{
	struct chat_member *m, *tmp;

	if(ch->visibility != CHAT_VISIBILITY_DM) {
		return NULL;
	}
	HASH_ITER(hh, ch->members, m, tmp) {
		if(strcmp(m->user, user) != 0) {
			return m->user;
		}
	}
	return NULL;
}


static struct chat_channel *find_dm(const struct chat_index *idx, const char *a, const char *b)
{
	const struct chat_user *u = chat_index__user(idx, a);
	struct chat_membership *ms, *tmp;

	if(u == NULL) {
		return NULL;
	}
	HASH_ITER(hh, u->channels, ms, tmp) {
		if(ms->channel->visibility == CHAT_VISIBILITY_DM
		   && chat_index__member(ms->channel, b) != NULL) {
			return ms->channel;
		}
	}
	return NULL;
}


enum chat_err chat_membership__dm(struct chat_plugin *plugin, const struct chat_requester *who,
				  const char *user, struct chat_channel **out, bool *created,
				  struct chat_error *err)
{
	char name[sizeof(DM_PREFIX) + 2 * DM_ID_BYTES];
	const char *peer[1] = {user};
	struct change *changes;
	size_t count = 0;
	enum chat_err rc;

	*created = false;
	if(strcmp(user, who->user) == 0) {
		return chat_error__set(err, CHAT_ERR_BAD_REQUEST, "a direct channel needs another user");
	}
	if(!chat_users__exists(plugin, user)) {
		return chat_error__set(err, CHAT_ERR_NO_SUCH_USER, "there is no user %s", user);
	}
	*out = find_dm(&plugin->index, who->user, user);
	if(*out != NULL) {
		return CHAT_ERR_OK;
	}
	do {
		memcpy(name, DM_PREFIX, strlen(DM_PREFIX));
		chat_ids__hex(name + strlen(DM_PREFIX), DM_ID_BYTES);
	} while(chat_index__find(&plugin->index, name, strlen(name)) != NULL);
	changes = initial_members(who, CHAT_VISIBILITY_DM, peer, 1, &count);
	if(changes == NULL) {
		return chat_error__set(err, CHAT_ERR_UNAVAILABLE, "out of memory");
	}
	/* A new dm adds the peer to someone's channels like an invite: the members quota, not the
	 * creations one (one dm per pair of users is all there can be). */
	rc = check_new_members(plugin, changes, count, err);
	if(rc == CHAT_ERR_OK) {
		rc = chat_quotas__admit(plugin, who->user, 0, 1, err);
	}
	if(rc == CHAT_ERR_OK) {
		rc = create_channel(plugin, who, name, CHAT_VISIBILITY_DM, "", changes, count, out, err);
	}
	free(changes);
	if(rc != CHAT_ERR_OK) {
		return rc;
	}
	*created = true;
	return CHAT_ERR_OK;
}


/* ---- join, invite --------------------------------------------------------------------------------- */

/* The change that puts user's join or leave next in ch: only after chat_txn__begin (top of file). */
static struct change next_change(const struct chat_channel *ch, const char *user, enum chat_role role)
{
	return (struct change){user, role, ch->head + 1, ch->message_count};
}


/* Adds user to ch as a member, caused by who. */
static enum chat_err add_member(struct chat_plugin *plugin, const struct chat_requester *who,
				struct chat_channel *ch, const char *user, struct chat_error *err)
{
	struct change change;
	struct chat_event ev;
	struct chat_txn txn;

	if(chat_txn__begin(&txn, plugin, err) != CHAT_ERR_OK) {
		return err->code;
	}
	change = next_change(ch, user, CHAT_ROLE_MEMBER);
	if(append_membership(&txn, ch->rowid, ch->name, who, CHAT_EVENT_JOIN, &change, &ev, err)
	   != CHAT_ERR_OK) {
		chat_txn__abort(&txn);
		return err->code;
	}
	if(chat_txn__commit(&txn, err) != CHAT_ERR_OK) {
		return err->code;
	}
	chat_index__advance_head(ch, &ev);
	if(chat_index__add_member(&plugin->index, ch, user, CHAT_ROLE_MEMBER, change.seq) != 0) {
		index_failed("adding a member", ch->name);
	}
	return CHAT_ERR_OK;
}


enum chat_err chat_membership__join(struct chat_plugin *plugin, const struct chat_requester *who,
				    struct chat_channel *ch, bool *joined, struct chat_error *err)
{
	*joined = false;
	if(chat_index__member(ch, who->user) != NULL) {
		return CHAT_ERR_OK;
	}
	if(ch->visibility != CHAT_VISIBILITY_PUBLIC) {
		/* the API never gets here (to a non-member a private channel does not exist): the rule
		 * stays for any other caller */
		return chat_error__set(err, CHAT_ERR_FORBIDDEN, "#%s is private: ask its owner for an invite",
				       ch->name);
	}
	if(chat_quotas__may_join(plugin, who->user, err) != CHAT_ERR_OK
	   || add_member(plugin, who, ch, who->user, err) != CHAT_ERR_OK) {
		return err->code;
	}
	*joined = true;
	return CHAT_ERR_OK;
}


enum chat_err chat_membership__invite(struct chat_plugin *plugin, const struct chat_requester *who,
				      struct chat_channel *ch, const char *user, bool *added,
				      struct chat_error *err)
{
	struct chat_member *inviter;

	*added = false;
	if(chat_index__require_member(ch, who->user, &inviter, err) != CHAT_ERR_OK) {
		return err->code;
	}
	if(ch->visibility == CHAT_VISIBILITY_DM) {
		return chat_error__set(err, CHAT_ERR_FORBIDDEN,
				       "a direct channel has no room for more members");
	}
	if(ch->visibility == CHAT_VISIBILITY_PRIVATE && inviter->role != CHAT_ROLE_OWNER) {
		return chat_error__set(err, CHAT_ERR_FORBIDDEN, "only an owner of #%s may invite", ch->name);
	}
	if(chat_index__member(ch, user) != NULL) {
		return CHAT_ERR_OK;
	}
	if(!chat_users__exists(plugin, user)) {
		return chat_error__set(err, CHAT_ERR_NO_SUCH_USER, "there is no user %s", user);
	}
	if(chat_quotas__may_join(plugin, user, err) != CHAT_ERR_OK
	   || chat_quotas__admit(plugin, who->user, 0, 1, err) != CHAT_ERR_OK
	   || add_member(plugin, who, ch, user, err) != CHAT_ERR_OK) {
		return err->code;
	}
	*added = true;
	return CHAT_ERR_OK;
}


/* ---- leave, remove -------------------------------------------------------------------------------- */

struct leave_notice {
	struct chat_plugin *plugin;
	const char *topic; /* chat/<ch> */
	const char *json;  /* the leave event */
	size_t len;
};


static void tell_connection(const void *client, const char *device, void *ctx)
{
	const struct leave_notice *n = ctx;

	/* A client of this broker (not an edge's: its edge tells it, edge.c), and this very connection,
	 * not another user's that has since taken the id. */
	if(chat_sessions__client(&n->plugin->sessions, device) == client) {
		chat_broker__send_to(device, n->topic, n->json, n->len, NULL, 0);
	}
}


/* The leaving member's own connections get its leave event, on chat/<ch> like every event: the
 * read ACL refuses them the fan-out, since they are no longer members when it is delivered, so
 * without this a removed member (or the user's other devices, after a leave) would never learn it.
 * A directed publish skips the read ACL, and it is queued after the fan-out, so it arrives in seq
 * order. QoS 1, as events go. */
static void tell_leaving(struct chat_plugin *plugin, const struct chat_event *ev)
{
	char topic[sizeof("chat/") + CHAT_CHANNEL_ID_MAX];
	struct leave_notice n = {.plugin = plugin, .topic = topic};
	char *json = chat_event_json__build(ev, &n.len); /* the stored bytes: the builder is deterministic */

	if(json == NULL) {
		chat_broker__log(CHAT_LOG_WARNING, "could not tell %s it left #%s: out of memory", ev->user,
				 ev->channel);
		return;
	}
	n.json = json;
	snprintf(topic, sizeof(topic), "chat/%s", ev->channel);
	chat_presence__each_connection(plugin, ev->user, tell_connection, &n);
	free(json);
}


/* Takes user out of ch, caused by who; hands ownership on when the last owner goes. */
static enum chat_err drop_member(struct chat_plugin *plugin, const struct chat_requester *who,
				 struct chat_channel *ch, const char *user, struct chat_error *err)
{
	const struct chat_member *leaving = chat_index__member(ch, user);
	struct chat_member *heir = NULL;
	struct change change;
	struct chat_event ev;
	struct chat_txn txn;

	if(leaving->role == CHAT_ROLE_OWNER && !chat_index__has_other_owner(ch, user)) {
		heir = chat_index__longest_member(ch, user);
	}
	if(chat_txn__begin(&txn, plugin, err) != CHAT_ERR_OK) {
		return err->code;
	}
	change = next_change(ch, user, leaving->role);
	if(append_membership(&txn, ch->rowid, ch->name, who, CHAT_EVENT_LEAVE, &change, &ev, err)
		   != CHAT_ERR_OK
	   || (heir != NULL
	       && chat_store__put_member(plugin->store, ch->rowid, heir->user, CHAT_ROLE_OWNER,
					 heir->joined_seq, err)
			  != CHAT_ERR_OK)) {
		chat_txn__abort(&txn);
		return err->code;
	}
	if(chat_txn__commit(&txn, err) != CHAT_ERR_OK) {
		return err->code;
	}
	tell_leaving(plugin, &ev);
	chat_index__advance_head(ch, &ev);
	chat_cursors__forget(plugin, ch->rowid, user); /* moves not yet written must not bring them back */
	chat_index__remove_member(&plugin->index, ch, user);
	if(heir != NULL) {
		heir->role = CHAT_ROLE_OWNER;
	}
	return CHAT_ERR_OK;
}


enum chat_err chat_membership__leave(struct chat_plugin *plugin, const struct chat_requester *who,
				     struct chat_channel *ch, struct chat_error *err)
{
	if(chat_index__require_member(ch, who->user, NULL, err) != CHAT_ERR_OK) {
		return err->code;
	}
	if(ch->visibility == CHAT_VISIBILITY_DM) {
		return chat_error__set(err, CHAT_ERR_FORBIDDEN, "a direct channel cannot be left");
	}
	return drop_member(plugin, who, ch, who->user, err);
}


enum chat_err chat_membership__remove(struct chat_plugin *plugin, const struct chat_requester *who,
				      struct chat_channel *ch, const char *user, struct chat_error *err)
{
	struct chat_member *remover;

	if(chat_index__require_member(ch, who->user, &remover, err) != CHAT_ERR_OK) {
		return err->code;
	}
	if(ch->visibility == CHAT_VISIBILITY_DM || remover->role != CHAT_ROLE_OWNER) {
		return chat_error__set(err, CHAT_ERR_FORBIDDEN, "only an owner of #%s may remove members",
				       ch->name);
	}
	if(strcmp(user, who->user) == 0) {
		return chat_error__set(err, CHAT_ERR_BAD_REQUEST, "to remove yourself, leave");
	}
	if(chat_index__require_member(ch, user, NULL, err) != CHAT_ERR_OK) {
		return err->code;
	}
	return drop_member(plugin, who, ch, user, err);
}


enum chat_err chat_membership__admin_add(struct chat_plugin *plugin, const struct chat_requester *who,
					 struct chat_channel *ch, const char *user, bool *added,
					 struct chat_error *err)
{
	*added = false;
	if(ch->visibility == CHAT_VISIBILITY_DM) {
		return chat_error__set(err, CHAT_ERR_FORBIDDEN,
				       "a direct channel has no room for more members");
	}
	if(chat_index__member(ch, user) != NULL) {
		return CHAT_ERR_OK;
	}
	if(!chat_users__exists(plugin, user)) {
		return chat_error__set(err, CHAT_ERR_NO_SUCH_USER, "there is no user %s", user);
	}
	if(chat_quotas__may_join(plugin, user, err) != CHAT_ERR_OK
	   || add_member(plugin, who, ch, user, err) != CHAT_ERR_OK) {
		return err->code;
	}
	*added = true;
	return CHAT_ERR_OK;
}


enum chat_err chat_membership__admin_remove(struct chat_plugin *plugin, const struct chat_requester *who,
					    struct chat_channel *ch, const char *user, struct chat_error *err)
{
	if(ch->visibility == CHAT_VISIBILITY_DM) {
		return chat_error__set(err, CHAT_ERR_FORBIDDEN, "a direct channel keeps its two members");
	}
	if(chat_index__require_member(ch, user, NULL, err) != CHAT_ERR_OK) {
		return err->code;
	}
	return drop_member(plugin, who, ch, user, err);
}
