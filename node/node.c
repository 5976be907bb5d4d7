/*
 * node/node.c - the node's lifecycle, its two workers, mode switching,
 * logs and appends.  Trimming is in node/trimming.c, snapshots in
 * node/snapshots.c, archiving in node/archiver.c, the shared archive's
 * rules (published trim points, unlink guard) in node/cluster.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/node_internal.h"
#include "storage/diag.h"
#include "storage/staging.h"

#define WORKER_PERIOD_MS 1000
#define METRICS_PERIOD_MS 10000

int lsn_node_open(struct lsn_node **out, struct lsn_store *store,
		  const struct lsn_node_options *opts)
{
	struct lsn_node *node = calloc(1, sizeof(*node));
	int rc;

	*out = NULL;
	if (!node) {
		lsn_store_close(store);
		return -ENOMEM;
	}
	node->store = store;
	if (opts && opts->clock) {
		node->clock = opts->clock;
	} else {
		lsn_clock_init_monotonic(&node->own_clock);
		node->clock = &node->own_clock;
	}
	node->threads = opts ? opts->threads : true;
	node->worker_period_ms = opts && opts->worker_period_ms ? opts->worker_period_ms : WORKER_PERIOD_MS;
	node->opened_ms = lsn_clock_now_ms(node->clock);
	node->last_auto_trim_s = node->opened_ms / 1000;
	pthread_mutex_init(&node->trim_lock, NULL);
	pthread_mutex_init(&node->settle_lock, NULL);
	rc = lsn_archiver_init(&node->archiver, store, node->clock);
	if (rc) {
		lsn_node_free(node);
		return rc;
	}
	*out = node;
	return 0;
}

static void archive_tick(void *arg)
{
	lsn_node_tick_archiver(arg);
}

static void trim_tick(void *arg)
{
	lsn_node_tick_trimmer(arg);
}

static void metrics_tick(void *arg)
{
	lsn_node_tick_metrics(arg);
}

int lsn_node_start(struct lsn_node *node)
{
	int rc = lsn_archiver_register(node->archiver); /* never fatal */

	if (rc)
		return rc;
	lsn_node_warn_strategy_at_start(node);
	if (!node->threads)
		return 0;
	rc = lsn_worker_start(&node->archive_worker, node->worker_period_ms, archive_tick, node);
	if (!rc) {
		/* Re-verify the archive's copies at once, not a period after
		 * mount: until then archived_lsn reads 0 and archived trims wait. */
		lsn_worker_kick(&node->archive_worker);
		rc = lsn_worker_start(&node->trim_worker, node->worker_period_ms, trim_tick, node);
	}
	if (!rc && lsn_store_config(node->store)->metrics_file[0]) {
		lsn_node_tick_metrics(node); /* a bad path is reported at mount */
		rc = lsn_worker_start(&node->metrics_worker, METRICS_PERIOD_MS, metrics_tick, node);
	}
	return rc;
}

void lsn_node_free(struct lsn_node *node)
{
	if (!node)
		return;
	/* A hanging archive command must not hold shutdown: kill it first. */
	lsn_archiver_abort(node->archiver);
	lsn_worker_stop(&node->metrics_worker);
	lsn_worker_stop(&node->trim_worker);
	lsn_worker_stop(&node->archive_worker);
	lsn_archiver_free(node->archiver);
	lsn_store_close(node->store);
	pthread_mutex_destroy(&node->trim_lock);
	pthread_mutex_destroy(&node->settle_lock);
	free(node->settle);
	free(node);
}

struct lsn_store *lsn_node_store(struct lsn_node *node)
{
	return node->store;
}

const struct lsn_clock *lsn_node_clock(struct lsn_node *node)
{
	return node->clock;
}

uint64_t lsn_node_uptime_s(struct lsn_node *node)
{
	return (lsn_clock_now_ms(node->clock) - node->opened_ms) / 1000;
}

void lsn_node_tick_archiver(struct lsn_node *node)
{
	lsn_archiver_tick(node->archiver);
}

