/*
 * Unit tests for the trim engine (trim/trim.h), table-driven: each table row
 * is one rule from SPEC section 4/5 with the numbers that exercise it.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "trim/trim.h"

#define MAX_HOLDS 4
#define NOW 10000 /* well past startup protection unless a case says otherwise */

/* ---- lsn_trim_decide ---------------------------------------------------- */

static const struct lsn_trim_settle settle_empty;
static const struct lsn_trim_settle settle_fresh = { 1, { { 300, NOW - 10 } } };
static const struct lsn_trim_settle settle_two = { 2, { { 100, 1000 }, { 300, NOW - 10 } } };
static const struct lsn_trim_settle settle_settled = { 1, { { 300, NOW - 1000 } } };
static const struct lsn_trim_settle settle_above_raw = { 1, { { 400, 0 } } };

struct decide_case {
	const char *name;
	enum lsn_trim_mode mode;
	bool archive;
	bool others;
	uint64_t tail, trim_point, archived, persisted;
	uint64_t holds[MAX_HOLDS];
	const char *hold_names[MAX_HOLDS]; /* all NULL: the engine gets no names */
	size_t n_holds;
	bool startup; /* use now/mounted_at/delay below instead of the defaults */
	uint64_t now, mounted_at, delay;
	const struct lsn_trim_settle *settle;
	enum lsn_trim_strategy want_strategy;
	uint64_t want_raw, want_safe;
	const char *want_reason; /* substring, or "" for an empty reason */
	const char *not_in_reason; /* NULL: no check */
};

