/*
 * node/trimming.c - feeding the trim engine and carrying out its answers.
 *
 * The engine (trim/) is pure; this file gathers its inputs (a read-only
 * view of the log, the confirmed archived LSN, the mode, the clock), keeps
 * each log's settling history, and is the only caller of
 * lsn_log_trim_prefix().  A trim decides and applies under node->trim_lock,
 * which every change of the inputs it depends on also takes (holds,
 * persisted_lsn, mode, snapshot unlink), so nothing can slip in between
 * the decision and the removal.  Queries decide without it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/node_internal.h"
#include "storage/diag.h"

/* settle_lock held.  NULL only when out of memory. */
static struct lsn_trim_settle *settle_for(struct lsn_node *node, struct lsn_log *log)
{
	struct settle_entry *p;

	for (size_t i = 0; i < node->n_settle; i++)
		if (node->settle[i].log == log)
			return &node->settle[i].settle;
	p = realloc(node->settle, (node->n_settle + 1) * sizeof(*p));
	if (!p)
		return NULL;
	node->settle = p;
	memset(&p[node->n_settle], 0, sizeof(*p));
	p[node->n_settle].log = log;
	return &p[node->n_settle++].settle;
}

/* While the archive is unavailable its confirmations count as nothing:
 * say so first in the reason (trim_blocked, lsnfsctl status). */
static void say_unavailable(struct lsn_node *node, struct lsn_log *log,
			    struct lsn_trim_decision *d)
{
	char why[LSN_TRIM_REASON_MAX], was[LSN_TRIM_REASON_MAX];
	uint64_t failed;

	if (d->strategy != LSN_TRIM_ARCHIVED)
		return;
	memcpy(was, d->reason, sizeof(was));
	if (lsn_archiver_unavailable(node->archiver, why, sizeof(why)))
		snprintf(d->reason, sizeof(d->reason), "%.160s%s%.90s", why, was[0] ? "; " : "", was);
	else if (was[0] && lsn_archiver_failure(node->archiver, log, &failed, why, sizeof(why)))
		/* Why the next archived snapshot is not there: the command's
		 * last stderr line, as in the snapshot's `failed: REASON`. */
		snprintf(d->reason, sizeof(d->reason), "%.120s; archiving snapshot %llu failed: %.100s",
			 was, (unsigned long long)failed, why);
}

/*
 * The decision for a view.  `observe`: record the raw point in the settle
 * history first (trims and the trim pass do; queries only read it).
 */
static void decide_view(struct lsn_node *node, struct lsn_log *log,
			const struct lsn_log_view *view, bool observe, struct lsn_trim_decision *d)
{
	const struct lsn_config *cfg = lsn_store_config(node->store);
	uint64_t *holds = malloc((view->n_holds + 1) * sizeof(*holds));
	const char **names = malloc((view->n_holds + 1) * sizeof(*names));
	struct lsn_trim_settle settle_copy = { 0 }, *settle;
	struct lsn_trim_input in = { 0 };
	uint64_t now_ms = lsn_clock_now_ms(node->clock);

	for (size_t i = 0; holds && i < view->n_holds; i++)
		holds[i] = view->holds[i].lsn;
	for (size_t i = 0; names && i < view->n_holds; i++)
		names[i] = view->holds[i].name;
	in.mode = lsn_node_trim_mode(lsn_store_mode(node->store));
	in.archive_configured = lsn_archiver_configured(node->archiver);
	in.other_nodes_seen = lsn_archiver_other_nodes_seen(node->archiver);
	in.tail_lsn = view->tail_lsn;
	in.trim_point = view->trim_point;
	in.archived_lsn = lsn_archiver_archived_lsn(node->archiver, log, 0);
	in.persisted_lsn = view->persisted_lsn;
	in.holds = holds;
	in.hold_names = names;
	in.n_holds = holds ? view->n_holds : 0;
	if (!holds && view->n_holds) {
		/* Cannot see the holds: be safe, trim nothing. */
		in.n_holds = 1;
		in.holds = &(uint64_t){ 0 };
		in.hold_names = NULL;
	}
	in.now = now_ms / 1000;
	/* Whole seconds must never cut trim_delay short: the start is rounded
	 * up, now down (with no delay there is nothing to round). */
	in.mounted_at = cfg->trim_delay ? (node->opened_ms + 999) / 1000 : in.now;
	in.trim_delay = cfg->trim_delay;

	lsn_trim_decide(&in, d); /* the raw point, no settling yet */
	pthread_mutex_lock(&node->settle_lock);
	settle = settle_for(node, log);
	if (settle && observe)
		/* Safe from the next whole second on: rounding up. */
		lsn_trim_settle_observe(settle, d->raw_lsn, (now_ms + 999) / 1000, cfg->trim_delay);
	if (settle)
		settle_copy = *settle; /* no history: nothing has settled */
	pthread_mutex_unlock(&node->settle_lock);
	in.settle = &settle_copy;
	lsn_trim_decide(&in, d);
	say_unavailable(node, log, d);
	free(holds);
	free(names);
}

