/*
 * search.c - the `search` op: who may read what, the request's fields, the reply's shape, and the
 * hand-off to the search worker (search_worker.h), which runs the query off the broker's thread.
 *
 * Access is decided here, on the broker's thread, from the in-memory index, at the moment of the
 * request: the channels the asker is a member of now (a private channel left or removed from is not
 * among them, whatever it held while the asker was in it). The job carries that set (rowids and
 * names, copied); the worker filters inside the query and never sees a channel the asker may not
 * read. The user's text goes through the translator (wire/search_query.c), never to FTS5 as it is.
 *
 * Read-your-writes: the job is stamped with the broker's group-commit count (plus one when sends are
 * still uncommitted: their commit comes at the end of this loop iteration), and the worker runs it
 * once the index holds every commit up to the stamp, or after SEARCH_WAIT_MS on what it holds then.
 * The answer comes back through the worker's done list, which chat_search__tick drains and sends to
 * the reply address copied into the job (with the request's ref, as any answer).
 *
 * Paging: hits come newest first by their place in the index (a doc number that orders by the
 * message's ts and that an edit keeps). The cursor names the last doc of a page; the next page is the
 * docs below it, so every match is returned once while new messages arrive. One hit more than asked
 * is read to know whether another page exists. A page also stops before the hit that would take it
 * past plugin_opt_catchup_page_bytes (it always holds at least one), so that a page of long messages
 * is never one huge MQTT message; the next page begins with the hit left out.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "broker.h"
#include "clock.h"
#include "json_fields.h"
#include "reply.h"
#include "search.h"
#include "search_query.h"
#include "search_store.h"
#include "search_worker.h"
#include "users.h"

#define CURSOR_PREFIX   "v1:"
#define SEARCH_BATCH_MS 10    /* a commit waits this long for others before it is indexed */
#define SEARCH_WAIT_MS  2000  /* a search waits at most this long for the index to catch up */
#define SEARCH_TIDY_MS  10000 /* erased channels' and pruned messages' documents are dropped this often */
#define SEARCH_QUEUE    64    /* searches in the worker at once, at most: more are refused */
#define RESTART_MS      5000  /* after the worker could not start */
#define SEARCH_TOUCHED  1024  /* channels of one commit named to the worker; more: it looks at all */

struct chat_search {
	struct chat_search_worker *worker; /* started at the first tick (it catches up at once) */
	int64_t next_start_ms;
	/* the channels of the batch the tick is about to commit (chat_search__before_commit) */
	int64_t touched[SEARCH_TOUCHED];
	size_t touched_n;
	unsigned long commits_before;
};

/* A channel the asker may read: its rowid, to name hits by channel id (name owned by the job). */
struct readable {
	int64_t rowid;
	char *name;
};

struct page {
	const struct readable *channels; /* sorted by rowid */
	size_t count;
	cJSON *results;
	int64_t limit; /* hits to return; one more is read */
	int64_t seen;  /* hits read */
	size_t budget; /* bytes the results may still take */
	int64_t last;  /* doc of the last hit returned */
	bool more;     /* a hit beyond limit (or beyond the budget) exists */
	bool failed;   /* out of memory */
};

/* A search on its way through the worker: the query, the asker's channels, where the answer goes,
 * and the answer. Everything in it is owned by it (job_free). */
struct job {
	struct chat_search_job base; /* first: the worker hands back &base */
	struct chat_search_params p; /* its strings point into the fields below */
	char *match, *channels_json, *author;
	struct readable *channels;
	size_t count;
	size_t budget;
	char *channel;             /* the request's "channel", for the error's context */
	struct chat_reply_kept to; /* the reply address */
	/* the answer */
	char *json; /* the reply object, printed; NULL: err says why */
	struct chat_error err;
};


static void job_free(struct job *job)
{
	if(job == NULL) {
		return;
	}
	for(size_t i = 0; i < job->count; i++) {
		free(job->channels[i].name);
	}
	free(job->channels);
	free(job->match);
	free(job->channels_json);
	free(job->author);
	free(job->channel);
	chat_reply_kept__release(&job->to);
	free(job->json);
	free(job);
}


