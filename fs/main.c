/*
 * fs/main.c - `lsnfs STORE MOUNTPOINT [-f] [-d] [-o OPT[,OPT...]]`.
 *
 * Order matters: RocksDB starts threads, and threads do not survive fork.
 * So when daemonizing we fork first; the child opens the store, mounts and
 * then tells the waiting parent "ready" through a pipe (or exits with the
 * error it printed).  The parent's exit status is therefore the mount's,
 * and `mount`, fstab and scripts see a live filesystem or a clear error.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>

#include "fs/fs.h"
#include "fs/mountcheck.h"
#include <fuse_lowlevel.h>
#include "storage/diag.h"

#define MAX_OVERRIDES 16

struct cmdline {
	char *store;
	char *overrides[MAX_OVERRIDES]; /* "key=value" */
	int n_overrides;
	int n_nonopt;
	int bad;
	bool overmount;       /* -o nonempty: mount over a mount point */
	const char *archive;  /* the -o archive= value as given, or NULL */
	bool daemon;          /* errors go to syslog too */
};

static void usage(FILE *to)
{
	fprintf(to,
		"usage: lsnfs STORE MOUNTPOINT [-f] [-d] [-s] [-o OPT[,OPT...]]\n"
		"\n"
		"Mount the lsnfs store STORE (made by mkfs.lsnfs) at MOUNTPOINT.\n"
		"  -f            stay in the foreground (log to stderr)\n"
		"  -d            debug: foreground with FUSE request tracing\n"
		"  -s            single-threaded\n"
		"lsnfs options (-o), overriding the store's config for this mount:\n"
		"  archive=DIR            archive committed snapshots to DIR\n"
		"  archive_command=CMD    archive with CMD (%%p file, %%f archive name)\n"
		"  archive=none           mount without the store's archive (explicitly)\n"
		"  archive_check_command=CMD  re-check archived copies (%%f; exit 0 = present)\n"
		"  archive_timeout=SECONDS    kill an archive command after this (default 300)\n"
		"  nonempty               mount even over an existing mount point\n"
		"  segment_size=BYTES     payload per segment (default 64 MiB)\n"
		"  sync=always|fsync      durability per write or per fsync (default fsync)\n"
		"  auto_trim=SECONDS      trim every log on this period (0 = off)\n"
		"  trim_delay=SECONDS     startup and settling protection (default 600)\n"
		"  compress_level=N       zstd level (default 3)\n"
		"  metrics_file=PATH      rewrite PATH with Prometheus metrics every 10 s\n"
		"  compress_threads=N     threads compressing closed blocks (default: one per core)\n"
		"  read_ahead_blocks=N    blocks decoded ahead of a sequential reader (default 8)\n"
		"  recover=accept-loss    mount a store that is behind its control file or whose\n"
		"                         write-ahead log is damaged (the loss is logged)\n"
		"Standard FUSE options (allow_other, ...) pass through; default_permissions\n"
		"is always on.\n");
}

/* "key=value" where key is a mount option of the store's config. */
static int option_has(const char *opt, unsigned flag)
{
	const char *eq = strchr(opt, '=');
	char key[64];

	if (!eq || (size_t)(eq - opt) >= sizeof(key))
		return 0;
	memcpy(key, opt, (size_t)(eq - opt));
	key[eq - opt] = '\0';
	return lsn_config_key_is(key, flag);
}

static int is_lsnfs_key(const char *opt)
{
	return option_has(opt, LSN_KEY_MOUNT);
}

/*
 * What libfuse 3 itself accepts (mount, session and library options; an
 * entry ending in '=' takes a value).  Anything else is refused before the
 * store is touched, so a typo is one clear line, not a half-started mount.
 */