int lsn_node_decide(struct lsn_node *node, struct lsn_log *log, struct lsn_trim_decision *d)
{
	struct lsn_log_view view;
	int rc = lsn_log_view(log, 0, &view);

	memset(d, 0, sizeof(*d));
	if (rc)
		return rc;
	decide_view(node, log, &view, false, d);
	lsn_log_view_release(&view);
	return 0;
}

uint64_t lsn_node_archived_lsn(struct lsn_node *node, struct lsn_log *log)
{
	return lsn_archiver_archived_lsn(node->archiver, log, 0);
}

/* ---- planning and applying -------------------------------------------------- */

enum plan_kind { PLAN_SEGMENT, PLAN_UPTO, PLAN_SAFE };

struct plan {
	enum plan_kind kind;
	uint64_t lsn; /* PLAN_SEGMENT: its first LSN; PLAN_UPTO: the limit */
	struct lsn_trim_decision d;
	char reason[LSN_TRIM_REASON_MAX];
	size_t n_remove;
	uint64_t trimmed_to, bytes;
};

static struct lsn_trim_segment *engine_segments(const struct lsn_log_view *view)
{
	struct lsn_trim_segment *s = malloc((view->n_segments + 1) * sizeof(*s));

	for (size_t i = 0; s && i < view->n_segments; i++) {
		s[i].first_lsn = view->segments[i].first_lsn;
		s[i].last_lsn = view->segments[i].last_lsn;
		s[i].sealed = view->segments[i].sealed && i + 1 < view->n_segments;
	}
	return s;
}

