/*
 * tests/powerloss/plfs.c - a FUSE passthrough that can lose power (tests only).
 *
 *   plfs BACKING MOUNTPOINT [FUSE options]
 *
 * In the style of LazyFS: the backing directory is "the disk", what only
 * this process holds is "the page cache".  A power cut (SIGUSR1) throws the
 * page cache away; the disk then holds exactly what was made durable:
 *
 * - File data.  A write is kept in memory, per inode, as an ordered list
 *   of operations (write extents, size changes) and reaches the backing
 *   file only at fsync/fdatasync of that inode.  Reads and getattr see the
 *   backing file with the pending operations applied on top.
 * - Names.  create, mkdir, unlink, rmdir and rename happen on the backing
 *   directory at once, but each leaves an undo entry naming the directory
 *   whose fsync makes it durable (the parent; the destination's parent for
 *   rename).  A removed or replaced entry goes to BACKING/.plfs-trash, so
 *   that it can come back.  fsync of a directory drops its undo entries
 *   (and empties their trash); a power cut undoes the rest, newest first.
 *
 * At a cut plfs writes BACKING/.plfs-cut (the count of cuts so far) once
 * the disk state is final; the test then unmounts plfs (so the kernel's
 * caches go too) and mounts it again on the same BACKING.
 *
 * The kernel is told to cache nothing (direct_io, zero timeouts), so every
 * read goes through the model.  One mutex guards all of the model; FUSE
 * requests and the cut take it in turn.  Not for production: no
 * permissions model beyond the backing directory's, no hard links.
 */
#define FUSE_USE_VERSION 35
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#define TRASH ".plfs-trash"

enum pending_kind { PENDING_WRITE, PENDING_SIZE };

struct pending {
	enum pending_kind kind;
	off_t off;         /* PENDING_WRITE: where; PENDING_SIZE: the new size */
	size_t len, cap;
	char *data;
	struct pending *next;
};

/* Unsynced data of one inode. */
struct dirty {
	ino_t ino;
	off_t size;        /* logical size with every pending op applied */
	struct pending *head, *tail;
	struct dirty *next;
};

enum undo_kind { UNDO_CREATE, UNDO_REMOVE, UNDO_RENAME };

struct undo {
	enum undo_kind kind;
	char dir[PATH_MAX];    /* whose fsync makes it durable */
	char path[PATH_MAX];   /* CREATE: the new name; REMOVE: the old name; RENAME: the new name */
	char from[PATH_MAX];   /* RENAME: the old name */
	char trash[64];        /* REMOVE, RENAME over an entry: where the old entry went */
	struct undo *prev;
};

static struct {
	pthread_mutex_t lock; /* everything below */
	int root;             /* fd of BACKING */
	char backing[PATH_MAX];
	struct dirty *dirty;
	struct undo *undo;    /* newest first */
	unsigned long trash_seq;
	unsigned long cuts;
} g = { .lock = PTHREAD_MUTEX_INITIALIZER };

static const char *rel(const char *path)
{
	return path[1] ? path + 1 : ".";
}

static void parent_of(const char *path, char *out)
{
	const char *slash = strrchr(path, '/');
	size_t n = slash && slash != path ? (size_t)(slash - path) : 1;

	memcpy(out, path, n);
	out[n] = '\0';
}

/* ---- data ---------------------------------------------------------------- */

static struct dirty *dirty_find(ino_t ino, int create, int fd)
{
	struct dirty *d;
	struct stat st;

	for (d = g.dirty; d; d = d->next)
		if (d->ino == ino)
			return d;
	if (!create || fstat(fd, &st) != 0)
		return NULL;
	d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	d->ino = ino;
	d->size = st.st_size;
	d->next = g.dirty;
	g.dirty = d;
	return d;
}

static void dirty_free_ops(struct dirty *d)
{
	struct pending *p = d->head, *n;

	for (; p; p = n) {
		n = p->next;
		free(p->data);
		free(p);
	}
	d->head = d->tail = NULL;
}

