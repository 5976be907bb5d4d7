/*
 * node/archiver_pass.c - the archiver's work (node/archiver.h): one pass of
 * lsn_archiver_tick() archives committed snapshots, re-checks confirmations,
 * lists what other nodes archived and warns about uncovered trim points;
 * and lsn_archiver_check_cover(), the look at the copy a trim relies on.
 * All archive I/O happens here, never under the archiver's lock.
 */
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

/* ---- the copy a trim relies on -------------------------------------------------- */

/* Is the confirmed copy `lsn` there now?  0; -ENOENT or -EBADMSG when it is
 * gone or changed (then it stops counting); another errno: cannot tell. */
static int cover_present(struct lsn_archiver *ar, struct lsn_log *log, uint64_t lsn, bool remote,
			 uint64_t remote_size)
{
	struct lsn_snapshot_info info;
	uint64_t size = 0;
	int rc;

	if (remote) {
		rc = lsn_archive_content_size(ar->archive, lsn_log_name(log), lsn, &size);
		if (rc == -ENOTSUP)
			return 0; /* present; its size is only known by fetching it */
		return rc ? rc : size == remote_size ? 0 : -EBADMSG;
	}
	rc = lsn_snapshot_get(log, lsn, &info);
	if (rc)
		return rc;
	return lsn_archive_present(ar->archive, lsn_log_name(log), lsn, info.archive_size);
}

/* The copy is gone: it no longer counts; the next pass re-verifies it. */
static void cover_gone(struct lsn_archiver *ar, struct lsn_log *log, uint64_t lsn, bool remote)
{
	struct local_snap *s;

	pthread_mutex_lock(&ar->lock);
	if (remote) {
		for (size_t i = 0; i < ar->n_remote; i++)
			if (ar->remote[i].log == log && ar->remote[i].lsn == lsn)
				ar->remote[i] = ar->remote[--ar->n_remote];
	} else if ((s = lsn_archiver_local_find(ar, log, lsn)) && s->state == SNAP_ARCHIVED) {
		s->state = SNAP_PENDING;
		s->next_try = 0;
		s->backoff = 0;
	}
	pthread_mutex_unlock(&ar->lock);
}

int lsn_archiver_check_cover(struct lsn_archiver *ar, struct lsn_log *log, uint64_t upto,
			     char *reason, size_t n)
{
	uint64_t last = 0;
	int last_rc = -ENOENT;

	if (!lsn_archive_has_dir(ar->archive))
		return 0;
	/* Newest first; each copy found gone is out of the table before the
	 * next lookup, so the loop ends. */
	for (;;) {
		uint64_t lsn = 0, remote_size = 0;
		bool remote = false;
		int rc;

		pthread_mutex_lock(&ar->lock);
		for (size_t i = 0; !ar->unavailable && i < ar->n_local; i++)
			if (ar->local[i].log == log && ar->local[i].state == SNAP_ARCHIVED &&
			    ar->local[i].lsn >= upto && ar->local[i].lsn > lsn &&
			    (!last || ar->local[i].lsn < last))
				lsn = ar->local[i].lsn;
		for (size_t i = 0; !ar->unavailable && i < ar->n_remote; i++)
			if (ar->remote[i].log == log && ar->remote[i].lsn >= upto &&
			    ar->remote[i].lsn > lsn && (!last || ar->remote[i].lsn < last)) {
				lsn = ar->remote[i].lsn;
				remote = true;
				remote_size = ar->remote[i].size;
			}
		pthread_mutex_unlock(&ar->lock);
		if (lsn == 0)
			break;
		rc = cover_present(ar, log, lsn, remote, remote_size);
		if (rc == 0)
			return 0;
		if (rc == -ENOENT || rc == -EBADMSG) {
			lsn_diag(LSN_DIAG_ERR,
				 "WARNING: log %s: the archived copy of snapshot %llu is gone or changed "
				 "(%s); no trim relies on it, it is verified again",
				 lsn_log_name(log), (unsigned long long)lsn, strerror(-rc));
			cover_gone(ar, log, lsn, remote);
		}
		last = lsn; /* cannot tell (EIO, EACCES...): it carries no trim now */
		last_rc = rc;
	}
	snprintf(reason, n,
		 "no archived copy covering LSN %llu is in the archive now%s%s (re-checking)",
		 (unsigned long long)upto, last ? ": " : "", last ? strerror(-last_rc) : "");
	return -ENOENT;
}

/* ---- the archiving pass ------------------------------------------------------ */

