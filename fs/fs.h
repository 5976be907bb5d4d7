/*
 * fs/fs.h - the FUSE front end of lsnfs: paths, file handles and xattrs,
 * translated into calls on the node (node/node.h) and, for reads, the
 * store.  Nothing here knows the key layout or a trim rule.
 *
 * Files (each depends only on those listed before it):
 *   path.c      what a path names (pure)
 *   lines.c     append.lines splitting (pure)
 *   frames.c    append.frames parsing (pure)
 *   xattr_value.c the values user.lsnfs.* attributes take (pure)
 *   context.c   the mount's state, resolving a path, file handles, stat
 *   snapfiles.c the snapshots/ directory: staging files, snapshots
 *   ops.c       attributes, directories, namespace operations
 *   io.c        open, read, write, flush, fsync, release
 *   xattr.c     the user.lsnfs.* attributes (one table)
 *   main.c      command line, mount, daemon; the operations table
 *
 * Globals: none of ours.  libfuse hands every operation the mount's
 * struct lsnfs through fuse_get_context()->private_data (lsnfs_ctx()).
 *
 * Thread safety: libfuse runs operations on several threads.  struct
 * lsnfs is read-mostly after mount (its `partials` has its own lock);
 * struct lsnfs_file belongs to one open file description, which the kernel
 * may still drive from several threads at once, so its mutable state has
 * its own lock, taken before any node or storage lock.
 */
#ifndef LSN_FS_H
#define LSN_FS_H

#define FUSE_USE_VERSION 312
#include <fuse.h>
#include <pthread.h>
#include <stdint.h>

#include "fs/frames.h"
#include "fs/lines.h"
#include "fs/path.h"
#include "node/node.h"

/*
 * close(2) returns after FLUSH, but the held partial line of append.lines
 * becomes a record only at RELEASE, which the kernel sends afterwards, on
 * its own.  So that "close, then look" sees the record, operations that
 * look at a log wait (briefly, bounded) while such a release is due.
 */
struct lsnfs_partials {
	pthread_mutex_t lock; /* `due` changes; a leaf */
	pthread_cond_t done;
	_Atomic unsigned due; /* descriptors flushed with a held line, not yet released */
};

/* FUSE's largest write request (conn->max_write); a larger write(2) reaches
 * the daemon cut into several requests (fs/frames.h).  The largest write
 * that arrives whole at any buffer alignment is one page less. */
#define LSNFS_MAX_WRITE (1u << 20)
#define LSN_FRAMES_WRITE_MAX (LSNFS_MAX_WRITE - 4096u)

struct lsnfs {
	struct lsn_node *node;
	struct lsn_store *store; /* the node's, for reads */
	uid_t uid;
	gid_t gid;
	struct lsnfs_partials partials;
};

enum lsnfs_file_kind {
	LSNFS_FILE_APPEND,
	LSNFS_FILE_APPEND_LINES,
	LSNFS_FILE_APPEND_FRAMES,
	LSNFS_FILE_SEGMENT,
	LSNFS_FILE_INDEX,
	LSNFS_FILE_SNAPSHOT,        /* committed snapshot, read only */
	LSNFS_FILE_REMOTE_SNAPSHOT, /* another node's, read through a local copy */
	LSNFS_FILE_STAGING,         /* snapshot being written */
};

struct lsnfs_file {
	enum lsnfs_file_kind kind;
	struct lsn_log *log;
	uint64_t lsn;                /* SEGMENT, INDEX: first LSN; SNAPSHOT: its LSN */
	bool read_only;              /* APPEND*: opened O_RDONLY, so reads are EOF */
	int fd;                      /* STAGING, REMOTE_SNAPSHOT; else -1 */
	struct lsn_reader *reader;   /* SEGMENT: has its own lock (storage/store.h) */
	pthread_mutex_t lock;        /* everything below */
	struct lsn_read_cache cache; /* INDEX */
	struct lsn_snapshot_cache *snap_cache; /* SNAPSHOT */
	uint64_t last_lsn;           /* last record this descriptor appended */
	size_t lsn_read_pos;         /* how much of "last_lsn\n" reads consumed */
	struct lsn_lines lines;      /* APPEND_LINES */
	bool closing;                /* APPEND_LINES: flushed with a held partial line */
};

/* ---- context.c ------------------------------------------------------------- */

static inline struct lsnfs *lsnfs_ctx(void)
{
	return fuse_get_context()->private_data;
}

void lsnfs_partials_init(struct lsnfs_partials *p);
void lsnfs_partials_destroy(struct lsnfs_partials *p);
/* Wait (at most ~200 ms) for due releases; see struct lsnfs_partials. */
void lsnfs_wait_partials(struct lsnfs *fs);
/* Mark f (lock held) as closing with a held line, or no longer so. */
void lsnfs_set_closing(struct lsnfs *fs, struct lsnfs_file *f, bool closing);

