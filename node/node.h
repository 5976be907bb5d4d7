/*
 * node/node.h - the daemon's core, without FUSE: one struct lsn_node per
 * mounted store.  The FUSE front end (fs/), lsnfsctl-style tools and the
 * unit tests drive a node through the functions below.
 *
 * Ownership
 * ---------
 *   struct lsn_node            owns everything below; lsn_node_free() ends it
 *     struct lsn_store         the log store (storage/); handed over at open
 *     struct lsn_clock         monotonic, or fake in tests (node/clock.h)
 *     struct lsn_archiver      archive state; runs on the archive worker
 *     settle table             per-log settling history of the trim rules
 *     lsn_worker threads       archive pass at start and every second;
 *                              trim pass every second (observe, auto_trim,
 *                              mode watch);
 *                              with -o metrics_file, the metrics file every 10 s
 *   lsn_node_free() aborts a running archive command (its process group)
 *   before it joins the workers, so shutdown never waits on one.
 *   Log handles (struct lsn_log *) belong to the store and stay valid until
 *   the node is freed, even after their log is removed.
 *
 * Lock order (take only in this order; never call up while holding one)
 * ----------
 *   1. node->trim_lock      decide-then-apply of every trim, and every change
 *                           of what the trim rules read: holds, persisted_lsn,
 *                           mode, snapshot unlink.  Queries never take it.
 *   2. node->settle_lock    the settle table (leaf)
 *   3. archiver lock        the archiver's tables (leaf; node/archiver.h)
 *   4. storage locks        store and log locks (storage/store.h); storage
 *                           calls nothing above it: no callbacks.
 *   worker locks are leaves of their own (node/worker.h); ticks run with
 *   none of them held.
 *   A query (getfattr safe_trim_lsn, status) copies a read-only view of the
 *   log (storage holds the log's lock for the copy only), reads the archived
 *   LSN and the settle history, and asks the pure trim engine: no write, no
 *   lock an append waits on beyond the copy.
 *
 * Thread safety: every function may be called from any thread once
 * lsn_node_open() has returned.  Errors: 0 or a negative errno.
 */
#ifndef LSN_NODE_H
#define LSN_NODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "node/clock.h"
#include "storage/store.h"
#include "trim/trim.h"

struct lsn_node;

struct lsn_node_options {
	/* NULL: the monotonic clock.  A fake clock must outlive the node. */
	struct lsn_clock *clock;
	/* Start the archive and trim workers (lsn_node_start).  Tests leave
	 * them off and call lsn_node_tick_*() themselves. */
	bool threads;
	/* The archive and trim workers' period; 0: WORKER_PERIOD_MS (1 s).
	 * The archive pass also runs once at start, whatever the period. */
	unsigned worker_period_ms;
};

/* Take over `store` (also on failure: it is closed then). */
int lsn_node_open(struct lsn_node **out, struct lsn_store *store,
		  const struct lsn_node_options *opts);
/* Register in the archive, warn about the strategy, start the workers. */
int lsn_node_start(struct lsn_node *node);
/* Stop the workers, close the store; safe on NULL. */
void lsn_node_free(struct lsn_node *node);

struct lsn_store *lsn_node_store(struct lsn_node *node);
const struct lsn_clock *lsn_node_clock(struct lsn_node *node);
uint64_t lsn_node_uptime_s(struct lsn_node *node);

/* One archive pass / one trim pass, as the workers run them. */
void lsn_node_tick_archiver(struct lsn_node *node);
void lsn_node_tick_trimmer(struct lsn_node *node);

/* ---- logs and records ------------------------------------------------- */

int lsn_node_create_log(struct lsn_node *node, const char *name);
/* rmdir: -ENOTEMPTY while it has records, snapshots or staging files. */
int lsn_node_remove_log(struct lsn_node *node, const char *name);
int lsn_node_append(struct lsn_node *node, struct lsn_log *log, const struct iovec *records,
		    size_t n, uint64_t *last_lsn);
int lsn_node_sync(struct lsn_node *node, struct lsn_log *log);
int lsn_node_seal(struct lsn_node *node, struct lsn_log *log);

/* ---- trimming (SPEC section 4) ------------------------------------------ */

/* The engine's answer now; read only (see the lock order above). */
int lsn_node_decide(struct lsn_node *node, struct lsn_log *log, struct lsn_trim_decision *d);
/* setfattr user.lsnfs.trim: every sealed segment whose last LSN <= upto. */
int lsn_node_trim_to(struct lsn_node *node, struct lsn_log *log, uint64_t upto);
int lsn_node_trim_safe(struct lsn_node *node, struct lsn_log *log);
/* rm of one segment: 0, -EPERM (logged, reason kept), -ENOENT. */
int lsn_node_trim_segment(struct lsn_node *node, struct lsn_log *log, uint64_t first_lsn);
/* Why `rm` of this segment would be refused now ("" when it would not). */
int lsn_node_segment_blocked(struct lsn_node *node, struct lsn_log *log, uint64_t first_lsn,
			     char *buf, size_t n);
