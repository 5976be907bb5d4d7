/*
 * storage/archive.c - writing, verifying, listing and reading back archived
 * snapshots; the node registry.  See archive.h.
 */
#include <dirent.h>
#include <stdarg.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "storage/archive_internal.h"
#include "storage/crc32c.h"
#include "storage/diag.h"


static int archive_alloc(struct lsn_archive **out, const char *dir, const char *command,
			 const char *check_command, const char *node_id, const char *tmpdir)
{
	struct lsn_archive *a = calloc(1, sizeof(*a));

	*out = NULL;
	if (!a)
		return -ENOMEM;
	a->abort_fd = -1;
	pthread_mutex_init(&a->reg_lock, NULL);
	a->timeout = LSN_ARCHIVE_TIMEOUT_DEFAULT;
	a->dir = strdup(dir ? dir : "");
	a->command = strdup(command ? command : "");
	a->check_command = strdup(check_command ? check_command : "");
	a->node_id = strdup(node_id);
	a->tmpdir = strdup(tmpdir);
	if (!a->dir || !a->command || !a->check_command || !a->node_id || !a->tmpdir) {
		lsn_archive_free(a);
		return -ENOMEM;
	}
	a->abort_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (a->abort_fd < 0 || (mkdir(a->tmpdir, 0700) != 0 && errno != EEXIST)) {
		int rc = -errno;
		lsn_archive_free(a);
		return rc;
	}
	*out = a;
	return 0;
}

int lsn_archive_init(struct lsn_archive **out, const char *dir, const char *command,
		     const char *node_id, const char *tmpdir)
{
	return archive_alloc(out, dir, command, "", node_id, tmpdir);
}

int lsn_archive_init_config(struct lsn_archive **out, const struct lsn_config *cfg,
			    const char *tmpdir)
{
	int rc = archive_alloc(out, cfg->archive, cfg->archive_command, cfg->archive_check_command,
			       cfg->node_id, tmpdir);

	if (rc)
		return rc;
	if (cfg->archive[0])
		memcpy((*out)->id, cfg->archive_id, sizeof((*out)->id));
	if (cfg->archive_timeout)
		(*out)->timeout = cfg->archive_timeout;
	return 0;
}

void lsn_archive_free(struct lsn_archive *a)
{
	if (!a)
		return;
	free(a->dir);
	free(a->command);
	free(a->check_command);
	free(a->node_id);
	free(a->tmpdir);
	free(a->points);
	if (a->abort_fd >= 0)
		close(a->abort_fd);
	pthread_mutex_destroy(&a->reg_lock);
	free(a);
}

bool lsn_archive_configured(const struct lsn_archive *a)
{
	return a && (a->dir[0] || a->command[0]);
}

bool lsn_archive_has_dir(const struct lsn_archive *a)
{
	return a && a->dir[0];
}

bool lsn_archive_has_check(const struct lsn_archive *a)
{
	return a && a->check_command[0];
}

int lsn_archive_available(struct lsn_archive *a, char *reason)
{
	if (!lsn_archive_has_dir(a) || !a->id[0])
		return 0;
	return lsn_archive_identity_check(a->dir, a->id, reason);
}


static int snap_path(const struct lsn_archive *a, const char *log, uint64_t lsn, char *buf,
		     size_t n)
{
	int len = snprintf(buf, n, "%s/%s/%020llu.snap.zst", a->dir, log, (unsigned long long)lsn);

	return len < 0 || (size_t)len >= n ? -ENAMETOOLONG : 0;
}

/* Write the snapshot's .zst stream into fd and make it durable. */
static int export_to(struct lsn_log *log, uint64_t lsn, int fd, uint64_t *size, uint32_t *crc)
{
	int rc = lsn_snapshot_export(log, lsn, fd, size, crc);

	if (!rc && fsync(fd) != 0)
		rc = -errno;
	if (close(fd) != 0 && !rc)
		rc = -errno;
	return rc;
}

