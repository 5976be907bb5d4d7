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

#include "fs/fs.h"
#include "storage/diag.h"
#include "storage/staging.h"

int lsnfs_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	struct lsnfs *fs = lsnfs_ctx();
	struct lsn_segment_info seg;
	struct lsn_log_info info;
	struct lsn_log *log;
	struct lsn_path p;
	int rc;

	(void)fi;
	rc = lsnfs_resolve(fs, path, &p, &log);
	if (rc)
		return rc;
	if (p.node == LSN_NODE_ROOT) {
		lsnfs_fill_stat(fs, st, S_IFDIR | 0755, 0, 0);
		st->st_ino = 1;
		return 0;
	}
	lsn_log_info(log, &info);
	switch (p.node) {
	case LSN_NODE_LOG:
	case LSN_NODE_SEGDIR:
	case LSN_NODE_IDXDIR:
	case LSN_NODE_SNAPDIR:
		lsnfs_fill_stat(fs, st, S_IFDIR | 0755, 0, info.mtime_ns);
		return 0;
	case LSN_NODE_APPEND:
	case LSN_NODE_APPEND_LINES:
	case LSN_NODE_APPEND_FRAMES:
		lsnfs_fill_stat(fs, st, S_IFREG | 0600, 0, info.mtime_ns);
		return 0;
	case LSN_NODE_SEGMENT:
	case LSN_NODE_INDEX:
		rc = lsn_log_segment(log, p.lsn, &seg);
		if (rc)
			return rc;
		lsnfs_fill_stat(fs, st, S_IFREG | 0444,
				p.node == LSN_NODE_SEGMENT ? seg.bytes : seg.index_bytes, seg.mtime_ns);
		return 0;
	case LSN_NODE_SNAPSHOT:
	case LSN_NODE_STAGING:
		return lsnfs_snap_getattr(fs, log, &p, st);
	case LSN_NODE_ACTIVE:
		lsnfs_fill_stat(fs, st, S_IFLNK | 0777, strlen("segments/") + LSN_LSN_DIGITS + 4,
				info.mtime_ns);
		return 0;
	default:
		return -ENOENT;
	}
}

/* active.log -> segments/<first LSN of the active segment>.log: a new name
 * at every roll-over, so `tail -F active.log` reopens and follows on. */
int lsnfs_readlink(const char *path, char *buf, size_t size)
{
	struct lsnfs *fs = lsnfs_ctx();
	struct lsn_log_view view;
	struct lsn_log *log;
	struct lsn_path p;
	char name[32];
	int rc;

	rc = lsnfs_resolve(fs, path, &p, &log);
	if (rc)
		return rc;
	if (p.node != LSN_NODE_ACTIVE)
		return -EINVAL;
	rc = lsn_log_view(log, LSN_VIEW_SEGMENTS, &view);
	if (rc)
		return rc;
	if (view.n_segments == 0)
		rc = -ENOENT;
	else
		lsn_path_format_lsn(name, view.segments[view.n_segments - 1].first_lsn, ".log");
	lsn_log_view_release(&view);
	if (rc)
		return rc;
	if (size == 0)
		return -EINVAL;
	snprintf(buf, size, "segments/%s", name);
	return 0;
}

static int fill_name(void *buf, fuse_fill_dir_t filler, const char *name)
{
	return filler(buf, name, NULL, 0, 0) ? -ENOMEM : 0;
}