/* Resolve a path to what it names and, inside a log, the log.  -ENOENT
 * when the log does not exist; -ESTALE for an open file that was unlinked. */
int lsnfs_resolve(struct lsnfs *fs, const char *path, struct lsn_path *p, struct lsn_log **log);

struct lsnfs_file *lsnfs_file_new(enum lsnfs_file_kind kind, struct lsn_log *log);
void lsnfs_file_free(struct lsnfs_file *f);

static inline struct lsnfs_file *lsnfs_file_of(const struct fuse_file_info *fi)
{
	return (struct lsnfs_file *)(uintptr_t)fi->fh;
}

/* A stat of mode/size/mtime, owned by the mounting user. */
void lsnfs_fill_stat(struct lsnfs *fs, struct stat *st, mode_t mode, uint64_t size,
		     int64_t mtime_ns);
/* Log the rule that refused `op` on `path`; returns -EPERM. */
int lsnfs_refuse(const char *op, const char *path, const char *why);

/* ---- snapfiles.c: the snapshots/ directory ------------------------------------ */

int lsnfs_snap_getattr(struct lsnfs *fs, struct lsn_log *log, const struct lsn_path *p,
		       struct stat *st);
int lsnfs_snap_readdir(struct lsnfs *fs, struct lsn_log *log, void *buf, fuse_fill_dir_t filler);
int lsnfs_snap_unlink(struct lsnfs *fs, struct lsn_log *log, const struct lsn_path *p);
int lsnfs_snap_rename(struct lsnfs *fs, struct lsn_log *log, const struct lsn_path *from,
		      const struct lsn_path *to, unsigned int flags);
int lsnfs_snap_create(struct lsnfs *fs, struct lsn_log *log, const struct lsn_path *p,
		      struct fuse_file_info *fi);
int lsnfs_snap_open(struct lsnfs *fs, struct lsn_log *log, const struct lsn_path *p,
		    struct fuse_file_info *fi);
int lsnfs_snap_truncate(struct lsn_log *log, const struct lsn_path *p, off_t size,
			struct fuse_file_info *fi);
int lsnfs_snap_read(struct lsnfs_file *f, char *buf, size_t size, off_t off);
int lsnfs_snap_write(struct lsnfs_file *f, const char *buf, size_t size, off_t off);
int lsnfs_snap_fsync(struct lsnfs_file *f);
void lsnfs_snap_release(struct lsnfs_file *f);

/* ---- the operations (ops.c, io.c, xattr.c), tabled in main.c ---------------- */

int lsnfs_getattr(const char *path, struct stat *st, struct fuse_file_info *fi);
int lsnfs_readdir(const char *path, void *buf, fuse_fill_dir_t filler, off_t off,
		  struct fuse_file_info *fi, enum fuse_readdir_flags flags);
int lsnfs_mkdir(const char *path, mode_t mode);
int lsnfs_rmdir(const char *path);
int lsnfs_unlink(const char *path);
int lsnfs_rename(const char *from, const char *to, unsigned int flags);
int lsnfs_create(const char *path, mode_t mode, struct fuse_file_info *fi);
int lsnfs_mknod(const char *path, mode_t mode, dev_t dev);
int lsnfs_truncate(const char *path, off_t size, struct fuse_file_info *fi);
int lsnfs_chmod(const char *path, mode_t mode, struct fuse_file_info *fi);
int lsnfs_chown(const char *path, uid_t uid, gid_t gid, struct fuse_file_info *fi);
int lsnfs_utimens(const char *path, const struct timespec tv[2], struct fuse_file_info *fi);
int lsnfs_link(const char *from, const char *to);
int lsnfs_symlink(const char *target, const char *path);
int lsnfs_readlink(const char *path, char *buf, size_t size);
int lsnfs_statfs(const char *path, struct statvfs *sv);

int lsnfs_open(const char *path, struct fuse_file_info *fi);
int lsnfs_read(const char *path, char *buf, size_t size, off_t off, struct fuse_file_info *fi);
int lsnfs_write(const char *path, const char *buf, size_t size, off_t off,
		struct fuse_file_info *fi);
int lsnfs_flush(const char *path, struct fuse_file_info *fi);
int lsnfs_fsync(const char *path, int datasync, struct fuse_file_info *fi);
int lsnfs_release(const char *path, struct fuse_file_info *fi);

int lsnfs_getxattr(const char *path, const char *name, char *value, size_t size);
int lsnfs_setxattr(const char *path, const char *name, const char *value, size_t size, int flags);
int lsnfs_listxattr(const char *path, char *list, size_t size);
int lsnfs_removexattr(const char *path, const char *name);

#endif