/* The stream in a temporary file of our own, for a command without a directory. */
static int export_tmp(struct lsn_archive *a, struct lsn_log *log, uint64_t lsn, char *path,
		      size_t n, uint64_t *size, uint32_t *crc)
{
	int fd, rc;

	snprintf(path, n, "%s/%s-%020llu.snap.zst.XXXXXX", a->tmpdir, lsn_log_name(log),
		 (unsigned long long)lsn);
	fd = mkstemp(path);
	if (fd < 0)
		return -errno;
	rc = export_to(log, lsn, fd, size, crc);
	if (rc)
		unlink(path);
	return rc;
}

/*
 * The stream straight into <dir>/<log>/ under a temporary name, then
 * renamed into place (no second copy); its final path goes to `final`.
 */
static int put_dir(struct lsn_archive *a, struct lsn_log *log, uint64_t lsn, char *final,
		   size_t final_len, uint64_t *size, uint32_t *crc, char *reason)
{
	char dir[4096], partial[4096 + 64];
	int fd, rc;

	snprintf(dir, sizeof(dir), "%s/%s", a->dir, lsn_log_name(log));
	/* One level only: the archive root itself is never created. */
	if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
		rc = -errno;
		if (rc == -ENOENT)
			lsn_archive_why(reason, "archive root %s is missing", a->dir);
		else
			lsn_archive_why(reason, "cannot create %s: %s", dir, strerror(-rc));
		return rc;
	}
	rc = snap_path(a, lsn_log_name(log), lsn, final, final_len);
	if (rc)
		return rc;
	snprintf(partial, sizeof(partial), "%s/.%020llu.snap.zst.%s.tmp", dir, (unsigned long long)lsn,
		 a->node_id);
	fd = open(partial, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		rc = -errno;
		lsn_archive_why(reason, "cannot open %s: %s", partial, strerror(-rc));
		return rc;
	}
	rc = export_to(log, lsn, fd, size, crc);
	if (rc) {
		lsn_archive_why(reason, "write %s: %s", partial, strerror(-rc));
		goto out;
	}
	if (rename(partial, final) != 0) {
		rc = -errno;
		lsn_archive_why(reason, "rename to %s: %s", final, strerror(-rc));
		goto out;
	}
	rc = lsn_archive_fsync_dir(dir);
	if (rc)
		lsn_archive_why(reason, "fsync %s: %s", dir, strerror(-rc));
out:
	if (rc)
		unlink(partial);
	return rc;
}


static void archive_name(const char *log, uint64_t lsn, char *buf, size_t n)
{
	snprintf(buf, n, "%s/%020llu.snap.zst", log, (unsigned long long)lsn);
}

static int put_command(struct lsn_archive *a, struct lsn_log *log, uint64_t lsn, const char *tmp,
		       char *reason)
{
	char name[LSN_NAME_MAX + 40];
	char *line;
	int rc;

	archive_name(lsn_log_name(log), lsn, name, sizeof(name));
	line = lsn_archive_expand(a->command, tmp, name);
	if (!line)
		return -ENOMEM;
	rc = lsn_archive_run(a, "archive_command", name, line, reason);
	free(line);
	return rc;
}

int lsn_archive_check(struct lsn_archive *a, const char *log, uint64_t lsn, char *reason)
{
	char name[LSN_NAME_MAX + 40];
	char *line;
	int rc;

	if (!lsn_archive_has_check(a)) {
		lsn_archive_why(reason, "no archive_check_command configured");
		return -EOPNOTSUPP;
	}
	archive_name(log, lsn, name, sizeof(name));
	line = lsn_archive_expand(a->check_command, "", name);
	if (!line)
		return -ENOMEM;
	rc = lsn_archive_run(a, "archive_check_command", name, line, reason);
	free(line);
	return rc == -EIO ? -ENOENT : rc;
}

