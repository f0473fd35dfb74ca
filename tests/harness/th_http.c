/*
 * th_http.c - the push gateway stand-in (see th_http.h).
 *
 * One thread, one poll() loop over the listening socket and up to MAX_CONNS connections. A request
 * is complete when its headers and Content-Length bytes of body are in; it is recorded at once and
 * answered now, later (delay) or never (hang). Connections are kept alive between requests, as
 * libcurl reuses them.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "th.h"
#include "th_http.h"

#define MAX_CONNS 64
#define MAX_REQS  4096
#define BUF_MAX   (1 << 20)

struct conn {
	int fd; /* -1: free */
	char *buf;
	size_t len;
	bool waiting; /* a request is read and its answer is due at due_ms */
	long long due_ms;
	int status; /* of the answer due */
	char body[1024];
};

struct th_http {
	pthread_t thread;
	pthread_mutex_t lock;
	bool stopping; /* guarded by lock */
	bool refusing; /* guarded by lock */
	int status;    /* guarded by lock: how to answer */
	char body[1024];
	int delay_ms;
	bool hang;
	int port;
	int listener; /* -1 while refusing; written by the thread under lock after start */
	struct conn conns[MAX_CONNS];
	int nreq, nok; /* guarded by lock */
	char *paths[MAX_REQS], *bodies[MAX_REQS];
};


static int listen_on(int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0), one = 1;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if(fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(fd, 64) != 0) {
		if(fd >= 0) {
			close(fd);
		}
		return -1;
	}
	return fd;
}


static void drop(struct conn *c)
{
	close(c->fd);
	free(c->buf);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}


static void answer(struct th_http *h, struct conn *c)
{
	char out[2048];
	int n = snprintf(out, sizeof(out),
			 "HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
			 "Connection: keep-alive\r\n\r\n%s",
			 c->status, strlen(c->body), c->body);

	c->waiting = false;
	if(send(c->fd, out, (size_t)n, MSG_NOSIGNAL) != n) {
		drop(c);
		return;
	}
	if(c->status >= 200 && c->status < 300) {
		pthread_mutex_lock(&h->lock);
		h->nok++;
		pthread_mutex_unlock(&h->lock);
	}
}


/* If c holds a whole request: records it, decides its answer and removes it from the buffer. */
static void take_request(struct th_http *h, struct conn *c)
{
	char *end = c->buf ? strstr(c->buf, "\r\n\r\n") : NULL, *cl, path[512] = "";
	size_t head, body_len = 0, total;
	bool hang;

	if(end == NULL || c->waiting) {
		return;
	}
	head = (size_t)(end - c->buf) + 4;
	*end = '\0';
	for(cl = c->buf; (cl = strchr(cl, '\n')) != NULL; cl++) {
		if(strncasecmp(cl + 1, "content-length:", 15) == 0) {
			body_len = strtoul(cl + 16, NULL, 10);
		}
	}
	*end = '\r';
	total = head + body_len;
	if(c->len < total) {
		return;
	}
	sscanf(c->buf, "%*s %511s", path);
	pthread_mutex_lock(&h->lock);
	if(h->nreq < MAX_REQS) {
		h->paths[h->nreq] = strdup(path);
		h->bodies[h->nreq] = strndup(c->buf + head, body_len);
		h->nreq++;
	}
	hang = h->hang;
	c->status = h->status;
	snprintf(c->body, sizeof(c->body), "%s", h->body);
	c->due_ms = th_now_ms() + h->delay_ms;
	pthread_mutex_unlock(&h->lock);
	memmove(c->buf, c->buf + total, c->len - total);
	c->len -= total;
	c->buf[c->len] = '\0';
	c->waiting = !hang;
	if(hang) {
		c->due_ms = -1; /* never: the client times out and closes */
	}
}


static void read_from(struct th_http *h, struct conn *c)
{
	char chunk[65536];
	ssize_t n = recv(c->fd, chunk, sizeof(chunk), 0);

	if(n <= 0) {
		if(n < 0 && (errno == EAGAIN || errno == EINTR)) {
			return;
		}
		drop(c);
		return;
	}
	if(c->len + (size_t)n + 1 > BUF_MAX) {
		drop(c);
		return;
	}
	c->buf = realloc(c->buf, c->len + (size_t)n + 1);
	memcpy(c->buf + c->len, chunk, (size_t)n);
	c->len += (size_t)n;
	c->buf[c->len] = '\0';
	if(c->due_ms != -1) {
		take_request(h, c);
	}
}


static void accept_all(struct th_http *h)
{
	int fd;

	while((fd = accept(h->listener, NULL, NULL)) >= 0) {
		int i;

		fcntl(fd, F_SETFL, O_NONBLOCK);
		fcntl(fd, F_SETFD, FD_CLOEXEC);
		for(i = 0; i < MAX_CONNS && h->conns[i].fd >= 0; i++) {
		}
		if(i == MAX_CONNS) {
			close(fd);
			continue;
		}
		h->conns[i] = (struct conn){.fd = fd};
	}
}