static int readdir_root(struct lsnfs *fs, void *buf, fuse_fill_dir_t filler)
{
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

int lsnfs_readdir(const char *path, void *buf, fuse_fill_dir_t filler, off_t off,
		  struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
	static const char *const log_entries[] = { "append", "append.lines", "append.frames",
						    "segments", "index", "snapshots", "active.log", NULL };
	struct lsnfs *fs = lsnfs_ctx();
	struct lsn_log *log;
	struct lsn_path p;
	int rc;

	(void)off;
	(void)fi;
	(void)flags;
	rc = lsnfs_resolve(fs, path, &p, &log);
	if (rc)
		return rc;
	fill_name(buf, filler, ".");
	fill_name(buf, filler, "..");
	switch (p.node) {
	case LSN_NODE_ROOT:
		return readdir_root(fs, buf, filler);
	case LSN_NODE_LOG:
		for (const char *const *e = log_entries; *e; e++)
			fill_name(buf, filler, *e);
		return 0;
	case LSN_NODE_SEGDIR:
		return readdir_segments(log, ".log", buf, filler);
	case LSN_NODE_IDXDIR:
		return readdir_segments(log, ".index", buf, filler);
	case LSN_NODE_SNAPDIR:
		return lsnfs_snap_readdir(fs, log, buf, filler);
	default:
		return -ENOTDIR;
	}
}

int lsnfs_mkdir(const char *path, mode_t mode)
{
	struct lsnfs *fs = lsnfs_ctx();
	const char *name = path + 1;

	(void)mode;
	if (strchr(name, '/')) {
		lsn_diag(LSN_DIAG_WARN, "mkdir %s refused: logs are created at the mount root only",
			 path);
		return -EPERM;
	}
	return lsn_node_create_log(fs->node, name);
}

int lsnfs_rmdir(const char *path)
{
	struct lsnfs *fs = lsnfs_ctx();
	struct lsn_log *log;
	struct lsn_path p;
	int rc;

	rc = lsnfs_resolve(fs, path, &p, &log);
	if (rc)
		return rc;
	if (p.node != LSN_NODE_LOG) {
		lsn_diag(LSN_DIAG_WARN, "rmdir %s refused: only a log directory can be removed", path);
		return p.node == LSN_NODE_ROOT ? -EBUSY : -EPERM;
	}
	return lsn_node_remove_log(fs->node, p.log);
}

int lsnfs_unlink(const char *path)
{
	struct lsnfs *fs = lsnfs_ctx();
	struct lsn_log *log;
	struct lsn_path p;
	int rc;

	rc = lsnfs_resolve(fs, path, &p, &log);
	if (rc)
		return rc;
	switch (p.node) {
	case LSN_NODE_SEGMENT:
		return lsn_node_trim_segment(fs->node, log, p.lsn);
	case LSN_NODE_SNAPSHOT:
	case LSN_NODE_STAGING:
		return lsnfs_snap_unlink(fs, log, &p);
	case LSN_NODE_INDEX:
		return lsnfs_refuse("unlink", path, "an index file comes and goes with its segment");
	default:
		return lsnfs_refuse("unlink", path,
				    "only segments (a trim request) and snapshots can be removed");
	}
}

int lsnfs_rename(const char *from, const char *to, unsigned int flags)
{
	struct lsnfs *fs = lsnfs_ctx();
	struct lsn_path pf, pt;
	struct lsn_log *log;
	int rc;

	rc = lsnfs_resolve(fs, from, &pf, &log);
	if (rc)
		return rc;
	if (pf.node != LSN_NODE_STAGING)
		return lsnfs_refuse("rename", from, "only a snapshot staging file can be renamed");
	if (lsn_path_parse(to, &pt) != 0 || strcmp(pt.log, pf.log) != 0 ||
	    (pt.node != LSN_NODE_SNAPSHOT && pt.node != LSN_NODE_STAGING))
		return lsnfs_refuse("rename", from, "a staging file stays in its log's snapshots/");
	if (flags & RENAME_EXCHANGE)
		return lsnfs_refuse("rename", from, "RENAME_EXCHANGE is not supported");
	return lsnfs_snap_rename(fs, log, &pf, &pt, flags);
}

int lsnfs_create(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	struct lsnfs *fs = lsnfs_ctx();
	struct lsn_log *log;
	struct lsn_path p;
	int rc;

	(void)mode;
	rc = lsn_path_parse(path, &p);
	if (p.node == LSN_NODE_LOG || (rc && !strchr(path + 1, '/')))
		return lsnfs_refuse("create", path, "only logs (mkdir) live at the mount root");
	if (rc)
		return lsnfs_refuse("create", path,
				    "files in a log are fixed; write to append or append.lines");
	rc = lsnfs_resolve(fs, path, &p, &log);
	if (rc)
		return rc;
	if (p.node == LSN_NODE_STAGING)
		return lsnfs_snap_create(fs, log, &p, fi);
	if (p.node == LSN_NODE_SNAPSHOT)
		return lsnfs_refuse("create", path,
				    "a <lsn>.snap name appears only by rename of a complete staging file");
	return lsnfs_refuse("create", path, "files in a log are fixed; write to append or append.lines");
}

int lsnfs_mknod(const char *path, mode_t mode, dev_t dev)
{
	(void)mode;
	(void)dev;
	return lsnfs_refuse("mknod", path, "special files are not supported");
}

int lsnfs_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
	struct lsnfs *fs = lsnfs_ctx();
	struct lsn_log *log;
	struct lsn_path p;
	int rc;

	rc = lsnfs_resolve(fs, path, &p, &log);
	if (rc)
		return rc;
	switch (p.node) {
	case LSN_NODE_APPEND:
	case LSN_NODE_APPEND_LINES:
	case LSN_NODE_APPEND_FRAMES:
		/* O_TRUNC on an append file (the shell's '>') truncates nothing:
		 * its size is always 0.  Any other size would be data that was
		 * never appended (truncate(2): EPERM, cannot extend). */
		if (size == 0)
			return 0;
		return lsnfs_refuse("truncate", path,
				    "an append file has no contents: only truncation to 0 (O_TRUNC) is accepted");
	case LSN_NODE_STAGING:
		return lsnfs_snap_truncate(log, &p, size, fi);
	default:
		return lsnfs_refuse("truncate", path, "segments, index files and snapshots are immutable");
	}
}