static const struct decide_case decide_cases[] = {
	/* strategy none */
	{ .name = "cluster without archive never trims, even with persisted set",
	  .mode = LSN_TRIM_MODE_CLUSTER, .tail = 500, .persisted = 400,
	  .want_strategy = LSN_TRIM_NONE, .want_raw = 0, .want_safe = 0,
	  .want_reason = "strategy none: cluster mode needs a snapshot archive; nothing is trimmed" },
	{ .name = "cluster without archive, no other node registered (absent) still none",
	  .mode = LSN_TRIM_MODE_CLUSTER, .tail = 500, .archived = 500,
	  .want_strategy = LSN_TRIM_NONE, .want_raw = 0, .want_safe = 0,
	  .want_reason = "cluster mode needs a snapshot archive" },
	{ .name = "cluster without archive, other (possibly dead) nodes seen: none",
	  .mode = LSN_TRIM_MODE_CLUSTER, .others = true, .tail = 500, .persisted = 500,
	  .want_strategy = LSN_TRIM_NONE, .want_raw = 0, .want_safe = 0,
	  .want_reason = "cluster mode needs a snapshot archive" },
	{ .name = "single node that has seen another node: none",
	  .mode = LSN_TRIM_MODE_SINGLE, .others = true, .tail = 500, .persisted = 400,
	  .want_strategy = LSN_TRIM_NONE, .want_raw = 0, .want_safe = 0,
	  .want_reason = "another node was seen, so trimming needs a snapshot archive" },
	{ .name = "strategy none keeps its reason during startup protection",
	  .mode = LSN_TRIM_MODE_CLUSTER, .tail = 500, .persisted = 400,
	  .startup = true, .now = 12, .mounted_at = 0, .delay = 600,
	  .want_strategy = LSN_TRIM_NONE, .want_raw = 0, .want_safe = 0,
	  .want_reason = "cluster mode needs a snapshot archive", .not_in_reason = "startup" },
	/* strategy persisted */
	{ .name = "single node trims by persisted LSN",
	  .mode = LSN_TRIM_MODE_SINGLE, .tail = 500, .persisted = 400, .archived = 100,
	  .want_strategy = LSN_TRIM_PERSISTED, .want_raw = 400, .want_safe = 400,
	  .want_reason = "persisted: consumer persisted 400 of tail 500" },
	{ .name = "single node, persisted at tail: nothing blocks",
	  .mode = LSN_TRIM_MODE_SINGLE, .tail = 500, .persisted = 500,
	  .want_strategy = LSN_TRIM_PERSISTED, .want_raw = 500, .want_safe = 500,
	  .want_reason = "" },
	{ .name = "single node, persisted_lsn never set: nothing trimmed",
	  .mode = LSN_TRIM_MODE_SINGLE, .tail = 500,
	  .want_strategy = LSN_TRIM_PERSISTED, .want_raw = 0, .want_safe = 0,
	  .want_reason = "has not set persisted_lsn" },
	/* strategy archived */
	{ .name = "single node with archive trims by archived LSN, not persisted",
	  .mode = LSN_TRIM_MODE_SINGLE, .archive = true, .tail = 500, .archived = 300,
	  .want_strategy = LSN_TRIM_ARCHIVED, .want_raw = 300, .want_safe = 300,
	  .want_reason = "archived: highest archived snapshot covers 300 of tail 500" },
	{ .name = "cluster with archive trims by archived LSN",
	  .mode = LSN_TRIM_MODE_CLUSTER, .archive = true, .tail = 500, .archived = 300, .persisted = 450,
	  .want_strategy = LSN_TRIM_ARCHIVED, .want_raw = 300, .want_safe = 300,
	  .want_reason = "archived: highest archived snapshot covers 300 of tail 500" },
	{ .name = "cluster with archive and other nodes seen trims by archived LSN",
	  .mode = LSN_TRIM_MODE_CLUSTER, .archive = true, .others = true, .tail = 500,
	  .archived = 300,
	  .want_strategy = LSN_TRIM_ARCHIVED, .want_raw = 300, .want_safe = 300,
	  .want_reason = "covers 300 of tail 500" },
	{ .name = "archive configured but nothing archived yet: nothing trimmed",
	  .mode = LSN_TRIM_MODE_CLUSTER, .archive = true, .tail = 500, .persisted = 400,
	  .want_strategy = LSN_TRIM_ARCHIVED, .want_raw = 0, .want_safe = 0,
	  .want_reason = "no snapshot has been archived yet" },
	{ .name = "archived above persisted is lowered to persisted",
	  .mode = LSN_TRIM_MODE_CLUSTER, .archive = true, .tail = 500, .archived = 300,
	  .persisted = 120,
	  .want_strategy = LSN_TRIM_ARCHIVED, .want_raw = 120, .want_safe = 120,
	  .want_reason = "persisted_lsn 120 is below archived 300" },
	/* holds, named: the reason names the one that limits */
	{ .name = "named holds: the limiting hold is named",
	  .mode = LSN_TRIM_MODE_SINGLE, .archive = true, .tail = 5000, .archived = 4000,
	  .holds = { 3900, 3300, 3600 }, .hold_names = { "cdc", "backup", "replica" }, .n_holds = 3,
	  .want_strategy = LSN_TRIM_ARCHIVED, .want_raw = 3300, .want_safe = 3300,
	  .want_reason = "hold backup at 3300", .not_in_reason = "cdc" },
	{ .name = "named hold above the point is not named",
	  .mode = LSN_TRIM_MODE_SINGLE, .archive = true, .tail = 500, .archived = 300,
	  .holds = { 450 }, .hold_names = { "backup" }, .n_holds = 1,
	  .want_strategy = LSN_TRIM_ARCHIVED, .want_raw = 300, .want_safe = 300,
	  .want_reason = "covers 300 of tail 500", .not_in_reason = "backup" },
	/* holds */
	{ .name = "several holds: the lowest wins",
	  .mode = LSN_TRIM_MODE_CLUSTER, .archive = true, .tail = 500, .archived = 400,
	  .holds = { 350, 90, 200 }, .n_holds = 3,
	  .want_strategy = LSN_TRIM_ARCHIVED, .want_raw = 90, .want_safe = 90,
	  .want_reason = "a reader hold at 90" },
	{ .name = "hold lowers the persisted point",
	  .mode = LSN_TRIM_MODE_SINGLE, .tail = 500, .persisted = 400, .holds = { 250 }, .n_holds = 1,
	  .want_strategy = LSN_TRIM_PERSISTED, .want_raw = 250, .want_safe = 250,
	  .want_reason = "a reader hold at 250" },
	{ .name = "hold below persisted-lowered point wins over persisted",
	  .mode = LSN_TRIM_MODE_SINGLE, .archive = true, .tail = 500, .archived = 400,
	  .persisted = 300, .holds = { 450, 280 }, .n_holds = 2,
	  .want_strategy = LSN_TRIM_ARCHIVED, .want_raw = 280, .want_safe = 280,
	  .want_reason = "a reader hold at 280" },
	{ .name = "hold at 0 blocks everything",
	  .mode = LSN_TRIM_MODE_SINGLE, .tail = 500, .persisted = 400, .holds = { 0 }, .n_holds = 1,
	  .want_strategy = LSN_TRIM_PERSISTED, .want_raw = 0, .want_safe = 0,
	  .want_reason = "a reader hold at 0" },
	{ .name = "hold above the point changes nothing",
	  .mode = LSN_TRIM_MODE_CLUSTER, .archive = true, .tail = 500, .archived = 300,
	  .holds = { 450 }, .n_holds = 1,
	  .want_strategy = LSN_TRIM_ARCHIVED, .want_raw = 300, .want_safe = 300,
	  .want_reason = "covers 300 of tail 500", .not_in_reason = "hold" },
	/* tail */
	{ .name = "point never above tail (archived beyond tail)",
	  .mode = LSN_TRIM_MODE_CLUSTER, .archive = true, .tail = 500, .archived = 900,
	  .want_strategy = LSN_TRIM_ARCHIVED, .want_raw = 500, .want_safe = 500,
	  .want_reason = "" },
	{ .name = "point never above tail (persisted beyond tail, holds beyond tail)",
	  .mode = LSN_TRIM_MODE_SINGLE, .tail = 500, .persisted = 700, .holds = { 800 }, .n_holds = 1,
	  .want_strategy = LSN_TRIM_PERSISTED, .want_raw = 500, .want_safe = 500,
	  .want_reason = "" },
	{ .name = "empty log: nothing to trim and nothing blocks",
	  .mode = LSN_TRIM_MODE_CLUSTER, .archive = true,
	  .want_strategy = LSN_TRIM_ARCHIVED, .want_raw = 0, .want_safe = 0,
	  .want_reason = "" },
	/* startup protection */
	{ .name = "startup protection: nothing during the first trim_delay seconds",
	  .mode = LSN_TRIM_MODE_CLUSTER, .archive = true, .tail = 500, .archived = 300,
	  .startup = true, .now = 1012, .mounted_at = 1000, .delay = 600,
	  .want_strategy = LSN_TRIM_ARCHIVED, .want_raw = 300, .want_safe = 0,
	  .want_reason = "startup protection: mounted 12 s ago, trim_delay 600 s" },
	{ .name = "startup protection at one second before trim_delay",
	  .mode = LSN_TRIM_MODE_SINGLE, .tail = 500, .persisted = 500,
	  .startup = true, .now = 599, .mounted_at = 0, .delay = 600,
	  .want_strategy = LSN_TRIM_PERSISTED, .want_raw = 500, .want_safe = 0,
	  .want_reason = "mounted 599 s ago" },
	{ .name = "startup protection ends exactly at trim_delay",
	  .mode = LSN_TRIM_MODE_CLUSTER, .archive = true, .tail = 500, .archived = 300,
	  .startup = true, .now = 600, .mounted_at = 0, .delay = 600,
	  .want_strategy = LSN_TRIM_ARCHIVED, .want_raw = 300, .want_safe = 300,
	  .want_reason = "covers 300 of tail 500", .not_in_reason = "startup" },
	{ .name = "clock before mount time counts as startup",
	  .mode = LSN_TRIM_MODE_CLUSTER, .archive = true, .tail = 500, .archived = 300,
	  .startup = true, .now = 5, .mounted_at = 100, .delay = 600,
	  .want_strategy = LSN_TRIM_ARCHIVED, .want_raw = 300, .want_safe = 0,
	  .want_reason = "mounted 0 s ago" },
	{ .name = "trim_delay 0 disables startup and settling protection",
	  .mode = LSN_TRIM_MODE_CLUSTER, .archive = true, .tail = 500, .archived = 300,
	  .startup = true, .now = 0, .mounted_at = 0, .delay = 0, .settle = &settle_empty,
	  .want_strategy = LSN_TRIM_ARCHIVED, .want_raw = 300, .want_safe = 300,
	  .want_reason = "covers 300", .not_in_reason = "settling" },
	/* settling */
	{ .name = "freshly safe point is not usable yet",
	  .mode = LSN_TRIM_MODE_CLUSTER, .archive = true, .tail = 500, .archived = 300,
	  .settle = &settle_fresh,
	  .want_strategy = LSN_TRIM_ARCHIVED, .want_raw = 300, .want_safe = 0,
	  .want_reason = "settling: point 300 safe for 10 s of trim_delay 600 s; usable 0" },
	{ .name = "never-observed point is not usable",
	  .mode = LSN_TRIM_MODE_CLUSTER, .archive = true, .tail = 500, .archived = 300,
	  .settle = &settle_empty,
	  .want_strategy = LSN_TRIM_ARCHIVED, .want_raw = 300, .want_safe = 0,
	  .want_reason = "settling: point 300 safe for 0 s" },
	{ .name = "settling falls back to an older settled point",
	  .mode = LSN_TRIM_MODE_CLUSTER, .archive = true, .tail = 500, .archived = 300,
	  .settle = &settle_two,
	  .want_strategy = LSN_TRIM_ARCHIVED, .want_raw = 300, .want_safe = 100,
	  .want_reason = "usable 100" },
	{ .name = "settled point is usable; reason is the strategy's",
	  .mode = LSN_TRIM_MODE_CLUSTER, .archive = true, .tail = 500, .archived = 300,
	  .settle = &settle_settled,
	  .want_strategy = LSN_TRIM_ARCHIVED, .want_raw = 300, .want_safe = 300,
	  .want_reason = "covers 300 of tail 500", .not_in_reason = "settling" },
	{ .name = "settling never raises the point above raw",
	  .mode = LSN_TRIM_MODE_CLUSTER, .archive = true, .tail = 500, .archived = 300,
	  .settle = &settle_above_raw,
	  .want_strategy = LSN_TRIM_ARCHIVED, .want_raw = 300, .want_safe = 300,
	  .want_reason = "covers 300 of tail 500" },
	/* uncovered trim point warning */
	{ .name = "cluster: uncovered trim point warns loudly",
	  .mode = LSN_TRIM_MODE_CLUSTER, .archive = true, .tail = 500, .trim_point = 300,
	  .archived = 120,
	  .want_strategy = LSN_TRIM_ARCHIVED, .want_raw = 120, .want_safe = 120,
	  .want_reason = "WARNING: trim point 300 is not covered by an archived snapshot "
			 "(archived 120); a new node cannot seed this log until one is archived" },
	{ .name = "single that saw another node: uncovered trim point warns",
	  .mode = LSN_TRIM_MODE_SINGLE, .archive = true, .others = true, .tail = 500,
	  .trim_point = 300, .archived = 120,
	  .want_strategy = LSN_TRIM_ARCHIVED, .want_raw = 120, .want_safe = 120,
	  .want_reason = "WARNING: trim point 300 is not covered" },
	{ .name = "warning keeps the limiting rule too",
	  .mode = LSN_TRIM_MODE_CLUSTER, .archive = true, .tail = 500, .trim_point = 300,
	  .archived = 120,
	  .want_strategy = LSN_TRIM_ARCHIVED, .want_raw = 120, .want_safe = 120,
	  .want_reason = "covers 120 of tail 500; WARNING" },
	{ .name = "single node alone: no cluster warning",
	  .mode = LSN_TRIM_MODE_SINGLE, .archive = true, .tail = 500, .trim_point = 300,
	  .archived = 120,
	  .want_strategy = LSN_TRIM_ARCHIVED, .want_raw = 120, .want_safe = 120,
	  .want_reason = "covers 120 of tail 500", .not_in_reason = "WARNING" },
	{ .name = "cluster with covered trim point: no warning",
	  .mode = LSN_TRIM_MODE_CLUSTER, .archive = true, .tail = 500, .trim_point = 200,
	  .archived = 300,
	  .want_strategy = LSN_TRIM_ARCHIVED, .want_raw = 300, .want_safe = 300,
	  .want_reason = "covers 300 of tail 500", .not_in_reason = "WARNING" },
};

