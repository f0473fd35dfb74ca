/*
 * test_acl_matrix.c - the access rules, exhaustively: every role x every topic x subscribe, publish,
 * wildcard and reply topic, each outcome asserted from one table. Zero leaks means: every refused
 * subscription is refused with 0x87, every granted one receives exactly the events of the private
 * channel its role may read (each once) and nothing else under chat/, every refused publish stores
 * and delivers nothing and says why.
 *
 * The channel is #priv (private): ada owns it, bo and eve are members, cy was a member and was
 * removed, dee never was. Roles: owner (ada), device (another connection of ada), member (bo),
 * removed (cy), nonmember (dee), anonymous (no username).
 *
 * Wills and takeovers too: no role's will is published on any topic mqchat owns, and no role but
 * the holder's own user may connect with a client id another user holds.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "th_chat.h"

enum role { OWNER, DEVICE, MEMBER, REMOVED, NONMEMBER, ANON, NROLES };

static const char *const role_name[NROLES] = {"owner",   "device",    "member",
					      "removed", "nonmember", "anonymous"};
static const char *const role_user[NROLES] = {"ada", "ada", "bo", "cy", "dee", NULL};

static bool reads(enum role r)
{
	return r == OWNER || r == DEVICE || r == MEMBER;
}

/* The events of #priv that phase A generates, one on each of its topics. */
static const char *const event_topics[] = {"chat/priv", "chat/priv/typing", "chat/priv/presence",
					   "chat/priv/read", "chat/priv/delivered"};
#define NEVENTS (sizeof(event_topics) / sizeof(event_topics[0]))

/* Subscription filters. SELF is replaced by the subscriber's client id, ROLE by its role's name. */
enum sub_rule {
	S_MEMBERS, /* granted to members of #priv only */
	S_USERS,   /* granted to any user with a username (filtered at delivery) */
	S_SELF,    /* granted to that client only */
	S_NOBODY,  /* refused to everyone */
	S_ALL,     /* not mqchat's: granted to everyone, anonymous too (acl_fallback allow) */
};

static const struct {
	const char *filter;
	enum sub_rule rule;
} filters[] = {
	{"chat/priv", S_MEMBERS},
	{"chat/priv/typing", S_MEMBERS},
	{"chat/priv/presence", S_MEMBERS},
	{"chat/priv/read", S_MEMBERS},
	{"chat/priv/delivered", S_MEMBERS},
	{"chat/priv/#", S_MEMBERS},
	{"chat/priv/+", S_MEMBERS},
	{"$share/ROLE/chat/priv", S_MEMBERS},
	{"chat/priv/sync", S_NOBODY},
	{"chat/_api", S_NOBODY},
	{"chat/_", S_NOBODY},
	{"chat/_reply/SELF", S_SELF},
	{"chat/_reply/ada-gen", S_NOBODY},
	{"chat/_reply/+", S_NOBODY},
	{"chat/_reply/#", S_NOBODY},
	{"chat/#", S_USERS},
	{"chat/+", S_USERS},
	{"chat/+/typing", S_USERS},
	{"chat/+/+", S_USERS},
	{"#", S_ALL},
	{"+/+", S_ALL},
	{"+/+/+", S_ALL},
};
#define NFILTERS (sizeof(filters) / sizeof(filters[0]))

static long long checks;


static void expand(char *out, size_t len, const char *filter, enum role r, const char *client_id)
{
	const char *self = strstr(filter, "SELF"), *role = strstr(filter, "ROLE");

	if(self) {
		snprintf(out, len, "%.*s%s%s", (int)(self - filter), filter, client_id, self + 4);
	} else if(role) {
		snprintf(out, len, "%.*s%s%s", (int)(role - filter), filter, role_name[r], role + 4);
	} else {
		snprintf(out, len, "%s", filter);
	}
}


static bool granted(enum sub_rule rule, enum role r)
{
	switch(rule) {
	case S_MEMBERS:
		return reads(r);
	case S_USERS:
		return r != ANON;
	case S_SELF:
		return r != ANON;
	case S_NOBODY:
		return false;
	case S_ALL:
		return true;
	}
	return false;
}


