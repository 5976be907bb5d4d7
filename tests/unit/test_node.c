/*
 * Unit tests for node/: the archiver and the trim rules as the node applies
 * them, driven without FUSE and without threads, on a fake clock.  Each
 * test formats a store, hands it to a node (threads off) and runs the
 * archive and trim passes itself with lsn_node_tick_*().
 */
#include "tests/unit/fixture.h"

#include <fcntl.h>
#include <stdlib.h>

#include "node/node.h"
#include "storage/archive.h"
#include "storage/staging.h"

#define DELAY 10 /* trim_delay, seconds */

static struct lsn_node *node;
static struct lsn_clock clock_;
static char archive_dir[128];

static void node_teardown(void)
{
	lsn_node_free(node);
	node = NULL;
	if (archive_dir[0])
		rm_rf(archive_dir);
	archive_dir[0] = '\0';
	fx_rm_tmpdir();
}

/* A store with 4 KiB segments and trim_delay DELAY; archive: a directory
 * under tmpdir (created when `create_archive`) or none. */
static void open_node(bool archive, bool create_archive)
{
	struct lsn_node_options opts = { .clock = &clock_, .threads = false };
	struct lsn_config cfg;
	int rc;

	lsn_config_defaults(&cfg);
	cfg.segment_size = 4096;
	cfg.trim_delay = DELAY;
	snprintf(archive_dir, sizeof(archive_dir), "%s.archive", tmpdir);
	if (create_archive)
		cr_assert_eq(mkdir(archive_dir, 0755), 0);
	if (archive) {
		char why[256];
		/* As mkfs.lsnfs --archive does: the marker, its id in the store. */
		cr_assert_eq(lsn_archive_config_adopt(&cfg, archive_dir, why), 0, "%s", why);
	}
	fx_open_cfg(&cfg);
	lsn_clock_init_fake(&clock_, 1000 * 1000);
	rc = lsn_node_open(&node, store, &opts);
	store = NULL; /* the node owns it now */
	cr_assert_eq(rc, 0, "node open: %d", rc);
	rc = lsn_node_start(node);
	cr_assert_eq(rc, 0, "node start: %d", rc);
}

static struct lsn_log *make_log(const char *name, size_t records)
{
	struct lsn_log *log;
	char rec[100];
	uint64_t last;

	cr_assert_eq(lsn_node_create_log(node, name), 0);
	cr_assert_eq(lsn_store_find_log(lsn_node_store(node), name, &log), 0);
	memset(rec, 'x', sizeof(rec));
	for (size_t i = 0; i < records; i++) {
		struct iovec iov = { rec, sizeof(rec) };
		cr_assert_eq(lsn_node_append(node, log, &iov, 1, &last), 0);
	}
	cr_assert_eq(lsn_node_seal(node, log), 0);
	return log;
}

static void advance(uint64_t seconds)
{
	lsn_clock_advance(&clock_, seconds * 1000);
	lsn_node_tick_trimmer(node);
}

static uint64_t safe_lsn(struct lsn_log *log)
{
	struct lsn_trim_decision d;

	cr_assert_eq(lsn_node_decide(node, log, &d), 0);
	return d.safe_lsn;
}

static uint64_t trim_point(struct lsn_log *log)
{
	struct lsn_log_info info;

	lsn_log_info(log, &info);
	return info.trim_point;
}

