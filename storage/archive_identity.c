/*
 * storage/archive_identity.c - the marker at an archive's root that says
 * "this directory is archive <id>".  See archive.h.
 *
 * Writing: a temporary file in the root, fsynced, then moved to the marker
 * name without replacing one that appeared meanwhile (renameat2
 * RENAME_NOREPLACE; where the filesystem lacks it, link(2); where that is
 * missing too, as on s3fs, a plain rename after a fresh look), then the
 * root fsynced.  Whatever the race, the id returned is the one read back.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "storage/archive_internal.h"
#include "storage/fileio.h"

#define MARKER_HEAD "lsnfs archive format "
#define MARKER_MAX 4096

static int marker_path(const char *dir, const char *name, char *buf, size_t n)
{
	int len = snprintf(buf, n, "%s/%s", dir, name);

	return len < 0 || (size_t)len >= n ? -ENAMETOOLONG : 0;
}

/* Parse the marker text: format line, then key=value lines. */
static int parse_marker(char *text, char id_out[LSN_ARCHIVE_ID_LEN + 1])
{
	char *line, *save = NULL;
	unsigned long format;
	char *end;
	bool have_id = false;

	if (strncmp(text, MARKER_HEAD, strlen(MARKER_HEAD)) != 0)
		return -EBADMSG;
	format = strtoul(text + strlen(MARKER_HEAD), &end, 10);
	if (end == text + strlen(MARKER_HEAD) || *end != '\n' || format < 1)
		return -EBADMSG;
	if (format > LSN_ARCHIVE_FORMAT)
		return -EPROTONOSUPPORT;
	for (line = strtok_r(end + 1, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "archive_id=", 11) != 0)
			continue; /* keys of later minor additions are ignored */
		if (!lsn_archive_id_valid(line + 11))
			return -EBADMSG;
		memcpy(id_out, line + 11, LSN_ARCHIVE_ID_LEN + 1);
		have_id = true;
	}
	return have_id ? 0 : -EBADMSG;
}

int lsn_archive_identity_read(const char *dir, char id_out[LSN_ARCHIVE_ID_LEN + 1])
{
	char path[4096], text[MARKER_MAX + 1];
	size_t got = 0;
	int fd, rc;

	id_out[0] = '\0';
	rc = marker_path(dir, LSN_ARCHIVE_MARKER, path, sizeof(path));
	if (rc)
		return rc;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOTDIR ? -ENOENT : -errno;
	rc = lsn_pread_full(fd, text, MARKER_MAX, 0, &got);
	close(fd);
	if (rc)
		return rc;
	text[got] = '\0';
	return parse_marker(text, id_out);
}

