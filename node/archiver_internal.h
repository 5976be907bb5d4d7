/*
 * node/archiver_internal.h - what node/archiver.c (lifecycle, availability,
 * queries) and node/archiver_pass.c (the archiving pass, the cover check)
 * share: the archiver's state and its lookups.  Not for other files.
 *
 * Locking: `lock` guards the tables (local, remote) and the counters and
 * availability fields; it is a leaf (node/node.h): nothing is called while
 * it is held.  Fields marked "archiver thread only" are touched by
 * lsn_archiver_tick() alone.
 */
#ifndef LSN_ARCHIVER_INTERNAL_H
#define LSN_ARCHIVER_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "node/archiver.h"
#include "storage/archive.h"

#define BACKOFF_MAX 60
#define RECHECK_SECONDS 10 /* archived copies can vanish (another node, an operator) */
#define REMOTE_SECONDS 3   /* listing a shared archive (maybe s3fs) is not free */
#define CHECK_CMD_SECONDS 60 /* archive_check_command re-runs: a process each */

enum snap_state { SNAP_PENDING, SNAP_ARCHIVED, SNAP_FAILED };

struct local_snap {
	struct lsn_log *log;
	uint64_t lsn;
	enum snap_state state;
	char reason[LSN_ARCHIVE_REASON_MAX];
	uint64_t next_try;
	uint32_t backoff;
	uint64_t next_check;
	uint64_t next_cmd_check; /* archive_check_command re-check */
	bool seen; /* still present at the last scan */
};

struct remote_snap {
	struct lsn_log *log;
	uint64_t lsn;
	uint64_t size; /* content bytes */
	bool seen;
};

/* Per-log facts the archiver remembers between ticks. */
struct log_note {
	struct lsn_log *log;
	bool warned_uncovered; /* the uncovered trim point was reported */
};

struct lsn_archiver {
	struct lsn_store *store;
	const struct lsn_clock *clock;
	struct lsn_archive *archive; /* NULL: no archive configured */
	/* The tables below and the counters; a leaf lock. */
	pthread_mutex_t lock;
	struct local_snap *local;
	size_t n_local;
	struct remote_snap *remote;
	size_t n_remote;
	struct log_note *notes;      /* only the archiver thread touches these */
	size_t n_notes;
	bool other_nodes;
	char other_node[LSN_NAME_MAX + 1]; /* the first other node seen */
	struct lsn_archiver_counters counters;
	/* Availability (the marker at the archive's root): while unavailable
	 * nothing is confirmed and no confirmation counts. */
	bool unavailable;
	char unavailable_reason[LSN_ARCHIVE_REASON_MAX];
	uint64_t next_remote;        /* archiver thread only */
	bool registered;             /* archiver thread only (and start) */
	int register_error;          /* the last registration failure, 0 none */
};

/* ---- lookups (lock held) -------------------------------------------------- */
struct local_snap *lsn_archiver_local_find(struct lsn_archiver *ar, struct lsn_log *log,
					   uint64_t lsn);
struct remote_snap *lsn_archiver_remote_find(struct lsn_archiver *ar, struct lsn_log *log,
					     uint64_t lsn);
/* Room for one more element of `size` bytes at the end of *v (n in use). */
void *lsn_archiver_grow_one(void **v, size_t n, size_t size);
/* Look at the archive's marker (archiver thread): false while unavailable. */
bool lsn_archiver_update_availability(struct lsn_archiver *ar);

#endif
