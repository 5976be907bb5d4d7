#include "trim/trim.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Reasons are best-effort text: vsnprintf truncates safely at the buffer end. */
__attribute__((format(printf, 2, 3))) static void lsn_trim_say(char *buf, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, LSN_TRIM_REASON_MAX, fmt, ap);
	va_end(ap);
}

__attribute__((format(printf, 2, 3))) static void lsn_trim_add(char *buf, const char *fmt, ...)
{
	size_t used = strnlen(buf, LSN_TRIM_REASON_MAX - 1);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf + used, LSN_TRIM_REASON_MAX - used, fmt, ap);
	va_end(ap);
}

const char *lsn_trim_strategy_name(enum lsn_trim_strategy s)
{
	switch (s) {
	case LSN_TRIM_NONE:
		return "none";
	case LSN_TRIM_ARCHIVED:
		return "archived";
	case LSN_TRIM_PERSISTED:
		return "persisted";
	}
	return "unknown";
}

const char *lsn_trim_mode_name(enum lsn_trim_mode m)
{
	switch (m) {
	case LSN_TRIM_MODE_SINGLE:
		return "single";
	case LSN_TRIM_MODE_CLUSTER:
		return "cluster";
	}
	return "unknown";
}

enum lsn_trim_strategy lsn_trim_strategy_for(enum lsn_trim_mode mode, bool archive_configured,
					     bool other_nodes_seen)
{
	if (archive_configured)
		return LSN_TRIM_ARCHIVED;
	if (mode == LSN_TRIM_MODE_SINGLE && !other_nodes_seen)
		return LSN_TRIM_PERSISTED;
	return LSN_TRIM_NONE;
}

static unsigned lsn_trim_settle_count(const struct lsn_trim_settle *s)
{
	return s->n < LSN_TRIM_SETTLE_SLOTS ? s->n : LSN_TRIM_SETTLE_SLOTS;
}

static bool lsn_trim_elapsed(uint64_t since, uint64_t now, uint64_t delay)
{
	/* Written without since + delay so that huge values cannot wrap. */
	return now >= since && now - since >= delay;
}

/*
 * Make room in a full history for a new, higher entry at `now`.  Entries
 * below the newest settled one can never be the usable point again: they
 * go first.  If all are still settling, one entry after the oldest goes:
 * the one whose neighbours are closest in time, ties to the older, so the
 * history thins evenly.  Dropping an entry only ever delays a point (the
 * one below it still holds); restarting the newest entry's clock instead
 * would starve a point that rises at every observation: it would never
 * settle.  Returns the new count.
 */
static unsigned lsn_trim_settle_make_room(struct lsn_trim_settle *s, unsigned n, uint64_t now,
					  uint64_t delay)
{
	unsigned settled = 0, from = 1, count = 1; /* drop slot[from .. from + count) */
	uint64_t best_gap = UINT64_MAX;

	for (unsigned i = 0; i < n; i++)
		if (lsn_trim_elapsed(s->slot[i].since, now, delay))
			settled = i;
	if (settled > 0) {
		from = 0;
		count = settled;
	} else {
		for (unsigned i = 1; i < n; i++) {
			uint64_t next = i + 1 < n ? s->slot[i + 1].since : now;

			if (next - s->slot[i - 1].since < best_gap) {
				best_gap = next - s->slot[i - 1].since;
				from = i;
			}
		}
	}
	memmove(&s->slot[from], &s->slot[from + count], (n - from - count) * sizeof(s->slot[0]));
	return n - count;
}

void lsn_trim_settle_observe(struct lsn_trim_settle *s, uint64_t raw_lsn, uint64_t now,
			     uint64_t delay)
{
	unsigned n = lsn_trim_settle_count(s);

	/*
	 * Points above the new raw point were not safe continuously: forget
	 * them.  But the raw point itself has been safe since the oldest of
	 * them became safe (the raw point was above it all along), so the
	 * lowest forgotten entry is kept, lowered to the raw point.
	 */
	if (n > 0 && s->slot[n - 1].point > raw_lsn) {
		unsigned j = 0;

		while (s->slot[j].point < raw_lsn)
			j++;
		n = raw_lsn > 0 ? j + 1 : 0;
		if (n > 0)
			s->slot[j].point = raw_lsn;
	}
	if (raw_lsn > 0 && (n == 0 || raw_lsn > s->slot[n - 1].point)) {
		if (n == LSN_TRIM_SETTLE_SLOTS)
			n = lsn_trim_settle_make_room(s, n, now, delay);
		s->slot[n].point = raw_lsn;
		s->slot[n].since = now;
		n++;
	}
	s->n = n;
}

uint64_t lsn_trim_settle_usable(const struct lsn_trim_settle *s, uint64_t now, uint64_t delay)
{
	unsigned n = lsn_trim_settle_count(s);
	uint64_t best = 0;

	for (unsigned i = 0; i < n; i++)
		if (lsn_trim_elapsed(s->slot[i].since, now, delay) && s->slot[i].point > best)
			best = s->slot[i].point;
	return best;
}

