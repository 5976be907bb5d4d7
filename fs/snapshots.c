/*
 * fs/snapshots.c - the snapshots/ directory of a log.
 *
 * Three kinds of entry:
 *   staging files   any name that is not <lsn20>.snap: ordinary files kept
 *                   in STORE/staging/<log id>/, written with cp, dd, ...
 *   local snapshots <lsn20>.snap committed here (storage/snapshot.h); they
 *                   appear only by rename(2) of a staging file and are
 *                   immutable afterwards
 *   remote ones     <lsn20>.snap archived by another node sharing the
 *                   archive directory, read through from the archive
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs/archiver.h"
#include "fs/trimmer.h"
#include "storage/diag.h"
#include "storage/fileio.h"
#include "storage/snapshot.h"

struct snap_fh {
	int fd;                      /* STAGING, or remote copy; -1 otherwise */
	uint64_t lsn;                /* SNAPSHOT */
	struct lsn_snapshot_cache cache;
};

static int staging_path(struct lsn_log *log, const char *name, char *buf, size_t n)
{
	char dir[4096];
	int rc = lsn_staging_dir(log, dir, sizeof(dir));

	if (rc)
		return rc;
	if ((size_t)snprintf(buf, n, "%s/%s", dir, name) >= n)
		return -ENAMETOOLONG;
	return 0;
}

static void fill_stat(struct stat *st, mode_t mode, uint64_t size, int64_t mtime_ns)
{
	struct fuse_context *ctx = fuse_get_context();
	struct lsnfs *fs = ctx->private_data;

	memset(st, 0, sizeof(*st));
	st->st_mode = mode;
	st->st_nlink = S_ISDIR(mode) ? 2 : 1;
	st->st_uid = fs->uid;
	st->st_gid = fs->gid;
	st->st_size = (off_t)size;
	st->st_blocks = (blkcnt_t)((size + 511) / 512);
	st->st_blksize = 128 * 1024;
	st->st_mtim.tv_sec = mtime_ns / 1000000000;
	st->st_mtim.tv_nsec = mtime_ns % 1000000000;
	st->st_ctim = st->st_mtim;
	st->st_atim = st->st_mtim;
}

int lsnfs_snapshots_getattr(struct lsn_log *log, const struct lsn_path *p, struct stat *st,
			    int64_t dir_mtime_ns)
{
	struct lsn_snapshot_info info;
	char path[4096];
	uint64_t size;
	int rc;

	if (!p) {
		fill_stat(st, S_IFDIR | 0755, 0, dir_mtime_ns);
		return 0;
	}
	if (p->node == LSN_NODE_STAGING) {
		struct stat real;
		rc = staging_path(log, p->name, path, sizeof(path));
		if (rc)
			return rc;
		if (stat(path, &real) != 0)
			return -errno;
		fill_stat(st, S_IFREG | 0644, (uint64_t)real.st_size,
			  (int64_t)real.st_mtim.tv_sec * 1000000000 + real.st_mtim.tv_nsec);
		return 0;
	}
	rc = lsn_snapshot_get(log, p->lsn, &info);
	if (rc == 0) {
		fill_stat(st, S_IFREG | 0444, info.size, info.mtime_ns);
		return 0;
	}
	if (rc != -ENOENT)
		return rc;
	rc = lsnfs_archiver_remote_size(log, p->lsn, &size);
	if (rc)
		return rc;
	fill_stat(st, S_IFREG | 0444, size, dir_mtime_ns);
	return 0;
}

static int add_name(void *buf, fuse_fill_dir_t filler, const char *name)
{
	return filler(buf, name, NULL, 0, 0) ? -ENOMEM : 0;
}

static int cmp_u64(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;

	return a < b ? -1 : a > b;
}

/* Local and remote LSNs, merged and sorted. */
static int all_lsns(struct lsn_log *log, uint64_t **out, size_t *n)
{
	struct lsn_snapshot_info *local = NULL;
	uint64_t *remote = NULL, *v;
	size_t nl = 0, nr = 0;
	int rc;

	rc = lsn_snapshot_list(log, &local, &nl);
	if (!rc)
		rc = lsnfs_archiver_remote_list(log, &remote, &nr);
	if (rc) {
		free(local);
		return rc;
	}
	v = malloc((nl + nr + 1) * sizeof(*v));
	if (!v) {
		free(local);
		free(remote);
		return -ENOMEM;
	}
	for (size_t i = 0; i < nl; i++)
		v[i] = local[i].lsn;
	if (nr)
		memcpy(v + nl, remote, nr * sizeof(*v));
	qsort(v, nl + nr, sizeof(*v), cmp_u64);
	free(local);
	free(remote);
	*out = v;
	*n = nl + nr;
	return 0;
}