static const char *const fuse_known_opts[] = {
	"allow_other", "allow_root", "auto_unmount", "default_permissions", "blkdev",
	"fsname=", "subtype=", "max_read=", "blksize=", "user=",
	"context=", "fscontext=", "defcontext=", "rootcontext=",
	"rw", "ro", "suid", "nosuid", "dev", "nodev", "exec", "noexec", "async", "sync",
	"dirsync", "atime", "noatime",
	"kernel_cache", "auto_cache", "noauto_cache", "no_rofd_flush", "noforget", "remember=",
	"umask=", "uid=", "gid=", "entry_timeout=", "attr_timeout=", "ac_attr_timeout=",
	"negative_timeout=", "modules=", "subdir=",
	"clone_fd", "max_threads=", "max_idle_threads=", "debug", NULL,
};
/* Command-line flags other than -o (help and version are handled first). */
static const char *const fuse_known_flags[] = { "-f", "-d", "-s", NULL };

static bool in_list(const char *const *list, const char *arg)
{
	for (; *list; list++) {
		size_t n = strlen(*list);

		if ((*list)[n - 1] == '=' ? strncmp(arg, *list, n) == 0 : strcmp(arg, *list) == 0)
			return true;
	}
	return false;
}

static int unknown_option(struct cmdline *cl, const char *arg)
{
	fprintf(stderr, "lsnfs: unknown option '%s%s'\nTry 'lsnfs --help' for more information.\n",
		arg[0] == '-' ? "" : "-o ", arg);
	cl->bad = 1;
	return 0;
}

static int opt_proc(void *data, const char *arg, int key, struct fuse_args *outargs)
{
	struct cmdline *cl = data;

	(void)outargs;
	if (key == FUSE_OPT_KEY_NONOPT) {
		if (cl->n_nonopt++ == 0) {
			cl->store = strdup(arg);
			return 0; /* STORE is ours */
		}
		return 1; /* MOUNTPOINT goes to FUSE */
	}
	if (key == FUSE_OPT_KEY_OPT && arg[0] == '\0')
		return 0; /* "-o ''" or "a,,b": nothing to pass on */
	if (key == FUSE_OPT_KEY_OPT && strcmp(arg, "nonempty") == 0) {
		cl->overmount = true; /* ours: libfuse 3 has no such option */
		return 0;
	}
	if (key == FUSE_OPT_KEY_OPT && is_lsnfs_key(arg)) {
		if (cl->n_overrides == MAX_OVERRIDES) {
			fprintf(stderr, "lsnfs: too many options\n");
			cl->bad = 1;
			return 0;
		}
		cl->overrides[cl->n_overrides++] = strdup(arg);
		return 0;
	}
	if (cl->bad)
		return 0; /* one message is enough */
	/* libfuse 3 always allows a non-empty mount point; fstab lines from
	 * libfuse 2 days still say so. */
	if (key == FUSE_OPT_KEY_OPT && strcmp(arg, "nonempty") == 0)
		return 0;
	if (key == FUSE_OPT_KEY_OPT &&
	    !in_list(arg[0] == '-' ? fuse_known_flags : fuse_known_opts, arg))
		return unknown_option(cl, arg);
	return 1;
}

