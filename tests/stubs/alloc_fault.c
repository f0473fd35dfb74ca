/*
 * alloc_fault.c - the allocation-failure hook (see alloc_fault.h).
 *
 * The wrapped allocators (-Wl,--wrap=malloc and friends) and cJSON's hooks share one counter and one
 * set of live blocks; SQLite's allocator shares the counter only. Every wrapper allocates with the
 * real allocator (__real_malloc, or SQLite's default methods), so a block is freed the same way
 * whether it was counted or not, and a pointer the set does not know (memory some shared library
 * allocated and handed over) is freed without complaint.
 *
 * A mutex guards the counters and the set: the fixture runs no checkpointer thread, but a test may
 * start one.
 */
#include <execinfo.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <sqlite3.h>

#include "alloc_fault.h"

/* The linker's names for what --wrap redirected. */
void *__real_malloc(size_t size);
void *__real_calloc(size_t count, size_t size);
void *__real_realloc(void *p, size_t size);
void __real_free(void *p);
void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t count, size_t size);
void *__wrap_realloc(void *p, size_t size);
char *__wrap_strdup(const char *s);
char *__wrap_strndup(const char *s, size_t n);
void __wrap_free(void *p);

#define TRACE_DEPTH 32

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static struct {
	bool armed, persistent, trace;
	unsigned sources;     /* counted and failed: TS_ALLOC_FROM bits */
	unsigned long target; /* the count at which failing starts; 0: never */
	unsigned long calls, calls_from[TS_ALLOC_SOURCES], failures;
	enum ts_alloc_source failed_source;
	const void *failed_caller;
} state = {.failed_source = TS_ALLOC_SOURCES};


/* ---- the set of live blocks: open addressing, linear probing ---------------------------------- */

#define TOMBSTONE ((void *)1)

static struct {
	void **slots;
	size_t cap, used, live; /* used counts tombstones too */
} set;


static size_t slot_of(const void *p, size_t cap)
{
	uint64_t h = (uint64_t)(uintptr_t)p * UINT64_C(0x9E3779B97F4A7C15);

	return (size_t)(h >> 32) & (cap - 1);
}


/* Rehashes into a table a quarter full of live blocks at most (tombstones are dropped). */
static void set_rehash(void)
{
	size_t cap = 4096;
	void **slots;

	while(cap < 4 * (set.live + 1)) {
		cap *= 2;
	}
	slots = __real_calloc(cap, sizeof(*slots));

	if(slots == NULL) {
		return; /* the set stops growing: it then misses blocks and reports fewer live ones */
	}
	for(size_t i = 0; i < set.cap; i++) {
		void *p = set.slots[i];
		if(p != NULL && p != TOMBSTONE) {
			size_t j = slot_of(p, cap);
			while(slots[j] != NULL) {
				j = (j + 1) & (cap - 1);
			}
			slots[j] = p;
		}
	}
	__real_free(set.slots);
	set.slots = slots;
	set.cap = cap;
	set.used = set.live;
}


static void set_add(void *p)
{
	size_t i;

	if((set.used + 1) * 2 > set.cap) {
		set_rehash();
	}
	if(set.used + 1 >= set.cap) {
		return; /* could not grow: this block goes unseen */
	}
	i = slot_of(p, set.cap);
	while(set.slots[i] != NULL && set.slots[i] != TOMBSTONE) {
		if(set.slots[i] == p) {
			return; /* freed behind our back (by a shared library) and handed out again */
		}
		i = (i + 1) & (set.cap - 1);
	}
	if(set.slots[i] == NULL) {
		set.used++;
	}
	set.slots[i] = p;
	set.live++;
}


/* Removes p; false when it was not in the set. */
static bool set_remove(const void *p)
{
	size_t i;

	if(set.cap == 0) {
		return false;
	}
	for(i = slot_of(p, set.cap); set.slots[i] != NULL; i = (i + 1) & (set.cap - 1)) {
		if(set.slots[i] == p) {
			set.slots[i] = TOMBSTONE;
			set.live--;
			return true;
		}
	}
	return false;
}


/* ---- counting and failing ----------------------------------------------------------------------- */

static void trace_failure(unsigned long n, enum ts_alloc_source source)
{
	static const char *const names[] = {"libc", "cjson", "sqlite"};
	void *frames[TRACE_DEPTH];
	int depth = backtrace(frames, TRACE_DEPTH);

	fprintf(stderr, "alloc_fault: allocation %lu (%s) fails here:\n", n, names[source]);
	fflush(stderr);
	backtrace_symbols_fd(frames, depth, STDERR_FILENO);
}


/* Counts an allocation while armed; true when it is to fail. */
static bool fail_now(enum ts_alloc_source source, const void *caller)
{
	bool fail;

	if(!state.armed) {
		return false;
	}
	state.calls_from[source]++;
	if((state.sources & TS_ALLOC_FROM(source)) == 0) {
		return false;
	}
	state.calls++;
	fail = state.target != 0
	       && (state.calls == state.target || (state.persistent && state.calls > state.target));
	if(fail) {
		if(state.failures++ == 0) {
			state.failed_source = source;
			state.failed_caller = caller;
		}
		if(state.trace) {
			trace_failure(state.calls, source);
		}
	}
	return fail;
}


static void *tracked(void *p)
{
	if(p != NULL) {
		set_add(p);
	}
	return p;
}


void *__wrap_malloc(size_t size)
{
	void *p = NULL;

	pthread_mutex_lock(&lock);
	if(!fail_now(TS_ALLOC_LIBC, __builtin_return_address(0))) {
		p = tracked(__real_malloc(size));
	}
	pthread_mutex_unlock(&lock);
	return p;
}