/*
 * Did a re-check show that the archived copy is gone (or different), as
 * opposed to "cannot tell now" (archive unavailable, a check command that
 * timed out or was cancelled)?  Only then is the durable mark dropped: a
 * confirmation is never thrown away because the archive was away.
 */
static bool claim_gone(struct lsn_archiver *ar, int rc)
{
	if (rc == -ETIMEDOUT || rc == -ECANCELED || rc == -EINTR || rc == -EAGAIN || rc == -ENOMEM)
		return false;
	return lsn_archiver_check_available(ar, NULL) == 0;
}

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
	if (rc != 0 && claimed && claim_gone(ar, rc)) {
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
	s = lsn_archiver_local_find(ar, log, info->lsn);
	if (s && rc == 0) {
		s->state = SNAP_ARCHIVED;
		s->reason[0] = '\0';
		s->next_check = now + RECHECK_SECONDS;
		s->next_cmd_check = now + CHECK_CMD_SECONDS;
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

/*
 * An archived copy that disappeared stops counting and is archived again.
 * `cmd`: also run archive_check_command.  A re-check that cannot tell (the
 * archive went away, the check timed out) stops the confirmation counting
 * until it is verified again, without dropping it.
 */
static void recheck_one(struct lsn_archiver *ar, struct lsn_log *log,
			const struct lsn_snapshot_info *info, bool cmd, uint64_t now)
{
	char reason[LSN_ARCHIVE_REASON_MAX] = "";
	struct local_snap *s;
	int rc = lsn_archive_present(ar->archive, lsn_log_name(log), info->lsn, info->archive_size);

	if (rc)
		snprintf(reason, sizeof(reason), "%s", strerror(-rc));
	else if (cmd)
		rc = lsn_archive_check(ar->archive, lsn_log_name(log), info->lsn, reason);
	if (rc == 0)
		return;
	if (lsn_archiver_check_available(ar, NULL) != 0)
		return; /* the next pass reports the archive unavailable */
	if (!claim_gone(ar, rc)) {
		lsn_diag(LSN_DIAG_WARN,
			 "log %s: snapshot %llu: cannot re-check its archived copy (%s); it does not "
			 "count until it is verified",
			 lsn_log_name(log), (unsigned long long)info->lsn, reason);
		pthread_mutex_lock(&ar->lock);
		s = lsn_archiver_local_find(ar, log, info->lsn);
		if (s) {
			s->state = SNAP_FAILED;
			snprintf(s->reason, sizeof(s->reason), "%s", reason);
			s->backoff = 1;
			s->next_try = now + 1;
		}
		pthread_mutex_unlock(&ar->lock);
		return;
	}
	lsn_diag(LSN_DIAG_ERR,
		 "WARNING: log %s: the archived copy of snapshot %llu is gone or changed (%s); it no "
		 "longer counts as archived and is archived again",
		 lsn_log_name(log), (unsigned long long)info->lsn, reason);
	lsn_snapshot_set_archived(log, info->lsn, false, 0, 0);
	pthread_mutex_lock(&ar->lock);
	s = lsn_archiver_local_find(ar, log, info->lsn);
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
		bool due, recheck, cmd;

		pthread_mutex_lock(&ar->lock);
		s = lsn_archiver_local_find(ar, log, v[i].lsn);
		if (!s) {
			s = lsn_archiver_grow_one((void **)&ar->local, ar->n_local, sizeof(*ar->local));
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
		cmd = recheck && lsn_archive_has_check(ar->archive) && now >= s->next_cmd_check;
		if (recheck)
			s->next_check = now + RECHECK_SECONDS;
		if (cmd)
			s->next_cmd_check = now + CHECK_CMD_SECONDS;
		pthread_mutex_unlock(&ar->lock);
		if (due)
			archive_one(ar, log, &v[i], now);
		else if (recheck)
			recheck_one(ar, log, &v[i], cmd, now);
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
		r = lsn_archiver_remote_find(ar, log, lsns[i]);
		if (r)
			r->seen = true;
		known = r != NULL;
		pthread_mutex_unlock(&ar->lock);
		if (known || remote_content_size(ar, log, lsns[i], &size) != 0)
			continue; /* not readable (yet): not listed */
		pthread_mutex_lock(&ar->lock);
		r = lsn_archiver_grow_one((void **)&ar->remote, ar->n_remote, sizeof(*ar->remote));
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
	note = lsn_archiver_grow_one((void **)&ar->notes, ar->n_notes, sizeof(*ar->notes));
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
		snprintf(ar->other_node, sizeof(ar->other_node), "%.64s", other);
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

	if (!ar->archive || !lsn_archiver_update_availability(ar))
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
