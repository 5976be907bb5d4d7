/*
 * fs/io.c - open, read, write, flush, fsync, release.
 *
 * append:        every write(2) is one record.  direct_io, so the kernel
 *                hands each write to us whole (max_write is 1 MiB) and never
 *                caches; a request above LSN_RECORD_MAX is refused whole.
 * append.lines:  each '\n'-terminated line is one record; an incomplete
 *                last line waits in the descriptor until completed or closed
 *                (flush).  All lines of one write go in one atomic batch.
 * segments/index: read only.  Sealed ones never change, so the kernel may
 *                keep their pages (keep_cache); the active one is direct_io
 *                so a reader never sees a stale size or stale bytes.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdatomic.h>
#include <time.h>

#include "fs/fs.h"
#include "fs/trimmer.h"
#include "storage/diag.h"

/* Descriptors flushed while holding a partial line, until their release. */
static pthread_mutex_t partials_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t partials_done = PTHREAD_COND_INITIALIZER;
static _Atomic unsigned partials_due; /* written under partials_lock */

#define PARTIAL_WAIT_MS 200 /* a descriptor still open elsewhere never releases */

void lsnfs_wait_partials(void)
{
	struct timespec until;

	if (atomic_load(&partials_due) == 0)
		return; /* the usual case: no lock on every lookup */
	pthread_mutex_lock(&partials_lock);
	if (partials_due > 0) {
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += PARTIAL_WAIT_MS * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		while (partials_due > 0)
			if (pthread_cond_timedwait(&partials_done, &partials_lock, &until) != 0)
				break;
	}
	pthread_mutex_unlock(&partials_lock);
}

/* Called with f->lock held. */
static void set_closing(struct lsnfs_file *f, bool closing)
{
	if (f->closing == closing)
		return;
	f->closing = closing;
	pthread_mutex_lock(&partials_lock);
	if (closing)
		partials_due++;
	else if (--partials_due == 0)
		pthread_cond_broadcast(&partials_done);
	pthread_mutex_unlock(&partials_lock);
}

struct lsnfs_file *lsnfs_file_new(enum lsnfs_file_kind kind, struct lsn_log *log)
{
	struct lsnfs_file *f = calloc(1, sizeof(*f));

	if (!f)
		return NULL;
	f->kind = kind;
	f->log = log;
	pthread_mutex_init(&f->lock, NULL);
	return f;
}

void lsnfs_file_free(struct lsnfs_file *f)
{
	if (!f)
		return;
	lsn_read_cache_release(&f->cache);
	free(f->partial);
	pthread_mutex_destroy(&f->lock);
	free(f);
}

static int open_segment(struct lsn_log *log, const struct lsn_path *p, struct fuse_file_info *fi)
{
	struct lsn_segment_info seg;
	struct lsnfs_file *f;
	int rc;

	if ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC)) {
		lsn_diag(LSN_DIAG_WARN, "open %s/%s/%020llu for writing refused: read only", log ? lsn_log_name(log) : "",
			 p->node == LSN_NODE_SEGMENT ? "segments" : "index", (unsigned long long)p->lsn);
		return -EPERM;
	}
	rc = lsn_log_segment(log, p->lsn, &seg);
	if (rc)
		return rc;
	f = lsnfs_file_new(p->node == LSN_NODE_SEGMENT ? LSNFS_FILE_SEGMENT : LSNFS_FILE_INDEX, log);
	if (!f)
		return -ENOMEM;
	f->seg_first = p->lsn;
	if (seg.sealed)
		fi->keep_cache = 1;
	else
		fi->direct_io = 1;
	fi->fh = (uint64_t)(uintptr_t)f;
	return 0;
}

static int lsnfs_open(const char *path, struct fuse_file_info *fi)
{
	struct lsnfs_file *f;
	struct lsn_log *log;
	struct lsn_path p;
	int rc;

	rc = lsnfs_resolve(path, &p, &log);
	if (rc)
		return rc;
	switch (p.node) {
	case LSN_NODE_APPEND:
	case LSN_NODE_APPEND_LINES:
		f = lsnfs_file_new(p.node == LSN_NODE_APPEND ? LSNFS_FILE_APPEND
							  : LSNFS_FILE_APPEND_LINES,
				   log);
		if (!f)
			return -ENOMEM;
		fi->direct_io = 1;
		fi->nonseekable = 0;
		fi->fh = (uint64_t)(uintptr_t)f;
		return 0;
	case LSN_NODE_SEGMENT:
	case LSN_NODE_INDEX:
		return open_segment(log, &p, fi);
	case LSN_NODE_SNAPSHOT:
	case LSN_NODE_STAGING:
		return lsnfs_snapshots_open(log, &p, fi);
	default:
		return -EISDIR;
	}
}

/*
 * "LSN\n" of the last record this descriptor appended.  The file offset
 * moves with every write, so it cannot say where a read is in that text:
 * a cursor does, reset by each append and by a read at offset 0.  After a
 * write, `read` gets the new LSN; a second read gets EOF, so `cat` ends.
 */
