/*
 * storage/archive_util.c - small helpers every archive file uses: failure
 * reasons, directory fsync, command expansion.  Kept apart so that the
 * archive's files (archive.c, archive_command.c, archive_identity.c,
 * archive_registry.c) all depend on this one and not on each other.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "storage/archive_internal.h"

int lsn_archive_why(char *reason, const char *fmt, ...)
{
	va_list ap;

	if (reason) {
		va_start(ap, fmt);
		vsnprintf(reason, LSN_ARCHIVE_REASON_MAX, fmt, ap);
		va_end(ap);
	}
	return 0;
}

int lsn_archive_fsync_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd) != 0 && errno != EINVAL)
		rc = -errno;
	close(fd);
	return rc;
}

char *lsn_archive_expand(const char *cmd, const char *p, const char *f)
{
	size_t cap = strlen(cmd) + 1, len = 0;
	char *out;

	for (const char *c = cmd; *c; c++)
		if (c[0] == '%' && (c[1] == 'p' || c[1] == 'f'))
			cap += strlen(c[1] == 'p' ? p : f);
	out = malloc(cap);
	if (!out)
		return NULL;
	for (const char *c = cmd; *c; c++) {
		if (c[0] == '%' && (c[1] == 'p' || c[1] == 'f' || c[1] == '%')) {
			const char *s = c[1] == 'p' ? p : c[1] == 'f' ? f : "%";
			memcpy(out + len, s, strlen(s));
			len += strlen(s);
			c++;
		} else {
			out[len++] = *c;
		}
	}
	out[len] = '\0';
	return out;
}
