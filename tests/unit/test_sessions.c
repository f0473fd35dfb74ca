/*
 * test_sessions.c - client-id bindings (who may connect with an id, and for how long), wills (an ended
 * connection, one being taken over, a delayed will), the QoS 2 resend memory, the quiet limit on
 * rate_limited errors, and the store rows a flush writes.
 */
#include "sessions.h"
#include "th.h"

/* Stand-ins for the broker's client pointers: only their addresses matter. */
static char c1, c2, c3;

struct rows {
	char log[512];
	int fail_at; /* the write number that fails, 0 for none */
	int writes;
};

static int record_write(void *ctx, const char *client_id, const char *user)
{
	struct rows *r = ctx;
	size_t len = strlen(r->log);

	if(++r->writes == r->fail_at) {
		return -1;
	}
	snprintf(r->log + len, sizeof(r->log) - len, "%s=%s;", client_id, user ? user : "-");
	return 0;
}


static void test_an_id_belongs_to_its_user_while_connected(void)
{
	struct chat_sessions s = {0};
	const char *owner = NULL;

	TH_EQ_INT(chat_sessions__connecting(&s, &c1, "bo", "bo-phone", true, &owner), CHAT_SESSION_ACCEPT);
	TH_CHECK(owner == NULL);
	chat_sessions__confirm_pending(&s);
	TH_EQ_INT(chat_sessions__connecting(&s, &c2, "eve", "bo-phone", false, &owner), CHAT_SESSION_TAKEN);
	TH_EQ_STR(owner, "bo");
	TH_CHECK(chat_sessions__connected(&s, "bo-phone"));
	TH_CHECK(chat_sessions__client(&s, "bo-phone") == &c1);
	/* bo's own second connection with the id (a takeover by the same user) is his business */
	TH_EQ_INT(chat_sessions__connecting(&s, &c2, "bo", "bo-phone", true, NULL), CHAT_SESSION_ACCEPT);
	TH_CHECK(chat_sessions__client(&s, "bo-phone") == &c2);
	chat_sessions__gone(&s, &c1, CHAT_WILL_NONE);
	chat_sessions__gone(&s, &c2, CHAT_WILL_NONE);
	/* a clean session ended: the id is free */
	TH_CHECK(!chat_sessions__connected(&s, "bo-phone"));
	TH_EQ_INT(chat_sessions__connecting(&s, &c3, "eve", "bo-phone", true, NULL), CHAT_SESSION_ACCEPT);
	chat_sessions__clear(&s);
}


static void test_a_persistent_session_keeps_its_id_and_is_stored(void)
{
	struct chat_sessions s = {0};
	struct rows rows = {0};

	TH_EQ_INT(chat_sessions__connecting(&s, &c1, "bo", "bo-phone", false, NULL), CHAT_SESSION_ACCEPT);
	TH_EQ_INT(s.dirty, 0); /* not before the broker accepted it */
	chat_sessions__confirm_pending(&s);
	TH_EQ_INT(s.dirty, 1);
	chat_sessions__gone(&s, &c1, CHAT_WILL_NONE);
	TH_EQ_INT(chat_sessions__connecting(&s, &c2, "eve", "bo-phone", false, NULL), CHAT_SESSION_TAKEN);
	/* a failed write leaves it to write again */
	rows.fail_at = 1;
	TH_CHECK(chat_sessions__each_dirty(&s, record_write, &rows) != 0);
	TH_EQ_INT(s.dirty, 1);
	rows = (struct rows){0};
	TH_EQ_INT(chat_sessions__each_dirty(&s, record_write, &rows), 0);
	chat_sessions__flushed(&s);
	TH_EQ_STR(rows.log, "bo-phone=bo;");
	TH_EQ_INT(s.dirty, 0);
	/* bo comes back with a clean session: the row goes once it ends */
	TH_EQ_INT(chat_sessions__connecting(&s, &c3, "bo", "bo-phone", true, NULL), CHAT_SESSION_ACCEPT);
	chat_sessions__confirm_pending(&s);
	chat_sessions__gone(&s, &c3, CHAT_WILL_NONE);
	/* released at once, though its row is not deleted yet */
	TH_EQ_INT(chat_sessions__connecting(&s, &c1, "eve", "bo-phone", true, NULL), CHAT_SESSION_ACCEPT);
	chat_sessions__gone(&s, &c1, CHAT_WILL_NONE); /* refused later by the broker: never confirmed */
	rows = (struct rows){0};
	TH_EQ_INT(chat_sessions__each_dirty(&s, record_write, &rows), 0);
	chat_sessions__flushed(&s);
	TH_EQ_STR(rows.log, "bo-phone=-;");
	TH_CHECK(s.ids == NULL); /* nothing left */
	chat_sessions__clear(&s);
}


static void test_stored_bindings_hold_after_a_restart(void)
{
	struct chat_sessions s = {0};

	TH_EQ_INT(chat_sessions__load(&s, "bo-phone", "bo"), 0);
	TH_EQ_INT(chat_sessions__connecting(&s, &c1, "eve", "bo-phone", false, NULL), CHAT_SESSION_TAKEN);
	TH_EQ_INT(chat_sessions__connecting(&s, &c1, "bo", "bo-phone", false, NULL), CHAT_SESSION_ACCEPT);
	chat_sessions__clear(&s);
}


