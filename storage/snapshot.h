/*
 * storage/snapshot.h - committed snapshots of a log's consumer state and
 * their staging files.
 *
 * Staging files are plain files in STORE/staging/<log id>/ (storage/
 * staging.h; a partially written file is just a file).  Committing one
 * under an LSN reads it in 1 MiB chunks, compresses each chunk into an
 * independent zstd frame (with content checksum) under 'Q' <id> <lsn>
 * <chunk>, and only then writes the 'P' <id> <lsn> record that makes the
 * snapshot exist; a crash before that leaves orphan chunks that the next
 * open deletes, never a committed snapshot.  The chunk frames concatenated
 * are a valid .zst stream, which is exactly what is archived: a snapshot
 * is compressed once, when it is committed.
 *
 * 'P' value: u64 size, i64 mtime_ns, u32 crc32c(content), u32 chunks,
 *            u32 archived (0/1), u64 archive_size, u32 archive_crc.
 * The archived mark is only a claim until verified (node/archiver.c).
 *
 * Thread safety: as store.h.  Commits, removals and archived marks are
 * serialised per log by the log's snap_lock (a commit compresses for a long
 * time and must not hold the log's lock meanwhile); a commit takes the
 * log's lock only briefly, to check its LSN against the trim point and
 * tail and to write the record that makes the snapshot exist.
 */
#ifndef LSN_SNAPSHOT_H
#define LSN_SNAPSHOT_H

#include <stdbool.h>
#include <stdint.h>

#include "storage/store.h"

#define LSN_SNAPSHOT_CHUNK (1u << 20)

struct lsn_snapshot_info {
	uint64_t lsn;
	uint64_t size;          /* content bytes */
	int64_t mtime_ns;
	uint32_t crc;           /* crc32c of the content */
	uint32_t chunks;
	bool archived;          /* claimed archived (verify before trusting) */
	uint64_t archive_size;  /* bytes of the archived .zst */
	uint32_t archive_crc;   /* crc32c of the archived .zst */
};

/*
 * Commit staging file `path` as snapshot `lsn`.  -EINVAL unless
 * trim_point <= lsn <= tail and lsn >= 1; -EEXIST if that snapshot exists.
 * On success the staging file is removed.
 */
int lsn_snapshot_commit(struct lsn_log *log, const char *path, uint64_t lsn);
/* Sorted by LSN; free(). */
int lsn_snapshot_list(struct lsn_log *log, struct lsn_snapshot_info **v, size_t *n);
int lsn_snapshot_get(struct lsn_log *log, uint64_t lsn, struct lsn_snapshot_info *info);
int lsn_snapshot_remove(struct lsn_log *log, uint64_t lsn);
int lsn_snapshot_set_archived(struct lsn_log *log, uint64_t lsn, bool archived,
			      uint64_t archive_size, uint32_t archive_crc);

/* Decoded chunk kept between reads of one open snapshot. */
struct lsn_snapshot_cache {
	uint64_t lsn;
	int64_t chunk;          /* -1: empty */
	unsigned char *data;
	size_t len;
};
void lsn_snapshot_cache_release(struct lsn_snapshot_cache *c);

int lsn_snapshot_read(struct lsn_log *log, uint64_t lsn, uint64_t off, void *buf, size_t len,
		      size_t *got, struct lsn_snapshot_cache *cache);
/* Write the snapshot's .zst stream (its chunk frames) to fd; size and crc out. */
int lsn_snapshot_export(struct lsn_log *log, uint64_t lsn, int fd, uint64_t *size,
			uint32_t *crc);

/* Delete chunks of snapshots that were never committed (called at open). */
int lsn_snapshot_gc(struct lsn_log *log);

#endif
