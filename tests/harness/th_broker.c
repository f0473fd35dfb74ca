/*
 * Brokers: a real mosquitto per th_broker, in its own temporary directory, on its own port.
 *
 * The directory holds mosquitto.conf, passwd, mosquitto.log, stderr.log and the plugin's chat.db;
 * it outlives restarts and is removed when the test ends. A broker counts as up when its log says
 * "mosquitto version ... running" (printed after its listeners are open) since this start, and a
 * TCP connect to its port succeeds; checking the log as well as the port means a port that some
 * other process grabbed between our probe and the broker's bind is never mistaken for ours. That
 * race is why a start whose broker exits with "Address already in use" is retried on a new port.
 *
 * This file keeps its own record of every broker the process started (the test's struct th_broker
 * may live on a stack frame that is gone by exit time), so atexit and the timeout handler can stop
 * them by pid.
 */
#define _GNU_SOURCE

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "th.h"
#include "th_internal.h"

#define TH_MAX_BROKERS           64
#define TH_START_ATTEMPTS        5
#define TH_UP_TIMEOUT_MS         10000
#define TH_UP_TIMEOUT_WRAPPED_MS 60000
#define TH_STOP_TIMEOUT_MS       10000
#define TH_WRAPPER_ERROR         99

struct broker_rec {
	char dir[256];
	char log_path[300];
	char stderr_path[300];
	volatile pid_t pid;
	bool wrapped;
};

static struct broker_rec recs[TH_MAX_BROKERS];
static volatile int nrecs = 0;
static char *passwd_cache = NULL;
static size_t passwd_cache_len = 0;

extern char **environ;


static struct broker_rec *rec_find(const struct th_broker *b)
{
	for(int i = 0; i < nrecs; i++) {
		if(!strcmp(recs[i].dir, b->dir)) {
			return &recs[i];
		}
	}
	th_fail(__FILE__, __LINE__, "broker %s was not started by this test", b->dir);
}


static void set_pid(struct th_broker *b, struct broker_rec *r, pid_t pid)
{
	b->pid = pid;
	r->pid = pid;
}


/* A port that was free a moment ago. */
static int pick_port(void)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	int fd, port;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if(fd < 0) {
		th_fail(__FILE__, __LINE__, "socket: %s", strerror(errno));
	}
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = 0;
	if(bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0
	   || getsockname(fd, (struct sockaddr *)&sa, &len) != 0) {
		close(fd);
		th_fail(__FILE__, __LINE__, "bind 127.0.0.1:0: %s", strerror(errno));
	}
	port = ntohs(sa.sin_port);
	close(fd);
	return port;
}


static bool port_accepts(int port)
{
	struct sockaddr_in sa;
	int fd;
	bool ok;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if(fd < 0) {
		return false;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = htons((uint16_t)port);
	ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(fd);
	return ok;
}


static off_t file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? st.st_size : 0;
}


/* True if the part of the file after offset contains needle; with needle_end, only in a line that
 * also ends with needle_end. */
static bool file_contains_since(const char *path, off_t offset, const char *needle, const char *needle_end)
{
	size_t len;
	char *text = th__read_file(path, &len);
	char *p;
	bool found = false;

	if(!text) {
		return false;
	}
	if((size_t)offset > len) {
		offset = 0; /* the file was replaced */
	}
	for(p = strstr(text + offset, needle); p && !found; p = strstr(p + 1, needle)) {
		char *eol = strchr(p, '\n');
		size_t end_len = needle_end ? strlen(needle_end) : 0;

		if(!needle_end) {
			found = true;
		} else if(eol && (size_t)(eol - p) >= end_len
			  && !memcmp(eol - end_len, needle_end, end_len)) {
			found = true;
		}
	}
	free(text);
	return found;
}


