/*
 * th_gateway.h - a core and edges (plugin_opt_role edge) bridged to it, each a real mosquitto.
 *
 * Edges are named edge-1 .. edge-4, which are bridge users in every broker's password file. Each
 * edge's bridge to the core is configured as bridge/edge.conf.in describes; the core trusts all four
 * and sends its heartbeat every 200 ms, and edges call the core down after 1 s without one, so tests
 * of a core outage stay short.
 */
#ifndef TH_GATEWAY_H
#define TH_GATEWAY_H

#include "th.h"

/* Starts a core: the plugin with plugin_opt_bridge_users edge-1,...,edge-4, plus extra lines. */
#define th_core_start(core, extra) th_core_start_at(__FILE__, __LINE__, (core), (extra))

/* Starts edge edge_id (1..4) bridged to core, and waits until it has its first snapshot. */
#define th_edge_start(edge, core, n) th_edge_start_at(__FILE__, __LINE__, (edge), (core), (n))

/* Number of snapshots edge has applied so far (its "ready" log lines). */
int th_edge_ready_count(const struct th_broker *edge);

/* Waits up to timeout_ms until edge has applied more than `after` snapshots. */
#define th_edge_wait_ready(edge, after, timeout_ms)                                                          \
	th_wait_until(th_edge_ready_count(edge) > (after), (timeout_ms))

/* A TCP load balancer (HAProxy, from bridge/haproxy.cfg.in) in front of the given brokers, on a free
 * loopback port; it dies with the test. */
struct th_lb {
	pid_t pid;
	int port;
	char cfg_path[320];
	char log_path[320];
};

/* Starts the balancer in front of count brokers; waits until it accepts connections. */
#define th_lb_start(lb, brokers, count)                                                                      \
	th_lb_start_at(__FILE__, __LINE__, TH_SOURCE_DIR, (lb), (brokers), (count))

/* Stops it (SIGTERM, then SIGKILL). */
void th_lb_stop(struct th_lb *lb);

void th_lb_start_at(const char *file, int line, const char *source_dir, struct th_lb *lb,
		    struct th_broker *const *brokers, int count);
void th_core_start_at(const char *file, int line, struct th_broker *core, const char *extra);
void th_edge_start_at(const char *file, int line, struct th_broker *edge, const struct th_broker *core,
		      int n);

#endif