static void base_free(struct chat_search_job *base)
{
	job_free((struct job *)base);
}


static int by_rowid(const void *a, const void *b)
{
	const struct readable *x = a, *y = b;
	return x->rowid < y->rowid ? -1 : x->rowid > y->rowid;
}


/* The asker's channels now (all of them, or only `only`, already checked), sorted by rowid, in
 * *out (malloc'd, caller frees), and as a JSON array of rowids in *json (malloc'd, caller frees). *//* The asker's channels now (all of them, or only `only`, already checked), sorted by rowid, names
 * copied, into job->channels, and as a JSON array of rowids into job->channels_json. */
static enum chat_err readable_channels(struct chat_plugin *plugin, const char *user,
				       const struct chat_channel *only, struct job *job,
				       struct chat_error *err)
{
	const struct chat_user *u = chat_index__user(&plugin->index, user);
	size_t n = only ? 1 : (u ? HASH_COUNT(u->channels) : 0), len = 0;
	struct chat_membership *m, *tmp;
	char *text;

	job->channels = calloc(n + 1, sizeof(*job->channels));
	job->channels_json = text = malloc(2 + n * 21 + 1); /* "[" + up to 20 digits and a comma each + "]" */
	if(job->channels == NULL || text == NULL) {
		return chat_error__set(err, CHAT_ERR_UNAVAILABLE, "out of memory");
	}
	if(only != NULL) {
		job->channels[job->count++] = (struct readable){only->rowid, strdup(only->name)};
	} else if(u != NULL) {
		HASH_ITER(hh, u->channels, m, tmp) {
			job->channels[job->count++] =
				(struct readable){m->channel->rowid, strdup(m->channel->name)};
		}
	}
	for(size_t i = 0; i < job->count; i++) {
		if(job->channels[i].name == NULL) {
			return chat_error__set(err, CHAT_ERR_UNAVAILABLE, "out of memory");
		}
	}
	qsort(job->channels, job->count, sizeof(*job->channels), by_rowid);
	text[len++] = '[';
	for(size_t i = 0; i < job->count; i++) {
		len += (size_t)sprintf(text + len, "%s%" PRId64, i ? "," : "", job->channels[i].rowid);
	}
	text[len++] = ']';
	text[len] = '\0';
	return CHAT_ERR_OK;
}


static bool add_hit(const struct chat_search_hit *hit, void *ctx)
{
	struct page *pg = ctx;
	struct readable key = {.rowid = hit->channel};
	const struct readable *ch;
	cJSON *entry;

	/* the result's size in the reply, near enough: its strings, escaping aside, and the field names */
	size_t bytes = strlen(hit->id) + strlen(hit->author) + strlen(hit->body) + strlen(hit->snippet) + 160;

	if(++pg->seen > pg->limit || (pg->seen > 1 && bytes > pg->budget)) {
		pg->more = true;
		return false;
	}
	pg->budget = bytes > pg->budget ? 0 : pg->budget - bytes;
	ch = bsearch(&key, pg->channels, pg->count, sizeof(key), by_rowid);
	entry = cJSON_CreateObject();
	if(entry == NULL || !cJSON_AddItemToArray(pg->results, entry)) {
		cJSON_Delete(entry); /* not in the array, so still ours */
		pg->failed = true;
		return false;
	}
	/* from here the entry belongs to the results array, which the reply owns */
	if(cJSON_AddStringToObject(entry, "channel", ch ? ch->name : "") == NULL
	   || cJSON_AddNumberToObject(entry, "seq", (double)hit->seq) == NULL
	   || cJSON_AddStringToObject(entry, "id", hit->id) == NULL
	   || cJSON_AddStringToObject(entry, "from", hit->author) == NULL
	   || cJSON_AddNumberToObject(entry, "ts", (double)hit->ts) == NULL
	   || cJSON_AddStringToObject(entry, "body", hit->body) == NULL
	   || cJSON_AddStringToObject(entry, "snippet", hit->snippet) == NULL) {
		pg->failed = true;
		return false;
	}
	pg->last = hit->doc;
	return true;
}


