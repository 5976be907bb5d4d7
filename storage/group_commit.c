/*
 * storage/group_commit.c - durable appends under sync=always, one WAL sync
 * for as many appends as are ready (lsn_store_write_durable).
 *
 * Each append writes its batch to the WAL without syncing and takes a
 * ticket; it returns once a sync that started after its ticket was taken
 * has returned.  One caller at a time leads: it syncs for every ticket
 * handed out so far, the others wait for it.  That alone is what RocksDB's
 * own write groups do.  What it adds is PostgreSQL's commit_delay, made
 * adaptive: when the last sync covered several appends (writers on other
 * logs), the leader first waits until as many are ready, or for at most
 * half the last sync's duration (capped at GATHER_MAX_NS), since writers
 * that just got their reply need a moment to send the next record.  A lone
 * writer (last group of one) never waits, so its latency is one sync.
 *
 * Durability: a ticket <= `synced` was written before a sync that
 * returned; a failed sync turns the store read-only (store_base.c) and
 * every waiter gets its error.
 */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "storage/store_internal.h"

#define GATHER_MAX_NS 200000 /* 0.2 ms */

static int64_t monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void lsn_group_commit_init(struct lsn_group_commit *g)
{
	pthread_condattr_t attr;

	memset(g, 0, sizeof(*g));
	pthread_mutex_init(&g->lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&g->cond, &attr);
	pthread_condattr_destroy(&attr);
}

void lsn_group_commit_release(struct lsn_group_commit *g)
{
	pthread_cond_destroy(&g->cond);
	pthread_mutex_destroy(&g->lock);
}

/* Leader, lock held: wait until the last group's size is ready again. */
static void gather(struct lsn_group_commit *g)
{
	struct timespec deadline;
	int64_t wait_ns, at;

	if (g->last_group <= 1 || g->written - g->synced >= g->last_group)
		return;
	wait_ns = g->last_sync_ns / 2;
	if (wait_ns > GATHER_MAX_NS)
		wait_ns = GATHER_MAX_NS;
	at = monotonic_ns() + wait_ns;
	deadline.tv_sec = at / 1000000000;
	deadline.tv_nsec = at % 1000000000;
	while (g->written - g->synced < g->last_group)
		if (pthread_cond_timedwait(&g->cond, &g->lock, &deadline) == ETIMEDOUT)
			break;
}

/* Lock held on entry and on return; released around the sync. */
static int lead_sync(struct lsn_store *st, struct lsn_group_commit *g)
{
	uint64_t target, before = g->synced;
	int64_t t0;
	int rc;

	g->leading = true;
	gather(g);
	target = g->written;
	pthread_mutex_unlock(&g->lock);
	t0 = monotonic_ns();
	rc = lsn_store_sync_wal(st, "append sync");
	pthread_mutex_lock(&g->lock);
	g->leading = false;
	if (rc) {
		g->error = rc;
	} else {
		g->synced = target;
		g->syncs++;
		g->last_group = target - before;
		g->last_sync_ns = monotonic_ns() - t0;
	}
	pthread_cond_broadcast(&g->cond);
	return rc;
}

int lsn_store_write_durable(struct lsn_store *st, rocksdb_writebatch_t *wb, const char *what)
{
	struct lsn_group_commit *g = &st->gc;
	uint64_t ticket;
	int rc = lsn_store_write(st, st->wo_nosync, wb, what);

	if (rc)
		return rc;
	pthread_mutex_lock(&g->lock);
	ticket = ++g->written;
	pthread_cond_broadcast(&g->cond); /* a gathering leader counts it */
	while (rc == 0 && g->synced < ticket) {
		if (g->error)
			rc = g->error;
		else if (g->leading)
			pthread_cond_wait(&g->cond, &g->lock);
		else
			rc = lead_sync(st, g);
	}
	pthread_mutex_unlock(&g->lock);
	return rc;
}

void lsn_store_group_commit_counters(struct lsn_store *store, uint64_t *durable_appends,
				     uint64_t *wal_syncs)
{
	pthread_mutex_lock(&store->gc.lock);
	*durable_appends = store->gc.synced;
	*wal_syncs = store->gc.syncs;
	pthread_mutex_unlock(&store->gc.lock);
}