/* Seconds for which `point` has been continuously safe, 0 if not recorded. */
static uint64_t lsn_trim_settle_age(const struct lsn_trim_settle *s, uint64_t point, uint64_t now)
{
	unsigned n = lsn_trim_settle_count(s);

	for (unsigned i = 0; i < n; i++)
		if (s->slot[i].point >= point)
			return now > s->slot[i].since ? now - s->slot[i].since : 0;
	return 0;
}

enum lsn_trim_limit { LIMIT_STRATEGY, LIMIT_PERSISTED, LIMIT_HOLD };

/* `hold`: index of the limiting hold when by == LIMIT_HOLD. */
static void lsn_trim_describe(const struct lsn_trim_input *in, enum lsn_trim_strategy strategy,
			      enum lsn_trim_limit by, size_t hold, uint64_t point, char *reason)
{
	uint64_t tail = in->tail_lsn;

	if (by == LIMIT_HOLD && in->hold_names && in->hold_names[hold]) {
		lsn_trim_say(reason, "reader hold %s at %" PRIu64, in->hold_names[hold], point);
	} else if (by == LIMIT_HOLD) {
		lsn_trim_say(reason, "a reader hold at %" PRIu64, point);
	} else if (by == LIMIT_PERSISTED) {
		lsn_trim_say(reason, "persisted_lsn %" PRIu64 " is below archived %" PRIu64,
			     in->persisted_lsn, in->archived_lsn);
	} else if (strategy == LSN_TRIM_ARCHIVED) {
		if (in->archived_lsn == 0)
			lsn_trim_say(reason, "archived: no snapshot has been archived yet (tail %" PRIu64 ")",
				     tail);
		else
			lsn_trim_say(reason,
				     "archived: highest archived snapshot covers %" PRIu64
				     " of tail %" PRIu64,
				     in->archived_lsn, tail);
	} else if (strategy == LSN_TRIM_PERSISTED) {
		if (in->persisted_lsn == 0)
			lsn_trim_say(reason,
				     "persisted: consumer has not set persisted_lsn (tail %" PRIu64 ")",
				     tail);
		else
			lsn_trim_say(reason, "persisted: consumer persisted %" PRIu64 " of tail %" PRIu64,
				     in->persisted_lsn, tail);
	} else if (in->mode == LSN_TRIM_MODE_CLUSTER) {
		lsn_trim_say(reason,
			     "strategy none: cluster mode needs a snapshot archive; nothing is trimmed");
	} else {
		lsn_trim_say(reason, "strategy none: another node was seen, so trimming needs a "
				     "snapshot archive; nothing is trimmed");
	}
}

void lsn_trim_decide(const struct lsn_trim_input *in, struct lsn_trim_decision *out)
{
	enum lsn_trim_limit by = LIMIT_STRATEGY;
	size_t hold = 0;
	uint64_t point = 0;
	uint64_t safe;

	memset(out, 0, sizeof(*out));
	out->strategy = lsn_trim_strategy_for(in->mode, in->archive_configured, in->other_nodes_seen);
	if (out->strategy == LSN_TRIM_ARCHIVED)
		point = in->archived_lsn;
	else if (out->strategy == LSN_TRIM_PERSISTED)
		point = in->persisted_lsn;

	/* Strictly lower only, so the earliest rule wins a tie and names the reason. */
	if (in->persisted_lsn != 0 && in->persisted_lsn < point) {
		point = in->persisted_lsn;
		by = LIMIT_PERSISTED;
	}
	for (size_t i = 0; in->holds && i < in->n_holds; i++) {
		if (in->holds[i] < point) {
			point = in->holds[i];
			by = LIMIT_HOLD;
			hold = i;
		}
	}
	if (point > in->tail_lsn)
		point = in->tail_lsn;
	out->raw_lsn = point;
	if (point < in->tail_lsn)
		lsn_trim_describe(in, out->strategy, by, hold, point, out->reason);

	safe = point;
	if (safe > 0 && !lsn_trim_elapsed(in->mounted_at, in->now, in->trim_delay)) {
		lsn_trim_say(out->reason,
			     "startup protection: mounted %" PRIu64 " s ago, trim_delay %" PRIu64
			     " s (point %" PRIu64 ")",
			     in->now > in->mounted_at ? in->now - in->mounted_at : 0, in->trim_delay,
			     point);
		safe = 0;
	} else if (safe > 0 && in->settle && in->trim_delay > 0) {
		uint64_t usable = lsn_trim_settle_usable(in->settle, in->now, in->trim_delay);

		if (usable < safe) {
			lsn_trim_say(out->reason,
				     "settling: point %" PRIu64 " safe for %" PRIu64
				     " s of trim_delay %" PRIu64 " s; usable %" PRIu64,
				     point, lsn_trim_settle_age(in->settle, point, in->now),
				     in->trim_delay, usable);
			safe = usable;
		}
	}
	out->safe_lsn = safe;

	/* Data below the trim point is gone: without a covering archive no node can seed. */
	if ((in->mode == LSN_TRIM_MODE_CLUSTER || in->other_nodes_seen) &&
	    in->trim_point > in->archived_lsn) {
		lsn_trim_add(out->reason,
			     "%sWARNING: trim point %" PRIu64
			     " is not covered by an archived snapshot (archived %" PRIu64
			     "); a new node cannot seed this log until one is archived",
			     out->reason[0] ? "; " : "", in->trim_point, in->archived_lsn);
	}
}

