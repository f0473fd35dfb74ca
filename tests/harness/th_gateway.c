/*
 * Gateway tier: a core and its edges (see th_gateway.h).
 */
#include <string.h>

#include "th_gateway.h"

#define EDGE_READY_LINE  "ready: snapshot of"
#define EDGE_UP_TIMEOUT_MS 10000


void th_core_start_at(const char *file, int line, struct th_broker *core, const char *extra)
{
	th_broker_start_at(file, line, core,
			   "plugin_opt_bridge_users edge-1,edge-2,edge-3,edge-4\n"
			   "plugin_opt_edge_beat_ms 200\n"
			   "%s",
			   extra ? extra : "");
}


int th_edge_ready_count(const struct th_broker *edge)
{
	char *log = th_broker_log(edge);
	int n = 0;

	for(const char *p = strstr(log, EDGE_READY_LINE); p != NULL; p = strstr(p + 1, EDGE_READY_LINE)) {
		n++;
	}
	free(log);
	return n;
}


void th_edge_start_at(const char *file, int line, struct th_broker *edge, const struct th_broker *core, int n)
{
	long long deadline;

	/* The plugin's options come before `connection`, which opens the bridge's section. */
	th_broker_start_at(file, line, edge,
			   "plugin_opt_role edge\n"
			   "plugin_opt_edge_id edge-%d\n"
			   "plugin_opt_core_clientid core-link.edge-%d\n"
			   "plugin_opt_edge_timeout_ms 1000\n"
			   "connection core\n"
			   "address 127.0.0.1:%d\n"
			   "remote_clientid edge-%d\n"
			   "local_clientid core-link.edge-%d\n"
			   "remote_username edge-%d\n"
			   "remote_password edge-%d-pw\n"
			   "bridge_protocol_version mqttv311\n"
			   "cleansession true\n"
			   "try_private false\n"
			   "notifications false\n"
			   "restart_timeout 1\n"
			   "keepalive_interval 10\n"
			   "topic chat/_edge/up/edge-%d out 0\n"
			   "topic chat/# in 1\n",
			   n, n, core->port, n, n, n, n, n);
	deadline = th_now_ms() + EDGE_UP_TIMEOUT_MS;
	while(th_edge_ready_count(edge) == 0) {
		if(th_now_ms() > deadline) {
			th_fail(file, line, "edge-%d has no snapshot from the core after %d ms", n,
				EDGE_UP_TIMEOUT_MS);
		}
		th_sleep_ms(10);
	}
}
