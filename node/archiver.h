/*
 * node/archiver.h - archives committed snapshots, keeps track of which are
 * confirmed archived, lists the snapshots other nodes archived, and watches
 * the node registry of a shared archive.
 *
 * Trust model (after PostgreSQL's .ready/.done and Kafka's tiered storage):
 * a snapshot counts as archived only once this mount has confirmed it:
 * archived now, or its archived mark re-checked against the archive.  Until
 * then (e.g. just after mount) archived_lsn does not include it, so nothing
 * is trimmed on the strength of an unverified claim.  Failures are retried
 * with exponential backoff (1 s .. 60 s) and each is logged with its reason.
 *
 * All archive I/O happens in lsn_archiver_tick(), which the node runs on its
 * own worker thread (or a test calls directly); the queries below only read
 * the in-memory state under `lock`, a leaf lock: nothing is called while it
 * is held.  The one exception is lsn_archiver_fetch() (a read-through of a
 * snapshot another node archived), which decompresses on the caller's
 * thread because that is what was asked for (open of such a snapshot).
 *
 * Availability: an archive directory counts only while its marker
 * (storage/archive.h) is there with the store's archive id.  Every pass
 * looks first; while it is not, nothing is archived or confirmed,
 * archived_lsn is 0 for every log (no confirmation can be re-checked), the
 * snapshots say "failed: archive unavailable ...", and each change is
 * logged once.  When it comes back every confirmation is verified again
 * before it counts.  A confirmation (the durable archived mark) is dropped
 * only when a re-check shows the copy gone, never because the archive or a
 * check command could not answer.  With only archive_command the mark is
 * trusted unless archive_check_command is set, which re-checks it at mount
 * and every minute.
 *
 * An archiver exists for every node; without an archive it is inert
 * (every query answers "nothing archived").
 */
#ifndef LSN_ARCHIVER_H
#define LSN_ARCHIVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "node/clock.h"
#include "storage/store.h"

struct lsn_archiver;

/* Counters since start, for status and metrics. */
struct lsn_archiver_counters {
	uint64_t attempts;
	uint64_t successes;
	uint64_t failures;
	int64_t last_success_unix; /* 0 when none yet */
};

int lsn_archiver_init(struct lsn_archiver **out, struct lsn_store *store,
		      const struct lsn_clock *clock);
/* Look at the archive and register this node in it (at start).  Never
 * fails: an unavailable or read-only archive is reported, retried by the
 * passes, and does not stop the node. */
int lsn_archiver_register(struct lsn_archiver *ar);
/* Shutdown: kill a running archive command now, fail later ones. */
void lsn_archiver_abort(struct lsn_archiver *ar);
/* The marker check itself (any thread, I/O): 0 or a negative errno with
 * `reason` (LSN_ARCHIVE_REASON_MAX bytes, may be NULL). */
int lsn_archiver_check_available(struct lsn_archiver *ar, char *reason);
/* As of the last pass: the archive is unavailable, and why. */
bool lsn_archiver_unavailable(struct lsn_archiver *ar, char *reason, size_t n);
/* The archive handle (NULL without one), for the cluster rules
 * (node/cluster.c). */
struct lsn_archive *lsn_archiver_archive(struct lsn_archiver *ar);
void lsn_archiver_free(struct lsn_archiver *ar);

/* One pass: archive what is due, re-check confirmations, list the archive. */
void lsn_archiver_tick(struct lsn_archiver *ar);

bool lsn_archiver_configured(const struct lsn_archiver *ar);
/* Another node has registered in the shared archive (the first one seen
 * into `id` when not NULL). */
bool lsn_archiver_other_nodes_seen(struct lsn_archiver *ar);
bool lsn_archiver_other_node(struct lsn_archiver *ar, char *id, size_t n);
/* Highest LSN covered by a confirmed archived snapshot of the log (0 if
 * none), optionally leaving snapshot `except` out (0: none left out). */
uint64_t lsn_archiver_archived_lsn(struct lsn_archiver *ar, struct lsn_log *log, uint64_t except);
/*
 * Before a trim to `upto` on the strength of archived snapshots (caller
 * holds node->trim_lock; I/O): is a confirmed copy covering it (LSN >=
 * upto) really in the archive now?  Confirmed copies are re-checked only
 * every few seconds, and one deleted behind the node's back meanwhile must
 * not carry a trim.  A copy found gone or changed stops counting at once
 * and the next pass re-verifies it (dropping its mark, archiving again).
 * 0, or -ENOENT with `reason` (n bytes) set when no covering copy is
 * there.  Without an archive directory the confirmation is trusted (0).
 */
int lsn_archiver_check_cover(struct lsn_archiver *ar, struct lsn_log *log, uint64_t upto,
			     char *reason, size_t n);
/* user.lsnfs.archived text of a snapshot: yes | no | failed: REASON */
void lsn_archiver_state_text(struct lsn_archiver *ar, struct lsn_log *log, uint64_t lsn,
			     char *buf, size_t n);
/* The newest snapshot of the log whose archiving failed, and why (the
 * command's last stderr line): false when none. */
bool lsn_archiver_failure(struct lsn_archiver *ar, struct lsn_log *log, uint64_t *lsn,
			  char *reason, size_t n);
/* Snapshots of this log archived by other nodes, with their sizes (known
 * from the last listing of the archive); free() both. */
int lsn_archiver_remote_list(struct lsn_archiver *ar, struct lsn_log *log, uint64_t **lsns,
			     size_t *n);
/* -ENOENT unless another node's snapshot `lsn` was listed. */
int lsn_archiver_remote_size(struct lsn_archiver *ar, struct lsn_log *log, uint64_t lsn,
			     uint64_t *size);
/* A readable copy of such a snapshot: an unlinked temporary file. */
int lsn_archiver_fetch(struct lsn_archiver *ar, struct lsn_log *log, uint64_t lsn, int *fd);
/* Remove snapshot lsn's archived copy and forget it (the caller checked
 * that coverage allows it). */
int lsn_archiver_forget(struct lsn_archiver *ar, struct lsn_log *log, uint64_t lsn);
void lsn_archiver_counters(struct lsn_archiver *ar, struct lsn_archiver_counters *c);

#endif
