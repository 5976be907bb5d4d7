/*
 * fs/mountcheck.h - what `lsnfs` checks before it serves a mount: the
 * mount point (a directory, not already a mount point unless the operator
 * says -o nonempty) and the store's archive against -o archive= (adopt a
 * marker for a store that has no archive id yet, refuse another archive's
 * marker, refuse an empty archive= on a store that has an archive unless it
 * is archive=none).  No FUSE here; plain functions, no state.
 */
#ifndef LSN_FS_MOUNTCHECK_H
#define LSN_FS_MOUNTCHECK_H

#include <stdbool.h>
#include <stddef.h>

#include "storage/store.h"

/* 0, or -ENOTDIR / -EBUSY with a one-line `why` (n bytes).  A path that
 * does not exist is left to the mount itself (0). */
int lsnfs_check_mountpoint(const char *path, bool overmount, char *why, size_t n);

/*
 * Before the -o overrides are applied: `opt` is the -o archive= value as
 * given (NULL when there was none).  0 (the mount goes on; an unavailable
 * archive is the archiver's to report), or a negative errno with a one-line
 * `why` (n bytes): the mount is refused.  May persist archive and
 * archive_id in the store (adoption).
 */
int lsnfs_setup_archive(struct lsn_store *store, const char *opt, char *why, size_t n);

#endif
