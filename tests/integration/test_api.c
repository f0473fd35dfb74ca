/*
 * test_api.c - chat/_api: create, join, leave, invite, remove, dm, channels, members, directory. Membership
 * changes are events in the log, delivered live like messages.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "th_chat.h"

static void test_create(void)
{
	struct tc_team f;
	cJSON *reply, *history;

	tc_team_start(&f);
	reply = tc_api(
		f.ada,
		"{\"op\":\"create\",\"channel\":\"proj\",\"visibility\":\"private\",\"title\":\"Project X\","
		"\"members\":[\"bo\",\"cy\",\"bo\",\"ada\"],\"ref\":\"r-1\"}");
	TH_JSON(reply, "{\"ok\":true,\"kind\":\"api\",\"op\":\"create\",\"channel\":\"proj\",\"title\":"
		       "\"Project X\","
		       "\"visibility\":\"private\",\"epoch\":\"*\",\"head\":3,\"ref\":\"r-1\"}");
	cJSON_Delete(reply);
	history = tc_history(f.bo, "proj");
	TH_JSON(history, "[{\"id\":\"*\",\"channel\":\"proj\",\"seq\":1,\"type\":\"join\",\"from\":\"ada\","
			 "\"device\":\"ada-1\","
			 "\"ts\":\"*\",\"user\":\"ada\"},"
			 "{\"id\":\"*\",\"channel\":\"proj\",\"seq\":2,\"type\":\"join\",\"from\":\"ada\","
			 "\"device\":\"ada-1\","
			 "\"ts\":\"*\",\"user\":\"bo\"},"
			 "{\"id\":\"*\",\"channel\":\"proj\",\"seq\":3,\"type\":\"join\",\"from\":\"ada\","
			 "\"device\":\"ada-1\","
			 "\"ts\":\"*\",\"user\":\"cy\"}]");
	cJSON_Delete(history);
	reply = tc_api(f.bo, "{\"op\":\"members\",\"channel\":\"proj\",\"ref\":7}");
	TH_JSON(reply, "{\"ok\":true,\"kind\":\"api\",\"op\":\"members\",\"channel\":\"proj\",\"members\":["
		       "{\"user\":\"ada\",\"role\":\"owner\",\"online\":true,\"read\":1},"
		       "{\"user\":\"bo\",\"role\":\"member\",\"online\":true,\"read\":2},"
		       "{\"user\":\"cy\",\"role\":\"member\",\"online\":true,\"read\":3}],\"ref\":7}");
	cJSON_Delete(reply);
	reply = tc_api(f.dee, "{\"op\":\"create\",\"channel\":\"proj\",\"ref\":8}");
	TH_JSON(reply, "{\"ok\":false,\"kind\":\"error\",\"code\":\"conflict\",\"message\":\"channel #proj "
		       "already exists\","
		       "\"request\":\"api\",\"op\":\"create\",\"channel\":\"proj\",\"ref\":8}");
	cJSON_Delete(reply);
	tc_expect_error(tc_api(f.dee, "{\"op\":\"create\",\"channel\":\"x\",\"visibility\":\"secret\"}"),
			"bad_request", "visibility must be public or private");
	tc_expect_error(tc_api(f.dee, "{\"op\":\"create\",\"channel\":\"x\",\"members\":\"bo\"}"),
			"bad_request", "members must be an array of at most 1000 user names");
	tc_expect_error(tc_api(f.dee, "{\"op\":\"create\"}"), "bad_request", "channel is required");
	tc_expect_error(tc_api(f.dee, "{\"channel\":\"x\"}"), "bad_request", "op is required");
	tc_team_stop(&f);
}


static void test_join_and_leave(void)
{
	struct tc_team f;
	cJSON *reply;

	tc_team_start(&f);
	tc_api_ok(f.ada, "{\"op\":\"create\",\"channel\":\"general\",\"title\":\"General\"}");
	TH_EQ_INT(th_subscribe(f.ada, "chat/general", 1), 1);
	reply = tc_api(f.dee, "{\"op\":\"join\",\"channel\":\"general\"}");
	TH_JSON(reply,
		"{\"ok\":true,\"kind\":\"api\",\"op\":\"join\",\"channel\":\"general\",\"title\":\"General\","
		"\"visibility\":\"public\",\"epoch\":\"*\",\"head\":2,\"joined\":true}");
	cJSON_Delete(reply);
	tc_expect_event_matching(
		f.ada, "general",
		"{\"id\":\"*\",\"channel\":\"general\",\"seq\":2,\"type\":\"join\",\"from\":\"dee\","
		"\"device\":\"dee-1\",\"ts\":\"*\",\"user\":\"dee\"}");
	reply = tc_api(f.dee, "{\"op\":\"join\",\"channel\":\"general\"}"); /* already a member: no event */
	TH_CHECK(cJSON_IsFalse(cJSON_GetObjectItem(reply, "joined")));
	TH_EQ_INT(th_json_int(reply, "head"), 2);
	cJSON_Delete(reply);

	reply = tc_api(f.dee, "{\"op\":\"leave\",\"channel\":\"general\"}");
	TH_JSON(reply, "{\"ok\":true,\"kind\":\"api\",\"op\":\"leave\",\"channel\":\"general\"}");
	cJSON_Delete(reply);
	tc_expect_event_matching(
		f.ada, "general",
		"{\"id\":\"*\",\"channel\":\"general\",\"seq\":3,\"type\":\"leave\",\"from\":\"dee\","
		"\"device\":\"dee-1\",\"ts\":\"*\",\"user\":\"dee\"}");
	tc_expect_error(tc_api(f.dee, "{\"op\":\"leave\",\"channel\":\"general\"}"), "not_member",
			"dee is not a member of #general");
	/* the leave is in the log, and dee no longer gets anything */
	tc_expect_error(tc_sync(f.dee, "general", 0, 0), "not_member", NULL);
	/* public: anyone may look, but only members see read cursors */
	reply = tc_api(f.dee, "{\"op\":\"members\",\"channel\":\"general\"}");
	TH_JSON(reply,
		"{\"ok\":true,\"kind\":\"api\",\"op\":\"members\",\"channel\":\"general\",\"members\":["
		"{\"user\":\"ada\",\"role\":\"owner\",\"online\":true}]}");
	cJSON_Delete(reply);
	tc_team_stop(&f);
}