int lsn_node_set_persisted(struct lsn_node *node, struct lsn_log *log, uint64_t lsn);
int lsn_node_hold_set(struct lsn_node *node, struct lsn_log *log, const char *name, uint64_t lsn);
int lsn_node_hold_remove(struct lsn_node *node, struct lsn_log *log, const char *name);
/* Highest LSN covered by a confirmed archived snapshot (0 if none). */
uint64_t lsn_node_archived_lsn(struct lsn_node *node, struct lsn_log *log);

/* ---- mode (SPEC section 5) ------------------------------------------------ */

enum lsn_mode lsn_node_mode(struct lsn_node *node);
/* The guard (single -> cluster needs coverage; never back), then persist. */
int lsn_node_set_mode(struct lsn_node *node, enum lsn_mode mode);

/* ---- snapshots (SPEC section 3) ------------------------------------------- */

struct lsn_node_snapshot {
	uint64_t lsn;
	uint64_t size;          /* content bytes */
	int64_t mtime_ns;       /* 0 for another node's snapshot */
	bool remote;            /* archived by another node, read through */
};
int lsn_node_snapshot_stat(struct lsn_node *node, struct lsn_log *log, uint64_t lsn,
			   struct lsn_node_snapshot *info);
/* Local and remote snapshot LSNs, sorted, unique; free(). */
int lsn_node_snapshot_list(struct lsn_node *node, struct lsn_log *log, uint64_t **lsns, size_t *n);
/* Snapshots plus staging files: what `ls snapshots/` shows. */
int lsn_node_snapshot_entries(struct lsn_node *node, struct lsn_log *log, size_t *n);
/* rename(2) of staging file `name` to <lsn>.snap. */
int lsn_node_snapshot_commit(struct lsn_node *node, struct lsn_log *log, const char *name,
			     uint64_t lsn, unsigned rename_flags);
/* unlink(2): here and from the archive; -EPERM when it would leave the
 * trimmed prefix uncovered, here or on any node registered in the shared
 * archive directory (node/cluster.c), or when that archive is unavailable
 * (the other nodes cannot be checked). */
int lsn_node_snapshot_unlink(struct lsn_node *node, struct lsn_log *log, uint64_t lsn);
/* A readable copy of another node's snapshot (unlinked temporary file). */
int lsn_node_snapshot_fetch(struct lsn_node *node, struct lsn_log *log, uint64_t lsn, int *fd);
/* user.lsnfs.archived: yes | no | failed: REASON */
int lsn_node_snapshot_archived_text(struct lsn_node *node, struct lsn_log *log, uint64_t lsn,
				    char *buf, size_t n);

/* ---- status ---------------------------------------------------------------- */

struct lsn_node_counters {
	uint64_t records_appended, bytes_appended;
	uint64_t segments_trimmed, bytes_trimmed, trims_refused;
	uint64_t archive_attempts, archive_successes, archive_failures;
	uint64_t durable_appends, wal_syncs; /* sync=always group commit */
	int64_t last_archive_unix; /* 0: none since mount */
};
void lsn_node_counters(struct lsn_node *node, struct lsn_node_counters *c);
/* The archive as of the last archive pass: "none", "available", or why it
 * is unavailable ("archive unavailable: marker missing at DIR"). */
int lsn_node_archive_state_text(struct lsn_node *node, char *buf, size_t n);
/* Every node registered in the archive directory with its trim points and
 * last update, "; "-separated ("" without an available directory). */
int lsn_node_archive_nodes_text(struct lsn_node *node, char *buf, size_t n);

/* A local snapshot the archive does not have yet (node/status.c). */
struct lsn_node_unarchived {
	uint64_t lsn;
	bool failed;
	char reason[256];       /* failed: the archiver's last reason */
};

/* What status and metrics show of one log; a read-only query. */
struct lsn_node_log_status {
	struct lsn_log_info info;       /* first, tail, trim point, persisted, segments, bytes */
	uint64_t archived_lsn;
	struct lsn_trim_decision decision;
	uint64_t stored_bytes;          /* estimate: lsn_log_stored_bytes() */
	struct lsn_hold *holds;         /* sorted by name */
	size_t n_holds;
	size_t n_snapshots;             /* local, committed */
	size_t n_pending, n_failed;     /* of those, not yet archived (archive configured) */
	struct lsn_node_unarchived *unarchived; /* n_pending + n_failed, by LSN */
};
int lsn_node_log_status(struct lsn_node *node, struct lsn_log *log, struct lsn_node_log_status *st);
/* Safe on a zeroed status. */
void lsn_node_log_status_release(struct lsn_node_log_status *st);

/* The Prometheus text exposition of the node and every log (node/metrics.c);
 * *out is malloc'd, free() it. */
int lsn_node_metrics_text(struct lsn_node *node, char **out);
/* Write it to `path` atomically (path.tmp, then rename); the metrics_file
 * worker does this every 10 s (node/metrics_file.c). */
int lsn_node_metrics_write(struct lsn_node *node, const char *path);
void lsn_node_tick_metrics(struct lsn_node *node);

/* Remove log `name` with its segments and local snapshots in one step
 * (archived copies stay: they belong to the archive's owner).  -EBUSY while
 * it has holds. */
int lsn_node_purge_log(struct lsn_node *node, const char *name);

#endif
