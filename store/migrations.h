/*
 * migrations.h - the schema migrations compiled into the plugin.
 *
 * chat_migrations[i] holds schema/NNNN_name.sql with NNNN = i + 1; the database's PRAGMA user_version
 * is the number of migrations applied to it. The array is generated at build time by
 * cmake/embed_migrations.cmake.
 */
#ifndef CHAT_MIGRATIONS_H
#define CHAT_MIGRATIONS_H

struct chat_migration {
	int version;
	const char *name;
	const char *sql;
};

extern const struct chat_migration chat_migrations[];
extern const int chat_migration_count;

#endif
