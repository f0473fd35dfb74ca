/*
 * mqc_outbox.c - sends that survive anything: docs/protocol.md, "Retries".
 *
 * mqc_send() gives a message a fresh client_msg_id and writes it to the state file (synced to disk)
 * before anything goes on the wire. While connected, the oldest max_inflight messages of the outbox
 * are published; each leaves the outbox only when the server answers it: an ack (also a duplicate
 * ack: the server had it already) or a definitive error. A message with no answer after retry_ms, or
 * in flight when the connection dropped, is published again with the same id; a rate_limited error
 * pauses the whole outbox for the server's retry_after_ms; unavailable retries after half a second.
 * So whatever fails (this process, the network, the broker), the server stores each message once.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mqc_internal.h"


int mqc__outbox_add(struct mqc *c, const char *cmid, const char *ch, const char *payload)
{
	struct mqc_outmsg *m = calloc(1, sizeof(*m)), **tail = &c->outbox;

	if(m == NULL || (m->payload = strdup(payload)) == NULL) {
		free(m);
		return -1;
	}
	snprintf(m->cmid, sizeof(m->cmid), "%s", cmid);
	snprintf(m->ch, sizeof(m->ch), "%s", ch);
	while(*tail) {
		tail = &(*tail)->next;
	}
	*tail = m;
	return 0;
}


static struct mqc_outmsg *unlink_msg(struct mqc *c, const char *cmid)
{
	for(struct mqc_outmsg **p = &c->outbox; *p; p = &(*p)->next) {
		if(strcmp((*p)->cmid, cmid) == 0) {
			struct mqc_outmsg *m = *p;
			*p = m->next;
			return m;
		}
	}
	return NULL;
}


static void free_msg(struct mqc_outmsg *m)
{
	if(m) {
		free(m->payload);
		free(m);
	}
}


void mqc__outbox_free(struct mqc *c)
{
	while(c->outbox) {
		struct mqc_outmsg *m = c->outbox;
		c->outbox = m->next;
		free_msg(m);
	}
}


/* "m-" and 32 hex digits from the kernel's random source: unique for this user, forever. */
static int new_cmid(char *out, size_t cap)
{
	unsigned char raw[16];
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, raw, sizeof(raw)) : -1;

	if(fd >= 0) {
		close(fd);
	}
	if(n != (ssize_t)sizeof(raw) || cap < 35) {
		return -1;
	}
	out[0] = 'm';
	out[1] = '-';
	for(int i = 0; i < 16; i++) {
		snprintf(out + 2 + 2 * i, 3, "%02x", raw[i]);
	}
	return 0;
}


int mqc_send(struct mqc *c, const char *ch, const char *body, char **out_cmid)
{
	char cmid[MQC_CMID_MAX + 1], ref[MQC_CMID_MAX + 3];
	cJSON *obj;
	char *payload;
	int rc = MQC_OK;

	if(out_cmid) {
		*out_cmid = NULL;
	}
	if(c == NULL || !mqc__valid_channel(ch) || body == NULL || body[0] == '\0') {
		return MQC_ERR_INVAL;
	}
	if(new_cmid(cmid, sizeof(cmid)) != 0) {
		return MQC_ERR_STATE;
	}
	snprintf(ref, sizeof(ref), "m:%s", cmid); /* echoed by every answer, even one without the cmid */
	obj = cJSON_CreateObject();
	if(obj == NULL || cJSON_AddStringToObject(obj, "client_msg_id", cmid) == NULL
	   || cJSON_AddStringToObject(obj, "body", body) == NULL
	   || cJSON_AddStringToObject(obj, "ref", ref) == NULL) {
		cJSON_Delete(obj);
		return MQC_ERR_NOMEM;
	}
	payload = cJSON_PrintUnformatted(obj); /* one line: strings escape their newlines */
	cJSON_Delete(obj);
	if(payload == NULL) {
		return MQC_ERR_NOMEM;
	}
	pthread_mutex_lock(&c->lock);
	if(mqc__outbox_add(c, cmid, ch, payload) != 0) {
		rc = MQC_ERR_NOMEM;
	} else if(mqc__state_save(c, true) != 0) {
		free_msg(unlink_msg(c, cmid)); /* not durable: not queued either */
		rc = MQC_ERR_STATE;
	} else {
		mqc__outbox_tick(c, mqc__now_ms());
	}
	pthread_mutex_unlock(&c->lock);
	free(payload);
	if(rc == MQC_OK && out_cmid) {
		*out_cmid = strdup(cmid);
	}
	return rc;
}


