/*
 * storage/store.h - the log store: many append-only logs in one RocksDB.
 *
 * Design
 * ------
 * A store is a directory: `lsnfs.store` (marker, also the flock that keeps
 * a second daemon out) and `db/` (RocksDB).  Each log is a sequence of
 * records with gap-free LSNs from 1, cut into segments of about
 * segment_size payload bytes; a segment's records are grouped into blocks
 * of about LSN_BLOCK_TARGET bytes that are zstd-compressed once, when the
 * block closes (storage/block.h).  Records of the still-open block live
 * uncompressed under 'R' keys so that every append is one small
 * WriteBatch; the batch that closes a block writes the block and deletes
 * those keys.  The key layout is in storage/keys.h.
 *
 * Each log keeps in memory its segment table (a few dozen bytes per
 * segment), its holds and its open block, so stat/readdir never touch
 * RocksDB; reads find their block with one seek_for_prev.
 *
 * Ownership: struct lsn_store owns every struct lsn_log; a log handle
 * stays valid until lsn_store_close() even after its log is removed.
 *
 * Thread safety: every function may be called from any thread.  A log's
 * appends, seal, trim and metadata changes are serialised by the log's
 * mutex; reads of sealed segments run without it.
 *
 * Errors: 0 or a negative errno.  RocksDB and zstd errors are converted
 * here (storage/rdb.h): -ENOSPC, -EIO, -EBADMSG (corrupt data), -EBUSY
 * (store in use), -ENOMEM, ...
 */
#ifndef LSN_STORE_H
#define LSN_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "storage/block.h"
#include "storage/config.h"

/* 256 KiB: measured (issue 12) on a text log, 2.8% smaller than 128 KiB
 * blocks at zstd -3; compression runs off the writing thread, and a block
 * is decompressed once per sequential reader (struct lsn_read_cache). */
#define LSN_BLOCK_TARGET (256u * 1024u)

struct lsn_store;
struct lsn_log;

struct lsn_segment_info {
	uint64_t first_lsn;
	uint64_t last_lsn;      /* first_lsn - 1 while empty */
	uint64_t bytes;         /* payload bytes */
	uint64_t index_bytes;   /* size of the index file */
	int64_t mtime_ns;       /* time of last append (creation while empty) */
	bool sealed;
};

struct lsn_log_info {
	uint64_t first_lsn;     /* oldest retained LSN (trim_point + 1) */
	uint64_t tail_lsn;      /* 0 if nothing was ever appended */
	uint64_t trim_point;    /* highest trimmed LSN, 0 if none */
	uint64_t persisted_lsn; /* 0 if never set */
	uint64_t retained_bytes;
	size_t n_segments;
	int64_t created_ns;
	int64_t mtime_ns;       /* last append, else creation */
};

/* One decoded block kept between reads of the same open file. */
struct lsn_read_cache {
	uint64_t seg_first;
	bool valid;
	struct lsn_block block;
};
void lsn_read_cache_release(struct lsn_read_cache *c);

/* ---- store lifecycle -------------------------------------------------- */

/* Create a new store in `dir` (created if missing; must be empty). */
int lsn_store_format(const char *dir, const struct lsn_config *cfg);

/*
 * Open an existing store; -EBUSY when another process has it open,
 * -ENOENT / -EINVAL when `dir` is not a store.  The config is read from the
 * store; apply per-mount overrides with lsn_store_override() before use.
 */
int lsn_store_open(const char *dir, struct lsn_store **out);
/*
 * The same, with per-mount "key=value" overrides applied before the store
 * is checked against its control file (storage/control.h): -EUCLEAN when
 * the store came back behind what it acknowledged as durable, unless
 * "recover=accept-loss" is among them.  The daemon passes its -o keys here.
 */
int lsn_store_open_with(const char *dir, char *const *overrides, size_t n_overrides,
			struct lsn_store **out);
/* Flush and close; safe on NULL. */
void lsn_store_close(struct lsn_store *store);

const struct lsn_config *lsn_store_config(const struct lsn_store *store);
/* Group commit under sync=always (storage/group_commit.c), since open:
 * appends made durable and the WAL syncs that did it. */
void lsn_store_group_commit_counters(struct lsn_store *store, uint64_t *durable_appends,
				     uint64_t *wal_syncs);
