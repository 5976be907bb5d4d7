/*
 * storage/workq.h - a fixed pool of threads running queued jobs in FIFO
 * order (the store's block compressors, storage/log_compress.c).
 *
 * A job is a function and its argument; the pool knows nothing of what
 * they do, so it calls nothing in storage/ and nothing calls back into it
 * from a job.  lsn_workq_stop() lets the threads finish every queued job,
 * then joins them.  Safe on a zeroed struct (never started: submit fails
 * with -ESRCH and stop is a no-op).
 *
 * Thread safety: submit from any thread; start and stop from one owner.
 * `lock` guards the queue and `stopping`; it is a leaf (a job runs with it
 * released).
 */
#ifndef LSN_WORKQ_H
#define LSN_WORKQ_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

typedef void (*lsn_workq_fn)(void *arg);

struct lsn_workq_job;

struct lsn_workq {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct lsn_workq_job *head, *tail;
	pthread_t *threads;
	size_t n_threads;
	bool started, stopping;
};

/* Start n >= 1 threads.  0, -EINVAL or the pthread error. */
int lsn_workq_start(struct lsn_workq *q, size_t n);
/* Queue fn(arg); -ENOMEM, or -ESRCH when not started or stopping. */
int lsn_workq_submit(struct lsn_workq *q, lsn_workq_fn fn, void *arg);
/* Run what is queued, join the threads; safe on a zeroed struct. */
void lsn_workq_stop(struct lsn_workq *q);

#endif
