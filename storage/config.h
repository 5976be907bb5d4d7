/*
 * storage/config.h - a store's configuration: what mkfs.lsnfs writes, what
 * a mount's -o options override for that mount only.
 *
 * Keys and their text form (the same in mkfs flags, -o options and the
 * store): mode=single|cluster, node_id=NAME, archive=DIR,
 * archive_command=CMD, segment_size=BYTES, sync=always|fsync,
 * auto_trim=SECONDS, trim_delay=SECONDS, compress_level=N,
 * recover=refuse|accept-loss (per mount only).
 * Plain value object, no locking.
 */
#ifndef LSN_CONFIG_H
#define LSN_CONFIG_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "trim/trim.h"

#define LSN_NAME_MAX 64
#define LSN_RECORD_MAX (1020u * 1024u) /* 1,044,480 bytes: SPEC section 2 */
#define LSN_SEGMENT_SIZE_MIN 4096ull
#define LSN_SEGMENT_SIZE_MAX (1ull << 40)

struct lsn_config {
	enum lsn_mode mode;
	char node_id[LSN_NAME_MAX + 1];
	char archive[PATH_MAX];          /* "" when none */
	char archive_command[1024];      /* "" when none */
	uint64_t segment_size;
	bool sync_always;
	uint32_t auto_trim;              /* seconds, 0 = off */
	uint32_t trim_delay;             /* seconds */
	int compress_level;
	/* recover=refuse|accept-loss (per mount): mount a store that came back
	 * behind its control file (storage/control.h), logging the loss. */
	bool recover_accept_loss;
};

/* Keys stored in the store by mkfs (the others are per-mount only). */
extern const char *const lsn_config_stored_keys[];

void lsn_config_defaults(struct lsn_config *cfg);
/*
 * Set one key from text.  0, -EINVAL (bad value; `why` says what, if not
 * NULL, at least 128 bytes) or -ENOENT (unknown key).
 */
int lsn_config_set(struct lsn_config *cfg, const char *key, const char *value, char *why);
/* Text form of a key's value into buf (size n). 0 or -ENOENT. */
int lsn_config_get(const struct lsn_config *cfg, const char *key, char *buf, size_t n);

/* Log and hold names: 1-64 of [A-Za-z0-9._-], not starting with '.'. */
bool lsn_name_valid(const char *name);
/* Strict unsigned decimal (no sign, spaces, or trailing bytes). 0 or -EINVAL. */
int lsn_parse_u64(const char *text, uint64_t *out);

#endif