static void write_passwd(const struct th_broker *b)
{
	static const char *const users[] = {TH_USERS};

	if(!passwd_cache) {
		const char *tool = getenv("MQCHAT_MOSQUITTO_PASSWD");
		char plain[1024], tool_buf[256], opt[] = "-U", path[300];
		char *argv[4], *out;
		size_t used = 0;
		int status;

		/* mosquitto_passwd -U hashes a whole "user:password" file in one run. */
		for(size_t i = 0; i < sizeof(users) / sizeof(users[0]); i++) {
			used += (size_t)snprintf(plain + used, sizeof(plain) - used, "%s:%s-pw\n", users[i],
						 users[i]);
		}
		if(th__write_file(b->passwd_path, plain, used) != 0) {
			th_fail(__FILE__, __LINE__, "writing %s: %s", b->passwd_path, strerror(errno));
		}
		snprintf(tool_buf, sizeof(tool_buf), "%s", tool && *tool ? tool : "mosquitto_passwd");
		snprintf(path, sizeof(path), "%s", b->passwd_path);
		argv[0] = tool_buf;
		argv[1] = opt;
		argv[2] = path;
		argv[3] = NULL;
		out = th__run_argv(__FILE__, __LINE__, argv, &status, 30000);
		if(status != 0) {
			th_fail(__FILE__, __LINE__, "%s -U %s exited with %d:\n%s", tool_buf, path, status,
				out);
		}
		free(out);
		passwd_cache = th__read_file(b->passwd_path, &passwd_cache_len);
		if(!passwd_cache) {
			th_fail(__FILE__, __LINE__, "reading %s: %s", b->passwd_path, strerror(errno));
		}
		return;
	}
	if(th__write_file(b->passwd_path, passwd_cache, passwd_cache_len) != 0) {
		th_fail(__FILE__, __LINE__, "writing %s: %s", b->passwd_path, strerror(errno));
	}
}


/* MQCHAT_PLUGIN, read now so a test may set it, else the path the test was compiled with. */
static const char *plugin_path(void)
{
	const char *env = getenv("MQCHAT_PLUGIN");

	return env && *env ? env : th__plugin_path;
}


static void write_conf(const struct th_broker *b)
{
	struct passwd *pw = getpwuid(geteuid());
	const char *plugin = plugin_path();
	/* A test that names its own database (a bad path, say) gets no second plugin_opt_database. */ bool
		own_db = b->with_plugin && strstr(b->extra, "plugin_opt_database") == NULL;
	/* A test of a broker with no authentication source says so with TH_NO_PASSWORD_FILE. */
	bool passwd = strstr(b->extra, TH_NO_PASSWORD_FILE) == NULL;
	char *conf;

	if(b->with_plugin && !plugin[0]) {
		th_fail(__FILE__, __LINE__,
			"a broker with the plugin was asked for, but this test was built "
			"without the mqchat target (set MQCHAT_PLUGIN to a built mqchat.so)");
	}
	conf = th__strdupf("# Written by the mqchat test harness.\n"
			   "listener %d 127.0.0.1\n"
			   "allow_anonymous true\n"
			   "%s%s\n"
			   "persistence false\n"
			   "set_tcp_nodelay true\n"
			   "log_dest file %s\n"
			   "log_type error\n"
			   "log_type warning\n"
			   "log_type notice\n"
			   "log_type information\n"
			   "log_timestamp_format %%H:%%M:%%S\n"
			   "%s%s\n"
			   "%s%s%s"
			   "%s%s%s"
			   "%s\n",
			   b->port, passwd ? "password_file " : "# no password_file",
			   passwd ? b->passwd_path : "", b->log_path, pw ? "user " : "# user unknown",
			   pw ? pw->pw_name : "", b->with_plugin ? "plugin " : "",
			   b->with_plugin ? plugin : "", b->with_plugin ? "\n" : "",
			   own_db ? "plugin_opt_database " : "", own_db ? b->db_path : "", own_db ? "\n" : "",
			   b->extra);
	if(th__write_file(b->conf_path, conf, strlen(conf)) != 0) {
		th_fail(__FILE__, __LINE__, "writing %s: %s", b->conf_path, strerror(errno));
	}
	free(conf);
}


static void path_in(char *dst, size_t size, const char *dir, const char *name)
{
	if((size_t)snprintf(dst, size, "%s/%s", dir, name) >= size) {
		th_fail(__FILE__, __LINE__, "path too long: %s/%s", dir, name);
	}
}


