/*
 * fs/mountcheck.c - checks before a mount is served (see mountcheck.h).
 */
#include "fs/mountcheck.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "storage/archive.h"
#include "storage/diag.h"

/* /proc/self/mountinfo escapes space, tab, newline and backslash as \ooo. */
static void unescape(char *s)
{
	char *w = s;

	for (char *r = s; *r; r++) {
		if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' &&
		    r[3] >= '0' && r[3] <= '7') {
			*w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
			r += 3;
		} else {
			*w++ = *r;
		}
	}
	*w = '\0';
}

/* Is `abs` (a resolved path) the mount point of a mount?  Field 5 of
 * mountinfo (man 5 proc). */
static bool is_mount_point(const char *abs)
{
	FILE *f = fopen("/proc/self/mountinfo", "r");
	char *line = NULL;
	size_t cap = 0;
	bool found = false;

	if (!f)
		return false;
	while (!found && getline(&line, &cap, f) > 0) {
		char *save = NULL, *field = strtok_r(line, " ", &save);

		for (int i = 1; field && i < 5; i++)
			field = strtok_r(NULL, " ", &save);
		if (!field)
			continue;
		unescape(field);
		found = strcmp(field, abs) == 0;
	}
	free(line);
	fclose(f);
	return found;
}

int lsnfs_check_mountpoint(const char *path, bool overmount, char *why, size_t n)
{
	char abs[PATH_MAX];
	struct stat st;

	if (stat(path, &st) != 0 || !realpath(path, abs))
		return 0; /* the mount says what is wrong */
	if (!S_ISDIR(st.st_mode)) {
		snprintf(why, n, "mount point %s is not a directory", path);
		return -ENOTDIR;
	}
	if (!overmount && is_mount_point(abs)) {
		snprintf(why, n,
			 "%s is already a mount point (unmount it first, or give -o nonempty to mount "
			 "over it)",
			 path);
		return -EBUSY;
	}
	return 0;
}

/* A store without an archive id takes the marker of dir (written when
 * there is none) and keeps archive and archive_id for good. */
static int adopt(struct lsn_store *store, const char *dir, char *why, size_t n)
{
	static const char *const keys[] = { "archive", "archive_id", NULL };
	char reason[256] = "";
	struct lsn_config next = *lsn_store_config(store);
	int rc = lsn_archive_config_adopt(&next, dir, reason);

	switch (rc) {
	case 0:
		break;
	case -ENOENT:
	case -ENOTDIR:
	case -EBADMSG:
	case -EPROTONOSUPPORT:
	case -EINVAL:
		snprintf(why, n, "%s", reason);
		return rc;
	default:
		/* A read-only or failing archive does not stop the node: it is
		 * unavailable (no id recorded) until a later mount adopts it. */
		lsn_diag(LSN_DIAG_ERR, "WARNING: %s; the archive is unavailable for this mount",
			 reason);
		return 0;
	}
	rc = lsn_store_save_config(store, &next, keys);
	if (rc) {
		snprintf(why, n, "cannot record archive %s in the store: %s", dir, strerror(-rc));
		return rc;
	}
	lsn_diag(LSN_DIAG_WARN, "the store now keeps archive %s (archive id %s)", next.archive,
		 next.archive_id);
	return 0;
}

int lsnfs_setup_archive(struct lsn_store *store, const char *opt, char *why, size_t n)
{
	const struct lsn_config *cfg = lsn_store_config(store);
	char id[LSN_ARCHIVE_ID_LEN + 1];

	if (!opt) {
		/* The store's own archive; one configured before archives had
		 * an identity is adopted now. */
		if (cfg->archive[0] && !cfg->archive_id[0])
			return adopt(store, cfg->archive, why, n);
		return 0;
	}
	if (strcmp(opt, "none") == 0) {
		if (cfg->archive[0])
			lsn_diag(LSN_DIAG_ERR,
				 "WARNING: mounted with -o archive=none: the store's archive %s is not "
				 "used by this mount",
				 cfg->archive);
		return 0;
	}
	if (opt[0] == '\0') {
		if (!cfg->archive[0])
			return 0;
		snprintf(why, n,
			 "the store's archive is %s: give -o archive=%s, or -o archive=none to mount "
			 "without it",
			 cfg->archive, cfg->archive);
		return -EINVAL;
	}
	if (!cfg->archive_id[0])
		return adopt(store, opt, why, n);
	/* The store knows its archive: a directory holding another archive's
	 * marker is refused; a missing marker is the archiver's to report. */
	if (lsn_archive_identity_read(opt, id) == 0 && strcmp(id, cfg->archive_id) != 0) {
		snprintf(why, n, "archive %s belongs to another archive id %s (this store's archive id is %s)",
			 opt, id, cfg->archive_id);
		return -EXDEV;
	}
	return 0;
}
