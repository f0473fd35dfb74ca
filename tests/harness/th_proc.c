/*
 * Child processes and time: spawning a program with a clean set of descriptors, waiting for it
 * with a deadline, and th_run(), which runs a shell command and captures its output.
 *
 * Every child dies with the thread that started it (PR_SET_PDEATHSIG), so a test child that is
 * killed takes its brokers and commands along. A th_run() command gets its own process group so a
 * command that hangs can be killed with everything it started; the group id is published in
 * th__run_pgid for the timeout handler.
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
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "th.h"
#include "th_internal.h"

volatile sig_atomic_t th__run_pgid = 0;

long long th_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}


void th_sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	while(nanosleep(&ts, &ts) == -1 && errno == EINTR) {
	}
}


int th__exit_code(int status)
{
	if(WIFEXITED(status)) {
		return WEXITSTATUS(status);
	}
	if(WIFSIGNALED(status)) {
		return 128 + WTERMSIG(status);
	}
	return -1;
}


pid_t th__spawn(char *const argv[], char *const envp[], int out_fd, bool own_group)
{
	static const int reset[] = {SIGTERM, SIGINT, SIGPIPE, SIGCHLD, SIGHUP, SIGQUIT};
	struct sigaction dfl;
	sigset_t none;
	pid_t parent = getpid();
	int devnull;
	pid_t pid;

	/* Everything the child needs is prepared here: after fork it may only make system calls. */
	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	sigemptyset(&none);
	devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if(devnull < 0) {
		return -1;
	}
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if(pid == 0) {
		for(size_t i = 0; i < sizeof(reset) / sizeof(reset[0]); i++) {
			sigaction(reset[i], &dfl, NULL);
		}
		sigprocmask(SIG_SETMASK, &none, NULL);
		if(own_group) {
			setpgid(0, 0);
		}
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if(getppid() != parent) {
			_exit(127);
		}
		if(dup2(devnull, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(out_fd, 2) < 0) {
			_exit(127);
		}
		/* Sockets of the test's clients must not live on in a broker: th_drop() relies on it. */
		if(close_range(3, ~0U, 0) != 0) {
			for(int fd = 3; fd < 1024; fd++) {
				close(fd);
			}
		}
		if(envp) {
			execvpe(argv[0], argv, envp);
		} else {
			execvp(argv[0], argv);
		}
		_exit(127);
	}
	close(devnull);
	if(pid > 0 && own_group) {
		setpgid(pid, pid); /* also here, so the group exists before fork() returns in either */
	}
	return pid;
}


pid_t th__wait_pid(pid_t pid, int *status, int timeout_ms)
{
	long long deadline = th_now_ms() + timeout_ms;
	pid_t r;

	for(;;) {
		r = waitpid(pid, status, timeout_ms < 0 ? 0 : WNOHANG);
		if(r == pid) {
			return pid;
		}
		if(r < 0 && errno != EINTR) {
			return -1;
		}
		if(r == 0) {
			if(th_now_ms() >= deadline) {
				return 0;
			}
			th_sleep_ms(5);
		}
	}
}


/* Appends what can be read now; returns false once the pipe reached end of file. */
static bool drain(int fd, char **buf, size_t *used, size_t *cap)
{
	ssize_t n;

	for(;;) {
		if(*cap - *used < 4096) {
			*cap = *cap ? *cap * 2 : 8192;
			*buf = realloc(*buf, *cap + 1);
			if(!*buf) {
				th_fail(__FILE__, __LINE__, "out of memory");
			}
		}
		n = read(fd, *buf + *used, *cap - *used);
		if(n > 0) {
			*used += (size_t)n;
			continue;
		}
		if(n < 0 && errno == EINTR) {
			continue;
		}
		return n != 0;
	}
}


static char *describe_argv(char *const argv[])
{
	size_t len = 1;
	char *s;

	for(int i = 0; argv[i]; i++) {
		len += strlen(argv[i]) + 1;
	}
	s = th__xmalloc(len);
	s[0] = '\0';
	for(int i = 0; argv[i]; i++) {
		if(i) {
			strcat(s, " ");
		}
		strcat(s, argv[i]);
	}
	return s;
}


char *th__run_argv(const char *file, int line, char *const argv[], int *exit_status, int timeout_ms)
{
	int pipefd[2];
	pid_t pid;
	int status = 0;
	bool reaped = false, open_end = true;
	char *buf = NULL;
	size_t used = 0, cap = 0;
	long long deadline = th_now_ms() + timeout_ms;

	if(pipe2(pipefd, O_CLOEXEC | O_NONBLOCK) != 0) {
		th_fail(__FILE__, __LINE__, "pipe: %s", strerror(errno));
	}
	pid = th__spawn(argv, NULL, pipefd[1], true);
	close(pipefd[1]);
	if(pid < 0) {
		close(pipefd[0]);
		th_fail(__FILE__, __LINE__, "fork: %s", strerror(errno));
	}
	th__run_pgid = pid;
	for(;;) {
		struct pollfd pfd = {pipefd[0], POLLIN, 0};

		/* Reap first, then drain: all the output of a process that has exited is in the pipe. */
		if(waitpid(pid, &status, WNOHANG) == pid) {
			reaped = true;
		}
		if(open_end) {
			open_end = drain(pipefd[0], &buf, &used, &cap);
		}
		if(reaped) {
			break;
		}
		if(th_now_ms() > deadline) {
			char *what = describe_argv(argv);

			/* Not reaped yet, so the group id cannot have been reused. */
			kill(-pid, SIGKILL);
			waitpid(pid, &status, 0);
			th__run_pgid = 0;
			close(pipefd[0]);
			th_fail(file, line, "command still running after %d ms, killed: %s\n%s", timeout_ms,
				what, buf ? (buf[used] = '\0', buf) : "");
		}
		poll(&pfd, open_end ? 1 : 0, 10);
	}
	th__run_pgid = 0;
	close(pipefd[0]);
	if(!buf) {
		buf = th__xmalloc(1);
	}
	buf[used] = '\0';
	if(exit_status) {
		*exit_status = th__exit_code(status);
	}
	return buf;
}


char *th_run_at(const char *file, int line, int *exit_status, const char *fmt, ...)
{
	va_list ap;
	char *cmd, *out;
	char sh[] = "/bin/sh", dash_c[] = "-c";
	char *argv[4];

	va_start(ap, fmt);
	cmd = th__vstrdupf(fmt, ap);
	va_end(ap);
	argv[0] = sh;
	argv[1] = dash_c;
	argv[2] = cmd;
	argv[3] = NULL;
	out = th__run_argv(file, line, argv, exit_status, 30000);
	free(cmd);
	return out;
}