/* Fills in a fresh broker: directory, paths, port, password file and config. */
static void broker_init(const char *file, int line, struct th_broker *b, bool with_plugin,
			const char *extra_fmt, va_list ap)
{
	const char *tmp = getenv("TMPDIR");
	struct broker_rec *r;

	memset(b, 0, sizeof(*b));
	b->with_plugin = with_plugin;
	if(extra_fmt) {
		int n = vsnprintf(b->extra, sizeof(b->extra), extra_fmt, ap);

		if(n < 0 || (size_t)n >= sizeof(b->extra)) {
			th_fail(file, line, "extra broker configuration longer than %zu bytes",
				sizeof(b->extra) - 1);
		}
	}
	if(nrecs == TH_MAX_BROKERS) {
		th_fail(file, line, "more than %d brokers in one test", TH_MAX_BROKERS);
	}
	if((size_t)snprintf(b->dir, sizeof(b->dir), "%s/mqchat-test-XXXXXX", tmp && *tmp ? tmp : "/tmp")
	   >= sizeof(b->dir)) {
		th_fail(file, line, "TMPDIR is too long: %s", tmp);
	}
	if(!mkdtemp(b->dir)) {
		th_fail(file, line, "mkdtemp %s: %s", b->dir, strerror(errno));
	}
	r = &recs[nrecs];
	memset(r, 0, sizeof(*r));
	snprintf(r->dir, sizeof(r->dir), "%s", b->dir);
	path_in(r->log_path, sizeof(r->log_path), b->dir, "mosquitto.log");
	path_in(r->stderr_path, sizeof(r->stderr_path), b->dir, "stderr.log");
	nrecs++;
	th__report_dir(b->dir);

	path_in(b->conf_path, sizeof(b->conf_path), b->dir, "mosquitto.conf");
	path_in(b->db_path, sizeof(b->db_path), b->dir, "chat.db");
	path_in(b->log_path, sizeof(b->log_path), b->dir, "mosquitto.log");
	path_in(b->passwd_path, sizeof(b->passwd_path), b->dir, "passwd");
	b->port = pick_port();
	write_passwd(b);
	write_conf(b);
}


/* argv: the wrapper's words, the broker, "-c", conf. Free with free_strv(). */
static char **broker_argv(const struct th_broker *b, bool *wrapped)
{
	const char *wrapper = getenv("MQCHAT_BROKER_WRAPPER");
	const char *bin = getenv("MQCHAT_MOSQUITTO");
	char **argv = th__xcalloc(64, sizeof(char *));
	int n = 0;

	*wrapped = false;
	if(wrapper && *wrapper) {
		char *copy = th__xstrdup(wrapper), *save = NULL;

		for(char *w = strtok_r(copy, " ", &save); w && n < 58; w = strtok_r(NULL, " ", &save)) {
			argv[n++] = th__xstrdup(w);
		}
		free(copy);
		*wrapped = n > 0;
	}
	argv[n++] = th__xstrdup(bin && *bin ? bin : "/usr/sbin/mosquitto");
	argv[n++] = th__xstrdup("-c");
	argv[n++] = th__xstrdup(b->conf_path);
	argv[n] = NULL;
	return argv;
}


/* Our environment with LD_PRELOAD and ASAN_OPTIONS for the broker, or NULL to pass ours as it is. */
static char **broker_envp(void)
{
	const char *preload = getenv("MQCHAT_BROKER_PRELOAD");
	const char *extra = getenv("MQCHAT_BROKER_PRELOAD_EXTRA");
	const char *asan = getenv("MQCHAT_BROKER_ASAN_OPTIONS");
	size_t n = 0, count = 0;
	char **envp;

	if((!preload || !*preload) && (!extra || !*extra)) {
		return NULL;
	}
	while(environ[count]) {
		count++;
	}
	envp = th__xcalloc(count + 3, sizeof(char *));
	for(size_t i = 0; i < count; i++) {
		if(strncmp(environ[i], "LD_PRELOAD=", 11) && strncmp(environ[i], "ASAN_OPTIONS=", 13)) {
			envp[n++] = th__xstrdup(environ[i]);
		}
	}
	/* the sanitizer runtime first, as it must be; then a test's own library (tests/faultvfs) */
	envp[n++] =
		th__strdupf("LD_PRELOAD=%s%s%s", preload && *preload ? preload : "",
			    preload && *preload && extra && *extra ? ":" : "", extra && *extra ? extra : "");
	if(preload && *preload) {
		envp[n++] = th__strdupf("ASAN_OPTIONS=%s",
					asan && *asan ? asan : "detect_leaks=0:abort_on_error=1");
	}
	envp[n] = NULL;
	return envp;
}


static void free_strv(char **v)
{
	if(v) {
		for(size_t i = 0; v[i]; i++) {
			free(v[i]);
		}
		free(v);
	}
}


/* Starts the broker once. Returns 0 when it is up; else its exit code (> 0), or -1 if it exited
 * with 0 or was not up in time (then it has been killed). *port_taken tells whether its log says
 * the port was in use. */
