#include "node/archiver.h"

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

#define BACKOFF_MAX 60
#define RECHECK_SECONDS 10 /* archived copies can vanish (another node, an operator) */
#define REMOTE_SECONDS 3   /* listing a shared archive (maybe s3fs) is not free */

enum snap_state { SNAP_PENDING, SNAP_ARCHIVED, SNAP_FAILED };

struct local_snap {
	struct lsn_log *log;
	uint64_t lsn;
	enum snap_state state;
	char reason[LSN_ARCHIVE_REASON_MAX];
	uint64_t next_try;
	uint32_t backoff;
	uint64_t next_check;
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
	uint64_t next_remote;        /* archiver thread only */
};

/* ---- state lookups (lock held) ----------------------------------------- */

static struct local_snap *local_find(struct lsn_archiver *ar, struct lsn_log *log, uint64_t lsn)
{
	for (size_t i = 0; i < ar->n_local; i++)
		if (ar->local[i].log == log && ar->local[i].lsn == lsn)
			return &ar->local[i];
	return NULL;
}

static struct remote_snap *remote_find(struct lsn_archiver *ar, struct lsn_log *log, uint64_t lsn)
{
	for (size_t i = 0; i < ar->n_remote; i++)
		if (ar->remote[i].log == log && ar->remote[i].lsn == lsn)
			return &ar->remote[i];
	return NULL;
}

/* Room for one more element of `size` bytes at the end of *v (n in use). */
static void *grow_one(void **v, size_t n, size_t size)
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
			rc = lsn_archive_init(&ar->archive, cfg->archive, cfg->archive_command,
					      cfg->node_id, tmpdir);
		if (rc) {
			lsn_archiver_free(ar);
			return rc;
		}
	}
	*out = ar;
	return 0;
}