int lsnfs_snapshots_readdir(struct lsn_log *log, void *buf, fuse_fill_dir_t filler)
{
	char dir[4096], name[32];
	uint64_t *lsns;
	struct dirent *e;
	size_t n;
	DIR *d;
	int rc;

	rc = all_lsns(log, &lsns, &n);
	if (rc)
		return rc;
	for (size_t i = 0; rc == 0 && i < n; i++) {
		if (i > 0 && lsns[i] == lsns[i - 1])
			continue;
		lsn_path_format_lsn(name, lsns[i], ".snap");
		rc = add_name(buf, filler, name);
	}
	free(lsns);
	if (rc || lsn_staging_dir(log, dir, sizeof(dir)) != 0)
		return rc;
	d = opendir(dir);
	if (!d)
		return 0;
	while (rc == 0 && (e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			rc = add_name(buf, filler, e->d_name);
	closedir(d);
	return rc;
}

static int count_entry(void *buf, const char *name, const struct stat *st, off_t off,
		       enum fuse_fill_dir_flags flags)
{
	(void)name;
	(void)st;
	(void)off;
	(void)flags;
	++*(size_t *)buf;
	return 0;
}

/* Committed, remote and staging entries: what `ls snapshots/` shows. */
size_t lsnfs_snapshots_count(struct lsn_log *log)
{
	size_t n = 0;

	if (lsnfs_snapshots_readdir(log, &n, count_entry) != 0)
		return 1; /* cannot tell: assume not empty */
	return n;
}

int lsnfs_snapshots_unlink(struct lsn_log *log, const struct lsn_path *p)
{
	struct lsn_snapshot_info info;
	char path[4096];
	uint64_t size;
	int rc;

	if (p->node == LSN_NODE_STAGING) {
		rc = staging_path(log, p->name, path, sizeof(path));
		if (rc)
			return rc;
		return unlink(path) == 0 ? 0 : -errno;
	}
	rc = lsn_snapshot_get(log, p->lsn, &info);
	if (rc == 0)
		return lsnfs_archiver_unlink(log, p->lsn, true);
	if (rc != -ENOENT)
		return rc;
	rc = lsnfs_archiver_remote_size(log, p->lsn, &size);
	if (rc)
		return rc;
	return lsnfs_archiver_unlink(log, p->lsn, false);
}

int lsnfs_snapshots_rename(struct lsn_log *log, const struct lsn_path *from,
			   const struct lsn_path *to, unsigned int flags)
{
	struct lsn_snapshot_info info;
	char src[4096], dst[4096];
	int rc;

	rc = staging_path(log, from->name, src, sizeof(src));
	if (rc)
		return rc;
	if (to->node == LSN_NODE_STAGING) {
		rc = staging_path(log, to->name, dst, sizeof(dst));
		if (rc)
			return rc;
		return renameat2(AT_FDCWD, src, AT_FDCWD, dst, flags) == 0 ? 0 : -errno;
	}
	if (access(src, F_OK) != 0)
		return -errno;
	if (lsn_snapshot_get(log, to->lsn, &info) == 0 || lsnfs_archiver_has_remote(log, to->lsn)) {
		lsn_diag(LSN_DIAG_WARN, "log %s: snapshot %020llu.snap already committed; it is immutable",
			 lsn_log_name(log), (unsigned long long)to->lsn);
		return (flags & RENAME_NOREPLACE) ? -EEXIST : -EPERM;
	}
	rc = lsn_snapshot_commit(log, src, to->lsn);
	if (rc == 0) {
		lsn_diag(LSN_DIAG_INFO, "log %s: snapshot %llu committed", lsn_log_name(log),
			 (unsigned long long)to->lsn);
		lsnfs_archiver_wake();
	}
	return rc;
}

static struct lsnfs_file *new_snap_file(enum lsnfs_file_kind kind, struct lsn_log *log)
{
	struct lsnfs_file *f = lsnfs_file_new(kind, log);
	struct snap_fh *h = calloc(1, sizeof(*h));

	if (!f || !h) {
		lsnfs_file_free(f);
		free(h);
		return NULL;
	}
	h->fd = -1;
	h->cache.chunk = -1;
	f->snap = h;
	return f;
}

static int open_staging(struct lsn_log *log, const struct lsn_path *p, int flags, mode_t mode,
			struct fuse_file_info *fi)
{
	struct lsnfs_file *f;
	struct snap_fh *h;
	char path[4096];
	int fd, rc;

	rc = staging_path(log, p->name, path, sizeof(path));
	if (rc)
		return rc;
	fd = open(path, (flags & ~(O_APPEND | O_NOFOLLOW)) | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0)
		return -errno;
	f = new_snap_file(LSNFS_FILE_STAGING, log);
	if (!f) {
		close(fd);
		return -ENOMEM;
	}
	h = f->snap;
	h->fd = fd;
	fi->direct_io = 1; /* the file can change under other names */
	fi->fh = (uint64_t)(uintptr_t)f;
	return 0;
}

int lsnfs_snapshots_create(struct lsn_log *log, const struct lsn_path *p, mode_t mode,
			   struct fuse_file_info *fi)
{
	(void)mode;
	return open_staging(log, p, fi->flags | O_CREAT, 0644, fi);
}

int lsnfs_snapshots_truncate(struct lsn_log *log, const struct lsn_path *p, off_t size,
			     struct fuse_file_info *fi)
{
	char path[4096];
	int rc;

	if (fi && fi->fh) {
		struct snap_fh *h = lsnfs_file_of(fi)->snap;
		return ftruncate(h->fd, size) == 0 ? 0 : -errno;
	}
	rc = staging_path(log, p->name, path, sizeof(path));
	if (rc)
		return rc;
	return truncate(path, size) == 0 ? 0 : -errno;
}

int lsnfs_snapshots_open(struct lsn_log *log, const struct lsn_path *p, struct fuse_file_info *fi)
{
	struct lsn_snapshot_info info;
	struct lsnfs_file *f;
	struct snap_fh *h;
	uint64_t size;
	int rc;

	if (p->node == LSN_NODE_STAGING)
		return open_staging(log, p, fi->flags & ~O_CREAT, 0644, fi);
	if ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC)) {
		lsn_diag(LSN_DIAG_WARN, "log %s: snapshot %020llu.snap is immutable", lsn_log_name(log),
			 (unsigned long long)p->lsn);
		return -EPERM;
	}
	f = new_snap_file(LSNFS_FILE_SNAPSHOT, log);
	if (!f)
		return -ENOMEM;
	h = f->snap;
	h->lsn = p->lsn;
	rc = lsn_snapshot_get(log, p->lsn, &info);
	if (rc == -ENOENT)
		rc = lsnfs_archiver_fetch(log, p->lsn, &h->fd, &size);
	if (rc) {
		lsnfs_snapshots_release(f);
		lsnfs_file_free(f);
		return rc;
	}
	fi->keep_cache = 1; /* immutable */
	fi->fh = (uint64_t)(uintptr_t)f;
	return 0;
}

