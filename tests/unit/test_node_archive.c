/*
 * The node over an archive directory (issue 9): availability by the
 * marker, no confirmation counted while it is missing, recovery, trim
 * points published before a trim, unlink refused while a registered
 * node's trimmed prefix depends on the snapshot; the archive pass at
 * start.  A node opened with threads=false and a fake clock, driven by
 * lsn_node_tick_archiver() (threads on only to see the pass at start).
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "node/node.h"
#include "storage/archive.h"
#include "storage/staging.h"

static char base[64], store_dir[128], arch_dir[128], marker[160], moved[160];
static struct lsn_clock clk;
static struct lsn_node *node;
static struct lsn_log *log_p;

static int rm_one(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	(void)sb;
	(void)ftw;
	return type == FTW_DP ? rmdir(path) : unlink(path);
}

static void setup(void)
{
	struct lsn_node_options opts = { .clock = &clk, .threads = false };
	struct lsn_config cfg;
	struct lsn_store *store;
	char why[256];

	snprintf(base, sizeof(base), "/tmp/lsn-node-XXXXXX");
	cr_assert_not_null(mkdtemp(base));
	snprintf(store_dir, sizeof(store_dir), "%s/store", base);
	snprintf(arch_dir, sizeof(arch_dir), "%s/arch", base);
	snprintf(marker, sizeof(marker), "%s/%s", arch_dir, LSN_ARCHIVE_MARKER);
	snprintf(moved, sizeof(moved), "%s/marker.away", base);
	cr_assert_eq(mkdir(arch_dir, 0755), 0);
	lsn_config_defaults(&cfg);
	cfg.segment_size = 4096;
	cfg.trim_delay = 0;
	snprintf(cfg.node_id, sizeof(cfg.node_id), "n1");
	cr_assert_eq(lsn_archive_config_adopt(&cfg, arch_dir, why), 0, "%s", why);
	cr_assert_eq(lsn_store_format(store_dir, &cfg), 0);
	cr_assert_eq(lsn_store_open(store_dir, &store), 0);
	lsn_clock_init_fake(&clk, 1000000);
	cr_assert_eq(lsn_node_open(&node, store, &opts), 0);
	cr_assert_eq(lsn_node_start(node), 0);
	cr_assert_eq(lsn_node_create_log(node, "p"), 0);
	cr_assert_eq(lsn_store_find_log(lsn_node_store(node), "p", &log_p), 0);
}

static void teardown(void)
{
	lsn_node_free(node);
	node = NULL;
	nftw(base, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* 30 records of 1 KiB (several sealed segments) and snapshot 20. */
static void fill_and_snapshot(uint64_t lsn)
{
	char rec[1024];
	struct iovec iov = { rec, sizeof(rec) };
	uint64_t last = 0;
	int fd;

	memset(rec, 'x', sizeof(rec));
	for (int i = 0; i < 30; i++)
		cr_assert_eq(lsn_node_append(node, log_p, &iov, 1, &last), 0);
	cr_assert_eq(lsn_staging_open(log_p, ".s", O_CREAT | O_WRONLY, &fd), 0);
	cr_assert_eq(write(fd, "state", 5), 5);
	close(fd);
	cr_assert_eq(lsn_node_snapshot_commit(node, log_p, ".s", lsn, 0), 0);
}

static void tick(void)
{
	lsn_clock_advance(&clk, 1000);
	lsn_node_tick_archiver(node);
}

TestSuite(node_archive, .init = setup, .fini = teardown, .timeout = 30);

Test(node_archive, missing_marker_counts_nothing_and_recovers)
{
	char text[512];

	fill_and_snapshot(20);
	tick();
	cr_assert_eq(lsn_node_archived_lsn(node, log_p), 20);

	cr_assert_eq(rename(marker, moved), 0);
	tick();
	cr_assert_eq(lsn_node_archived_lsn(node, log_p), 0, "a confirmation counted while unavailable");
	lsn_node_archive_state_text(node, text, sizeof(text));
	cr_assert(strstr(text, "archive unavailable: marker missing at ") != NULL, "%s", text);
	cr_assert_eq(lsn_node_snapshot_archived_text(node, log_p, 20, text, sizeof(text)), 0);
	cr_assert(strncmp(text, "failed: archive unavailable", 27) == 0, "%s", text);
	cr_assert_eq(lsn_node_trim_to(node, log_p, 20), -EPERM);

	cr_assert_eq(rename(moved, marker), 0);
	tick();
	cr_assert_eq(lsn_node_archived_lsn(node, log_p), 20, "not confirmed again after recovery");
	lsn_node_archive_state_text(node, text, sizeof(text));
	cr_assert_str_eq(text, "available");
}

Test(node_archive, another_id_is_unavailable)
{
	char text[512];
	FILE *f;

	fill_and_snapshot(20);
	tick();
	f = fopen(marker, "w");
	cr_assert_not_null(f);
	fprintf(f, "lsnfs archive format 1\narchive_id=%032d\n", 7);
	fclose(f);
	tick();
	cr_assert_eq(lsn_node_archived_lsn(node, log_p), 0);
	lsn_node_archive_state_text(node, text, sizeof(text));
	cr_assert(strstr(text, "belongs to another archive id") != NULL, "%s", text);
}