int lsn_archiver_register(struct lsn_archiver *ar)
{
	const struct lsn_config *cfg = lsn_store_config(ar->store);
	int rc;

	if (!ar->archive)
		return 0;
	rc = lsn_archive_register(ar->archive);
	if (rc)
		lsn_diag(LSN_DIAG_ERR, "cannot register node %s in archive %s: %s", cfg->node_id,
			 cfg->archive, strerror(-rc));
	return rc;
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
	s = local_find(ar, log, lsn);
	if (s && s->state == SNAP_ARCHIVED)
		snprintf(buf, n, "yes");
	else if (s && s->state == SNAP_FAILED)
		snprintf(buf, n, "failed: %s", s->reason);
	else if (!s && remote_find(ar, log, lsn))
		snprintf(buf, n, "yes");
	else
		snprintf(buf, n, "no"); /* pending, or committed a moment ago */
	pthread_mutex_unlock(&ar->lock);
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
	r = remote_find(ar, log, lsn);
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

/* ---- the archiving pass ------------------------------------------------------ */

static void archive_one(struct lsn_archiver *ar, struct lsn_log *log,
			const struct lsn_snapshot_info *info, uint64_t now)
{
	char reason[LSN_ARCHIVE_REASON_MAX] = "";
	uint64_t size = 0;
	uint32_t crc = 0;
	struct local_snap *s;
	bool claimed = info->archived;
	uint32_t retry = 0;
	int rc;

	if (claimed)
		rc = lsn_archive_verify(ar->archive, log, info->lsn, info->archive_size,
					info->archive_crc, reason);
	else
		rc = lsn_archive_put(ar->archive, log, info->lsn, &size, &crc, reason);
	if (rc == 0 && !claimed) {
		rc = lsn_snapshot_set_archived(log, info->lsn, true, size, crc);
		if (rc)
			snprintf(reason, sizeof(reason), "cannot record the archived mark: %s",
				 strerror(-rc));
	}
	if (rc != 0 && claimed) {
		/* The claim did not hold: forget it and archive again. */
		lsn_diag(LSN_DIAG_WARN, "log %s: snapshot %llu was marked archived but %s; archiving it again",
			 lsn_log_name(log), (unsigned long long)info->lsn, reason);
		lsn_snapshot_set_archived(log, info->lsn, false, 0, 0);
	}
	pthread_mutex_lock(&ar->lock);
	ar->counters.attempts++;
	if (rc == 0) {
		ar->counters.successes++;
		ar->counters.last_success_unix = (int64_t)time(NULL);
	} else {
		ar->counters.failures++;
	}
	s = local_find(ar, log, info->lsn);
	if (s && rc == 0) {
		s->state = SNAP_ARCHIVED;
		s->reason[0] = '\0';
		s->next_check = now + RECHECK_SECONDS;
	} else if (s) {
		s->state = SNAP_FAILED;
		snprintf(s->reason, sizeof(s->reason), "%s", reason);
		s->backoff = s->backoff ? s->backoff * 2 : 1;
		if (s->backoff > BACKOFF_MAX)
			s->backoff = BACKOFF_MAX;
		s->next_try = now + s->backoff;
		retry = s->backoff;
	}
	pthread_mutex_unlock(&ar->lock);
	if (rc == 0)
		lsn_diag(LSN_DIAG_INFO, "log %s: snapshot %llu %s", lsn_log_name(log),
			 (unsigned long long)info->lsn,
			 claimed ? "archived copy verified" : "archived");
	else
		lsn_diag(LSN_DIAG_WARN, "log %s: archiving snapshot %llu failed: %s (retry in %u s)",
			 lsn_log_name(log), (unsigned long long)info->lsn, reason, retry);
}

/* An archived copy that disappeared stops counting and is archived again. */
static void recheck_one(struct lsn_archiver *ar, struct lsn_log *log,
			const struct lsn_snapshot_info *info)
{
	struct local_snap *s;
	int rc = lsn_archive_present(ar->archive, lsn_log_name(log), info->lsn, info->archive_size);

	if (rc == 0)
		return;
	lsn_diag(LSN_DIAG_ERR,
		 "WARNING: log %s: the archived copy of snapshot %llu is gone or changed (%s); it no "
		 "longer counts as archived and is archived again",
		 lsn_log_name(log), (unsigned long long)info->lsn, strerror(-rc));
	lsn_snapshot_set_archived(log, info->lsn, false, 0, 0);
	pthread_mutex_lock(&ar->lock);
	s = local_find(ar, log, info->lsn);
	if (s) {
		s->state = SNAP_PENDING;
		s->next_try = 0;
		s->backoff = 0;
	}
	pthread_mutex_unlock(&ar->lock);
}

static void scan_local(struct lsn_archiver *ar, struct lsn_log *log, uint64_t now)
{
	struct lsn_snapshot_info *v = NULL;
	size_t n = 0;

	if (lsn_snapshot_list(log, &v, &n) != 0)
		return;
	for (size_t i = 0; i < n; i++) {
		struct local_snap *s;
		bool due, recheck;

		pthread_mutex_lock(&ar->lock);
		s = local_find(ar, log, v[i].lsn);
		if (!s) {
			s = grow_one((void **)&ar->local, ar->n_local, sizeof(*ar->local));
			if (s) {
				ar->n_local++;
				s->log = log;
				s->lsn = v[i].lsn;
			}
		}
		if (s)
			s->seen = true;
		due = s && s->state != SNAP_ARCHIVED && now >= s->next_try;
		recheck = s && s->state == SNAP_ARCHIVED && now >= s->next_check;
		if (recheck)
			s->next_check = now + RECHECK_SECONDS;
		pthread_mutex_unlock(&ar->lock);
		if (due)
			archive_one(ar, log, &v[i], now);
		else if (recheck)
			recheck_one(ar, log, &v[i]);
	}
	free(v);
}

/* The content size of another node's snapshot, learned here on the
 * archiver's thread so that getattr never decompresses anything. */
static int remote_content_size(struct lsn_archiver *ar, struct lsn_log *log, uint64_t lsn,
			       uint64_t *size)
{
	int rc = lsn_archive_content_size(ar->archive, lsn_log_name(log), lsn, size);
	int fd;

	if (rc != -ENOTSUP)
		return rc;
	rc = lsn_archive_fetch(ar->archive, lsn_log_name(log), lsn, &fd, size);
	if (rc == 0)
		close(fd);
	return rc;
}

static void scan_remote(struct lsn_archiver *ar, struct lsn_log *log)
{
	struct lsn_snapshot_info info;
	uint64_t *lsns = NULL, size;
	size_t n = 0;

	if (lsn_archive_list(ar->archive, lsn_log_name(log), &lsns, &n) != 0)
		return;
	for (size_t i = 0; i < n; i++) {
		struct remote_snap *r;
		bool known;

		if (lsn_snapshot_get(log, lsns[i], &info) == 0)
			continue; /* ours: it counts only once verified (scan_local) */
		pthread_mutex_lock(&ar->lock);
		r = remote_find(ar, log, lsns[i]);
		if (r)
			r->seen = true;
		known = r != NULL;
		pthread_mutex_unlock(&ar->lock);
		if (known || remote_content_size(ar, log, lsns[i], &size) != 0)
			continue; /* not readable (yet): not listed */
		pthread_mutex_lock(&ar->lock);
		r = grow_one((void **)&ar->remote, ar->n_remote, sizeof(*ar->remote));
		if (r) {
			ar->n_remote++;
			r->log = log;
			r->lsn = lsns[i];
			r->size = size;
			r->seen = true;
		}
		pthread_mutex_unlock(&ar->lock);
	}
	free(lsns);
}

/* Drop state of snapshots that disappeared since the last scan. */
static void sweep(struct lsn_archiver *ar, bool remote_scanned)
{
	pthread_mutex_lock(&ar->lock);
	for (size_t i = 0; i < ar->n_local;) {
		if (!ar->local[i].seen)
			ar->local[i] = ar->local[--ar->n_local];
		else
			ar->local[i++].seen = false;
	}
	for (size_t i = 0; remote_scanned && i < ar->n_remote;) {
		if (!ar->remote[i].seen)
			ar->remote[i] = ar->remote[--ar->n_remote];
		else
			ar->remote[i++].seen = false;
	}
	pthread_mutex_unlock(&ar->lock);
}

static struct log_note *note_for(struct lsn_archiver *ar, struct lsn_log *log)
{
	struct log_note *note;

	for (size_t i = 0; i < ar->n_notes; i++)
		if (ar->notes[i].log == log)
			return &ar->notes[i];
	note = grow_one((void **)&ar->notes, ar->n_notes, sizeof(*ar->notes));
	if (note) {
		ar->n_notes++;
		note->log = log;
	}
	return note;
}

/* In cluster mode, say once (per time it happens) that a log's trim point
 * is not covered by an archived snapshot. */
static void warn_uncovered(struct lsn_archiver *ar, struct lsn_log *log)
{
	struct log_note *note = note_for(ar, log);
	struct lsn_log_info info;
	uint64_t archived;
	bool uncovered;

	if (!note)
		return;
	lsn_log_info(log, &info);
	archived = lsn_archiver_archived_lsn(ar, log, 0);
	uncovered = lsn_store_mode(ar->store) == LSN_MODE_CLUSTER && info.trim_point > archived;
	if (uncovered && !note->warned_uncovered)
		lsn_diag(LSN_DIAG_ERR,
			 "WARNING: log %s: trim point %llu is not covered by an archived snapshot "
			 "(archived %llu): a new node or a moved consumer cannot rebuild this log's "
			 "state until a snapshot covering it is archived",
			 lsn_log_name(log), (unsigned long long)info.trim_point,
			 (unsigned long long)archived);
	else if (!uncovered && note->warned_uncovered)
		lsn_diag(LSN_DIAG_WARN, "log %s: trim point %llu is covered by an archived snapshot again",
			 lsn_log_name(log), (unsigned long long)info.trim_point);
	note->warned_uncovered = uncovered;
}

static void check_nodes(struct lsn_archiver *ar)
{
	char other[LSN_NAME_MAX + 1] = "";
	int n = lsn_archive_other_nodes(ar->archive, other, sizeof(other));
	bool first;

	if (n <= 0)
		return;
	pthread_mutex_lock(&ar->lock);
	first = !ar->other_nodes;
	ar->other_nodes = true;
	if (first)
		snprintf(ar->other_node, sizeof(ar->other_node), "%s", other);
	pthread_mutex_unlock(&ar->lock);
	if (first && lsn_store_mode(ar->store) == LSN_MODE_CLUSTER)
		lsn_diag(LSN_DIAG_INFO, "another node (%s) uses the archive", other);
}

void lsn_archiver_tick(struct lsn_archiver *ar)
{
	uint64_t now = lsn_clock_now_s(ar->clock);
	bool remote;
	char **names = NULL;
	size_t n = 0;

	if (!ar->archive)
		return;
	remote = now >= ar->next_remote;
	if (remote) {
		ar->next_remote = now + REMOTE_SECONDS;
		check_nodes(ar);
	}
	if (lsn_store_list_logs(ar->store, &names, &n) != 0)
		return;
	for (size_t i = 0; i < n; i++) {
		struct lsn_log *log;
		if (lsn_store_find_log(ar->store, names[i], &log) != 0)
			continue;
		scan_local(ar, log, now);
		if (remote)
			scan_remote(ar, log);
	}
	sweep(ar, remote);
	for (size_t i = 0; i < n; i++) {
		struct lsn_log *log;
		if (lsn_store_find_log(ar->store, names[i], &log) == 0)
			warn_uncovered(ar, log);
	}
	lsn_names_free(names, n);
}
