/*
 * th_raw.c - a raw MQTT 3.1.1 connection, for what a library client will not do: stay silent past its
 * keepalive, vanish without a DISCONNECT before reading anything, subscribe and then never read (a
 * slow consumer), or send many CONNECTs before reading any CONNACK (a reconnect storm).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "th.h"


/* Appends an MQTT string (two length bytes, then the bytes) to buf at *len. */
static void put_string(unsigned char *buf, size_t *len, const char *s)
{
	size_t n = strlen(s);

	buf[(*len)++] = (unsigned char)(n >> 8);
	buf[(*len)++] = (unsigned char)(n & 0xff);
	memcpy(buf + *len, s, n);
	*len += n;
}


/* Sends packet type `header` with body[0..body_len) (remaining length below 16384). */
static void send_packet(int fd, unsigned char header, const unsigned char *body, size_t body_len)
{
	unsigned char fixed[3] = {header};
	size_t fixed_len = 1;

	TH_CHECK(body_len < 16384);
	if(body_len < 128) {
		fixed[fixed_len++] = (unsigned char)body_len;
	} else {
		fixed[fixed_len++] = (unsigned char)((body_len & 0x7f) | 0x80);
		fixed[fixed_len++] = (unsigned char)(body_len >> 7);
	}
	TH_EQ_INT(write(fd, fixed, fixed_len), (long long)fixed_len);
	TH_EQ_INT(write(fd, body, body_len), (long long)body_len);
}


int th_raw_connect(const struct th_broker *b, const char *user, const char *client_id,
		   const struct th_raw_options *opt)
{
	int fd = th_raw_connect_start(b, user, client_id, opt);

	TH_EQ_INT(th_raw_connack(fd), 0); /* accepted */
	return fd;
}


int th_raw_connack(int fd)
{
	unsigned char body[64];
	size_t len = 0;

	/* 3.1.1: flags and return code; 5: flags, reason code and properties */
	if(th_raw_read_packet(fd, body, sizeof(body), &len, 5000) != 0x20 || len < 2) {
		return -1;
	}
	return body[1];
}