static void dirty_drop(ino_t ino)
{
	for (struct dirty **pp = &g.dirty; *pp; pp = &(*pp)->next) {
		if ((*pp)->ino == ino) {
			struct dirty *d = *pp;
			*pp = d->next;
			dirty_free_ops(d);
			free(d);
			return;
		}
	}
}

static int dirty_add(struct dirty *d, enum pending_kind kind, off_t off, const char *buf, size_t len)
{
	struct pending *t = d->tail, *p;

	if (kind == PENDING_WRITE && t && t->kind == PENDING_WRITE && t->off + (off_t)t->len == off) {
		if (t->len + len > t->cap) { /* an append continues the last extent */
			size_t cap = (t->len + len) * 2;
			char *nd = realloc(t->data, cap);
			if (!nd)
				return -ENOMEM;
			t->data = nd;
			t->cap = cap;
		}
		memcpy(t->data + t->len, buf, len);
		t->len += len;
	} else {
		p = calloc(1, sizeof(*p));
		if (!p)
			return -ENOMEM;
		p->kind = kind;
		p->off = off;
		if (kind == PENDING_WRITE) {
			p->data = malloc(len ? len : 1);
			if (!p->data) {
				free(p);
				return -ENOMEM;
			}
			memcpy(p->data, buf, len);
			p->len = p->cap = len;
		}
		if (d->tail)
			d->tail->next = p;
		else
			d->head = p;
		d->tail = p;
	}
	if (kind == PENDING_WRITE) {
		if (off + (off_t)len > d->size)
			d->size = off + (off_t)len;
	} else {
		d->size = off;
	}
	return 0;
}

/* The logical bytes [off, off+len): the backing file, then every pending op. */
static ssize_t logical_read(int fd, struct dirty *d, char *buf, size_t len, off_t off)
{
	ssize_t got = pread(fd, buf, len, off);
	off_t end = off + (off_t)len;

	if (got < 0)
		return -errno;
	memset(buf + got, 0, len - (size_t)got);
	if (!d)
		return got;
	for (struct pending *p = d->head; p; p = p->next) {
		if (p->kind == PENDING_WRITE) {
			off_t lo = p->off > off ? p->off : off;
			off_t hi = p->off + (off_t)p->len < end ? p->off + (off_t)p->len : end;
			if (lo < hi)
				memcpy(buf + (lo - off), p->data + (lo - p->off), (size_t)(hi - lo));
		} else if (p->off < end) {
			off_t lo = p->off > off ? p->off : off;
			memset(buf + (lo - off), 0, (size_t)(end - lo));
		}
	}
	if (d->size <= off)
		return 0;
	return d->size < end ? d->size - off : (ssize_t)len;
}

/* fsync: the pending ops reach the backing file in order. */
static int dirty_flush(int fd, struct dirty *d)
{
	for (struct pending *p = d->head; p; p = p->next) {
		if (p->kind == PENDING_WRITE) {
			size_t done = 0;
			while (done < p->len) {
				ssize_t n = pwrite(fd, p->data + done, p->len - done, p->off + (off_t)done);
				if (n < 0)
					return -errno;
				done += (size_t)n;
			}
		} else if (ftruncate(fd, p->off) != 0) {
			return -errno;
		}
	}
	dirty_drop(d->ino);
	return 0;
}

/* ---- names ---------------------------------------------------------------- */

static struct undo *undo_push(enum undo_kind kind, const char *dir, const char *path)
{
	struct undo *u = calloc(1, sizeof(*u));

	if (!u)
		return NULL;
	u->kind = kind;
	snprintf(u->dir, sizeof(u->dir), "%s", dir);
	snprintf(u->path, sizeof(u->path), "%s", path);
	u->prev = g.undo;
	g.undo = u;
	return u;
}

/* Move path to the trash; its name there in `name`. */
static int to_trash(const char *path, char *name, size_t n)
{
	snprintf(name, n, TRASH "/%lu", ++g.trash_seq);
	if (renameat(g.root, rel(path), g.root, name) != 0)
		return -errno;
	return 0;
}