static void test_invite_and_remove(void)
{
	struct tc_team f;
	cJSON *reply;

	tc_team_start(&f);
	tc_api_ok(f.ada,
		  "{\"op\":\"create\",\"channel\":\"ops\",\"visibility\":\"private\",\"members\":[\"bo\"]}");
	/* to dee, who is not in it, the private #ops does not exist (test_abuse_limits has the rest) */
	tc_expect_error(tc_api(f.dee, "{\"op\":\"join\",\"channel\":\"ops\"}"), "no_such_channel",
			"there is no channel #ops");
	tc_expect_error(tc_api(f.bo, "{\"op\":\"invite\",\"channel\":\"ops\",\"user\":\"dee\"}"), "forbidden",
			"only an owner of #ops may invite");
	tc_expect_error(tc_api(f.dee, "{\"op\":\"invite\",\"channel\":\"ops\",\"user\":\"dee\"}"),
			"no_such_channel", "there is no channel #ops");
	reply = tc_api(f.ada, "{\"op\":\"invite\",\"channel\":\"ops\",\"user\":\"dee\"}");
	TH_JSON(reply, "{\"ok\":true,\"kind\":\"api\",\"op\":\"invite\",\"channel\":\"ops\",\"user\":\"dee\","
		       "\"added\":true}");
	cJSON_Delete(reply);
	reply = tc_api(f.ada, "{\"op\":\"invite\",\"channel\":\"ops\",\"user\":\"dee\"}");
	TH_CHECK(cJSON_IsFalse(cJSON_GetObjectItem(reply, "added")));
	cJSON_Delete(reply);
	TH_EQ_INT(th_subscribe(f.dee, "chat/ops", 1), 1);

	tc_expect_error(tc_api(f.bo, "{\"op\":\"remove\",\"channel\":\"ops\",\"user\":\"dee\"}"), "forbidden",
			"only an owner of #ops may remove members");
	tc_expect_error(tc_api(f.ada, "{\"op\":\"remove\",\"channel\":\"ops\",\"user\":\"ada\"}"),
			"bad_request", "to remove yourself, leave");
	tc_expect_error(tc_api(f.ada, "{\"op\":\"remove\",\"channel\":\"ops\",\"user\":\"cy\"}"),
			"not_member", "cy is not a member of #ops");
	reply = tc_api(f.ada, "{\"op\":\"remove\",\"channel\":\"ops\",\"user\":\"bo\"}");
	TH_JSON(reply,
		"{\"ok\":true,\"kind\":\"api\",\"op\":\"remove\",\"channel\":\"ops\",\"user\":\"bo\"}");
	cJSON_Delete(reply);
	tc_expect_event_matching(
		f.dee, "ops",
		"{\"id\":\"*\",\"channel\":\"ops\",\"seq\":4,\"type\":\"leave\",\"from\":\"ada\","
		"\"device\":\"ada-1\",\"ts\":\"*\",\"user\":\"bo\"}");

	/* in a public channel any member may invite */
	tc_api_ok(f.ada, "{\"op\":\"create\",\"channel\":\"open\",\"members\":[\"bo\"]}");
	tc_api_ok(f.bo, "{\"op\":\"invite\",\"channel\":\"open\",\"user\":\"cy\"}");
	tc_team_stop(&f);
}


