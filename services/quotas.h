/*
 * quotas.h - what one account may do to the membership of others, and how fast.
 *
 * Without these an ordinary account could create a channel naming 1000 members 50 times a second:
 * 579,000 memberships in 10 s, and a real user put into 579 channels without being asked (issue 12).
 * Three quotas, each refused with quota_exceeded (and retry_after_ms when waiting helps):
 * - channels created per user: a token bucket of plugin_opt_create_burst, refilled at
 *   plugin_opt_create_rate per hour;
 * - members added by a user (the members of a create other than the creator, invites, the peer of a new
 *   dm): a token bucket of plugin_opt_member_burst, refilled at plugin_opt_member_rate per minute. A
 *   request takes all its tokens or none;
 * - channels one user may be in: plugin_opt_max_memberships. No create, join, invite or dm puts
 *   anyone beyond it, whoever asks.
 * A quota is checked before anything is stored, and its tokens are taken only by a request that passed
 * every other check: a request refused for another reason costs nothing (except the probe of a taken
 * name by create: see membership.c).
 */
#ifndef CHAT_QUOTAS_H
#define CHAT_QUOTAS_H

#include <stdint.h>

#include "chat.h"
#include "errors.h"

/* CHAT_ERR_OK if user may become a member of one more channel, else CHAT_ERR_QUOTA_EXCEEDED ("bo is
 * already in 1000 channels, the most one user may be in"). */
enum chat_err chat_quotas__may_join(const struct chat_plugin *plugin, const char *user,
				    struct chat_error *err);

/* Takes `channels` tokens from who's creation bucket and `members` from its members bucket, all or
 * none. CHAT_ERR_QUOTA_EXCEEDED, with retry_after_ms when waiting helps, if either bucket is short. */
enum chat_err chat_quotas__admit(struct chat_plugin *plugin, const char *who, int64_t channels,
				 int64_t members, struct chat_error *err);

#endif