int lsnfs_snapshots_read(struct lsnfs_file *f, char *buf, size_t size, off_t off)
{
	struct snap_fh *h = f->snap;
	size_t got = 0;
	int rc;

	if (h->fd >= 0) {
		rc = lsn_pread_full(h->fd, buf, size, (uint64_t)off, &got);
		return rc ? rc : (int)got;
	}
	pthread_mutex_lock(&f->lock);
	rc = lsn_snapshot_read(f->log, h->lsn, (uint64_t)off, buf, size, &got, &h->cache);
	pthread_mutex_unlock(&f->lock);
	return rc ? rc : (int)got;
}

int lsnfs_snapshots_write(struct lsnfs_file *f, const char *buf, size_t size, off_t off)
{
	struct snap_fh *h = f->snap;
	ssize_t n;

	if (f->kind != LSNFS_FILE_STAGING)
		return -EBADF;
	n = pwrite(h->fd, buf, size, off);
	return n < 0 ? -errno : (int)n;
}

void lsnfs_snapshots_release(struct lsnfs_file *f)
{
	struct snap_fh *h = f->snap;

	if (!h)
		return;
	if (h->fd >= 0)
		close(h->fd);
	lsn_snapshot_cache_release(&h->cache);
	free(h);
	f->snap = NULL;
}

int lsnfs_snapshots_fsync(struct lsnfs_file *f)
{
	struct snap_fh *h = f->snap;

	return fsync(h->fd) == 0 ? 0 : -errno;
}

int lsnfs_snapshots_archived_text(struct lsn_log *log, const struct lsn_path *p, char *buf,
				  size_t n)
{
	struct lsn_snapshot_info info;
	uint64_t size;
	int rc = lsn_snapshot_get(log, p->lsn, &info);

	if (rc == -ENOENT)
		rc = lsnfs_archiver_remote_size(log, p->lsn, &size);
	if (rc)
		return rc;
	return lsnfs_archiver_state_text(log, p->lsn, buf, n);
}
