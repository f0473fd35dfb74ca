/*
 * The test runner: th_main() forks one child per test and judges it; th_fail() ends a test.
 *
 * Each test child is the leader of its own process group (pgid = its pid). Brokers it starts stay
 * in that group; th_run() commands get groups of their own. The runner is a child subreaper, so
 * processes a dead child left behind become the runner's children and can be reaped.
 *
 * Ending a child, in order: it exits by itself (atexit stops its clients and brokers and removes
 * their directories); or, after TH_TIMEOUT_S, it gets SIGTERM and its handler SIGKILLs what it
 * started and exits; then, 2 s later at most, the runner SIGKILLs the child's process group. The
 * group is killed while the child is still unreaped, so its id cannot belong to anyone else. The
 * child reports every broker directory it makes through a pipe, so the runner can print the logs
 * of a test that timed out or crashed, and remove directories its child could not.
 */
#define _GNU_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "th.h"
#include "th_internal.h"

#define TH_DEFAULT_TIMEOUT_S 90
#define TH_TERM_GRACE_MS     2000
#define TH_LOG_TAIL_LINES    60

const char *th__plugin_path = "";

static int report_fd = -1;
static volatile sig_atomic_t failing = 0;
static volatile sig_atomic_t interrupted = 0;

struct dir_list {
	char **dirs;
	size_t count;
	char partial[512];
	size_t partial_len;
};


/* Prints text as TAP comments: "# ", indent, then each line. */
static void print_comment(const char *indent, const char *text)
{
	const char *p = text, *nl;

	do {
		nl = strchr(p, '\n');
		printf("# %s%.*s\n", indent, nl ? (int)(nl - p) : (int)strlen(p), p);
		p = nl ? nl + 1 : NULL;
	} while(p && *p);
}


void th_log(const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	msg = th__vstrdupf(fmt, ap);
	va_end(ap);
	print_comment("", msg);
	free(msg);
	fflush(stdout);
}


void th_fail(const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	char msg[8192];

	if(failing) {
		/* A failure while reporting or cleaning up after one: stop here. */
		fflush(stdout);
		_exit(1);
	}
	failing = 1;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fflush(stdout);
	printf("# FAIL %s:%d:\n", file, line);
	print_comment("  ", msg);
	th__broker_print_logs(TH_LOG_TAIL_LINES);
	fflush(stdout);
	exit(1);
}


void th_eq_str_(const char *file, int line, const char *actual_expr, const char *expected_expr,
		const char *actual, const char *expected)
{
	if(actual == expected || (actual && expected && strcmp(actual, expected) == 0)) {
		return;
	}
	th_fail(file, line, "%s == %s\n  actual:   %s%s%s\n  expected: %s%s%s", actual_expr, expected_expr,
		actual ? "\"" : "", actual ? actual : "NULL", actual ? "\"" : "", expected ? "\"" : "",
		expected ? expected : "NULL", expected ? "\"" : "");
}


void th__report_dir(const char *dir)
{
	char line[512];
	int len;

	if(report_fd < 0) {
		return;
	}
	len = snprintf(line, sizeof(line), "%s\n", dir);
	if(len > 0 && (size_t)len < sizeof(line)) {
		/* One write of less than PIPE_BUF bytes: atomic, and the runner drains the pipe. */
		while(write(report_fd, line, (size_t)len) < 0 && errno == EINTR) {
		}
	}
}


/* ---- In the test child ---- */

static void child_on_term(int sig)
{
	static const char msg[] = "# SIGTERM (timeout, or the runner is gone): killing this test's brokers\n";
	pid_t run = th__run_pgid;

	(void)sig;
	if(run > 0) {
		kill(-run, SIGKILL);
	}
	th__broker_kill_all_now();
	if(write(STDOUT_FILENO, msg, sizeof(msg) - 1) < 0) {
	}
	_exit(124);
}


static void child_atexit(void)
{
	bool wrapper_ok;

	th__client_cleanup_all();
	wrapper_ok = th__broker_cleanup_all();
	fflush(stdout);
	if(!wrapper_ok) {
		printf("# FAIL: a broker wrapper reported errors (exit status 99); see its stderr.log "
		       "above\n");
		fflush(stdout);
		_exit(1);
	}
}


static void child_init(int fd)
{
	struct sigaction sa;

	report_fd = fd;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = child_on_term;
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sa.sa_handler = SIG_DFL;
	sigaction(SIGINT, &sa, NULL);
	atexit(child_atexit);
}


