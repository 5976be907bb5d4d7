/*
 * fs/context.c - the mount's state as operations see it: resolving paths,
 * file handles, stat, and the bounded wait for releases that are due.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fs/fs.h"
#include "storage/diag.h"
#include "storage/snapshot.h"

#define PARTIAL_WAIT_MS 200 /* a descriptor still open elsewhere never releases */

void lsnfs_partials_init(struct lsnfs_partials *p)
{
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->done, NULL);
	atomic_store(&p->due, 0);
}

void lsnfs_partials_destroy(struct lsnfs_partials *p)
{
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->done);
}

void lsnfs_wait_partials(struct lsnfs *fs)
{
	struct lsnfs_partials *p = &fs->partials;
	struct timespec until;

	if (atomic_load(&p->due) == 0)
		return; /* the usual case: no lock on every lookup */
	pthread_mutex_lock(&p->lock);
	if (p->due > 0) {
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += PARTIAL_WAIT_MS * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		while (p->due > 0)
			if (pthread_cond_timedwait(&p->done, &p->lock, &until) != 0)
				break;
	}
	pthread_mutex_unlock(&p->lock);
}

void lsnfs_set_closing(struct lsnfs *fs, struct lsnfs_file *f, bool closing)
{
	struct lsnfs_partials *p = &fs->partials;

	if (f->closing == closing)
		return;
	f->closing = closing;
	pthread_mutex_lock(&p->lock);
	if (closing)
		p->due++;
	else if (--p->due == 0)
		pthread_cond_broadcast(&p->done);
	pthread_mutex_unlock(&p->lock);
}

int lsnfs_resolve(struct lsnfs *fs, const char *path, struct lsn_path *p, struct lsn_log **log)
{
	int rc;

	*log = NULL;
	if (!path)
		return -ESTALE; /* an open file that was unlinked (trimmed, removed) */
	lsnfs_wait_partials(fs);
	rc = lsn_path_parse(path, p);
	if (rc)
		return rc;
	if (p->node == LSN_NODE_ROOT)
		return 0;
	return lsn_store_find_log(fs->store, p->log, log) == 0 ? 0 : -ENOENT;
}

struct lsnfs_file *lsnfs_file_new(enum lsnfs_file_kind kind, struct lsn_log *log)
{
	struct lsnfs_file *f = calloc(1, sizeof(*f));

	if (!f)
		return NULL;
	f->kind = kind;
	f->log = log;
	f->fd = -1;
	pthread_mutex_init(&f->lock, NULL);
	return f;
}

void lsnfs_file_free(struct lsnfs_file *f)
{
	if (!f)
		return;
	lsn_read_cache_release(&f->cache);
	lsn_reader_free(f->reader);
	if (f->snap_cache) {
		lsn_snapshot_cache_release(f->snap_cache);
		free(f->snap_cache);
	}
	lsn_lines_release(&f->lines);
	pthread_mutex_destroy(&f->lock);
	free(f);
}

void lsnfs_fill_stat(struct lsnfs *fs, struct stat *st, mode_t mode, uint64_t size,
		     int64_t mtime_ns)
{
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

int lsnfs_refuse(const char *op, const char *path, const char *why)
{
	lsn_diag(LSN_DIAG_WARN, "%s %s refused: %s", op, path ? path : "(unlinked file)", why);
	return -EPERM;
}