int lsn_archive_put(struct lsn_archive *a, struct lsn_log *log, uint64_t lsn, uint64_t *size,
		    uint32_t *crc, char *reason)
{
	char path[4096];
	int rc;

	if (!lsn_archive_configured(a)) {
		lsn_archive_why(reason, "no archive configured");
		return -ENOTCONN;
	}
	if (a->dir[0]) {
		/* The marker before writing (an unmounted archive gets nothing)
		 * and again before confirming (it may have gone meanwhile). */
		rc = lsn_archive_available(a, reason);
		if (!rc)
			rc = put_dir(a, log, lsn, path, sizeof(path), size, crc, reason);
		/* With a directory the command gets the archived copy as %p. */
		if (!rc && a->command[0])
			rc = put_command(a, log, lsn, path, reason);
		if (!rc)
			rc = lsn_archive_available(a, reason);
		return rc;
	}
	rc = export_tmp(a, log, lsn, path, sizeof(path), size, crc);
	if (rc) {
		lsn_archive_why(reason, "cannot export snapshot: %s", strerror(-rc));
		return rc;
	}
	rc = put_command(a, log, lsn, path, reason);
	unlink(path);
	return rc;
}

static int file_crc(const char *path, uint64_t *size, uint32_t *crc)
{
	unsigned char buf[65536];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	*size = 0;
	*crc = 0;
	if (fd < 0)
		return -errno;
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		*crc = lsn_crc32c(*crc, buf, (size_t)n);
		*size += (uint64_t)n;
	}
	close(fd);
	return n < 0 ? -EIO : 0;
}

int lsn_archive_verify(struct lsn_archive *a, struct lsn_log *log, uint64_t lsn, uint64_t size,
		       uint32_t crc, char *reason)
{
	char path[4096];
	uint64_t got_size;
	uint32_t got_crc;
	int rc;

	if (!lsn_archive_configured(a)) {
		lsn_archive_why(reason, "no archive configured");
		return -ENOTCONN;
	}
	if (!a->dir[0])
		return a->check_command[0] ? lsn_archive_check(a, lsn_log_name(log), lsn, reason) : 0;
	rc = lsn_archive_available(a, reason);
	if (rc)
		return rc;
	rc = snap_path(a, lsn_log_name(log), lsn, path, sizeof(path));
	if (rc)
		return rc;
	rc = file_crc(path, &got_size, &got_crc);
	if (rc) {
		lsn_archive_why(reason, "archived copy %s unreadable: %s", path, strerror(-rc));
		return rc;
	}
	if (got_size != size || got_crc != crc) {
		lsn_archive_why(reason, "archived copy %s differs (size %llu, expected %llu)", path,
		    (unsigned long long)got_size, (unsigned long long)size);
		return -EBADMSG;
	}
	return a->check_command[0] ? lsn_archive_check(a, lsn_log_name(log), lsn, reason) : 0;
}

int lsn_archive_present(struct lsn_archive *a, const char *log, uint64_t lsn, uint64_t size)
{
	char path[4096];
	struct stat st;
	int rc;

	if (!lsn_archive_has_dir(a))
		return 0;
	rc = snap_path(a, log, lsn, path, sizeof(path));
	if (rc)
		return rc;
	if (stat(path, &st) != 0)
		return -errno;
	return (uint64_t)st.st_size == size ? 0 : -EBADMSG;
}

int lsn_archive_remove(struct lsn_archive *a, const char *log, uint64_t lsn)
{
	char path[4096];
	int rc;

	if (!lsn_archive_has_dir(a))
		return 0;
	rc = snap_path(a, log, lsn, path, sizeof(path));
	if (rc)
		return rc;
	if (unlink(path) != 0 && errno != ENOENT)
		return -errno;
	snprintf(path, sizeof(path), "%s/%s", a->dir, log);
	lsn_archive_fsync_dir(path);
	return 0;
}

static int cmp_u64(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;

	return a < b ? -1 : a > b;
}

