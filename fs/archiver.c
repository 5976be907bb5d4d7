/*
 * fs/archiver.c - archives committed snapshots in the background, keeps
 * track of which are confirmed archived, lists the snapshots other nodes
 * archived, and watches the node registry.
 *
 * Trust model (after PostgreSQL's .ready/.done and Kafka's tiered storage):
 * a snapshot counts as archived only once this mount has confirmed it:
 * archived now, or its archived mark re-checked against the archive.  Until
 * then (e.g. just after mount) archived_lsn does not include it, so nothing
 * is trimmed on the strength of an unverified claim.  Failures are retried
 * with exponential backoff (1 s .. 60 s) and each is logged with its reason.
 *
 * One thread does all archive I/O; FUSE operations only read the state
 * under `lock`.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs/archiver.h"
#include "fs/trimmer.h"
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
	int64_t raw_size; /* -1 until first needed */
	bool seen;
};

struct lsnfs_archiver {
	struct lsnfs *fs;
	struct lsn_archive *archive;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool stop, started, kick;
	pthread_t thread;
	struct local_snap *local;
	size_t n_local;
	struct remote_snap *remote;
	size_t n_remote;
	bool other_nodes;
	uint64_t next_remote;  /* when to list the archive and its nodes again */
	char warned_uncovered[4096]; /* logs already warned about, ';'-separated */
};

static struct lsnfs_archiver *the_archiver;

/* ---- state lookups (lock held) ----------------------------------------- */

static struct local_snap *local_find(struct lsnfs_archiver *ar, struct lsn_log *log, uint64_t lsn)
{
	for (size_t i = 0; i < ar->n_local; i++)
		if (ar->local[i].log == log && ar->local[i].lsn == lsn)
			return &ar->local[i];
	return NULL;
}

static struct remote_snap *remote_find(struct lsnfs_archiver *ar, struct lsn_log *log,
				       uint64_t lsn)
{
	for (size_t i = 0; i < ar->n_remote; i++)
		if (ar->remote[i].log == log && ar->remote[i].lsn == lsn)
			return &ar->remote[i];
	return NULL;
}

static void *grow(void *v, size_t n, size_t size)
{
	return realloc(v, (n + 1) * size);
}

/* ---- queries from FUSE operations ---------------------------------------- */

bool lsnfs_archiver_other_nodes_seen(void)
{
	struct lsnfs_archiver *ar = the_archiver;
	bool seen;

	if (!ar)
		return false;
	pthread_mutex_lock(&ar->lock);
	seen = ar->other_nodes;
	pthread_mutex_unlock(&ar->lock);
	return seen;
}

/* Highest archived LSN, optionally ignoring one snapshot (unlink guard). */
static uint64_t archived_max(struct lsnfs_archiver *ar, struct lsn_log *log, uint64_t except)
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

uint64_t lsnfs_archived_lsn(struct lsn_log *log)
{
	struct lsnfs_archiver *ar = the_archiver;
	uint64_t v;

	if (!ar)
		return 0;
	pthread_mutex_lock(&ar->lock);
	v = archived_max(ar, log, 0);
	pthread_mutex_unlock(&ar->lock);
	return v;
}

void lsnfs_archiver_wake(void)
{
	struct lsnfs_archiver *ar = the_archiver;

	if (!ar)
		return;
	pthread_mutex_lock(&ar->lock);
	ar->kick = true;
	pthread_cond_signal(&ar->wake);
	pthread_mutex_unlock(&ar->lock);
}

int lsnfs_archiver_state_text(struct lsn_log *log, uint64_t lsn, char *buf, size_t n)
{
	struct lsnfs_archiver *ar = the_archiver;
	struct local_snap *s;
	int rc = 0;

	if (!ar) {
		snprintf(buf, n, "no");
		return 0;
	}
	pthread_mutex_lock(&ar->lock);
	s = local_find(ar, log, lsn);
	if (s && s->state == SNAP_ARCHIVED)
		snprintf(buf, n, "yes");
	else if (s && s->state == SNAP_FAILED)
		snprintf(buf, n, "failed: %s", s->reason);
	else if (s)
		snprintf(buf, n, "no");
	else if (remote_find(ar, log, lsn))
		snprintf(buf, n, "yes");
	else
		snprintf(buf, n, "no"); /* committed a moment ago, not yet scanned */
	pthread_mutex_unlock(&ar->lock);
	return rc;
}