static void __attribute__((noreturn)) child_run(const struct th_test *t, int fd, pid_t runner)
{
	setpgid(0, 0);
	/* If the runner dies, end this test the same way as on a timeout. */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if(getppid() != runner) {
		_exit(124);
	}
	child_init(fd);
	t->fn();
	exit(0);
}


/* ---- In the runner ---- */

static void runner_on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}


static void dirs_read(struct dir_list *l, int fd)
{
	char buf[4096];
	ssize_t n;

	while((n = read(fd, buf, sizeof(buf))) > 0 || (n < 0 && errno == EINTR)) {
		for(ssize_t i = 0; i < n; i++) {
			if(buf[i] != '\n') {
				if(l->partial_len < sizeof(l->partial) - 1) {
					l->partial[l->partial_len++] = buf[i];
				}
				continue;
			}
			l->partial[l->partial_len] = '\0';
			l->dirs = realloc(l->dirs, (l->count + 1) * sizeof(*l->dirs));
			if(!l->dirs) {
				perror("realloc");
				exit(2);
			}
			l->dirs[l->count++] = strdup(l->partial);
			l->partial_len = 0;
		}
	}
}


/* After the child: print logs if it could not, and remove what it left. child_cleaned: the child
 * ran its own exit handlers, which removed (or, with TH_KEEP, announced) its directories. */
static void dirs_finish(struct dir_list *l, bool print_logs, bool child_cleaned)
{
	const char *keep = getenv("TH_KEEP");
	struct stat st;

	for(size_t i = 0; i < l->count; i++) {
		char *dir = l->dirs[i];

		if(dir && stat(dir, &st) == 0) {
			if(print_logs) {
				char path[600];

				snprintf(path, sizeof(path), "%s/mosquitto.log", dir);
				th__print_tail(path, TH_LOG_TAIL_LINES);
				snprintf(path, sizeof(path), "%s/stderr.log", dir);
				th__print_tail(path, TH_LOG_TAIL_LINES);
			}
			if(keep && !strcmp(keep, "1")) {
				if(!child_cleaned) {
					printf("# kept broker directory %s\n", dir);
				}
			} else if(th__rmtree(dir) != 0) {
				printf("# could not remove %s: %s\n", dir, strerror(errno));
			}
		}
		free(dir);
	}
	free(l->dirs);
	fflush(stdout);
}


