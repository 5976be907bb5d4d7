/*
 * storage/compactor.c - gives the disk space of trimmed segments back.
 *
 * A trim deletes its range in one WriteBatch (range tombstones), which is
 * quick and crash-safe but frees nothing by itself.  This thread then drops
 * the SST files that lie wholly inside the range (no I/O: the tombstones
 * are already durable) and compacts what is left of it, so `du STORE`
 * shrinks within seconds instead of whenever RocksDB gets round to it, and
 * the trim request itself returns at once.
 */
#include <errno.h>
#include <stdlib.h>

#include "storage/diag.h"
#include "storage/store_internal.h"

static void compact_one(struct lsn_store *st, const struct lsn_compaction *c)
{
	char *err = NULL;

	if (atomic_load(&st->failed))
		return; /* read-only until remount */
	rocksdb_delete_file_in_range(st->db, lsn_key_data(&c->lo), c->lo.len, lsn_key_data(&c->hi),
				     c->hi.len, &err);
	if (err)
		lsn_rdb_errno(err, "delete files in trimmed range");
	rocksdb_compact_range(st->db, lsn_key_data(&c->lo), c->lo.len, lsn_key_data(&c->hi),
			      c->hi.len);
}

static void *compactor_main(void *arg)
{
	struct lsn_store *st = arg;

	pthread_mutex_lock(&st->cq_lock);
	for (;;) {
		struct lsn_compaction *c;

		while (!st->cq_head && !st->cq_stop)
			pthread_cond_wait(&st->cq_cond, &st->cq_lock);
		if (st->cq_stop)
			break;
		c = st->cq_head;
		st->cq_head = c->next;
		if (!st->cq_head)
			st->cq_tail = NULL;
		st->cq_busy++;
		pthread_mutex_unlock(&st->cq_lock);
		compact_one(st, c);
		free(c);
		pthread_mutex_lock(&st->cq_lock);
		st->cq_busy--;
	}
	pthread_mutex_unlock(&st->cq_lock);
	return NULL;
}

void lsn_compactor_enqueue(struct lsn_store *st, const struct lsn_key *lo, const struct lsn_key *hi)
{
	struct lsn_compaction *c = malloc(sizeof(*c));

	if (!c) {
		lsn_diag(LSN_DIAG_WARN, "out of memory: trimmed space comes back at the next compaction");
		return;
	}
	c->lo = *lo;
	c->hi = *hi;
	c->next = NULL;
	if (!st->compactor_started) {
		compact_one(st, c); /* no thread (tools, tests): do it now */
		free(c);
		return;
	}
	pthread_mutex_lock(&st->cq_lock);
	if (st->cq_tail)
		st->cq_tail->next = c;
	else
		st->cq_head = c;
	st->cq_tail = c;
	pthread_cond_signal(&st->cq_cond);
	pthread_mutex_unlock(&st->cq_lock);
}

int lsn_compactor_start(struct lsn_store *st)
{
	int rc = -pthread_create(&st->compactor, NULL, compactor_main, st);

	if (rc == 0)
		st->compactor_started = true;
	return rc;
}

void lsn_compactor_stop(struct lsn_store *st)
{
	struct lsn_compaction *c;

	if (!st->compactor_started)
		return;
	pthread_mutex_lock(&st->cq_lock);
	st->cq_stop = true;
	pthread_cond_signal(&st->cq_cond);
	pthread_mutex_unlock(&st->cq_lock);
	pthread_join(st->compactor, NULL);
	st->compactor_started = false;
	/* Pending ranges are not needed for correctness; RocksDB compacts
	 * them eventually. */
	while ((c = st->cq_head) != NULL) {
		st->cq_head = c->next;
		free(c);
	}
	st->cq_tail = NULL;
}
