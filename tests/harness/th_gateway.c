/*
 * Gateway tier: a core and its edges (see th_gateway.h).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "th_gateway.h"
#include "th_internal.h"

#define EDGE_READY_LINE    "ready: snapshot of"
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
			   "allow_duplicate_messages true\n" /* as bridge/edge.conf.in */
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


static int free_port(void)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), port = -1;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if(fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0
	   && getsockname(fd, (struct sockaddr *)&sa, &len) == 0) {
		port = ntohs(sa.sin_port);
	}
	if(fd >= 0) {
		close(fd);
	}
	return port;
}


static bool accepts(int port)
{
	struct sockaddr_in sa;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool ok;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = htons((uint16_t)port);
	ok = fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	if(fd >= 0) {
		close(fd);
	}
	return ok;
}


/* The template with its placeholders filled in; malloc'd. */
static char *fill_template(const char *file, int line, const char *source_dir, int port,
			   struct th_broker *const *brokers, int count)
{
	char path[512], servers[2048] = "", port_text[16], *tmpl, *out, *p;
	size_t used = 0, cap;

	snprintf(path, sizeof(path), "%s/bridge/haproxy.cfg.in", source_dir);
	tmpl = th__read_file(path, NULL);
	if(tmpl == NULL) {
		th_fail(file, line, "cannot read %s", path);
	}
	for(int i = 0; i < count; i++) {
		used += (size_t)snprintf(servers + used, sizeof(servers) - used,
					 "\tserver edge%d 127.0.0.1:%d check\n", i + 1, brokers[i]->port);
	}
	snprintf(port_text, sizeof(port_text), "%d", port);
	cap = strlen(tmpl) + sizeof(servers) + 64;
	out = calloc(1, cap);
	TH_CHECK(out != NULL);
	for(p = tmpl; *p;) {
		if(strncmp(p, "@LB_PORT@", 9) == 0) {
			strcat(out, port_text);
			p += 9;
		} else if(strncmp(p, "@LB_BIND@", 9) == 0) {
			strcat(out, "127.0.0.1");
			p += 9;
		} else if(strncmp(p, "@EDGE_SERVERS@", 14) == 0) {
			strcat(out, servers);
			p += 14;
		} else {
			size_t n = strlen(out);
			out[n] = *p++;
			out[n + 1] = '\0';
		}
	}
	free(tmpl);
	return out;
}


void th_lb_start_at(const char *file, int line, const char *source_dir, struct th_lb *lb,
		    struct th_broker *const *brokers, int count)
{
	char dir[300], *cfg, *argv[5];
	long long deadline;
	int fd;

	memset(lb, 0, sizeof(*lb));
	lb->port = free_port();
	snprintf(dir, sizeof(dir), "%s", brokers[0]->dir); /* removed with that broker */
	snprintf(lb->cfg_path, sizeof(lb->cfg_path), "%s/haproxy.cfg", dir);
	snprintf(lb->log_path, sizeof(lb->log_path), "%s/haproxy.log", dir);
	cfg = fill_template(file, line, source_dir, lb->port, brokers, count);
	if(th__write_file(lb->cfg_path, cfg, strlen(cfg)) != 0) {
		th_fail(file, line, "writing %s: %s", lb->cfg_path, strerror(errno));
	}
	free(cfg);
	fd = open(lb->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	TH_CHECK(fd >= 0);
	argv[0] = (char *)"haproxy";
	argv[1] = (char *)"-db"; /* foreground: th__spawn kills it when the test ends */
	argv[2] = (char *)"-f";
	argv[3] = lb->cfg_path;
	argv[4] = NULL;
	lb->pid = th__spawn(argv, NULL, fd, false);
	close(fd);
	if(lb->pid < 0) {
		th_fail(file, line, "cannot start haproxy: %s", strerror(errno));
	}
	deadline = th_now_ms() + 5000;
	while(!accepts(lb->port)) {
		int status;
		if(th__wait_pid(lb->pid, &status, 0) == lb->pid) {
			th__print_tail(lb->log_path, 30);
			th_fail(file, line, "haproxy exited with status %d", th__exit_code(status));
		}
		if(th_now_ms() > deadline) {
			th_fail(file, line, "haproxy does not accept on port %d", lb->port);
		}
		th_sleep_ms(10);
	}
}


void th_lb_stop(struct th_lb *lb)
{
	int status;

	if(lb->pid > 0) {
		kill(lb->pid, SIGTERM);
		if(th__wait_pid(lb->pid, &status, 5000) != lb->pid) {
			kill(lb->pid, SIGKILL);
			th__wait_pid(lb->pid, &status, -1);
		}
		lb->pid = 0;
	}
}