static void remove_tree(int at, const char *name)
{
	struct stat st;
	int fd;
	DIR *dir;
	struct dirent *e;

	if (fstatat(at, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
		return;
	if (S_ISDIR(st.st_mode)) {
		fd = openat(at, name, O_RDONLY | O_DIRECTORY);
		if (fd >= 0 && (dir = fdopendir(fd))) {
			while ((e = readdir(dir)))
				if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
					remove_tree(dirfd(dir), e->d_name);
			closedir(dir);
		} else if (fd >= 0) {
			close(fd);
		}
		unlinkat(at, name, AT_REMOVEDIR);
	} else {
		dirty_drop(st.st_ino);
		unlinkat(at, name, 0);
	}
}

/* A directory's fsync: its names are durable. */
static void undo_commit_dir(const char *dir)
{
	for (struct undo **pp = &g.undo; *pp;) {
		struct undo *u = *pp;
		if (strcmp(u->dir, dir) == 0) {
			if (u->trash[0])
				remove_tree(g.root, u->trash);
			*pp = u->prev;
			free(u);
		} else {
			pp = &u->prev;
		}
	}
}

static void power_cut(void)
{
	char note[64];
	int fd;

	while (g.dirty)
		dirty_drop(g.dirty->ino);
	while (g.undo) {
		struct undo *u = g.undo;
		g.undo = u->prev;
		switch (u->kind) {
		case UNDO_CREATE:
			remove_tree(g.root, rel(u->path));
			break;
		case UNDO_REMOVE:
			renameat(g.root, u->trash, g.root, rel(u->path));
			break;
		case UNDO_RENAME:
			renameat(g.root, rel(u->path), g.root, rel(u->from));
			if (u->trash[0])
				renameat(g.root, u->trash, g.root, rel(u->path));
			break;
		}
		free(u);
	}
	g.cuts++;
	fd = openat(g.root, ".plfs-cut", O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd >= 0) {
		int n = snprintf(note, sizeof(note), "%lu\n", g.cuts);
		if (write(fd, note, (size_t)n) != n)
			perror("plfs: .plfs-cut");
		close(fd);
	}
}

static void *cut_thread(void *arg)
{
	sigset_t *set = arg;
	int sig;

	for (;;) {
		if (sigwait(set, &sig) != 0)
			continue;
		pthread_mutex_lock(&g.lock);
		power_cut();
		pthread_mutex_unlock(&g.lock);
	}
	return NULL;
}

/* ---- FUSE operations ------------------------------------------------------ */

#define LOCKED(expr)                          \
	({                                    \
		int _rc;                      \
		pthread_mutex_lock(&g.lock);  \
		_rc = (expr);                 \
		pthread_mutex_unlock(&g.lock); \
		_rc;                          \
	})

static int do_getattr(const char *path, struct stat *st)
{
	struct dirty *d;

	if (fstatat(g.root, rel(path), st, AT_SYMLINK_NOFOLLOW) != 0)
		return -errno;
	d = dirty_find(st->st_ino, 0, -1);
	if (d)
		st->st_size = d->size;
	return 0;
}

static int pl_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	(void)fi;
	return LOCKED(do_getattr(path, st));
}

static int pl_readdir(const char *path, void *buf, fuse_fill_dir_t fill, off_t off,
		      struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
	DIR *dir;
	struct dirent *e;
	int fd;

	(void)off, (void)fi, (void)flags;
	pthread_mutex_lock(&g.lock);
	fd = openat(g.root, rel(path), O_RDONLY | O_DIRECTORY);
	dir = fd >= 0 ? fdopendir(fd) : NULL;
	if (!dir) {
		int rc = -errno;
		if (fd >= 0)
			close(fd);
		pthread_mutex_unlock(&g.lock);
		return rc;
	}
	while ((e = readdir(dir))) {
		if (strcmp(path, "/") == 0 && (strcmp(e->d_name, TRASH) == 0 || strcmp(e->d_name, ".plfs-cut") == 0))
			continue;
		fill(buf, e->d_name, NULL, 0, 0);
	}
	closedir(dir);
	pthread_mutex_unlock(&g.lock);
	return 0;
}

static int do_mkdir(const char *path, mode_t mode)
{
	char dir[PATH_MAX];

	if (mkdirat(g.root, rel(path), mode) != 0)
		return -errno;
	parent_of(path, dir);
	return undo_push(UNDO_CREATE, dir, path) ? 0 : -ENOMEM;
}

static int pl_mkdir(const char *path, mode_t mode)
{
	return LOCKED(do_mkdir(path, mode));
}

static int do_remove(const char *path, int is_dir)
{
	char dir[PATH_MAX];
	struct stat st;
	struct undo *u;
	int rc;

	if (fstatat(g.root, rel(path), &st, AT_SYMLINK_NOFOLLOW) != 0)
		return -errno;
	if (is_dir && !S_ISDIR(st.st_mode))
		return -ENOTDIR;
	if (!is_dir && S_ISDIR(st.st_mode))
		return -EISDIR;
	if (is_dir) {
		DIR *d;
		struct dirent *e;
		int fd = openat(g.root, rel(path), O_RDONLY | O_DIRECTORY), n = 0;
		if (fd < 0 || !(d = fdopendir(fd))) {
			rc = -errno;
			if (fd >= 0)
				close(fd);
			return rc;
		}
		while ((e = readdir(d)))
			n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
		closedir(d);
		if (n)
			return -ENOTEMPTY;
	}
	parent_of(path, dir);
	u = undo_push(UNDO_REMOVE, dir, path);
	if (!u)
		return -ENOMEM;
	rc = to_trash(path, u->trash, sizeof(u->trash));
	if (rc) {
		g.undo = u->prev;
		free(u);
	}
	return rc;
}

static int pl_unlink(const char *path)
{
	return LOCKED(do_remove(path, 0));
}

static int pl_rmdir(const char *path)
{
	return LOCKED(do_remove(path, 1));
}

static int do_rename(const char *from, const char *to, unsigned flags)
{
	char dir[PATH_MAX];
	struct stat st;
	struct undo *u;
	int exists, rc;

	if (flags & ~RENAME_NOREPLACE)
		return -EINVAL;
	if (fstatat(g.root, rel(from), &st, AT_SYMLINK_NOFOLLOW) != 0)
		return -errno;
	exists = fstatat(g.root, rel(to), &st, AT_SYMLINK_NOFOLLOW) == 0;
	if (exists && (flags & RENAME_NOREPLACE))
		return -EEXIST;
	parent_of(to, dir);
	u = undo_push(UNDO_RENAME, dir, to);
	if (!u)
		return -ENOMEM;
	snprintf(u->from, sizeof(u->from), "%s", from);
	if (exists && (rc = to_trash(to, u->trash, sizeof(u->trash))) != 0)
		goto undo;
	if (renameat(g.root, rel(from), g.root, rel(to)) != 0) {
		rc = -errno;
		if (u->trash[0])
			renameat(g.root, u->trash, g.root, rel(to));
		goto undo;
	}
	return 0;
undo:
	g.undo = u->prev;
	free(u);
	return rc;
}

static int pl_rename(const char *from, const char *to, unsigned flags)
{
	return LOCKED(do_rename(from, to, flags));
}

static int do_open(const char *path, mode_t mode, struct fuse_file_info *fi, int creating)
{
	int flags = (fi->flags & ~(O_TRUNC | O_APPEND | O_CREAT | O_EXCL)) & ~O_ACCMODE;
	char dir[PATH_MAX];
	struct stat st;
	struct dirty *d;
	int fd, existed;

	existed = fstatat(g.root, rel(path), &st, AT_SYMLINK_NOFOLLOW) == 0;
	if (creating && existed && (fi->flags & O_EXCL))
		return -EEXIST;
	flags |= O_RDWR; /* fsync writes through this descriptor */
	if (creating && !existed)
		flags |= O_CREAT | O_EXCL;
	fd = openat(g.root, rel(path), flags, mode);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) != 0) {
		int rc = -errno;
		close(fd);
		return rc;
	}
	if (creating && !existed) {
		dirty_drop(st.st_ino); /* an inode number used again */
		parent_of(path, dir);
		if (!undo_push(UNDO_CREATE, dir, path)) {
			close(fd);
			return -ENOMEM;
		}
	}
	if ((fi->flags & O_TRUNC) && (fi->flags & O_ACCMODE) != O_RDONLY) {
		d = dirty_find(st.st_ino, 1, fd);
		if (!d || dirty_add(d, PENDING_SIZE, 0, NULL, 0) != 0) {
			close(fd);
			return -ENOMEM;
		}
	}
	fi->fh = (uint64_t)fd;
	fi->direct_io = 1;
	fi->keep_cache = 0;
	return 0;
}