static int read_last_lsn(struct lsnfs_file *f, char *buf, size_t size, off_t off)
{
	char text[32];
	size_t n;

	pthread_mutex_lock(&f->lock);
	if (off == 0)
		f->lsn_read_pos = 0;
	n = (size_t)snprintf(text, sizeof(text), "%llu\n", (unsigned long long)f->last_lsn);
	if (f->lsn_read_pos >= n) {
		n = 0;
	} else {
		n -= f->lsn_read_pos;
		if (n > size)
			n = size;
		memcpy(buf, text + f->lsn_read_pos, n);
		f->lsn_read_pos += n;
	}
	pthread_mutex_unlock(&f->lock);
	return (int)n;
}

static int lsnfs_read(const char *path, char *buf, size_t size, off_t off,
		      struct fuse_file_info *fi)
{
	struct lsnfs_file *f = lsnfs_file_of(fi);
	struct lsn_read_cache *cache;
	size_t got = 0;
	int rc;

	(void)path;
	if (off < 0)
		return -EINVAL;
	switch (f->kind) {
	case LSNFS_FILE_APPEND:
	case LSNFS_FILE_APPEND_LINES:
		return read_last_lsn(f, buf, size, off);
	case LSNFS_FILE_SEGMENT:
	case LSNFS_FILE_INDEX:
		/* The kernel reads ahead with several requests at once: the one
		 * that gets the descriptor's block cache uses it, the others
		 * decompress on their own, in parallel. */
		cache = pthread_mutex_trylock(&f->lock) == 0 ? &f->cache : NULL;
		if (f->kind == LSNFS_FILE_SEGMENT)
			rc = lsn_log_read(f->log, f->seg_first, (uint64_t)off, buf, size, &got, cache);
		else
			rc = lsn_log_read_index(f->log, f->seg_first, (uint64_t)off, buf, size, &got,
						cache);
		if (cache)
			pthread_mutex_unlock(&f->lock);
		return rc ? rc : (int)got;
	default:
		return lsnfs_snapshots_read(f, buf, size, off);
	}
}

static int append_one(struct lsnfs_file *f, const char *buf, size_t size)
{
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = size };
	uint64_t last;
	int rc;

	if (size > LSN_RECORD_MAX) {
		lsn_diag(LSN_DIAG_WARN, "log %s: write of %zu bytes refused: a record is at most %u bytes",
			 lsn_log_name(f->log), size, LSN_RECORD_MAX);
		return -EFBIG;
	}
	rc = lsn_log_append(f->log, &iov, 1, &last);
	if (rc)
		return rc;
	pthread_mutex_lock(&f->lock);
	f->last_lsn = last;
	f->lsn_read_pos = 0;
	pthread_mutex_unlock(&f->lock);
	return (int)size;
}

static int partial_reserve(struct lsnfs_file *f, size_t need)
{
	if (need > f->partial_cap) {
		size_t cap = f->partial_cap ? f->partial_cap : 4096;
		void *p;
		while (cap < need)
			cap *= 2;
		p = realloc(f->partial, cap);
		if (!p)
			return -ENOMEM;
		f->partial = p;
		f->partial_cap = cap;
	}
	return 0;
}

/*
 * Split partial + buf into lines.  Every complete line is checked before
 * anything is appended, so an oversized line refuses the whole write.
 */
static int append_lines(struct lsnfs_file *f, const char *buf, size_t size)
{
	struct iovec *iov = NULL;
	char *first = NULL;
	size_t n = 0, cap = 0, pos = 0, tail_len;
	uint64_t last;
	int rc = 0;

	pthread_mutex_lock(&f->lock);
	set_closing(f, false); /* still written to: not being closed after all */
	if (f->discarding) {
		/* The rest of a line already refused as too long goes nowhere. */
		const char *nl = memchr(buf, '\n', size);
		if (!nl) {
			rc = -EFBIG;
			goto out;
		}
		pos = (size_t)(nl - buf) + 1;
		f->discarding = false;
	}
	while (pos < size) {
		const char *nl = memchr(buf + pos, '\n', size - pos);
		size_t len, rec_len;

		if (!nl)
			break;
		len = (size_t)(nl - (buf + pos)) + 1;
		rec_len = len + (n == 0 ? f->partial_len : 0);
		if (rec_len > LSN_RECORD_MAX) {
			if (n == 0)
				f->partial_len = 0; /* the held part was this line's */
			rc = -EFBIG;
			goto out;
		}
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 64;
			void *p = realloc(iov, ncap * sizeof(*iov));
			if (!p) {
				rc = -ENOMEM;
				goto out;
			}
			iov = p;
			cap = ncap;
		}
		iov[n].iov_base = (void *)(buf + pos);
		iov[n].iov_len = len;
		n++;
		pos += len;
	}
	tail_len = size - pos;
	if ((n == 0 ? f->partial_len : 0) + tail_len > LSN_RECORD_MAX) {
		if (n == 0) {
			/* Drop what is held and whatever of the line still comes. */
			f->partial_len = 0;
			f->discarding = true;
		}
		rc = -EFBIG;
		goto out;
	}
	if (n > 0 && f->partial_len > 0) {
		/* The first record is the held partial line plus its end. */
		first = malloc(f->partial_len + iov[0].iov_len);
		if (!first) {
			rc = -ENOMEM;
			goto out;
		}
		memcpy(first, f->partial, f->partial_len);
		memcpy(first + f->partial_len, iov[0].iov_base, iov[0].iov_len);
		iov[0].iov_len += f->partial_len;
		iov[0].iov_base = first;
	}
	if (n > 0) {
		rc = lsn_log_append(f->log, iov, n, &last);
		if (rc)
			goto out;
		f->last_lsn = last;
		f->lsn_read_pos = 0;
		f->partial_len = 0;
	}
	if (tail_len > 0) {
		rc = partial_reserve(f, f->partial_len + tail_len);
		if (rc)
			goto out; /* the complete lines are in; report the failure */
		memcpy(f->partial + f->partial_len, buf + pos, tail_len);
		f->partial_len += tail_len;
	}
