#include "node/archiver_internal.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "storage/archive.h"
#include "storage/diag.h"

/* ---- state lookups (lock held) ----------------------------------------- */

struct local_snap *lsn_archiver_local_find(struct lsn_archiver *ar, struct lsn_log *log, uint64_t lsn)
{
	for (size_t i = 0; i < ar->n_local; i++)
		if (ar->local[i].log == log && ar->local[i].lsn == lsn)
			return &ar->local[i];
	return NULL;
}

struct remote_snap *lsn_archiver_remote_find(struct lsn_archiver *ar, struct lsn_log *log, uint64_t lsn)
{
	for (size_t i = 0; i < ar->n_remote; i++)
		if (ar->remote[i].log == log && ar->remote[i].lsn == lsn)
			return &ar->remote[i];
	return NULL;
}

/* Room for one more element of `size` bytes at the end of *v (n in use). */
void *lsn_archiver_grow_one(void **v, size_t n, size_t size)
{
	void *p = realloc(*v, (n + 1) * size);

	if (!p)
		return NULL;
	*v = p;
	return memset((char *)p + n * size, 0, size);
}
/* ---- lifecycle ------------------------------------------------------------- */

int lsn_archiver_init(struct lsn_archiver **out, struct lsn_store *store,
		      const struct lsn_clock *clock)
{
	const struct lsn_config *cfg = lsn_store_config(store);
	struct lsn_archiver *ar = calloc(1, sizeof(*ar));
	char tmpdir[4096];
	int rc = 0;

	*out = NULL;
	if (!ar)
		return -ENOMEM;
	ar->store = store;
	ar->clock = clock;
	pthread_mutex_init(&ar->lock, NULL);
	if (cfg->archive[0] || cfg->archive_command[0]) {
		rc = lsn_store_tmpdir(store, tmpdir, sizeof(tmpdir));
		if (!rc)
			rc = lsn_archive_init_config(&ar->archive, cfg, tmpdir);
		if (rc) {
			lsn_archiver_free(ar);
			return rc;
		}
	}
	*out = ar;
	return 0;
}

/*
 * Is the archive there and ours?  0, or a negative errno with `reason` set.
 * A directory without a recorded id (its marker could not be written when
 * the store adopted it) is never trusted.  Without a directory there is no
 * marker to look at: 0.
 */
int lsn_archiver_check_available(struct lsn_archiver *ar, char *reason)
{
	const struct lsn_config *cfg = lsn_store_config(ar->store);

	if (!lsn_archive_has_dir(ar->archive))
		return 0;
	if (!cfg->archive_id[0]) {
		if (reason)
			snprintf(reason, LSN_ARCHIVE_REASON_MAX,
				 "archive unavailable: no archive id recorded for %.120s (its marker could "
				 "not be written; see mkfs.lsnfs --archive)",
				 cfg->archive);
		return -ENOKEY;
	}
	return lsn_archive_available(ar->archive, reason);
}

/* Publish the trim point of every log (after a registration: trims of an
 * earlier version or of a time the archive was away are made known). */
static int publish_all(struct lsn_archiver *ar)
{
	struct lsn_archive_trim_point *pts = NULL;
	char **names = NULL;
	size_t n = 0, k = 0;
	int rc = lsn_store_list_logs(ar->store, &names, &n);

	if (rc)
		return rc;
	pts = calloc(n + 1, sizeof(*pts));
	for (size_t i = 0; pts && i < n; i++) {
		struct lsn_log_info info;
		struct lsn_log *log;

		if (lsn_store_find_log(ar->store, names[i], &log) != 0)
			continue;
		lsn_log_info(log, &info);
		if (info.trim_point == 0)
			continue;
		snprintf(pts[k].log, sizeof(pts[k].log), "%s", names[i]);
		pts[k++].trim_point = info.trim_point;
	}
	rc = pts ? lsn_archive_publish(ar->archive, pts, k) : -ENOMEM;
	free(pts);
	lsn_names_free(names, n);
	return rc;
}

/* Register (once per mount, while the archive is available); a failure is
 * logged when it changes and retried at the next pass: a read-only archive
 * does not stop the node. */
