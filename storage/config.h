/*
 * storage/config.h - a store's configuration: what mkfs.lsnfs writes, what
 * a mount's -o options override for that mount only.
 *
 * Keys and their text form (the same in mkfs flags, -o options, the store
 * and `lsnfsctl config`): mode=single|cluster, node_id=NAME,
 * archive=DIR|none, archive_id=HEX32 (the id of the marker at the
 * archive's root, see storage/archive.h), archive_command=CMD,
 * archive_check_command=CMD, archive_timeout=SECONDS, segment_size=BYTES,
 * sync=always|fsync, auto_trim=SECONDS, trim_delay=SECONDS,
 * compress_level=N, recover=refuse|accept-loss (per mount only),
 * compress_threads=N (mount only: threads that compress closed blocks;
 * 0 = on the appending thread; default one per core), read_ahead_blocks=N
 * (mount only: blocks decoded ahead of a sequential reader; 0 = none),
 * metrics_file=PATH
 * (mount only: the Prometheus text file the daemon rewrites every 10 s).
 * archive=none (or empty) means no archive.
 * Plain value object, no locking.
 */
#ifndef LSN_CONFIG_H
#define LSN_CONFIG_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>


#define LSN_NAME_MAX 64
#define LSN_RECORD_MAX (1020u * 1024u) /* 1,044,480 bytes: SPEC section 2 */
#define LSN_SEGMENT_SIZE_MIN 4096ull
#define LSN_SEGMENT_SIZE_MAX (1ull << 40)
#define LSN_ARCHIVE_ID_LEN 32        /* 128 bits as lowercase hex */
#define LSN_ARCHIVE_TIMEOUT_DEFAULT 300

/* Single-node or cluster mode (SPEC section 5), as persisted in the store. */
enum lsn_mode { LSN_MODE_SINGLE = 0, LSN_MODE_CLUSTER = 1 };

const char *lsn_mode_name(enum lsn_mode m);
/* 0 and *out set on "single"/"cluster"; -EINVAL otherwise (*out untouched). */
int lsn_mode_parse(const char *text, enum lsn_mode *out);

struct lsn_config {
	enum lsn_mode mode;
	char node_id[LSN_NAME_MAX + 1];
	char archive[PATH_MAX];          /* "" when none */
	char archive_id[LSN_ARCHIVE_ID_LEN + 1]; /* "" when none recorded */
	char archive_command[1024];      /* "" when none */
	char archive_check_command[1024]; /* "" when none */
	uint32_t archive_timeout;        /* seconds a command may run, >= 1 */
	uint64_t segment_size;
	bool sync_always;
	uint32_t auto_trim;              /* seconds, 0 = off */
	uint32_t trim_delay;             /* seconds */
	int compress_level;
	/* recover=refuse|accept-loss (per mount): mount a store that came back
	 * behind its control file (storage/control.h), logging the loss. */
	bool recover_accept_loss;
	uint32_t compress_threads;        /* 0: compress on the appending thread */
	uint32_t read_ahead_blocks;       /* blocks decoded ahead of a sequential reader */
	char metrics_file[PATH_MAX];     /* mount only: "" = none */
};
#define LSN_COMPRESS_THREADS_MAX 64
#define LSN_READ_AHEAD_BLOCKS_MAX 64
/* Measured (bench/PROFILE.md, cold read): see the read-ahead section. */
#define LSN_READ_AHEAD_BLOCKS_DEFAULT 8

/*
 * The keys.  STORED: kept in the store (mkfs, lsnfsctl config); TUNABLE:
 * `lsnfsctl config` may change it offline (mode has its own guarded
 * switch, archive_id follows archive); MOUNT: a mount option (-o) may
 * override it for one mount; AT_OPEN: the store's checks at open read it.
 */
#define LSN_KEY_STORED 1u
#define LSN_KEY_TUNABLE 2u
#define LSN_KEY_MOUNT 4u
/* Read by the store's checks at open: a mount must apply it before them. */
#define LSN_KEY_AT_OPEN 8u
struct lsn_config_key {
	const char *name;
	unsigned flags;
};
/* The i-th key, or NULL past the last: for (i = 0; (k = lsn_config_key_at(i)); i++). */
const struct lsn_config_key *lsn_config_key_at(size_t i);
/* `name` is a key with `flag`. */
bool lsn_config_key_is(const char *name, unsigned flag);

void lsn_config_defaults(struct lsn_config *cfg);
/*
 * Set one key from text.  0, -EINVAL (bad value; `why` says what, if not
 * NULL, at least 128 bytes) or -ENOENT (unknown key).
 */
int lsn_config_set(struct lsn_config *cfg, const char *key, const char *value, char *why);
/* Text form of a key's value into buf (size n). 0 or -ENOENT. */
int lsn_config_get(const struct lsn_config *cfg, const char *key, char *buf, size_t n);

/* True for a well-formed archive id: LSN_ARCHIVE_ID_LEN of [0-9a-f]. */
bool lsn_archive_id_valid(const char *id);

/* Log and hold names: 1-64 of [A-Za-z0-9._-], not starting with '.'. */
bool lsn_name_valid(const char *name);
/* Strict unsigned decimal (no sign, spaces, or trailing bytes). 0 or -EINVAL. */
int lsn_parse_u64(const char *text, uint64_t *out);

#endif