static int pl_open(const char *path, struct fuse_file_info *fi)
{
	return LOCKED(do_open(path, 0, fi, 0));
}

static int pl_create(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	return LOCKED(do_open(path, mode, fi, 1));
}

static int do_read(char *buf, size_t len, off_t off, int fd)
{
	struct stat st;

	if (fstat(fd, &st) != 0)
		return -errno;
	return (int)logical_read(fd, dirty_find(st.st_ino, 0, -1), buf, len, off);
}

static int pl_read(const char *path, char *buf, size_t len, off_t off, struct fuse_file_info *fi)
{
	(void)path;
	return LOCKED(do_read(buf, len, off, (int)fi->fh));
}

static int do_write(const char *buf, size_t len, off_t off, int fd)
{
	struct stat st;
	struct dirty *d;
	int rc;

	if (fstat(fd, &st) != 0)
		return -errno;
	d = dirty_find(st.st_ino, 1, fd);
	if (!d)
		return -ENOMEM;
	rc = dirty_add(d, PENDING_WRITE, off, buf, len);
	return rc ? rc : (int)len;
}

static int pl_write(const char *path, const char *buf, size_t len, off_t off, struct fuse_file_info *fi)
{
	(void)path;
	return LOCKED(do_write(buf, len, off, (int)fi->fh));
}

