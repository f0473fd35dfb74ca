/*
 * test_checkers.c - the invariant checkers of the index and the batch catch what they are for.
 *
 * Each test builds a healthy state, checks that it passes, then breaks one invariant at a time by hand,
 * checks that the checker refuses it and names it, and mends it again. The last two show that the
 * assert() call sites are live in a build without NDEBUG: a child process breaks an invariant and calls
 * the code that asserts it, and dies of SIGABRT.
 */
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "batch.h"
#include "broker_stub.h"
#include "fixture.h"
#include "index.h"
#include "membership.h"
#include "send.h"
#include "th.h"

static struct ts_fixture fx;


#define EXPECT_INDEX_BROKEN(idx, words)                                                                      \
	do {                                                                                                 \
		char why_[256] = "";                                                                         \
		TH_CHECKF(!chat_index__check_why((idx), why_, sizeof(why_)), "%s", "not caught: " words);    \
		TH_CHECKF(strstr(why_, (words)) != NULL, "caught as \"%s\", not \"%s\"", why_, (words));     \
	} while(0)

#define EXPECT_INDEX_WHOLE(idx)                                                                              \
	do {                                                                                                 \
		char why_[256] = "";                                                                         \
		TH_CHECKF(chat_index__check_why((idx), why_, sizeof(why_)), "%s", why_);                     \
	} while(0)

#define EXPECT_BATCH_BROKEN(batch, words)                                                                    \
	do {                                                                                                 \
		char why_[256] = "";                                                                         \
		TH_CHECKF(!chat_batch__check_why((batch), why_, sizeof(why_)), "%s", "not caught: " words);  \
		TH_CHECKF(strstr(why_, (words)) != NULL, "caught as \"%s\", not \"%s\"", why_, (words));     \
	} while(0)

#define EXPECT_BATCH_WHOLE(batch)                                                                            \
	do {                                                                                                 \
		char why_[256] = "";                                                                         \
		TH_CHECKF(chat_batch__check_why((batch), why_, sizeof(why_)), "%s", why_);                   \
	} while(0)


/* #general (public: ada the owner, bo; head 3, one message by ada) and #ops (private: ada, cy). */
static void build_index(struct chat_index *idx, struct chat_channel **general, struct chat_channel **ops)
{
	struct chat_event msg = {.seq = 3, .type = CHAT_EVENT_MESSAGE, .ts = 1000, .msg_no = 1};

	memset(idx, 0, sizeof(*idx));
	*general = chat_index__add_channel(idx, 1, "general", "General", CHAT_VISIBILITY_PUBLIC, "e-1");
	*ops = chat_index__add_channel(idx, 2, "ops", NULL, CHAT_VISIBILITY_PRIVATE, "e-2");
	TH_CHECK(*general != NULL && *ops != NULL);
	TH_EQ_INT(chat_index__add_member(idx, *general, "ada", CHAT_ROLE_OWNER, 1), 0);
	TH_EQ_INT(chat_index__add_member(idx, *general, "bo", CHAT_ROLE_MEMBER, 2), 0);
	chat_index__advance_head(*general, &msg);
	chat_index__member(*general, "ada")->own_messages = 1;
	TH_EQ_INT(chat_index__set_delivery(chat_index__member(*general, "bo"), "bo-laptop", 3), 0);
	(*ops)->head = 2;
	TH_EQ_INT(chat_index__add_member(idx, *ops, "ada", CHAT_ROLE_OWNER, 1), 0);
	TH_EQ_INT(chat_index__add_member(idx, *ops, "cy", CHAT_ROLE_MEMBER, 2), 0);
}


static struct chat_membership *membership_of(struct chat_index *idx, const char *user,
					     const struct chat_channel *ch)
{
	const struct chat_user *u = chat_index__user(idx, user);
	struct chat_membership *ms = NULL;

	TH_CHECK(u != NULL);
	HASH_FIND_PTR(u->channels, &ch, ms);
	TH_CHECK(ms != NULL);
	return ms;
}