static void decide_case(const struct decide_case *c, struct lsn_trim_decision *d)
{
	struct lsn_trim_input in = {
		.mode = c->mode,
		.archive_configured = c->archive,
		.other_nodes_seen = c->others,
		.tail_lsn = c->tail,
		.trim_point = c->trim_point,
		.archived_lsn = c->archived,
		.persisted_lsn = c->persisted,
		.holds = c->holds,
		.hold_names = c->hold_names[0] ? c->hold_names : NULL,
		.n_holds = c->n_holds,
		.now = c->startup ? c->now : NOW,
		.mounted_at = c->startup ? c->mounted_at : 0,
		.trim_delay = c->startup ? c->delay : 600,
		.settle = c->settle,
	};

	memset(d, 0xa5, sizeof(*d)); /* decide must fill every field */
	lsn_trim_decide(&in, d);
}

Test(trim_decide, table)
{
	for (size_t i = 0; i < sizeof(decide_cases) / sizeof(decide_cases[0]); i++) {
		const struct decide_case *c = &decide_cases[i];
		struct lsn_trim_decision d;

		decide_case(c, &d);
		cr_assert_lt(strnlen(d.reason, LSN_TRIM_REASON_MAX), LSN_TRIM_REASON_MAX,
			     "%s: reason not terminated", c->name);
		cr_assert_eq(d.strategy, c->want_strategy, "%s: strategy %s, want %s", c->name,
			     lsn_trim_strategy_name(d.strategy),
			     lsn_trim_strategy_name(c->want_strategy));
		cr_assert_eq(d.raw_lsn, c->want_raw, "%s: raw %" PRIu64 ", want %" PRIu64, c->name,
			     d.raw_lsn, c->want_raw);
		cr_assert_eq(d.safe_lsn, c->want_safe, "%s: safe %" PRIu64 ", want %" PRIu64 " (%s)",
			     c->name, d.safe_lsn, c->want_safe, d.reason);
		if (c->want_reason[0] == '\0')
			cr_assert_str_empty(d.reason, "%s: reason should be empty, got '%s'", c->name,
					    d.reason);
		else
			cr_assert(strstr(d.reason, c->want_reason) != NULL,
				  "%s: reason '%s' lacks '%s'", c->name, d.reason, c->want_reason);
		if (c->not_in_reason)
			cr_assert(strstr(d.reason, c->not_in_reason) == NULL,
				  "%s: reason '%s' must not mention '%s'", c->name, d.reason,
				  c->not_in_reason);
		/* Invariants that hold for every input. */
		cr_assert_leq(d.safe_lsn, d.raw_lsn, "%s: safe above raw", c->name);
		cr_assert_leq(d.raw_lsn, c->tail, "%s: raw above tail", c->name);
		cr_assert_eq(d.reason[0] == '\0', d.safe_lsn == c->tail,
			     "%s: reason must be empty exactly when safe == tail ('%s')", c->name,
			     d.reason);
		cr_assert_eq(d.strategy, lsn_trim_strategy_for(c->mode, c->archive, c->others),
			     "%s: decide disagrees with lsn_trim_strategy_for", c->name);
	}
}