static int do_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
	struct stat st;
	struct dirty *d;
	int fd = fi ? (int)fi->fh : openat(g.root, rel(path), O_RDWR);
	int rc;

	if (fd < 0)
		return -errno;
	rc = fstat(fd, &st) != 0 ? -errno : 0;
	if (!rc) {
		d = dirty_find(st.st_ino, 1, fd);
		rc = d ? dirty_add(d, PENDING_SIZE, size, NULL, 0) : -ENOMEM;
	}
	if (!fi)
		close(fd);
	return rc;
}

static int pl_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
	return LOCKED(do_truncate(path, size, fi));
}

static int do_fsync(int fd)
{
	struct stat st;
	struct dirty *d;

	if (fstat(fd, &st) != 0)
		return -errno;
	d = dirty_find(st.st_ino, 0, -1);
	return d ? dirty_flush(fd, d) : 0;
}

static int pl_fsync(const char *path, int datasync, struct fuse_file_info *fi)
{
	(void)path, (void)datasync;
	return LOCKED(do_fsync((int)fi->fh));
}

static int do_fsyncdir(const char *path)
{
	undo_commit_dir(path);
	return 0;
}

static int pl_fsyncdir(const char *path, int datasync, struct fuse_file_info *fi)
{
	(void)datasync, (void)fi;
	return LOCKED(do_fsyncdir(path));
}

static int pl_release(const char *path, struct fuse_file_info *fi)
{
	(void)path;
	close((int)fi->fh);
	return 0;
}

static int pl_flush(const char *path, struct fuse_file_info *fi)
{
	(void)path, (void)fi;
	return 0;
}

