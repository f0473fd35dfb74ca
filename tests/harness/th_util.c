/*
 * Small helpers the other harness files share: allocation that cannot return NULL, formatted
 * strings, whole-file reads and writes, recursive removal, and log tails as TAP comments.
 */
#define _GNU_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "th.h"
#include "th_internal.h"

void *th__xmalloc(size_t size)
{
	void *p = malloc(size ? size : 1);

	if(!p) {
		th_fail(__FILE__, __LINE__, "out of memory (%zu bytes)", size);
	}
	return p;
}


void *th__xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if(!p) {
		th_fail(__FILE__, __LINE__, "out of memory (%zu x %zu bytes)", n, size);
	}
	return p;
}


char *th__xstrdup(const char *s)
{
	size_t len = strlen(s);
	char *p = th__xmalloc(len + 1);

	memcpy(p, s, len + 1);
	return p;
}


char *th__vstrdupf(const char *fmt, va_list ap)
{
	va_list ap2;
	int len;
	char *p;

	va_copy(ap2, ap);
	len = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if(len < 0) {
		th_fail(__FILE__, __LINE__, "bad format \"%s\"", fmt);
	}
	p = th__xmalloc((size_t)len + 1);
	vsnprintf(p, (size_t)len + 1, fmt, ap);
	return p;
}


char *th__strdupf(const char *fmt, ...)
{
	va_list ap;
	char *p;

	va_start(ap, fmt);
	p = th__vstrdupf(fmt, ap);
	va_end(ap);
	return p;
}


char *th__read_file(const char *path, size_t *len)
{
	int fd;
	char *buf = NULL;
	size_t used = 0, cap = 0;
	ssize_t n;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if(fd < 0) {
		return NULL;
	}
	for(;;) {
		if(cap - used < 4096) {
			char *bigger;

			cap = cap ? cap * 2 : 8192;
			bigger = realloc(buf, cap + 1);
			if(!bigger) {
				free(buf);
				close(fd);
				return NULL;
			}
			buf = bigger;
		}
		n = read(fd, buf + used, cap - used);
		if(n < 0 && errno == EINTR) {
			continue;
		}
		if(n <= 0) {
			break;
		}
		used += (size_t)n;
	}
	close(fd);
	if(n < 0) {
		free(buf);
		return NULL;
	}
	buf[used] = '\0';
	if(len) {
		*len = used;
	}
	return buf;
}


int th__write_file(const char *path, const void *data, size_t len)
{
	int fd;
	const char *p = data;
	ssize_t n;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if(fd < 0) {
		return -1;
	}
	while(len > 0) {
		n = write(fd, p, len);
		if(n < 0 && errno == EINTR) {
			continue;
		}
		if(n <= 0) {
			close(fd);
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return close(fd);
}


static int rmtree_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path) == 0 || errno == ENOENT ? 0 : -1;
}


int th__rmtree(const char *dir)
{
	return nftw(dir, rmtree_cb, 16, FTW_DEPTH | FTW_PHYS);
}


void th__print_tail(const char *path, int lines)
{
	size_t len;
	char *text = th__read_file(path, &len);
	char *start, *line, *save = NULL;
	int seen = 0;

	if(!text || len == 0) {
		free(text);
		return;
	}
	/* Walk back over `lines` line ends, ignoring the one that ends the file. */
	start = text + len;
	if(start > text && start[-1] == '\n') {
		start--;
	}
	while(start > text) {
		if(start[-1] == '\n' && ++seen == lines) {
			break;
		}
		start--;
	}
	printf("# --- %s%s ---\n", start == text ? "" : "last lines of ", path);
	for(line = strtok_r(start, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		printf("# | %s\n", line);
	}
	fflush(stdout);
	free(text);
}


long long th_rss_kib_at(const char *file, int line, pid_t pid)
{
	char path[64], text[256];
	long long kib = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if(f == NULL) {
		th_fail(file, line, "cannot read %s", path);
	}
	while(fgets(text, sizeof(text), f)) {
		if(!strncmp(text, "VmRSS:", 6)) {
			kib = atoll(text + 6);
		}
	}
	fclose(f);
	return kib;
}
