/*
 * trim/trim.h - the trim engine: pure decisions, no I/O.
 *
 * Design
 * ------
 * The engine answers one question per log: "what is the highest LSN that
 * may be removed right now, and if that is less than asked for, why?"
 * It owns no storage and performs no I/O; callers (node/: every trim request and
 * the auto-trimmer) gather the facts into a struct lsn_trim_input and
 * act on the struct lsn_trim_decision it returns.  That keeps every rule in
 * one place where table-driven unit tests can reach all of it.
 *
 * Rules (../shared/SPEC.md section 4):
 *   strategy archived   an archive is configured: point = archived_lsn
 *   strategy persisted  single mode, no archive, no other node seen:
 *                       point = persisted_lsn
 *   strategy none       everything else (cluster, or single mode that has
 *                       seen another node, without an archive): point = 0
 *   The point is then lowered to every hold and to persisted_lsn when that
 *   is set (non-zero) and lower, and never exceeds tail_lsn.
 *   Startup protection: during the first trim_delay seconds after mount the
 *   point is 0.  Settling: a point is usable only once the raw point has
 *   been at or above it continuously for trim_delay seconds; the caller
 *   keeps a struct lsn_trim_settle per log and feeds it every observation.
 *   A segment may go only when sealed and its last LSN <= the point.
 *
 * Thread safety: all functions are pure or touch only the objects passed
 * in; callers serialise access to a shared struct lsn_trim_settle.
 *
 * Errors follow the project rule: int, 0 on success, negative errno.
 */
#ifndef LSN_TRIM_H
#define LSN_TRIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The node's mode as the engine sees it (storage keeps the persisted one;
 * node/ translates, so the engine depends on nothing of ours). */
enum lsn_trim_mode { LSN_TRIM_MODE_SINGLE = 0, LSN_TRIM_MODE_CLUSTER = 1 };

enum lsn_trim_strategy {
	LSN_TRIM_NONE = 0,
	LSN_TRIM_ARCHIVED = 1,
	LSN_TRIM_PERSISTED = 2,
};

#define LSN_TRIM_REASON_MAX 256
#define LSN_TRIM_SETTLE_SLOTS 16

/* Bounds of one retained segment, oldest first. */
struct lsn_trim_segment {
	uint64_t first_lsn;
	uint64_t last_lsn; /* first_lsn - 1 when the segment holds no record */
	bool sealed;
};

/*
 * Settling history of one log's raw safe point.  Zero-initialised is a
 * valid empty history.  Entries are (point, since) with strictly increasing
 * points; an entry means "the raw point has been >= point since `since`".
 */
struct lsn_trim_settle {
	unsigned n;
	struct {
		uint64_t point;
		uint64_t since; /* seconds, caller's monotonic clock */
	} slot[LSN_TRIM_SETTLE_SLOTS];
};

struct lsn_trim_input {
	enum lsn_trim_mode mode;
	bool archive_configured;
	bool other_nodes_seen;   /* another node registered in the archive */
	uint64_t tail_lsn;       /* last appended LSN, 0 if none */
	uint64_t trim_point;     /* highest trimmed LSN, 0 if none */
	uint64_t archived_lsn;   /* highest LSN covered by a *verified* archived snapshot */
	uint64_t persisted_lsn;  /* 0 when never set */
	const uint64_t *holds;   /* reader holds, any order */
	const char *const *hold_names; /* NULL, or a name per hold (same order): the
				        * reason then names the hold that limits */
	size_t n_holds;
	uint64_t now;            /* seconds, same clock as mounted_at and settle */
	uint64_t mounted_at;
	uint64_t trim_delay;     /* seconds */
	const struct lsn_trim_settle *settle; /* NULL: no settling applied */
};

struct lsn_trim_decision {
	enum lsn_trim_strategy strategy;
	uint64_t raw_lsn;  /* the point before startup/settling protection */
	uint64_t safe_lsn; /* highest LSN that may be removed now */
	/* Why safe_lsn is not the tail (empty when nothing blocks trimming,
	 * i.e. safe_lsn == tail_lsn).  Names the rule and the numbers. */
	char reason[LSN_TRIM_REASON_MAX];
};

const char *lsn_trim_strategy_name(enum lsn_trim_strategy s);
const char *lsn_trim_mode_name(enum lsn_trim_mode m);

/* Strategy alone (no numbers): used for warnings at mount. */
enum lsn_trim_strategy lsn_trim_strategy_for(enum lsn_trim_mode mode, bool archive_configured,
					     bool other_nodes_seen);

/* Compute the decision for one log. Always succeeds. */
void lsn_trim_decide(const struct lsn_trim_input *in, struct lsn_trim_decision *out);

/* Record an observation of the raw point at time `now`.  `delay` is the
 * trim_delay the history is read with: a full history first forgets the
 * entries below the newest settled one, else thins its settling ones; it
 * never restarts an entry's clock, so a point rising at every observation
 * still settles (within about delay / 8 of the ideal). */
void lsn_trim_settle_observe(struct lsn_trim_settle *s, uint64_t raw_lsn, uint64_t now,
			     uint64_t delay);
/* Highest point that has been continuously safe for `delay` seconds at `now`. */
uint64_t lsn_trim_settle_usable(const struct lsn_trim_settle *s, uint64_t now, uint64_t delay);

/*
 * Plan a trim request "remove everything up to upto_lsn".
 * segments: retained segments, oldest first (the last one is the active one).
 * On success *n_remove is how many leading segments go (possibly 0 when no
 * sealed segment ends at or below upto_lsn) and 0 is returned.
 * -EPERM when upto_lsn > decision->safe_lsn; `reason` (LSN_TRIM_REASON_MAX)
 * then says which rule refused and the numbers.  Nothing is planned then.
 */
int lsn_trim_plan(const struct lsn_trim_decision *decision, const struct lsn_trim_segment *segments,
		  size_t n_segments, uint64_t upto_lsn, size_t *n_remove, char *reason);

/*
 * Plan the removal of the one segment starting at first_lsn (an `rm`).
 * 0 when it is the oldest retained, sealed, and its last LSN <= safe_lsn;
 * -EPERM with `reason` filled otherwise; -ENOENT when no such segment.
 */
int lsn_trim_plan_segment(const struct lsn_trim_decision *decision,
			  const struct lsn_trim_segment *segments, size_t n_segments,
			  uint64_t first_lsn, char *reason);

/* Facts about one log needed by the mode-switch guard. */
struct lsn_trim_log_cover {
	const char *name;
	uint64_t trim_point;
	uint64_t archived_lsn;
};

/*
 * May the node switch from `from` to `to`?  0 if yes (also when from == to),
 * -EPERM with `reason` otherwise: cluster -> single is never allowed;
 * single -> cluster needs an archive and, for every log, archived_lsn >=
 * trim_point.
 */
int lsn_trim_check_mode_switch(enum lsn_trim_mode from, enum lsn_trim_mode to, bool archive_configured,
			       const struct lsn_trim_log_cover *logs, size_t n_logs, char *reason);

#endif