Test(trim_decide, huge_numbers_truncate_safely)
{
	static const uint64_t holds[] = { UINT64_MAX - 2 };
	struct lsn_trim_settle s = { 0 };
	struct lsn_trim_input in = {
		.mode = LSN_TRIM_MODE_CLUSTER, .archive_configured = true, .tail_lsn = UINT64_MAX,
		.trim_point = UINT64_MAX, .archived_lsn = UINT64_MAX - 1,
		.persisted_lsn = 0, .holds = holds, .n_holds = 1,
		.now = UINT64_MAX, .mounted_at = 0, .trim_delay = UINT64_MAX - 1, .settle = &s,
	};
	struct lsn_trim_decision d;

	lsn_trim_settle_observe(&s, UINT64_MAX - 2, UINT64_MAX - 5, UINT64_MAX - 1);
	lsn_trim_decide(&in, &d);
	cr_assert_eq(d.raw_lsn, UINT64_MAX - 2, "hold must lower the point");
	cr_assert_eq(d.safe_lsn, 0, "settling must block a point observed 5 s ago");
	cr_assert_lt(strlen(d.reason), LSN_TRIM_REASON_MAX, "reason overflowed");
	cr_assert(strncmp(d.reason, "settling: point 18446744073709551613", 36) == 0,
		  "settling must be named first: '%s'", d.reason);
}

/* ---- settling history ---------------------------------------------------- */

enum settle_op { OBS, USABLE, COUNT, END };

struct settle_step {
	enum settle_op op;
	uint64_t value; /* OBS: raw point; USABLE: delay; COUNT: wanted n */
	uint64_t now;
	uint64_t want; /* USABLE only */
};

struct settle_case {
	const char *name;
	uint64_t delay; /* the trim_delay every OBS step passes */
	struct settle_step steps[24];
};

#define FILL16                                                                                   \
	{ OBS, 10, 1, 0 }, { OBS, 20, 2, 0 }, { OBS, 30, 3, 0 }, { OBS, 40, 4, 0 },             \
		{ OBS, 50, 5, 0 }, { OBS, 60, 6, 0 }, { OBS, 70, 7, 0 }, { OBS, 80, 8, 0 },     \
		{ OBS, 90, 9, 0 }, { OBS, 100, 10, 0 }, { OBS, 110, 11, 0 },                    \
		{ OBS, 120, 12, 0 }, { OBS, 130, 13, 0 }, { OBS, 140, 14, 0 },                  \
		{ OBS, 150, 15, 0 }, { OBS, 160, 16, 0 }