/* When the last owner leaves, the longest-standing member becomes owner. */
static void test_owner_succession(void)
{
	struct tc_team f;
	cJSON *reply;

	tc_team_start(&f);
	tc_api_ok(f.ada, "{\"op\":\"create\",\"channel\":\"ops\",\"visibility\":\"private\",\"members\":["
			 "\"bo\",\"cy\"]}");
	tc_api_ok(f.ada, "{\"op\":\"leave\",\"channel\":\"ops\"}");
	reply = tc_api(f.bo, "{\"op\":\"members\",\"channel\":\"ops\"}");
	TH_JSON(reply, "{\"ok\":true,\"kind\":\"api\",\"op\":\"members\",\"channel\":\"ops\",\"members\":["
		       "{\"user\":\"bo\",\"role\":\"owner\",\"online\":true,\"read\":\"*\"},"
		       "{\"user\":\"cy\",\"role\":\"member\",\"online\":true,\"read\":\"*\"}]}");
	cJSON_Delete(reply);
	tc_api_ok(f.bo, "{\"op\":\"invite\",\"channel\":\"ops\",\"user\":\"dee\"}");
	/* and it survives a restart, since it is stored */
	th_disconnect(f.bo);
	th_broker_restart(&f.b);
	f.bo = th_connect(&f.b, "bo", "bo-1", 5, true);
	reply = tc_api(f.bo, "{\"op\":\"members\",\"channel\":\"ops\"}");
	TH_JSON(reply, "{\"ok\":true,\"kind\":\"api\",\"op\":\"members\",\"channel\":\"ops\",\"members\":["
		       "{\"user\":\"bo\",\"role\":\"owner\",\"online\":true,\"read\":\"*\"},"
		       "{\"user\":\"cy\",\"role\":\"member\",\"online\":false,\"read\":\"*\"},"
		       "{\"user\":\"dee\",\"role\":\"member\",\"online\":false,\"read\":\"*\"}]}");
	cJSON_Delete(reply);
	th_disconnect(f.bo);
	th_broker_stop(&f.b);
}


static void test_direct_channels(void)
{
	struct tc_team f;
	cJSON *first, *again, *reverse;
	char filter[128];

	tc_team_start(&f);
	first = tc_api(f.ada, "{\"op\":\"dm\",\"user\":\"bo\"}");
	TH_JSON(first, "{\"ok\":true,\"kind\":\"api\",\"op\":\"dm\",\"channel\":\"*\",\"title\":\"\","
		       "\"visibility\":\"dm\","
		       "\"epoch\":\"*\",\"head\":2,\"user\":\"bo\",\"created\":true}");
	TH_CHECK(strncmp(th_json_str(first, "channel"), "dm-", 3) == 0);
	again = tc_api(f.ada, "{\"op\":\"dm\",\"user\":\"bo\"}");
	TH_CHECK(cJSON_IsFalse(cJSON_GetObjectItem(again, "created")));
	TH_EQ_STR(th_json_str(again, "channel"), th_json_str(first, "channel"));
	reverse = tc_api(f.bo, "{\"op\":\"dm\",\"user\":\"ada\"}");
	TH_EQ_STR(th_json_str(reverse, "channel"), th_json_str(first, "channel"));

	snprintf(filter, sizeof(filter), "chat/%s", th_json_str(first, "channel"));
	TH_EQ_INT(th_subscribe(f.bo, filter, 1), 1);
	TH_EQ_INT(th_subscribe(f.cy, filter, 1), 0x80);
	cJSON_Delete(tc_send(f.ada, th_json_str(first, "channel"), "d1", "psst"));
	cJSON_Delete(th_expect_json(f.bo, filter));

	tc_expect_error(tc_api(f.ada, "{\"op\":\"dm\",\"user\":\"ada\"}"), "bad_request",
			"a direct channel needs another user");
	tc_expect_error(tc_api(f.ada, "{\"op\":\"leave\",\"channel\":\"%s\"}", th_json_str(first, "channel")),
			"forbidden", "a direct channel cannot be left");
	tc_expect_error(tc_api(f.ada, "{\"op\":\"invite\",\"channel\":\"%s\",\"user\":\"cy\"}",
			       th_json_str(first, "channel")),
			"forbidden", "a direct channel has no room for more members");
	/* a dm is private: to cy it does not exist */
	tc_expect_error(tc_api(f.cy, "{\"op\":\"join\",\"channel\":\"%s\"}", th_json_str(first, "channel")),
			"no_such_channel", NULL);
	tc_expect_error(tc_api(f.cy, "{\"op\":\"members\",\"channel\":\"%s\"}",
			       th_json_str(first, "channel")),
			"no_such_channel", NULL);
	cJSON_Delete(first);
	cJSON_Delete(again);
	cJSON_Delete(reverse);
	tc_team_stop(&f);
}