int th_raw_connect_start(const struct th_broker *b, const char *user, const char *client_id,
			 const struct th_raw_options *opt)
{
	struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)b->port)};
	unsigned char body[1024];
	unsigned char flags = user != NULL ? 0xC0 : 0; /* username, password */
	char password[64];
	size_t len = 0;
	int protocol = opt->protocol == 5 ? 5 : 4;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	snprintf(password, sizeof(password), "%s-pw", user ? user : "");
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	TH_EQ_INT(connect(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
	flags |= opt->clean_session ? 0x02 : 0;
	flags |= opt->will_topic ? 0x04 : 0;
	flags |= opt->will_topic ? (unsigned char)((opt->will_qos & 3) << 3) : 0;
	flags |= opt->will_topic && opt->will_retain ? 0x20 : 0;
	put_string(body, &len, "MQTT");
	body[len++] = (unsigned char)protocol;
	body[len++] = flags;
	body[len++] = (unsigned char)(opt->keepalive_s >> 8);
	body[len++] = (unsigned char)(opt->keepalive_s & 0xff);
	if(protocol == 5) { /* CONNECT properties: Session Expiry Interval (0x11) */
		if(opt->session_expiry_s > 0) {
			body[len++] = 5;
			body[len++] = 0x11;
			for(int shift = 24; shift >= 0; shift -= 8) {
				body[len++] = (unsigned char)(opt->session_expiry_s >> shift);
			}
		} else {
			body[len++] = 0;
		}
	}
	put_string(body, &len, client_id);
	if(opt->will_topic) {
		const char *payload = opt->will_payload ? opt->will_payload : "gone";
		TH_CHECK(strlen(opt->will_topic) + strlen(payload) + 64 < sizeof(body) - len);
		if(protocol == 5) { /* will properties: Will Delay Interval (0x18) */
			if(opt->will_delay_s > 0) {
				body[len++] = 5;
				body[len++] = 0x18;
				for(int shift = 24; shift >= 0; shift -= 8) {
					body[len++] = (unsigned char)(opt->will_delay_s >> shift);
				}
			} else {
				body[len++] = 0;
			}
		}
		put_string(body, &len, opt->will_topic);
		put_string(body, &len, payload);
	}
	if(user != NULL) {
		put_string(body, &len, user);
		put_string(body, &len, password);
	}
	send_packet(fd, 0x10, body, len);
	return fd;
}


int th_raw_subscribe(int fd, const char *filter, int qos)
{
	unsigned char body[512], suback[5];
	size_t len = 0;

	TH_CHECK(strlen(filter) + 5 <= sizeof(body));
	body[len++] = 0;
	body[len++] = 1; /* packet id */
	put_string(body, &len, filter);
	body[len++] = (unsigned char)qos;
	send_packet(fd, 0x82, body, len);
	if(read(fd, suback, sizeof(suback)) != 5 || suback[0] != 0x90) {
		return -1;
	}
	return suback[4];
}


void th_raw_publish(int fd, const char *topic, const char *payload)
{
	unsigned char body[1024];
	size_t len = 0;

	TH_CHECK(strlen(topic) + 2 + strlen(payload) <= sizeof(body));
	put_string(body, &len, topic);
	memcpy(body + len, payload, strlen(payload));
	len += strlen(payload);
	send_packet(fd, 0x30, body, len); /* QoS 0 */
}


void th_raw_publish_full(int fd, int protocol, const char *topic, const char *payload, int qos, int mid,
			 bool dup, bool retain)
{
	unsigned char body[8192];
	size_t len = 0;
	unsigned char header = (unsigned char)(0x30 | (dup ? 0x08 : 0) | ((qos & 3) << 1) | (retain ? 1 : 0));

	TH_CHECK(strlen(topic) + 8 + strlen(payload) <= sizeof(body));
	put_string(body, &len, topic);
	if(qos > 0) {
		body[len++] = (unsigned char)(mid >> 8);
		body[len++] = (unsigned char)(mid & 0xff);
	}
	if(protocol == 5) {
		body[len++] = 0; /* no properties */
	}
	memcpy(body + len, payload, strlen(payload));
	len += strlen(payload);
	send_packet(fd, header, body, len);
}


void th_raw_pubrel(int fd, int mid)
{
	unsigned char body[2] = {(unsigned char)(mid >> 8), (unsigned char)(mid & 0xff)};

	send_packet(fd, 0x62, body, sizeof(body));
}


/* Reads exactly n bytes before deadline (ms on th_now_ms's clock); false on timeout or close. */
static bool read_fully(int fd, unsigned char *buf, size_t n, long long deadline)
{
	size_t got = 0;

	while(got < n) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		long long left = deadline - th_now_ms();
		ssize_t r;
		if(left <= 0 || poll(&p, 1, (int)left) <= 0) {
			return false;
		}
		r = read(fd, buf + got, n - got);
		if(r <= 0) {
			return false;
		}
		got += (size_t)r;
	}
	return true;
}


int th_raw_read_packet(int fd, unsigned char *body, size_t cap, size_t *len, int timeout_ms)
{
	long long deadline = th_now_ms() + timeout_ms;
	unsigned char header, byte, scratch[4096];
	size_t remaining = 0, multiplier = 1, kept;

	if(!read_fully(fd, &header, 1, deadline)) {
		return -1;
	}
	do {
		if(!read_fully(fd, &byte, 1, deadline) || multiplier > 128 * 128 * 128) {
			return -1;
		}
		remaining += (byte & 0x7f) * multiplier;
		multiplier *= 128;
	} while(byte & 0x80);
	kept = remaining < cap ? remaining : cap;
	if(!read_fully(fd, body, kept, deadline)) {
		return -1;
	}
	for(size_t left = remaining - kept; left > 0;) {
		size_t n = left < sizeof(scratch) ? left : sizeof(scratch);
		if(!read_fully(fd, scratch, n, deadline)) {
			return -1;
		}
		left -= n;
	}
	*len = kept;
	return header;
}


int th_raw_expect_packet(int fd, int type, unsigned char *body, size_t cap, size_t *len, int timeout_ms)
{
	long long deadline = th_now_ms() + timeout_ms;
	int header;

	do {
		header = th_raw_read_packet(fd, body, cap, len, (int)(deadline - th_now_ms()));
		if(header >= 0 && (header >> 4) == type) {
			return header;
		}
	} while(header >= 0 && th_now_ms() < deadline);
	return -1;
}
