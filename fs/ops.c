/*
 * fs/ops.c - attributes, directories and namespace operations.
 *
 * The tree is synthesised from the store on every call; nothing is cached
 * here.  Every refusal returns the errno of SPEC section 2 and logs the
 * rule that refused it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <time.h>

#include "fs/fs.h"
#include "fs/trimmer.h"
#include "storage/diag.h"

uint64_t lsnfs_monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint64_t lsnfs_monotonic_seconds(void)
{
	return lsnfs_monotonic_ms() / 1000;
}

int lsnfs_resolve(const char *path, struct lsn_path *p, struct lsn_log **log)
{
	struct lsnfs *fs = lsnfs_ctx();
	int rc;

	*log = NULL;
	if (!path)
		return -ESTALE; /* an open file that was unlinked (trimmed, removed) */
	lsnfs_wait_partials();
	rc = lsn_path_parse(path, p);
	if (rc)
		return rc;
	if (p->node == LSN_NODE_ROOT)
		return 0;
	return lsn_store_find_log(fs->store, p->log, log) == 0 ? 0 : -ENOENT;
}

static void set_time(struct timespec *ts, int64_t ns)
{
	ts->tv_sec = ns / 1000000000;
	ts->tv_nsec = ns % 1000000000;
}

static void fill_common(struct stat *st, mode_t mode, int64_t mtime_ns)
{
	struct lsnfs *fs = lsnfs_ctx();

	memset(st, 0, sizeof(*st));
	st->st_mode = mode;
	st->st_nlink = S_ISDIR(mode) ? 2 : 1;
	st->st_uid = fs->uid;
	st->st_gid = fs->gid;
	set_time(&st->st_mtim, mtime_ns);
	st->st_ctim = st->st_mtim;
	st->st_atim = st->st_mtim;
	st->st_blksize = 128 * 1024;
}

static void set_size(struct stat *st, uint64_t size)
{
	st->st_size = (off_t)size;
	st->st_blocks = (blkcnt_t)((size + 511) / 512);
}

static int lsnfs_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	struct lsn_segment_info seg;
	struct lsn_log_info info;
	struct lsn_log *log;
	struct lsn_path p;
	int rc;

	(void)fi;
	rc = lsnfs_resolve(path, &p, &log);
	if (rc)
		return rc;
	if (p.node == LSN_NODE_ROOT) {
		fill_common(st, S_IFDIR | 0755, 0);
		st->st_ino = 1;
		return 0;
	}
	lsn_log_info(log, &info);
	switch (p.node) {
	case LSN_NODE_LOG:
	case LSN_NODE_SEGDIR:
	case LSN_NODE_IDXDIR:
		fill_common(st, S_IFDIR | 0755, info.mtime_ns);
		return 0;
	case LSN_NODE_SNAPDIR:
		return lsnfs_snapshots_getattr(log, NULL, st, info.mtime_ns);
	case LSN_NODE_APPEND:
	case LSN_NODE_APPEND_LINES:
		fill_common(st, S_IFREG | 0600, info.mtime_ns);
		return 0;
	case LSN_NODE_SEGMENT:
	case LSN_NODE_INDEX:
		rc = lsn_log_segment(log, p.lsn, &seg);
		if (rc)
			return rc;
		fill_common(st, S_IFREG | 0444, seg.mtime_ns);
		set_size(st, p.node == LSN_NODE_SEGMENT ? seg.bytes : seg.index_bytes);
		return 0;
	case LSN_NODE_SNAPSHOT:
	case LSN_NODE_STAGING:
		return lsnfs_snapshots_getattr(log, &p, st, info.mtime_ns);
	default:
		return -ENOENT;
	}
}

static int fill_name(void *buf, fuse_fill_dir_t filler, const char *name)
{
	return filler(buf, name, NULL, 0, 0) ? -ENOMEM : 0;
}

static int readdir_root(void *buf, fuse_fill_dir_t filler)
{
	struct lsnfs *fs = lsnfs_ctx();
	char **names;
	size_t n;
	int rc = lsn_store_list_logs(fs->store, &names, &n);

	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = fill_name(buf, filler, names[i]);
	lsn_names_free(names, n);
	return rc;
}

static int readdir_segments(struct lsn_log *log, const char *suffix, void *buf,
			    fuse_fill_dir_t filler)
{
	struct lsn_segment_info *segs;
	char name[32];
	size_t n;
	int rc = lsn_log_segments(log, &segs, &n);

	for (size_t i = 0; rc == 0 && i < n; i++) {
		lsn_path_format_lsn(name, segs[i].first_lsn, suffix);
		rc = fill_name(buf, filler, name);
	}
	free(segs);
	return rc;
}

