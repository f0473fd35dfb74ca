/*
 * metrics.c - publishes $SYS/broker/mqchat/... (see metrics.h).
 *
 * Runs on the broker's thread, between packets, so everything it reads is consistent: the counters of
 * counters.h, the index (channels), presence (users online), the edge links. The file sizes are two
 * stat() calls; nothing here queries SQLite.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "broker.h"
#include "checkpoint.h"
#include "edge_link.h"
#include "metrics.h"
#include "presence.h"
#include "users.h"

#define DEFAULT_SYS_INTERVAL_S 10


void chat_metrics_job__configure(struct chat_plugin *plugin, int sys_interval_s)
{
	if(sys_interval_s < 0) {
		sys_interval_s = DEFAULT_SYS_INTERVAL_S;
	}
	plugin->metrics.sys_interval_ms = (int64_t)sys_interval_s * 1000;
	plugin->metrics.next_publish_ms = 0; /* the first tick publishes */
}


static void put(const char *name, uint64_t value)
{
	char topic[128], payload[32];
	int len = snprintf(payload, sizeof(payload), "%" PRIu64, value);

	snprintf(topic, sizeof(topic), CHAT_METRICS_PREFIX "%s", name);
	chat_broker__publish_retained(topic, payload, (size_t)len);
}


static uint64_t file_size(const char *path, const char *suffix)
{
	char name[4096];
	struct stat st;

	if(path == NULL) {
		return 0;
	}
	snprintf(name, sizeof(name), "%s%s", path, suffix);
	return stat(name, &st) == 0 ? (uint64_t)st.st_size : 0;
}


struct online_count {
	const struct chat_plugin *plugin;
	uint64_t n;
};


static void count_online(const char *name, void *ctx)
{
	struct online_count *c = ctx;

	c->n += chat_presence__online(c->plugin, name);
}


void chat_metrics_job__publish(struct chat_plugin *plugin)
{
	struct chat_metrics *m = &plugin->metrics;
	struct online_count online = {.plugin = plugin};

	if(plugin->users != NULL) {
		chat_users__each(plugin->users, count_online, &online);
	}
	put("events/stored", m->events_stored);
	put("sends/refused", m->sends_refused);
	put("commits", m->commits);
	put("commit/latency/p99", chat_metrics__take_p99(m));
	put("catchup/pages", m->catchup_pages);
	put("channels", HASH_COUNT(plugin->index.channels));
	put("users/online", online.n);
	put("push/pending", m->push_pending);
	put("push/failed", m->push_failed);
	put("media/bytes", m->media_bytes);
	put("db/bytes", file_size(plugin->config.database, ""));
	put("wal/bytes", file_size(plugin->config.database, "-wal"));
	put("checkpoint/last", (uint64_t)chat_checkpointer__last_ms(plugin->checkpointer) / 1000);
	put("edges/connected", chat_edge_link__connected(plugin));
}


void chat_metrics_job__run(struct chat_plugin *plugin, int64_t now_ms)
{
	struct chat_metrics *m = &plugin->metrics;

	if(m->sys_interval_ms <= 0 || now_ms < m->next_publish_ms) {
		return;
	}
	m->next_publish_ms = now_ms + m->sys_interval_ms;
	chat_metrics_job__publish(plugin);
}