static const struct settle_case settle_cases[] = {
	{ "empty history has nothing usable", 600,
	  { { USABLE, 0, 100, 0 }, { COUNT, 0, 0, 0 }, { END, 0, 0, 0 } } },
	{ "fresh point usable only after trim_delay", 600,
	  { { OBS, 300, 100, 0 },
	    { USABLE, 600, 100, 0 },
	    { USABLE, 600, 699, 0 },
	    { USABLE, 600, 700, 300 },
	    { END, 0, 0, 0 } } },
	{ "repeated observation keeps the original since", 600,
	  { { OBS, 300, 0, 0 },
	    { OBS, 300, 500, 0 },
	    { COUNT, 1, 0, 0 },
	    { USABLE, 600, 600, 300 },
	    { END, 0, 0, 0 } } },
	{ "rising point keeps the older, lower entries", 600,
	  { { OBS, 100, 0, 0 },
	    { OBS, 300, 500, 0 },
	    { COUNT, 2, 0, 0 },
	    { USABLE, 600, 600, 100 },
	    { USABLE, 600, 1099, 100 },
	    { USABLE, 600, 1100, 300 },
	    { END, 0, 0, 0 } } },
	/* 100 has been safe since t=0 (the raw point was 300 >= 100 then). */
	{ "lowered point keeps its age; higher entries are forgotten", 600,
	  { { OBS, 300, 0, 0 },
	    { OBS, 100, 500, 0 },
	    { COUNT, 1, 0, 0 },
	    { USABLE, 600, 599, 0 },
	    { USABLE, 600, 650, 100 },
	    { USABLE, 600, 1100, 100 },
	    { OBS, 300, 1100, 0 },
	    { USABLE, 600, 1200, 100 },
	    { USABLE, 600, 1700, 300 },
	    { END, 0, 0, 0 } } },
	{ "lowering keeps entries at or below the new point", 600,
	  { { OBS, 100, 0, 0 },
	    { OBS, 200, 10, 0 },
	    { OBS, 300, 20, 0 },
	    { OBS, 200, 30, 0 },
	    { COUNT, 2, 0, 0 },
	    { USABLE, 600, 610, 200 },
	    { END, 0, 0, 0 } } },
	{ "raw point 0 empties the history", 600,
	  { { OBS, 300, 0, 0 },
	    { OBS, 0, 100, 0 },
	    { COUNT, 0, 0, 0 },
	    { USABLE, 0, 100, 0 },
	    { OBS, 0, 200, 0 },
	    { COUNT, 0, 0, 0 },
	    { END, 0, 0, 0 } } },
	/* Nothing settled: an entry after the oldest goes (closest neighbours,
	 * ties to the older: 20), and 170 starts settling at 17. */
	{ "full history thins an interior entry, never restarts its newest", 600,
	  { FILL16,
	    { OBS, 170, 17, 0 },
	    { COUNT, 16, 0, 0 },
	    { USABLE, 600, 601, 10 },
	    { USABLE, 600, 602, 10 },
	    { USABLE, 600, 603, 30 },
	    { USABLE, 600, 616, 160 },
	    { USABLE, 600, 617, 170 },
	    { END, 0, 0, 0 } } },
	/* At 1000 everything up to 160 has settled: only 160 stays useful. */
	{ "full history forgets what is below its newest settled entry", 600,
	  { FILL16,
	    { OBS, 170, 1000, 0 },
	    { COUNT, 2, 0, 0 },
	    { USABLE, 600, 1000, 160 },
	    { USABLE, 600, 1599, 160 },
	    { USABLE, 600, 1600, 170 },
	    { END, 0, 0, 0 } } },
	{ "delay 0: usable at once", 0,
	  { { OBS, 300, 50, 0 }, { USABLE, 0, 50, 300 }, { END, 0, 0, 0 } } },
	{ "clock before since: not usable", 600,
	  { { OBS, 300, 100, 0 }, { USABLE, 0, 50, 0 }, { END, 0, 0, 0 } } },
	{ "huge delay does not wrap", UINT64_MAX,
	  { { OBS, 300, 100, 0 }, { USABLE, UINT64_MAX, 200, 0 }, { END, 0, 0, 0 } } },
};

Test(trim_settle, table)
{
	for (size_t i = 0; i < sizeof(settle_cases) / sizeof(settle_cases[0]); i++) {
		const struct settle_case *c = &settle_cases[i];
		struct lsn_trim_settle s = { 0 };

		for (size_t k = 0; c->steps[k].op != END; k++) {
			const struct settle_step *st = &c->steps[k];

			if (st->op == OBS) {
				lsn_trim_settle_observe(&s, st->value, st->now, c->delay);
				cr_assert_leq(s.n, LSN_TRIM_SETTLE_SLOTS, "%s: step %zu overflows",
					      c->name, k);
				for (unsigned j = 1; j < s.n; j++)
					cr_assert_lt(s.slot[j - 1].point, s.slot[j].point,
						     "%s: step %zu: points not increasing", c->name,
						     k);
			} else if (st->op == USABLE) {
				uint64_t got = lsn_trim_settle_usable(&s, st->now, st->value);

				cr_assert_eq(got, st->want,
					     "%s: step %zu: usable(now %" PRIu64 ", delay %" PRIu64
					     ") = %" PRIu64 ", want %" PRIu64,
					     c->name, k, st->now, st->value, got, st->want);
			} else {
				cr_assert_eq(s.n, st->value, "%s: step %zu: n = %u, want %" PRIu64,
					     c->name, k, s.n, st->value);
			}
		}
	}
}

/* ---- lsn_trim_plan / lsn_trim_plan_segment ------------------------------- */

#define MAX_SEGS 4

struct plan_case {
	const char *name;
	enum lsn_trim_strategy strategy;
	uint64_t safe;
	const char *decision_reason;
	struct lsn_trim_segment segs[MAX_SEGS];
	size_t n_segs;
	uint64_t arg; /* upto_lsn for plan, first_lsn for plan_segment */
	int want_rc;
	size_t want_remove; /* plan only */
	const char *want_reason; /* substring, "" for empty */
};

/* Three sealed segments and the active one; tail 350. */
#define STD_SEGS                                                                                 \
	.segs = { { 1, 100, true }, { 101, 200, true }, { 201, 300, true }, { 301, 350, false } }, \
	.n_segs = 4

