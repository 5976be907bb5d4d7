/*
 * fs/trimmer.c - feeding the trim engine and carrying out its answers.
 *
 * The engine (trim/) is pure; this file gathers its inputs (the store's
 * view under the log's lock, the verified archived LSN, the mode, holds,
 * clocks), keeps each log's settling history, and is the only caller of
 * lsn_log_trim().  A background thread observes every log once a second
 * (so that "safe for trim_delay seconds" means continuously observed) and,
 * with auto_trim, trims each log to its safe point on that period.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs/archiver.h"
#include "fs/trimmer.h"
#include "storage/diag.h"

struct settle_entry {
	struct lsn_log *log;
	struct lsn_trim_settle settle;
};

struct lsnfs_trimmer {
	struct lsnfs *fs;
	pthread_mutex_t lock; /* entries, stop */
	pthread_cond_t wake;
	struct settle_entry *entries;
	size_t n_entries;
	bool stop;
	bool started;
	pthread_t thread;
};

static struct lsnfs_trimmer *the_trimmer;

static struct lsn_trim_settle *settle_for(struct lsnfs_trimmer *t, struct lsn_log *log)
{
	void *p;

	for (size_t i = 0; i < t->n_entries; i++)
		if (t->entries[i].log == log)
			return &t->entries[i].settle;
	p = realloc(t->entries, (t->n_entries + 1) * sizeof(*t->entries));
	if (!p)
		return NULL;
	t->entries = p;
	memset(&t->entries[t->n_entries], 0, sizeof(*t->entries));
	t->entries[t->n_entries].log = log;
	return &t->entries[t->n_entries++].settle;
}

/* Decide from a consistent view; observe the raw point for settling. */
static void decide_view(struct lsn_log *log, const struct lsn_trim_view *view,
			struct lsn_trim_decision *d)
{
	struct lsnfs_trimmer *t = the_trimmer;
	struct lsnfs *fs = t->fs;
	const struct lsn_config *cfg = lsn_store_config(fs->store);
	uint64_t *holds = malloc((view->n_holds + 1) * sizeof(*holds));
	struct lsn_trim_settle settle_copy, *settle;
	struct lsn_trim_input in = { 0 };
	uint64_t now_ms;

	for (size_t i = 0; holds && i < view->n_holds; i++)
		holds[i] = view->holds[i].lsn;
	in.mode = cfg->mode;
	in.archive_configured = cfg->archive[0] || cfg->archive_command[0];
	in.other_nodes_seen = lsnfs_archiver_other_nodes_seen();
	in.tail_lsn = view->tail_lsn;
	in.trim_point = view->trim_point;
	in.archived_lsn = lsnfs_archived_lsn(log);
	in.persisted_lsn = view->persisted_lsn;
	in.holds = holds;
	in.n_holds = holds ? view->n_holds : 0;
	if (!holds && view->n_holds) {
		/* Cannot see the holds: be safe, trim nothing. */
		in.n_holds = 1;
		in.holds = &(uint64_t){ 0 };
	}
	now_ms = lsnfs_monotonic_ms();
	in.now = now_ms / 1000;
	/* Whole seconds must never cut trim_delay short: the mount time is
	 * rounded up, now down (with no delay there is nothing to round). */
	in.mounted_at = cfg->trim_delay ? (fs->mounted_at_ms + 999) / 1000 : in.now;
	in.trim_delay = cfg->trim_delay;

	lsn_trim_decide(&in, d); /* raw point, no settling yet */
	pthread_mutex_lock(&t->lock);
	settle = settle_for(t, log);
	if (settle) {
		/* Safe from the next whole second on: rounding up. */
		lsn_trim_settle_observe(settle, d->raw_lsn, (now_ms + 999) / 1000);
		settle_copy = *settle;
	} else {
		memset(&settle_copy, 0, sizeof(settle_copy)); /* no history: nothing settled */
	}
	pthread_mutex_unlock(&t->lock);
	in.settle = &settle_copy;
	lsn_trim_decide(&in, d);
	free(holds);
}

static struct lsn_trim_segment *engine_segments(const struct lsn_trim_view *view)
{
	struct lsn_trim_segment *s = malloc((view->n_segments + 1) * sizeof(*s));

	for (size_t i = 0; s && i < view->n_segments; i++) {
		s[i].first_lsn = view->segments[i].first_lsn;
		s[i].last_lsn = view->segments[i].last_lsn;
		s[i].sealed = view->segments[i].sealed && i + 1 < view->n_segments;
	}
	return s;
}

enum plan_kind { PLAN_DECIDE_ONLY, PLAN_SEGMENT, PLAN_UPTO, PLAN_SAFE };

struct plan_ctx {
	struct lsn_log *log;
	enum plan_kind kind;
	uint64_t lsn; /* PLAN_SEGMENT: first lsn; PLAN_UPTO: upto */
	struct lsn_trim_decision d;
	char reason[LSN_TRIM_REASON_MAX];
	uint64_t trimmed_to;
};