static int do_fallocate(int mode, off_t off, off_t len, int fd)
{
	struct stat st;
	struct dirty *d;

	if (mode & ~FALLOC_FL_KEEP_SIZE)
		return -EOPNOTSUPP;
	if (mode & FALLOC_FL_KEEP_SIZE)
		return 0; /* space only: nothing a reader can see */
	if (fstat(fd, &st) != 0)
		return -errno;
	d = dirty_find(st.st_ino, 1, fd);
	if (!d)
		return -ENOMEM;
	return off + len > d->size ? dirty_add(d, PENDING_SIZE, off + len, NULL, 0) : 0;
}

static int pl_fallocate(const char *path, int mode, off_t off, off_t len, struct fuse_file_info *fi)
{
	(void)path;
	return LOCKED(do_fallocate(mode, off, len, (int)fi->fh));
}

static int pl_statfs(const char *path, struct statvfs *st)
{
	(void)path;
	return fstatvfs(g.root, st) ? -errno : 0;
}

static int pl_utimens(const char *path, const struct timespec tv[2], struct fuse_file_info *fi)
{
	(void)fi;
	return utimensat(g.root, rel(path), tv, AT_SYMLINK_NOFOLLOW) ? -errno : 0;
}

static int pl_chmod(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	(void)fi;
	return fchmodat(g.root, rel(path), mode, 0) ? -errno : 0;
}

static int pl_chown(const char *path, uid_t uid, gid_t gid, struct fuse_file_info *fi)
{
	(void)fi;
	return fchownat(g.root, rel(path), uid, gid, AT_SYMLINK_NOFOLLOW) ? -errno : 0;
}

static void *pl_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
	(void)conn;
	cfg->entry_timeout = 0;
	cfg->attr_timeout = 0;
	cfg->negative_timeout = 0;
	cfg->direct_io = 1;
	cfg->kernel_cache = 0;
	cfg->use_ino = 0;
	return NULL;
}

int main(int argc, char **argv)
{
	struct fuse_operations ops = {
		.init = pl_init,
		.getattr = pl_getattr,
		.readdir = pl_readdir,
		.mkdir = pl_mkdir,
		.unlink = pl_unlink,
		.rmdir = pl_rmdir,
		.rename = pl_rename,
		.open = pl_open,
		.create = pl_create,
		.read = pl_read,
		.write = pl_write,
		.truncate = pl_truncate,
		.fsync = pl_fsync,
		.fsyncdir = pl_fsyncdir,
		.release = pl_release,
		.flush = pl_flush,
		.fallocate = pl_fallocate,
		.statfs = pl_statfs,
		.utimens = pl_utimens,
		.chmod = pl_chmod,
		.chown = pl_chown,
	};
	static sigset_t set;
	pthread_t tid;
	char *fargv[8];
	int fargc = 0;

	if (argc < 3) {
		fprintf(stderr, "usage: plfs BACKING MOUNTPOINT [FUSE options]\n");
		return 2;
	}
	if (!realpath(argv[1], g.backing)) {
		perror(argv[1]);
		return 1;
	}
	g.root = open(g.backing, O_RDONLY | O_DIRECTORY);
	if (g.root < 0) {
		perror(argv[1]);
		return 1;
	}
	/* What was in the trash when power went is gone for good. */
	remove_tree(g.root, TRASH);
	if (mkdirat(g.root, TRASH, 0700) != 0) {
		perror("plfs: " TRASH);
		return 1;
	}
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	if (pthread_create(&tid, NULL, cut_thread, &set) != 0) {
		perror("plfs: thread");
		return 1;
	}
	fargv[fargc++] = argv[0];
	fargv[fargc++] = argv[2];
	fargv[fargc++] = (char *)"-f";
	fargv[fargc++] = (char *)"-o";
	fargv[fargc++] = (char *)"fsname=plfs,default_permissions";
	for (int i = 3; i < argc && fargc < 7; i++)
		fargv[fargc++] = argv[i];
	fargv[fargc] = NULL;
	return fuse_main(fargc, fargv, &ops, NULL);
}
