/*
 * storage/log_trim.c - removing whole segments from the front of a log.
 *
 * The decision is the caller's (node/ asks the trim engine, trim/, on a
 * read-only view); storage only carries it out, and refuses when the log
 * changed under the decision (-ESTALE).  No callback runs under the log's
 * lock.  The
 * removal of any number of segments is one WriteBatch: their 'S' keys and
 * a range deletion of their 'B' and 'X' keys.  After a crash each segment is
 * therefore fully there or fully gone, and the trim point (the first
 * retained segment's first LSN - 1) always matches what is listed.  The
 * cost is per segment, not per record.  The freed key range is then handed
 * to the compactor (storage/compactor.c) so the disk space comes back.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "storage/control.h"
#include "storage/diag.h"
#include "storage/store_internal.h"

static void seg_range(struct lsn_key *lo, struct lsn_key *hi, char tag, uint32_t id,
		      uint64_t first, uint64_t last_first)
{
	lsn_key_init(lo, tag);
	lsn_key_u32(lo, id);
	lsn_key_u64(lo, first);
	lsn_key_init(hi, tag);
	lsn_key_u32(hi, id);
	lsn_key_u64(hi, last_first);
	lsn_key_successor(hi);
}

static void compact_removed(struct lsn_store *st, uint32_t id, uint64_t first, uint64_t last_first)
{
	static const char tags[] = { 'B', 'X', 'S' };

	for (size_t i = 0; i < sizeof(tags); i++) {
		struct lsn_key lo, hi;
		seg_range(&lo, &hi, tags[i], id, first, last_first);
		lsn_compactor_enqueue(st, &lo, &hi);
	}
}

int lsn_log_view(struct lsn_log *log, unsigned flags, struct lsn_log_view *view)
{
	struct lsn_hold *holds = NULL;
	struct lsn_segment_info *segs = NULL;
	size_t n_holds, n_segs;
	int rc = 0;

	memset(view, 0, sizeof(*view));
	pthread_mutex_lock(&log->lock);
	if (log->removed) {
		rc = -ENOENT;
		goto out;
	}
	n_holds = log->n_holds;
	n_segs = log->n_segs;
	/* One allocation each, sized under the lock: the copy is all it holds. */
	holds = malloc((n_holds + 1) * sizeof(*holds));
	if ((flags & LSN_VIEW_SEGMENTS) && holds)
		segs = malloc(n_segs * sizeof(*segs));
	if (!holds || ((flags & LSN_VIEW_SEGMENTS) && !segs)) {
		rc = -ENOMEM;
		goto out;
	}
	if (n_holds)
		memcpy(holds, log->holds, n_holds * sizeof(*holds));
	if (segs)
		memcpy(segs, log->segs, n_segs * sizeof(*segs));
	view->first_lsn = log->segs[0].first_lsn;
	view->trim_point = log->segs[0].first_lsn - 1;
	view->tail_lsn = lsn_log_active(log)->last_lsn;
	view->persisted_lsn = log->persisted_lsn;
	for (size_t i = 0; i < n_segs; i++)
		view->retained_bytes += log->segs[i].bytes;
	view->holds = holds;
	view->n_holds = n_holds;
	view->segments = segs;
	view->n_segments = n_segs;
	holds = NULL;
	segs = NULL;
out:
	pthread_mutex_unlock(&log->lock);
	free(holds);
	free(segs);
	return rc;
}

void lsn_log_view_release(struct lsn_log_view *view)
{
	if (!view)
		return;
	free(view->holds);
	free(view->segments);
	memset(view, 0, sizeof(*view));
}

/* Under log->lock: may the first n segments go, given the caller decided
 * on a log starting at expect_first_lsn?  Sets the trim point they leave. */
static int trim_check(struct lsn_log *log, uint64_t expect_first_lsn, size_t n, uint64_t *new_trim)
{
	if (log->removed)
		return -ENOENT;
	if (log->segs[0].first_lsn != expect_first_lsn)
		return -ESTALE;
	for (size_t i = 0; i < n; i++) {
		/* Defence in depth: storage never drops the active segment. */
		if (i >= log->n_segs - 1 || !log->segs[i].sealed) {
			lsn_diag(LSN_DIAG_ERR, "log %s: a trim asked for an unsealed segment",
				 log->name);
			return -EPERM;
		}
	}
	*new_trim = log->segs[n].first_lsn - 1;
	return 0;
}

/* Claim the new trim point in the control file before the batch, so a
 * store found trimmed beyond its claim at mount has lost records
 * (storage/control.h).  Writing the file takes every log's lock, so it
 * happens outside ours; the caller checks again after. */
static int claim_trim(struct lsn_log *log, uint64_t expect_first_lsn, size_t n, uint64_t *new_trim)
{
	int rc;

	pthread_mutex_lock(&log->lock);
	rc = trim_check(log, expect_first_lsn, n, new_trim);
	pthread_mutex_unlock(&log->lock);
	if (rc || lsn_control_trim_claimed(log, *new_trim))
		return rc;
	rc = lsn_store_sync(log->store); /* the tail the claim rests on */
	return rc ? rc : lsn_control_note_trim(log, *new_trim);
}

int lsn_log_trim_prefix(struct lsn_log *log, uint64_t expect_first_lsn, size_t n,
			uint64_t *trimmed_to)
{
	struct lsn_store *st = log->store;
	rocksdb_writebatch_t *wb = NULL;
	uint64_t first = 0, last_first = 0, new_trim = 0, checked_trim;
	int rc = 0;

	rc = n ? claim_trim(log, expect_first_lsn, n, &new_trim) : 0;
	pthread_mutex_lock(&log->lock);
	if (rc)
		goto out;
	rc = trim_check(log, expect_first_lsn, n, &checked_trim);
	if (rc || n == 0)
		goto out;
	if (checked_trim != new_trim) {
		rc = -ESTALE; /* the log changed while the claim was written */
		goto out;
	}
	first = log->segs[0].first_lsn;
	last_first = log->segs[n - 1].first_lsn;
	wb = rocksdb_writebatch_create();
	for (size_t i = 0; i < n; i++) {
		struct lsn_key k;
		lsn_seg_key(&k, log->id, log->segs[i].first_lsn);
		rocksdb_writebatch_delete(wb, lsn_key_data(&k), k.len);
	}
	for (const char *tag = "BX"; *tag; tag++) {
		struct lsn_key lo, hi;
		seg_range(&lo, &hi, *tag, log->id, first, last_first);
		rocksdb_writebatch_delete_range(wb, lsn_key_data(&lo), lo.len, lsn_key_data(&hi),
						hi.len);
	}
	rc = lsn_store_write(st, st->wo_sync, wb, "trim");
	if (rc)
		goto out;
	memmove(log->segs, log->segs + n, (log->n_segs - n) * sizeof(*log->segs));
	log->n_segs -= n;
out:
	if (trimmed_to && rc == 0)
		*trimmed_to = log->segs[0].first_lsn - 1;
	pthread_mutex_unlock(&log->lock);
	if (wb)
		rocksdb_writebatch_destroy(wb);
	if (rc == 0 && n > 0)
		compact_removed(st, log->id, first, last_first);
	return rc;
}
