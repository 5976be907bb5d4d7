#include "storage/staging.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "storage/snapshot.h"
#include "storage/store_internal.h"


static int staging_path(struct lsn_log *log, const char *name, char *buf, size_t n)
{
	char dir[PATH_MAX];
	int rc;

	if (!name[0] || strchr(name, '/') || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return -EINVAL; /* never trust a name that was not identified */
	rc = lsn_staging_dir(log, dir, sizeof(dir));
	if (rc)
		return rc;
	if ((size_t)snprintf(buf, n, "%s/%s", dir, name) >= n)
		return -ENAMETOOLONG;
	return 0;
}

/* The path of staging file `name` and its lstat; only regular files are
 * staged, anything else there is not ours (-ENOENT). */
static int staging_file(struct lsn_log *log, const char *name, char *path, size_t n,
			struct stat *real)
{
	int rc = staging_path(log, name, path, n);

	if (rc)
		return rc;
	if (lstat(path, real) != 0)
		return -errno;
	return S_ISREG(real->st_mode) ? 0 : -ENOENT;
}

int lsn_staging_stat(struct lsn_log *log, const char *name, struct lsn_staging_stat *st)
{
	char path[PATH_MAX];
	struct stat real;
	int rc = staging_file(log, name, path, sizeof(path), &real);

	if (rc)
		return rc;
	st->size = (uint64_t)real.st_size;
	st->mtime_ns = (int64_t)real.st_mtim.tv_sec * 1000000000 + real.st_mtim.tv_nsec;
	st->mode = real.st_mode & 07777;
	return 0;
}

int lsn_staging_open(struct lsn_log *log, const char *name, int flags, int *fd)
{
	char path[PATH_MAX];
	int rc = staging_path(log, name, path, sizeof(path));

	if (rc)
		return rc;
	*fd = open(path, (flags & ~O_APPEND) | O_CLOEXEC | O_NOFOLLOW, 0644);
	return *fd < 0 ? -errno : 0;
}

int lsn_staging_unlink(struct lsn_log *log, const char *name)
{
	char path[PATH_MAX];
	int rc = staging_path(log, name, path, sizeof(path));

	if (rc)
		return rc;
	return unlink(path) == 0 ? 0 : -errno;
}

int lsn_staging_rename(struct lsn_log *log, const char *from, const char *to, unsigned flags)
{
	char src[PATH_MAX], dst[PATH_MAX];
	int rc = staging_path(log, from, src, sizeof(src));

	if (!rc)
		rc = staging_path(log, to, dst, sizeof(dst));
	if (rc)
		return rc;
	return renameat2(AT_FDCWD, src, AT_FDCWD, dst, flags) == 0 ? 0 : -errno;
}

int lsn_staging_truncate(struct lsn_log *log, const char *name, uint64_t size)
{
	char path[PATH_MAX];
	int rc = staging_path(log, name, path, sizeof(path));

	if (rc)
		return rc;
	return truncate(path, (off_t)size) == 0 ? 0 : -errno;
}

int lsn_staging_chmod(struct lsn_log *log, const char *name, uint32_t mode)
{
	char path[PATH_MAX];
	int rc = staging_path(log, name, path, sizeof(path));

	if (rc)
		return rc;
	return fchmodat(AT_FDCWD, path, (mode_t)(mode & 07777), 0) == 0 ? 0 : -errno;
}

int lsn_staging_utimens(struct lsn_log *log, const char *name, const struct timespec times[2])
{
	char path[PATH_MAX];
	int rc = staging_path(log, name, path, sizeof(path));

	if (rc)
		return rc;
	return utimensat(AT_FDCWD, path, times, AT_SYMLINK_NOFOLLOW) == 0 ? 0 : -errno;
}

int lsn_staging_list(struct lsn_log *log, char ***names, size_t *n)
{
	char dir[PATH_MAX];
	char **v = NULL;
	size_t k = 0, cap = 0;
	struct dirent *e;
	DIR *d;
	int rc;

	*names = NULL;
	*n = 0;
	rc = lsn_staging_dir(log, dir, sizeof(dir));
	if (rc)
		return rc;
	d = opendir(dir);
	if (!d)
		return -errno;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (k == cap) {
			void *p = realloc(v, (cap = cap ? cap * 2 : 8) * sizeof(*v));
			if (!p) {
				rc = -ENOMEM;
				break;
			}
			v = p;
		}
		v[k] = strdup(e->d_name);
		if (!v[k]) {
			rc = -ENOMEM;
			break;
		}
		k++;
	}
	closedir(d);
	if (rc) {
		lsn_names_free(v, k);
		return rc;
	}
	*names = v;
	*n = k;
	return 0;
}

int lsn_staging_commit(struct lsn_log *log, const char *name, uint64_t lsn)
{
	char path[PATH_MAX];
	struct stat real;
	int rc = staging_file(log, name, path, sizeof(path), &real);

	return rc ? rc : lsn_snapshot_commit(log, path, lsn);
}

int lsn_staging_remove_all(struct lsn_log *log)
{
	char dir[PATH_MAX];
	char **names = NULL;
	size_t n = 0;
	int rc = lsn_staging_list(log, &names, &n);

	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = lsn_staging_unlink(log, names[i]);
	lsn_names_free(names, n);
	if (rc == 0)
		rc = lsn_staging_dir(log, dir, sizeof(dir));
	if (rc == 0 && rmdir(dir) != 0)
		rc = -errno;
	return rc;
}