static void random_id(char id[LSN_ARCHIVE_ID_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char raw[LSN_ARCHIVE_ID_LEN / 2];
	size_t got = 0;

	while (got < sizeof(raw)) {
		ssize_t n = getrandom(raw + got, sizeof(raw) - got, 0);
		if (n > 0)
			got += (size_t)n;
		else if (n < 0 && errno != EINTR)
			break;
	}
	if (got < sizeof(raw)) {
		/* No getrandom (very old kernel): time, pid and address bits,
		 * enough to tell two archives apart. */
		struct timespec ts;
		uint64_t v;
		clock_gettime(CLOCK_REALTIME, &ts);
		v = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^ ((uint64_t)getpid() << 40) ^
		    (uint64_t)(uintptr_t)raw;
		for (size_t i = got; i < sizeof(raw); i++, v = v * 6364136223846793005ull + 1)
			raw[i] = (unsigned char)(v >> 56);
	}
	for (size_t i = 0; i < sizeof(raw); i++) {
		id[2 * i] = hex[raw[i] >> 4];
		id[2 * i + 1] = hex[raw[i] & 15];
	}
	id[LSN_ARCHIVE_ID_LEN] = '\0';
}

/* The fsynced temporary marker, moved into place without replacing one. */
static int write_marker(const char *dir, const char *final)
{
	char tmp[4096], text[128], id[LSN_ARCHIVE_ID_LEN + 1];
	int fd, rc, len;

	random_id(id);
	len = snprintf(text, sizeof(text), "%s%d\narchive_id=%s\n", MARKER_HEAD, LSN_ARCHIVE_FORMAT,
		       id);
	if (snprintf(tmp, sizeof(tmp), "%s/.lsnfs-archive.%d.%s.tmp", dir, (int)getpid(), id) >=
	    (int)sizeof(tmp))
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	rc = lsn_write_full(fd, text, (size_t)len);
	if (!rc && fsync(fd) != 0)
		rc = -errno;
	if (close(fd) != 0 && !rc)
		rc = -errno;
	if (rc)
		goto out;
	if (renameat2(AT_FDCWD, tmp, AT_FDCWD, final, RENAME_NOREPLACE) == 0)
		goto synced;
	rc = -errno;
	if (rc == -EEXIST) {
		rc = 0; /* someone else's marker won: adopt it */
		goto out;
	}
	if (rc != -EINVAL && rc != -ENOSYS && rc != -EOPNOTSUPP)
		goto out;
	if (link(tmp, final) == 0 || errno == EEXIST) {
		rc = 0;
		goto synced;
	}
	rc = -errno;
	if (rc != -EPERM && rc != -ENOSYS && rc != -EOPNOTSUPP)
		goto out;
	if (access(final, F_OK) == 0) {
		rc = 0;
		goto out;
	}
	rc = rename(tmp, final) == 0 ? 0 : -errno;
synced:
	if (!rc)
		rc = lsn_archive_fsync_dir(dir);
out:
	unlink(tmp);
	return rc;
}

int lsn_archive_identity_ensure(const char *dir, char id_out[LSN_ARCHIVE_ID_LEN + 1])
{
	char final[4096];
	struct stat st;
	int rc;

	id_out[0] = '\0';
	if (stat(dir, &st) != 0)
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	rc = lsn_archive_identity_read(dir, id_out);
	if (rc != -ENOENT)
		return rc;
	rc = marker_path(dir, LSN_ARCHIVE_MARKER, final, sizeof(final));
	if (!rc)
		rc = write_marker(dir, final);
	if (rc)
		return rc;
	return lsn_archive_identity_read(dir, id_out);
}

int lsn_archive_identity_check(const char *dir, const char *expected_id, char *reason)
{
	char id[LSN_ARCHIVE_ID_LEN + 1];
	int rc = lsn_archive_identity_read(dir, id);

	switch (rc) {
	case 0:
		if (strcmp(id, expected_id) == 0)
			return 0;
		lsn_archive_why(reason, "archive unavailable: %s belongs to another archive id %s", dir,
				id);
		return -EXDEV;
	case -ENOENT:
		lsn_archive_why(reason, "archive unavailable: marker missing at %s", dir);
		return rc;
	case -EBADMSG:
		lsn_archive_why(reason, "archive unavailable: %s/%s is not an lsnfs archive marker",
				dir, LSN_ARCHIVE_MARKER);
		return rc;
	case -EPROTONOSUPPORT:
		lsn_archive_why(reason,
				"archive unavailable: the marker at %s has a format newer than %d",
				dir, LSN_ARCHIVE_FORMAT);
		return rc;
	default:
		lsn_archive_why(reason, "archive unavailable: cannot read the marker at %s: %s", dir,
				strerror(-rc));
		return rc;
	}
}

int lsn_archive_config_adopt(struct lsn_config *cfg, const char *dir, char *why)
{
	char id[LSN_ARCHIVE_ID_LEN + 1];
	struct lsn_config next = *cfg;
	int rc;

	if (strcmp(dir, "none") == 0 || dir[0] == '\0') {
		cfg->archive[0] = '\0';
		cfg->archive_id[0] = '\0';
		return 0;
	}
	rc = lsn_config_set(&next, "archive", dir, why);
	if (rc)
		return rc;
	rc = lsn_archive_identity_ensure(dir, id);
	switch (rc) {
	case 0:
		break;
	case -ENOENT:
		lsn_archive_why(why,
				"archive %s does not exist; lsnfs never creates it: mount the archive "
				"there or create the directory first",
				dir);
		return rc;
	case -ENOTDIR:
		lsn_archive_why(why, "archive %s is not a directory", dir);
		return rc;
	case -EBADMSG:
		lsn_archive_why(why, "archive %s: %s/%s is not an lsnfs archive marker", dir, dir,
				LSN_ARCHIVE_MARKER);
		return rc;
	case -EPROTONOSUPPORT:
		lsn_archive_why(why, "archive %s: its marker has a format newer than %d", dir,
				LSN_ARCHIVE_FORMAT);
		return rc;
	default:
		lsn_archive_why(why, "archive %s: cannot write its marker %s: %s", dir,
				LSN_ARCHIVE_MARKER, strerror(-rc));
		return rc;
	}
	memcpy(next.archive_id, id, sizeof(id));
	*cfg = next;
	return 0;
}