static void register_now(struct lsn_archiver *ar)
{
	const struct lsn_config *cfg = lsn_store_config(ar->store);
	int rc = lsn_archive_register(ar->archive);

	if (!rc)
		rc = publish_all(ar);
	if (rc && rc != ar->register_error)
		lsn_diag(LSN_DIAG_ERR,
			 "WARNING: cannot register node %s in archive %s: %s (retrying; other nodes "
			 "cannot see this node's trim points until it works)",
			 cfg->node_id, cfg->archive, strerror(-rc));
	else if (!rc && ar->register_error)
		lsn_diag(LSN_DIAG_WARN, "node %s registered in archive %s", cfg->node_id,
			 cfg->archive);
	ar->register_error = rc;
	ar->registered = rc == 0;
}

/*
 * Look at the marker; log each change of availability once.  When the
 * archive comes back every confirmation is re-verified before it counts
 * again (what happened to the archive meanwhile is unknown).
 */
bool lsn_archiver_update_availability(struct lsn_archiver *ar)
{
	const struct lsn_config *cfg = lsn_store_config(ar->store);
	char reason[LSN_ARCHIVE_REASON_MAX] = "";
	int rc = lsn_archiver_check_available(ar, reason);
	bool was;

	pthread_mutex_lock(&ar->lock);
	was = ar->unavailable;
	ar->unavailable = rc != 0;
	if (rc)
		snprintf(ar->unavailable_reason, sizeof(ar->unavailable_reason), "%s", reason);
	for (size_t i = 0; !rc && was && i < ar->n_local; i++) {
		if (ar->local[i].state == SNAP_ARCHIVED)
			ar->local[i].state = SNAP_PENDING;
		ar->local[i].next_try = 0;
		ar->local[i].backoff = 0;
	}
	if (!rc && was)
		ar->next_remote = 0;
	pthread_mutex_unlock(&ar->lock);
	if (rc && !was)
		lsn_diag(LSN_DIAG_ERR,
			 "WARNING: %s: nothing is archived or confirmed, and nothing is trimmed on the "
			 "strength of archived snapshots, until it is back",
			 reason);
	else if (!rc && was)
		lsn_diag(LSN_DIAG_WARN,
			 "archive %s is available again: its archived snapshots are verified before "
			 "they count",
			 cfg->archive);
	if (!rc && !ar->registered)
		register_now(ar);
	return rc == 0;
}

int lsn_archiver_register(struct lsn_archiver *ar)
{
	if (ar->archive)
		lsn_archiver_update_availability(ar);
	return 0;
}

bool lsn_archiver_unavailable(struct lsn_archiver *ar, char *reason, size_t n)
{
	bool v;

	pthread_mutex_lock(&ar->lock);
	v = ar->unavailable;
	if (reason)
		snprintf(reason, n, "%s", v ? ar->unavailable_reason : "");
	pthread_mutex_unlock(&ar->lock);
	return v;
}

struct lsn_archive *lsn_archiver_archive(struct lsn_archiver *ar)
{
	return ar->archive;
}

void lsn_archiver_abort(struct lsn_archiver *ar)
{
	if (ar && ar->archive)
		lsn_archive_abort(ar->archive);
}

void lsn_archiver_free(struct lsn_archiver *ar)
{
	if (!ar)
		return;
	lsn_archive_free(ar->archive);
	free(ar->local);
	free(ar->remote);
	free(ar->notes);
	pthread_mutex_destroy(&ar->lock);
	free(ar);
}

/* ---- queries ------------------------------------------------------------------ */

bool lsn_archiver_configured(const struct lsn_archiver *ar)
{
	return ar->archive != NULL;
}

bool lsn_archiver_other_node(struct lsn_archiver *ar, char *id, size_t n)
{
	bool seen;

	pthread_mutex_lock(&ar->lock);
	seen = ar->other_nodes;
	snprintf(id, n, "%s", ar->other_node);
	pthread_mutex_unlock(&ar->lock);
	return seen;
}

bool lsn_archiver_other_nodes_seen(struct lsn_archiver *ar)
{
	bool seen;

	pthread_mutex_lock(&ar->lock);
	seen = ar->other_nodes;
	pthread_mutex_unlock(&ar->lock);
	return seen;
}

static uint64_t archived_max(struct lsn_archiver *ar, struct lsn_log *log, uint64_t except)
{
	uint64_t best = 0;

	if (ar->unavailable)
		return 0; /* no confirmation can be re-checked now */
	for (size_t i = 0; i < ar->n_local; i++)
		if (ar->local[i].log == log && ar->local[i].state == SNAP_ARCHIVED &&
		    ar->local[i].lsn != except && ar->local[i].lsn > best)
			best = ar->local[i].lsn;
	for (size_t i = 0; i < ar->n_remote; i++)
		if (ar->remote[i].log == log && ar->remote[i].lsn != except && ar->remote[i].lsn > best)
			best = ar->remote[i].lsn;
	return best;
}

