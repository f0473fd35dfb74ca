/*
 * quotas.c - per-user quotas on channels and memberships (see quotas.h).
 *
 * The buckets are ratelimit.c's, with a period of an hour (creations) or a minute (members); a user's
 * memberships are counted from the index, where each user's channels are a hash (a constant-time count).
 */
#include "clock.h"
#include "quotas.h"
#include "ratelimit.h"


enum chat_err chat_quotas__may_join(const struct chat_plugin *plugin, const char *user,
				    struct chat_error *err)
{
	const struct chat_user *u = chat_index__user(&plugin->index, user);
	int64_t max = plugin->config.max_memberships;
	int64_t count = u != NULL ? (int64_t)HASH_COUNT(u->channels) : 0;

	if(max > 0 && count >= max) {
		return chat_error__set(err, CHAT_ERR_QUOTA_EXCEEDED,
				       "%s is already in %lld channels, the most one user may be in", user,
				       (long long)count);
	}
	return CHAT_ERR_OK;
}


/* The refusal for n tokens of rl ("ada may <verb> 50 <what> at once and 60 more per hour"), with when
 * they will be there, or that they never will. */
static enum chat_err short_of(const struct chat_ratelimit *rl, const char *who, const char *verb,
			      const char *what, int64_t n, int64_t burst, const char *period, int64_t rate,
			      int64_t now, struct chat_error *err)
{
	int64_t wait = chat_ratelimit__wait_n_ms(rl, who, (double)n, now);

	if(wait < 0) {
		return chat_error__set(err, CHAT_ERR_QUOTA_EXCEEDED, "one request may %s at most %lld %s",
				       verb, (long long)burst, what);
	}
	chat_error__set(err, CHAT_ERR_QUOTA_EXCEEDED,
			"%s may %s %lld %s at once and %lld more per %s: retry later", who, verb,
			(long long)burst, what, (long long)rate, period);
	err->retry_after_ms = wait;
	return CHAT_ERR_QUOTA_EXCEEDED;
}


enum chat_err chat_quotas__admit(struct chat_plugin *plugin, const char *who, int64_t channels,
				 int64_t members, struct chat_error *err)
{
	const struct chat_config *cfg = &plugin->config;
	int64_t now = chat_clock__mono_ms();

	/* Both are looked at before either is taken, so a refusal costs nothing. */
	if(chat_ratelimit__wait_n_ms(plugin->create_limits, who, (double)channels, now) != 0) {
		return short_of(plugin->create_limits, who, "create", "channels", channels, cfg->create_burst,
				"hour", cfg->create_rate, now, err);
	}
	if(chat_ratelimit__wait_n_ms(plugin->member_limits, who, (double)members, now) != 0) {
		return short_of(plugin->member_limits, who, "add", "members", members, cfg->member_burst,
				"minute", cfg->member_rate, now, err);
	}
	chat_ratelimit__take(plugin->create_limits, who, (double)channels, now);
	chat_ratelimit__take(plugin->member_limits, who, (double)members, now);
	return CHAT_ERR_OK;
}
