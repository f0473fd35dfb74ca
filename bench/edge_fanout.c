/*
 * edge_fanout.c - mqchat_edge_fanout, the many-idle-members client of bench/edge_fanout.sh.
 *
 * One process holds --count raw MQTT 3.1.1 connections to one edge (one epoll loop, no thread per
 * connection: a libmosquitto client per connection would not hold 19,000 of them), as users
 * <prefix><first>..<prefix><first+count-1>, each with keepalive 0 (idle for good). It runs in phases
 * that bench/edge_fanout.sh synchronises across the processes with files in --dir:
 *   1. connect every connection and have each join the public channel --channel through chat/_api
 *      (through the edge, to the core); print "JOINED <n>";
 *   2. once <dir>/go exists, subscribe every connection to chat/<channel> at QoS 0; print
 *      "SUBSCRIBED <n>" (joining first and subscribing after keeps the join events, one per member,
 *      from being fanned out to the members subscribed so far: N^2/2 deliveries);
 *   3. with --sender, once <dir>/send exists, publish one message from the first connection and print
 *      "SENT <t>"; every process prints "LAST <t>" when the message has reached all its connections,
 *      and exits 0.
 * <t> is CLOCK_MONOTONIC in nanoseconds, the same clock in every process on the machine. Any protocol
 * error, refused join or a phase over --cap seconds exits 1.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BUF_SIZE 8192

enum conn_state { C_CONNECTING, C_CONNACK, C_JOINING, C_JOINED, C_SUBSCRIBING, C_READY, C_DONE };

struct conn {
	int fd;
	int index;
	enum conn_state state;
	size_t used;
	unsigned char buf[BUF_SIZE];
};

static struct conn *conns;
static int count, port, first, epfd;
static const char *prefix = "m", *channel = "big", *dir = ".";
static bool sender, no_join;
static double cap_s = 120;
static int counts[C_DONE + 1];


static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}


__attribute__((noreturn, format(printf, 1, 2))) static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "mqchat_edge_fanout: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(1);
}


static void set_state(struct conn *c, enum conn_state s)
{
	counts[c->state]--;
	c->state = s;
	counts[s]++;
}


/* Writes all of data (small packets: the socket buffer has room; a short write is an error here). */
static void send_all(struct conn *c, const void *data, size_t len)
{
	ssize_t n = write(c->fd, data, len);

	if(n != (ssize_t)len) {
		die("connection %d: write: %s", c->index, n < 0 ? strerror(errno) : "short write");
	}
}


static size_t put_len(unsigned char *p, size_t len)
{
	size_t n = 0;

	do {
		unsigned char b = len % 128;
		len /= 128;
		p[n++] = (unsigned char)(b | (len > 0 ? 128 : 0));
	} while(len > 0);
	return n;
}


static size_t put_str(unsigned char *p, const char *s, size_t len)
{
	p[0] = (unsigned char)(len >> 8);
	p[1] = (unsigned char)(len & 0xff);
	memcpy(p + 2, s, len);
	return len + 2;
}


/* A packet: fixed header byte, then body[0..len). */
static void send_packet(struct conn *c, unsigned char type, const unsigned char *body, size_t len)
{
	unsigned char pkt[BUF_SIZE];
	size_t n = 0;

	pkt[n++] = type;
	n += put_len(pkt + n, len);
	memcpy(pkt + n, body, len);
	send_all(c, pkt, n + len);
}


static void send_connect(struct conn *c)
{
	unsigned char body[256];
	char user[64];
	size_t n = 0;
	int ulen = snprintf(user, sizeof(user), "%s%d", prefix, first + c->index);

	n += put_str(body + n, "MQTT", 4);
	body[n++] = 4;    /* 3.1.1 */
	body[n++] = 0x82; /* username, clean session */
	body[n++] = 0;    /* keepalive 0: idle for good */
	body[n++] = 0;
	n += put_str(body + n, user, (size_t)ulen); /* client id = user name */
	n += put_str(body + n, user, (size_t)ulen);
	send_packet(c, 0x10, body, n);
}


static void send_publish(struct conn *c, const char *topic, const char *payload)
{
	unsigned char body[1024];
	size_t n = put_str(body, topic, strlen(topic)), plen = strlen(payload);

	memcpy(body + n, payload, plen);
	send_packet(c, 0x30, body, n + plen); /* QoS 0 */
}


