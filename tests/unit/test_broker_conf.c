/*
 * test_broker_conf.c - reading the broker's own configuration: the lines that matter, comments and
 * unknown lines ignored, include_dir followed one level in name order, the -c argument found in a
 * command line.
 */
#include <sys/stat.h>
#include <unistd.h>

#include "broker_conf.h"
#include "th.h"


static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	TH_CHECK(f != NULL);
	fputs(text, f);
	fclose(f);
}


static void test_lines(void)
{
	struct chat_broker_conf c = {.allow_anonymous = -1};
	char line[256];

	snprintf(line, sizeof(line), "  password_file /etc/mosquitto/passwd\n");
	TH_CHECK(chat_broker_conf__line(line, &c) == NULL);
	TH_CHECK(c.password_file);
	snprintf(line, sizeof(line), "# acl_file /etc/acl\n");
	chat_broker_conf__line(line, &c);
	TH_CHECK(!c.acl_file);
	snprintf(line, sizeof(line), "allow_anonymous false\r\n");
	chat_broker_conf__line(line, &c);
	TH_EQ_INT(c.allow_anonymous, 0);
	snprintf(line, sizeof(line), "plugin /usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so\n");
	chat_broker_conf__line(line, &c);
	TH_CHECK(c.dynamic_security);
	snprintf(line, sizeof(line), "per_listener_settings\ttrue\n");
	chat_broker_conf__line(line, &c);
	TH_CHECK(c.per_listener_settings);
	snprintf(line, sizeof(line), "max_packet_size 0\n");
	chat_broker_conf__line(line, &c);
	TH_CHECK(!c.max_packet_size);
	snprintf(line, sizeof(line), "max_packet_size 131072\n");
	chat_broker_conf__line(line, &c);
	TH_CHECK(c.max_packet_size);
	snprintf(line, sizeof(line), "include_dir /etc/mosquitto/conf.d\n");
	TH_EQ_STR(chat_broker_conf__line(line, &c), "/etc/mosquitto/conf.d");
	snprintf(line, sizeof(line), "password_file\n"); /* no value: not a setting */
	c.password_file = false;
	TH_CHECK(chat_broker_conf__line(line, &c) == NULL);
	TH_CHECK(!c.password_file);
}


static void test_files_and_include_dir(void)
{
	char dir[] = "/tmp/mqchat-conf-XXXXXX", path[128], conf_d[128], text[256];
	struct chat_broker_conf c;
	char err[128];

	TH_CHECK(mkdtemp(dir) != NULL);
	snprintf(conf_d, sizeof(conf_d), "%s/conf.d", dir);
	TH_EQ_INT(mkdir(conf_d, 0700), 0);
	snprintf(path, sizeof(path), "%s/mosquitto.conf", dir);
	snprintf(text, sizeof(text), "allow_anonymous true\ninclude_dir %s\n", conf_d);
	write_text(path, text);
	snprintf(text, sizeof(text), "%s/10-auth.conf", conf_d);
	write_text(text, "allow_anonymous false\n");
	snprintf(text, sizeof(text), "%s/20-acl.conf", conf_d);
	write_text(text, "acl_file /etc/mosquitto/acl\n");
	snprintf(text, sizeof(text), "%s/30-notes.txt", conf_d); /* not a .conf: not read */
	write_text(text, "password_file /x\n");
	TH_EQ_INT(chat_broker_conf__read(path, &c, err, sizeof(err)), 0);
	TH_EQ_INT(c.allow_anonymous, 0);
	TH_CHECK(c.acl_file);
	TH_CHECK(!c.password_file);
	TH_EQ_INT(chat_broker_conf__read("/nonexistent/mosquitto.conf", &c, err, sizeof(err)), -1);
	TH_EQ_STR(err, "cannot read the broker's configuration /nonexistent/mosquitto.conf");
	free(th_run(NULL, "rm -rf %s", dir));
}


static void test_cmdline(void)
{
	static const char cmdline[] = "/usr/sbin/mosquitto\0-v\0-c\0/etc/mosquitto/mosquitto.conf\0";
	static const char long_form[] = "mosquitto\0--config-file\0a.conf\0";
	static const char none[] = "mosquitto\0-p\0001883\0";
	static const char dangling[] = "mosquitto\0-c";
	char path[64], tiny[4];

	TH_CHECK(chat_broker_conf__path_from_cmdline(cmdline, sizeof(cmdline) - 1, path, sizeof(path)));
	TH_EQ_STR(path, "/etc/mosquitto/mosquitto.conf");
	TH_CHECK(chat_broker_conf__path_from_cmdline(long_form, sizeof(long_form) - 1, path, sizeof(path)));
	TH_EQ_STR(path, "a.conf");
	TH_CHECK(!chat_broker_conf__path_from_cmdline(none, sizeof(none) - 1, path, sizeof(path)));
	TH_CHECK(!chat_broker_conf__path_from_cmdline(dangling, sizeof(dangling) - 1, path, sizeof(path)));
	TH_CHECK(!chat_broker_conf__path_from_cmdline(cmdline, sizeof(cmdline) - 1, tiny, sizeof(tiny)));
}


TH_TEST_LIST(TH_TEST(test_lines), TH_TEST(test_files_and_include_dir), TH_TEST(test_cmdline))
