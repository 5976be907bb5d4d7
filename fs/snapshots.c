/* fs/snapshots.c - placeholder until snapshots land (issue 3). */
#include <errno.h>
#include <string.h>

#include "fs/archiver.h"
#include "fs/trimmer.h"

int lsnfs_archiver_start(struct lsnfs *fs) { (void)fs; return 0; }
void lsnfs_archiver_stop(struct lsnfs *fs) { (void)fs; }
bool lsnfs_archiver_other_nodes_seen(void) { return false; }
uint64_t lsnfs_archived_lsn(struct lsn_log *log) { (void)log; return 0; }

int lsnfs_snapshots_getattr(struct lsn_log *log, const struct lsn_path *p, struct stat *st,
			    int64_t dir_mtime_ns)
{
	(void)log;
	if (p)
		return -ENOENT;
	memset(st, 0, sizeof(*st));
	st->st_mode = S_IFDIR | 0755;
	st->st_nlink = 2;
	st->st_mtim.tv_sec = dir_mtime_ns / 1000000000;
	return 0;
}
int lsnfs_snapshots_readdir(struct lsn_log *log, void *buf, fuse_fill_dir_t filler) { (void)log; (void)buf; (void)filler; return 0; }
size_t lsnfs_snapshots_count(struct lsn_log *log) { (void)log; return 0; }
int lsnfs_snapshots_unlink(struct lsn_log *log, const struct lsn_path *p) { (void)log; (void)p; return -ENOENT; }
int lsnfs_snapshots_rename(struct lsn_log *log, const struct lsn_path *from, const struct lsn_path *to, unsigned int flags) { (void)log; (void)from; (void)to; (void)flags; return -ENOENT; }
int lsnfs_snapshots_create(struct lsn_log *log, const struct lsn_path *p, mode_t mode, struct fuse_file_info *fi) { (void)log; (void)p; (void)mode; (void)fi; return -EPERM; }
int lsnfs_snapshots_truncate(struct lsn_log *log, const struct lsn_path *p, off_t size, struct fuse_file_info *fi) { (void)log; (void)p; (void)size; (void)fi; return -ENOENT; }
int lsnfs_snapshots_open(struct lsn_log *log, const struct lsn_path *p, struct fuse_file_info *fi) { (void)log; (void)p; (void)fi; return -ENOENT; }
int lsnfs_snapshots_read(struct lsnfs_file *f, char *buf, size_t size, off_t off) { (void)f; (void)buf; (void)size; (void)off; return -EBADF; }
int lsnfs_snapshots_write(struct lsnfs_file *f, const char *buf, size_t size, off_t off) { (void)f; (void)buf; (void)size; (void)off; return -EBADF; }
void lsnfs_snapshots_release(struct lsnfs_file *f) { (void)f; }
int lsnfs_snapshots_fsync(struct lsnfs_file *f) { (void)f; return 0; }
int lsnfs_snapshots_archived_text(struct lsn_log *log, const struct lsn_path *p, char *buf, size_t n) { (void)log; (void)p; (void)buf; (void)n; return -ENOENT; }