/* Activity is ordered by the server's millisecond clock: let it tick between two actions. */
static void next_millisecond(void)
{
	long long start = th_now_ms();

	th_wait_until(th_now_ms() > start + 1, 100);
}


/* The inbox: my channels, latest activity first, each with its head and last message. */
static void test_channels_inbox(void)
{
	struct tc_team f;
	cJSON *reply, *last, *history, *dm;

	tc_team_start(&f);
	tc_api_ok(f.ada, "{\"op\":\"create\",\"channel\":\"alpha\",\"members\":[\"bo\"]}");
	next_millisecond();
	tc_api_ok(f.ada, "{\"op\":\"create\",\"channel\":\"beta\"}");
	next_millisecond();
	tc_api_ok(f.bo, "{\"op\":\"create\",\"channel\":\"gamma\",\"members\":[\"ada\"]}");
	next_millisecond();
	cJSON_Delete(tc_send(f.bo, "alpha", "a1", "latest in alpha"));
	next_millisecond();
	dm = tc_api(f.cy, "{\"op\":\"dm\",\"user\":\"ada\"}");
	reply = tc_api(f.ada, "{\"op\":\"channels\"}");
	TH_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(reply, "channels")), 4);
	TH_JSON(cJSON_GetArrayItem(cJSON_GetObjectItem(reply, "channels"), 0),
		"{\"channel\":\"*\",\"title\":\"\",\"visibility\":\"dm\",\"epoch\":\"*\",\"head\":2,\"user\":"
		"\"cy\","
		"\"read\":2,\"unread\":0,\"last\":null,\"mentions\":0,\"notify\":\"all\"}");
	TH_EQ_STR(th_json_str(cJSON_GetArrayItem(cJSON_GetObjectItem(reply, "channels"), 0), "channel"),
		  th_json_str(dm, "channel"));
	TH_JSON(cJSON_GetArrayItem(cJSON_GetObjectItem(reply, "channels"), 1),
		"{\"channel\":\"alpha\",\"title\":\"\",\"visibility\":\"public\",\"epoch\":\"*\",\"head\":3,"
		"\"read\":1,\"unread\":1,\"last\":\"*\",\"mentions\":0,\"notify\":\"all\"}");
	last = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(reply, "channels"), 1), "last");
	history = tc_history(f.ada, "alpha");
	TH_CHECK(cJSON_Compare(last, cJSON_GetArrayItem(history, 2), true));
	TH_EQ_STR(th_json_str(cJSON_GetArrayItem(cJSON_GetObjectItem(reply, "channels"), 2), "channel"),
		  "gamma");
	TH_EQ_STR(th_json_str(cJSON_GetArrayItem(cJSON_GetObjectItem(reply, "channels"), 3), "channel"),
		  "beta");
	cJSON_Delete(history);
	cJSON_Delete(reply);
	cJSON_Delete(dm);
	reply = tc_api(f.dee, "{\"op\":\"channels\",\"ref\":\"empty\"}");
	TH_JSON(reply,
		"{\"ok\":true,\"kind\":\"api\",\"op\":\"channels\",\"channels\":[],\"ref\":\"empty\"}");
	cJSON_Delete(reply);
	tc_team_stop(&f);
}


/* The directory lists public channels only, by name, in pages, with their title, member count and
 * whether the asker is in each; a join from it works. */