static void send_subscribe(struct conn *c)
{
	unsigned char body[128];
	char topic[96];
	size_t n = 0;
	int tlen = snprintf(topic, sizeof(topic), "chat/%s", channel);

	body[n++] = 0;
	body[n++] = 1; /* packet id */
	n += put_str(body + n, topic, (size_t)tlen);
	body[n++] = 0; /* QoS 0 */
	send_packet(c, 0x82, body, n);
}


/* One whole packet from the broker: type byte, body[0..len). */
static void on_packet(struct conn *c, unsigned char type, const unsigned char *body, size_t len)
{
	switch(type >> 4) {
	case 2: /* CONNACK */
		if(len < 2 || body[1] != 0) {
			die("connection %d refused (%d)", c->index, len >= 2 ? body[1] : -1);
		}
		if(no_join) {
			set_state(c, C_JOINED); /* a broker without mqchat: nothing to join */
			break;
		}
		{
			char req[128];
			snprintf(req, sizeof(req), "{\"op\":\"join\",\"channel\":\"%s\"}", channel);
			send_publish(c, "chat/_api", req);
		}
		set_state(c, C_JOINING);
		break;
	case 3: { /* PUBLISH */
		size_t tlen = len >= 2 ? (size_t)(body[0] << 8 | body[1]) : 0;
		int qos = (type >> 1) & 3;
		size_t off = 2 + tlen + (qos > 0 ? 2 : 0);
		if(off > len) {
			die("connection %d: bad PUBLISH", c->index);
		}
		if(qos == 1) {
			unsigned char ack[2] = {body[2 + tlen], body[3 + tlen]};
			send_packet(c, 0x40, ack, 2);
		}
		if(tlen >= 12 && memcmp(body + 2, "chat/_reply/", 12) == 0) {
			if(c->state == C_JOINING) {
				if(memmem(body + off, len - off, "\"ok\":true", 9) == NULL) {
					die("connection %d: join refused: %.*s", c->index, (int)(len - off),
					    body + off);
				}
				set_state(c, C_JOINED);
			}
		} else if(c->state == C_READY
			  && (no_join || memmem(body + off, len - off, "\"type\":\"message\"", 16))) {
			set_state(c, C_DONE);
		}
		break;
	}
	case 9: /* SUBACK */
		if(len < 3 || body[2] > 2) {
			die("connection %d: subscription refused", c->index);
		}
		set_state(c, C_READY);
		break;
	default:
		break;
	}
}


static void on_readable(struct conn *c)
{
	for(;;) {
		ssize_t n = read(c->fd, c->buf + c->used, sizeof(c->buf) - c->used);
		size_t pos = 0;
		if(n == 0) {
			die("connection %d closed by the broker", c->index);
		}
		if(n < 0) {
			if(errno == EAGAIN) {
				return;
			}
			die("connection %d: read: %s", c->index, strerror(errno));
		}
		c->used += (size_t)n;
		for(;;) {
			size_t len = 0, mult = 1, h = pos + 1;
			while(h < c->used && (c->buf[h] & 128)) {
				len += (c->buf[h] & 127) * mult;
				mult *= 128;
				h++;
			}
			if(h >= c->used) {
				break;
			}
			len += (c->buf[h] & 127) * mult;
			h++;
			if(h + len > sizeof(c->buf)) {
				die("connection %d: packet of %zu bytes", c->index, len);
			}
			if(h + len > c->used) {
				break;
			}
			on_packet(c, c->buf[pos], c->buf + h, len);
			pos = h + len;
		}
		memmove(c->buf, c->buf + pos, c->used - pos);
		c->used -= pos;
	}
}


static void open_conn(struct conn *c)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
	int one = 1;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if(c->fd < 0) {
		die("socket: %s (connection %d)", strerror(errno), c->index);
	}
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if(connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 && errno != EINPROGRESS) {
		die("connect: %s (connection %d)", strerror(errno), c->index);
	}
	if(epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev) != 0) {
		die("epoll_ctl: %s", strerror(errno));
	}
}


static void on_event(struct conn *c, uint32_t events)
{
	if(c->state == C_CONNECTING && (events & EPOLLOUT)) {
		struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
		int err = 0;
		socklen_t elen = sizeof(err);
		getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &elen);
		if(err != 0) {
			die("connection %d: %s", c->index, strerror(err));
		}
		epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
		send_connect(c);
		set_state(c, C_CONNACK);
	}
	if(events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
		on_readable(c);
	}
}