/* Per-mount override of one config key (not persisted).  See config.h. */
int lsn_store_override(struct lsn_store *store, const char *key, const char *value, char *why);
/*
 * Persist the listed keys (NULL-terminated, each a stored key) with their
 * values in `cfg`, in one synced batch, and apply them to the store's
 * config.  For offline changes (lsnfsctl config) and for what a mount
 * adopts for good (an archive and its id).  -EINVAL for a key that is not
 * stored; nothing is written then.
 */
int lsn_store_save_config(struct lsn_store *store, const struct lsn_config *cfg,
			  const char *const *keys);
/* Persist a new mode (the caller has checked the guard); lsn_store_mode()
 * reads the live one from any thread (config's mode is the one at open). */
int lsn_store_set_mode(struct lsn_store *store, enum lsn_mode mode);
enum lsn_mode lsn_store_mode(const struct lsn_store *store);
const char *lsn_store_path(const struct lsn_store *store);
/* STORE/tmp: scratch files of the store (archive copies in flight). */
int lsn_store_tmpdir(const struct lsn_store *store, char *buf, size_t n);
/* STORE/staging/<log id>: a log's snapshot staging files (storage/staging.h),
 * created on demand. */
int lsn_staging_dir(struct lsn_log *log, char *buf, size_t n);

/* ---- logs -------------------------------------------------------------- */

int lsn_store_create_log(struct lsn_store *store, const char *name);
/* -ENOENT, or -EINVAL for an invalid name. */
int lsn_store_find_log(struct lsn_store *store, const char *name, struct lsn_log **out);
/* -ENOTEMPTY unless every record is trimmed (snapshots are the caller's check). */
int lsn_store_remove_log(struct lsn_store *store, const char *name);
/*
 * Remove the log with everything it holds (records, snapshots) in one
 * synced batch: after a crash it is fully there or fully gone.  -EBUSY
 * while it has holds.  Staging files (STORE/staging/<id>) are the caller's.
 */
int lsn_store_purge_log(struct lsn_store *store, const char *name);
/* Sorted names; free with lsn_names_free. */
int lsn_store_list_logs(struct lsn_store *store, char ***names, size_t *n);
void lsn_names_free(char **names, size_t n);

const char *lsn_log_name(const struct lsn_log *log);
void lsn_log_info(struct lsn_log *log, struct lsn_log_info *info);

/* ---- appending ---------------------------------------------------------- */

/*
 * Append n records atomically (all or none), each iov one record of at most
 * LSN_RECORD_MAX bytes (-EFBIG otherwise, nothing appended).  *last_lsn gets
 * the LSN of the last record.  With sync=always the records are durable on
 * return; otherwise after lsn_log_sync().
 */
int lsn_log_append(struct lsn_log *log, const struct iovec *records, size_t n, uint64_t *last_lsn);
/* Make every record appended so far durable (WAL fsync). */
int lsn_log_sync(struct lsn_log *log);
/* Seal the active segment now (no-op when it is empty). */
int lsn_log_seal(struct lsn_log *log);

/* ---- reading ------------------------------------------------------------ */

/* Copy of the segment table, oldest first; free() it. */
int lsn_log_segments(struct lsn_log *log, struct lsn_segment_info **segs, size_t *n);
int lsn_log_segment(struct lsn_log *log, uint64_t first_lsn, struct lsn_segment_info *info);
/* Read payload bytes [off, off+len) of segment first_lsn; *got may be short at EOF. */
int lsn_log_read(struct lsn_log *log, uint64_t first_lsn, uint64_t off, void *buf, size_t len,
		 size_t *got, struct lsn_read_cache *cache);
/*
 * A reader of one segment's payload, for one open file (storage/log_reader.c).
 * It keeps the blocks it decoded, so that the kernel's concurrent requests
 * for one file decode each block once, and once reads run sequentially it
 * has the store's read-ahead threads fetch and decode the next
 * read_ahead_blocks blocks (the mount's value at open; 0: none) while the
 * reader copies.  Memory: read_ahead_blocks + 3 decoded blocks at most.
 * lsn_reader_read() returns what lsn_log_read() would, -ENOENT once the
 * segment is trimmed or its log removed (decoded blocks are never served
 * for a segment that is gone).  Any thread; one reader may be used by
 * several threads at once.  lsn_reader_free() waits for its jobs.
 */
