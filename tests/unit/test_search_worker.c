/*
 * test_search_worker.c - the search worker's read-your-writes bound (services/search_worker.h), on a
 * real log file and its index: a search stamped with commits the index holds runs as soon as the index
 * caught up and is not behind; one stamped with a commit the worker is never told of runs at its
 * deadline, marked behind (the reply then says "stale", docs/protocol.md, "Search").
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "search_worker.h"
#include "store.h"
#include "th.h"

#define WAIT_MS 150

static char dir[] = "/tmp/mqchat-search-worker-XXXXXX";

struct probe {
	struct chat_search_job base; /* first: the worker hands back a pointer to it */
	atomic_bool ran;
	bool had_index;
};


static void probe_run(struct chat_search_db *db, struct chat_search_job *job)
{
	struct probe *p = (struct probe *)job;

	p->had_index = db != NULL;
	atomic_store(&p->ran, true);
}


/* Takes back every job done; true when p is among them. */
static bool taken(struct chat_search_worker *w, const struct probe *p)
{
	bool found = false;

	for(struct chat_search_job *j = chat_search_worker__take_done(w); j != NULL; j = j->next) {
		found = found || j == &p->base;
	}
	return found;
}


static void test_a_search_runs_behind_only_after_its_deadline(void)
{
	struct chat_search_worker_options opts = {.batch_ms = 5,
						  .wait_ms = WAIT_MS,
						  .tidy_ms = 60000,
						  .queue_max = 4};
	struct probe now = {.base = {.run = probe_run, .stamp = 0}};
	struct probe later = {.base = {.run = probe_run, .stamp = 1000}};
	struct chat_search_worker *w = NULL;
	struct chat_store *store = NULL;
	char path[128], err[256] = "";
	long long t0;
	int found;

	TH_CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/chat.db", dir);
	TH_CHECKF(chat_store__open(path, CHAT_SYNC_NORMAL, 100, &store, &found, err, sizeof(err)) == 0, "%s",
		  err);
	opts.database = path;
	TH_CHECKF(chat_search_worker__start(&opts, &w, err, sizeof(err)) == 0, "%s", err);

	/* stamped 0: every commit the worker was told of (none), once the index caught up with the log */
	TH_CHECK(chat_search_worker__submit(w, &now.base));
	th_wait_until(atomic_load(&now.ran), 5000);
	th_wait_until(taken(w, &now), 1000);
	TH_CHECK(now.had_index);
	TH_CHECK(!now.base.behind);

	/* stamped with commit 1000, which is never reported: it waits its WAIT_MS, then runs behind */
	t0 = th_now_ms();
	TH_CHECK(chat_search_worker__submit(w, &later.base));
	th_wait_until(atomic_load(&later.ran), 5000);
	TH_CHECKF(th_now_ms() - t0 >= WAIT_MS - 5, "ran after %lld ms", th_now_ms() - t0);
	th_wait_until(taken(w, &later), 1000);
	TH_CHECK(later.had_index);
	TH_CHECK(later.base.behind);

	chat_search_worker__stop(w, NULL);
	chat_store__close(store);
	free(th_run(NULL, "rm -rf '%s'", dir));
}


TH_TEST_LIST(TH_TEST(test_a_search_runs_behind_only_after_its_deadline))
