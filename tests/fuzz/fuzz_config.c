/*
 * Fuzz target: config values from users and the store (storage/config.c):
 * input "KEY\0VALUE".  Set must accept or refuse with -EINVAL/-ENOENT;
 * an accepted value reads back (get) as text that sets the same config.
 * Also lsn_parse_u64 and lsn_name_valid on the raw bytes.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char buf[4200], text[PATH_MAX + 64], why[128];
	struct lsn_config a, b;
	const char *key, *value;
	uint64_t v;
	size_t klen;
	int rc;

	if (size >= sizeof(buf))
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	if (lsn_parse_u64(buf, &v) == 0) {
		char back[32];
		snprintf(back, sizeof(back), "%llu", (unsigned long long)v);
		const char *digits = buf;
		while (digits[0] == '0' && digits[1]) /* zero padding is allowed (file names) */
			digits++;
		if (strcmp(back, digits) != 0)
			abort(); /* strict decimal: digits only, no sign, space or suffix */
	}
	if (lsn_name_valid(buf) && (strchr(buf, '/') || buf[0] == '.' || strlen(buf) > LSN_NAME_MAX))
		abort();
	key = buf;
	klen = strlen(buf);
	value = klen < size ? buf + klen + 1 : "";
	lsn_config_defaults(&a);
	rc = lsn_config_set(&a, key, value, why);
	if (rc != 0 && rc != -EINVAL && rc != -ENOENT)
		abort();
	if (rc == -EINVAL && !memchr(why, '\0', sizeof(why)))
		abort();
	if (rc == 0) {
		if (lsn_config_get(&a, key, text, sizeof(text)) != 0)
			abort();
		lsn_config_defaults(&b);
		if (lsn_config_set(&b, key, text, why) != 0)
			abort(); /* what get says, set accepts */
		if (memcmp(&a, &b, sizeof(a)) != 0 && strcmp(key, "node_id") != 0)
			abort();
	}
	return 0;
}