/* Heads, members, the two directions of membership, names as keys, the generation. */
static void test_index_checker(void)
{
	struct chat_channel *general, *ops;
	struct chat_membership *ms;
	struct chat_member *m;
	struct chat_user *u;
	struct chat_index idx;
	int64_t saved;

	build_index(&idx, &general, &ops);
	EXPECT_INDEX_WHOLE(&idx);
	TH_CHECK(chat_index__check(&idx));

	/* heads */
	general->last_message_seq = 4;
	EXPECT_INDEX_BROKEN(&idx, "#general: last message 4 after the head 3");
	general->last_message_seq = 3;
	general->message_count = 4;
	EXPECT_INDEX_BROKEN(&idx, "#general: 4 messages up to the last one, seq 3");
	general->message_count = 0;
	EXPECT_INDEX_BROKEN(&idx, "#general: 0 messages but the last one is seq 3");
	general->message_count = 1;
	general->head = -1;
	EXPECT_INDEX_BROKEN(&idx, "#general: a negative head");
	general->head = 3;
	EXPECT_INDEX_WHOLE(&idx);

	/* members */
	m = chat_index__member(general, "ada");
	m->own_messages = 2;
	EXPECT_INDEX_BROKEN(&idx, "#general: member ada sent 2 of its 1 messages");
	m->own_messages = -1;
	m->joined_seq = 9;
	EXPECT_INDEX_BROKEN(&idx, "#general: member ada joined at 9, after the head 3");
	m->joined_seq = 1;
	m->role = (enum chat_role)7;
	EXPECT_INDEX_BROKEN(&idx, "#general: member ada has role 7");
	m->role = CHAT_ROLE_OWNER;
	chat_index__delivery(chat_index__member(general, "bo"), "bo-laptop")->seq = -3;
	EXPECT_INDEX_BROKEN(&idx, "delivery cursor of bo-laptop (-3) is broken");
	chat_index__delivery(chat_index__member(general, "bo"), "bo-laptop")->seq = 3;
	m->user[0] = 'A'; /* renamed behind the table's back: no longer found under its key */
	EXPECT_INDEX_BROKEN(&idx, "#general: member Ada is not found under its name");
	m->user[0] = 'a';
	EXPECT_INDEX_WHOLE(&idx);

	/* channel -> user: ada's membership of #ops taken out of her channels */
	u = (struct chat_user *)chat_index__user(&idx, "ada");
	ms = membership_of(&idx, "ada", ops);
	HASH_DEL(u->channels, ms);
	EXPECT_INDEX_BROKEN(&idx, "#ops: member ada is not in its user's channels");
	HASH_ADD_PTR(u->channels, channel, ms);
	EXPECT_INDEX_WHOLE(&idx);

	/* user -> channel: cy taken out of #ops' members, her user entry left */
	m = chat_index__member(ops, "cy");
	HASH_DEL(ops->members, m);
	EXPECT_INDEX_BROKEN(&idx, "user cy maps to #ops, which does not have it as a member");
	HASH_ADD(hh, ops->members, user[0], strlen(m->user), m);
	EXPECT_INDEX_WHOLE(&idx);

	/* a user kept with no channel */
	ms = membership_of(&idx, "cy", ops);
	u = (struct chat_user *)chat_index__user(&idx, "cy");
	m = chat_index__member(ops, "cy");
	HASH_DEL(u->channels, ms);
	HASH_DEL(ops->members, m);
	EXPECT_INDEX_BROKEN(&idx, "user cy is kept with no channel");
	HASH_ADD(hh, ops->members, user[0], strlen(m->user), m);
	HASH_ADD_PTR(u->channels, channel, ms);
	EXPECT_INDEX_WHOLE(&idx);

	/* channel names and the generation */
	general->name[0] = 'G';
	EXPECT_INDEX_BROKEN(&idx, "#General is not found under its name");
	general->name[0] = 'g';
	saved = (int64_t)idx.generation;
	idx.generation = 1;
	EXPECT_INDEX_BROKEN(&idx, "generation 1 with 2 channels");
	idx.generation = (unsigned long)saved;
	EXPECT_INDEX_WHOLE(&idx);
	TH_CHECK(chat_index__check_channel(&idx, general, NULL, 0));

	/* The generation only grows: removing and clearing move it too. */
	chat_index__remove_member(&idx, ops, "cy");
	EXPECT_INDEX_WHOLE(&idx);
	TH_CHECK(chat_index__user(&idx, "cy") == NULL);
	chat_index__clear(&idx);
	TH_CHECK(idx.generation == (unsigned long)saved + 2);
	EXPECT_INDEX_WHOLE(&idx);
}