Test(node_archive, trim_point_published_before_trim)
{
	struct lsn_archive_node *nodes = NULL;
	struct lsn_log_info info;
	size_t n = 0;

	fill_and_snapshot(20);
	tick();
	cr_assert_eq(lsn_node_trim_to(node, log_p, 20), 0);
	lsn_log_info(log_p, &info);
	cr_assert_gt(info.trim_point, 0);
	cr_assert_eq(lsn_archive_nodes_in(arch_dir, &nodes, &n), 0);
	cr_assert_eq(n, 1);
	cr_assert_str_eq(nodes[0].node_id, "n1");
	cr_assert_eq(nodes[0].n_points, 1);
	cr_assert_eq(nodes[0].points[0].trim_point, info.trim_point);
	lsn_archive_nodes_free(nodes, n);
}

Test(node_archive, no_trim_when_the_trim_point_cannot_be_published)
{
	struct lsn_log_info info;

	fill_and_snapshot(20);
	tick();
	/* The marker goes between the archiver's pass and the trim. */
	cr_assert_eq(rename(marker, moved), 0);
	cr_assert_eq(lsn_node_trim_to(node, log_p, 20), -EPERM);
	lsn_log_info(log_p, &info);
	cr_assert_eq(info.trim_point, 0);
}

Test(node_archive, unlink_refused_for_another_nodes_trim_point)
{
	char path[256];
	FILE *f;

	fill_and_snapshot(20);
	tick();
	snprintf(path, sizeof(path), "%s/.nodes/other", arch_dir);
	f = fopen(path, "w");
	cr_assert_not_null(f);
	fprintf(f, "node_id=other\npid=1\nregistered=1\nformat=2\nupdated=1\ntrim.p=20\n");
	fclose(f);
	cr_assert_eq(lsn_node_snapshot_unlink(node, log_p, 20), -EPERM);
	cr_assert_eq(unlink(path), 0);
	cr_assert_eq(lsn_node_snapshot_unlink(node, log_p, 20), 0);
}

/*
 * A confirmed copy deleted from the archive behind the node's back (issue
 * 10, found by tests/stress/archive_faults.py): the next trim must not go
 * ahead on the strength of it, even before the periodic re-check; the copy
 * stops counting at once and is archived again by the next passes.
 */
Test(node_archive, no_trim_on_a_copy_deleted_behind_its_back)
{
	struct lsn_log_info info;
	char copy[256];
	struct stat st;
	int i;

	fill_and_snapshot(20);
	tick();
	cr_assert_eq(lsn_node_archived_lsn(node, log_p), 20);
	snprintf(copy, sizeof(copy), "%s/p/%020d.snap.zst", arch_dir, 20);
	cr_assert_eq(unlink(copy), 0);

	cr_assert_eq(lsn_node_trim_to(node, log_p, 20), -EPERM, "trimmed on a deleted copy");
	lsn_log_info(log_p, &info);
	cr_assert_eq(info.trim_point, 0);
	cr_assert_eq(lsn_node_archived_lsn(node, log_p), 0, "the deleted copy still counts");

	for (i = 0; i < 10 && lsn_node_archived_lsn(node, log_p) != 20; i++)
		tick();
	cr_assert_eq(lsn_node_archived_lsn(node, log_p), 20, "not archived again");
	cr_assert_eq(stat(copy, &st), 0, "the copy is not back in the archive");
	cr_assert_eq(lsn_node_trim_to(node, log_p, 20), 0);
	lsn_log_info(log_p, &info);
	cr_assert_gt(info.trim_point, 0);
}

/* After a remount the archive pass runs at once: archived_lsn is back
 * without waiting a worker period (an hour here). */
Test(node_archive, the_archive_pass_runs_at_start)
{
	struct lsn_node_options opts = { .clock = &clk, .threads = true, .worker_period_ms = 3600 * 1000 };
	struct lsn_store *store;

	fill_and_snapshot(20);
	tick();
	cr_assert_eq(lsn_node_archived_lsn(node, log_p), 20);
	lsn_node_free(node);
	node = NULL;
	cr_assert_eq(lsn_store_open(store_dir, &store), 0);
	cr_assert_eq(lsn_node_open(&node, store, &opts), 0);
	cr_assert_eq(lsn_store_find_log(lsn_node_store(node), "p", &log_p), 0);
	cr_assert_eq(lsn_node_archived_lsn(node, log_p), 0, "counted before its copy was re-verified");
	cr_assert_eq(lsn_node_start(node), 0);
	for (int i = 0; i < 2000 && lsn_node_archived_lsn(node, log_p) != 20; i++)
		usleep(10 * 1000);
	cr_assert_eq(lsn_node_archived_lsn(node, log_p), 20, "the copy was not re-verified at start");
}