static int lsnfs_readdir(const char *path, void *buf, fuse_fill_dir_t filler, off_t off,
			 struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
	static const char *const log_entries[] = { "append", "append.lines", "segments", "index",
						    "snapshots", NULL };
	struct lsn_log *log;
	struct lsn_path p;
	int rc;

	(void)off;
	(void)fi;
	(void)flags;
	rc = lsnfs_resolve(path, &p, &log);
	if (rc)
		return rc;
	fill_name(buf, filler, ".");
	fill_name(buf, filler, "..");
	switch (p.node) {
	case LSN_NODE_ROOT:
		return readdir_root(buf, filler);
	case LSN_NODE_LOG:
		for (const char *const *e = log_entries; *e; e++)
			fill_name(buf, filler, *e);
		return 0;
	case LSN_NODE_SEGDIR:
		return readdir_segments(log, ".log", buf, filler);
	case LSN_NODE_IDXDIR:
		return readdir_segments(log, ".index", buf, filler);
	case LSN_NODE_SNAPDIR:
		return lsnfs_snapshots_readdir(log, buf, filler);
	default:
		return -ENOTDIR;
	}
}

static int lsnfs_mkdir(const char *path, mode_t mode)
{
	struct lsnfs *fs = lsnfs_ctx();
	const char *name = path + 1;
	int rc;

	(void)mode;
	if (strchr(name, '/')) {
		lsn_diag(LSN_DIAG_WARN, "mkdir %s refused: logs are created at the mount root only",
			 path);
		return -EPERM;
	}
	rc = lsn_store_create_log(fs->store, name);
	if (rc == -EINVAL)
		lsn_diag(LSN_DIAG_WARN,
			 "mkdir %s refused: a log name is 1-64 of [A-Za-z0-9._-], not starting with '.'",
			 path);
	else if (rc == 0)
		lsn_diag(LSN_DIAG_INFO, "log %s created", name);
	return rc;
}

static int lsnfs_rmdir(const char *path)
{
	struct lsnfs *fs = lsnfs_ctx();
	struct lsn_log_info info;
	struct lsn_log *log;
	struct lsn_path p;
	int rc;

	rc = lsnfs_resolve(path, &p, &log);
	if (rc)
		return rc;
	if (p.node != LSN_NODE_LOG) {
		lsn_diag(LSN_DIAG_WARN, "rmdir %s refused: only a log directory can be removed", path);
		return p.node == LSN_NODE_ROOT ? -EBUSY : -EPERM;
	}
	if (lsnfs_snapshots_count(log) > 0) {
		lsn_diag(LSN_DIAG_WARN, "rmdir %s refused: the log still has snapshots or staging files", path);
		return -ENOTEMPTY;
	}
	lsn_log_info(log, &info);
	rc = lsn_store_remove_log(fs->store, p.log);
	if (rc == -ENOTEMPTY)
		lsn_diag(LSN_DIAG_WARN,
			 "rmdir %s refused: records %llu..%llu are not trimmed (trim point %llu)", path,
			 (unsigned long long)info.first_lsn, (unsigned long long)info.tail_lsn,
			 (unsigned long long)info.trim_point);
	return rc;
}

static int refuse(const char *op, const char *path, const char *why)
{
	lsn_diag(LSN_DIAG_WARN, "%s %s refused: %s", op, path ? path : "(unlinked file)", why);
	return -EPERM;
}

static int lsnfs_unlink(const char *path)
{
	struct lsn_log *log;
	struct lsn_path p;
	int rc;

	rc = lsnfs_resolve(path, &p, &log);
	if (rc)
		return rc;
	switch (p.node) {
	case LSN_NODE_SEGMENT:
		return lsnfs_trim_segment(log, p.lsn);
	case LSN_NODE_SNAPSHOT:
	case LSN_NODE_STAGING:
		return lsnfs_snapshots_unlink(log, &p);
	case LSN_NODE_INDEX:
		return refuse("unlink", path, "an index file comes and goes with its segment");
	default:
		return refuse("unlink", path, "only segments (a trim request) and snapshots can be removed");
	}
}

