#include "storage/workq.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct lsn_workq_job {
	lsn_workq_fn fn;
	void *arg;
	struct lsn_workq_job *next;
};

static void *workq_main(void *arg)
{
	struct lsn_workq *q = arg;

	pthread_mutex_lock(&q->lock);
	for (;;) {
		struct lsn_workq_job *j;

		while (!q->head && !q->stopping)
			pthread_cond_wait(&q->cond, &q->lock);
		j = q->head;
		if (!j)
			break; /* stopping and drained */
		q->head = j->next;
		if (!q->head)
			q->tail = NULL;
		pthread_mutex_unlock(&q->lock);
		j->fn(j->arg);
		free(j);
		pthread_mutex_lock(&q->lock);
	}
	pthread_mutex_unlock(&q->lock);
	return NULL;
}

int lsn_workq_start(struct lsn_workq *q, size_t n)
{
	int rc;

	if (n == 0)
		return -EINVAL;
	memset(q, 0, sizeof(*q));
	q->threads = calloc(n, sizeof(*q->threads));
	if (!q->threads)
		return -ENOMEM;
	pthread_mutex_init(&q->lock, NULL);
	pthread_cond_init(&q->cond, NULL);
	q->started = true;
	for (; q->n_threads < n; q->n_threads++) {
		rc = pthread_create(&q->threads[q->n_threads], NULL, workq_main, q);
		if (rc) {
			lsn_workq_stop(q);
			return -rc;
		}
	}
	return 0;
}

int lsn_workq_submit(struct lsn_workq *q, lsn_workq_fn fn, void *arg)
{
	struct lsn_workq_job *j;
	int rc = 0;

	if (!q->started)
		return -ESRCH;
	j = malloc(sizeof(*j));
	if (!j)
		return -ENOMEM;
	j->fn = fn;
	j->arg = arg;
	j->next = NULL;
	pthread_mutex_lock(&q->lock);
	if (q->stopping) {
		rc = -ESRCH;
	} else {
		if (q->tail)
			q->tail->next = j;
		else
			q->head = j;
		q->tail = j;
		pthread_cond_signal(&q->cond);
	}
	pthread_mutex_unlock(&q->lock);
	if (rc)
		free(j);
	return rc;
}

void lsn_workq_stop(struct lsn_workq *q)
{
	if (!q->started)
		return;
	pthread_mutex_lock(&q->lock);
	q->stopping = true;
	pthread_cond_broadcast(&q->cond);
	pthread_mutex_unlock(&q->lock);
	for (size_t i = 0; i < q->n_threads; i++)
		pthread_join(q->threads[i], NULL);
	free(q->threads);
	pthread_mutex_destroy(&q->lock);
	pthread_cond_destroy(&q->cond);
	memset(q, 0, sizeof(*q));
}