static int planner(void *arg, const struct lsn_trim_view *view, size_t *n_remove)
{
	struct plan_ctx *c = arg;
	struct lsn_trim_segment *segs;
	int rc = 0;

	*n_remove = 0;
	decide_view(c->log, view, &c->d);
	if (c->kind == PLAN_DECIDE_ONLY)
		return 0;
	segs = engine_segments(view);
	if (!segs)
		return -ENOMEM;
	switch (c->kind) {
	case PLAN_SEGMENT:
		rc = lsn_trim_plan_segment(&c->d, segs, view->n_segments, c->lsn, c->reason);
		if (rc == 0)
			*n_remove = 1;
		break;
	case PLAN_SAFE:
		rc = lsn_trim_plan(&c->d, segs, view->n_segments, c->d.safe_lsn, n_remove, c->reason);
		break;
	default:
		rc = lsn_trim_plan(&c->d, segs, view->n_segments, c->lsn, n_remove, c->reason);
		break;
	}
	if (rc == 0 && *n_remove > 0)
		c->trimmed_to = segs[*n_remove - 1].last_lsn;
	free(segs);
	return rc;
}

static void warn_strategy(struct lsn_log *log, const struct lsn_trim_decision *d, bool trimmed)
{
	if (d->strategy == LSN_TRIM_PERSISTED && trimmed)
		lsn_diag(LSN_DIAG_WARN,
			 "log %s: trimmed by persisted position (single-node mode, no archive): this node "
			 "cannot later join a cluster until a snapshot covering the trim point is archived",
			 lsn_log_name(log));
	else if (d->strategy == LSN_TRIM_NONE && !trimmed)
		lsn_diag(LSN_DIAG_WARN,
			 "log %s: nothing is trimmed: cluster mode needs a snapshot archive (archive=DIR "
			 "or archive_command)",
			 lsn_log_name(log));
}

static int run_plan(struct plan_ctx *c, bool quiet)
{
	size_t removed = 0;
	int rc = lsn_log_trim(c->log, planner, c, &removed);

	if (rc == -EPERM) {
		if (!quiet)
			lsn_diag(LSN_DIAG_WARN, "log %s: trim refused: %s", lsn_log_name(c->log),
				 c->reason);
		if (!quiet)
			warn_strategy(c->log, &c->d, false);
	} else if (rc == 0 && removed > 0) {
		lsn_diag(LSN_DIAG_INFO, "log %s: trimmed %zu segment(s) through LSN %llu (strategy %s, safe trim LSN %llu)",
			 lsn_log_name(c->log), removed, (unsigned long long)c->trimmed_to,
			 lsn_trim_strategy_name(c->d.strategy), (unsigned long long)c->d.safe_lsn);
		warn_strategy(c->log, &c->d, true);
	}
	return rc;
}

int lsnfs_trim_segment(struct lsn_log *log, uint64_t first_lsn)
{
	struct plan_ctx c = { .log = log, .kind = PLAN_SEGMENT, .lsn = first_lsn };

	return run_plan(&c, false);
}

int lsnfs_trim_to(struct lsn_log *log, const char *value)
{
	struct plan_ctx c = { .log = log, .kind = PLAN_UPTO };

	if (strcmp(value, "safe") == 0)
		c.kind = PLAN_SAFE;
	else if (lsn_parse_u64(value, &c.lsn) != 0)
		return -EINVAL;
	return run_plan(&c, false);
}

void lsnfs_trim_decide(struct lsn_log *log, struct lsn_trim_decision *d)
{
	struct plan_ctx c = { .log = log, .kind = PLAN_DECIDE_ONLY };

	if (lsn_log_trim(log, planner, &c, NULL) != 0)
		memset(&c.d, 0, sizeof(c.d));
	*d = c.d;
}

/* A dry run of `rm`: plan under the lock, then refuse on purpose. */
struct dry_ctx {
	struct plan_ctx plan;
	int verdict;
};

static int dry_planner(void *arg, const struct lsn_trim_view *view, size_t *n_remove)
{
	struct dry_ctx *c = arg;

	c->verdict = planner(&c->plan, view, n_remove);
	*n_remove = 0;
	return 0;
}

int lsnfs_trim_segment_blocked(struct lsn_log *log, uint64_t first_lsn, char *buf, size_t n)
{
	struct dry_ctx c = { .plan = { .log = log, .kind = PLAN_SEGMENT, .lsn = first_lsn } };
	int rc = lsn_log_trim(log, dry_planner, &c, NULL);

	if (rc)
		return rc;
	if (c.verdict == -ENOENT)
		return -ENOENT;
	snprintf(buf, n, "%s", c.verdict ? c.plan.reason : "");
	return 0;
}

/* ---- mode ---------------------------------------------------------------- */

