/*
 * fs/trimmer.h - glue between the trim engine (trim/), the store and the
 * snapshot archive, plus the snapshots/ directory operations.
 *
 * Every way to trim (rm of a segment, setfattr user.lsnfs.trim, the
 * auto-trimmer) ends in lsn_log_trim() with a planner from here that asks
 * lsn_trim_decide()/lsn_trim_plan*() under the log's lock, so the rules
 * live in exactly one place.
 */
#ifndef LSN_FS_TRIMMER_H
#define LSN_FS_TRIMMER_H

#include "fs/fs.h"
#include "trim/trim.h"

/* `rm LOG/segments/<first>.log`. 0, -EPERM (logged, reason kept), -ENOENT. */
int lsnfs_trim_segment(struct lsn_log *log, uint64_t first_lsn);
/* `setfattr -n user.lsnfs.trim -v LSN|safe LOG`. */
int lsnfs_trim_to(struct lsn_log *log, const char *value);
/* The engine's answer for a log right now. */
void lsnfs_trim_decide(struct lsn_log *log, struct lsn_trim_decision *d);
/* Why `rm` of this segment would be refused now ("" when it would not). */
int lsnfs_trim_segment_blocked(struct lsn_log *log, uint64_t first_lsn, char *buf, size_t n);
/* user.lsnfs.mode on the root: the guard, then persist. */
int lsnfs_set_mode(enum lsn_mode mode);

/* Start / stop the background work (archiver, node registry, auto-trim). */
int lsnfs_trimmer_start(struct lsnfs *fs);
void lsnfs_trimmer_stop(struct lsnfs *fs);

/* Highest LSN covered by an archived snapshot of the log (0 if none). */
uint64_t lsnfs_archived_lsn(struct lsn_log *log);

/* snapshots/ directory (fs/snapshots.c) */
int lsnfs_snapshots_getattr(struct lsn_log *log, const struct lsn_path *p, struct stat *st,
			    int64_t dir_mtime_ns);
int lsnfs_snapshots_readdir(struct lsn_log *log, void *buf, fuse_fill_dir_t filler);
size_t lsnfs_snapshots_count(struct lsn_log *log);
int lsnfs_snapshots_unlink(struct lsn_log *log, const struct lsn_path *p);
int lsnfs_snapshots_rename(struct lsn_log *log, const struct lsn_path *from,
			   const struct lsn_path *to, unsigned int flags);
int lsnfs_snapshots_create(struct lsn_log *log, const struct lsn_path *p, mode_t mode,
			   struct fuse_file_info *fi);
int lsnfs_snapshots_truncate(struct lsn_log *log, const struct lsn_path *p, off_t size,
			     struct fuse_file_info *fi);
int lsnfs_snapshots_open(struct lsn_log *log, const struct lsn_path *p, struct fuse_file_info *fi);
int lsnfs_snapshots_read(struct lsnfs_file *f, char *buf, size_t size, off_t off);
int lsnfs_snapshots_write(struct lsnfs_file *f, const char *buf, size_t size, off_t off);
void lsnfs_snapshots_release(struct lsnfs_file *f);
int lsnfs_snapshots_fsync(struct lsnfs_file *f);
/* user.lsnfs.archived of a snapshot file */
int lsnfs_snapshots_archived_text(struct lsn_log *log, const struct lsn_path *p, char *buf,
				  size_t n);

#endif
