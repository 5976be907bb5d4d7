/*
 * node/snapshots.c - a log's snapshots as the node sees them: committed
 * here (storage/snapshot.h), archived by another node sharing the archive
 * (node/archiver.h), and staging files (storage/staging.h); commits and the
 * coverage guard on unlink (SPEC section 3).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/node_internal.h"
#include "storage/diag.h"
#include "storage/snapshot.h"
#include "storage/staging.h"

int lsn_node_snapshot_stat(struct lsn_node *node, struct lsn_log *log, uint64_t lsn,
			   struct lsn_node_snapshot *info)
{
	struct lsn_snapshot_info local;
	int rc = lsn_snapshot_get(log, lsn, &local);

	memset(info, 0, sizeof(*info));
	info->lsn = lsn;
	if (rc == 0) {
		info->size = local.size;
		info->mtime_ns = local.mtime_ns;
		return 0;
	}
	if (rc != -ENOENT)
		return rc;
	info->remote = true;
	return lsn_archiver_remote_size(node->archiver, log, lsn, &info->size);
}

static int cmp_u64(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;

	return a < b ? -1 : a > b;
}

int lsn_node_snapshot_list(struct lsn_node *node, struct lsn_log *log, uint64_t **lsns, size_t *n)
{
	struct lsn_snapshot_info *local = NULL;
	uint64_t *remote = NULL, *v = NULL;
	size_t nl = 0, nr = 0, k = 0;
	int rc;

	*lsns = NULL;
	*n = 0;
	rc = lsn_snapshot_list(log, &local, &nl);
	if (!rc)
		rc = lsn_archiver_remote_list(node->archiver, log, &remote, &nr);
	if (!rc) {
		v = malloc((nl + nr + 1) * sizeof(*v));
		rc = v ? 0 : -ENOMEM;
	}
	if (rc)
		goto out;
	for (size_t i = 0; i < nl; i++)
		v[i] = local[i].lsn;
	if (nr)
		memcpy(v + nl, remote, nr * sizeof(*v));
	qsort(v, nl + nr, sizeof(*v), cmp_u64);
	for (size_t i = 0; i < nl + nr; i++)
		if (k == 0 || v[k - 1] != v[i])
			v[k++] = v[i];
	*lsns = v;
	*n = k;
	v = NULL;
out:
	free(v);
	free(local);
	free(remote);
	return rc;
}

int lsn_node_snapshot_entries(struct lsn_node *node, struct lsn_log *log, size_t *n)
{
	uint64_t *lsns = NULL;
	char **names = NULL;
	size_t nl = 0, ns = 0;
	int rc = lsn_node_snapshot_list(node, log, &lsns, &nl);

	if (!rc)
		rc = lsn_staging_list(log, &names, &ns);
	free(lsns);
	lsn_names_free(names, ns);
	*n = nl + ns;
	return rc;
}

int lsn_node_snapshot_commit(struct lsn_node *node, struct lsn_log *log, const char *name,
			     uint64_t lsn, unsigned rename_flags)
{
	struct lsn_node_snapshot existing;
	struct lsn_staging_stat st;
	int rc;

	rc = lsn_staging_stat(log, name, &st);
	if (rc)
		return rc;
	if (lsn_node_snapshot_stat(node, log, lsn, &existing) == 0) {
		lsn_diag(LSN_DIAG_WARN, "log %s: snapshot %020llu.snap already committed; it is immutable",
			 lsn_log_name(log), (unsigned long long)lsn);
		return (rename_flags & RENAME_NOREPLACE) ? -EEXIST : -EPERM;
	}
	rc = lsn_staging_commit(log, name, lsn);
	if (rc == -EINVAL) {
		struct lsn_log_info info;
		lsn_log_info(log, &info);
		lsn_diag(LSN_DIAG_WARN,
			 "log %s: snapshot %llu refused: its LSN must be between the trim point %llu and "
			 "the tail %llu; the staging file stays",
			 lsn_log_name(log), (unsigned long long)lsn, (unsigned long long)info.trim_point,
			 (unsigned long long)info.tail_lsn);
	} else if (rc == 0) {
		lsn_diag(LSN_DIAG_INFO, "log %s: snapshot %llu committed", lsn_log_name(log),
			 (unsigned long long)lsn);
		lsn_worker_kick(&node->archive_worker);
	}
	return rc;
}

int lsn_node_snapshot_unlink(struct lsn_node *node, struct lsn_log *log, uint64_t lsn)
{
	struct lsn_node_snapshot snap;
	struct lsn_log_info info;
	uint64_t others;
	int rc;

	pthread_mutex_lock(&node->trim_lock);
	rc = lsn_node_snapshot_stat(node, log, lsn, &snap);
	if (rc)
		goto out;
	lsn_log_info(log, &info);
	others = lsn_archiver_archived_lsn(node->archiver, log, lsn);
	if (info.trim_point > 0 && others < info.trim_point) {
		lsn_diag(LSN_DIAG_WARN,
			 "log %s: unlink of snapshot %llu refused: the trimmed prefix (trim point %llu) "
			 "would be covered by no other archived snapshot (highest other archived: %llu)",
			 lsn_log_name(log), (unsigned long long)lsn, (unsigned long long)info.trim_point,
			 (unsigned long long)others);
		rc = -EPERM;
		goto out;
	}
	rc = lsn_node_unlink_guard(node, log, lsn);
	if (rc)
		goto out;
	if (!snap.remote)
		rc = lsn_snapshot_remove(log, lsn);
	if (!rc)
		rc = lsn_archiver_forget(node->archiver, log, lsn);
out:
	pthread_mutex_unlock(&node->trim_lock);
	return rc;
}

int lsn_node_snapshot_fetch(struct lsn_node *node, struct lsn_log *log, uint64_t lsn, int *fd)
{
	return lsn_archiver_fetch(node->archiver, log, lsn, fd);
}

int lsn_node_snapshot_archived_text(struct lsn_node *node, struct lsn_log *log, uint64_t lsn,
				    char *buf, size_t n)
{
	struct lsn_node_snapshot snap;
	int rc = lsn_node_snapshot_stat(node, log, lsn, &snap);

	if (rc)
		return rc;
	lsn_archiver_state_text(node->archiver, log, lsn, buf, n);
	return 0;
}
