/*
 * th_raw.c - a raw MQTT 3.1.1 connection, for what a library client will not do: stay silent past its
 * keepalive, vanish without a DISCONNECT before reading anything, subscribe and then never read (a
 * slow consumer), or send many CONNECTs before reading any CONNACK (a reconnect storm).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
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
	unsigned char connack[4];

	if(read(fd, connack, sizeof(connack)) != 4 || connack[0] != 0x20) {
		return -1;
	}
	return connack[3];
}


int th_raw_connect_start(const struct th_broker *b, const char *user, const char *client_id,
			 const struct th_raw_options *opt)
{
	struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)b->port)};
	unsigned char body[1024];
	unsigned char flags = 0xC0; /* username, password */
	char password[64];
	size_t len = 0;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	snprintf(password, sizeof(password), "%s-pw", user);
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	TH_EQ_INT(connect(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
	flags |= opt->clean_session ? 0x02 : 0;
	flags |= opt->will_topic ? 0x04 : 0;
	put_string(body, &len, "MQTT");
	body[len++] = 4; /* 3.1.1 */
	body[len++] = flags;
	body[len++] = (unsigned char)(opt->keepalive_s >> 8);
	body[len++] = (unsigned char)(opt->keepalive_s & 0xff);
	put_string(body, &len, client_id);
	if(opt->will_topic) {
		put_string(body, &len, opt->will_topic);
		put_string(body, &len, "gone");
	}
	put_string(body, &len, user);
	put_string(body, &len, password);
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