/* The cursor a previous page gave: "v1:<doc>", doc >= 1. Absent or null: the first page. */
static enum chat_err read_cursor(const cJSON *request, int64_t *before_doc, struct chat_error *err)
{
	const char *text = NULL;
	char *end = NULL;
	long long doc;

	*before_doc = INT64_MAX;
	if(chat_json__string(request, "cursor", false, 1, 32, &text, err) != CHAT_ERR_OK) {
		return err->code;
	}
	if(text == NULL) {
		return CHAT_ERR_OK;
	}
	if(strncmp(text, CURSOR_PREFIX, strlen(CURSOR_PREFIX)) == 0) {
		const char *digits = text + strlen(CURSOR_PREFIX);
		if(*digits >= '1' && *digits <= '9') {
			doc = strtoll(digits, &end, 10);
			if(*end == '\0' && doc > 0 && doc < INT64_MAX) {
				*before_doc = doc;
				return CHAT_ERR_OK;
			}
		}
	}
	return chat_error__set(err, CHAT_ERR_BAD_REQUEST, "cursor must be one a search reply gave");
}

static enum chat_err read_filters(struct chat_plugin *plugin, const char *user, const cJSON *request,
				  struct chat_search_params *p, struct chat_channel **only,
				  const char **channel, struct chat_error *err)
{
	const char *name = NULL;

	p->after_ts = INT64_MIN;
	p->before_ts = INT64_MAX;
	p->limit = CHAT_SEARCH_LIMIT_DEFAULT;
	*only = NULL;
	if(chat_json__string(request, "channel", false, 1, CHAT_CHANNEL_ID_MAX, &name, err) != CHAT_ERR_OK
	   || chat_json__string(request, "from", false, 1, CHAT_USER_MAX, &p->author, err) != CHAT_ERR_OK
	   || chat_json__int(request, "after_ts", false, 0, CHAT_JSON_INT_MAX, &p->after_ts, err)
		      != CHAT_ERR_OK
	   || chat_json__int(request, "before_ts", false, 0, CHAT_JSON_INT_MAX, &p->before_ts, err)
		      != CHAT_ERR_OK
	   || chat_json__int(request, "limit", false, 1, CHAT_SEARCH_LIMIT_MAX, &p->limit, err) != CHAT_ERR_OK
	   || read_cursor(request, &p->before_doc, err) != CHAT_ERR_OK) {
		return err->code;
	}
	if(name != NULL) {
		*channel = name;
		/* a private channel the asker is not in does not exist for it; a public one is not_member */
		return chat_index__lookup_member(&plugin->index, name, strlen(name), user, only, NULL, err);
	}
	return CHAT_ERR_OK;
}

/* ---- on the worker's thread ------------------------------------------------------------------------- */

/* Runs the job's query and prints its reply into job->json (or sets job->err). db NULL: the index
 * could not be opened. */
static void run_job(struct chat_search_db *db, struct chat_search_job *base)
{
	struct job *job = (struct job *)base;
	struct page pg = {.channels = job->channels,
			  .count = job->count,
			  .limit = job->p.limit,
			  .budget = job->budget};
	cJSON *reply = cJSON_CreateObject();
	enum chat_err rc = CHAT_ERR_OK;

	if(db == NULL) {
		cJSON_Delete(reply);
		chat_error__set(&job->err, CHAT_ERR_UNAVAILABLE, "the search index cannot be opened");
		return;
	}
	if(reply == NULL || cJSON_AddTrueToObject(reply, "ok") == NULL
	   || cJSON_AddStringToObject(reply, "kind", "api") == NULL
	   || cJSON_AddStringToObject(reply, "op", "search") == NULL
	   || (pg.results = cJSON_AddArrayToObject(reply, "results")) == NULL
	   /* the index did not hold every ack before the search in time: the newest may be missing */
	   || (base->behind && cJSON_AddTrueToObject(reply, "stale") == NULL)) {
		rc = chat_error__set(&job->err, CHAT_ERR_UNAVAILABLE, "out of memory");
	}
	if(rc == CHAT_ERR_OK && pg.count > 0) {
		job->p.limit = pg.limit + 1;
		rc = chat_search_db__search(db, &job->p, add_hit, &pg, &job->err);
		if(rc == CHAT_ERR_OK && pg.failed) {
			rc = chat_error__set(&job->err, CHAT_ERR_UNAVAILABLE, "out of memory");
		}
	}
	if(rc == CHAT_ERR_OK) {
		char cursor[sizeof(CURSOR_PREFIX) + 21];
		snprintf(cursor, sizeof(cursor), CURSOR_PREFIX "%" PRId64, pg.last);
		if((pg.more ? cJSON_AddStringToObject(reply, "cursor", cursor)
			    : cJSON_AddNullToObject(reply, "cursor"))
			   == NULL
		   || (job->json = cJSON_PrintUnformatted(reply)) == NULL) {
			chat_error__set(&job->err, CHAT_ERR_UNAVAILABLE, "out of memory");
		}
	}
	cJSON_Delete(reply);
}