struct lsn_reader;
struct lsn_reader_stats {
	uint64_t reads;          /* lsn_reader_read calls */
	uint64_t decoded;        /* blocks decoded on the reading thread */
	uint64_t decoded_ahead;  /* blocks decoded by read-ahead jobs */
	uint64_t ahead_failed;   /* read-ahead jobs that found no block */
	uint64_t waited;         /* reads that waited for a block being decoded */
	unsigned ahead_busy;     /* read-ahead jobs queued or running now */
};
int lsn_reader_open(struct lsn_log *log, uint64_t first_lsn, struct lsn_reader **out);
int lsn_reader_read(struct lsn_reader *r, uint64_t off, void *buf, size_t len, size_t *got);
void lsn_reader_stats(struct lsn_reader *r, struct lsn_reader_stats *out);
/* Safe on NULL. */
void lsn_reader_free(struct lsn_reader *r);
/* Same for the segment's index text ("LSN OFFSET LENGTH\n" per record). */
int lsn_log_read_index(struct lsn_log *log, uint64_t first_lsn, uint64_t off, char *buf,
		       size_t len, size_t *got, struct lsn_read_cache *cache);

/* ---- consumer state and holds ------------------------------------------- */

/* -EINVAL if lsn < current persisted_lsn or lsn > tail. */
int lsn_log_set_persisted(struct lsn_log *log, uint64_t lsn);

struct lsn_hold {
	char name[LSN_NAME_MAX + 1];
	uint64_t lsn;
};
int lsn_log_hold_set(struct lsn_log *log, const char *name, uint64_t lsn);
int lsn_log_hold_get(struct lsn_log *log, const char *name, uint64_t *lsn);
int lsn_log_hold_remove(struct lsn_log *log, const char *name);
/* Copy of the holds, sorted by name; free() it. */
int lsn_log_holds(struct lsn_log *log, struct lsn_hold **holds, size_t *n);

/*
 * Bytes the log takes in the store: RocksDB's estimate of the on-disk size
 * of the log's keys (compressed blocks, index, snapshots), plus the open
 * block's records.  Records still only in the memtable and the write-ahead
 * log are not counted until RocksDB flushes them.  Cheap: no data is read.
 */
int lsn_log_stored_bytes(struct lsn_log *log, uint64_t *bytes);

/* ---- a read-only view, and trimming ------------------------------------ */

/*
 * A consistent copy of what the trim rules look at, taken under the log's
 * lock for as long as the copy takes and nothing else: queries (getfattr
 * of safe_trim_lsn, status) read a view and never write.  The segment
 * table is copied only when asked for (it is the one part that grows with
 * the log).  Release with lsn_log_view_release(); safe on a zeroed view.
 */
struct lsn_log_view {
	uint64_t first_lsn;     /* oldest retained LSN (trim_point + 1) */
	uint64_t tail_lsn;      /* 0 if nothing was ever appended */
	uint64_t trim_point;
	uint64_t persisted_lsn;
	uint64_t retained_bytes;
	struct lsn_hold *holds; /* sorted by name */
	size_t n_holds;
	struct lsn_segment_info *segments; /* oldest first, last is active; NULL unless asked */
	size_t n_segments;
};
#define LSN_VIEW_SEGMENTS 1u
int lsn_log_view(struct lsn_log *log, unsigned flags, struct lsn_log_view *view);
void lsn_log_view_release(struct lsn_log_view *view);

/*
 * Remove the `n` oldest segments, which the caller has decided may go
 * (node/ asks the trim engine on a view).  Refused with -ESTALE, nothing
 * changed, when the log no longer starts at `expect_first_lsn` (another
 * trim came first) and with -EPERM when one of them is not sealed or is
 * the active segment (defence in depth).  One atomic batch: after a crash
 * each segment is fully there or fully gone; the freed range is then
 * compacted so the space comes back.  *trimmed_to (may be NULL) gets the
 * new trim point.
 */
int lsn_log_trim_prefix(struct lsn_log *log, uint64_t expect_first_lsn, size_t n,
			uint64_t *trimmed_to);

#endif