static const struct plan_case plan_cases[] = {
	{ .name = "upto = safe = tail removes sealed segments only; active kept",
	  .strategy = LSN_TRIM_ARCHIVED, .safe = 350, .decision_reason = "", STD_SEGS,
	  .arg = 350, .want_rc = 0, .want_remove = 3, .want_reason = "" },
	{ .name = "upto inside a segment stops before it",
	  .strategy = LSN_TRIM_ARCHIVED, .safe = 350, .decision_reason = "", STD_SEGS,
	  .arg = 250, .want_rc = 0, .want_remove = 2, .want_reason = "" },
	{ .name = "upto exactly at a segment end includes it",
	  .strategy = LSN_TRIM_PERSISTED, .safe = 300, .decision_reason = "persisted: x", STD_SEGS,
	  .arg = 200, .want_rc = 0, .want_remove = 2, .want_reason = "" },
	{ .name = "upto below the first segment end removes nothing",
	  .strategy = LSN_TRIM_ARCHIVED, .safe = 350, .decision_reason = "", STD_SEGS,
	  .arg = 99, .want_rc = 0, .want_remove = 0, .want_reason = "" },
	{ .name = "upto 0 with safe 0 removes nothing",
	  .strategy = LSN_TRIM_NONE, .safe = 0,
	  .decision_reason = "strategy none: cluster mode needs a snapshot archive", STD_SEGS,
	  .arg = 0, .want_rc = 0, .want_remove = 0, .want_reason = "" },
	{ .name = "refuses upto above safe, naming the rule and numbers",
	  .strategy = LSN_TRIM_ARCHIVED, .safe = 150,
	  .decision_reason = "archived: highest archived snapshot covers 150 of tail 350",
	  STD_SEGS, .arg = 200, .want_rc = -EPERM, .want_remove = 0,
	  .want_reason = "trim to 200 refused: safe trim LSN is 150 (strategy archived: highest "
			 "archived snapshot covers 150 of tail 350)" },
	{ .name = "refusal carries a hold reason",
	  .strategy = LSN_TRIM_ARCHIVED, .safe = 40, .decision_reason = "a reader hold at 40",
	  STD_SEGS, .arg = 100, .want_rc = -EPERM, .want_remove = 0,
	  .want_reason = "trim to 100 refused: safe trim LSN is 40 (strategy archived: a reader "
			 "hold at 40)" },
	{ .name = "refusal under strategy none says cluster needs an archive",
	  .strategy = LSN_TRIM_NONE, .safe = 0,
	  .decision_reason = "strategy none: cluster mode needs a snapshot archive; nothing is "
			     "trimmed",
	  STD_SEGS, .arg = 1, .want_rc = -EPERM, .want_remove = 0,
	  .want_reason = "safe trim LSN is 0 (strategy none: cluster mode needs a snapshot "
			 "archive" },
	{ .name = "refusal beyond the tail when nothing blocks",
	  .strategy = LSN_TRIM_ARCHIVED, .safe = 350, .decision_reason = "", STD_SEGS,
	  .arg = 900, .want_rc = -EPERM, .want_remove = 0,
	  .want_reason = "trim to 900 refused: safe trim LSN is 350 (strategy archived" },
	{ .name = "an unsealed leading segment stops the plan",
	  .strategy = LSN_TRIM_ARCHIVED, .safe = 200, .decision_reason = "",
	  .segs = { { 1, 100, false }, { 101, 200, true } }, .n_segs = 2,
	  .arg = 200, .want_rc = 0, .want_remove = 0, .want_reason = "" },
	{ .name = "empty sealed segment is removed with its neighbours",
	  .strategy = LSN_TRIM_ARCHIVED, .safe = 150, .decision_reason = "",
	  .segs = { { 1, 100, true }, { 101, 100, true }, { 101, 150, false } }, .n_segs = 3,
	  .arg = 150, .want_rc = 0, .want_remove = 2, .want_reason = "" },
	{ .name = "no segments: nothing to remove",
	  .strategy = LSN_TRIM_ARCHIVED, .safe = 150, .decision_reason = "", .n_segs = 0,
	  .arg = 150, .want_rc = 0, .want_remove = 0, .want_reason = "" },
};

static const struct plan_case plan_segment_cases[] = {
	{ .name = "oldest sealed segment within safe may go",
	  .strategy = LSN_TRIM_ARCHIVED, .safe = 350, .decision_reason = "", STD_SEGS,
	  .arg = 1, .want_rc = 0, .want_reason = "" },
	{ .name = "oldest segment ending exactly at safe may go",
	  .strategy = LSN_TRIM_PERSISTED, .safe = 100, .decision_reason = "persisted: x", STD_SEGS,
	  .arg = 1, .want_rc = 0, .want_reason = "" },
	{ .name = "segment that is not the oldest is refused",
	  .strategy = LSN_TRIM_ARCHIVED, .safe = 350, .decision_reason = "", STD_SEGS,
	  .arg = 101, .want_rc = -EPERM,
	  .want_reason = "segment 00000000000000000101 is not the oldest retained segment "
			 "(oldest starts at 1); trim removes segments from the front" },
	{ .name = "unknown segment is ENOENT",
	  .strategy = LSN_TRIM_ARCHIVED, .safe = 350, .decision_reason = "", STD_SEGS,
	  .arg = 102, .want_rc = -ENOENT, .want_reason = "00000000000000000102" },
	{ .name = "no segments at all is ENOENT",
	  .strategy = LSN_TRIM_ARCHIVED, .safe = 350, .decision_reason = "", .n_segs = 0,
	  .arg = 1, .want_rc = -ENOENT, .want_reason = "no retained segment" },
	{ .name = "active segment is never trimmed, even when it is the oldest",
	  .strategy = LSN_TRIM_ARCHIVED, .safe = 350, .decision_reason = "",
	  .segs = { { 301, 350, false } }, .n_segs = 1,
	  .arg = 301, .want_rc = -EPERM, .want_reason = "active segment is never trimmed" },
	{ .name = "segment ending above safe is refused with the decision's reason",
	  .strategy = LSN_TRIM_ARCHIVED, .safe = 50, .decision_reason = "a reader hold at 50",
	  STD_SEGS, .arg = 1, .want_rc = -EPERM,
	  .want_reason = "segment ends at 100 but safe trim LSN is 50 (strategy archived: a "
			 "reader hold at 50)" },
	{ .name = "empty sealed oldest segment may go even with safe 0",
	  .strategy = LSN_TRIM_ARCHIVED, .safe = 0, .decision_reason = "archived: x",
	  .segs = { { 1, 0, true }, { 1, 10, false } }, .n_segs = 2,
	  .arg = 1, .want_rc = 0, .want_reason = "" },
};

