/*
 * node/cluster.c - the rules of a shared archive directory: this node
 * publishes each log's trim point in its registration before a trim is
 * applied, and no node unlinks an archived snapshot that some registered
 * node's trimmed prefix depends on (storage/archive.h, the node registry).
 * Also the archive's state and its nodes as text for status.
 *
 * Called with node->trim_lock held by the trim and unlink paths (so a
 * publish and the trim it announces, or a check and the unlink it allows,
 * are one step); the registry's own lock is a leaf inside storage.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "node/node_internal.h"
#include "storage/archive.h"
#include "storage/diag.h"

int lsn_node_publish_trim(struct lsn_node *node, struct lsn_log *log, uint64_t trim_point,
			  char *reason, size_t n)
{
	struct lsn_archive *a = lsn_archiver_archive(node->archiver);
	struct lsn_archive_trim_point pt;
	char why[LSN_ARCHIVE_REASON_MAX] = "";
	int rc;

	if (!lsn_archive_has_dir(a))
		return 0;
	rc = lsn_archiver_check_available(node->archiver, why);
	if (rc) {
		snprintf(reason, n, "%s: the trim point cannot be published to the other nodes", why);
		return rc;
	}
	memset(&pt, 0, sizeof(pt));
	snprintf(pt.log, sizeof(pt.log), "%s", lsn_log_name(log));
	pt.trim_point = trim_point;
	rc = lsn_archive_publish(a, &pt, 1);
	if (rc)
		snprintf(reason, n, "cannot publish trim point %llu in the archive's node registry: %s",
			 (unsigned long long)trim_point, strerror(-rc));
	return rc;
}

static bool contains(const uint64_t *v, size_t n, uint64_t x)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] == x)
			return true;
	return false;
}

static void time_text(int64_t t, char *buf, size_t n)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (t <= 0 || !gmtime_r(&tt, &tm) || strftime(buf, n, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
		snprintf(buf, n, "unknown");
}

int lsn_node_unlink_guard(struct lsn_node *node, struct lsn_log *log, uint64_t lsn)
{
	struct lsn_archive *a = lsn_archiver_archive(node->archiver);
	const struct lsn_archive_node *blocker;
	struct lsn_archive_node *nodes = NULL;
	char why[LSN_ARCHIVE_REASON_MAX] = "", when[40];
	const char *name = lsn_log_name(log);
	uint64_t *lsns = NULL, tp = 0;
	size_t n_nodes = 0, n_lsns = 0;
	int rc;

	if (!lsn_archive_has_dir(a))
		return 0;
	rc = lsn_archiver_check_available(node->archiver, why);
	if (rc) {
		lsn_diag(LSN_DIAG_WARN,
			 "log %s: unlink of snapshot %llu refused: %s: the other nodes' trim points "
			 "cannot be checked",
			 name, (unsigned long long)lsn, why);
		return -EPERM;
	}
	rc = lsn_archive_list(a, name, &lsns, &n_lsns);
	if (rc == -ENOENT)
		rc = 0; /* nothing of this log archived */
	if (!rc)
		rc = lsn_archive_nodes(a, &nodes, &n_nodes);
	if (rc) {
		lsn_diag(LSN_DIAG_WARN,
			 "log %s: unlink of snapshot %llu refused: cannot read the archive's node "
			 "registry: %s",
			 name, (unsigned long long)lsn, strerror(-rc));
		rc = -EPERM;
		goto out;
	}
	if (!contains(lsns, n_lsns, lsn))
		goto out; /* not in the archive: no node's coverage depends on it */
	blocker = lsn_archive_unlink_blocker(nodes, n_nodes, name, lsn, lsns, n_lsns, &tp);
	if (blocker) {
		time_text(blocker->updated, when, sizeof(when));
		lsn_diag(LSN_DIAG_WARN,
			 "log %s: unlink of snapshot %llu refused: node %s trimmed this log through "
			 "LSN %llu (registration updated %s) and no other archived snapshot covers it",
			 name, (unsigned long long)lsn, blocker->node_id, (unsigned long long)tp, when);
		rc = -EPERM;
	}
out:
	free(lsns);
	lsn_archive_nodes_free(nodes, n_nodes);
	return rc;
}

int lsn_node_archive_state_text(struct lsn_node *node, char *buf, size_t n)
{
	char why[LSN_ARCHIVE_REASON_MAX];

	if (!lsn_archiver_configured(node->archiver))
		snprintf(buf, n, "none");
	else if (lsn_archiver_unavailable(node->archiver, why, sizeof(why)))
		snprintf(buf, n, "%s", why);
	else
		snprintf(buf, n, "available");
	return 0;
}

int lsn_node_archive_nodes_text(struct lsn_node *node, char *buf, size_t n)
{
	struct lsn_archive *a = lsn_archiver_archive(node->archiver);
	struct lsn_archive_node *nodes = NULL;
	size_t n_nodes = 0;
	char when[40];
	FILE *f;
	int rc;

	buf[0] = '\0';
	if (!lsn_archive_has_dir(a) || lsn_archiver_unavailable(node->archiver, NULL, 0))
		return 0;
	rc = lsn_archive_nodes(a, &nodes, &n_nodes);
	if (rc)
		return rc;
	f = fmemopen(buf, n, "w");
	if (!f) {
		lsn_archive_nodes_free(nodes, n_nodes);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n_nodes; i++) {
		const struct lsn_archive_node *nd = &nodes[i];

		time_text(nd->updated, when, sizeof(when));
		fprintf(f, "%s%s updated %s:", i ? "; " : "", nd->node_id, when);
		if (!nd->published)
			fprintf(f, " trim points unknown (older version)");
		else if (nd->n_points == 0)
			fprintf(f, " no trim points");
		for (size_t k = 0; k < nd->n_points; k++)
			fprintf(f, " %s=%llu", nd->points[k].log,
				(unsigned long long)nd->points[k].trim_point);
	}
	fclose(f);
	lsn_archive_nodes_free(nodes, n_nodes);
	return 0;
}
