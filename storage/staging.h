/*
 * storage/staging.h - snapshot staging files: what a consumer writes into
 * LOG/snapshots/ under any name that is not <lsn20>.snap.
 *
 * They are ordinary files in STORE/staging/<log id>/<name> (a partially
 * written file is just a file, as on any filesystem), kept by storage like
 * every other file under STORE.  `name` is one path component that the
 * caller has already identified as a staging name (fs/path.c): no '/', not
 * "." or "..", never a <lsn20>.snap name.  Files are opened O_NOFOLLOW.
 *
 * Committing one (lsn_staging_commit) turns it into snapshot `lsn`
 * (storage/snapshot.h) and removes the staging name.
 *
 * Thread safety: plain file-system calls; the kernel serialises them.
 * Errors: 0 or a negative errno from the call that failed.
 */
#ifndef LSN_STAGING_H
#define LSN_STAGING_H

#include <stddef.h>
#include <stdint.h>

#include "storage/store.h"

/* lsn_staging_dir() (STORE/staging/<log id>) is in storage/store.h. */

struct lsn_staging_stat {
	uint64_t size;
	int64_t mtime_ns;
	uint32_t mode;          /* permission bits */
};
int lsn_staging_stat(struct lsn_log *log, const char *name, struct lsn_staging_stat *st);
/* open(2) flags as given (O_CREAT with mode 0644); *fd is the caller's. */
int lsn_staging_open(struct lsn_log *log, const char *name, int flags, int *fd);
int lsn_staging_unlink(struct lsn_log *log, const char *name);
/* rename(2) flags (RENAME_NOREPLACE); both names are staging names. */
int lsn_staging_rename(struct lsn_log *log, const char *from, const char *to, unsigned flags);
int lsn_staging_truncate(struct lsn_log *log, const char *name, uint64_t size);
/* Staging files are ordinary until committed: cp -a, rsync -a, install. */
int lsn_staging_chmod(struct lsn_log *log, const char *name, uint32_t mode);
/* times[0] access, times[1] modification, as utimensat(2) (UTIME_NOW, UTIME_OMIT). */
int lsn_staging_utimens(struct lsn_log *log, const char *name, const struct timespec times[2]);
/* Names, unsorted; free with lsn_names_free. */
int lsn_staging_list(struct lsn_log *log, char ***names, size_t *n);
/* Remove every staging file of the log and its directory (after the log
 * itself was removed: lsn_store_purge_log).  Best effort: the first error. */
int lsn_staging_remove_all(struct lsn_log *log);
/* Commit staging file `name` as snapshot `lsn` (see lsn_snapshot_commit). */
int lsn_staging_commit(struct lsn_log *log, const char *name, uint64_t lsn);

#endif