static int launch(struct th_broker *b, bool *port_taken)
{
	struct broker_rec *r = rec_find(b);
	off_t log_off = file_size(r->log_path), err_off = file_size(r->stderr_path);
	char **argv, **envp;
	bool wrapped;
	int fd, status, code;
	pid_t pid;
	long long deadline;

	*port_taken = false;
	fd = open(r->stderr_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if(fd < 0) {
		th_fail(__FILE__, __LINE__, "opening %s: %s", r->stderr_path, strerror(errno));
	}
	argv = broker_argv(b, &wrapped);
	envp = broker_envp();
	pid = th__spawn(argv, envp, fd, false);
	close(fd);
	free_strv(argv);
	free_strv(envp);
	if(pid < 0) {
		th_fail(__FILE__, __LINE__, "fork: %s", strerror(errno));
	}
	r->wrapped = wrapped;
	set_pid(b, r, pid);

	deadline = th_now_ms() + (wrapped ? TH_UP_TIMEOUT_WRAPPED_MS : TH_UP_TIMEOUT_MS);
	for(;;) {
		if(waitpid(pid, &status, WNOHANG) == pid) {
			set_pid(b, r, 0);
			*port_taken =
				file_contains_since(r->log_path, log_off, "Address already in use", NULL)
				|| file_contains_since(r->stderr_path, err_off, "Address already in use",
						       NULL);
			code = th__exit_code(status);
			th_log("broker in %s exited during startup with status %d", b->dir, code);
			return code > 0 ? code : -1;
		}
		if(file_contains_since(r->log_path, log_off, "mosquitto version ", " running")
		   && port_accepts(b->port)) {
			return 0;
		}
		if(th_now_ms() > deadline) {
			th_log("broker in %s not up after %lld ms; killing it", b->dir,
			       (long long)(wrapped ? TH_UP_TIMEOUT_WRAPPED_MS : TH_UP_TIMEOUT_MS));
			kill(pid, SIGKILL);
			th__wait_pid(pid, &status, -1);
			set_pid(b, r, 0);
			return -1;
		}
		th_sleep_ms(10);
	}
}


/* Starts a freshly initialised broker, moving to another port if its port was taken. */
static int start_fresh(struct th_broker *b)
{
	bool port_taken = false;
	int rc = -1;

	for(int attempt = 0; attempt < TH_START_ATTEMPTS; attempt++) {
		rc = launch(b, &port_taken);
		if(rc == 0 || !port_taken) {
			break;
		}
		th_log("port %d was taken; moving the broker in %s to another", b->port, b->dir);
		b->port = pick_port();
		write_conf(b);
	}
	return rc;
}


static void fail_start(const char *file, int line, const struct th_broker *b, int rc)
{
	if(rc > 0) {
		th_fail(file, line, "broker in %s (port %d) exited during startup with status %d", b->dir,
			b->port, rc);
	}
	th_fail(file, line, "broker in %s (port %d) did not come up", b->dir, b->port);
}


void th_broker_start_at(const char *file, int line, struct th_broker *b, const char *extra_fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, extra_fmt);
	broker_init(file, line, b, true, extra_fmt, ap);
	va_end(ap);
	rc = start_fresh(b);
	if(rc != 0) {
		fail_start(file, line, b, rc);
	}
}


void th_broker_start_plain_at(const char *file, int line, struct th_broker *b, const char *extra_fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, extra_fmt);
	broker_init(file, line, b, false, extra_fmt, ap);
	va_end(ap);
	rc = start_fresh(b);
	if(rc != 0) {
		fail_start(file, line, b, rc);
	}
}


int th_broker_try_start(struct th_broker *b, const char *extra_fmt, ...)
{
	va_list ap;

	va_start(ap, extra_fmt);
	broker_init(__FILE__, __LINE__, b, true, extra_fmt, ap);
	va_end(ap);
	return start_fresh(b);
}


/* SIGTERM, then SIGKILL after timeout_ms; returns the exit code, or -1 if it had to be killed. */
static int stop_pid(pid_t pid, int timeout_ms)
{
	int status = 0;

	kill(pid, SIGTERM);
	if(th__wait_pid(pid, &status, timeout_ms) == pid) {
		return th__exit_code(status);
	}
	kill(pid, SIGKILL);
	th__wait_pid(pid, &status, -1);
	return -1;
}


