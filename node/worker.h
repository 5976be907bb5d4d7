/*
 * node/worker.h - one background thread that runs a tick function on a
 * period, or sooner when kicked; the archiver and the trimmer each run on
 * one.  The tick runs with no lock of the worker held, so it may take any
 * lock of the node (see node/node.h for the order) and block on I/O.
 *
 * Lifecycle: zeroed is "not started"; lsn_worker_stop() is safe on a
 * zeroed or stopped worker and returns once the tick in progress (if any)
 * has returned.  The period is wall time: tests drive ticks directly.
 */
#ifndef LSN_WORKER_H
#define LSN_WORKER_H

#include <pthread.h>
#include <stdbool.h>

typedef void (*lsn_worker_tick_fn)(void *ctx);

struct lsn_worker {
	lsn_worker_tick_fn tick;
	void *ctx;
	unsigned period_ms;
	pthread_t thread;
	pthread_mutex_t lock; /* stop, kick; a leaf: nothing is called under it */
	pthread_cond_t wake;
	bool stop, kick, started;
};

int lsn_worker_start(struct lsn_worker *w, unsigned period_ms, lsn_worker_tick_fn tick, void *ctx);
/* Run the next tick now (no-op when not started). */
void lsn_worker_kick(struct lsn_worker *w);
void lsn_worker_stop(struct lsn_worker *w);

#endif