static bool snap_name(const char *name, uint64_t *lsn)
{
	uint64_t v = 0;

	if (strlen(name) != 20 + strlen(".snap.zst") || strcmp(name + 20, ".snap.zst") != 0)
		return false;
	for (int i = 0; i < 20; i++) {
		if (name[i] < '0' || name[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(name[i] - '0');
	}
	*lsn = v;
	return true;
}

int lsn_archive_list(struct lsn_archive *a, const char *log, uint64_t **lsns, size_t *n)
{
	char path[4096];
	uint64_t *v = NULL;
	size_t count = 0, cap = 0;
	struct dirent *e;
	DIR *d;

	*lsns = NULL;
	*n = 0;
	if (!lsn_archive_has_dir(a))
		return 0;
	snprintf(path, sizeof(path), "%s/%s", a->dir, log);
	d = opendir(path);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((e = readdir(d)) != NULL) {
		uint64_t lsn;
		if (!snap_name(e->d_name, &lsn))
			continue;
		if (count == cap) {
			void *p;
			cap = cap ? cap * 2 : 16;
			p = realloc(v, cap * sizeof(*v));
			if (!p) {
				closedir(d);
				free(v);
				return -ENOMEM;
			}
			v = p;
		}
		v[count++] = lsn;
	}
	closedir(d);
	if (count)
		qsort(v, count, sizeof(*v), cmp_u64);
	*lsns = v;
	*n = count;
	return 0;
}

int lsn_archive_fetch(struct lsn_archive *a, const char *log, uint64_t lsn, int *fd,
		      uint64_t *size)
{
	char path[4096];
	size_t in_cap = ZSTD_DStreamInSize(), out_cap = ZSTD_DStreamOutSize();
	unsigned char *in = malloc(in_cap), *out = malloc(out_cap);
	ZSTD_DCtx *dctx = ZSTD_createDCtx();
	int src = -1, dst = -1, rc = 0;
	size_t last = 0;
	ssize_t n;

	*size = 0;
	if (!in || !out || !dctx) {
		rc = -ENOMEM;
		goto out;
	}
	rc = snap_path(a, log, lsn, path, sizeof(path));
	if (rc)
		goto out;
	src = open(path, O_RDONLY | O_CLOEXEC);
	dst = open(a->tmpdir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (src < 0 || dst < 0) {
		rc = -errno;
		goto out;
	}
	while ((n = read(src, in, in_cap)) > 0) {
		ZSTD_inBuffer ib = { in, (size_t)n, 0 };
		while (ib.pos < ib.size) {
			ZSTD_outBuffer ob = { out, out_cap, 0 };
			last = ZSTD_decompressStream(dctx, &ob, &ib);
			if (ZSTD_isError(last)) {
				rc = -EBADMSG;
				goto out;
			}
			if (ob.pos && write(dst, out, ob.pos) != (ssize_t)ob.pos) {
				rc = errno ? -errno : -EIO;
				goto out;
			}
			*size += ob.pos;
		}
	}
	if (n < 0)
		rc = -errno;
	else if (last != 0)
		rc = -EBADMSG; /* truncated stream */
out:
	if (src >= 0)
		close(src);
	if (rc && dst >= 0) {
		close(dst);
		dst = -1;
	}
	*fd = dst;
	ZSTD_freeDCtx(dctx);
	free(in);
	free(out);
	return rc;
}
/*
 * The content size of an archived snapshot without decompressing it: every
 * chunk frame carries its content size in its header (storage/snapshot.c
 * compresses whole chunks), so walking the frame headers is enough.
 */
int lsn_archive_content_size(struct lsn_archive *a, const char *log, uint64_t lsn, uint64_t *size)
{
	char path[4096];
	struct stat st;
	const unsigned char *map = MAP_FAILED;
	size_t pos = 0;
	uint64_t total = 0;
	int fd = -1, rc;

	rc = snap_path(a, log, lsn, path, sizeof(path));
	if (rc)
		goto out;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) != 0) {
		rc = -errno;
		goto out;
	}
	if (st.st_size > 0) {
		map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (map == MAP_FAILED) {
			rc = -errno;
			goto out;
		}
	}
	while (pos < (size_t)st.st_size) {
		unsigned long long content = ZSTD_getFrameContentSize(map + pos, (size_t)st.st_size - pos);
		size_t frame = ZSTD_findFrameCompressedSize(map + pos, (size_t)st.st_size - pos);

		if (content == ZSTD_CONTENTSIZE_ERROR || ZSTD_isError(frame)) {
			rc = -EBADMSG;
			goto out;
		}
		if (content == ZSTD_CONTENTSIZE_UNKNOWN) {
			rc = -ENOTSUP; /* not one of ours: the caller decompresses instead */
			goto out;
		}
		total += content;
		pos += frame;
	}
	*size = total;
out:
	if (map != MAP_FAILED)
		munmap((void *)map, (size_t)st.st_size);
	if (fd >= 0)
		close(fd);
	return rc;
}