static void mount_error(const struct cmdline *cl, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int apply_overrides(struct cmdline *cl, struct lsn_store *store)
{
	char why[128], before[PATH_MAX + 32], after[PATH_MAX + 32];

	for (int i = 0; i < cl->n_overrides; i++) {
		char *eq = strchr(cl->overrides[i], '=');
		int rc;

		*eq = '\0';
		if (!store && strcmp(cl->overrides[i], "archive") == 0)
			cl->archive = eq + 1;
		if (store)
			lsn_config_get(lsn_store_config(store), cl->overrides[i], before,
				       sizeof(before));
		rc = store ? lsn_store_override(store, cl->overrides[i], eq + 1, why) : 0;
		if (!rc && store &&
		    lsn_config_get(lsn_store_config(store), cl->overrides[i], after, sizeof(after)) == 0 &&
		    strcmp(before, after) != 0)
			lsn_diag(LSN_DIAG_WARN, "-o %s=%s overrides the store's value '%s' for this mount",
				 cl->overrides[i], after, before);
		if (!store) {
			struct lsn_config scratch;
			lsn_config_defaults(&scratch);
			rc = lsn_config_set(&scratch, cl->overrides[i], eq + 1, why);
		}
		*eq = '=';
		if (rc) {
			mount_error(cl, "bad option -o %s: %s", cl->overrides[i], why);
			return -1;
		}
	}
	return 0;
}

static void syslog_sink(enum lsn_diag_level level, const char *msg)
{
	syslog((int)level, "%s", msg);
}

/* A mount failure: one line on stderr (the terminal until the daemon is
 * ready: the parent waits for it) and, when daemonized, the same in syslog. */
static void mount_error(const struct cmdline *cl, const char *fmt, ...)
{
	char msg[PATH_MAX + 512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "lsnfs: %s\n", msg);
	if (cl->daemon)
		syslog(LOG_ERR, "%s", msg);
}

static const char *store_error(int rc)
{
	switch (rc) {
	case -EBUSY:
		return "store in use (another lsnfs has it open)";
	case -ENOENT:
		return "not an lsnfs store (run mkfs.lsnfs first)";
	case -EINVAL:
		return "not an lsnfs store, or a newer format";
	case -EBADMSG:
		return "store metadata is corrupt (when RocksDB names its write-ahead log, "
		       "-o recover=accept-loss mounts the records before the damage)";
	default:
		return strerror(-rc);
	}
}

/* Fork; the parent waits for the child's verdict and exits with it. */
static int daemonize_start(int *ready_fd)
{
	int pfd[2];
	pid_t pid;
	char c;

	if (pipe(pfd) != 0) {
		perror("lsnfs: pipe");
		return -1;
	}
	pid = fork();
	if (pid < 0) {
		perror("lsnfs: fork");
		return -1;
	}
	if (pid > 0) {
		int status = 0;
		close(pfd[1]);
		if (read(pfd[0], &c, 1) == 1)
			_exit(0);
		waitpid(pid, &status, 0);
		_exit(WIFEXITED(status) && WEXITSTATUS(status) ? WEXITSTATUS(status) : 1);
	}
	close(pfd[0]);
	setsid();
	*ready_fd = pfd[1];
	return 0;
}

static void daemonize_finish(int ready_fd)
{
	int fd = open("/dev/null", O_RDWR);

	if (chdir("/") != 0)
		lsn_diag(LSN_DIAG_WARN, "chdir /: %s", strerror(errno));
	if (fd >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		if (fd > 2)
			close(fd);
	}
	if (write(ready_fd, "r", 1) != 1)
		lsn_diag(LSN_DIAG_WARN, "cannot signal the parent: %s", strerror(errno));
	close(ready_fd);
}

static void *lsnfs_init(struct fuse_conn_info *conn, struct fuse_config *cfg);

static const struct fuse_operations lsnfs_operations = {
	.init = lsnfs_init,
	.getattr = lsnfs_getattr,
	.readdir = lsnfs_readdir,
	.mkdir = lsnfs_mkdir,
	.rmdir = lsnfs_rmdir,
	.unlink = lsnfs_unlink,
	.rename = lsnfs_rename,
	.create = lsnfs_create,
	.mknod = lsnfs_mknod,
	.truncate = lsnfs_truncate,
	.chmod = lsnfs_chmod,
	.chown = lsnfs_chown,
	.utimens = lsnfs_utimens,
	.link = lsnfs_link,
	.symlink = lsnfs_symlink,
	.readlink = lsnfs_readlink,
	.statfs = lsnfs_statfs,
	.open = lsnfs_open,
	.read = lsnfs_read,
	.write = lsnfs_write,
	.flush = lsnfs_flush,
	.fsync = lsnfs_fsync,
	.release = lsnfs_release,
	.getxattr = lsnfs_getxattr,
	.setxattr = lsnfs_setxattr,
	.listxattr = lsnfs_listxattr,
	.removexattr = lsnfs_removexattr,
};

static void *lsnfs_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
	/* One write(2) of up to 1 MiB arrives as one request. */
	conn->max_write = LSNFS_MAX_WRITE;
	conn->max_readahead = 1u << 20;
	/* With attr_timeout 0, auto_inval_data makes the kernel ask GETATTR
	 * before every cached read.  Nothing needs it: the active segment is
	 * direct_io and sealed segments and snapshots never change. */
	conn->want &= ~FUSE_CAP_AUTO_INVAL_DATA;
	cfg->use_ino = 0;
	cfg->hard_remove = 1;
	/* The active segment grows: its size must never be stale. */
	cfg->attr_timeout = 0;
	cfg->entry_timeout = 1;
	cfg->negative_timeout = 0;
	return fuse_get_context()->private_data;
}

