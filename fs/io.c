/*
 * fs/io.c - open, read, write, flush, fsync, release.
 *
 * append:        every write(2) is one record.  direct_io, so the kernel
 *                hands each write to us whole (max_write is 1 MiB) and never
 *                caches; a request above LSN_RECORD_MAX is refused whole.
 * append.frames: every write(2) is one or more length-prefixed records
 *                (fs/frames.h), appended in one call or not at all; a write
 *                the kernel would cut into several requests is refused.
 * append.lines:  each '\n'-terminated line is one record (fs/lines.h); an
 *                incomplete last line waits in the descriptor until
 *                completed or the descriptor's last close (release).
 * segments/index: read only.  Sealed ones never change, so the kernel may
 *                keep their pages (keep_cache); the active one is direct_io
 *                so a reader never sees a stale size or stale bytes.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs/fs.h"
#include "storage/diag.h"

static int open_segment(struct lsn_log *log, const struct lsn_path *p, struct fuse_file_info *fi)
{
	struct lsn_segment_info seg;
	struct lsnfs_file *f;
	int rc;

	if ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC)) {
		lsn_diag(LSN_DIAG_WARN, "open %s/%s/%020llu for writing refused: read only",
			 lsn_log_name(log), p->node == LSN_NODE_SEGMENT ? "segments" : "index",
			 (unsigned long long)p->lsn);
		return -EPERM;
	}
	rc = lsn_log_segment(log, p->lsn, &seg);
	if (rc)
		return rc;
	f = lsnfs_file_new(p->node == LSN_NODE_SEGMENT ? LSNFS_FILE_SEGMENT : LSNFS_FILE_INDEX, log);
	if (!f)
		return -ENOMEM;
	f->lsn = p->lsn;
	if (f->kind == LSNFS_FILE_SEGMENT) {
		rc = lsn_reader_open(log, p->lsn, &f->reader);
		if (rc) {
			lsnfs_file_free(f);
			return rc;
		}
	}
	if (seg.sealed)
		fi->keep_cache = 1;
	else
		fi->direct_io = 1;
	fi->fh = (uint64_t)(uintptr_t)f;
	return 0;
}

int lsnfs_open(const char *path, struct fuse_file_info *fi)
{
	struct lsnfs *fs = lsnfs_ctx();
	struct lsnfs_file *f;
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
		f = lsnfs_file_new(p.node == LSN_NODE_APPEND	    ? LSNFS_FILE_APPEND
				   : p.node == LSN_NODE_APPEND_LINES ? LSNFS_FILE_APPEND_LINES
								     : LSNFS_FILE_APPEND_FRAMES,
				   log);
		if (!f)
			return -ENOMEM;
		/* Such a descriptor never appends: it reads as the empty file
		 * stat shows, so diff -r, tar and rsync see no content. */
		f->read_only = (fi->flags & O_ACCMODE) == O_RDONLY;
		fi->direct_io = 1;
		fi->fh = (uint64_t)(uintptr_t)f;
		return 0;
	case LSN_NODE_SEGMENT:
	case LSN_NODE_INDEX:
		return open_segment(log, &p, fi);
	case LSN_NODE_SNAPSHOT:
	case LSN_NODE_STAGING:
		return lsnfs_snap_open(fs, log, &p, fi);
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

int lsnfs_read(const char *path, char *buf, size_t size, off_t off, struct fuse_file_info *fi)
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
	case LSNFS_FILE_APPEND_FRAMES:
		return f->read_only ? 0 : read_last_lsn(f, buf, size, off);
	case LSNFS_FILE_SEGMENT:
		/* The kernel reads ahead with several requests at once; the
		 * reader shares its decoded blocks between them and decodes
		 * ahead of a sequential reader (storage/log_reader.c). */
		rc = lsn_reader_read(f->reader, (uint64_t)off, buf, size, &got);
		return rc ? rc : (int)got;
	case LSNFS_FILE_INDEX:
		/* The kernel reads ahead with several requests at once: the one
		 * that gets the descriptor's block cache uses it, the others
		 * decompress on their own, in parallel. */
		cache = pthread_mutex_trylock(&f->lock) == 0 ? &f->cache : NULL;
		rc = lsn_log_read_index(f->log, f->lsn, (uint64_t)off, buf, size, &got, cache);
		if (cache)
			pthread_mutex_unlock(&f->lock);
		return rc ? rc : (int)got;
	default:
		return lsnfs_snap_read(f, buf, size, off);
	}
}

/* lsn_lines_append_fn (f->lock held): appends through the node and
 * remembers the last LSN. */
struct append_ctx {
	struct lsnfs *fs;
	struct lsnfs_file *f;
};

static int append_records(void *arg, const struct iovec *records, size_t n)
{
	struct append_ctx *c = arg;
	uint64_t last;
	int rc = lsn_node_append(c->fs->node, c->f->log, records, n, &last);

	if (rc == 0) {
		c->f->last_lsn = last;
		c->f->lsn_read_pos = 0;
	}
	return rc;
}

static int append_one(struct lsnfs *fs, struct lsnfs_file *f, const char *buf, size_t size)
{
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = size };
	uint64_t last;
	int rc;

	if (size > LSN_RECORD_MAX) {
		lsn_diag(LSN_DIAG_WARN, "log %s: write of %zu bytes refused: a record is at most %u bytes",
			 lsn_log_name(f->log), size, LSN_RECORD_MAX);
		return -EFBIG;
	}
	/* Not under f->lock: writes through one descriptor from several
	 * threads append in parallel; only the last LSN is the descriptor's. */
	rc = lsn_node_append(fs->node, f->log, &iov, 1, &last);
	if (rc)
		return rc;
	pthread_mutex_lock(&f->lock);
	f->last_lsn = last;
	f->lsn_read_pos = 0;
	pthread_mutex_unlock(&f->lock);
	return (int)size;
}