/*
 * A node in single mode that sees another node in the shared archive
 * switches itself to cluster mode at once: trimming by the persisted
 * position is off for good (SPEC section 5).
 */
static void follow_other_nodes(struct lsn_node *node)
{
	char other[LSN_NAME_MAX + 1];
	int rc;

	if (lsn_store_mode(node->store) != LSN_MODE_SINGLE ||
	    !lsn_archiver_other_node(node->archiver, other, sizeof(other)))
		return;
	pthread_mutex_lock(&node->trim_lock);
	rc = lsn_store_set_mode(node->store, LSN_MODE_CLUSTER);
	pthread_mutex_unlock(&node->trim_lock);
	lsn_diag(LSN_DIAG_ERR,
		 "WARNING: another node (%s) uses the archive: switching this node to cluster mode%s; "
		 "trimming by persisted position is off for good",
		 other, rc ? " (could not persist the mode)" : "");
}

void lsn_node_tick_trimmer(struct lsn_node *node)
{
	const struct lsn_config *cfg = lsn_store_config(node->store);
	uint64_t now = lsn_clock_now_s(node->clock);
	bool trim = cfg->auto_trim > 0 && now - node->last_auto_trim_s >= cfg->auto_trim;

	follow_other_nodes(node);
	if (trim)
		node->last_auto_trim_s = now;
	lsn_node_trim_pass(node, trim);
}

/* ---- mode ------------------------------------------------------------------- */

enum lsn_mode lsn_node_mode(struct lsn_node *node)
{
	return lsn_store_mode(node->store);
}

int lsn_node_set_mode(struct lsn_node *node, enum lsn_mode mode)
{
	struct lsn_trim_log_cover *covers = NULL;
	char reason[LSN_TRIM_REASON_MAX];
	enum lsn_mode from;
	char **names = NULL;
	size_t n = 0;
	int rc;

	pthread_mutex_lock(&node->trim_lock);
	from = lsn_store_mode(node->store);
	rc = lsn_store_list_logs(node->store, &names, &n);
	if (rc)
		goto out;
	covers = calloc(n + 1, sizeof(*covers));
	if (!covers) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		struct lsn_log *log;
		struct lsn_log_info info;

		covers[i].name = names[i];
		if (lsn_store_find_log(node->store, names[i], &log) != 0)
			continue;
		lsn_log_info(log, &info);
		covers[i].trim_point = info.trim_point;
		covers[i].archived_lsn = lsn_archiver_archived_lsn(node->archiver, log, 0);
	}
	rc = lsn_trim_check_mode_switch(lsn_node_trim_mode(from), lsn_node_trim_mode(mode),
					lsn_archiver_configured(node->archiver), covers, n, reason);
	if (rc) {
		lsn_diag(LSN_DIAG_WARN, "mode %s -> %s refused: %s", lsn_mode_name(from),
			 lsn_mode_name(mode), reason);
		goto out;
	}
	if (mode != from) {
		rc = lsn_store_set_mode(node->store, mode);
		if (!rc)
			lsn_diag(LSN_DIAG_WARN, "node switched to %s mode", lsn_mode_name(mode));
	}
out:
	pthread_mutex_unlock(&node->trim_lock);
	free(covers);
	lsn_names_free(names, n);
	return rc;
}

/* ---- logs and records --------------------------------------------------------- */

int lsn_node_create_log(struct lsn_node *node, const char *name)
{
	int rc = lsn_store_create_log(node->store, name);

	if (rc == -EINVAL)
		lsn_diag(LSN_DIAG_WARN,
			 "mkdir %s refused: a log name is 1-64 of [A-Za-z0-9._-], not starting with '.'",
			 name);
	else if (rc == 0)
		lsn_diag(LSN_DIAG_INFO, "log %s created", name);
	return rc;
}

