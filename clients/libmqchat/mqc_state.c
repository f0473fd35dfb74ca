/*
 * mqc_state.c - what the client keeps on disk.
 *
 * The state file (<state_path>) is small text, rewritten whole (to a temporary file, then renamed, so
 * a reader finds the old or the new one, never half of one):
 *
 *     mqchat-client-state 1
 *     channel <id> <epoch or -> <cursor>
 *     outbox <client_msg_id> <channel> <payload: one line of JSON>
 *
 * The events file (<state_path>.events) is append-only, one applied event a line:
 * "<epoch> <event JSON>". An event is appended (and flushed) before the cursor that covers it is saved,
 * so after a crash the file may hold events above the saved cursor, or an event twice (fetched again
 * by catch-up): reading keeps, per channel, only the current epoch's seqs 1, 2, ... cursor, each the
 * first time it appears. Lines of an older epoch are the history of a log that no longer exists, and
 * are skipped. The file is never compacted (docs/client-library.md).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mqc_internal.h"

#define STATE_MAGIC "mqchat-client-state 1"


static int load_line(struct mqc *c, char *line)
{
	char *save = NULL, *word = strtok_r(line, " ", &save);

	if(word == NULL) {
		return 0;
	}
	if(strcmp(word, "channel") == 0) {
		char *name = strtok_r(NULL, " ", &save), *epoch = strtok_r(NULL, " ", &save);
		char *cursor = strtok_r(NULL, " ", &save), *end = NULL;
		struct mqc_channel *ch;
		long long v;

		if(name == NULL || epoch == NULL || cursor == NULL || strlen(epoch) > MQC_EPOCH_MAX) {
			return -1;
		}
		v = strtoll(cursor, &end, 10);
		if(*end != '\0' || v < 0 || (ch = mqc__channel(c, name, true)) == NULL) {
			return -1;
		}
		snprintf(ch->epoch, sizeof(ch->epoch), "%s", strcmp(epoch, "-") == 0 ? "" : epoch);
		ch->cursor = v;
		return 0;
	}
	if(strcmp(word, "outbox") == 0) {
		char *cmid = strtok_r(NULL, " ", &save), *ch = strtok_r(NULL, " ", &save);
		char *payload = strtok_r(NULL, "", &save);

		if(cmid == NULL || ch == NULL || payload == NULL || strlen(cmid) > MQC_CMID_MAX
		   || !mqc__valid_channel(ch)) {
			return -1;
		}
		return mqc__outbox_add(c, cmid, ch, payload);
	}
	return -1;
}


int mqc__state_load(struct mqc *c)
{
	FILE *f = fopen(c->state_path, "r");
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int rc = 0, lineno = 0;

	if(f == NULL) {
		return errno == ENOENT ? 0 : -1; /* no file yet: a new device */
	}
	while(rc == 0 && (n = getline(&line, &cap, f)) >= 0) {
		if(n > 0 && line[n - 1] == '\n') {
			line[n - 1] = '\0';
		}
		if(lineno++ == 0) {
			rc = strcmp(line, STATE_MAGIC) == 0 ? 0 : -1;
		} else {
			rc = load_line(c, line);
		}
	}
	free(line);
	fclose(f);
	if(rc != 0) {
		errno = EINVAL;
	}
	return rc;
}


int mqc__state_save(struct mqc *c, bool sync)
{
	size_t len = strlen(c->state_path) + 5;
	char *tmp = malloc(len);
	FILE *f;
	int ok;

	if(tmp == NULL || (c->events != NULL && fflush(c->events) != 0)) {
		free(tmp); /* the events are not all written: no cursor may cover them yet */
		return -1;
	}
	snprintf(tmp, len, "%s.tmp", c->state_path);
	f = fopen(tmp, "w");
	if(f == NULL) {
		free(tmp);
		return -1;
	}
	ok = fprintf(f, "%s\n", STATE_MAGIC) > 0;
	for(struct mqc_channel *ch = c->channels; ok && ch; ch = ch->next) {
		ok = fprintf(f, "channel %s %s %lld\n", ch->name, ch->epoch[0] ? ch->epoch : "-",
			     (long long)ch->cursor)
		     > 0;
	}
	for(struct mqc_outmsg *m = c->outbox; ok && m; m = m->next) {
		ok = fprintf(f, "outbox %s %s %s\n", m->cmid, m->ch, m->payload) > 0;
	}
	ok = ok && fflush(f) == 0 && (!sync || fsync(fileno(f)) == 0);
	ok = (fclose(f) == 0) && ok;
	ok = ok && rename(tmp, c->state_path) == 0;
	if(!ok) {
		unlink(tmp);
	}
	free(tmp);
	c->state_dirty = !ok;
	return ok ? 0 : -1;
}


int mqc__events_append(struct mqc *c, const struct mqc_channel *ch, const char *json)
{
	if(c->events == NULL) {
		c->events = fopen(c->events_path, "a");
		if(c->events == NULL) {
			return -1;
		}
	}
	/* buffered: mqc__state_save() flushes it before it writes a cursor that covers this event */
	return fprintf(c->events, "%s %s\n", ch->epoch, json) < 0 ? -1 : 0;
}


long mqc__events_iterate(struct mqc *c, const struct mqc_channel *ch, bool (*fn)(void *, const cJSON *),
			 void *arg)
{
	FILE *f;
	size_t elen = strlen(ch->epoch), cap = 0;
	char *line = NULL;
	int64_t want = 1;
	long visited = 0;
	ssize_t n;

	if(c->events != NULL && fflush(c->events) != 0) {
		return -1;
	}
	if((f = fopen(c->events_path, "r")) == NULL) {
		return errno == ENOENT ? 0 : -1;
	}
	while(want <= ch->cursor && (n = getline(&line, &cap, f)) >= 0) {
		cJSON *ev, *chan, *seq;
		bool go_on = true;

		if((size_t)n <= elen + 1 || strncmp(line, ch->epoch, elen) != 0 || line[elen] != ' ') {
			continue;
		}
		ev = cJSON_Parse(line + elen + 1);
		chan = cJSON_GetObjectItemCaseSensitive(ev, "channel");
		seq = cJSON_GetObjectItemCaseSensitive(ev, "seq");
		/* seqs rise by one, except across a history that retention cut (the cursor jumped to
		 * the catch-up's first); a seq below want is a copy written again after a crash */
		if(cJSON_IsString(chan) && strcmp(chan->valuestring, ch->name) == 0 && cJSON_IsNumber(seq)
		   && (int64_t)seq->valuedouble >= want) {
			want = (int64_t)seq->valuedouble + 1;
			visited++;
			go_on = fn(arg, ev);
		}
		cJSON_Delete(ev);
		if(!go_on) {
			break;
		}
	}
	free(line);
	fclose(f);
	return visited;
}