/* Runs the loop until done() or the cap; opening up to `opening` more connections as it goes. */
static void run_until(bool (*done)(void), const char *phase)
{
	struct epoll_event events[512];
	int64_t deadline = now_ns() + (int64_t)(cap_s * 1e9);
	static int opened = 0;

	while(!done()) {
		/* connect in waves, so the edge's listen backlog is never flooded */
		while(opened < count
		      && opened
					 - (counts[C_JOINED] + counts[C_SUBSCRIBING] + counts[C_READY]
					    + counts[C_DONE])
				 < 500) {
			open_conn(&conns[opened]);
			opened++;
		}
		int n = epoll_wait(epfd, events, 512, 100);
		for(int i = 0; i < n; i++) {
			on_event(events[i].data.ptr, events[i].events);
		}
		if(now_ns() > deadline) {
			die("%s: not done after %.0f s (connecting %d, joining %d, joined %d, subscribing "
			    "%d, "
			    "ready %d, done %d)",
			    phase, cap_s, counts[C_CONNECTING] + counts[C_CONNACK], counts[C_JOINING],
			    counts[C_JOINED], counts[C_SUBSCRIBING], counts[C_READY], counts[C_DONE]);
		}
	}
}


static bool all_joined(void)
{
	return counts[C_JOINED] == count;
}
static bool all_ready(void)
{
	return counts[C_READY] == count;
}
static bool all_done(void)
{
	return counts[C_DONE] == count;
}


static bool file_exists(const char *name)
{
	char path[512];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return stat(path, &st) == 0;
}


static void wait_file(const char *name)
{
	int64_t deadline = now_ns() + (int64_t)(cap_s * 1e9);

	while(!file_exists(name)) {
		struct epoll_event events[64];
		int n = epoll_wait(epfd, events, 64, 20); /* keep reading (and acking) meanwhile */
		for(int i = 0; i < n; i++) {
			on_event(events[i].data.ptr, events[i].events);
		}
		if(now_ns() > deadline) {
			die("no %s/%s after %.0f s", dir, name, cap_s);
		}
	}
}


int main(int argc, char **argv)
{
	for(int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if(!strcmp(a, "--sender")) {
			sender = true;
			continue;
		}
		if(!strcmp(a, "--no-join")) {
			no_join = true; /* plain mosquitto: connect and subscribe only */
			continue;
		}
		if(v == NULL) {
			die("%s needs a value", a);
		}
		i++;
		if(!strcmp(a, "--port"))
			port = atoi(v);
		else if(!strcmp(a, "--count"))
			count = atoi(v);
		else if(!strcmp(a, "--first"))
			first = atoi(v);
		else if(!strcmp(a, "--prefix"))
			prefix = v;
		else if(!strcmp(a, "--channel"))
			channel = v;
		else if(!strcmp(a, "--dir"))
			dir = v;
		else if(!strcmp(a, "--cap"))
			cap_s = atof(v);
		else
			die("unknown option %s", a);
	}
	if(port <= 0 || count <= 0) {
		die("usage: mqchat_edge_fanout --port P --count N [--first K] [--prefix m] [--channel big] "
		    "[--dir D] [--cap S] [--sender]");
	}
	conns = calloc((size_t)count, sizeof(*conns));
	epfd = epoll_create1(EPOLL_CLOEXEC);
	if(conns == NULL || epfd < 0) {
		die("out of memory");
	}
	for(int i = 0; i < count; i++) {
		conns[i].index = i;
		conns[i].fd = -1;
	}
	counts[C_CONNECTING] = count;

	run_until(all_joined, "connect and join");
	printf("JOINED %d\n", count);
	fflush(stdout);
	wait_file("go");
	for(int i = 0; i < count; i++) {
		send_subscribe(&conns[i]);
		set_state(&conns[i], C_SUBSCRIBING);
	}
	run_until(all_ready, "subscribe");
	printf("SUBSCRIBED %d\n", count);
	fflush(stdout);
	if(sender) {
		char topic[96];
		wait_file("send");
		snprintf(topic, sizeof(topic), "chat/%s", channel);
		printf("SENT %lld\n", (long long)now_ns());
		fflush(stdout);
		send_publish(&conns[0], topic, "{\"client_msg_id\":\"fanout-1\",\"body\":\"to everyone\"}");
	}
	run_until(all_done, "fan-out");
	printf("LAST %lld\n", (long long)now_ns());
	fflush(stdout);
	return 0;
}
