/*
 * bench/nullfs.c - the FUSE ceiling for `make bench`.
 *
 *   nullfs MOUNTPOINT [-f] [-o OPT,...]
 *
 * A minimal libfuse3 high-level filesystem run exactly like lsnfs (see
 * fs/main.c): multithreaded fuse_loop_mt with at most 16 threads, and the
 * same init() settings (max_write 1 MiB, max_readahead 1 MiB, attr_timeout
 * 0, entry_timeout 1).  It has two files:
 *   /sink  accepts every write and drops it (direct_io, like LOG/append)
 *   /zero  reads as zeros, NULLFS_ZERO_SIZE bytes (default 1 GiB)
 * so whatever lsnfs does beyond moving requests through FUSE is what the
 * benchmark's ratio against this filesystem measures.
 */
#define FUSE_USE_VERSION 312

#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <fuse_lowlevel.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static off_t zero_size = 1ll << 30;

static void *nullfs_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
	conn->max_write = 1u << 20;
	conn->max_readahead = 1u << 20;
	cfg->use_ino = 0;
	cfg->hard_remove = 1;
	cfg->attr_timeout = 0;
	cfg->entry_timeout = 1;
	cfg->negative_timeout = 0;
	return NULL;
}

static int nullfs_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	(void)fi;
	memset(st, 0, sizeof(*st));
	st->st_uid = getuid();
	st->st_gid = getgid();
	if (strcmp(path, "/") == 0) {
		st->st_mode = S_IFDIR | 0755;
		st->st_nlink = 2;
		return 0;
	}
	if (strcmp(path, "/sink") == 0) {
		st->st_mode = S_IFREG | 0666;
		st->st_nlink = 1;
		return 0;
	}
	if (strcmp(path, "/zero") == 0) {
		st->st_mode = S_IFREG | 0444;
		st->st_nlink = 1;
		st->st_size = zero_size;
		return 0;
	}
	return -ENOENT;
}

static int nullfs_readdir(const char *path, void *buf, fuse_fill_dir_t fill, off_t off,
			  struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
	(void)off;
	(void)fi;
	(void)flags;
	if (strcmp(path, "/") != 0)
		return -ENOTDIR;
	fill(buf, ".", NULL, 0, 0);
	fill(buf, "..", NULL, 0, 0);
	fill(buf, "sink", NULL, 0, 0);
	fill(buf, "zero", NULL, 0, 0);
	return 0;
}

static int nullfs_open(const char *path, struct fuse_file_info *fi)
{
	if (strcmp(path, "/sink") == 0) {
		fi->direct_io = 1;
		return 0;
	}
	if (strcmp(path, "/zero") == 0) {
		if ((fi->flags & O_ACCMODE) != O_RDONLY)
			return -EACCES;
		fi->keep_cache = 1;
		return 0;
	}
	return strcmp(path, "/") == 0 ? -EISDIR : -ENOENT;
}

static int nullfs_read(const char *path, char *buf, size_t size, off_t off, struct fuse_file_info *fi)
{
	(void)fi;
	if (strcmp(path, "/zero") != 0)
		return 0;
	if (off >= zero_size)
		return 0;
	if ((off_t)size > zero_size - off)
		size = (size_t)(zero_size - off);
	memset(buf, 0, size);
	return (int)size;
}

static int nullfs_write(const char *path, const char *buf, size_t size, off_t off,
			struct fuse_file_info *fi)
{
	(void)path;
	(void)buf;
	(void)off;
	(void)fi;
	return (int)size;
}

static int nullfs_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
	(void)size;
	(void)fi;
	return strcmp(path, "/sink") == 0 ? 0 : -EACCES;
}

static int nullfs_flush(const char *path, struct fuse_file_info *fi)
{
	(void)path;
	(void)fi;
	return 0;
}

static int nullfs_fsync(const char *path, int datasync, struct fuse_file_info *fi)
{
	(void)path;
	(void)datasync;
	(void)fi;
	return 0;
}

int main(int argc, char **argv)
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct fuse_cmdline_opts opts = { 0 };
	struct fuse_operations ops = { 0 };
	struct fuse_loop_config *loop_cfg = NULL;
	struct fuse *fuse = NULL;
	const char *zs = getenv("NULLFS_ZERO_SIZE");
	int rc, ret = 1;

	if (zs && *zs)
		zero_size = strtoll(zs, NULL, 10);
	ops.init = nullfs_init;
	ops.getattr = nullfs_getattr;
	ops.readdir = nullfs_readdir;
	ops.open = nullfs_open;
	ops.read = nullfs_read;
	ops.write = nullfs_write;
	ops.truncate = nullfs_truncate;
	ops.flush = nullfs_flush;
	ops.fsync = nullfs_fsync;

	if (fuse_parse_cmdline(&args, &opts) != 0)
		return 2;
	if (opts.show_help || !opts.mountpoint) {
		fprintf(stderr, "usage: nullfs MOUNTPOINT [-f] [-s] [-o OPT,...]\n");
		return 2;
	}
	fuse = fuse_new(&args, &ops, sizeof(ops), NULL);
	if (!fuse)
		goto out;
	if (fuse_mount(fuse, opts.mountpoint) != 0)
		goto out_destroy;
	if (fuse_daemonize(opts.foreground) != 0)
		goto out_unmount;
	if (fuse_set_signal_handlers(fuse_get_session(fuse)) != 0)
		goto out_unmount;
	if (opts.singlethread) {
		rc = fuse_loop(fuse);
	} else {
		loop_cfg = fuse_loop_cfg_create();
		fuse_loop_cfg_set_clone_fd(loop_cfg, opts.clone_fd);
		fuse_loop_cfg_set_max_threads(loop_cfg, opts.max_threads ? opts.max_threads : 16);
		if (opts.max_idle_threads != UINT_MAX)
			fuse_loop_cfg_set_idle_threads(loop_cfg, opts.max_idle_threads);
		rc = fuse_loop_mt(fuse, loop_cfg);
	}
	ret = rc == 0 ? 0 : 1;
	fuse_remove_signal_handlers(fuse_get_session(fuse));
out_unmount:
	fuse_unmount(fuse);
out_destroy:
	fuse_destroy(fuse);
out:
	if (loop_cfg)
		fuse_loop_cfg_destroy(loop_cfg);
	free(opts.mountpoint);
	fuse_opt_free_args(&args);
	return ret;
}
