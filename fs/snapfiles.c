/*
 * fs/snapfiles.c - the snapshots/ directory of a log.
 *
 * Three kinds of entry:
 *   staging files   any name that is not <lsn20>.snap: ordinary files
 *                   (storage/staging.h), written with cp, dd, ...
 *   local snapshots <lsn20>.snap committed here; they appear only by
 *                   rename(2) of a staging file and are immutable afterwards
 *   remote ones     <lsn20>.snap archived by another node sharing the
 *                   archive directory, read through from the archive
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs/fs.h"
#include "storage/diag.h"
#include "storage/fileio.h"
#include "storage/snapshot.h"
#include "storage/staging.h"

int lsnfs_snap_getattr(struct lsnfs *fs, struct lsn_log *log, const struct lsn_path *p,
		       struct stat *st)
{
	struct lsn_node_snapshot snap;
	struct lsn_staging_stat real;
	struct lsn_log_info info;
	int rc;

	if (p->node == LSN_NODE_STAGING) {
		rc = lsn_staging_stat(log, p->name, &real);
		if (rc)
			return rc;
		lsnfs_fill_stat(fs, st, S_IFREG | (real.mode & 07777), real.size, real.mtime_ns);
		return 0;
	}
	rc = lsn_node_snapshot_stat(fs->node, log, p->lsn, &snap);
	if (rc)
		return rc;
	if (snap.remote) {
		lsn_log_info(log, &info);
		snap.mtime_ns = info.mtime_ns;
	}
	lsnfs_fill_stat(fs, st, S_IFREG | 0444, snap.size, snap.mtime_ns);
	return 0;
}

static int add_name(void *buf, fuse_fill_dir_t filler, const char *name)
{
	return filler(buf, name, NULL, 0, 0) ? -ENOMEM : 0;
}

int lsnfs_snap_readdir(struct lsnfs *fs, struct lsn_log *log, void *buf, fuse_fill_dir_t filler)
{
	char name[32], **names = NULL;
	uint64_t *lsns = NULL;
	size_t n = 0, ns = 0;
	int rc;

	rc = lsn_node_snapshot_list(fs->node, log, &lsns, &n);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		lsn_path_format_lsn(name, lsns[i], ".snap");
		rc = add_name(buf, filler, name);
	}
	free(lsns);
	if (rc == 0 && lsn_staging_list(log, &names, &ns) == 0)
		for (size_t i = 0; rc == 0 && i < ns; i++)
			rc = add_name(buf, filler, names[i]);
	lsn_names_free(names, ns);
	return rc;
}

int lsnfs_snap_unlink(struct lsnfs *fs, struct lsn_log *log, const struct lsn_path *p)
{
	if (p->node == LSN_NODE_STAGING)
		return lsn_staging_unlink(log, p->name);
	return lsn_node_snapshot_unlink(fs->node, log, p->lsn);
}

int lsnfs_snap_rename(struct lsnfs *fs, struct lsn_log *log, const struct lsn_path *from,
		      const struct lsn_path *to, unsigned int flags)
{
	if (to->node == LSN_NODE_STAGING)
		return lsn_staging_rename(log, from->name, to->name, flags);
	return lsn_node_snapshot_commit(fs->node, log, from->name, to->lsn, flags);
}

static int open_staging(struct lsn_log *log, const struct lsn_path *p, int flags,
			struct fuse_file_info *fi)
{
	struct lsnfs_file *f;
	int fd, rc;

	rc = lsn_staging_open(log, p->name, flags, &fd);
	if (rc)
		return rc;
	f = lsnfs_file_new(LSNFS_FILE_STAGING, log);
	if (!f) {
		close(fd);
		return -ENOMEM;
	}
	f->fd = fd;
	fi->direct_io = 1; /* the file can change under other names */
	fi->fh = (uint64_t)(uintptr_t)f;
	return 0;
}

int lsnfs_snap_create(struct lsnfs *fs, struct lsn_log *log, const struct lsn_path *p,
		      struct fuse_file_info *fi)
{
	(void)fs;
	return open_staging(log, p, fi->flags | O_CREAT, fi);
}

int lsnfs_snap_truncate(struct lsn_log *log, const struct lsn_path *p, off_t size,
			struct fuse_file_info *fi)
{
	if (size < 0)
		return -EINVAL;
	if (fi && fi->fh)
		return ftruncate(lsnfs_file_of(fi)->fd, size) == 0 ? 0 : -errno;
	return lsn_staging_truncate(log, p->name, (uint64_t)size);
}

int lsnfs_snap_open(struct lsnfs *fs, struct lsn_log *log, const struct lsn_path *p,
		    struct fuse_file_info *fi)
{
	struct lsn_node_snapshot snap;
	struct lsnfs_file *f;
	int rc;

	if (p->node == LSN_NODE_STAGING)
		return open_staging(log, p, fi->flags & ~O_CREAT, fi);
	if ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC)) {
		lsn_diag(LSN_DIAG_WARN, "log %s: snapshot %020llu.snap is immutable", lsn_log_name(log),
			 (unsigned long long)p->lsn);
		return -EPERM;
	}
	rc = lsn_node_snapshot_stat(fs->node, log, p->lsn, &snap);
	if (rc)
		return rc;
	f = lsnfs_file_new(snap.remote ? LSNFS_FILE_REMOTE_SNAPSHOT : LSNFS_FILE_SNAPSHOT, log);
	if (!f)
		return -ENOMEM;
	f->lsn = p->lsn;
	if (snap.remote) {
		rc = lsn_node_snapshot_fetch(fs->node, log, p->lsn, &f->fd);
	} else {
		f->snap_cache = calloc(1, sizeof(*f->snap_cache));
		rc = f->snap_cache ? 0 : -ENOMEM;
		if (f->snap_cache)
			f->snap_cache->chunk = -1;
	}
	if (rc) {
		lsnfs_snap_release(f);
		lsnfs_file_free(f);
		return rc;
	}
	fi->keep_cache = 1; /* immutable */
	fi->fh = (uint64_t)(uintptr_t)f;
	return 0;
}

int lsnfs_snap_read(struct lsnfs_file *f, char *buf, size_t size, off_t off)
{
	size_t got = 0;
	int rc;

	if (f->fd >= 0) {
		rc = lsn_pread_full(f->fd, buf, size, (uint64_t)off, &got);
		return rc ? rc : (int)got;
	}
	pthread_mutex_lock(&f->lock);
	rc = lsn_snapshot_read(f->log, f->lsn, (uint64_t)off, buf, size, &got, f->snap_cache);
	pthread_mutex_unlock(&f->lock);
	return rc ? rc : (int)got;
}

int lsnfs_snap_write(struct lsnfs_file *f, const char *buf, size_t size, off_t off)
{
	ssize_t n;

	if (f->kind != LSNFS_FILE_STAGING)
		return -EBADF;
	n = pwrite(f->fd, buf, size, off);
	return n < 0 ? -errno : (int)n;
}

int lsnfs_snap_fsync(struct lsnfs_file *f)
{
	if (f->kind != LSNFS_FILE_STAGING)
		return 0; /* committed snapshots are durable from their commit on */
	return fsync(f->fd) == 0 ? 0 : -errno;
}

void lsnfs_snap_release(struct lsnfs_file *f)
{
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
}
