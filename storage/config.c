#include "storage/config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

const char *const lsn_config_stored_keys[] = { "mode", "node_id", "archive", "segment_size",
						NULL };

void lsn_config_defaults(struct lsn_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->mode = LSN_MODE_SINGLE;
	if (gethostname(cfg->node_id, sizeof(cfg->node_id)) != 0 || !lsn_name_valid(cfg->node_id))
		snprintf(cfg->node_id, sizeof(cfg->node_id), "node");
	cfg->node_id[LSN_NAME_MAX] = '\0';
	cfg->segment_size = 64ull << 20;
	cfg->sync_always = false;
	cfg->auto_trim = 0;
	cfg->trim_delay = 600;
	cfg->compress_level = 3;
}

bool lsn_name_valid(const char *name)
{
	size_t n = strlen(name);

	if (n < 1 || n > LSN_NAME_MAX || name[0] == '.')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return false;
	}
	return true;
}

int lsn_parse_u64(const char *text, uint64_t *out)
{
	uint64_t v = 0;

	if (!text || !*text || strlen(text) > 20)
		return -EINVAL;
	for (const char *p = text; *p; p++) {
		if (*p < '0' || *p > '9')
			return -EINVAL;
		if (v > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
			return -EINVAL;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	*out = v;
	return 0;
}

/* vsnprintf: the message is cut at 128 bytes on purpose. */
static int __attribute__((format(printf, 2, 3))) why_set(char *why, const char *fmt, ...)
{
	va_list ap;

	if (why) {
		va_start(ap, fmt);
		vsnprintf(why, 128, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

int lsn_config_set(struct lsn_config *cfg, const char *key, const char *value, char *why)
{
	uint64_t v;

	if (strcmp(key, "mode") == 0) {
		if (lsn_trim_mode_parse(value, &cfg->mode) != 0)
			return why_set(why, "%s must be single or cluster, not '%s'", key, value);
	} else if (strcmp(key, "node_id") == 0) {
		if (!lsn_name_valid(value))
			return why_set(why, "%s '%s' must be 1-64 of [A-Za-z0-9._-], not starting with '.'", key, value);
		snprintf(cfg->node_id, sizeof(cfg->node_id), "%s", value);
	} else if (strcmp(key, "archive") == 0) {
		if (value[0] != '\0' && value[0] != '/')
			return why_set(why, "%s must be an absolute path, not '%s'", key, value);
		if (strlen(value) >= sizeof(cfg->archive))
			return why_set(why, "%s path too long: '%s'", key, value);
		memcpy(cfg->archive, value, strlen(value) + 1);
	} else if (strcmp(key, "archive_command") == 0) {
		if (strlen(value) >= sizeof(cfg->archive_command))
			return why_set(why, "%s too long: '%.40s...'", key, value);
		memcpy(cfg->archive_command, value, strlen(value) + 1);
	} else if (strcmp(key, "segment_size") == 0) {
		if (lsn_parse_u64(value, &v) || v < LSN_SEGMENT_SIZE_MIN || v > LSN_SEGMENT_SIZE_MAX)
			return why_set(why, "%s must be a byte count between 4096 and 2^40, not '%s'", key, value);
		cfg->segment_size = v;
	} else if (strcmp(key, "sync") == 0) {
		if (strcmp(value, "always") == 0)
			cfg->sync_always = true;
		else if (strcmp(value, "fsync") == 0)
			cfg->sync_always = false;
		else
			return why_set(why, "%s must be always or fsync, not '%s'", key, value);
	} else if (strcmp(key, "auto_trim") == 0 || strcmp(key, "trim_delay") == 0) {
		if (lsn_parse_u64(value, &v) || v > UINT32_MAX)
			return why_set(why, "%s must be a number of seconds, not '%s'", key, value);
		if (key[0] == 'a')
			cfg->auto_trim = (uint32_t)v;
		else
			cfg->trim_delay = (uint32_t)v;
	} else if (strcmp(key, "compress_level") == 0) {
		if (lsn_parse_u64(value, &v) || v < 1 || v > 19)
			return why_set(why, "%s must be a zstd level from 1 to 19, not '%s'", key, value);
		cfg->compress_level = (int)v;
	} else if (strcmp(key, "recover") == 0) {
		if (strcmp(value, "refuse") == 0)
			cfg->recover_accept_loss = false;
		else if (strcmp(value, "accept-loss") == 0)
			cfg->recover_accept_loss = true;
		else
			return why_set(why, "%s must be refuse or accept-loss, not '%s'", key, value);
	} else {
		return -ENOENT;
	}
	return 0;
}

int lsn_config_get(const struct lsn_config *cfg, const char *key, char *buf, size_t n)
{
	if (strcmp(key, "mode") == 0)
		snprintf(buf, n, "%s", lsn_trim_mode_name(cfg->mode));
	else if (strcmp(key, "node_id") == 0)
		snprintf(buf, n, "%s", cfg->node_id);
	else if (strcmp(key, "archive") == 0)
		snprintf(buf, n, "%s", cfg->archive);
	else if (strcmp(key, "archive_command") == 0)
		snprintf(buf, n, "%s", cfg->archive_command);
	else if (strcmp(key, "segment_size") == 0)
		snprintf(buf, n, "%llu", (unsigned long long)cfg->segment_size);
	else if (strcmp(key, "sync") == 0)
		snprintf(buf, n, "%s", cfg->sync_always ? "always" : "fsync");
	else if (strcmp(key, "auto_trim") == 0)
		snprintf(buf, n, "%u", cfg->auto_trim);
	else if (strcmp(key, "trim_delay") == 0)
		snprintf(buf, n, "%u", cfg->trim_delay);
	else if (strcmp(key, "compress_level") == 0)
		snprintf(buf, n, "%d", cfg->compress_level);
	else if (strcmp(key, "recover") == 0)
		snprintf(buf, n, "%s", cfg->recover_accept_loss ? "accept-loss" : "refuse");
	else
		return -ENOENT;
	return 0;
}