static void plan_decision(const struct plan_case *c, struct lsn_trim_decision *d)
{
	memset(d, 0, sizeof(*d));
	d->strategy = c->strategy;
	d->raw_lsn = c->safe;
	d->safe_lsn = c->safe;
	snprintf(d->reason, sizeof(d->reason), "%s", c->decision_reason);
}

static void check_reason(const char *name, const char *reason, const char *want)
{
	if (want[0] == '\0')
		cr_assert_str_empty(reason, "%s: reason should be empty, got '%s'", name, reason);
	else
		cr_assert(strstr(reason, want) != NULL, "%s: reason '%s' lacks '%s'", name, reason,
			  want);
}

Test(trim_plan, table)
{
	for (size_t i = 0; i < sizeof(plan_cases) / sizeof(plan_cases[0]); i++) {
		const struct plan_case *c = &plan_cases[i];
		struct lsn_trim_decision d;
		char reason[LSN_TRIM_REASON_MAX];
		size_t n_remove = 77;
		int rc;

		plan_decision(c, &d);
		memset(reason, 'x', sizeof(reason));
		rc = lsn_trim_plan(&d, c->segs, c->n_segs, c->arg, &n_remove, reason);
		cr_assert_eq(rc, c->want_rc, "%s: rc %d, want %d (%s)", c->name, rc, c->want_rc,
			     reason);
		cr_assert_eq(n_remove, c->want_remove, "%s: removes %zu, want %zu", c->name,
			     n_remove, c->want_remove);
		check_reason(c->name, reason, c->want_reason);
		/* Never plans past the safe point, and never the unsealed segment. */
		for (size_t k = 0; k < n_remove; k++) {
			cr_assert(c->segs[k].sealed, "%s: plans unsealed segment %zu", c->name, k);
			cr_assert_leq(c->segs[k].last_lsn, d.safe_lsn, "%s: plans past safe", c->name);
		}
	}
}

Test(trim_plan_segment, table)
{
	for (size_t i = 0; i < sizeof(plan_segment_cases) / sizeof(plan_segment_cases[0]); i++) {
		const struct plan_case *c = &plan_segment_cases[i];
		struct lsn_trim_decision d;
		char reason[LSN_TRIM_REASON_MAX];
		int rc;

		plan_decision(c, &d);
		memset(reason, 'x', sizeof(reason));
		rc = lsn_trim_plan_segment(&d, c->segs, c->n_segs, c->arg, reason);
		cr_assert_eq(rc, c->want_rc, "%s: rc %d, want %d (%s)", c->name, rc, c->want_rc,
			     reason);
		check_reason(c->name, reason, c->want_reason);
	}
}

/* ---- mode switch guard --------------------------------------------------- */

static const struct lsn_trim_log_cover covers_ok[] = {
	{ "p0", 100, 100 }, { "p1", 0, 0 }, { "p2", 200, 500 },
};
static const struct lsn_trim_log_cover covers_bad[] = {
	{ "p0", 100, 100 }, { "p1", 300, 120 }, { "p2", 0, 0 },
};

struct switch_case {
	const char *name;
	enum lsn_trim_mode from, to;
	bool archive;
	const struct lsn_trim_log_cover *logs;
	size_t n_logs;
	int want_rc;
	const char *want_reason;
};

static const struct switch_case switch_cases[] = {
	{ "single -> single is a no-op", LSN_TRIM_MODE_SINGLE, LSN_TRIM_MODE_SINGLE, false, covers_bad, 3, 0,
	  "" },
	{ "cluster -> cluster is a no-op even without archive", LSN_TRIM_MODE_CLUSTER, LSN_TRIM_MODE_CLUSTER,
	  false, covers_bad, 3, 0, "" },
	{ "cluster -> single is refused", LSN_TRIM_MODE_CLUSTER, LSN_TRIM_MODE_SINGLE, false, NULL, 0, -EPERM,
	  "switching back to single mode is refused: a cluster node never trims by persisted "
	  "position again" },
	{ "cluster -> single is refused even with an archive and covered logs", LSN_TRIM_MODE_CLUSTER,
	  LSN_TRIM_MODE_SINGLE, true, covers_ok, 3, -EPERM, "switching back to single mode is refused" },
	{ "single -> cluster without archive is refused", LSN_TRIM_MODE_SINGLE, LSN_TRIM_MODE_CLUSTER, false,
	  covers_ok, 3, -EPERM,
	  "cluster mode needs a snapshot archive (archive=DIR or archive_command)" },
	{ "single -> cluster with archive and every trim point covered", LSN_TRIM_MODE_SINGLE,
	  LSN_TRIM_MODE_CLUSTER, true, covers_ok, 3, 0, "" },
	{ "single -> cluster with archive and no logs", LSN_TRIM_MODE_SINGLE, LSN_TRIM_MODE_CLUSTER, true, NULL,
	  0, 0, "" },
	{ "single -> cluster refused while a trim point is uncovered", LSN_TRIM_MODE_SINGLE,
	  LSN_TRIM_MODE_CLUSTER, true, covers_bad, 3, -EPERM,
	  "log p1: trim point 300 is not covered by an archived snapshot (archived 120)" },
};