/* MQTT topic matching, for the expected deliveries (a shared subscription matches its filter). */
static bool matches(const char *filter, const char *topic)
{
	if(!strncmp(filter, "$share/", 7)) {
		filter = strchr(filter + 7, '/') + 1;
	}
	while(*filter && *topic) {
		if(*filter == '#') {
			return true;
		}
		if(*filter == '+') {
			while(*topic && *topic != '/') {
				topic++;
			}
			filter++;
		} else {
			const char *fe = strchr(filter, '/'), *te = strchr(topic, '/');
			size_t fl = fe ? (size_t)(fe - filter) : strlen(filter);
			size_t tl = te ? (size_t)(te - topic) : strlen(topic);
			if(fl != tl || strncmp(filter, topic, fl)) {
				return false;
			}
			filter += fl;
			topic += tl;
		}
		if(*filter == '/' && *topic == '/') {
			filter++;
			topic++;
		} else if(*filter == '/' && !strcmp(filter, "/#") && !*topic) {
			return true;
		} else if(*filter || *topic) {
			return false;
		}
	}
	return (!*filter && !*topic) || !strcmp(filter, "#");
}


static struct th_client *connect_role(struct th_broker *b, enum role r, const char *client_id)
{
	return th_connect(b, role_user[r], client_id, 5, true);
}


static void setup(struct th_broker *b, struct th_client **gen)
{
	th_broker_start(b, "plugin_opt_request_rate 0\nplugin_opt_typing_rate 0");
	tc_sign_in(b, "bo", "cy", "dee", "eve", NULL);
	*gen = th_connect(b, "ada", "ada-gen", 5, true);
	tc_api_ok(*gen,
		  "{\"op\":\"create\",\"channel\":\"priv\",\"visibility\":\"private\",\"members\":[\"bo\","
		  "\"cy\",\"eve\"]}");
	tc_api_ok(*gen, "{\"op\":\"remove\",\"channel\":\"priv\",\"user\":\"cy\"}");
	/* a channel everyone but the anonymous may read: wildcards bring it, so the deliveries of #priv
	 * are told apart from "nothing under chat/ at all" */
	tc_api_ok(*gen, "{\"op\":\"create\",\"channel\":\"open\",\"members\":[\"bo\",\"cy\",\"dee\"]}");
}


/* Every client in cs[] receives zz/barrier once everything published before it has reached it. */
static void barrier(struct th_client *gen, struct th_client **cs, int n)
{
	cJSON_Delete(tc_api(gen, "{\"op\":\"channels\"}")); /* one turn of the broker's loop */
	TH_EQ_INT(th_publish(gen, "zz/barrier", "b", -1, 1, NULL), 0);
	for(int i = 0; i < n; i++) {
		struct th_msg *m = th_wait_msg(cs[i], "zz/barrier", 5000);
		TH_CHECKF(m != NULL, "client %s: no barrier", th_client_id(cs[i]));
		th_msg_free(m);
		while((m = th_wait_msg(cs[i], "zz/barrier", 0)) != NULL) {
			th_msg_free(m);
		}
	}
}


static void drain_all(struct th_client *c)
{
	struct th_msg *m;
	while((m = th_wait_msg(c, "#", 0)) != NULL) {
		th_msg_free(m);
	}
}


/* Phase A: every role subscribes to every filter, each on a connection of its own; #priv then gets one
 * event on each of its topics; each connection must receive exactly those its role may read. */