int lsnfs_set_mode(enum lsn_mode mode)
{
	struct lsnfs *fs = lsnfs_ctx();
	const struct lsn_config *cfg = lsn_store_config(fs->store);
	struct lsn_trim_log_cover *covers = NULL;
	char reason[LSN_TRIM_REASON_MAX];
	char **names = NULL;
	size_t n = 0;
	int rc;

	rc = lsn_store_list_logs(fs->store, &names, &n);
	if (rc)
		return rc;
	covers = calloc(n + 1, sizeof(*covers));
	if (!covers) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		struct lsn_log *log;
		struct lsn_log_info info;

		covers[i].name = names[i];
		if (lsn_store_find_log(fs->store, names[i], &log) != 0)
			continue;
		lsn_log_info(log, &info);
		covers[i].trim_point = info.trim_point;
		covers[i].archived_lsn = lsnfs_archived_lsn(log);
	}
	rc = lsn_trim_check_mode_switch(cfg->mode, mode, cfg->archive[0] || cfg->archive_command[0],
					covers, n, reason);
	if (rc) {
		lsn_diag(LSN_DIAG_WARN, "mode %s -> %s refused: %s", lsn_trim_mode_name(cfg->mode),
			 lsn_trim_mode_name(mode), reason);
		goto out;
	}
	if (mode != cfg->mode) {
		rc = lsn_store_set_mode(fs->store, mode);
		if (!rc)
			lsn_diag(LSN_DIAG_WARN, "node switched to %s mode", lsn_trim_mode_name(mode));
	}
out:
	free(covers);
	lsn_names_free(names, n);
	return rc;
}

/* ---- background ---------------------------------------------------------- */

static void tick_all(struct lsnfs_trimmer *t, bool trim)
{
	char **names = NULL;
	size_t n = 0;

	if (lsn_store_list_logs(t->fs->store, &names, &n) != 0)
		return;
	for (size_t i = 0; i < n; i++) {
		struct lsn_log *log;
		struct plan_ctx c = { .kind = trim ? PLAN_SAFE : PLAN_DECIDE_ONLY };

		if (lsn_store_find_log(t->fs->store, names[i], &log) != 0)
			continue;
		c.log = log;
		run_plan(&c, true);
	}
	lsn_names_free(names, n);
}

static void *trimmer_main(void *arg)
{
	struct lsnfs_trimmer *t = arg;
	const struct lsn_config *cfg = lsn_store_config(t->fs->store);
	uint64_t last_trim = lsnfs_monotonic_seconds();

	pthread_mutex_lock(&t->lock);
	while (!t->stop) {
		struct timespec until;
		uint64_t now;
		bool trim;

		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += 1;
		pthread_cond_timedwait(&t->wake, &t->lock, &until);
		if (t->stop)
			break;
		pthread_mutex_unlock(&t->lock);
		now = lsnfs_monotonic_seconds();
		trim = cfg->auto_trim > 0 && now - last_trim >= cfg->auto_trim;
		if (trim)
			last_trim = now;
		tick_all(t, trim);
		pthread_mutex_lock(&t->lock);
	}
	pthread_mutex_unlock(&t->lock);
	return NULL;
}

static void warn_at_mount(struct lsnfs *fs)
{
	const struct lsn_config *cfg = lsn_store_config(fs->store);
	bool archive = cfg->archive[0] || cfg->archive_command[0];

	switch (lsn_trim_strategy_for(cfg->mode, archive, false)) {
	case LSN_TRIM_PERSISTED:
		lsn_diag(LSN_DIAG_WARN,
			 "single-node mode without an archive: segments are trimmed by the consumer's "
			 "persisted position; this node cannot later join a cluster until a snapshot "
			 "covering each log's trim point is archived");
		break;
	case LSN_TRIM_NONE:
		lsn_diag(LSN_DIAG_WARN,
			 "cluster mode without a snapshot archive: nothing will ever be trimmed; "
			 "cluster mode needs a snapshot archive (archive=DIR or archive_command)");
		break;
	default:
		break;
	}
}

int lsnfs_trimmer_start(struct lsnfs *fs)
{
	struct lsnfs_trimmer *t = calloc(1, sizeof(*t));
	int rc;

	if (!t)
		return -ENOMEM;
	t->fs = fs;
	pthread_mutex_init(&t->lock, NULL);
	pthread_cond_init(&t->wake, NULL);
	fs->trimmer = t;
	the_trimmer = t;
	rc = lsnfs_archiver_start(fs);
	if (rc)
		return rc;
	warn_at_mount(fs);
	rc = -pthread_create(&t->thread, NULL, trimmer_main, t);
	if (rc == 0)
		t->started = true;
	return rc;
}

void lsnfs_trimmer_stop(struct lsnfs *fs)
{
	struct lsnfs_trimmer *t = fs->trimmer;

	if (!t)
		return;
	pthread_mutex_lock(&t->lock);
	t->stop = true;
	pthread_cond_signal(&t->wake);
	pthread_mutex_unlock(&t->lock);
	if (t->started)
		pthread_join(t->thread, NULL);
	lsnfs_archiver_stop(fs);
	the_trimmer = NULL;
	pthread_mutex_destroy(&t->lock);
	pthread_cond_destroy(&t->wake);
	free(t->entries);
	free(t);
	fs->trimmer = NULL;
}