int lsn_node_remove_log(struct lsn_node *node, const char *name)
{
	struct lsn_log_info info;
	struct lsn_log *log;
	size_t entries = 0;
	int rc;

	rc = lsn_store_find_log(node->store, name, &log);
	if (rc)
		return rc;
	rc = lsn_node_snapshot_entries(node, log, &entries);
	if (rc || entries > 0) {
		lsn_diag(LSN_DIAG_WARN, "rmdir %s refused: the log still has snapshots or staging files",
			 name);
		return -ENOTEMPTY;
	}
	lsn_log_info(log, &info);
	rc = lsn_store_remove_log(node->store, name);
	if (rc == -ENOTEMPTY)
		lsn_diag(LSN_DIAG_WARN, "rmdir %s refused: records %llu..%llu are not trimmed (trim point %llu)",
			 name, (unsigned long long)info.first_lsn, (unsigned long long)info.tail_lsn,
			 (unsigned long long)info.trim_point);
	else if (rc == 0)
		lsn_diag(LSN_DIAG_INFO, "log %s removed", name);
	return rc;
}

int lsn_node_purge_log(struct lsn_node *node, const char *name)
{
	struct lsn_node_log_status st = { 0 };
	struct lsn_log *log;
	int rc;

	/* Under trim_lock: no hold can be set between the check and the removal. */
	pthread_mutex_lock(&node->trim_lock);
	rc = lsn_store_find_log(node->store, name, &log);
	if (rc == -ENOENT || rc == -EINVAL)
		lsn_diag(LSN_DIAG_WARN, "remove-log %s refused: no such log", name);
	if (rc)
		goto out;
	rc = lsn_node_log_status(node, log, &st);
	if (rc)
		goto out;
	if (st.n_holds > 0) {
		lsn_diag(LSN_DIAG_WARN,
			 "remove-log %s refused: hold %s at %llu%s (remove the holds first)", name,
			 st.holds[0].name, (unsigned long long)st.holds[0].lsn,
			 st.n_holds > 1 ? " and others" : "");
		rc = -EBUSY;
		goto out;
	}
	rc = lsn_store_purge_log(node->store, name);
	if (rc == -EBUSY)
		lsn_diag(LSN_DIAG_WARN, "remove-log %s refused: a hold was set meanwhile", name);
	else if (rc)
		lsn_diag(LSN_DIAG_ERR, "remove-log %s failed: %s", name, strerror(-rc));
out:
	pthread_mutex_unlock(&node->trim_lock);
	if (rc == 0) {
		/* Scratch of a log that no longer exists (its id is never reused). */
		int src = lsn_staging_remove_all(log);

		if (src)
			lsn_diag(LSN_DIAG_WARN, "remove-log %s: staging files left in the store: %s", name,
				 strerror(-src));
		lsn_diag(LSN_DIAG_WARN,
			 "log %s removed by remove-log: %zu segment(s), records %llu..%llu, %zu local "
			 "snapshot(s); archived copies stay in the archive for its owner",
			 name, st.info.n_segments, (unsigned long long)st.info.first_lsn,
			 (unsigned long long)st.info.tail_lsn, st.n_snapshots);
	}
	lsn_node_log_status_release(&st);
	return rc;
}

int lsn_node_append(struct lsn_node *node, struct lsn_log *log, const struct iovec *records,
		    size_t n, uint64_t *last_lsn)
{
	uint64_t bytes = 0;
	int rc = lsn_log_append(log, records, n, last_lsn);

	if (rc)
		return rc;
	for (size_t i = 0; i < n; i++)
		bytes += records[i].iov_len;
	atomic_fetch_add_explicit(&node->records_appended, n, memory_order_relaxed);
	atomic_fetch_add_explicit(&node->bytes_appended, bytes, memory_order_relaxed);
	return 0;
}

int lsn_node_sync(struct lsn_node *node, struct lsn_log *log)
{
	(void)node;
	return lsn_log_sync(log);
}

int lsn_node_seal(struct lsn_node *node, struct lsn_log *log)
{
	(void)node;
	return lsn_log_seal(log);
}
