/*
 * mentions.c - finds the mentions of a body (the rule is in mentions.h).
 *
 * Cost: one strchr over the body for '@', then, per candidate, a copy of at most
 * CHAT_MENTION_NAME_MAX bytes and one member lookup per trimmed length. A body without '@' and a send
 * without a list cost the strchr and nothing else.
 */
#include <stdlib.h>
#include <string.h>

#include "mentions.h"
#include "send_request.h" /* CHAT_MENTION_NAME_MAX */

/* Names collected so far, before sorting. */
struct found {
	char **names;
	size_t count, cap;
};


static bool name_byte(unsigned char c)
{
	return c >= 0x80 || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
	       || c == '.' || c == '_' || c == '-';
}


static bool trimmable(char c)
{
	return c == '.' || c == '_' || c == '-';
}


static int add(struct found *f, const char *name)
{
	if(f->count == f->cap) {
		size_t cap = f->cap ? f->cap * 2 : 4;
		char **names = realloc(f->names, cap * sizeof(*names));
		if(names == NULL) {
			return -1;
		}
		f->names = names;
		f->cap = cap;
	}
	f->names[f->count] = strdup(name);
	if(f->names[f->count] == NULL) {
		return -1;
	}
	f->count++;
	return 0;
}


/* The candidate run[0..len) of an "@run": everyone, a member (trimmed as mentions.h says), or nobody. */
static int match_run(const char *run, size_t len, chat_mentions_member_fn is_member, void *ctx,
		     struct found *f, bool *all)
{
	char name[CHAT_MENTION_NAME_MAX + 1];

	if(len > CHAT_MENTION_NAME_MAX) {
		return 0; /* no member has a name that long */
	}
	memcpy(name, run, len);
	for(;;) {
		name[len] = '\0';
		if(strcmp(name, "channel") == 0 || strcmp(name, "here") == 0) {
			*all = true;
			return 0;
		}
		if(len > 0 && is_member(name, ctx)) {
			return add(f, name);
		}
		if(len == 0 || !trimmable(name[len - 1])) {
			return 0;
		}
		len--;
	}
}


static int scan_body(const char *body, chat_mentions_member_fn is_member, void *ctx, struct found *f,
		     bool *all)
{
	const char *at = body;

	while((at = strchr(at, '@')) != NULL) {
		const char *end = at + 1;
		if(at > body && name_byte((unsigned char)at[-1])) {
			at++; /* inside a word: an address, not a mention */
			continue;
		}
		while(name_byte((unsigned char)*end)) {
			end++;
		}
		if(match_run(at + 1, (size_t)(end - at - 1), is_member, ctx, f, all) != 0) {
			return -1;
		}
		at = end;
	}
	return 0;
}


static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}


int chat_mentions__compute(const char *body, const char *const *listed, size_t listed_count,
			   chat_mentions_member_fn is_member, void *ctx, struct chat_mentions *out)
{
	struct found f = {0};
	size_t kept = 0;

	memset(out, 0, sizeof(*out));
	if(body != NULL && scan_body(body, is_member, ctx, &f, &out->all) != 0) {
		goto oom;
	}
	for(size_t i = 0; i < listed_count; i++) {
		if(is_member(listed[i], ctx) && add(&f, listed[i]) != 0) {
			goto oom;
		}
	}
	if(f.count == 0) {
		free(f.names);
		return 0;
	}
	qsort(f.names, f.count, sizeof(*f.names), by_name);
	for(size_t i = 0; i < f.count; i++) {
		if(kept > 0 && strcmp(f.names[kept - 1], f.names[i]) == 0) {
			free(f.names[i]);
		} else {
			f.names[kept++] = f.names[i];
		}
	}
	out->names = f.names;
	out->count = kept;
	return 0;
oom:
	for(size_t i = 0; i < f.count; i++) {
		free(f.names[i]);
	}
	free(f.names);
	memset(out, 0, sizeof(*out));
	return -1;
}


void chat_mentions__clear(struct chat_mentions *m)
{
	for(size_t i = 0; i < m->count; i++) {
		free(m->names[i]);
	}
	free(m->names);
	memset(m, 0, sizeof(*m));
}
