/*
 * node/status.c - what `lsnfsctl status`, the status xattrs and the metrics
 * show of one log.  A query: it copies a view, asks the archiver's tables
 * and the trim engine, and takes no lock that an append waits on beyond
 * the copy (see node/node.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "node/node_internal.h"
#include "storage/snapshot.h"

static int list_unarchived(struct lsn_node *node, struct lsn_log *log,
			   struct lsn_node_log_status *st)
{
	struct lsn_snapshot_info *snaps = NULL;
	size_t n = 0;
	int rc = lsn_snapshot_list(log, &snaps, &n);

	if (rc)
		return rc;
	st->n_snapshots = n;
	if (!lsn_archiver_configured(node->archiver) || n == 0)
		goto out;
	st->unarchived = calloc(n, sizeof(*st->unarchived));
	if (!st->unarchived) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		struct lsn_node_unarchived *u = &st->unarchived[st->n_pending + st->n_failed];
		char text[sizeof(u->reason) + 16];

		lsn_archiver_state_text(node->archiver, log, snaps[i].lsn, text, sizeof(text));
		if (strcmp(text, "yes") == 0)
			continue;
		u->lsn = snaps[i].lsn;
		if (strncmp(text, "failed: ", 8) == 0) {
			u->failed = true;
			size_t len = strnlen(text + 8, sizeof(u->reason) - 1);

			memcpy(u->reason, text + 8, len);
			u->reason[len] = '\0';
			st->n_failed++;
		} else {
			st->n_pending++;
		}
	}
out:
	free(snaps);
	return rc;
}

int lsn_node_log_status(struct lsn_node *node, struct lsn_log *log, struct lsn_node_log_status *st)
{
	int rc;

	memset(st, 0, sizeof(*st));
	lsn_log_info(log, &st->info);
	st->archived_lsn = lsn_node_archived_lsn(node, log);
	rc = lsn_node_decide(node, log, &st->decision);
	if (!rc)
		rc = lsn_log_stored_bytes(log, &st->stored_bytes);
	if (!rc)
		rc = lsn_log_holds(log, &st->holds, &st->n_holds);
	if (!rc)
		rc = list_unarchived(node, log, st);
	if (rc)
		lsn_node_log_status_release(st);
	return rc;
}

void lsn_node_log_status_release(struct lsn_node_log_status *st)
{
	free(st->holds);
	free(st->unarchived);
	st->holds = NULL;
	st->unarchived = NULL;
	st->n_holds = st->n_pending = st->n_failed = 0;
}