static void test_subscribe_and_deliver(void)
{
	struct th_broker b;
	struct th_client *gen, *eve, *open_writer;
	struct th_client *cs[NROLES * NFILTERS];
	bool ok[NROLES * NFILTERS];
	int n = 0, leaks = 0;
	char cursor[64];
	cJSON *ack;

	setup(&b, &gen);
	for(int r = 0; r < NROLES; r++) {
		for(size_t f = 0; f < NFILTERS; f++) {
			char id[32], filter[96];
			int rc;

			snprintf(id, sizeof(id), "%s-f%zu", role_name[r], f);
			expand(filter, sizeof(filter), filters[f].filter, (enum role)r, id);
			cs[n] = connect_role(&b, (enum role)r, id);
			rc = th_subscribe(cs[n], filter, 1);
			ok[n] = granted(filters[f].rule, (enum role)r);
			checks++;
			TH_CHECKF(rc == (ok[n] ? 1 : 0x87),
				  "%s subscribing to %s: SUBACK 0x%02x, expected 0x%02x", role_name[r],
				  filter, rc, ok[n] ? 1 : 0x87);
			TH_EQ_INT(th_subscribe(cs[n], "zz/barrier", 1), 1);
			n++;
		}
	}
	barrier(gen, cs, n);
	for(int i = 0; i < n; i++) {
		drain_all(cs[i]); /* presence of the connections themselves */
	}

	/* one event on each topic of #priv, and traffic in #open that only open's members may read */
	ack = tc_send(gen, "priv", "m1", "secret");
	snprintf(cursor, sizeof(cursor), "{\"seq\":%lld}", th_json_int(ack, "seq")); /* ahead of ada's */
	cJSON_Delete(ack);
	TH_EQ_INT(th_publish(gen, "chat/priv/typing", "{\"typing\":true}", -1, 1, NULL), 0);
	TH_EQ_INT(th_publish(gen, "chat/priv/read", cursor, -1, 1, NULL), 0);
	TH_EQ_INT(th_publish(gen, "chat/priv/delivered", cursor, -1, 1, NULL), 0);
	eve = th_connect(&b, "eve", "eve-1", 5, true); /* presence: eve's first device */
	open_writer = th_connect(&b, "dee", "dee-writer", 5, true);
	cJSON_Delete(tc_send(open_writer, "open", "o1", "public to open's members"));
	barrier(gen, cs, n);

	for(int i = 0; i < n; i++) {
		enum role r = (enum role)(i / (int)NFILTERS);
		size_t f = (size_t)i % NFILTERS;
		char filter[96];
		int got[NEVENTS] = {0};
		struct th_msg *m;

		expand(filter, sizeof(filter), filters[f].filter, r, th_client_id(cs[i]));
		while((m = th_wait_msg(cs[i], "chat/#", 0)) != NULL) {
			size_t e;
			for(e = 0; e < NEVENTS && strcmp(m->topic, event_topics[e]); e++) {
			}
			if(e < NEVENTS) {
				got[e]++;
			} else if(!strcmp(m->topic, "chat/open") && r != ANON && ok[i]
				  && matches(filter, m->topic)) {
				/* every user but the anonymous is in #open and sees it through a wildcard */
			} else {
				th_log("LEAK: %s with %s received %s: %.*s", role_name[r], filter, m->topic,
				       m->len, (char *)m->payload);
				leaks++;
			}
			th_msg_free(m);
		}
		for(size_t e = 0; e < NEVENTS; e++) {
			int want = ok[i] && reads(r) && matches(filter, event_topics[e]) ? 1 : 0;
			checks++;
			if(got[e] != want) {
				th_log("%s with %s: %d x %s, expected %d", role_name[r], filter, got[e],
				       event_topics[e], want);
				leaks++;
			}
		}
		drain_all(cs[i]);
	}
	th_log("%d roles x %zu filters: %lld outcomes checked, %d wrong", NROLES, NFILTERS, checks, leaks);
	TH_EQ_INT(leaks, 0);
	for(int i = 0; i < n; i++) {
		th_disconnect(cs[i]);
	}
	th_disconnect(eve);
	th_disconnect(open_writer);
	th_disconnect(gen);
	th_broker_stop(&b);
}


/* Phase B: every role publishes to every topic. Each publish is accepted or refused as the table
 * says (MQTT 5 PUBACK, then the reply topic's answer), and a member's watcher receives exactly what
 * was accepted. */
enum pub_rule {
	P_MEMBERS, /* accepted from members; for other users #priv does not exist: no_such_channel */
	P_NOBODY,  /* refused to everyone with `code` */
};