/* Staging files are ordinary files until committed (cp -a, rsync -a,
 * install set their modes and times); everything else is fixed. */
static int resolve_staging(struct lsnfs *fs, const char *path, struct lsn_path *p,
			   struct lsn_log **log)
{
	int rc = lsnfs_resolve(fs, path, p, log);

	return rc ? rc : p->node == LSN_NODE_STAGING ? 0 : 1;
}

int lsnfs_chmod(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	struct lsnfs *fs = lsnfs_ctx();
	struct lsn_log *log;
	struct lsn_path p;
	int rc = resolve_staging(fs, path, &p, &log);

	(void)fi;
	if (rc < 0)
		return rc;
	if (rc == 0)
		return lsn_staging_chmod(log, p.name, mode);
	return lsnfs_refuse("chmod", path, "modes in lsnfs are fixed");
}

int lsnfs_chown(const char *path, uid_t uid, gid_t gid, struct fuse_file_info *fi)
{
	struct lsnfs *fs = lsnfs_ctx();
	struct lsn_log *log;
	struct lsn_path p;
	int rc = resolve_staging(fs, path, &p, &log);

	(void)fi;
	if (rc < 0)
		return rc;
	/* Every file belongs to the mounting user; "no change" is fine. */
	if (rc == 0 && (uid == (uid_t)-1 || uid == fs->uid) && (gid == (gid_t)-1 || gid == fs->gid))
		return 0;
	return lsnfs_refuse("chown", path, "every file belongs to the user who mounted lsnfs");
}

int lsnfs_utimens(const char *path, const struct timespec tv[2], struct fuse_file_info *fi)
{
	struct lsnfs *fs = lsnfs_ctx();
	struct lsn_log *log;
	struct lsn_path p;
	int rc = resolve_staging(fs, path, &p, &log);

	(void)fi;
	if (rc < 0)
		return rc;
	if (rc == 0)
		return lsn_staging_utimens(log, p.name, tv);
	/* `touch append` is harmless: times come from the data, not the caller. */
	if (p.node == LSN_NODE_APPEND || p.node == LSN_NODE_APPEND_LINES ||
	    p.node == LSN_NODE_APPEND_FRAMES)
		return 0;
	return lsnfs_refuse("utimens", path, "times of segments and snapshots are the times of their data");
}

int lsnfs_link(const char *from, const char *to)
{
	(void)to;
	return lsnfs_refuse("link", from, "hard links are not supported");
}

int lsnfs_symlink(const char *target, const char *path)
{
	(void)target;
	return lsnfs_refuse("symlink", path, "symbolic links are not supported");
}

int lsnfs_statfs(const char *path, struct statvfs *sv)
{
	struct lsnfs *fs = lsnfs_ctx();

	(void)path;
	if (statvfs(lsn_store_path(fs->store), sv) != 0)
		return -errno;
	sv->f_namemax = 255;
	return 0;
}
