/*
 * membership.h - channels and who belongs to them.
 *
 * Every change of membership is an event in the channel's log (join, leave), committed in the same
 * transaction as the change itself, and applied to the in-memory index only once committed. Rules:
 * - anyone may create a channel and becomes its owner; anyone may join a public channel;
 * - a member of a public channel, or the owner of a private one, may invite;
 * - only an owner may remove someone; when the last owner leaves, the longest-standing member becomes
 *   owner;
 * - a direct channel (dm) has exactly its two users: nobody joins, leaves, is invited or removed;
 * - only users (users.h) can be named: create's members, invite and dm refuse any other name with
 *   no_such_user, and a create with one such name creates nothing;
 * - the quotas of quotas.h bound what one account may create and add, and how many channels anyone
 *   may be in (quota_exceeded).
 */
#ifndef CHAT_MEMBERSHIP_H
#define CHAT_MEMBERSHIP_H

#include <stdbool.h>
#include <stddef.h>

#include "chat.h"
#include "errors.h"
#include "users.h" /* CHAT_USER_MAX */

/* Creates channel name, owned by who, with members (who need not be listed; duplicates are ignored).
 * CHAT_ERR_CONFLICT if the name is taken (the same answer whatever holds it), CHAT_ERR_NO_SUCH_USER if a
 * member is not a user, CHAT_ERR_QUOTA_EXCEEDED over a quota; then nothing is created. *out is the new
 * channel. */
enum chat_err chat_membership__create(struct chat_plugin *plugin, const struct chat_requester *who,
				      const char *name, enum chat_visibility visibility, const char *title,
				      const char *const *members, size_t member_count,
				      struct chat_channel **out, struct chat_error *err);

/* Makes who a member of the public channel ch. *joined is false when who already was one. */
enum chat_err chat_membership__join(struct chat_plugin *plugin, const struct chat_requester *who,
				    struct chat_channel *ch, bool *joined, struct chat_error *err);

/* Takes who out of ch. */
enum chat_err chat_membership__leave(struct chat_plugin *plugin, const struct chat_requester *who,
				     struct chat_channel *ch, struct chat_error *err);

/* who adds user to ch. *added is false when user already was a member. CHAT_ERR_NO_SUCH_USER if user
 * is not a user. */
enum chat_err chat_membership__invite(struct chat_plugin *plugin, const struct chat_requester *who,
				      struct chat_channel *ch, const char *user, bool *added,
				      struct chat_error *err);

/* who, an owner of ch, takes user out of it. From then on user receives nothing of ch. */
enum chat_err chat_membership__remove(struct chat_plugin *plugin, const struct chat_requester *who,
				      struct chat_channel *ch, const char *user, struct chat_error *err);

/* The direct channel of who and user, created when they have none. *created tells which.
 * CHAT_ERR_NO_SUCH_USER if user is not a user. */
enum chat_err chat_membership__dm(struct chat_plugin *plugin, const struct chat_requester *who,
				  const char *user, struct chat_channel **out, bool *created,
				  struct chat_error *err);

/* An administrator (who, admin.c) adds user to ch: as invite, but who need not be a member and only
 * user's own quota (memberships) applies; the join event names who as its cause. *added is false
 * when user already was a member. CHAT_ERR_FORBIDDEN for a direct channel, CHAT_ERR_NO_SUCH_USER if
 * user is not a user. */
enum chat_err chat_membership__admin_add(struct chat_plugin *plugin, const struct chat_requester *who,
					 struct chat_channel *ch, const char *user, bool *added,
					 struct chat_error *err);

/* An administrator (who) takes user out of ch: as remove, but who need not be an owner. The last
 * owner's leaving hands ownership on as a leave does. CHAT_ERR_NOT_MEMBER if user is not a member,
 * CHAT_ERR_FORBIDDEN for a direct channel. */
enum chat_err chat_membership__admin_remove(struct chat_plugin *plugin, const struct chat_requester *who,
					    struct chat_channel *ch, const char *user,
					    struct chat_error *err);

/* The other user of the direct channel ch as seen by user, or NULL. */
const char *chat_membership__dm_peer(const struct chat_channel *ch, const char *user);

#endif