/* "(strategy X: why)" for refusals, without repeating a reason that names the strategy. */
static void lsn_trim_explain(const struct lsn_trim_decision *d, char *buf)
{
	const char *name = lsn_trim_strategy_name(d->strategy);
	size_t name_len = strlen(name);

	if (d->reason[0] == '\0')
		lsn_trim_say(buf, "(strategy %s; nothing beyond the tail can be trimmed)", name);
	else if (strncmp(d->reason, "strategy ", 9) == 0)
		lsn_trim_say(buf, "(%s)", d->reason);
	else if (strncmp(d->reason, name, name_len) == 0 && d->reason[name_len] == ':')
		lsn_trim_say(buf, "(strategy %s)", d->reason);
	else
		lsn_trim_say(buf, "(strategy %s: %s)", name, d->reason);
}

int lsn_trim_plan(const struct lsn_trim_decision *decision, const struct lsn_trim_segment *segments,
		  size_t n_segments, uint64_t upto_lsn, size_t *n_remove, char *reason)
{
	char why[LSN_TRIM_REASON_MAX];
	size_t n = 0;

	if (n_remove)
		*n_remove = 0;
	if (reason)
		reason[0] = '\0';
	if (upto_lsn > decision->safe_lsn) {
		if (reason) {
			lsn_trim_explain(decision, why);
			lsn_trim_say(reason, "trim to %" PRIu64 " refused: safe trim LSN is %" PRIu64 " %s",
				     upto_lsn, decision->safe_lsn, why);
		}
		return -EPERM;
	}
	while (n < n_segments && segments[n].sealed && segments[n].last_lsn <= upto_lsn)
		n++;
	if (n_remove)
		*n_remove = n;
	return 0;
}

int lsn_trim_plan_segment(const struct lsn_trim_decision *decision,
			  const struct lsn_trim_segment *segments, size_t n_segments,
			  uint64_t first_lsn, char *reason)
{
	char scratch[LSN_TRIM_REASON_MAX];
	char why[LSN_TRIM_REASON_MAX];
	size_t i = 0;

	if (!reason)
		reason = scratch;
	reason[0] = '\0';
	while (i < n_segments && segments[i].first_lsn != first_lsn)
		i++;
	if (i == n_segments) {
		lsn_trim_say(reason, "no retained segment starts at %020" PRIu64, first_lsn);
		return -ENOENT;
	}
	if (i > 0) {
		lsn_trim_say(reason,
			     "segment %020" PRIu64 " is not the oldest retained segment (oldest starts at %" PRIu64
			     "); trim removes segments from the front",
			     first_lsn, segments[0].first_lsn);
		return -EPERM;
	}
	if (!segments[i].sealed) {
		lsn_trim_say(reason,
			     "segment %020" PRIu64 " is the active segment; the active segment is never trimmed",
			     first_lsn);
		return -EPERM;
	}
	if (segments[i].last_lsn > decision->safe_lsn) {
		lsn_trim_explain(decision, why);
		lsn_trim_say(reason, "segment ends at %" PRIu64 " but safe trim LSN is %" PRIu64 " %s",
			     segments[i].last_lsn, decision->safe_lsn, why);
		return -EPERM;
	}
	return 0;
}

int lsn_trim_check_mode_switch(enum lsn_trim_mode from, enum lsn_trim_mode to, bool archive_configured,
			       const struct lsn_trim_log_cover *logs, size_t n_logs, char *reason)
{
	char scratch[LSN_TRIM_REASON_MAX];

	if (!reason)
		reason = scratch;
	reason[0] = '\0';
	if (from == to)
		return 0;
	if (to == LSN_TRIM_MODE_SINGLE) {
		lsn_trim_say(reason, "switching back to single mode is refused: a cluster node never "
				     "trims by persisted position again");
		return -EPERM;
	}
	if (!archive_configured) {
		lsn_trim_say(reason,
			     "cluster mode needs a snapshot archive (archive=DIR or archive_command)");
		return -EPERM;
	}
	for (size_t i = 0; logs && i < n_logs; i++) {
		if (logs[i].archived_lsn < logs[i].trim_point) {
			lsn_trim_say(reason,
				     "log %s: trim point %" PRIu64
				     " is not covered by an archived snapshot (archived %" PRIu64 ")",
				     logs[i].name ? logs[i].name : "?", logs[i].trim_point,
				     logs[i].archived_lsn);
			return -EPERM;
		}
	}
	return 0;
}
