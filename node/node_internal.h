/*
 * node/node_internal.h - struct lsn_node, shared by the files of node/ only.
 * The ownership and lock order are in node/node.h.
 */
#ifndef LSN_NODE_INTERNAL_H
#define LSN_NODE_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "node/archiver.h"
#include "node/node.h"
#include "node/worker.h"

/* Settling history of one log (trim/trim.h), kept across trim passes. */
struct settle_entry {
	struct lsn_log *log;
	struct lsn_trim_settle settle;
};

struct lsn_node {
	struct lsn_store *store;
	struct lsn_clock own_clock;      /* used when the caller gave none */
	struct lsn_clock *clock;
	bool threads;
	unsigned worker_period_ms;       /* of the archive and trim workers */
	uint64_t opened_ms;              /* the node's clock at open */
	struct lsn_archiver *archiver;
	struct lsn_worker archive_worker;
	struct lsn_worker trim_worker;
	struct lsn_worker metrics_worker; /* only with -o metrics_file */
	int metrics_file_error;          /* metrics worker only: last error, to log changes */

	pthread_mutex_t trim_lock;       /* lock order 1: see node.h */
	pthread_mutex_t settle_lock;     /* lock order 2: the settle table */
	struct settle_entry *settle;
	size_t n_settle;
	uint64_t last_auto_trim_s;       /* trim worker only */

	/* Counters since open (atomics: appends must not take a lock). */
	_Atomic uint64_t records_appended, bytes_appended;
	_Atomic uint64_t segments_trimmed, bytes_trimmed, trims_refused;
};

/* The node's mode as the trim engine names it. */
static inline enum lsn_trim_mode lsn_node_trim_mode(enum lsn_mode mode)
{
	return mode == LSN_MODE_CLUSTER ? LSN_TRIM_MODE_CLUSTER : LSN_TRIM_MODE_SINGLE;
}

/* node/cluster.c (trim_lock held) */
/* Publish `trim_point` of log in this node's registration before the trim
 * is applied: 0, or an error with `reason` (the trim must not happen). */
int lsn_node_publish_trim(struct lsn_node *node, struct lsn_log *log, uint64_t trim_point,
			  char *reason, size_t n);
/* 0 when no registered node's trimmed prefix depends on archived snapshot
 * lsn; -EPERM (logged, naming the node and its trim point) otherwise. */
int lsn_node_unlink_guard(struct lsn_node *node, struct lsn_log *log, uint64_t lsn);

/* node/trimming.c */
void lsn_node_trim_pass(struct lsn_node *node, bool trim);
void lsn_node_warn_strategy_at_start(struct lsn_node *node);

#endif