void *__wrap_calloc(size_t count, size_t size)
{
	void *p = NULL;

	pthread_mutex_lock(&lock);
	if(!fail_now(TS_ALLOC_LIBC, __builtin_return_address(0))) {
		p = tracked(__real_calloc(count, size));
	}
	pthread_mutex_unlock(&lock);
	return p;
}


void *__wrap_realloc(void *p, size_t size)
{
	void *q = NULL;

	pthread_mutex_lock(&lock);
	if(!fail_now(TS_ALLOC_LIBC, __builtin_return_address(0))) {
		/* A block the set did not know stays unknown once moved. */
		bool known = p == NULL || set_remove(p);
		q = __real_realloc(p, size);
		if(q != NULL && known) {
			set_add(q);
		} else if(q == NULL && p != NULL && known) {
			set_add(p); /* the real allocator failed: p is still ours */
		}
	}
	pthread_mutex_unlock(&lock);
	return q;
}


static char *copy_string(const char *s, size_t len, const void *caller)
{
	char *p = NULL;

	pthread_mutex_lock(&lock);
	if(!fail_now(TS_ALLOC_LIBC, caller)) {
		p = tracked(__real_malloc(len + 1));
		if(p != NULL) {
			memcpy(p, s, len);
			p[len] = '\0';
		}
	}
	pthread_mutex_unlock(&lock);
	return p;
}


char *__wrap_strdup(const char *s)
{
	return copy_string(s, strlen(s), __builtin_return_address(0));
}


char *__wrap_strndup(const char *s, size_t n)
{
	const char *end = memchr(s, '\0', n);

	return copy_string(s, end != NULL ? (size_t)(end - s) : n, __builtin_return_address(0));
}


void __wrap_free(void *p)
{
	if(p == NULL) {
		return;
	}
	pthread_mutex_lock(&lock);
	set_remove(p);
	pthread_mutex_unlock(&lock);
	__real_free(p);
}


static void *cjson_malloc(size_t size)
{
	void *p = NULL;

	pthread_mutex_lock(&lock);
	if(!fail_now(TS_ALLOC_CJSON, __builtin_return_address(0))) {
		p = tracked(__real_malloc(size));
	}
	pthread_mutex_unlock(&lock);
	return p;
}


static sqlite3_mem_methods sqlite_default;


static void *sqlite_malloc(int size)
{
	bool fail;

	pthread_mutex_lock(&lock);
	fail = fail_now(TS_ALLOC_SQLITE, __builtin_return_address(0));
	pthread_mutex_unlock(&lock);
	return fail ? NULL : sqlite_default.xMalloc(size);
}


static void *sqlite_realloc(void *p, int size)
{
	bool fail;

	pthread_mutex_lock(&lock);
	fail = fail_now(TS_ALLOC_SQLITE, __builtin_return_address(0));
	pthread_mutex_unlock(&lock);
	return fail ? NULL : sqlite_default.xRealloc(p, size);
}


int ts_alloc_install(void)
{
	static bool installed;
	sqlite3_mem_methods methods;
	cJSON_Hooks hooks = {cjson_malloc, __wrap_free};
	const char *trace = getenv("TS_ALLOC_TRACE");

	if(installed) {
		return 0;
	}
	if(sqlite3_config(SQLITE_CONFIG_GETMALLOC, &sqlite_default) != SQLITE_OK) {
		return -1;
	}
	methods = sqlite_default;
	methods.xMalloc = sqlite_malloc;
	methods.xRealloc = sqlite_realloc;
	if(sqlite3_config(SQLITE_CONFIG_MALLOC, &methods) != SQLITE_OK) {
		return -1;
	}
	cJSON_InitHooks(&hooks);
	state.trace = trace != NULL && strcmp(trace, "1") == 0;
	installed = true;
	return 0;
}


void ts_alloc_arm(unsigned long n, bool persistent)
{
	ts_alloc_arm_only(n, persistent, TS_ALLOC_ANY);
}


void ts_alloc_arm_only(unsigned long n, bool persistent, unsigned sources)
{
	pthread_mutex_lock(&lock);
	state.armed = true;
	state.sources = sources;
	state.persistent = persistent;
	state.target = n;
	state.calls = 0;
	state.failures = 0;
	memset(state.calls_from, 0, sizeof(state.calls_from));
	state.failed_source = TS_ALLOC_SOURCES;
	state.failed_caller = NULL;
	pthread_mutex_unlock(&lock);
}


void ts_alloc_disarm(void)
{
	pthread_mutex_lock(&lock);
	state.armed = false;
	pthread_mutex_unlock(&lock);
}


unsigned long ts_alloc_calls(void)
{
	return state.calls;
}


unsigned long ts_alloc_calls_from(enum ts_alloc_source source)
{
	return state.calls_from[source];
}


unsigned long ts_alloc_failures(void)
{
	return state.failures;
}


enum ts_alloc_source ts_alloc_failed_source(void)
{
	return state.failed_source;
}


const void *ts_alloc_failed_caller(void)
{
	return state.failed_caller;
}


size_t ts_alloc_live(void)
{
	size_t live;

	pthread_mutex_lock(&lock);
	live = set.live;
	pthread_mutex_unlock(&lock);
	return live;
}


void *ts_alloc_raw(size_t size)
{
	return __real_malloc(size);
}


char *ts_alloc_raw_strdup(const char *s)
{
	size_t len = strlen(s);
	char *p = __real_malloc(len + 1);

	if(p != NULL) {
		memcpy(p, s, len + 1);
	}
	return p;
}


void ts_alloc_raw_free(void *p)
{
	__real_free(p);
}