/* ---- on the broker's thread ------------------------------------------------------------------------- */

/* Copies the reply address rt into the job (it outlives the request's callback). */
static enum chat_err keep_reply_to(struct job *job, const struct chat_reply_to *rt, struct chat_error *err)
{
	return chat_reply_kept__copy(&job->to, rt) == 0
		       ? CHAT_ERR_OK
		       : chat_error__set(err, CHAT_ERR_UNAVAILABLE, "out of memory");
}


static void answer(struct chat_plugin *plugin, struct job *job)
{
	struct chat_edge_route route;
	struct chat_reply_to rt = chat_reply_kept__view(&job->to, &route, &plugin->sessions);

	if(job->json != NULL) {
		chat_reply__send(&rt, job->json, strlen(job->json));
	} else {
		struct chat_error_context ctx = {.op = "search", .channel = job->channel};
		chat_reply__error(&rt, &job->err, &ctx);
	}
}


/* The group commits so far, counting the open batch's, which this loop iteration's tick commits. */
static int64_t commits(const struct chat_plugin *plugin)
{
	return (int64_t)plugin->batch->commits + (plugin->batch->open ? 1 : 0);
}


static void start_worker(struct chat_plugin *plugin, struct chat_search *s, void (*wake)(void))
{
	struct chat_search_worker_options opts = {
		.database = plugin->config.database,
		.batch_ms = SEARCH_BATCH_MS,
		.wait_ms = SEARCH_WAIT_MS,
		.tidy_ms = SEARCH_TIDY_MS,
		.queue_max = SEARCH_QUEUE,
		.on_done = wake,
	};
	char err[256];

	if(chat_search_worker__start(&opts, &s->worker, err, sizeof(err)) != 0) {
		chat_broker__log(CHAT_LOG_WARNING, "search: %s; searches are unavailable for now", err);
		s->next_start_ms = chat_clock__mono_ms() + RESTART_MS;
	}
}


struct chat_search *chat_search__new(void)
{
	return calloc(1, sizeof(struct chat_search));
}


void chat_search__free(struct chat_search *s)
{
	struct chat_search_lag lag;

	if(s == NULL) {
		return;
	}
	if(s->worker != NULL) {
		chat_search_worker__lag(s->worker, &lag);
		chat_broker__log(CHAT_LOG_INFO,
				 "search index: %" PRId64 " passes, lag behind the log p50 %" PRId64
				 " ms, p99 %" PRId64 " ms, max %" PRId64 " ms",
				 lag.passes, lag.p50_ms, lag.p99_ms, lag.max_ms);
		chat_search_worker__stop(s->worker, base_free);
	}
	free(s);
}


void chat_search__before_commit(struct chat_plugin *plugin)
{
	struct chat_search *s = plugin->search;
	size_t n;

	if(s == NULL || s->worker == NULL || !plugin->batch->open) {
		return;
	}
	n = chat_batch__touched(plugin->batch, s->touched, SEARCH_TOUCHED);
	s->touched_n = n <= SEARCH_TOUCHED ? n : 0; /* too many: the worker's next full pass finds them */
	s->commits_before = plugin->batch->commits;
}


