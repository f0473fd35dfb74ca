/*
 * What the harness's files share with each other and not with tests.
 *
 * Lifetime of a test child: th_runner.c calls th__child_init() after fork; brokers and clients
 * register themselves with their modules; at exit th_runner.c calls th__client_cleanup_all() then
 * th__broker_cleanup_all(). The runner parent learns each broker directory through
 * th__report_dir(), so it can clean up after a test that crashed or timed out.
 */
#ifndef TH_INTERNAL_H
#define TH_INTERNAL_H

#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* The plugin path the test program was compiled with (MQCHAT_PLUGIN overrides it). */
extern const char *th__plugin_path;

/* Process group of the th_run() command in progress, 0 if none; read by the timeout handler. */
extern volatile sig_atomic_t th__run_pgid;

/* Tells the runner parent about a broker directory (no-op when not in a forked test). */
void th__report_dir(const char *dir);

/* Stops every broker this process started and removes their directories (unless TH_KEEP).
 * Returns false if a broker wrapper reported errors (exit status 99). */
bool th__broker_cleanup_all(void);

/* Async-signal-safe: SIGKILLs every broker this process started. */
void th__broker_kill_all_now(void);

/* Prints the last lines of every broker log of this process, as TAP comments. */
void th__broker_print_logs(int lines);

/* Disconnects and frees every client still open; shuts libmosquitto down. */
void th__client_cleanup_all(void);

/* Prints the last `lines` lines of the file at path as TAP comments, under a header naming it.
 * Prints nothing for a missing or empty file. */
void th__print_tail(const char *path, int lines);

/* Reads a whole file, malloc'd and NUL-terminated; NULL if it cannot be read. len may be NULL. */
char *th__read_file(const char *path, size_t *len);

/* Writes len bytes to path (created 0600, truncated); returns 0 or -1 with errno set. */
int th__write_file(const char *path, const void *data, size_t len);

/* Removes dir and everything under it; returns 0 or -1. */
int th__rmtree(const char *dir);

/* Forks and execs argv (PATH lookup) with environment envp (NULL: ours), stdin from /dev/null and
 * stdout+stderr to out_fd. The child gets SIGKILL when this thread dies, no inherited descriptors,
 * default signal handlers, and with own_group its own process group. Returns the pid or -1. */
pid_t th__spawn(char *const argv[], char *const envp[], int out_fd, bool own_group);

/* waitpid() with a deadline: polls every 5 ms. Returns the pid once reaped (status in *status),
 * 0 if still running after timeout_ms, -1 on error. */
pid_t th__wait_pid(pid_t pid, int *status, int timeout_ms);

/* Exit status as a number: the exit code, or 128 + signal. */
int th__exit_code(int status);

/* Like th_run() with an argv instead of a shell command and a timeout of timeout_ms; a timeout
 * fails the test naming file:line. */
char *th__run_argv(const char *file, int line, char *const argv[], int *exit_status, int timeout_ms);

/* malloc'd printf; aborts on out of memory. */
char *th__vstrdupf(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));
char *th__strdupf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Allocation that fails the test instead of returning NULL. */
void *th__xmalloc(size_t size);
void *th__xcalloc(size_t n, size_t size);
char *th__xstrdup(const char *s);

#endif