uint64_t lsn_archiver_archived_lsn(struct lsn_archiver *ar, struct lsn_log *log, uint64_t except)
{
	uint64_t v;

	pthread_mutex_lock(&ar->lock);
	v = archived_max(ar, log, except);
	pthread_mutex_unlock(&ar->lock);
	return v;
}

void lsn_archiver_state_text(struct lsn_archiver *ar, struct lsn_log *log, uint64_t lsn,
			     char *buf, size_t n)
{
	struct local_snap *s;

	pthread_mutex_lock(&ar->lock);
	s = lsn_archiver_local_find(ar, log, lsn);
	if (ar->unavailable)
		snprintf(buf, n, "failed: %s", ar->unavailable_reason);
	else if (s && s->state == SNAP_ARCHIVED)
		snprintf(buf, n, "yes");
	else if (s && s->state == SNAP_FAILED)
		snprintf(buf, n, "failed: %s", s->reason);
	else if (!s && lsn_archiver_remote_find(ar, log, lsn))
		snprintf(buf, n, "yes");
	else
		snprintf(buf, n, "no"); /* pending, or committed a moment ago */
	pthread_mutex_unlock(&ar->lock);
}

bool lsn_archiver_failure(struct lsn_archiver *ar, struct lsn_log *log, uint64_t *lsn,
			  char *reason, size_t n)
{
	struct local_snap *newest = NULL;

	pthread_mutex_lock(&ar->lock);
	for (size_t i = 0; i < ar->n_local; i++)
		if (ar->local[i].log == log && ar->local[i].state == SNAP_FAILED &&
		    (!newest || ar->local[i].lsn > newest->lsn))
			newest = &ar->local[i];
	if (newest) {
		*lsn = newest->lsn;
		snprintf(reason, n, "%s", newest->reason);
	}
	pthread_mutex_unlock(&ar->lock);
	return newest != NULL;
}

int lsn_archiver_remote_list(struct lsn_archiver *ar, struct lsn_log *log, uint64_t **lsns,
			     size_t *n)
{
	uint64_t *v;
	size_t k = 0;

	pthread_mutex_lock(&ar->lock);
	v = malloc((ar->n_remote + 1) * sizeof(*v));
	for (size_t i = 0; v && i < ar->n_remote; i++)
		if (ar->remote[i].log == log)
			v[k++] = ar->remote[i].lsn;
	pthread_mutex_unlock(&ar->lock);
	*lsns = v;
	*n = k;
	return v ? 0 : -ENOMEM;
}

int lsn_archiver_remote_size(struct lsn_archiver *ar, struct lsn_log *log, uint64_t lsn,
			     uint64_t *size)
{
	struct remote_snap *r;
	int rc = -ENOENT;

	pthread_mutex_lock(&ar->lock);
	r = lsn_archiver_remote_find(ar, log, lsn);
	if (r) {
		*size = r->size;
		rc = 0;
	}
	pthread_mutex_unlock(&ar->lock);
	return rc;
}

int lsn_archiver_fetch(struct lsn_archiver *ar, struct lsn_log *log, uint64_t lsn, int *fd)
{
	uint64_t size;
	int rc = lsn_archiver_remote_size(ar, log, lsn, &size);

	*fd = -1;
	if (rc)
		return rc;
	return lsn_archive_fetch(ar->archive, lsn_log_name(log), lsn, fd, &size);
}

int lsn_archiver_forget(struct lsn_archiver *ar, struct lsn_log *log, uint64_t lsn)
{
	int rc;

	if (!ar->archive)
		return 0;
	rc = lsn_archive_remove(ar->archive, lsn_log_name(log), lsn);
	pthread_mutex_lock(&ar->lock);
	for (size_t i = 0; i < ar->n_local; i++)
		if (ar->local[i].log == log && ar->local[i].lsn == lsn)
			ar->local[i] = ar->local[--ar->n_local];
	for (size_t i = 0; i < ar->n_remote; i++)
		if (ar->remote[i].log == log && ar->remote[i].lsn == lsn)
			ar->remote[i] = ar->remote[--ar->n_remote];
	pthread_mutex_unlock(&ar->lock);
	return rc;
}

void lsn_archiver_counters(struct lsn_archiver *ar, struct lsn_archiver_counters *c)
{
	pthread_mutex_lock(&ar->lock);
	*c = ar->counters;
	pthread_mutex_unlock(&ar->lock);
}