int lsnfs_archiver_remote_list(struct lsn_log *log, uint64_t **lsns, size_t *n)
{
	struct lsnfs_archiver *ar = the_archiver;
	uint64_t *v;
	size_t k = 0;

	*lsns = NULL;
	*n = 0;
	if (!ar)
		return 0;
	pthread_mutex_lock(&ar->lock);
	v = malloc((ar->n_remote + 1) * sizeof(*v));
	for (size_t i = 0; v && i < ar->n_remote; i++)
		if (ar->remote[i].log == log)
			v[k++] = ar->remote[i].lsn;
	pthread_mutex_unlock(&ar->lock);
	if (!v)
		return -ENOMEM;
	*lsns = v;
	*n = k;
	return 0;
}

bool lsnfs_archiver_has_remote(struct lsn_log *log, uint64_t lsn)
{
	struct lsnfs_archiver *ar = the_archiver;
	bool known;

	if (!ar)
		return false;
	pthread_mutex_lock(&ar->lock);
	known = remote_find(ar, log, lsn) != NULL;
	pthread_mutex_unlock(&ar->lock);
	return known;
}

int lsnfs_archiver_fetch(struct lsn_log *log, uint64_t lsn, int *fd, uint64_t *size)
{
	struct lsnfs_archiver *ar = the_archiver;
	struct remote_snap *r;
	bool known;
	int rc;

	if (!ar)
		return -ENOENT;
	pthread_mutex_lock(&ar->lock);
	known = remote_find(ar, log, lsn) != NULL;
	pthread_mutex_unlock(&ar->lock);
	if (!known)
		return -ENOENT;
	rc = lsn_archive_fetch(ar->archive, lsn_log_name(log), lsn, fd, size);
	if (rc == 0) {
		pthread_mutex_lock(&ar->lock);
		r = remote_find(ar, log, lsn);
		if (r)
			r->raw_size = (int64_t)*size;
		pthread_mutex_unlock(&ar->lock);
	}
	return rc;
}

int lsnfs_archiver_remote_size(struct lsn_log *log, uint64_t lsn, uint64_t *size)
{
	struct lsnfs_archiver *ar = the_archiver;
	struct remote_snap *r;
	int64_t known = -2;
	int fd, rc;

	if (!ar)
		return -ENOENT;
	pthread_mutex_lock(&ar->lock);
	r = remote_find(ar, log, lsn);
	if (r)
		known = r->raw_size;
	pthread_mutex_unlock(&ar->lock);
	if (known == -2)
		return -ENOENT;
	if (known >= 0) {
		*size = (uint64_t)known;
		return 0;
	}
	rc = lsnfs_archiver_fetch(log, lsn, &fd, size);
	if (rc == 0)
		close(fd);
	return rc;
}

int lsnfs_archiver_unlink(struct lsn_log *log, uint64_t lsn, bool local)
{
	struct lsnfs_archiver *ar = the_archiver;
	struct lsn_log_info info;
	uint64_t others;
	int rc = 0;

	lsn_log_info(log, &info);
	if (ar) {
		pthread_mutex_lock(&ar->lock);
		others = archived_max(ar, log, lsn);
		pthread_mutex_unlock(&ar->lock);
	} else {
		others = 0;
	}
	if (info.trim_point > 0 && others < info.trim_point) {
		lsn_diag(LSN_DIAG_WARN,
			 "log %s: unlink of snapshot %llu refused: the trimmed prefix (trim point %llu) "
			 "would be covered by no other archived snapshot (highest other archived: %llu)",
			 lsn_log_name(log), (unsigned long long)lsn, (unsigned long long)info.trim_point,
			 (unsigned long long)others);
		return -EPERM;
	}
	if (local)
		rc = lsn_snapshot_remove(log, lsn);
	if (rc)
		return rc;
	if (ar) {
		rc = lsn_archive_remove(ar->archive, lsn_log_name(log), lsn);
		pthread_mutex_lock(&ar->lock);
		for (size_t i = 0; i < ar->n_local; i++)
			if (ar->local[i].log == log && ar->local[i].lsn == lsn)
				ar->local[i] = ar->local[--ar->n_local];
		for (size_t i = 0; i < ar->n_remote; i++)
			if (ar->remote[i].log == log && ar->remote[i].lsn == lsn)
				ar->remote[i] = ar->remote[--ar->n_remote];
		pthread_mutex_unlock(&ar->lock);
	}
	return rc;
}

