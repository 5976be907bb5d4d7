/*
 * storage/archive.h - the snapshot archive: a directory (possibly shared by
 * several nodes, possibly an object store mounted with s3fs) and/or an
 * archive_command.  Blocking I/O; called from the archiver and trimmer
 * threads, never from the FUSE hot path.  No FUSE here.
 *
 * Layout of an archive directory:
 *   <dir>/.lsnfs-archive           the marker: "lsnfs archive format 1\n"
 *                                  then "archive_id=<32 hex>\n".  It says
 *                                  that <dir> is this archive and not, say,
 *                                  the empty mount point of an NFS or s3fs
 *                                  mount that is missing.
 *   <dir>/<log>/<lsn20>.snap.zst   a snapshot: its chunk frames, a valid
 *                                  zstd stream (`zstd -d` gives the file)
 *   <dir>/.nodes/<node id>         one registration per node that uses the
 *                                  archive: key=value lines, see below
 * Every file is written to a temporary name, fsynced, renamed, and its
 * directory fsynced, so a name present is a complete file.
 *
 * lsnfs never creates <dir> itself: the operator does (or mounts it), and
 * the marker is written only by lsn_archive_identity_ensure() (mkfs.lsnfs
 * --archive, lsnfsctl config archive=, a mount adopting an archive).  Only
 * <dir>/<log>/ and <dir>/.nodes/ are created, one level, under an existing
 * root.  A handle opened with the store's archive id checks the marker
 * before writing a copy and again before confirming it.
 *
 * Registration file (format 2; format 1 had only the first three keys):
 *   node_id=NAME  pid=N  registered=UNIX-SECONDS  format=2
 *   updated=UNIX-SECONDS          last rewrite (publish or register)
 *   trim.<log>=LSN                one per log with a trim point > 0
 * A node publishes its trim points before it applies a trim, so a
 * snapshot another node wants to unlink can be refused while some node's
 * trimmed prefix depends on it (lsn_archive_unlink_blocker()).
 *
 * archive_command runs through /bin/sh with %p replaced by the path of a
 * file holding the .snap.zst stream (the archived copy itself when there is
 * also a directory, else a temporary file) and %f by its archive name
 * "<log>/<lsn20>.snap.zst" (%% is a literal %).  archive_check_command gets
 * %f only; exit 0 means the copy is present.  Each command runs in its own
 * process group with stdin from /dev/null and stderr captured: every line
 * goes to the diagnostics sink (storage/diag.h) and the last one ends the
 * failure reason.  After archive_timeout seconds the whole group gets
 * SIGTERM, then SIGKILL a second later; lsn_archive_abort() kills it at
 * once.  Whatever the command leaves running in its group is killed when it
 * exits.  Exit status 0 means done; anything else is a failure.
 *
 * Thread safety: the handle's settings are immutable after init.
 * lsn_archive_abort() may be called from any thread.  The registration
 * (register, publish) is serialised by the handle's registry lock, a leaf
 * lock taken with no other lock held by this module.
 */
#ifndef LSN_ARCHIVE_H
#define LSN_ARCHIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "storage/config.h"
#include "storage/snapshot.h"

struct lsn_archive;

#define LSN_ARCHIVE_REASON_MAX 256
#define LSN_ARCHIVE_MARKER ".lsnfs-archive"
#define LSN_ARCHIVE_FORMAT 1

/* ---- identity (no handle needed: mkfs, lsnfsctl, mount) ----------------- */

/*
 * Make sure dir carries a marker and put its id into id_out.  dir must
 * exist (-ENOENT; -ENOTDIR when it is not a directory): it is never
 * created.  An existing marker is adopted as it is; a malformed one is
 * -EBADMSG and one of a newer format -EPROTONOSUPPORT (never overwritten).
 * Two nodes racing on a fresh directory end with the same id.
 */
int lsn_archive_identity_ensure(const char *dir, char id_out[LSN_ARCHIVE_ID_LEN + 1]);
/* Read the marker's id: -ENOENT when absent, -EBADMSG, -EPROTONOSUPPORT. */
int lsn_archive_identity_read(const char *dir, char id_out[LSN_ARCHIVE_ID_LEN + 1]);
/*
 * Is dir the archive with expected_id?  0, or with `reason` (may be NULL,
 * LSN_ARCHIVE_REASON_MAX bytes) set:
 *   -ENOENT  "archive unavailable: marker missing at DIR"
 *   -EXDEV   "archive unavailable: DIR belongs to another archive id X"
 *   -EBADMSG, -EPROTONOSUPPORT, or the errno of reading it (-EACCES, -EIO...)
 */
int lsn_archive_identity_check(const char *dir, const char *expected_id, char *reason);
/*
 * Point cfg at the archive dir the way mkfs.lsnfs --archive does: "none" or
 * "" clears archive and archive_id; otherwise dir is validated like the
 * archive key, must exist, its marker is ensured and cfg->archive_id gets
 * its id.  `why` (may be NULL, 256 bytes) gets a one-line reason.
 */
int lsn_archive_config_adopt(struct lsn_config *cfg, const char *dir, char *why);

/* ---- a handle for the daemon -------------------------------------------- */