static void test_directory(void)
{
	struct tc_team f;
	cJSON *reply;

	tc_team_start(&f);
	tc_api_ok(f.ada, "{\"op\":\"create\",\"channel\":\"beta\",\"title\":\"Beta\"}");
	tc_api_ok(f.ada,
		  "{\"op\":\"create\",\"channel\":\"alpha\",\"title\":\"Alpha\",\"members\":[\"bo\"]}");
	tc_api_ok(f.ada, "{\"op\":\"create\",\"channel\":\"gamma\"}");
	tc_api_ok(f.ada, "{\"op\":\"create\",\"channel\":\"secret\",\"visibility\":\"private\"}");
	tc_api_ok(f.ada, "{\"op\":\"dm\",\"user\":\"bo\"}");

	reply = tc_api(f.dee, "{\"op\":\"directory\",\"limit\":2,\"ref\":\"d1\"}");
	TH_JSON(reply, "{\"ok\":true,\"kind\":\"api\",\"op\":\"directory\",\"ref\":\"d1\",\"channels\":["
		       "{\"channel\":\"alpha\",\"title\":\"Alpha\",\"members\":2,\"member\":false},"
		       "{\"channel\":\"beta\",\"title\":\"Beta\",\"members\":1,\"member\":false}],"
		       "\"next\":\"beta\"}");
	cJSON_Delete(reply);
	reply = tc_api(f.dee, "{\"op\":\"directory\",\"after\":\"beta\"}");
	TH_JSON(reply,
		"{\"ok\":true,\"kind\":\"api\",\"op\":\"directory\",\"channels\":["
		"{\"channel\":\"gamma\",\"title\":\"*\",\"members\":1,\"member\":false}],\"next\":null}");
	cJSON_Delete(reply);
	tc_api_ok(f.dee, "{\"op\":\"join\",\"channel\":\"gamma\"}");
	reply = tc_api(f.dee, "{\"op\":\"directory\",\"after\":\"beta\"}");
	TH_JSON(reply,
		"{\"ok\":true,\"kind\":\"api\",\"op\":\"directory\",\"channels\":["
		"{\"channel\":\"gamma\",\"title\":\"*\",\"members\":2,\"member\":true}],\"next\":null}");
	cJSON_Delete(reply);
	tc_expect_error(tc_api(f.dee, "{\"op\":\"directory\",\"limit\":501}"), "bad_request", NULL);
	tc_team_stop(&f);
}


/* The inbox's last preview shows a message as it reads now: its latest edit (marked edited), and
 * nothing of it once deleted. */
static void test_inbox_last_follows_edits_and_deletes(void)
{
	struct tc_team f;
	const cJSON *last;
	cJSON *inbox;

	tc_team_start(&f);
	tc_api_ok(f.ada, "{\"op\":\"create\",\"channel\":\"general\",\"members\":[\"bo\"]}");
	cJSON_Delete(tc_send(f.ada, "general", "m1", "draft"));
	cJSON_Delete(
		tc_request(f.ada, "chat/general",
			   "{\"type\":\"edit\",\"target\":3,\"body\":\"second\",\"client_msg_id\":\"e1\"}"));
	cJSON_Delete(
		tc_request(f.ada, "chat/general",
			   "{\"type\":\"edit\",\"target\":3,\"body\":\"final\",\"client_msg_id\":\"e2\"}"));
	last = cJSON_GetObjectItem(tc_inbox_entry(f.bo, "general", &inbox), "last");
	TH_JSON(last, "{\"id\":\"*\",\"channel\":\"general\",\"seq\":3,\"type\":\"message\",\"from\":\"ada\","
		      "\"device\":\"ada-1\",\"ts\":\"*\",\"client_msg_id\":\"m1\",\"body\":\"final\","
		      "\"edited\":true}");
	cJSON_Delete(inbox);
	cJSON_Delete(tc_request(f.ada, "chat/general",
				"{\"type\":\"delete\",\"target\":3,\"client_msg_id\":\"d1\"}"));
	last = cJSON_GetObjectItem(tc_inbox_entry(f.bo, "general", &inbox), "last");
	TH_JSON(last, "{\"id\":\"*\",\"channel\":\"general\",\"seq\":3,\"type\":\"message\",\"from\":\"ada\","
		      "\"device\":\"ada-1\",\"ts\":\"*\",\"client_msg_id\":\"m1\",\"deleted\":true}");
	cJSON_Delete(inbox);
	tc_team_stop(&f);
}


TH_TEST_LIST(TH_TEST(test_create), TH_TEST(test_directory),
	     TH_TEST(test_inbox_last_follows_edits_and_deletes), TH_TEST(test_join_and_leave),
	     TH_TEST(test_invite_and_remove), TH_TEST(test_owner_succession), TH_TEST(test_direct_channels),
	     TH_TEST(test_channels_inbox))