/* ---- the batch ------------------------------------------------------------------------------------ */

static enum chat_err send_as(const char *user, const char *device, const char *channel, const char *payload)
{
	struct chat_requester who = {user, device};
	struct chat_reply_to rt;
	enum chat_err rc;

	TH_EQ_INT(ts_fixture_reply_to(&fx, &rt, device, NULL), 0);
	rc = chat_send__serve_or_reply(fx.plugin, &who, &rt, channel, strlen(channel), payload,
				       strlen(payload));
	chat_reply_to__clear(&rt);
	return rc;
}


/* A batch of three sends in two channels, open. */
static void open_batch(struct chat_channel **general, struct chat_channel **ops)
{
	static const char *const options[] = {"send_rate=0", NULL};
	struct chat_requester ada = {"ada", "ada-phone"};
	const char *members[] = {"bo"};
	struct chat_error err = {0};
	char why[256] = "";

	TH_CHECKF(ts_fixture_open(&fx, options, why, sizeof(why)) == 0, "%s", why);
	TH_CHECK(ts_fixture_connect(&fx, "ada", "ada-phone") != NULL);
	TH_CHECK(ts_fixture_connect(&fx, "bo", "bo-laptop") != NULL);
	TH_EQ_INT(chat_membership__create(fx.plugin, &ada, "general", CHAT_VISIBILITY_PUBLIC, "", members, 1,
					  general, &err),
		  CHAT_ERR_OK);
	TH_EQ_INT(chat_membership__create(fx.plugin, &ada, "ops", CHAT_VISIBILITY_PRIVATE, "", members, 1,
					  ops, &err),
		  CHAT_ERR_OK);
	EXPECT_BATCH_WHOLE(fx.plugin->batch); /* closed and empty */
	TH_EQ_INT(send_as("ada", "ada-phone", "general", "{\"client_msg_id\":\"a\",\"body\":\"one\"}"),
		  CHAT_ERR_OK);
	TH_EQ_INT(send_as("bo", "bo-laptop", "general", "two"), CHAT_ERR_OK);
	TH_EQ_INT(send_as("bo", "bo-laptop", "ops", "three"), CHAT_ERR_OK);
	TH_EQ_INT(fx.plugin->batch->events, 3);
	EXPECT_BATCH_WHOLE(fx.plugin->batch);
	TH_CHECK(chat_batch__check(fx.plugin->batch));
}


/* Counts, the queue's shape, saved heads against current ones, gapless seqs, senders, counters. */
static void test_batch_checker(void)
{
	struct chat_channel *general, *ops;
	struct chat_batch *batch;
	struct chat_batch_item *last;

	open_batch(&general, &ops);
	batch = fx.plugin->batch;

	batch->events++;
	EXPECT_BATCH_BROKEN(batch, "events is 4, the queue holds 3");
	batch->events--;

	/* a head moved without its event, or put back behind the batch's start */
	general->head++;
	EXPECT_BATCH_BROKEN(batch, "#general: head 5 from 2");
	general->head -= 4;
	EXPECT_BATCH_BROKEN(batch, "#general: restoring would move it forward (head 1 -> 2");
	general->head += 3;
	general->message_count += 3;
	general->last_message_seq += 3;
	EXPECT_BATCH_BROKEN(batch, "#general: head 4 from 2 (5 messages from 0) with 2 events");
	general->message_count -= 3;
	general->last_message_seq -= 3;
	ops->head = 1;
	EXPECT_BATCH_BROKEN(batch, "#ops: restoring would move it forward (head 1 -> 2");
	ops->head = 3;
	EXPECT_BATCH_WHOLE(batch);

	/* open without a transaction's worth, closed with one */
	batch->open = false;
	EXPECT_BATCH_BROKEN(batch, "a closed batch holds items");
	batch->open = true;

	/* the queue: last not at the end, a cycle */
	last = batch->last;
	batch->last = batch->first;
	EXPECT_BATCH_BROKEN(batch, "last is not the end of the queue");
	batch->last = NULL;
	EXPECT_BATCH_BROKEN(batch, "first and last disagree");
	batch->last = last;
	*(struct chat_batch_item **)last = batch->first; /* next is the item's first field */
	EXPECT_BATCH_BROKEN(batch, "the queue has a cycle");
	*(struct chat_batch_item **)last = NULL;
	EXPECT_BATCH_WHOLE(batch);

	/* senders and counters */
	batch->senders[0] = batch->senders[1] = 7;
	batch->nsenders = 2;
	EXPECT_BATCH_BROKEN(batch, "sender socket 7 is watched twice");
	batch->senders[1] = -1;
	EXPECT_BATCH_BROKEN(batch, "sender socket -1 is not a socket");
	batch->nsenders = CHAT_BATCH_MAX_SENDERS + 1;
	EXPECT_BATCH_BROKEN(batch, "17 senders watched");
	batch->nsenders = 0;
	batch->commits = batch->committed + 1;
	EXPECT_BATCH_BROKEN(batch, "commits of");
	batch->commits = batch->committed;
	EXPECT_BATCH_WHOLE(batch);

	/* committed: closed and empty, and an open batch needs an event */
	ts_fixture_tick(&fx);
	TH_CHECK(!batch->open);
	EXPECT_BATCH_WHOLE(batch);
	batch->open = true;
	EXPECT_BATCH_BROKEN(batch, "an open batch with no event");
	batch->open = false;
	EXPECT_INDEX_WHOLE(&fx.plugin->index);
	ts_fixture_close(&fx);
	ts_broker_reset();
}