static int append_frames(struct lsnfs *fs, struct lsnfs_file *f, const char *buf, size_t size)
{
	struct lsn_frames_error err;
	struct iovec *records;
	char why[256];
	uint64_t last;
	size_t n;
	int rc;

	rc = lsn_frames_parse(buf, size, LSN_RECORD_MAX, LSN_FRAMES_WRITE_MAX, &records, &n, &err);
	if (rc == -EINVAL || rc == -EFBIG) {
		lsn_frames_describe(&err, size, LSN_RECORD_MAX, LSN_FRAMES_WRITE_MAX, why, sizeof(why));
		lsn_diag(LSN_DIAG_WARN, "log %s: append.frames write of %zu bytes refused, nothing appended: %s",
			 lsn_log_name(f->log), size, why);
	}
	if (rc || n == 0)
		goto out;
	/* Not under f->lock, as for append: one call, consecutive LSNs. */
	rc = lsn_node_append(fs->node, f->log, records, n, &last);
	if (rc)
		goto out;
	pthread_mutex_lock(&f->lock);
	f->last_lsn = last;
	f->lsn_read_pos = 0;
	pthread_mutex_unlock(&f->lock);
out:
	free(records);
	return rc ? rc : (int)size;
}

static int append_lines(struct lsnfs *fs, struct lsnfs_file *f, const char *buf, size_t size)
{
	struct append_ctx c = { fs, f };
	int rc;

	pthread_mutex_lock(&f->lock);
	lsnfs_set_closing(fs, f, false); /* still written to: not being closed after all */
	rc = lsn_lines_write(&f->lines, buf, size, LSN_RECORD_MAX, append_records, &c);
	pthread_mutex_unlock(&f->lock);
	if (rc == -EFBIG)
		lsn_diag(LSN_DIAG_WARN,
			 "log %s: write refused: a line is longer than %u bytes; nothing of it appended",
			 lsn_log_name(f->log), LSN_RECORD_MAX);
	return rc ? rc : (int)size;
}

int lsnfs_write(const char *path, const char *buf, size_t size, off_t off,
		struct fuse_file_info *fi)
{
	struct lsnfs_file *f = lsnfs_file_of(fi);
	struct lsnfs *fs = lsnfs_ctx();

	(void)path;
	/* On append and append.lines the offset means nothing: every write
	 * goes to the log's end, as with O_APPEND (pwrite and lseek included;
	 * README, Decisions). */
	switch (f->kind) {
	case LSNFS_FILE_APPEND:
		return append_one(fs, f, buf, size);
	case LSNFS_FILE_APPEND_LINES:
		return append_lines(fs, f, buf, size);
	case LSNFS_FILE_APPEND_FRAMES:
		return append_frames(fs, f, buf, size);
	case LSNFS_FILE_STAGING:
		return lsnfs_snap_write(f, buf, size, off);
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
static int flush_partial(struct lsnfs *fs, struct lsnfs_file *f)
{
	struct append_ctx c = { fs, f };
	bool held;
	int rc;

	pthread_mutex_lock(&f->lock);
	held = f->lines.partial_len > 0;
	rc = lsn_lines_flush(&f->lines, append_records, &c);
	/* Nobody can fsync after the last close: make the record durable
	 * now, as if it had been fsynced. */
	if (rc == 0 && held)
		rc = lsn_node_sync(fs->node, f->log);
	if (rc)
		lsn_diag(LSN_DIAG_ERR, "log %s: last partial line (%zu bytes) lost at close: %s",
			 lsn_log_name(f->log), f->lines.partial_len, strerror(-rc));
	lsnfs_set_closing(fs, f, false);
	pthread_mutex_unlock(&f->lock);
	return rc;
}

int lsnfs_flush(const char *path, struct fuse_file_info *fi)
{
	struct lsnfs_file *f = lsnfs_file_of(fi);
	struct lsnfs *fs = lsnfs_ctx();

	(void)path;
	if (f->kind == LSNFS_FILE_APPEND_LINES) {
		pthread_mutex_lock(&f->lock);
		if (f->lines.partial_len > 0)
			lsnfs_set_closing(fs, f, true);
		pthread_mutex_unlock(&f->lock);
	}
	return 0;
}

int lsnfs_fsync(const char *path, int datasync, struct fuse_file_info *fi)
{
	struct lsnfs_file *f = lsnfs_file_of(fi);
	struct lsnfs *fs = lsnfs_ctx();

	(void)path;
	(void)datasync;
	switch (f->kind) {
	case LSNFS_FILE_APPEND:
	case LSNFS_FILE_APPEND_LINES:
	case LSNFS_FILE_APPEND_FRAMES:
		return lsn_node_sync(fs->node, f->log);
	case LSNFS_FILE_STAGING:
		return lsnfs_snap_fsync(f);
	default:
		return 0;
	}
}

int lsnfs_release(const char *path, struct fuse_file_info *fi)
{
	struct lsnfs_file *f = lsnfs_file_of(fi);
	struct lsnfs *fs = lsnfs_ctx();

	(void)path;
	if (f->kind == LSNFS_FILE_APPEND_LINES)
		flush_partial(fs, f);
	lsnfs_snap_release(f);
	lsnfs_file_free(f);
	return 0;
}