int main(int argc, char **argv)
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct fuse_cmdline_opts opts = { 0 };
	struct fuse_loop_config *loop_cfg = NULL;
	struct cmdline cl = { 0 };
	struct lsnfs fs = { 0 };
	struct fuse *fuse = NULL;
	char fsname[PATH_MAX + 32], abs_store[PATH_MAX], shown[PATH_MAX], why[PATH_MAX + 256];
	struct lsn_store *store = NULL;
	char *open_overrides[MAX_OVERRIDES];
	size_t n_open_overrides = 0;
	int ready_fd = -1, rc, ret = 1;
	bool mounted = false, partials_ready = false;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return 0;
		}
		if (strcmp(argv[i], "--version") == 0 || strcmp(argv[i], "-V") == 0) {
			printf("lsnfs %s (libfuse %s)\n", LSN_VERSION, fuse_pkgversion());
			return 0;
		}
	}
	if (fuse_opt_parse(&args, &cl, NULL, opt_proc) != 0 || cl.bad) {
		ret = 2;
		goto out;
	}
	if (!cl.store || cl.n_nonopt < 2) {
		fprintf(stderr, "lsnfs: %s\nTry 'lsnfs --help' for more information.\n",
			!cl.store ? "missing STORE and MOUNTPOINT" : "missing MOUNTPOINT");
		ret = 2;
		goto out;
	}
	if (cl.n_nonopt > 2) {
		fprintf(stderr, "lsnfs: too many arguments (expected STORE MOUNTPOINT)\n");
		ret = 2;
		goto out;
	}
	if (apply_overrides(&cl, NULL) != 0) {
		ret = 2;
		goto out;
	}
	if (!realpath(cl.store, abs_store)) {
		fprintf(stderr, "lsnfs: %s: %s\n", cl.store, strerror(errno));
		goto out;
	}
	memcpy(shown, abs_store, sizeof(shown));
	for (char *p = shown; *p; p++)
		if (*p == ',')
			*p = '_'; /* only for the name: mount options are comma-separated */
	snprintf(fsname, sizeof(fsname), "-ofsname=%s,subtype=lsnfs", shown);
	fuse_opt_insert_arg(&args, 1, fsname);
	/* Always: the kernel checks the modes getattr shows (README, security
	 * model), so with allow_other another user cannot append, trim or
	 * publish; a second explicit -o default_permissions is harmless. */
	fuse_opt_insert_arg(&args, 1, "-odefault_permissions");
	if (fuse_parse_cmdline(&args, &opts) != 0) {
		ret = 2;
		goto out;
	}
	if (!opts.mountpoint) {
		fprintf(stderr, "lsnfs: missing MOUNTPOINT\n");
		ret = 2;
		goto out;
	}
	ret = 1;

	rc = lsnfs_check_mountpoint(opts.mountpoint, cl.overmount, why, sizeof(why));
	if (rc) {
		fprintf(stderr, "lsnfs: %s\n", why);
		goto out;
	}

	for (int i = 0; i < cl.n_overrides; i++)
		if (option_has(cl.overrides[i], LSN_KEY_AT_OPEN))
			open_overrides[n_open_overrides++] = cl.overrides[i];
	if (!opts.foreground) {
		if (daemonize_start(&ready_fd) != 0)
			goto out;
		/* From here on the log is syslog; mount errors also reach the
		 * terminal (mount_error) until the parent is told "ready". */
		cl.daemon = true;
		openlog("lsnfs", LOG_PID, LOG_DAEMON);
		lsn_diag_set_sink(syslog_sink);
	}

	/* The options the store's checks at open read (LSN_KEY_AT_OPEN) apply before
	 * them; the others after, where a changed value is logged. */
	rc = lsn_store_open_with(abs_store, open_overrides, n_open_overrides, &store);
	if (rc) {
		/* A store behind its control file was described, with the
		 * numbers, in the one line the store logged (to the terminal in
		 * the foreground, to syslog once daemonized). */
		if (rc != -EUCLEAN)
			mount_error(&cl, "%s: %s", abs_store, store_error(rc));
		else if (cl.daemon)
			mount_error(&cl, "%s: the store is behind what it acknowledged as durable "
				    "(syslog names the logs); -o recover=accept-loss mounts it as it is",
				    abs_store);
		goto out;
	}
	rc = lsnfs_setup_archive(store, cl.archive, why, sizeof(why));
	if (rc) {
		mount_error(&cl, "%s: %s", abs_store, why);
		lsn_store_close(store);
		goto out;
	}
	if (apply_overrides(&cl, store) != 0) {
		lsn_store_close(store);
		goto out;
	}
	rc = lsn_node_open(&fs.node, store, NULL); /* the node owns the store now */
	if (rc) {
		mount_error(&cl, "%s: %s", abs_store, strerror(-rc));
		goto out;
	}
	fs.store = lsn_node_store(fs.node);
	fs.uid = getuid();
	fs.gid = getgid();
	lsnfs_partials_init(&fs.partials);
	partials_ready = true;

	fuse = fuse_new(&args, &lsnfs_operations, sizeof(lsnfs_operations), &fs);
	if (!fuse) {
		mount_error(&cl, "%s: cannot set up the FUSE session (bad option?)", opts.mountpoint);
		goto out;
	}
	if (fuse_mount(fuse, opts.mountpoint) != 0) {
		mount_error(&cl, "%s: mount failed", opts.mountpoint);
		goto out;
	}
	mounted = true;
	if (fuse_set_signal_handlers(fuse_get_session(fuse)) != 0) {
		mount_error(&cl, "cannot set signal handlers");
		goto out;
	}
	rc = lsn_node_start(fs.node);
	if (rc) {
		mount_error(&cl, "%s: cannot start the node: %s", abs_store, strerror(-rc));
		goto out;
	}
	lsn_diag(LSN_DIAG_INFO, "mounted %s at %s (mode %s)", abs_store, opts.mountpoint,
		 lsn_mode_name(lsn_node_mode(fs.node)));
	if (ready_fd >= 0) {
		daemonize_finish(ready_fd);
		ready_fd = -1;
	}

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
	/* The loop reports the signal that ended it; SIGTERM/SIGINT/SIGHUP are
	 * the normal way to stop a daemon. */
	ret = (rc == 0 || rc == SIGTERM || rc == SIGINT || rc == SIGHUP) ? 0 : 1;
	fuse_remove_signal_handlers(fuse_get_session(fuse));
	lsn_diag(LSN_DIAG_INFO, "unmounting %s", opts.mountpoint);
out:
	if (mounted)
		fuse_unmount(fuse);
	if (fuse)
		fuse_destroy(fuse);
	if (loop_cfg)
		fuse_loop_cfg_destroy(loop_cfg);
	lsn_node_free(fs.node); /* stops the workers, closes the store */
	if (partials_ready)
		lsnfs_partials_destroy(&fs.partials);
	free(opts.mountpoint);
	fuse_opt_free_args(&args);
	free(cl.store);
	for (int i = 0; i < cl.n_overrides; i++)
		free(cl.overrides[i]);
	return ret;
}
