/*
 * fs/fs.h - the FUSE side of lsnfs: translates paths, file handles and
 * xattrs into storage/ and trim/ calls.  Nothing here knows the key layout.
 *
 * Files: main.c (command line, mount, daemon), ops.c (attributes,
 * directories, namespace changes), io.c (open/read/write/fsync/flush),
 * xattr.c (the user.lsnfs.* attributes), trimmer.c (glue between the trim
 * engine and the store, the auto-trimmer).
 *
 * Thread safety: libfuse runs operations on several threads.  struct
 * lsnfs is read-mostly after mount; struct lsnfs_file is used by one
 * open file description, which the kernel may still drive from several
 * threads at once, so its mutable state has its own lock.
 */
#ifndef LSN_FS_H
#define LSN_FS_H

#define FUSE_USE_VERSION 312
#include <fuse.h>
#include <pthread.h>
#include <stdint.h>

#include "fs/path.h"
#include "storage/store.h"

struct lsnfs {
	struct lsn_store *store;
	uid_t uid;
	gid_t gid;
	uint64_t mounted_at_ms; /* monotonic */
	struct lsnfs_trimmer *trimmer;
	struct lsnfs_archiver *archiver;
};

enum lsnfs_file_kind {
	LSNFS_FILE_APPEND,
	LSNFS_FILE_APPEND_LINES,
	LSNFS_FILE_SEGMENT,
	LSNFS_FILE_INDEX,
	LSNFS_FILE_SNAPSHOT,        /* committed snapshot, read only */
	LSNFS_FILE_STAGING,         /* snapshot being written */
};

struct lsnfs_file {
	enum lsnfs_file_kind kind;
	struct lsn_log *log;
	uint64_t seg_first;          /* SEGMENT, INDEX */
	pthread_mutex_t lock;        /* everything below */
	struct lsn_read_cache cache;
	uint64_t last_lsn;           /* last record this descriptor appended */
	size_t lsn_read_pos;         /* how much of "last_lsn\n" reads consumed */
	char *partial;               /* APPEND_LINES: incomplete last line */
	size_t partial_len, partial_cap;
	bool discarding;             /* APPEND_LINES: inside a line refused as too long */
	bool closing;                /* APPEND_LINES: flushed with a held partial line */
	void *snap;                  /* SNAPSHOT, STAGING: fs/snapshots.c state */
};

struct lsnfs_file *lsnfs_file_new(enum lsnfs_file_kind kind, struct lsn_log *log);
void lsnfs_file_free(struct lsnfs_file *f);

static inline struct lsnfs_file *lsnfs_file_of(const struct fuse_file_info *fi)
{
	return (struct lsnfs_file *)(uintptr_t)fi->fh;
}

static inline struct lsnfs *lsnfs_ctx(void)
{
	return fuse_get_context()->private_data;
}

/* Monotonic clock.  The trim engine counts whole seconds; to keep
 * trim_delay from ever being cut short, starts are rounded up and "now"
 * down (fs/trimmer.c). */
uint64_t lsnfs_monotonic_ms(void);
uint64_t lsnfs_monotonic_seconds(void);

/* Resolve a path to its node and, when it lives in a log, the log.
 * -ENOENT when the log (or the named thing) does not exist. */
int lsnfs_resolve(const char *path, struct lsn_path *p, struct lsn_log **log);

/*
 * close(2) returns after FLUSH, but the held partial line of append.lines
 * becomes a record only at RELEASE, which the kernel sends afterwards, on
 * its own.  So that "close, then look" sees the record, operations that
 * look at a log wait (briefly, bounded) while such a release is due.
 */
void lsnfs_wait_partials(void);

/* Operation tables, filled by each file. */
void lsnfs_ops_fill(struct fuse_operations *ops);
void lsnfs_io_fill(struct fuse_operations *ops);
void lsnfs_xattr_fill(struct fuse_operations *ops);

#endif