int mqc_outbox_count(struct mqc *c)
{
	int n = 0;

	pthread_mutex_lock(&c->lock);
	for(struct mqc_outmsg *m = c->outbox; m; m = m->next) {
		n++;
	}
	pthread_mutex_unlock(&c->lock);
	return n;
}


void mqc__outbox_tick(struct mqc *c, int64_t now)
{
	int inflight = 0;

	if(!c->connected || now < c->sends_paused_until_ms) {
		return;
	}
	for(struct mqc_outmsg *m = c->outbox; m && inflight < c->max_inflight; m = m->next, inflight++) {
		char topic[MQC_CH_MAX + 8], corr[MQC_CMID_MAX + 3];

		if(m->inflight && now - m->sent_ms < c->retry_ms) {
			continue;
		}
		snprintf(topic, sizeof(topic), "chat/%s", m->ch);
		snprintf(corr, sizeof(corr), "m:%s", m->cmid);
		if(mqc__publish(c, topic, m->payload, corr) != MOSQ_ERR_SUCCESS) {
			return; /* the connection is going: everything goes again on the next one */
		}
		m->inflight = true;
		m->sent_ms = now;
	}
}


void mqc__outbox_on_disconnect(struct mqc *c)
{
	for(struct mqc_outmsg *m = c->outbox; m; m = m->next) {
		m->inflight = false;
	}
}


void mqc__outbox_on_ack(struct mqc *c, const cJSON *reply)
{
	const char *cmid = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(reply, "client_msg_id"));
	const cJSON *seq = cJSON_GetObjectItemCaseSensitive(reply, "seq");
	struct mqc_outmsg *m = cmid ? unlink_msg(c, cmid) : NULL;

	if(m == NULL) {
		return; /* the ack of a retry whose first ack came already */
	}
	if(mqc__state_save(c, false) != 0) {
		mqc__log(c, "cannot write %s",
			 c->state_path); /* then a restart retries it: a duplicate ack */
	}
	if(c->cb.on_ack) {
		c->cb.on_ack(c->ud, m->ch, m->cmid, cJSON_IsNumber(seq) ? (int64_t)seq->valuedouble : 0);
	}
	free_msg(m);
	mqc__outbox_tick(c, mqc__now_ms());
}


void mqc__outbox_on_error(struct mqc *c, const char *cmid, const char *code, const cJSON *err)
{
	const cJSON *after = cJSON_GetObjectItemCaseSensitive(err, "retry_after_ms");
	struct mqc_outmsg *m;

	if(strcmp(code, "rate_limited") == 0 || strcmp(code, "unavailable") == 0) {
		/* transient: everything in flight may have been refused too (the server says rate_limited
		 * at most once a second), so all of it goes again after the pause */
		int64_t pause = cJSON_IsNumber(after) ? (int64_t)after->valuedouble : 500;
		c->sends_paused_until_ms = mqc__now_ms() + pause;
		mqc__outbox_on_disconnect(c);
		mqc__log(c, "%s: sends paused for %lld ms", code, (long long)pause);
		return;
	}
	if((m = unlink_msg(c, cmid)) == NULL) {
		if(cmid[0] == '\0' && c->cb.on_error) { /* a send that named no id: not one of ours */
			c->cb.on_error(c->ud,
				       cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(err, "channel")),
				       NULL, code,
				       cJSON_GetStringValue(
					       cJSON_GetObjectItemCaseSensitive(err, "message")));
		}
		return; /* else the answer to a retry of a message already answered */
	}
	mqc__state_save(c, false);
	if(c->cb.on_error) {
		c->cb.on_error(c->ud, m->ch, m->cmid, code,
			       cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(err, "message")));
	}
	free_msg(m);
	mqc__outbox_tick(c, mqc__now_ms());
}