/* Ask the engine on a view: 0 with p->n_remove set, or -EPERM/-ENOENT. */
static int plan_on_view(struct lsn_node *node, struct lsn_log *log,
			const struct lsn_log_view *view, struct plan *p)
{
	struct lsn_trim_segment *segs;
	int rc;

	p->n_remove = 0;
	decide_view(node, log, view, true, &p->d);
	segs = engine_segments(view);
	if (!segs)
		return -ENOMEM;
	switch (p->kind) {
	case PLAN_SEGMENT:
		rc = lsn_trim_plan_segment(&p->d, segs, view->n_segments, p->lsn, p->reason);
		if (rc == 0)
			p->n_remove = 1;
		break;
	case PLAN_SAFE:
		rc = lsn_trim_plan(&p->d, segs, view->n_segments, p->d.safe_lsn, &p->n_remove,
				   p->reason);
		break;
	default:
		rc = lsn_trim_plan(&p->d, segs, view->n_segments, p->lsn, &p->n_remove, p->reason);
		break;
	}
	for (size_t i = 0; rc == 0 && i < p->n_remove; i++)
		p->bytes += view->segments[i].bytes;
	if (rc == 0 && p->n_remove > 0)
		p->trimmed_to = segs[p->n_remove - 1].last_lsn;
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

/* Decide and apply under trim_lock.  `quiet`: the periodic pass, which
 * does not log refusals (it would every second). */
static int run_plan(struct lsn_node *node, struct lsn_log *log, struct plan *p, bool quiet)
{
	struct lsn_log_view view;
	int rc;

	pthread_mutex_lock(&node->trim_lock);
	rc = lsn_log_view(log, LSN_VIEW_SEGMENTS, &view);
	if (rc == 0)
		rc = plan_on_view(node, log, &view, p);
	/* The copy that allows the trim is looked at now, not as of the last
	 * re-check: it may have been deleted behind the node's back. */
	if (rc == 0 && p->n_remove > 0 && p->d.strategy == LSN_TRIM_ARCHIVED &&
	    lsn_archiver_check_cover(node->archiver, log, p->trimmed_to, p->reason,
				     sizeof(p->reason)) != 0)
		rc = -EPERM;
	/* Other nodes sharing the archive must know the new trim point before
	 * it exists: they refuse to unlink the snapshot it depends on. */
	if (rc == 0 && p->n_remove > 0 &&
	    lsn_node_publish_trim(node, log, p->trimmed_to, p->reason, sizeof(p->reason)) != 0)
		rc = -EPERM;
	if (rc == 0 && p->n_remove > 0)
		rc = lsn_log_trim_prefix(log, view.first_lsn, p->n_remove, NULL);
	lsn_log_view_release(&view);
	pthread_mutex_unlock(&node->trim_lock);

	if (rc == -EPERM && !quiet) {
		atomic_fetch_add(&node->trims_refused, 1);
		lsn_diag(LSN_DIAG_WARN, "log %s: trim refused: %s", lsn_log_name(log), p->reason);
		warn_strategy(log, &p->d, false);
	} else if (rc == 0 && p->n_remove > 0) {
		atomic_fetch_add(&node->segments_trimmed, p->n_remove);
		atomic_fetch_add(&node->bytes_trimmed, p->bytes);
		lsn_diag(LSN_DIAG_INFO,
			 "log %s: trimmed %zu segment(s) through LSN %llu (strategy %s, safe trim LSN %llu)",
			 lsn_log_name(log), p->n_remove, (unsigned long long)p->trimmed_to,
			 lsn_trim_strategy_name(p->d.strategy), (unsigned long long)p->d.safe_lsn);
		warn_strategy(log, &p->d, true);
	}
	return rc;
}

int lsn_node_trim_segment(struct lsn_node *node, struct lsn_log *log, uint64_t first_lsn)
{
	struct plan p = { .kind = PLAN_SEGMENT, .lsn = first_lsn };

	return run_plan(node, log, &p, false);
}

int lsn_node_trim_to(struct lsn_node *node, struct lsn_log *log, uint64_t upto)
{
	struct plan p = { .kind = PLAN_UPTO, .lsn = upto };

	return run_plan(node, log, &p, false);
}

int lsn_node_trim_safe(struct lsn_node *node, struct lsn_log *log)
{
	struct plan p = { .kind = PLAN_SAFE };

	return run_plan(node, log, &p, false);
}

int lsn_node_segment_blocked(struct lsn_node *node, struct lsn_log *log, uint64_t first_lsn,
			     char *buf, size_t n)
{
	struct plan p = { .kind = PLAN_SEGMENT, .lsn = first_lsn };
	struct lsn_trim_segment *segs;
	struct lsn_log_view view;
	int rc = lsn_log_view(log, LSN_VIEW_SEGMENTS, &view);

	if (rc)
		return rc;
	decide_view(node, log, &view, false, &p.d);
	segs = engine_segments(&view);
	rc = segs ? lsn_trim_plan_segment(&p.d, segs, view.n_segments, first_lsn, p.reason)
		  : -ENOMEM;
	free(segs);
	lsn_log_view_release(&view);
	if (rc == -ENOENT || rc == -ENOMEM)
		return rc;
	snprintf(buf, n, "%s", rc ? p.reason : "");
	return 0;
}

/* ---- changes of what the rules read --------------------------------------------- */

int lsn_node_set_persisted(struct lsn_node *node, struct lsn_log *log, uint64_t lsn)
{
	struct lsn_log_info info;
	int rc;

	pthread_mutex_lock(&node->trim_lock);
	rc = lsn_log_set_persisted(log, lsn);
	pthread_mutex_unlock(&node->trim_lock);
	if (rc == -EINVAL) {
		lsn_log_info(log, &info);
		lsn_diag(LSN_DIAG_WARN,
			 "log %s: persisted_lsn %llu refused: must be >= %llu (never decreases) and <= tail %llu",
			 lsn_log_name(log), (unsigned long long)lsn, (unsigned long long)info.persisted_lsn,
			 (unsigned long long)info.tail_lsn);
	}
	return rc;
}

int lsn_node_hold_set(struct lsn_node *node, struct lsn_log *log, const char *name, uint64_t lsn)
{
	int rc;

	pthread_mutex_lock(&node->trim_lock);
	rc = lsn_log_hold_set(log, name, lsn);
	pthread_mutex_unlock(&node->trim_lock);
	return rc;
}

int lsn_node_hold_remove(struct lsn_node *node, struct lsn_log *log, const char *name)
{
	int rc;

	pthread_mutex_lock(&node->trim_lock);
	rc = lsn_log_hold_remove(log, name);
	pthread_mutex_unlock(&node->trim_lock);
	return rc;
}

/* ---- the periodic pass ---------------------------------------------------------- */

/* Observe every log's raw point (so "safe for trim_delay seconds" means
 * continuously observed) and, when `trim`, trim it to its safe point. */
void lsn_node_trim_pass(struct lsn_node *node, bool trim)
{
	char **names = NULL;
	size_t n = 0;

	if (lsn_store_list_logs(node->store, &names, &n) != 0)
		return;
	for (size_t i = 0; i < n; i++) {
		struct lsn_log_view view;
		struct lsn_trim_decision d;
		struct plan p = { .kind = PLAN_SAFE };
		struct lsn_log *log;

		if (lsn_store_find_log(node->store, names[i], &log) != 0)
			continue;
		if (trim) {
			run_plan(node, log, &p, true);
		} else if (lsn_log_view(log, 0, &view) == 0) {
			decide_view(node, log, &view, true, &d);
			lsn_log_view_release(&view);
		}
	}
	lsn_names_free(names, n);
}

void lsn_node_warn_strategy_at_start(struct lsn_node *node)
{
	enum lsn_trim_mode mode = lsn_node_trim_mode(lsn_store_mode(node->store));

	switch (lsn_trim_strategy_for(mode, lsn_archiver_configured(node->archiver), false)) {
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