/* dir and command may be "" (not configured).  tmpdir: scratch space.
 * No identity check, no check command, the default timeout. */
int lsn_archive_init(struct lsn_archive **out, const char *dir, const char *command,
		     const char *node_id, const char *tmpdir);
/* From a store's config: archive, archive_id (checked when not ""),
 * archive_command, archive_check_command, archive_timeout, node_id. */
int lsn_archive_init_config(struct lsn_archive **out, const struct lsn_config *cfg,
			    const char *tmpdir);
void lsn_archive_free(struct lsn_archive *a);
bool lsn_archive_configured(const struct lsn_archive *a);
bool lsn_archive_has_dir(const struct lsn_archive *a);
bool lsn_archive_has_check(const struct lsn_archive *a);
/*
 * The archive directory is there and is ours: lsn_archive_identity_check()
 * against the handle's archive id.  0 without a directory or without a
 * recorded id (nothing to check).
 */
int lsn_archive_available(struct lsn_archive *a, char *reason);
/*
 * Shutdown: kill a running command's process group now and make every
 * later command fail at once with -ECANCELED.  Any thread; idempotent.
 */
void lsn_archive_abort(struct lsn_archive *a);

/*
 * Archive snapshot lsn of log: to the directory and/or by the command.
 * Errors: the identity errors above (nothing written), -EIO (command
 * exited non-zero), -ETIMEDOUT, -ECANCELED, or the errno of the write.
 */
int lsn_archive_put(struct lsn_archive *a, struct lsn_log *log, uint64_t lsn, uint64_t *size,
		    uint32_t *crc, char *reason);
/*
 * Re-check an archived mark: with a directory, the identity and then the
 * file with the recorded size and checksum; with archive_check_command,
 * that command too.  With only an archive_command and no check command the
 * confirmation is trusted (0): it is durable state, the command is never
 * run twice for one snapshot.
 */
int lsn_archive_verify(struct lsn_archive *a, struct lsn_log *log, uint64_t lsn, uint64_t size,
		       uint32_t crc, char *reason);
/*
 * Run archive_check_command for "<log>/<lsn20>.snap.zst": 0 present,
 * -ENOENT the command said no (non-zero exit), -ETIMEDOUT, -ECANCELED,
 * -EOPNOTSUPP when no check command is configured.
 */
int lsn_archive_check(struct lsn_archive *a, const char *log, uint64_t lsn, char *reason);
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

/* ---- the node registry --------------------------------------------------- */

struct lsn_archive_trim_point {
	char log[LSN_NAME_MAX + 1];
	uint64_t trim_point;
};

struct lsn_archive_node {
	char node_id[LSN_NAME_MAX + 1];
	int pid;
	int64_t registered;    /* unix seconds, 0 if unknown */
	int64_t updated;       /* last rewrite; `registered` for format 1 */
	bool published;        /* false for a format-1 file: trim points unknown */
	struct lsn_archive_trim_point *points; /* sorted by log */
	size_t n_points;
};

/*
 * Register this node under <dir>/.nodes/ (kept after unmount: a node that
 * was once there may come back, so the others must stay careful).  Trim
 * points this node published before (its file from an earlier mount) are
 * kept.  The archive root must exist; .nodes/ is created under it.
 */
int lsn_archive_register(struct lsn_archive *a);
/*
 * Publish trim points before applying a trim: each given log's entry is
 * replaced (trim_point 0 removes it), the others are kept; the file is
 * rewritten atomically (temporary name, fsync, rename, directory fsync)
 * with `updated` set to now.  0 without a directory.
 */
int lsn_archive_publish(struct lsn_archive *a, const struct lsn_archive_trim_point *pts,
			size_t n);
/* Every registration (this node's too), sorted by node id; free with
 * lsn_archive_nodes_free().  Unreadable or foreign files are skipped. */
int lsn_archive_nodes(struct lsn_archive *a, struct lsn_archive_node **nodes, size_t *n);
/* The same for an archive directory without a handle (lsnfsctl). */
int lsn_archive_nodes_in(const char *dir, struct lsn_archive_node **nodes, size_t *n);
void lsn_archive_nodes_free(struct lsn_archive_node *nodes, size_t n);
/* Number of other nodes registered; the first one's id into `other`. */
int lsn_archive_other_nodes(struct lsn_archive *a, char *other, size_t n);

/*
 * Would unlinking archived snapshot `lsn` of `log` leave a registered
 * node's trimmed prefix uncovered?  A node with trim point T > 0 for the
 * log depends on some archived snapshot with LSN >= T; the unlink is
 * blocked when lsn >= T and no other LSN in `archived` (the archived
 * snapshot LSNs of that log, any order, may contain lsn) is >= T.  Nodes
 * that published nothing (format 1) constrain nothing.  Returns the first
 * blocking node (in array order) and puts its trim point in *trim_point,
 * or NULL when the unlink is safe.  Pure function.
 */
const struct lsn_archive_node *lsn_archive_unlink_blocker(const struct lsn_archive_node *nodes,
							  size_t n_nodes, const char *log,
							  uint64_t lsn, const uint64_t *archived,
							  size_t n_archived, uint64_t *trim_point);

#endif