void chat_search__tick(struct chat_plugin *plugin, void (*wake)(void))
{
	struct chat_search *s = plugin->search;
	struct chat_search_job *done;
	char failure[256];

	if(s == NULL || plugin->store == NULL || plugin->config.search == 0) {
		return;
	}
	if(s->worker == NULL) {
		if(chat_clock__mono_ms() >= s->next_start_ms) {
			start_worker(plugin, s, wake);
		}
		return;
	}
	/* the channels of the tick's commit, if it made one: only after the commit, or the worker might
	 * look at them before it and miss their events */
	if(plugin->batch->commits == s->commits_before + 1) {
		chat_search_worker__committed(s->worker, (int64_t)plugin->batch->commits, s->touched,
					      s->touched_n);
	} else {
		chat_search_worker__committed(s->worker, (int64_t)plugin->batch->commits, NULL, 0);
	}
	s->touched_n = 0;
	done = chat_search_worker__take_done(s->worker);
	while(done != NULL) {
		struct job *job = (struct job *)done;
		done = done->next;
		answer(plugin, job);
		job_free(job);
	}
	if(chat_search_worker__failure(s->worker, failure, sizeof(failure))) {
		chat_broker__log(CHAT_LOG_WARNING, "search index: %s", failure);
	}
}


unsigned chat_search__pending(const struct chat_plugin *plugin)
{
	const struct chat_search *s = plugin->search;

	return s != NULL && s->worker != NULL ? chat_search_worker__jobs(s->worker) : 0;
}


enum chat_err chat_search__submit(struct chat_plugin *plugin, const char *user, const cJSON *request,
				  const struct chat_reply_to *rt, const char **channel,
				  struct chat_error *err)
{
	struct chat_search *s = plugin->search;
	struct chat_channel *only = NULL;
	struct job *job = calloc(1, sizeof(*job));
	const char *query = NULL;

	if(job == NULL) {
		return chat_error__set(err, CHAT_ERR_UNAVAILABLE, "out of memory");
	}
	/* the translator bounds the query in bytes; this only keeps a huge one from being counted */
	if(chat_json__string(request, "query", true, 1, 4 * CHAT_SEARCH_QUERY_MAX_BYTES, &query, err)
		   != CHAT_ERR_OK
	   || chat_search_query__translate(query, strlen(query), &job->match, err) != CHAT_ERR_OK
	   || read_filters(plugin, user, request, &job->p, &only, channel, err) != CHAT_ERR_OK
	   || readable_channels(plugin, user, only, job, err) != CHAT_ERR_OK
	   || keep_reply_to(job, rt, err) != CHAT_ERR_OK) {
		job_free(job);
		return err->code;
	}
	if((job->p.author != NULL && (job->author = strdup(job->p.author)) == NULL)
	   || (*channel != NULL && (job->channel = strdup(*channel)) == NULL)) {
		job_free(job);
		return chat_error__set(err, CHAT_ERR_UNAVAILABLE, "out of memory");
	}
	job->p.author = job->author; /* the request's string goes with the request */
	job->p.match = job->match;
	job->p.channels = job->channels_json;
	/* a page is one MQTT message: bounded in bytes as a catch-up page is (JSON escaping can make it
	 * somewhat larger, as there) */
	job->budget = plugin->config.catchup_page_bytes - 512;
	job->base.run = run_job;
	job->base.stamp = commits(plugin);
	if(plugin->config.search == 0) {
		job_free(job);
		return chat_error__set(err, CHAT_ERR_UNAVAILABLE, "search is turned off on this server");
	}
	if(s == NULL || s->worker == NULL) {
		job_free(job);
		return chat_error__set(err, CHAT_ERR_UNAVAILABLE, "search is not available yet, retry");
	}
	chat_search_worker__committed(s->worker, (int64_t)plugin->batch->commits, NULL, 0);
	if(!chat_search_worker__submit(s->worker, &job->base)) {
		job_free(job);
		return chat_error__set(err, CHAT_ERR_UNAVAILABLE,
				       "too many searches are running, retry in a moment");
	}
	return CHAT_ERR_OK;
}
