/*
 * fuzz_config.c - libFuzzer target: plugin_opt_* options. The input is lines "key value" (a key
 * without the plugin_opt_ prefix, a space, the value); all of them go to chat_config__parse at once,
 * as the broker hands them over. Beyond not crashing: a refusal says why, and what is accepted can be
 * released.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

#define MAX_OPTIONS 32

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1), *line, *save = NULL;
	const char *keys[MAX_OPTIONS], *values[MAX_OPTIONS];
	struct chat_config cfg;
	char err[256];
	int n = 0;

	if(text == NULL) {
		return 0;
	}
	memcpy(text, data, size);
	text[size] = '\0';
	for(line = strtok_r(text, "\n", &save); line && n < MAX_OPTIONS; line = strtok_r(NULL, "\n", &save)) {
		char *space = strchr(line, ' ');
		keys[n] = line;
		values[n] = "";
		if(space) {
			*space = '\0';
			values[n] = space + 1;
		}
		n++;
	}
	err[0] = '\0';
	memset(&cfg, 0, sizeof(cfg));
	if(chat_config__parse(&cfg, n, keys, values, err, sizeof(err)) != 0) {
		assert(err[0] != '\0');
	} else { /* a sample of the table's bounds */
		assert(cfg.max_body >= 1 && cfg.max_body <= 1048576);
		assert(cfg.catchup_page_bytes >= 4096 && cfg.catchup_page_bytes <= 16777216);
		assert(cfg.send_burst >= 1 && cfg.busy_timeout_ms >= 0 && cfg.busy_timeout_ms <= 60000);
		assert(cfg.synchronous == CHAT_SYNC_FULL || cfg.synchronous == CHAT_SYNC_NORMAL);
	}
	chat_config__clear(&cfg);
	free(text);
	return 0;
}