/* True once the child has exited; leaves it unreaped (a zombie keeps its group id ours). */
static bool child_exited(pid_t pid)
{
	siginfo_t info;

	memset(&info, 0, sizeof(info));
	return waitid(P_PID, (id_t)pid, &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == pid;
}


/* Runs one test in a child; returns true if it passed. */
static bool run_one(const struct th_test *t, int timeout_s, long long *elapsed_ms)
{
	struct dir_list dirs;
	int pipefd[2], status = 0;
	pid_t pid;
	pid_t runner = getpid();
	long long start = th_now_ms(), deadline = start + (long long)timeout_s * 1000;
	bool timed_out = false, passed, child_cleaned;

	memset(&dirs, 0, sizeof(dirs));
	if(pipe2(pipefd, O_CLOEXEC) != 0) {
		perror("pipe2");
		exit(2);
	}
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if(pid < 0) {
		perror("fork");
		exit(2);
	}
	if(pid == 0) {
		close(pipefd[0]);
		child_run(t, pipefd[1], runner);
	}
	close(pipefd[1]);
	setpgid(pid, pid);
	fcntl(pipefd[0], F_SETFL, O_NONBLOCK);

	for(;;) {
		struct pollfd pfd = {pipefd[0], POLLIN, 0};

		dirs_read(&dirs, pipefd[0]);
		if(child_exited(pid)) {
			break;
		}
		if(th_now_ms() > deadline || interrupted) {
			long long grace = th_now_ms() + TH_TERM_GRACE_MS;

			timed_out = true;
			printf("# %s: %s after %d s; stopping it\n", t->name,
			       interrupted ? "interrupted" : "timed out", timeout_s);
			fflush(stdout);
			kill(pid, SIGTERM);
			while(!child_exited(pid) && th_now_ms() < grace) {
				th_sleep_ms(10);
			}
			break;
		}
		poll(&pfd, 1, 10);
	}
	/* The child is unreaped here, so -pid is still this test's process group. */
	kill(-pid, SIGKILL);
	while(waitpid(pid, &status, 0) < 0 && errno == EINTR) {
	}
	/* Reap what the child left behind and this runner adopted as a subreaper. */
	{
		long long until = th_now_ms() + TH_TERM_GRACE_MS;
		pid_t r;

		while((r = waitpid(-pid, NULL, WNOHANG)) >= 0 && th_now_ms() < until) {
			if(r == 0) {
				th_sleep_ms(5);
			}
		}
		while(waitpid(-1, NULL, WNOHANG) > 0) {
		}
	}
	dirs_read(&dirs, pipefd[0]);
	close(pipefd[0]);
	*elapsed_ms = th_now_ms() - start;

	passed = !timed_out && WIFEXITED(status) && WEXITSTATUS(status) == 0;
	if(!passed && !timed_out) {
		if(WIFSIGNALED(status)) {
			printf("# %s: killed by signal %d (%s)\n", t->name, WTERMSIG(status),
			       strsignal(WTERMSIG(status)));
		} else if(WEXITSTATUS(status) != 1) {
			printf("# %s: exited with status %d\n", t->name, WEXITSTATUS(status));
		}
	}
	/* Exit status 0 is a pass and 1 is th_fail(), which printed the logs already; in both, the
	 * child's exit handlers ran. */
	child_cleaned = !timed_out && WIFEXITED(status) && WEXITSTATUS(status) <= 1;
	dirs_finish(&dirs, !child_cleaned, child_cleaned);
	return passed;
}


static int timeout_from_env(void)
{
	const char *s = getenv("TH_TIMEOUT_S");
	char *end;
	long v;

	if(!s || !*s) {
		return TH_DEFAULT_TIMEOUT_S;
	}
	errno = 0;
	v = strtol(s, &end, 10);
	if(errno || *end || v < 1 || v > 86400) {
		fprintf(stderr, "TH_TIMEOUT_S must be a number of seconds from 1 to 86400, not \"%s\"\n", s);
		exit(2);
	}
	return (int)v;
}


static int run_in_process(const struct th_test *t)
{
	long long start = th_now_ms();

	printf("1..1\n");
	fflush(stdout);
	child_init(-1);
	t->fn();
	printf("ok 1 - %s (%lld ms)\n", t->name, th_now_ms() - start);
	return 0;
}


int th_main_with_plugin(int argc, char **argv, const struct th_test *tests, size_t count,
			const char *plugin_path)
{
	const char *only = argc > 1 ? argv[1] : NULL;
	const char *nofork = getenv("TH_NOFORK");
	int timeout_s = timeout_from_env();
	size_t selected = 0, passed = 0, failed = 0, n = 0;
	struct sigaction sa;

	setvbuf(stdout, NULL, _IOLBF, 0);
	th__plugin_path = plugin_path ? plugin_path : "";
	if(only && !strcmp(only, "--list")) {
		for(size_t i = 0; i < count; i++) {
			printf("%s\n", tests[i].name);
		}
		return 0;
	}
	for(size_t i = 0; i < count; i++) {
		if(!only || !strcmp(only, tests[i].name)) {
			selected++;
		}
	}
	if(selected == 0) {
		fprintf(stderr, "%s: no test named \"%s\" (try --list)\n", argv[0], only ? only : "");
		return 2;
	}
	if(nofork && !strcmp(nofork, "1")) {
		if(selected != 1) {
			fprintf(stderr, "%s: TH_NOFORK=1 runs one test: name it\n", argv[0]);
			return 2;
		}
		for(size_t i = 0; i < count; i++) {
			if(!strcmp(only, tests[i].name)) {
				return run_in_process(&tests[i]);
			}
		}
	}

	prctl(PR_SET_CHILD_SUBREAPER, 1);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = runner_on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);

	printf("1..%zu\n", selected);
	for(size_t i = 0; i < count && !interrupted; i++) {
		long long ms = 0;

		if(only && strcmp(only, tests[i].name)) {
			continue;
		}
		n++;
		if(run_one(&tests[i], timeout_s, &ms)) {
			printf("ok %zu - %s (%lld ms)\n", n, tests[i].name, ms);
			passed++;
		} else {
			printf("not ok %zu - %s (%lld ms)\n", n, tests[i].name, ms);
			failed++;
		}
	}
	printf("# %zu passed, %zu failed%s\n", passed, failed, interrupted ? " (interrupted)" : "");
	fflush(stdout);
	return failed == 0 && passed == selected ? 0 : 1;
}
