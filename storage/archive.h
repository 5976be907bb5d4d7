/*
 * storage/archive.h - the snapshot archive: a directory (possibly shared by
 * several nodes, possibly an object store mounted with s3fs) and/or an
 * archive_command.  Blocking I/O; called from the archiver thread, never
 * from the FUSE hot path.  No FUSE here.
 *
 * Layout of an archive directory:
 *   <dir>/<log>/<lsn20>.snap.zst   a snapshot: its chunk frames, a valid
 *                                  zstd stream (`zstd -d` gives the file)
 *   <dir>/.nodes/<node id>         one file per node that uses the archive
 * Every file is written to a temporary name, fsynced, renamed, and its
 * directory fsynced, so a name present is a complete file.
 *
 * archive_command runs through /bin/sh with %p replaced by the path of a
 * file holding the .snap.zst stream (the archived copy itself when there is
 * also a directory, else a temporary file) and %f by its archive name
 * "<log>/<lsn20>.snap.zst" (%% is a literal %).  Exit status 0 means
 * archived; anything else is a failure with that status as the reason.
 *
 * Thread safety: struct lsn_archive is immutable after init.
 */
#ifndef LSN_ARCHIVE_H
#define LSN_ARCHIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "storage/snapshot.h"

struct lsn_archive;

#define LSN_ARCHIVE_REASON_MAX 256

/* dir and command may be "" (not configured).  tmpdir: scratch space. */
int lsn_archive_init(struct lsn_archive **out, const char *dir, const char *command,
		     const char *node_id, const char *tmpdir);
void lsn_archive_free(struct lsn_archive *a);
bool lsn_archive_configured(const struct lsn_archive *a);
bool lsn_archive_has_dir(const struct lsn_archive *a);

/* Archive snapshot lsn of log: to the directory and/or by the command. */
int lsn_archive_put(struct lsn_archive *a, struct lsn_log *log, uint64_t lsn, uint64_t *size,
		    uint32_t *crc, char *reason);
/*
 * Re-check an archived mark: with a directory, the file must be there with
 * the recorded size and checksum; with only a command, the command is run
 * again (it must be idempotent) since there is nothing to read back.
 */
int lsn_archive_verify(struct lsn_archive *a, struct lsn_log *log, uint64_t lsn, uint64_t size,
		       uint32_t crc, char *reason);
/* Cheap re-check while mounted: the file is there with this size (0 also
 * when the archive has no directory: nothing to look at). */
int lsn_archive_present(struct lsn_archive *a, const char *log, uint64_t lsn, uint64_t size);
/* Remove <dir>/<log>/<lsn20>.snap.zst; 0 when absent or no directory. */
int lsn_archive_remove(struct lsn_archive *a, const char *log, uint64_t lsn);
/* LSNs of <dir>/<log>/ *.snap.zst, sorted; free(). */
int lsn_archive_list(struct lsn_archive *a, const char *log, uint64_t **lsns, size_t *n);
/* Content size of an archived snapshot from its frame headers (no
 * decompression); -ENOTSUP when a frame does not say (then fetch). */
int lsn_archive_content_size(struct lsn_archive *a, const char *log, uint64_t lsn, uint64_t *size);
/* Decompress an archived snapshot into an unlinked temporary file. */
int lsn_archive_fetch(struct lsn_archive *a, const char *log, uint64_t lsn, int *fd,
		      uint64_t *size);

/* Register this node under <dir>/.nodes/ (kept after unmount: a node that
 * was once there may come back, so the others must stay careful). */
int lsn_archive_register(struct lsn_archive *a);
/* Number of other nodes registered; the first one's id into `other`. */
int lsn_archive_other_nodes(struct lsn_archive *a, char *other, size_t n);

#endif
