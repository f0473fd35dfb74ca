/*
 * alloc_fault.h - fails the Nth allocation, to walk every allocation failure of a path.
 *
 * SQLite's way (test_malloc.c's fault simulator): count the allocations a path makes, then run it
 * again for N = 1, 2, 3, ... with the Nth one failing, until a run no longer reaches N; each run must
 * end cleanly. Three allocators are counted, in one sequence:
 *   - malloc, calloc, realloc, strdup, strndup called from the statically linked code (the plugin's
 *     libraries, the stubs, the test): the test is linked with -Wl,--wrap for each (and for free),
 *     so those calls come here (tests/CMakeLists.txt, SERVICES);
 *   - cJSON's, through cJSON_InitHooks (libcjson is a shared library: --wrap cannot reach it);
 *   - SQLite's, through sqlite3_config(SQLITE_CONFIG_MALLOC) around its default allocator.
 * Calls made inside other shared libraries (libc's own, libmosquitto's) are not counted.
 *
 * It also keeps the set of blocks the first two allocators handed out and nobody freed yet, so a test
 * can check that a run, failed or not, left no memory behind (ts_alloc_live), in any build; LSan (the
 * MQCHAT_SANITIZE build) reports the same leaks with their stacks at exit. SQLite's blocks are not in
 * the set: its caches legitimately keep memory from one statement to the next.
 *
 * With TS_ALLOC_TRACE=1 in the environment, each injected failure prints the stack of the call that
 * failed to stderr (addresses as module(+offset): resolve them with addr2line -e <test> -f <offset>).
 */
#ifndef TS_ALLOC_FAULT_H
#define TS_ALLOC_FAULT_H

#include <stdbool.h>
#include <stddef.h>

/* Where a counted allocation came from. */
enum ts_alloc_source {
	TS_ALLOC_LIBC,   /* a wrapped malloc, calloc, realloc, strdup or strndup */
	TS_ALLOC_CJSON,  /* cJSON's hooks */
	TS_ALLOC_SQLITE, /* SQLite's allocator */
	TS_ALLOC_SOURCES
};

/* Routes cJSON's and SQLite's allocations through the hook. SQLite takes an allocator only before it
 * is initialised, so call this before the process's first SQLite call (ts_fixture_open does).
 * Returns 0, or -1 when SQLite was initialised already. Idempotent. */
int ts_alloc_install(void);

/* Sets of sources, for ts_alloc_arm_only. */
#define TS_ALLOC_FROM(source) (1u << (source))
#define TS_ALLOC_ANY          (TS_ALLOC_FROM(TS_ALLOC_SOURCES) - 1u)

/* Counts allocations from now on, and fails the nth (1-based); with persistent, every one after it
 * too. n 0 counts without failing anything. */
void ts_alloc_arm(unsigned long n, bool persistent);

/* As ts_alloc_arm, counting (and failing) only allocations from the sources in the set (a mask of
 * TS_ALLOC_FROM bits); the others still count in ts_alloc_calls_from. The plugin's and cJSON's
 * allocations are the same from one run of a path to the next; SQLite's vary with its caches and the
 * size of the file, so a walk over all of them may step over a point. Walk each on its own. */
void ts_alloc_arm_only(unsigned long n, bool persistent, unsigned sources);

/* Stops failing and counting. The counters stay readable until the next arm. */
void ts_alloc_disarm(void);

/* Allocations counted since the last arm (from the armed sources), those from one source (armed or
 * not), and how many failed. */
unsigned long ts_alloc_calls(void);
unsigned long ts_alloc_calls_from(enum ts_alloc_source source);
unsigned long ts_alloc_failures(void);

/* Where the first injected failure since the last arm came from (TS_ALLOC_SOURCES when none), and the
 * address its allocator returned to. */
enum ts_alloc_source ts_alloc_failed_source(void);
const void *ts_alloc_failed_caller(void);

/* Blocks from wrapped calls and cJSON's hooks that are allocated and not freed. */
size_t ts_alloc_live(void);

/* Memory that is neither counted, failed nor in the live set: for the stubs' own bookkeeping. */
void *ts_alloc_raw(size_t size);
char *ts_alloc_raw_strdup(const char *s);
void ts_alloc_raw_free(void *p);

#endif