/* ---- the archiving thread ------------------------------------------------- */

static void archive_one(struct lsnfs_archiver *ar, struct lsn_log *log,
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
	s = local_find(ar, log, info->lsn);
	if (s) {
		if (rc == 0) {
			s->state = SNAP_ARCHIVED;
			s->reason[0] = '\0';
		} else {
			s->state = SNAP_FAILED;
			snprintf(s->reason, sizeof(s->reason), "%s", reason);
			s->backoff = s->backoff ? s->backoff * 2 : 1;
			if (s->backoff > BACKOFF_MAX)
				s->backoff = BACKOFF_MAX;
			s->next_try = now + s->backoff;
			retry = s->backoff;
		}
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
static void recheck_one(struct lsnfs_archiver *ar, struct lsn_log *log,
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

static void scan_local(struct lsnfs_archiver *ar, struct lsn_log *log, uint64_t now)
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
			void *p = grow(ar->local, ar->n_local, sizeof(*ar->local));
			if (p) {
				ar->local = p;
				s = &ar->local[ar->n_local++];
				memset(s, 0, sizeof(*s));
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

static void scan_remote(struct lsnfs_archiver *ar, struct lsn_log *log)
{
	struct lsn_snapshot_info info;
	uint64_t *lsns = NULL;
	size_t n = 0;

	if (lsn_archive_list(ar->archive, lsn_log_name(log), &lsns, &n) != 0)
		return;
	for (size_t i = 0; i < n; i++) {
		struct remote_snap *r;

		if (lsn_snapshot_get(log, lsns[i], &info) == 0)
			continue; /* ours: it counts only once verified (scan_local) */
		pthread_mutex_lock(&ar->lock);
		r = remote_find(ar, log, lsns[i]);
		if (!r) {
			void *p = grow(ar->remote, ar->n_remote, sizeof(*ar->remote));
			if (p) {
				ar->remote = p;
				r = &ar->remote[ar->n_remote++];
				r->log = log;
				r->lsn = lsns[i];
				r->raw_size = -1;
			}
		}
		if (r)
			r->seen = true;
		pthread_mutex_unlock(&ar->lock);
	}
	free(lsns);
}

/* Drop state of snapshots that disappeared since the last scan. */
static void sweep(struct lsnfs_archiver *ar, bool remote_scanned)
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

static void warn_uncovered(struct lsnfs_archiver *ar, struct lsn_log *log)
{
	const struct lsn_config *cfg = lsn_store_config(ar->fs->store);
	char key[LSN_NAME_MAX + 2];
	struct lsn_log_info info;
	uint64_t archived;

	if (cfg->mode != LSN_MODE_CLUSTER)
		return;
	lsn_log_info(log, &info);
	archived = lsnfs_archived_lsn(log);
	snprintf(key, sizeof(key), "%s;", lsn_log_name(log));
	if (info.trim_point > archived) {
		if (!strstr(ar->warned_uncovered, key) &&
		    strlen(ar->warned_uncovered) + strlen(key) < sizeof(ar->warned_uncovered)) {
			strcat(ar->warned_uncovered, key);
			lsn_diag(LSN_DIAG_ERR,
				 "WARNING: log %s: trim point %llu is not covered by an archived snapshot "
				 "(archived %llu): a new node or a moved consumer cannot rebuild this log's "
				 "state until a snapshot covering it is archived",
				 lsn_log_name(log), (unsigned long long)info.trim_point,
				 (unsigned long long)archived);
		}
	}
}

static void check_nodes(struct lsnfs_archiver *ar)
{
	const struct lsn_config *cfg = lsn_store_config(ar->fs->store);
	char other[256] = "";
	int n = lsn_archive_other_nodes(ar->archive, other, sizeof(other));
	bool first;

	if (n <= 0)
		return;
	pthread_mutex_lock(&ar->lock);
	first = !ar->other_nodes;
	ar->other_nodes = true;
	pthread_mutex_unlock(&ar->lock);
	if (first && cfg->mode == LSN_MODE_SINGLE) {
		int rc = lsn_store_set_mode(ar->fs->store, LSN_MODE_CLUSTER);
		lsn_diag(LSN_DIAG_ERR,
			 "WARNING: another node (%s) uses the archive: switching this node to cluster mode%s; "
			 "trimming by persisted position is off for good",
			 other, rc ? " (could not persist the mode)" : "");
	}
}

static void tick(struct lsnfs_archiver *ar)
{
	uint64_t now = lsnfs_monotonic_seconds();
	bool remote = now >= ar->next_remote;
	char **names = NULL;
	size_t n = 0;

	if (remote) {
		ar->next_remote = now + REMOTE_SECONDS;
		check_nodes(ar);
	}
	if (lsn_store_list_logs(ar->fs->store, &names, &n) != 0)
		return;
	for (size_t i = 0; i < n; i++) {
		struct lsn_log *log;
		if (lsn_store_find_log(ar->fs->store, names[i], &log) != 0)
			continue;
		scan_local(ar, log, now);
		if (remote)
			scan_remote(ar, log);
	}
	sweep(ar, remote);
	for (size_t i = 0; i < n; i++) {
		struct lsn_log *log;
		if (lsn_store_find_log(ar->fs->store, names[i], &log) == 0)
			warn_uncovered(ar, log);
	}
	lsn_names_free(names, n);
}

static void *archiver_main(void *arg)
{
	struct lsnfs_archiver *ar = arg;

	pthread_mutex_lock(&ar->lock);
	while (!ar->stop) {
		pthread_mutex_unlock(&ar->lock);
		tick(ar);
		pthread_mutex_lock(&ar->lock);
		if (!ar->kick && !ar->stop) {
			struct timespec until;
			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_sec += 1;
			pthread_cond_timedwait(&ar->wake, &ar->lock, &until);
		}
		ar->kick = false;
	}
	pthread_mutex_unlock(&ar->lock);
	return NULL;
}

int lsnfs_archiver_start(struct lsnfs *fs)
{
	const struct lsn_config *cfg = lsn_store_config(fs->store);
	struct lsnfs_archiver *ar;
	char tmpdir[4096];
	int rc;

	if (!cfg->archive[0] && !cfg->archive_command[0])
		return 0;
	ar = calloc(1, sizeof(*ar));
	if (!ar)
		return -ENOMEM;
	ar->fs = fs;
	pthread_mutex_init(&ar->lock, NULL);
	pthread_cond_init(&ar->wake, NULL);
	snprintf(tmpdir, sizeof(tmpdir), "%s/tmp", lsn_store_path(fs->store));
	rc = lsn_archive_init(&ar->archive, cfg->archive, cfg->archive_command, cfg->node_id, tmpdir);
	if (rc)
		goto fail;
	rc = lsn_archive_register(ar->archive);
	if (rc) {
		lsn_diag(LSN_DIAG_ERR, "cannot register node %s in archive %s: %s", cfg->node_id,
			 cfg->archive, strerror(-rc));
		goto fail;
	}
	the_archiver = ar;
	rc = -pthread_create(&ar->thread, NULL, archiver_main, ar);
	if (rc) {
		the_archiver = NULL;
		goto fail;
	}
	ar->started = true;
	fs->archiver = ar;
	return 0;
fail:
	lsn_archive_free(ar->archive);
	free(ar);
	return rc;
}

void lsnfs_archiver_stop(struct lsnfs *fs)
{
	struct lsnfs_archiver *ar = fs->archiver;

	if (!ar)
		return;
	pthread_mutex_lock(&ar->lock);
	ar->stop = true;
	pthread_cond_signal(&ar->wake);
	pthread_mutex_unlock(&ar->lock);
	if (ar->started)
		pthread_join(ar->thread, NULL);
	the_archiver = NULL;
	lsn_archive_free(ar->archive);
	free(ar->local);
	free(ar->remote);
	pthread_mutex_destroy(&ar->lock);
	pthread_cond_destroy(&ar->wake);
	free(ar);
	fs->archiver = NULL;
}