static void test_wills(void)
{
	struct chat_sessions s = {0};

	/* unknown to mqchat (another plugin authenticated it): not judged */
	TH_CHECK(!chat_sessions__publishing_will(&s, &c3));
	chat_sessions__connecting(&s, &c1, "mallory", "m-1", true, NULL);
	chat_sessions__confirm_pending(&s);
	TH_CHECK(!chat_sessions__publishing_will(&s, &c1)); /* a live connection publishing */
	/* a disconnect runs before the will's check */
	chat_sessions__gone(&s, &c1, CHAT_WILL_NOW);
	TH_CHECK(chat_sessions__publishing_will(&s, &c1));
	TH_CHECK(!chat_sessions__publishing_will(&s, &c1)); /* checked once */
	/* takeover: the old connection's will goes out while it is still live */
	chat_sessions__connecting(&s, &c1, "mallory", "m-2", false, NULL);
	chat_sessions__confirm_pending(&s);
	chat_sessions__connecting(&s, &c2, "mallory", "m-2", true, NULL);
	TH_CHECK(chat_sessions__publishing_will(&s, &c1));
	TH_CHECK(!chat_sessions__publishing_will(&s, &c2));
	/* the newcomer refused by the broker: the old one is not being replaced any more */
	chat_sessions__gone(&s, &c2, CHAT_WILL_NONE);
	TH_CHECK(!chat_sessions__publishing_will(&s, &c1));
	/* an immediate will is past at the end of the iteration; a delayed one stays until checked */
	chat_sessions__gone(&s, &c1, CHAT_WILL_DELAYED);
	chat_sessions__connecting(&s, &c2, "mallory", "m-3", true, NULL);
	chat_sessions__gone(&s, &c2, CHAT_WILL_NOW);
	chat_sessions__forget_ended(&s);
	TH_CHECK(!chat_sessions__publishing_will(&s, &c2));
	TH_CHECK(chat_sessions__publishing_will(&s, &c1));
	/* a delayed will is cancelled when its client id connects again */
	chat_sessions__connecting(&s, &c1, "mallory", "m-4", true, NULL);
	chat_sessions__gone(&s, &c1, CHAT_WILL_DELAYED);
	chat_sessions__connecting(&s, &c3, "mallory", "m-4", true, NULL);
	TH_CHECK(!chat_sessions__publishing_will(&s, &c1));
	chat_sessions__clear(&s);
}


static void test_qos2_resends(void)
{
	struct chat_sessions s = {0};
	uint64_t once = chat_sessions__hash("chat/ops", "once", 4);
	uint64_t other = chat_sessions__hash("chat/ops", "other", 5);

	TH_CHECK(once != other);
	TH_CHECK(chat_sessions__hash("chat/op", "sonce", 5) != once); /* topic and payload are apart */
	chat_sessions__connecting(&s, &c1, "ada", "ada-1", true, NULL);
	TH_CHECK(!chat_sessions__qos2_resent(&s, "ada-1", 7, false, once));
	chat_sessions__qos2_taken(&s, "ada-1", 7, once);
	TH_CHECK(chat_sessions__qos2_resent(&s, "ada-1", 7, true, once));   /* the DUP resend */
	TH_CHECK(!chat_sessions__qos2_resent(&s, "ada-1", 7, false, once)); /* a new publish, same id */
	TH_CHECK(!chat_sessions__qos2_resent(&s, "ada-1", 7, true, other)); /* another message */
	TH_CHECK(!chat_sessions__qos2_resent(&s, "ada-1", 8, true, once));
	TH_CHECK(!chat_sessions__qos2_resent(&s, "bo-1", 7, true, once));
	/* 64 ids are remembered; the oldest goes first */
	for(int mid = 100; mid < 164; mid++) {
		chat_sessions__qos2_taken(&s, "ada-1", (uint16_t)mid, once);
	}
	TH_CHECK(!chat_sessions__qos2_resent(&s, "ada-1", 7, true, once));
	TH_CHECK(chat_sessions__qos2_resent(&s, "ada-1", 163, true, once));
	chat_sessions__clear(&s);
}


static void test_rate_limited_is_said_once_a_second(void)
{
	struct chat_sessions s = {0};

	chat_sessions__connecting(&s, &c1, "ada", "ada-1", true, NULL);
	TH_CHECK(chat_sessions__may_say(&s, "ada-1", 1000, 1000));
	TH_CHECK(!chat_sessions__may_say(&s, "ada-1", 1999, 1000));
	TH_CHECK(chat_sessions__may_say(&s, "ada-1", 2000, 1000));
	TH_CHECK(chat_sessions__may_say(&s, "nobody", 2000, 1000));
	TH_CHECK(chat_sessions__note_dropped_reply(&s, "ada-1", 5000));
	TH_CHECK(!chat_sessions__note_dropped_reply(&s, "ada-1", 6000));
	chat_sessions__clear(&s);
}


TH_TEST_LIST(TH_TEST(test_an_id_belongs_to_its_user_while_connected),
	     TH_TEST(test_a_persistent_session_keeps_its_id_and_is_stored),
	     TH_TEST(test_stored_bindings_hold_after_a_restart), TH_TEST(test_wills),
	     TH_TEST(test_qos2_resends), TH_TEST(test_rate_limited_is_said_once_a_second))