void th_broker_stop_at(const char *file, int line, struct th_broker *b)
{
	struct broker_rec *r;
	int code;

	if(!b->pid) {
		return;
	}
	r = rec_find(b);
	code = stop_pid(b->pid, r->wrapped ? TH_UP_TIMEOUT_WRAPPED_MS : TH_STOP_TIMEOUT_MS);
	set_pid(b, r, 0);
	if(r->wrapped && code == TH_WRAPPER_ERROR) {
		th_fail(file, line, "the broker wrapper (%s) reported errors: see %s",
			getenv("MQCHAT_BROKER_WRAPPER"), r->stderr_path);
	}
}


void th_broker_kill9(struct th_broker *b)
{
	struct broker_rec *r;
	int status;

	if(!b->pid) {
		return;
	}
	r = rec_find(b);
	kill(b->pid, SIGKILL);
	th__wait_pid(b->pid, &status, -1);
	set_pid(b, r, 0);
}


/* Stops b if it runs, rewrites its config and starts it again on the same port. Returns 0 when it is
 * up, else what launch() returned. */
static int restart(const char *file, int line, struct th_broker *b)
{
	bool port_taken = false;
	int rc = -1;

	th_broker_stop_at(file, line, b);
	write_conf(b);
	/* The port is part of the broker's identity now (clients reconnect to it): wait for it. */
	for(int attempt = 0; attempt < TH_START_ATTEMPTS; attempt++) {
		rc = launch(b, &port_taken);
		if(rc == 0 || !port_taken) {
			break;
		}
		th_log("port %d still taken; retrying", b->port);
		th_sleep_ms(200);
	}
	return rc;
}


void th_broker_restart_at(const char *file, int line, struct th_broker *b)
{
	int rc = restart(file, line, b);

	if(rc != 0) {
		fail_start(file, line, b, rc);
	}
}


int th_broker_try_restart(struct th_broker *b)
{
	return restart(__FILE__, __LINE__, b);
}


bool th_broker_alive(struct th_broker *b)
{
	int status;
	pid_t r;

	if(!b->pid) {
		return false;
	}
	r = waitpid(b->pid, &status, WNOHANG);
	if(r == b->pid || (r < 0 && errno == ECHILD)) {
		set_pid(b, rec_find(b), 0);
		return false;
	}
	return true;
}


char *th_broker_log(const struct th_broker *b)
{
	char path[300];
	char *log, *err, *all;

	path_in(path, sizeof(path), b->dir, "stderr.log");
	log = th__read_file(b->log_path, NULL);
	err = th__read_file(path, NULL);
	all = th__strdupf("%s%s", log ? log : "", err ? err : "");
	free(log);
	free(err);
	return all;
}


bool th_broker_log_contains(const struct th_broker *b, const char *needle)
{
	char *log = th_broker_log(b);
	bool found = strstr(log, needle) != NULL;

	free(log);
	return found;
}


char *th_tmpfile(struct th_broker *b, const char *name)
{
	return th__strdupf("%s/%s", b->dir, name);
}


void th__broker_kill_all_now(void)
{
	for(int i = 0; i < nrecs; i++) {
		pid_t pid = recs[i].pid;

		if(pid > 0) {
			kill(pid, SIGKILL);
		}
	}
}


void th__broker_print_logs(int lines)
{
	for(int i = 0; i < nrecs; i++) {
		th__print_tail(recs[i].log_path, lines);
		th__print_tail(recs[i].stderr_path, lines);
	}
}


bool th__broker_cleanup_all(void)
{
	const char *keep = getenv("TH_KEEP");
	bool ok = true;

	for(int i = 0; i < nrecs; i++) {
		struct broker_rec *r = &recs[i];

		if(r->pid > 0) {
			int code =
				stop_pid(r->pid, r->wrapped ? TH_UP_TIMEOUT_WRAPPED_MS : TH_STOP_TIMEOUT_MS);

			r->pid = 0;
			if(r->wrapped && code == TH_WRAPPER_ERROR) {
				th__print_tail(r->stderr_path, 200);
				ok = false;
			}
		}
		if(keep && !strcmp(keep, "1")) {
			printf("# kept broker directory %s\n", r->dir);
		} else if(th__rmtree(r->dir) != 0 && errno != ENOENT) {
			printf("# could not remove %s: %s\n", r->dir, strerror(errno));
		}
	}
	nrecs = 0;
	free(passwd_cache);
	passwd_cache = NULL;
	fflush(stdout);
	return ok;
}