static void *run(void *arg)
{
	struct th_http *h = arg;

	for(;;) {
		struct pollfd p[MAX_CONNS + 1];
		int map[MAX_CONNS + 1], n = 0;
		bool stopping, refusing;
		long long now = th_now_ms();

		pthread_mutex_lock(&h->lock);
		stopping = h->stopping;
		refusing = h->refusing;
		pthread_mutex_unlock(&h->lock);
		if(stopping) {
			break;
		}
		if(refusing && h->listener >= 0) {
			pthread_mutex_lock(&h->lock);
			close(h->listener);
			h->listener = -1;
			pthread_mutex_unlock(&h->lock);
			for(int i = 0; i < MAX_CONNS; i++) {
				if(h->conns[i].fd >= 0) {
					drop(&h->conns[i]);
				}
			}
		} else if(!refusing && h->listener < 0) {
			int fd = listen_on(h->port);
			pthread_mutex_lock(&h->lock);
			h->listener = fd;
			pthread_mutex_unlock(&h->lock);
		}
		for(int i = 0; i < MAX_CONNS; i++) {
			if(h->conns[i].fd >= 0 && h->conns[i].waiting && h->conns[i].due_ms <= now) {
				answer(h, &h->conns[i]);
				if(h->conns[i].fd >= 0) {
					take_request(h, &h->conns[i]); /* a pipelined next one */
				}
			}
		}
		if(h->listener >= 0) {
			p[n] = (struct pollfd){.fd = h->listener, .events = POLLIN};
			map[n++] = -1;
		}
		for(int i = 0; i < MAX_CONNS; i++) {
			if(h->conns[i].fd >= 0) {
				p[n] = (struct pollfd){.fd = h->conns[i].fd, .events = POLLIN};
				map[n++] = i;
			}
		}
		if(poll(p, (nfds_t)n, 5) <= 0) {
			continue;
		}
		for(int k = 0; k < n; k++) {
			if(p[k].revents == 0) {
				continue;
			}
			if(map[k] < 0) {
				accept_all(h);
			} else if(h->conns[map[k]].fd >= 0) {
				read_from(h, &h->conns[map[k]]);
			}
		}
	}
	return NULL;
}


struct th_http *th_http_start(void)
{
	struct th_http *h = calloc(1, sizeof(*h));
	struct sockaddr_in a;
	socklen_t alen = sizeof(a);

	TH_CHECK(h != NULL);
	pthread_mutex_init(&h->lock, NULL);
	h->status = 200;
	snprintf(h->body, sizeof(h->body), "{}");
	for(int i = 0; i < MAX_CONNS; i++) {
		h->conns[i].fd = -1;
	}
	h->listener = listen_on(0);
	TH_CHECK(h->listener >= 0);
	TH_CHECK(getsockname(h->listener, (struct sockaddr *)&a, &alen) == 0);
	h->port = ntohs(a.sin_port);
	TH_CHECK(pthread_create(&h->thread, NULL, run, h) == 0);
	return h;
}


int th_http_port(const struct th_http *h)
{
	return h->port;
}


void th_http_answer(struct th_http *h, int status, const char *body, int delay_ms)
{
	pthread_mutex_lock(&h->lock);
	h->status = status;
	snprintf(h->body, sizeof(h->body), "%s", body ? body : "{}");
	h->delay_ms = delay_ms;
	h->hang = false;
	pthread_mutex_unlock(&h->lock);
}


void th_http_hang(struct th_http *h)
{
	pthread_mutex_lock(&h->lock);
	h->hang = true;
	pthread_mutex_unlock(&h->lock);
}


void th_http_refuse(struct th_http *h, bool refuse)
{
	long long deadline = th_now_ms() + 5000;
	bool done = false;

	pthread_mutex_lock(&h->lock);
	h->refusing = refuse;
	pthread_mutex_unlock(&h->lock);
	/* the thread applies it within a poll period; wait until it has */
	while(!done && th_now_ms() < deadline) {
		th_sleep_ms(5);
		pthread_mutex_lock(&h->lock);
		done = (h->listener < 0) == refuse;
		pthread_mutex_unlock(&h->lock);
	}
	TH_CHECKF(done, "the HTTP receiver could not %s", refuse ? "stop listening" : "listen again");
}


int th_http_count(struct th_http *h)
{
	int n;

	pthread_mutex_lock(&h->lock);
	n = h->nreq;
	pthread_mutex_unlock(&h->lock);
	return n;
}


int th_http_answered_ok(struct th_http *h)
{
	int n;

	pthread_mutex_lock(&h->lock);
	n = h->nok;
	pthread_mutex_unlock(&h->lock);
	return n;
}


cJSON *th_http_body(struct th_http *h, int i)
{
	cJSON *json = NULL;
	bool have;

	pthread_mutex_lock(&h->lock);
	have = i >= 0 && i < h->nreq;
	if(have) {
		json = cJSON_Parse(h->bodies[i]);
	}
	pthread_mutex_unlock(&h->lock);
	TH_CHECKF(have, "no request %d", i);
	return json;
}


void th_http_path(struct th_http *h, int i, char *buf, size_t len)
{
	pthread_mutex_lock(&h->lock);
	snprintf(buf, len, "%s", i >= 0 && i < h->nreq ? h->paths[i] : "");
	pthread_mutex_unlock(&h->lock);
}


void th_http_stop(struct th_http *h)
{
	if(h == NULL) {
		return;
	}
	pthread_mutex_lock(&h->lock);
	h->stopping = true;
	pthread_mutex_unlock(&h->lock);
	pthread_join(h->thread, NULL);
	for(int i = 0; i < MAX_CONNS; i++) {
		if(h->conns[i].fd >= 0) {
			drop(&h->conns[i]);
		}
	}
	if(h->listener >= 0) {
		close(h->listener);
	}
	for(int i = 0; i < h->nreq; i++) {
		free(h->paths[i]);
		free(h->bodies[i]);
	}
	pthread_mutex_destroy(&h->lock);
	free(h);
}