out:
	pthread_mutex_unlock(&f->lock);
	if (rc == -EFBIG)
		lsn_diag(LSN_DIAG_WARN,
			 "log %s: write refused: a line is longer than %u bytes; nothing of it appended",
			 lsn_log_name(f->log), LSN_RECORD_MAX);
	free(first);
	free(iov);
	return rc ? rc : (int)size;
}

static int lsnfs_write(const char *path, const char *buf, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	struct lsnfs_file *f = lsnfs_file_of(fi);

	(void)path;
	switch (f->kind) {
	case LSNFS_FILE_APPEND:
		return append_one(f, buf, size);
	case LSNFS_FILE_APPEND_LINES:
		return append_lines(f, buf, size);
	case LSNFS_FILE_STAGING:
		return lsnfs_snapshots_write(f, buf, size, off);
	default:
		return -EBADF;
	}
}

/*
 * The last close of the descriptor: an incomplete last line becomes a
 * record of its own.  Not at FLUSH: the kernel sends one for every close
 * of any copy of the descriptor (a child's exit, the shell's dup2 games),
 * and the line may not be finished yet.
 */
static int flush_partial(struct lsnfs_file *f)
{
	struct iovec iov;
	uint64_t last;
	int rc = 0;

	pthread_mutex_lock(&f->lock);
	if (f->partial_len > 0) {
		iov.iov_base = f->partial;
		iov.iov_len = f->partial_len;
		rc = lsn_log_append(f->log, &iov, 1, &last);
		if (rc == 0) {
			f->last_lsn = last;
			f->partial_len = 0;
			/* Nobody can fsync after the last close: make the
			 * record durable now, as if it had been fsynced. */
			rc = lsn_log_sync(f->log);
		}
	}
	pthread_mutex_unlock(&f->lock);
	return rc;
}

static int lsnfs_flush(const char *path, struct fuse_file_info *fi)
{
	struct lsnfs_file *f = lsnfs_file_of(fi);

	(void)path;
	if (f->kind == LSNFS_FILE_APPEND_LINES) {
		pthread_mutex_lock(&f->lock);
		if (f->partial_len > 0)
			set_closing(f, true);
		pthread_mutex_unlock(&f->lock);
	}
	return 0;
}

static int lsnfs_fsync(const char *path, int datasync, struct fuse_file_info *fi)
{
	struct lsnfs_file *f = lsnfs_file_of(fi);

	(void)path;
	(void)datasync;
	switch (f->kind) {
	case LSNFS_FILE_APPEND:
	case LSNFS_FILE_APPEND_LINES:
		return lsn_log_sync(f->log);
	case LSNFS_FILE_STAGING:
		return lsnfs_snapshots_fsync(f);
	default:
		return 0;
	}
}

static int lsnfs_release(const char *path, struct fuse_file_info *fi)
{
	struct lsnfs_file *f = lsnfs_file_of(fi);
	int rc;

	(void)path;
	if (f->kind == LSNFS_FILE_APPEND_LINES) {
		rc = flush_partial(f);
		if (rc)
			lsn_diag(LSN_DIAG_ERR, "log %s: last partial line (%zu bytes) lost at close: %s",
				 lsn_log_name(f->log), f->partial_len, strerror(-rc));
		pthread_mutex_lock(&f->lock);
		set_closing(f, false);
		pthread_mutex_unlock(&f->lock);
	}
	if (f->kind == LSNFS_FILE_SNAPSHOT || f->kind == LSNFS_FILE_STAGING)
		lsnfs_snapshots_release(f);
	lsnfs_file_free(f);
	return 0;
}

void lsnfs_io_fill(struct fuse_operations *ops)
{
	ops->open = lsnfs_open;
	ops->read = lsnfs_read;
	ops->write = lsnfs_write;
	ops->flush = lsnfs_flush;
	ops->fsync = lsnfs_fsync;
	ops->release = lsnfs_release;
}