/* A staging file of `size` bytes committed as snapshot `lsn`. */
static void commit_snapshot(struct lsn_log *log, uint64_t lsn, size_t size)
{
	char dir[512], path[600];
	char *data = malloc(size + 1);
	int fd;

	cr_assert_eq(lsn_staging_dir(log, dir, sizeof(dir)), 0);
	snprintf(path, sizeof(path), "%s/incoming", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	cr_assert_geq(fd, 0);
	memset(data, 's', size);
	cr_assert_eq(write(fd, data, size), (ssize_t)size);
	close(fd);
	free(data);
	cr_assert_eq(lsn_node_snapshot_commit(node, log, "incoming", lsn, 0), 0);
}

TestSuite(node, .init = setup, .fini = node_teardown, .timeout = 60);

Test(node, persisted_strategy_waits_for_startup_and_settling)
{
	struct lsn_trim_decision d;
	struct lsn_log *log;

	open_node(false, false);
	log = make_log("p0", 200); /* ~5 sealed 4 KiB segments */
	cr_assert_eq(lsn_node_set_persisted(node, log, 150), 0);
	cr_assert_eq(lsn_node_decide(node, log, &d), 0);
	cr_expect_eq(d.strategy, LSN_TRIM_PERSISTED);
	cr_expect_eq(d.raw_lsn, 150);
	cr_expect_eq(d.safe_lsn, 0, "startup protection for trim_delay");
	cr_expect(strstr(d.reason, "startup protection") != NULL, "reason: %s", d.reason);
	cr_expect_eq(lsn_node_trim_to(node, log, 100), -EPERM);
	cr_expect_eq(trim_point(log), 0);

	/* The refused request observed 150: safe once startup is over. */
	advance(DELAY + 1);
	cr_expect_eq(safe_lsn(log), 150);

	/* A higher point must be safe for trim_delay before it is usable. */
	cr_assert_eq(lsn_node_set_persisted(node, log, 190), 0);
	advance(1);
	cr_expect_eq(safe_lsn(log), 150, "observed just now: not settled");
	advance(DELAY / 2);
	cr_expect_eq(safe_lsn(log), 150, "half the delay: not settled");
	advance(DELAY);
	cr_expect_eq(safe_lsn(log), 190);
	cr_assert_eq(lsn_node_trim_safe(node, log), 0);
	cr_expect_gt(trim_point(log), 0);
	cr_expect_leq(trim_point(log), 190, "never past the persisted position");
}

Test(node, queries_do_not_settle_the_point)
{
	struct lsn_log *log;

	open_node(false, false);
	log = make_log("p0", 200);
	cr_assert_eq(lsn_node_set_persisted(node, log, 150), 0);
	/* Only trim passes observe; asking does not start the settling clock. */
	lsn_clock_advance(&clock_, (DELAY + 1) * 1000);
	for (int i = 0; i < 3; i++) {
		cr_expect_eq(safe_lsn(log), 0);
		lsn_clock_advance(&clock_, DELAY * 1000);
	}
	lsn_node_tick_trimmer(node);
	cr_expect_eq(safe_lsn(log), 0, "first observation now");
	advance(DELAY);
	cr_expect_eq(safe_lsn(log), 150);
}

Test(node, holds_lower_the_point_and_block_trims)
{
	struct lsn_trim_decision d;
	struct lsn_log *log;

	open_node(false, false);
	log = make_log("p0", 200);
	cr_assert_eq(lsn_node_set_persisted(node, log, 190), 0);
	cr_assert_eq(lsn_node_hold_set(node, log, "backup", 40), 0);
	advance(DELAY + 1);
	advance(DELAY + 1);
	cr_assert_eq(lsn_node_decide(node, log, &d), 0);
	cr_expect_eq(d.safe_lsn, 40, "the hold wins");
	cr_expect(strstr(d.reason, "hold") != NULL, "reason names the hold: %s", d.reason);
	cr_expect_eq(lsn_node_trim_to(node, log, 150), -EPERM);
	cr_expect_eq(trim_point(log), 0, "a refused trim changes nothing");
	cr_assert_eq(lsn_node_hold_remove(node, log, "backup"), 0);
	cr_expect_eq(lsn_node_hold_remove(node, log, "backup"), -ENOENT);
	advance(1);
	cr_expect_eq(safe_lsn(log), 40, "the raised point settles first");
	advance(DELAY + 1);
	cr_expect_eq(safe_lsn(log), 190);
	cr_expect_eq(lsn_node_trim_to(node, log, 150), 0);
	cr_expect_gt(trim_point(log), 40);
	cr_expect_leq(trim_point(log), 150);
}

Test(node, rm_of_a_segment_goes_through_the_same_rules)
{
	struct lsn_segment_info *segs;
	struct lsn_log *log;
	char why[LSN_TRIM_REASON_MAX];
	size_t n;

	open_node(false, false);
	log = make_log("p0", 200);
	cr_assert_eq(lsn_log_segments(log, &segs, &n), 0);
	cr_assert_geq(n, 3);
	cr_assert_eq(lsn_node_segment_blocked(node, log, segs[0].first_lsn, why, sizeof(why)), 0);
	cr_expect_neq(why[0], '\0', "blocked before anything is persisted");
	cr_expect_eq(lsn_node_trim_segment(node, log, segs[0].first_lsn), -EPERM);
	cr_assert_eq(lsn_node_set_persisted(node, log, segs[0].last_lsn), 0);
	advance(DELAY + 1);
	advance(DELAY + 1);
	cr_assert_eq(lsn_node_segment_blocked(node, log, segs[0].first_lsn, why, sizeof(why)), 0);
	cr_expect_str_eq(why, "");
	cr_expect_eq(lsn_node_trim_segment(node, log, segs[1].first_lsn), -EPERM,
		     "only the oldest segment");
	cr_expect_eq(lsn_node_trim_segment(node, log, segs[0].first_lsn), 0);
	cr_expect_eq(trim_point(log), segs[0].last_lsn);
	cr_expect_eq(lsn_node_trim_segment(node, log, segs[0].first_lsn), -ENOENT);
	free(segs);
}

Test(node, auto_trim_runs_on_its_period)
{
	struct lsn_config cfg;
	struct lsn_node_options opts = { .clock = &clock_, .threads = false };
	struct lsn_log *log;

	lsn_config_defaults(&cfg);
	cfg.segment_size = 4096;
	cfg.trim_delay = DELAY;
	cfg.auto_trim = 5;
	fx_open_cfg(&cfg);
	lsn_clock_init_fake(&clock_, 5000 * 1000);
	cr_assert_eq(lsn_node_open(&node, store, &opts), 0);
	store = NULL;
	cr_assert_eq(lsn_node_start(node), 0);
	log = make_log("p0", 200);
	cr_assert_eq(lsn_node_set_persisted(node, log, 120), 0);
	for (int i = 0; i < 2 * DELAY + 6; i++)
		advance(1);
	cr_expect_gt(trim_point(log), 0, "auto_trim trimmed without being asked");
	cr_expect_leq(trim_point(log), 120);
}

Test(node, archiver_fails_then_recovers_and_coverage_drives_trims)
{
	char text[300];
	struct lsn_trim_decision d;
	struct lsn_log *log;

	char blocker[200];

	open_node(true, true);
	log = make_log("p0", 200);
	/* A file where the log's archive directory goes: every copy fails. */
	snprintf(blocker, sizeof(blocker), "%s/p0", archive_dir);
	cr_assert_eq(close(open(blocker, O_WRONLY | O_CREAT, 0644)), 0);
	commit_snapshot(log, 120, 5000);
	lsn_node_tick_archiver(node);
	cr_assert_eq(lsn_node_snapshot_archived_text(node, log, 120, text, sizeof(text)), 0);
	cr_expect(strncmp(text, "failed: ", 8) == 0, "archived: %s", text);
	cr_expect_eq(lsn_node_archived_lsn(node, log), 0, "nothing confirmed");
	cr_assert_eq(lsn_node_decide(node, log, &d), 0);
	cr_expect_eq(d.strategy, LSN_TRIM_ARCHIVED);
	cr_expect_eq(d.raw_lsn, 0);

	/* The obstacle goes; the retry (after its backoff) succeeds. */
	cr_assert_eq(unlink(blocker), 0);
	lsn_clock_advance(&clock_, 2000);
	lsn_node_tick_archiver(node);
	cr_assert_eq(lsn_node_snapshot_archived_text(node, log, 120, text, sizeof(text)), 0);
	cr_expect_str_eq(text, "yes");
	cr_expect_eq(lsn_node_archived_lsn(node, log), 120);
	advance(DELAY + 1);
	advance(DELAY + 1);
	cr_expect_eq(safe_lsn(log), 120);
	cr_assert_eq(lsn_node_trim_safe(node, log), 0);
	cr_expect_gt(trim_point(log), 0);

	/* The only snapshot covering the trimmed prefix cannot go. */
	cr_expect_eq(lsn_node_snapshot_unlink(node, log, 120), -EPERM);
	commit_snapshot(log, 190, 100);
	lsn_node_tick_archiver(node);
	cr_expect_eq(lsn_node_archived_lsn(node, log), 190);
	cr_expect_eq(lsn_node_snapshot_unlink(node, log, 120), 0, "190 covers the prefix now");
	cr_expect_eq(lsn_node_snapshot_unlink(node, log, 190), -EPERM);
}

Test(node, mode_switch_needs_an_archive_and_coverage)
{
	struct lsn_log *log;

	open_node(false, false);
	log = make_log("p0", 200);
	cr_expect_eq(lsn_node_mode(node), LSN_MODE_SINGLE);
	cr_expect_eq(lsn_node_set_mode(node, LSN_MODE_CLUSTER), -EPERM, "no archive");
	cr_assert_eq(lsn_node_set_persisted(node, log, 100), 0);
	advance(DELAY + 1);
	advance(DELAY + 1);
	cr_assert_eq(lsn_node_trim_safe(node, log), 0);
	cr_expect_gt(trim_point(log), 0);
	cr_expect_eq(lsn_node_set_mode(node, LSN_MODE_SINGLE), 0, "no change is fine");
	cr_expect_eq(lsn_node_mode(node), LSN_MODE_SINGLE);
}

Test(node, cluster_mode_is_for_good)
{
	struct lsn_log *log;

	open_node(true, true);
	log = make_log("p0", 200);
	(void)log;
	cr_expect_eq(lsn_node_set_mode(node, LSN_MODE_CLUSTER), 0, "archive, nothing trimmed");
	cr_expect_eq(lsn_node_mode(node), LSN_MODE_CLUSTER);
	cr_expect_eq(lsn_node_set_mode(node, LSN_MODE_SINGLE), -EPERM, "never back");
	cr_expect_eq(lsn_node_mode(node), LSN_MODE_CLUSTER);
}

Test(node, uncovered_trim_point_refuses_the_switch_to_cluster)
{
	struct lsn_log *log;

	open_node(true, true);
	log = make_log("p0", 200);
	commit_snapshot(log, 60, 10);
	lsn_node_tick_archiver(node);
	cr_assert_eq(lsn_node_archived_lsn(node, log), 60);
	advance(DELAY + 1);
	advance(DELAY + 1);
	cr_assert_eq(lsn_node_trim_safe(node, log), 0);
	cr_assert_gt(trim_point(log), 0);
	cr_assert_leq(trim_point(log), 60);
	cr_expect_eq(lsn_node_set_mode(node, LSN_MODE_CLUSTER), 0, "covered by snapshot 60");
}

Test(node, counters_count_appends_and_trims)
{
	struct lsn_node_counters c;
	struct lsn_log *log;

	open_node(false, false);
	log = make_log("p0", 200);
	lsn_node_counters(node, &c);
	cr_expect_eq(c.records_appended, 200);
	cr_expect_eq(c.bytes_appended, 200 * 100);
	cr_expect_eq(c.segments_trimmed, 0);
	cr_expect_eq(lsn_node_trim_to(node, log, 50), -EPERM);
	cr_assert_eq(lsn_node_set_persisted(node, log, 100), 0);
	advance(DELAY + 1);
	advance(DELAY + 1);
	cr_assert_eq(lsn_node_trim_safe(node, log), 0);
	lsn_node_counters(node, &c);
	cr_expect_eq(c.trims_refused, 1);
	cr_expect_gt(c.segments_trimmed, 0);
	cr_expect_gt(c.bytes_trimmed, 0);
}