/* ---- the asserts are live without NDEBUG ---------------------------------------------------------- */

#ifndef NDEBUG

/* Runs fn in a child whose stderr is captured; returns how it ended, its stderr in out. */
static int run_child(void (*fn)(void), char *out, size_t out_len)
{
	int fds[2], status = 0;
	ssize_t got, used = 0;
	pid_t pid;

	TH_EQ_INT(pipe(fds), 0);
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	TH_CHECK(pid >= 0);
	if(pid == 0) {
		dup2(fds[1], STDERR_FILENO);
		close(fds[0]);
		fn();
		_exit(0); /* the assert did not fire */
	}
	close(fds[1]);
	while(used < (ssize_t)out_len - 1
	      && (got = read(fds[0], out + used, out_len - 1 - (size_t)used)) > 0) {
		used += got;
	}
	out[used] = '\0';
	close(fds[0]);
	TH_EQ_INT(waitpid(pid, &status, 0), pid);
	return status;
}


static void break_batch_then_flush(void)
{
	fx.plugin->batch->events++;
	chat_batch__flush(fx.plugin); /* asserts chat_batch__check before it commits anything */
}


static void break_heads_then_advance(void)
{
	struct chat_channel *general, *ops;
	struct chat_event join = {.seq = 4, .type = CHAT_EVENT_JOIN, .ts = 2000, .msg_no = 1};
	struct chat_index idx;

	build_index(&idx, &general, &ops);
	general->last_message_seq = 0; /* a message counted, none recorded */
	chat_index__advance_head(general, &join);
}


#endif


static void test_asserts_fire(void)
{
#ifdef NDEBUG
	th_log("NDEBUG: the checkers' asserts are compiled out in this build; nothing to show");
#else
	struct chat_channel *general, *ops;
	char err[2048];
	int status;

	open_batch(&general, &ops);
	status = run_child(break_batch_then_flush, err, sizeof(err));
	TH_CHECKF(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT, "the child ended with status %d",
		  status);
	TH_CHECKF(strstr(err, "chat_batch__check: events is 4, the queue holds 3") != NULL, "stderr: %s",
		  err);
	TH_EQ_INT(fx.plugin->batch->events, 3); /* the parent's batch is untouched */
	ts_fixture_tick(&fx);
	ts_fixture_close(&fx);
	ts_broker_reset();

	status = run_child(break_heads_then_advance, err, sizeof(err));
	TH_CHECKF(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT, "the child ended with status %d",
		  status);
	TH_CHECKF(strstr(err, "heads_ok") != NULL, "stderr: %s", err);
#endif
}


TH_TEST_LIST(TH_TEST(test_index_checker), TH_TEST(test_batch_checker), TH_TEST(test_asserts_fire))