Test(trim_mode_switch, table)
{
	for (size_t i = 0; i < sizeof(switch_cases) / sizeof(switch_cases[0]); i++) {
		const struct switch_case *c = &switch_cases[i];
		char reason[LSN_TRIM_REASON_MAX];
		int rc;

		memset(reason, 'x', sizeof(reason));
		rc = lsn_trim_check_mode_switch(c->from, c->to, c->archive, c->logs, c->n_logs,
						reason);
		cr_assert_eq(rc, c->want_rc, "%s: rc %d, want %d (%s)", c->name, rc, c->want_rc,
			     reason);
		check_reason(c->name, reason, c->want_reason);
	}
}

Test(trim_mode_switch, long_log_name_truncates_safely)
{
	char name[600];
	struct lsn_trim_log_cover log = { name, 10, 0 };
	char reason[LSN_TRIM_REASON_MAX + 8];
	int rc;

	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	memset(reason, '#', sizeof(reason));
	rc = lsn_trim_check_mode_switch(LSN_TRIM_MODE_SINGLE, LSN_TRIM_MODE_CLUSTER, true, &log, 1, reason);
	cr_assert_eq(rc, -EPERM, "uncovered log must refuse");
	cr_assert_eq(strlen(reason), LSN_TRIM_REASON_MAX - 1, "reason must fill and stop");
	cr_assert_eq(reason[LSN_TRIM_REASON_MAX], '#', "wrote past LSN_TRIM_REASON_MAX");
	cr_assert(strncmp(reason, "log nnnn", 8) == 0, "reason '%.20s...'", reason);
}

/* ---- names and strategy choice -------------------------------------------- */

Test(trim_names, names_round_trip)
{
	cr_assert_str_eq(lsn_trim_mode_name(LSN_TRIM_MODE_SINGLE), "single");
	cr_assert_str_eq(lsn_trim_mode_name(LSN_TRIM_MODE_CLUSTER), "cluster");
	cr_assert_str_eq(lsn_trim_strategy_name(LSN_TRIM_ARCHIVED), "archived");
	cr_assert_str_eq(lsn_trim_strategy_name(LSN_TRIM_PERSISTED), "persisted");
	cr_assert_str_eq(lsn_trim_strategy_name(LSN_TRIM_NONE), "none");
}

struct strategy_case {
	enum lsn_trim_mode mode;
	bool archive, others;
	enum lsn_trim_strategy want;
};

static const struct strategy_case strategy_cases[] = {
	{ LSN_TRIM_MODE_SINGLE, false, false, LSN_TRIM_PERSISTED },
	{ LSN_TRIM_MODE_SINGLE, false, true, LSN_TRIM_NONE },
	{ LSN_TRIM_MODE_SINGLE, true, false, LSN_TRIM_ARCHIVED },
	{ LSN_TRIM_MODE_SINGLE, true, true, LSN_TRIM_ARCHIVED },
	{ LSN_TRIM_MODE_CLUSTER, false, false, LSN_TRIM_NONE },
	{ LSN_TRIM_MODE_CLUSTER, false, true, LSN_TRIM_NONE },
	{ LSN_TRIM_MODE_CLUSTER, true, false, LSN_TRIM_ARCHIVED },
	{ LSN_TRIM_MODE_CLUSTER, true, true, LSN_TRIM_ARCHIVED },
};

Test(trim_names, strategy_for_table)
{
	for (size_t i = 0; i < sizeof(strategy_cases) / sizeof(strategy_cases[0]); i++) {
		const struct strategy_case *c = &strategy_cases[i];
		enum lsn_trim_strategy got = lsn_trim_strategy_for(c->mode, c->archive, c->others);

		cr_assert_eq(got, c->want, "mode %s archive %d others %d: %s, want %s",
			     lsn_trim_mode_name(c->mode), c->archive, c->others,
			     lsn_trim_strategy_name(got), lsn_trim_strategy_name(c->want));
	}
}

/*
 * A consumer whose safe point rises at every observation (a snapshot
 * archived or persisted_lsn set every second) must still get trims: the
 * usable point follows the point observed `delay` seconds ago, at most
 * delay / 8 behind it, and never ahead of it.  (A full history
 * used to restart its newest entry's clock at every observation, so after
 * 16 rises the usable point froze until the consumer paused.)
 */
Test(trim_settle, a_point_rising_every_second_still_settles)
{
	static const uint64_t delays[] = { 0, 1, 5, 60, 600 };

	for (size_t k = 0; k < sizeof(delays) / sizeof(delays[0]); k++) {
		uint64_t delay = delays[k];
		struct lsn_trim_settle s = { 0 };

		for (uint64_t now = 0; now < 5000; now++) {
			uint64_t usable, ideal;

			lsn_trim_settle_observe(&s, now + 1, now, delay);
			usable = lsn_trim_settle_usable(&s, now, delay);
			ideal = now >= delay ? now - delay + 1 : 0;
			cr_assert_leq(usable, ideal, "delay %" PRIu64 " at %" PRIu64 ": usable %" PRIu64
				      " is ahead of the point observed delay seconds ago (%" PRIu64 ")",
				      delay, now, usable, ideal);
			cr_assert_geq(usable + delay / 8 + 1, ideal,
				      "delay %" PRIu64 " at %" PRIu64 ": usable %" PRIu64
				      " lags the ideal %" PRIu64 " by more than delay / 8",
				      delay, now, usable, ideal);
		}
	}
}