static const struct {
	const char *topic, *payload;
	enum pub_rule rule;
	const char *code; /* the error users get when refused */
	bool reply_on_ok; /* an accepted publish is answered on the reply topic */
	bool delivered;   /* an accepted publish reaches the watcher */
} pubs[] = {
	{"chat/priv", "{\"client_msg_id\":\"ID\",\"body\":\"x\"}", P_MEMBERS, "no_such_channel", true, true},
	{"chat/priv/typing", "{\"typing\":true}", P_MEMBERS, "no_such_channel", false, true},
	{"chat/priv/read", "{\"seq\":SEQ}", P_MEMBERS, "no_such_channel", false, true},
	{"chat/priv/delivered", "{\"seq\":SEQ}", P_MEMBERS, "no_such_channel", false, true},
	{"chat/priv/sync", "{\"since\":0}", P_MEMBERS, "no_such_channel", true, false},
	{"chat/_api", "{\"op\":\"members\",\"channel\":\"priv\"}", P_MEMBERS, "no_such_channel", true, false},
	{"chat/priv/presence", "{\"online\":true}", P_NOBODY, "bad_topic", false, false},
	{"chat/_reply/ada-gen", "{\"ok\":true}", P_NOBODY, "bad_topic", false, false},
	{"chat/_reply/SELF", "{\"ok\":true}", P_NOBODY, "bad_topic", false, false},
	{"chat/_", "{\"body\":\"into the sink\"}", P_NOBODY, "bad_topic", false, false},
	{"chat/nosuch", "{\"body\":\"x\"}", P_NOBODY, "no_such_channel", false, false},
};
#define NPUBS (sizeof(pubs) / sizeof(pubs[0]))