static int lsnfs_rename(const char *from, const char *to, unsigned int flags)
{
	struct lsn_path pf, pt;
	struct lsn_log *log;
	int rc;

	rc = lsnfs_resolve(from, &pf, &log);
	if (rc)
		return rc;
	if (pf.node != LSN_NODE_STAGING)
		return refuse("rename", from, "only a snapshot staging file can be renamed");
	if (lsn_path_parse(to, &pt) != 0 || strcmp(pt.log, pf.log) != 0 ||
	    (pt.node != LSN_NODE_SNAPSHOT && pt.node != LSN_NODE_STAGING))
		return refuse("rename", from, "a staging file stays in its log's snapshots/");
	if (flags & RENAME_EXCHANGE)
		return refuse("rename", from, "RENAME_EXCHANGE is not supported");
	return lsnfs_snapshots_rename(log, &pf, &pt, flags);
}

static int lsnfs_create(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	struct lsn_log *log;
	struct lsn_path p;
	int rc;

	rc = lsn_path_parse(path, &p);
	if (rc || p.node == LSN_NODE_LOG)
		return refuse("create", path, "only logs (mkdir) live at the mount root");
	rc = lsnfs_resolve(path, &p, &log);
	if (rc)
		return rc;
	if (p.node == LSN_NODE_STAGING)
		return lsnfs_snapshots_create(log, &p, mode, fi);
	if (p.node == LSN_NODE_SNAPSHOT)
		return refuse("create", path,
			      "a <lsn>.snap name appears only by rename of a complete staging file");
	return refuse("create", path, "files in a log are fixed; write to append or append.lines");
}

static int lsnfs_mknod(const char *path, mode_t mode, dev_t dev)
{
	(void)mode;
	(void)dev;
	return refuse("mknod", path, "special files are not supported");
}

static int lsnfs_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
	struct lsn_log *log;
	struct lsn_path p;
	int rc;

	rc = lsnfs_resolve(path, &p, &log);
	if (rc)
		return rc;
	switch (p.node) {
	case LSN_NODE_APPEND:
	case LSN_NODE_APPEND_LINES:
		/* O_TRUNC on an append file (the shell's '>') truncates nothing. */
		return 0;
	case LSN_NODE_STAGING:
		return lsnfs_snapshots_truncate(log, &p, size, fi);
	default:
		return refuse("truncate", path, "segments, index files and snapshots are immutable");
	}
}

static int lsnfs_chmod(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	(void)mode;
	(void)fi;
	return refuse("chmod", path, "modes in lsnfs are fixed");
}

static int lsnfs_chown(const char *path, uid_t uid, gid_t gid, struct fuse_file_info *fi)
{
	(void)uid;
	(void)gid;
	(void)fi;
	return refuse("chown", path, "owners in lsnfs are fixed");
}

static int lsnfs_utimens(const char *path, const struct timespec tv[2], struct fuse_file_info *fi)
{
	struct lsn_log *log;
	struct lsn_path p;
	int rc;

	(void)tv;
	(void)fi;
	rc = lsnfs_resolve(path, &p, &log);
	if (rc)
		return rc;
	/* `touch append` is harmless: times come from the data, not the caller. */
	if (p.node == LSN_NODE_APPEND || p.node == LSN_NODE_APPEND_LINES ||
	    p.node == LSN_NODE_STAGING)
		return 0;
	return refuse("utimens", path, "times of segments and snapshots are the times of their data");
}

static int lsnfs_link(const char *from, const char *to)
{
	(void)to;
	return refuse("link", from, "hard links are not supported");
}

static int lsnfs_symlink(const char *target, const char *path)
{
	(void)target;
	return refuse("symlink", path, "symbolic links are not supported");
}

static int lsnfs_statfs(const char *path, struct statvfs *sv)
{
	struct lsnfs *fs = lsnfs_ctx();

	(void)path;
	if (statvfs(lsn_store_path(fs->store), sv) != 0)
		return -errno;
	sv->f_namemax = 255;
	return 0;
}

void lsnfs_ops_fill(struct fuse_operations *ops)
{
	ops->getattr = lsnfs_getattr;
	ops->readdir = lsnfs_readdir;
	ops->mkdir = lsnfs_mkdir;
	ops->rmdir = lsnfs_rmdir;
	ops->unlink = lsnfs_unlink;
	ops->rename = lsnfs_rename;
	ops->create = lsnfs_create;
	ops->mknod = lsnfs_mknod;
	ops->truncate = lsnfs_truncate;
	ops->chmod = lsnfs_chmod;
	ops->chown = lsnfs_chown;
	ops->utimens = lsnfs_utimens;
	ops->link = lsnfs_link;
	ops->symlink = lsnfs_symlink;
	ops->statfs = lsnfs_statfs;
}
