#include "storage/config.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

const char *lsn_mode_name(enum lsn_mode m)
{
	return m == LSN_MODE_CLUSTER ? "cluster" : m == LSN_MODE_SINGLE ? "single" : "unknown";
}

int lsn_mode_parse(const char *text, enum lsn_mode *out)
{
	if (!text || !out)
		return -EINVAL;
	if (strcmp(text, "single") == 0)
		*out = LSN_MODE_SINGLE;
	else if (strcmp(text, "cluster") == 0)
		*out = LSN_MODE_CLUSTER;
	else
		return -EINVAL;
	return 0;
}

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
	{
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		cfg->compress_threads = n < 1 ? 1 : n > LSN_COMPRESS_THREADS_MAX ? LSN_COMPRESS_THREADS_MAX : (uint32_t)n;
	}
	cfg->read_ahead_blocks = LSN_READ_AHEAD_BLOCKS_DEFAULT;
	cfg->archive_timeout = LSN_ARCHIVE_TIMEOUT_DEFAULT;
}

bool lsn_archive_id_valid(const char *id)
{
	size_t n = strlen(id);

	if (n != LSN_ARCHIVE_ID_LEN)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')))
			return false;
	return true;
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

/*
 * Every key, once: its text name, where it may be set, its kind and its
 * field.  Parsing, printing and the lists of stored, tunable and mount
 * keys all come from here.
 */
enum key_kind { KIND_MODE, KIND_NAME, KIND_PATH, KIND_ARCHIVE_ID, KIND_TEXT, KIND_U32, KIND_U64,
		KIND_SYNC, KIND_LEVEL, KIND_RECOVER };

struct key_def {
	struct lsn_config_key key;
	enum key_kind kind;
	size_t offset, size;
	uint64_t min, max;    /* numbers */
	const char *what;     /* numbers: "must be WHAT" */
};

#define FIELD(f) offsetof(struct lsn_config, f), sizeof(((struct lsn_config *)0)->f)
#define S LSN_KEY_STORED
#define T LSN_KEY_TUNABLE
#define M LSN_KEY_MOUNT
static const struct key_def keys[] = {
	{ { "mode", S }, KIND_MODE, FIELD(mode), 0, 0, NULL },
	{ { "node_id", S | T }, KIND_NAME, FIELD(node_id), 0, 0, NULL },
	{ { "archive", S | T | M }, KIND_PATH, FIELD(archive), 0, 0, NULL },
	{ { "archive_id", S }, KIND_ARCHIVE_ID, FIELD(archive_id), 0, 0, NULL },
	{ { "archive_command", S | T | M }, KIND_TEXT, FIELD(archive_command), 0, 0, NULL },
	{ { "archive_check_command", S | T | M }, KIND_TEXT, FIELD(archive_check_command), 0, 0, NULL },
	{ { "archive_timeout", S | T | M }, KIND_U32, FIELD(archive_timeout), 1, UINT32_MAX,
	  "a number of seconds >= 1" },
	{ { "segment_size", S | T | M }, KIND_U64, FIELD(segment_size), LSN_SEGMENT_SIZE_MIN,
	  LSN_SEGMENT_SIZE_MAX, "a byte count between 4096 and 2^40" },
	{ { "sync", M }, KIND_SYNC, FIELD(sync_always), 0, 0, NULL },
	{ { "auto_trim", S | T | M }, KIND_U32, FIELD(auto_trim), 0, UINT32_MAX,
	  "a number of seconds" },
	{ { "trim_delay", S | T | M }, KIND_U32, FIELD(trim_delay), 0, UINT32_MAX,
	  "a number of seconds" },
	{ { "compress_level", S | T | M }, KIND_LEVEL, FIELD(compress_level), 1, 19,
	  "a zstd level from 1 to 19" },
	{ { "recover", M | LSN_KEY_AT_OPEN }, KIND_RECOVER, FIELD(recover_accept_loss), 0, 0, NULL },
	{ { "compress_threads", M }, KIND_U32, FIELD(compress_threads), 0, LSN_COMPRESS_THREADS_MAX,
	  "a number of threads from 0 to 64" },
	{ { "metrics_file", M }, KIND_PATH, FIELD(metrics_file), 0, 0, NULL },
	{ { "read_ahead_blocks", M }, KIND_U32, FIELD(read_ahead_blocks), 0, LSN_READ_AHEAD_BLOCKS_MAX,
	  "a number of blocks from 0 to 64" },
};
#undef S
#undef T
#undef M
#define N_KEYS (sizeof(keys) / sizeof(keys[0]))

const struct lsn_config_key *lsn_config_key_at(size_t i)
{
	return i < N_KEYS ? &keys[i].key : NULL;
}

static const struct key_def *find_key(const char *name)
{
	for (size_t i = 0; i < N_KEYS; i++)
		if (strcmp(keys[i].key.name, name) == 0)
			return &keys[i];
	return NULL;
}

bool lsn_config_key_is(const char *name, unsigned flag)
{
	const struct key_def *k = find_key(name);

	return k && (k->key.flags & flag);
}

int lsn_config_set(struct lsn_config *cfg, const char *key, const char *value, char *why)
{
	const struct key_def *k = find_key(key);
	char *field;
	uint64_t v;

	if (!k)
		return -ENOENT;
	field = (char *)cfg + k->offset;
	switch (k->kind) {
	case KIND_MODE:
		if (lsn_mode_parse(value, &cfg->mode) != 0)
			return why_set(why, "%s must be single or cluster, not '%s'", key, value);
		return 0;
	case KIND_NAME:
		if (!lsn_name_valid(value))
			return why_set(why, "%s '%s' must be 1-64 of [A-Za-z0-9._-], not starting with '.'",
				       key, value);
		break;
	case KIND_PATH:
		if (strcmp(value, "none") == 0)
			value = "";
		if (value[0] != '\0' && value[0] != '/')
			return why_set(why, "%s must be an absolute path, not '%s'", key, value);
		break;
	case KIND_ARCHIVE_ID:
		if (value[0] != '\0' && !lsn_archive_id_valid(value))
			return why_set(why, "%s must be %d lowercase hex digits, not '%s'", key,
				       LSN_ARCHIVE_ID_LEN, value);
		break;
	case KIND_TEXT:
		break;
	case KIND_SYNC:
		if (strcmp(value, "always") != 0 && strcmp(value, "fsync") != 0)
			return why_set(why, "%s must be always or fsync, not '%s'", key, value);
		cfg->sync_always = strcmp(value, "always") == 0;
		return 0;
	case KIND_RECOVER:
		if (strcmp(value, "refuse") != 0 && strcmp(value, "accept-loss") != 0)
			return why_set(why, "%s must be refuse or accept-loss, not '%s'", key, value);
		cfg->recover_accept_loss = strcmp(value, "accept-loss") == 0;
		return 0;
	case KIND_U32:
	case KIND_U64:
	case KIND_LEVEL:
		if (lsn_parse_u64(value, &v) || v < k->min || v > k->max)
			return why_set(why, "%s must be %s, not '%s'", key, k->what, value);
		if (k->kind == KIND_U32)
			*(uint32_t *)field = (uint32_t)v;
		else if (k->kind == KIND_U64)
			*(uint64_t *)field = v;
		else
			*(int *)field = (int)v;
		return 0;
	}
	/* The text kinds. */
	if (strlen(value) >= k->size)
		return why_set(why, "%s too long: '%.40s...'", key, value);
	memcpy(field, value, strlen(value) + 1);
	return 0;
}

int lsn_config_get(const struct lsn_config *cfg, const char *key, char *buf, size_t n)
{
	const struct key_def *k = find_key(key);
	const char *field;

	if (!k)
		return -ENOENT;
	field = (const char *)cfg + k->offset;
	switch (k->kind) {
	case KIND_MODE:
		snprintf(buf, n, "%s", lsn_mode_name(cfg->mode));
		break;
	case KIND_SYNC:
		snprintf(buf, n, "%s", cfg->sync_always ? "always" : "fsync");
		break;
	case KIND_RECOVER:
		snprintf(buf, n, "%s", cfg->recover_accept_loss ? "accept-loss" : "refuse");
		break;
	case KIND_U32:
		snprintf(buf, n, "%u", *(const uint32_t *)field);
		break;
	case KIND_U64:
		snprintf(buf, n, "%llu", (unsigned long long)*(const uint64_t *)field);
		break;
	case KIND_LEVEL:
		snprintf(buf, n, "%d", *(const int *)field);
		break;
	default:
		snprintf(buf, n, "%s", field);
		break;
	}
	return 0;
}
