/*
 * storage/archive_internal.h - what archive*.c share: the handle and small
 * helpers.  Not for use outside storage/archive*.c.
 */
#ifndef LSN_ARCHIVE_INTERNAL_H
#define LSN_ARCHIVE_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "storage/archive.h"

struct lsn_archive {
	/* Settings: immutable after init. */
	char *dir;
	char *command;
	char *check_command;
	char *node_id;
	char *tmpdir;
	char id[LSN_ARCHIVE_ID_LEN + 1]; /* "" = identity not checked */
	uint32_t timeout;                /* seconds per command run */

	/* Shutdown: set once by lsn_archive_abort(); abort_fd (an eventfd)
	 * becomes readable then, to wake a command wait at once. */
	atomic_bool aborted;
	int abort_fd;

	/* reg_lock guards the fields below and the registration file; a leaf
	 * lock (nothing else is taken while it is held). */
	pthread_mutex_t reg_lock;
	int64_t registered;
	struct lsn_archive_trim_point *points; /* sorted by log */
	size_t n_points;
};

int lsn_archive_why(char *reason, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int lsn_archive_fsync_dir(const char *path);
/* %p, %f and %% expanded into a new string (free()); NULL on ENOMEM. */
char *lsn_archive_expand(const char *cmd, const char *p, const char *f);
/*
 * Run `line` through /bin/sh as described in archive.h.  `what` names it in
 * messages ("archive_command"), `label` says for what (the %f name).
 * 0 exit 0; -EIO non-zero exit or signal, -ETIMEDOUT, -ECANCELED, or the
 * errno of starting it; `reason` says which, with the last stderr line.
 */
int lsn_archive_run(struct lsn_archive *a, const char *what, const char *label, const char *line,
		    char *reason);

#endif