static void test_publish(void)
{
	struct th_broker b;
	struct th_client *gen, *watcher, *c;
	int wrong = 0, accepted_deliveries[NPUBS] = {0};
	cJSON *page;
	long long head_before;

	setup(&b, &gen);
	watcher = th_connect(&b, "eve", "eve-watch", 5, true);
	TH_EQ_INT(th_subscribe(watcher, "chat/priv/#", 1), 1);
	TH_EQ_INT(th_subscribe(watcher, "zz/barrier", 1), 1);
	barrier(gen, &watcher, 1);
	drain_all(watcher);
	page = tc_sync(gen, "priv", 0, 0);
	head_before = th_json_int(page, "head");
	cJSON_Delete(page);

	for(int r = 0; r < NROLES; r++) {
		char id[32];

		snprintf(id, sizeof(id), "%s-pub", role_name[r]);
		c = connect_role(&b, (enum role)r, id);
		for(size_t p = 0; p < NPUBS; p++) {
			char topic[64], payload[128], *at;
			bool accept = pubs[p].rule == P_MEMBERS && reads((enum role)r);
			int rc, want_rc;
			cJSON *reply;

			expand(topic, sizeof(topic), pubs[p].topic, (enum role)r, id);
			snprintf(payload, sizeof(payload), "%s", pubs[p].payload);
			if((at = strstr(payload, "ID")) != NULL) {
				char rest[128];
				snprintf(rest, sizeof(rest), "%s", at + 2);
				snprintf(at, sizeof(payload) - (size_t)(at - payload), "m-%s%s", role_name[r],
					 rest);
			}
			if((at = strstr(payload, "SEQ")) != NULL) {
				/* ahead of each member's cursor (its join), and of the previous role's move
				 */
				snprintf(at, sizeof(payload) - (size_t)(at - payload), "%lld}",
					 head_before + 1 + r);
			}
			rc = th_publish(c, topic, payload, -1, 1, NULL);
			/* accepted sends are diverted: 0x10 (no matching subscribers); refused: 0x87 */
			want_rc = !accept ? 0x87 : !strcmp(topic, "chat/priv") ? 0x10 : -2;
			checks++;
			if(want_rc == -2 ? (rc != 0 && rc != 0x10) : rc != want_rc) {
				th_log("%s publishing to %s: PUBACK 0x%02x, expected 0x%02x", role_name[r],
				       topic, rc, want_rc);
				wrong++;
			}
			if(accept && pubs[p].delivered) {
				/* typing: "true" now, "false" when the connection ends */
				accepted_deliveries[p] += strstr(topic, "/typing") ? 2 : 1;
			}
			if(r == ANON) {
				continue; /* it may publish nothing under chat/: checked below that nothing
					     came */
			}
			/* the answers on the reply topic up to that of a request sent right after */
			TH_EQ_INT(th_publish(c, "chat/_api", "{\"op\":\"channels\",\"ref\":\"ping\"}", -1, 1,
					     NULL),
				  0x10);
			for(int answers = 0;; answers++) {
				const char *ref, *code;
				bool is_ok;

				reply = th_expect_json(c, tc_reply_topic(c));
				ref = th_json_str(reply, "ref");
				if(ref && !strcmp(ref, "ping")) {
					bool want_answer = !accept || pubs[p].reply_on_ok;
					checks++;
					if(answers != (want_answer ? 1 : 0)) {
						th_log("%s publishing to %s: %d answers, expected %d",
						       role_name[r], topic, answers, want_answer ? 1 : 0);
						wrong++;
					}
					cJSON_Delete(reply);
					break;
				}
				is_ok = cJSON_IsTrue(cJSON_GetObjectItem(reply, "ok"));
				code = th_json_str(reply, "code");
				checks++;
				if(accept ? !is_ok : (is_ok || !code || strcmp(code, pubs[p].code))) {
					char *text = th_json_print(reply);
					th_log("%s publishing to %s: answer %s, expected %s", role_name[r],
					       topic, text, accept ? "ok" : pubs[p].code);
					free(text);
					wrong++;
				}
				cJSON_Delete(reply);
			}
		}
		if(r == ANON) {
			struct th_msg *m;
			/* a turn of the broker's loop, then: nothing under chat/ reached the anonymous client
			 */
			cJSON_Delete(tc_api(gen, "{\"op\":\"channels\"}"));
			while((m = th_wait_msg(c, "chat/#", 200)) != NULL) {
				th_log("anonymous received %s: %.*s", m->topic, m->len, (char *)m->payload);
				wrong++;
				th_msg_free(m);
			}
		}
		th_disconnect(c);
	}

	/* the watcher, a member, received exactly the accepted publishes, and the log grew only by the
	 * accepted sends */
	barrier(gen, &watcher, 1);
	for(size_t p = 0; p < NPUBS; p++) {
		int got = 0;
		struct th_msg *m;
		if(strncmp(pubs[p].topic, "chat/priv", 9) || !strcmp(pubs[p].topic, "chat/priv/presence")) {
			continue; /* not a topic of #priv the watcher receives publishes on */
		}
		while((m = th_wait_msg(watcher, pubs[p].topic, 0)) != NULL) {
			got++;
			th_msg_free(m);
		}
		checks++;
		if(got != accepted_deliveries[p]) {
			th_log("watcher: %d x %s, expected %d", got, pubs[p].topic, accepted_deliveries[p]);
			wrong++;
		}
	}
	{
		struct th_msg *m;
		int presence = 0;
		/* presence is not published by clients, but bo's connection (the member role) made him
		 * come online and go offline: two events; ada was online throughout, the others are not
		 * members */
		while((m = th_wait_msg(watcher, "chat/priv/presence", 0)) != NULL) {
			presence++;
			th_msg_free(m);
		}
		checks++;
		if(presence != 2) {
			th_log("watcher: %d presence events, expected 2", presence);
			wrong++;
		}
		while((m = th_wait_msg(watcher, "chat/#", 0)) != NULL) {
			th_log("watcher: unexpected %s: %.*s", m->topic, m->len, (char *)m->payload);
			wrong++;
			th_msg_free(m);
		}
	}
	page = tc_sync(gen, "priv", 0, 0);
	checks++;
	TH_EQ_INT(th_json_int(page, "head"), head_before + 3); /* the three members' sends */
	cJSON_Delete(page);
	th_log("publish matrix: %d roles x %zu topics, %lld outcomes checked, %d wrong", NROLES, NPUBS,
	       checks, wrong);
	TH_EQ_INT(wrong, 0);
	th_disconnect(watcher);
	th_disconnect(gen);
	th_broker_stop(&b);
}


/* Every role leaves a retained will, shaped like the next event, on every topic mqchat owns: none is
 * published (the watcher, a member on chat/#, gets none, live or retained); then every role tries
 * bo's client id while bo holds it: only bo's own user may. */
