/*
 * test_config.c - the option table: defaults, bounds, words, and messages that name the bad option.
 */
#include <string.h>

#include "config.h"
#include "th.h"

#define COUNT(a) (int)(sizeof(a) / sizeof((a)[0]))


static void test_defaults(void)
{
	const char *keys[] = {"database"};
	const char *values[] = {"/tmp/x.db"};
	struct chat_config cfg;
	char err[256] = "";

	TH_EQ_INT(chat_config__parse(&cfg, COUNT(keys), keys, values, err, sizeof(err)), 0);
	TH_EQ_STR(cfg.database, "/tmp/x.db");
	TH_EQ_INT(cfg.synchronous, CHAT_SYNC_FULL);
	TH_EQ_INT(cfg.max_body, 16384);
	TH_EQ_INT(cfg.catchup_limit, 100);
	TH_EQ_INT(cfg.catchup_max_limit, 1000);
	TH_EQ_INT(cfg.acl_fallback, CHAT_ACL_FALLBACK_ALLOW);
	TH_EQ_INT(cfg.checkpoint_interval_ms, 1000);
	TH_EQ_INT(cfg.auth_fallback, CHAT_AUTH_FALLBACK_DEFER);
	TH_EQ_INT(cfg.typing_timeout_ms, 5000);
	TH_EQ_INT(cfg.typing_rate, 1);
	TH_EQ_INT(cfg.typing_burst, 3);
	TH_EQ_INT(cfg.presence_max_members, 200);
	TH_EQ_INT(cfg.cursor_flush_ms, 1000);
	TH_EQ_INT(cfg.create_rate, 60);
	TH_EQ_INT(cfg.create_burst, 50);
	TH_EQ_INT(cfg.member_rate, 100);
	TH_EQ_INT(cfg.member_burst, 1000);
	TH_EQ_INT(cfg.max_memberships, 1000);
	TH_EQ_INT(cfg.presence_rate, 60);
	TH_EQ_INT(cfg.presence_burst, 5);
	TH_EQ_INT(cfg.presence_max_channels, 100);
	chat_config__clear(&cfg);
}


static void test_values(void)
{
	const char *keys[] = {"database", "synchronous", "max_body", "acl_fallback", "send_rate"};
	const char *values[] = {"db", "normal", "100", "defer", "0"};
	struct chat_config cfg;
	char err[256] = "";

	TH_EQ_INT(chat_config__parse(&cfg, COUNT(keys), keys, values, err, sizeof(err)), 0);
	TH_EQ_INT(cfg.synchronous, CHAT_SYNC_NORMAL);
	TH_EQ_INT(cfg.max_body, 100);
	TH_EQ_INT(cfg.acl_fallback, CHAT_ACL_FALLBACK_DEFER);
	TH_EQ_INT(cfg.send_rate, 0);
	chat_config__clear(&cfg);
}


static void expect_failure(const char *key, const char *value, const char *message)
{
	const char *keys[] = {"database", key};
	const char *values[] = {"db", value};
	struct chat_config cfg;
	char err[256] = "";

	TH_EQ_INT(chat_config__parse(&cfg, COUNT(keys), keys, values, err, sizeof(err)), -1);
	TH_EQ_STR(err, message);
	chat_config__clear(&cfg);
}


static void test_bad_values(void)
{
	expect_failure("max_body", "abc", "plugin_opt_max_body: 'abc' is not an integer from 1 to 1048576");
	expect_failure("max_body", "12k", "plugin_opt_max_body: '12k' is not an integer from 1 to 1048576");
	expect_failure("max_body", "0", "plugin_opt_max_body: '0' is not an integer from 1 to 1048576");
	expect_failure("max_body", "", "plugin_opt_max_body: '' is not an integer from 1 to 1048576");
	expect_failure("max_body", "99999999999999999999",
		       "plugin_opt_max_body: '99999999999999999999' is not an integer from 1 to 1048576");
	expect_failure("synchronous", "extra", "plugin_opt_synchronous: 'extra' is not one of normal full");
	expect_failure("acl_fallback", "ALLOW",
		       "plugin_opt_acl_fallback: 'ALLOW' is not one of allow defer chat_only auto");
	expect_failure("auth_fallback", "yes", "plugin_opt_auth_fallback: 'yes' is not one of defer allow");
	expect_failure("typing_timeout_ms", "100",
		       "plugin_opt_typing_timeout_ms: '100' is not an integer from 500 to 60000");
	expect_failure("presence_max_channels", "0",
		       "plugin_opt_presence_max_channels: '0' is not an integer from 1 to 1000000");
	expect_failure("bogus", "1", "plugin_opt_bogus: unknown option (value '1')");
	expect_failure("database", "other", "plugin_opt_database: given twice (second value 'other')");
	expect_failure("catchup_limit", "5000",
		       "plugin_opt_catchup_limit: '5000' is above plugin_opt_catchup_max_limit (1000)");
}


static void test_database_required(void)
{
	const char *keys[] = {"max_body"};
	const char *values[] = {"10"};
	struct chat_config cfg;
	char err[256] = "";

	TH_EQ_INT(chat_config__parse(&cfg, COUNT(keys), keys, values, err, sizeof(err)), -1);
	TH_EQ_STR(err, "plugin_opt_database is required: the path of the SQLite database");
	chat_config__clear(&cfg);
}


static void test_edge_role(void)
{
	const char *keys[] = {"role", "edge_id", "core_clientid"};
	const char *values[] = {"edge", "edge-1", "core-link.edge-1"};
	const char *bad_id[] = {"edge", "edge/1", "core-link"};
	struct chat_config cfg;
	char err[256] = "";

	/* an edge has no database */
	TH_EQ_INT(chat_config__parse(&cfg, COUNT(keys), keys, values, err, sizeof(err)), 0);
	TH_EQ_INT(cfg.role, CHAT_ROLE_EDGE);
	TH_EQ_STR(cfg.edge_id, "edge-1");
	TH_EQ_STR(cfg.core_clientid, "core-link.edge-1");
	TH_EQ_INT(cfg.edge_timeout_ms, 3000);
	TH_CHECK(cfg.database == NULL);
	chat_config__clear(&cfg);

	TH_EQ_INT(chat_config__parse(&cfg, 2, keys, values, err, sizeof(err)), -1);
	TH_EQ_STR(err, "plugin_opt_role edge needs plugin_opt_edge_id (its bridge user) and "
		       "plugin_opt_core_clientid (the local_clientid of its bridge to the core)");
	chat_config__clear(&cfg);
	TH_EQ_INT(chat_config__parse(&cfg, COUNT(keys), keys, bad_id, err, sizeof(err)), -1);
	TH_EQ_STR(err, "plugin_opt_edge_id: 'edge/1' is not 1-64 characters without / + #");
	chat_config__clear(&cfg);

	expect_failure("role", "gateway", "plugin_opt_role: 'gateway' is not one of core edge");
	expect_failure("edge_beat_ms", "10",
		       "plugin_opt_edge_beat_ms: '10' is not an integer from 100 to 10000");
}


int main(int argc, char **argv)
{
	static const struct th_test tests[] = {
		{"defaults", test_defaults},     {"values", test_values},
		{"bad_values", test_bad_values}, {"database_required", test_database_required},
		{"edge_role", test_edge_role},
	};

	return th_main(argc, argv, tests, sizeof(tests) / sizeof(tests[0]));
}
