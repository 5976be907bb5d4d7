#include "node/worker.h"

#include <errno.h>
#include <string.h>
#include <time.h>

static void *worker_main(void *arg)
{
	struct lsn_worker *w = arg;

	pthread_mutex_lock(&w->lock);
	while (!w->stop) {
		struct timespec until;

		if (!w->kick) {
			clock_gettime(CLOCK_MONOTONIC, &until);
			until.tv_sec += w->period_ms / 1000;
			until.tv_nsec += (long)(w->period_ms % 1000) * 1000000L;
			if (until.tv_nsec >= 1000000000L) {
				until.tv_sec++;
				until.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&w->wake, &w->lock, &until);
		}
		w->kick = false;
		if (w->stop)
			break;
		pthread_mutex_unlock(&w->lock);
		w->tick(w->ctx);
		pthread_mutex_lock(&w->lock);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

int lsn_worker_start(struct lsn_worker *w, unsigned period_ms, lsn_worker_tick_fn tick, void *ctx)
{
	pthread_condattr_t attr;
	int rc;

	memset(w, 0, sizeof(*w));
	w->tick = tick;
	w->ctx = ctx;
	w->period_ms = period_ms ? period_ms : 1000;
	pthread_mutex_init(&w->lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC); /* immune to clock steps */
	pthread_cond_init(&w->wake, &attr);
	pthread_condattr_destroy(&attr);
	rc = -pthread_create(&w->thread, NULL, worker_main, w);
	if (rc) {
		pthread_mutex_destroy(&w->lock);
		pthread_cond_destroy(&w->wake);
		memset(w, 0, sizeof(*w));
		return rc;
	}
	w->started = true;
	return 0;
}

void lsn_worker_kick(struct lsn_worker *w)
{
	if (!w->started)
		return;
	pthread_mutex_lock(&w->lock);
	w->kick = true;
	pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&w->lock);
}

void lsn_worker_stop(struct lsn_worker *w)
{
	if (!w->started)
		return;
	pthread_mutex_lock(&w->lock);
	w->stop = true;
	pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->wake);
	memset(w, 0, sizeof(*w));
}