static void test_wills_and_takeovers(void)
{
	static const char *const will_topics[] =
		{"chat/priv",           "chat/priv/typing",   "chat/priv/read",
		 "chat/priv/delivered", "chat/priv/presence", "chat/_api",
		 "chat/_reply/bo-held", "chat/priv/sync",     "chat"};
	struct th_broker b;
	struct th_client *gen, *watcher, *held, *late, *taker;
	int wrong = 0;
	struct th_msg *m;

	setup(&b, &gen);
	watcher = th_connect(&b, "eve", "eve-watch", 5, true);
	TH_EQ_INT(th_subscribe(watcher, "chat/#", 1), 1);
	TH_EQ_INT(th_subscribe(watcher, "zz/barrier", 1), 1);
	held = th_connect(&b, "bo", "bo-held", 5, false);
	for(int r = 0; r < NROLES; r++) {
		for(size_t t = 0; t < sizeof(will_topics) / sizeof(will_topics[0]); t++) {
			char id[48], line[128];
			int fd;

			snprintf(id, sizeof(id), "%s-will-%zu", role_name[r], t);
			fd = th_raw_connect(
				&b, role_user[r], id,
				&(struct th_raw_options){
					.keepalive_s = 60,
					.clean_session = true,
					.will_topic = will_topics[t],
					.will_payload =
						"{\"channel\":\"priv\",\"seq\":9,\"type\":\"message\","
						"\"from\":\"ada\",\"body\":\"forged\"}",
					.will_qos = 1,
					.will_retain = true});
			close(fd);
			snprintf(line, sizeof(line), "refused the will of %s (%s) on %s", id,
				 role_user[r] ? role_user[r] : "anonymous", will_topics[t]);
			th_wait_until(th_broker_log_contains(&b, line), 5000);
			checks++;
		}
	}
	/* bo himself last: his own takeover ends his session, and frees the id */
	static const enum role takers[] = {OWNER, DEVICE, REMOVED, NONMEMBER, ANON, MEMBER};
	for(size_t i = 0; i < sizeof(takers) / sizeof(takers[0]); i++) {
		enum role r = takers[i];
		char password[32];
		int rc;
		bool may = r == MEMBER;

		snprintf(password, sizeof(password), "%s-pw", role_user[r] ? role_user[r] : "");
		rc = th_connect_rc(&b, role_user[r], role_user[r] ? password : NULL, "bo-held", 4, &taker);
		checks++;
		if(may != (rc == 0)) {
			th_log("%s connecting with bo's client id: CONNACK %d", role_name[r], rc);
			wrong++;
		}
		if(rc == 0) {
			th_disconnect(taker);
			th_disconnect(held);
			held = NULL;
		}
	}
	/* nothing forged reached the watcher, and nothing was retained for a new subscriber */
	barrier(gen, &watcher, 1);
	while((m = th_wait_msg(watcher, "chat/#", 0)) != NULL) {
		if(strcmp(m->topic, "chat/priv/presence") != 0) { /* bo coming and going is real */
			th_log("watcher: unexpected %s: %.*s", m->topic, m->len, (char *)m->payload);
			wrong++;
		}
		th_msg_free(m);
	}
	late = th_connect(&b, "eve", "eve-late", 5, true);
	TH_EQ_INT(th_subscribe(late, "chat/#", 1), 1);
	TH_EQ_INT(th_subscribe(late, "zz/barrier", 1), 1);
	barrier(gen, &late, 1);
	while((m = th_wait_msg(late, "chat/#", 0)) != NULL) {
		th_log("late subscriber: retained %s: %.*s", m->topic, m->len, (char *)m->payload);
		wrong++;
		th_msg_free(m);
	}
	th_log("wills and takeovers: %lld outcomes checked, %d wrong", checks, wrong);
	TH_EQ_INT(wrong, 0);
	th_disconnect(late);
	th_disconnect(held);
	th_disconnect(watcher);
	th_disconnect(gen);
	th_broker_stop(&b);
}


TH_TEST_LIST(TH_TEST(test_subscribe_and_deliver), TH_TEST(test_publish), TH_TEST(test_wills_and_takeovers))
