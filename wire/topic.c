/*
 * topic.c - classifies topics and filters under chat/.
 *
 * Topics served (see docs/protocol.md):
 *   chat/<ch>  chat/<ch>/{typing,presence,read,delivered,sync}  chat/_api  chat/_reply/<clientid>
 *   chat/_media/<media>/<offset>
 * and the bare topic `chat`, which serves nothing but is mqchat's (chat/# matches it).
 * Channel ids starting with '_' are reserved for the plugin's own topics. In a filter, a wildcard in
 * the channel level makes it WIDE (its deliveries are checked one by one); a wildcard below a named
 * channel keeps it scoped to that channel.
 */
#include <string.h>

#include "topic.h"

struct suffix {
	const char *name;
	enum chat_topic_kind kind;
};

static const struct suffix channel_suffixes[] = {
	{"", CHAT_TOPIC_MESSAGES},
	{"/typing", CHAT_TOPIC_TYPING},
	{"/presence", CHAT_TOPIC_PRESENCE},
	{"/read", CHAT_TOPIC_READ},
	{"/delivered", CHAT_TOPIC_DELIVERED},
	{"/sync", CHAT_TOPIC_SYNC},
	{"/+", CHAT_TOPIC_CHANNEL_ANY},
	{"/#", CHAT_TOPIC_CHANNEL_ANY},
};


bool chat_channel_id__valid(const char *s, size_t len)
{
	if(len == 0 || len > CHAT_CHANNEL_ID_MAX || s[0] == '_') {
		return false;
	}
	for(size_t i = 0; i < len; i++) {
		char c = s[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
			  || c == '.' || c == '_' || c == '-';
		if(!ok) {
			return false;
		}
	}
	return true;
}


const char *chat_topic__strip_share(const char *filter)
{
	const char *group, *slash;

	if(strncmp(filter, "$share/", 7) != 0) {
		return filter;
	}
	group = filter + 7;
	slash = strchr(group, '/');
	if(slash == NULL || slash == group) {
		return filter;
	}
	return slash + 1;
}


/* <media>/<offset>: m- and 32 lower-case hex digits, then 1-15 decimal digits without a leading zero
 * (but "0"). Anything else leaves the topic CHAT_TOPIC_INVALID. */
static void parse_media(const char *s, struct chat_topic *out)
{
	const char *off = s + 35;
	size_t digits;

	if(strncmp(s, "m-", 2) != 0 || strlen(s) < 36 || s[34] != '/') {
		return;
	}
	for(size_t i = 2; i < 34; i++) {
		if(!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) {
			return;
		}
	}
	digits = strspn(off, "0123456789");
	if(digits == 0 || digits > 15 || off[digits] != '\0' || (off[0] == '0' && digits > 1)) {
		return;
	}
	out->kind = CHAT_TOPIC_MEDIA;
	memcpy(out->media, s, 34);
	out->media[34] = '\0';
	out->offset = off;
}


static void parse_reserved(const char *id, struct chat_topic *out)
{
	if(strcmp(id, "_api") == 0) {
		out->kind = CHAT_TOPIC_API;
	} else if(strncmp(id, "_reply/", 7) == 0 && id[7] != '\0') {
		out->kind = CHAT_TOPIC_REPLY;
		out->client_id = id + 7;
	} else if(strncmp(id, "_media/", 7) == 0) {
		parse_media(id + 7, out);
	}
}


void chat_topic__parse(const char *topic, struct chat_topic *out)
{
	const char *id, *end;
	size_t len;

	memset(out, 0, sizeof(*out));
	if(strcmp(topic, "chat") == 0) {
		/* The bare parent is mqchat's too: "chat/#" matches it, so a publish there would reach
		 * every subscriber of chat/# without passing the plugin. */
		out->kind = CHAT_TOPIC_INVALID;
		return;
	}
	if(strncmp(topic, CHAT_TOPIC_PREFIX, CHAT_TOPIC_PREFIX_LEN) != 0) {
		out->kind = CHAT_TOPIC_OTHER;
		return;
	}
	out->kind = CHAT_TOPIC_INVALID;
	id = topic + CHAT_TOPIC_PREFIX_LEN;
	if(id[0] == '#' || (id[0] == '+' && (id[1] == '\0' || id[1] == '/'))) {
		out->kind = CHAT_TOPIC_WIDE;
		return;
	}
	if(id[0] == '_') {
		parse_reserved(id, out);
		return;
	}
	end = strchr(id, '/');
	len = end ? (size_t)(end - id) : strlen(id);
	if(!chat_channel_id__valid(id, len)) {
		return;
	}
	for(size_t i = 0; i < sizeof(channel_suffixes) / sizeof(channel_suffixes[0]); i++) {
		if(strcmp(id + len, channel_suffixes[i].name) == 0) {
			out->kind = channel_suffixes[i].kind;
			out->channel = id;
			out->channel_len = len;
			return;
		}
	}
}


/* The escape of c in a reply topic, or NULL when c stands for itself. */
static const char *reply_escape(char c)
{
	switch(c) {
	case '+':
		return "%2B";
	case '#':
		return "%23";
	case '%':
		return "%25";
	default:
		return NULL;
	}
}


size_t chat_topic__reply_topic(const char *client_id, char *out, size_t out_size)
{
	size_t len = 0;

	for(const char *p = CHAT_REPLY_PREFIX; *p != '\0'; p++, len++) {
		if(len + 1 < out_size) {
			out[len] = *p;
		}
	}
	for(const char *c = client_id; *c != '\0'; c++) {
		const char *esc = reply_escape(*c);
		const char one[2] = {*c, '\0'};
		for(const char *p = esc ? esc : one; *p != '\0'; p++, len++) {
			if(len + 1 < out_size) {
				out[len] = *p;
			}
		}
	}
	if(out_size > 0) {
		out[len < out_size ? len : out_size - 1] = '\0';
	}
	return len;
}


bool chat_topic__reply_of(const char *escaped, const char *client_id)
{
	for(const char *c = client_id; *c != '\0'; c++) {
		const char *esc = reply_escape(*c);
		if(esc == NULL) {
			if(*escaped++ != *c) {
				return false;
			}
		} else if(strncmp(escaped, esc, 3) == 0) {
			escaped += 3;
		} else {
			return false;
		}
	}
	return *escaped == '\0';
}
