/*
 * Unit tests for the archive's identity marker, node registry, coverage
 * rule and command runner (storage/archive.h), no store and no FUSE except
 * where a test says so.  Each test works in its own directory under /tmp.
 * Commands are real /bin/sh processes; a test that checks "nothing left
 * behind" reads /proc for the pids the command wrote down.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "storage/archive.h"
#include "storage/diag.h"

#define FX_TMPDIR_TEMPLATE "/tmp/lsn-arch-XXXXXX"
#include "tests/unit/fixture.h"

/* ---- helpers -------------------------------------------------------------- */

static void put_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	cr_assert_not_null(f, "fopen %s: %s", path, strerror(errno));
	fputs(text, f);
	cr_assert_eq(fclose(f), 0);
}

static char *get_text(const char *path)
{
	static char buf[8192];
	FILE *f = fopen(path, "r");
	size_t n;

	cr_assert_not_null(f, "fopen %s: %s", path, strerror(errno));
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static bool exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

static void sub(char *buf, size_t n, const char *name)
{
	snprintf(buf, n, "%s/%s", tmpdir, name);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Entries of dir other than . and .., joined by spaces. */
static char *listing(const char *dir)
{
	static char out[4096];
	char cmd[512];
	FILE *p;
	size_t n;

	snprintf(cmd, sizeof(cmd), "ls -A '%s' | tr '\\n' ' '", dir);
	p = popen(cmd, "r");
	cr_assert_not_null(p);
	n = fread(out, 1, sizeof(out) - 1, p);
	out[n] = '\0';
	pclose(p);
	return out;
}

/* ---- 1. identity ------------------------------------------------------------ */

Test(identity, ensure_writes_then_adopts, .init = setup, .fini = teardown)
{
	char dir[128], other[128], file[128], marker[256];
	char id[LSN_ARCHIVE_ID_LEN + 1], id2[LSN_ARCHIVE_ID_LEN + 1], id3[LSN_ARCHIVE_ID_LEN + 1];
	char *text;

	sub(dir, sizeof(dir), "arch");
	cr_expect_eq(lsn_archive_identity_ensure(dir, id), -ENOENT);
	cr_expect(!exists(dir), "ensure created the archive root");
	sub(file, sizeof(file), "plain");
	put_text(file, "x");
	cr_expect_eq(lsn_archive_identity_ensure(file, id), -ENOTDIR);

	cr_assert_eq(mkdir(dir, 0755), 0);
	cr_assert_eq(lsn_archive_identity_ensure(dir, id), 0);
	cr_expect(lsn_archive_id_valid(id), "id '%s'", id);
	snprintf(marker, sizeof(marker), "%s/%s", dir, LSN_ARCHIVE_MARKER);
	text = get_text(marker);
	cr_expect(strncmp(text, "lsnfs archive format 1\n", 23) == 0, "marker: '%s'", text);
	cr_expect_not_null(strstr(text, id), "marker: '%s' lacks %s", text, id);
	cr_expect_str_eq(listing(dir), ".lsnfs-archive ", "temporary files left");

	/* adopted, not rewritten */
	cr_assert_eq(lsn_archive_identity_ensure(dir, id2), 0);
	cr_expect_str_eq(id2, id);
	cr_assert_eq(lsn_archive_identity_read(dir, id2), 0);
	cr_expect_str_eq(id2, id);

	/* another directory is another archive */
	sub(other, sizeof(other), "arch2");
	cr_assert_eq(mkdir(other, 0755), 0);
	cr_assert_eq(lsn_archive_identity_ensure(other, id3), 0);
	cr_expect_str_neq(id3, id);
}

Test(identity, bad_markers_are_never_overwritten, .init = setup, .fini = teardown)
{
	static const struct {
		const char *text;
		int rc;
	} cases[] = {
		{ "", -EBADMSG },
		{ "hello\n", -EBADMSG },
		{ "lsnfs archive format 1\n", -EBADMSG },
		{ "lsnfs archive format 1\narchive_id=xyz\n", -EBADMSG },
		{ "lsnfs archive format 1\narchive_id=0123456789ABCDEF0123456789ABCDEF\n", -EBADMSG },
		{ "lsnfs archive format x\narchive_id=0123456789abcdef0123456789abcdef\n", -EBADMSG },
		{ "lsnfs archive format 2\narchive_id=0123456789abcdef0123456789abcdef\n",
		  -EPROTONOSUPPORT },
		{ "lsnfs archive format 1\nfuture=1\narchive_id=0123456789abcdef0123456789abcdef\n", 0 },
	};
	char dir[128], marker[256], id[LSN_ARCHIVE_ID_LEN + 1], reason[LSN_ARCHIVE_REASON_MAX];

	sub(dir, sizeof(dir), "arch");
	cr_assert_eq(mkdir(dir, 0755), 0);
	snprintf(marker, sizeof(marker), "%s/%s", dir, LSN_ARCHIVE_MARKER);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		put_text(marker, cases[i].text);
		cr_expect_eq(lsn_archive_identity_ensure(dir, id), cases[i].rc, "case %zu", i);
		cr_expect_str_eq(get_text(marker), cases[i].text, "case %zu: marker rewritten", i);
		reason[0] = '\0';
		cr_expect_eq(lsn_archive_identity_check(dir, "0123456789abcdef0123456789abcdef", reason),
			     cases[i].rc, "case %zu", i);
		cr_expect_eq(reason[0] == '\0', cases[i].rc == 0, "case %zu: reason '%s'", i, reason);
	}
}

Test(identity, check_reasons, .init = setup, .fini = teardown)
{
	char dir[128], other[128], marker[256], want[512], reason[LSN_ARCHIVE_REASON_MAX];
	char id[LSN_ARCHIVE_ID_LEN + 1], id2[LSN_ARCHIVE_ID_LEN + 1];

	sub(dir, sizeof(dir), "arch");
	sub(other, sizeof(other), "arch2");
	cr_assert_eq(mkdir(dir, 0755), 0);
	cr_assert_eq(mkdir(other, 0755), 0);
	cr_assert_eq(lsn_archive_identity_ensure(dir, id), 0);
	cr_assert_eq(lsn_archive_identity_ensure(other, id2), 0);

	reason[0] = '\0';
	cr_expect_eq(lsn_archive_identity_check(dir, id, reason), 0);
	cr_expect_str_eq(reason, "");
	cr_expect_eq(lsn_archive_identity_check(dir, id, NULL), 0, "reason may be NULL");

	cr_expect_eq(lsn_archive_identity_check(other, id, reason), -EXDEV);
	snprintf(want, sizeof(want), "archive unavailable: %s belongs to another archive id %s", other,
		 id2);
	cr_expect_str_eq(reason, want);

	snprintf(marker, sizeof(marker), "%s/%s", dir, LSN_ARCHIVE_MARKER);
	cr_assert_eq(unlink(marker), 0);
	cr_expect_eq(lsn_archive_identity_check(dir, id, reason), -ENOENT);
	snprintf(want, sizeof(want), "archive unavailable: marker missing at %s", dir);
	cr_expect_str_eq(reason, want);

	/* the root itself gone (an unmounted path that was removed) */
	cr_assert_eq(rmdir(dir), 0);
	cr_expect_eq(lsn_archive_identity_check(dir, id, reason), -ENOENT);
	cr_expect_str_eq(reason, want);
}

struct race {
	const char *dir;
	char id[LSN_ARCHIVE_ID_LEN + 1];
	int rc;
};

static void *race_ensure(void *arg)
{
	struct race *r = arg;

	r->rc = lsn_archive_identity_ensure(r->dir, r->id);
	return NULL;
}

/* Nodes joining a fresh archive at once all end with one id. */
Test(identity, racing_ensures_agree, .init = setup, .fini = teardown)
{
	enum { THREADS = 8, ROUNDS = 20 };
	struct race r[THREADS];
	pthread_t th[THREADS];
	char dir[128];

	for (int round = 0; round < ROUNDS; round++) {
		snprintf(dir, sizeof(dir), "%s/arch%d", tmpdir, round);
		cr_assert_eq(mkdir(dir, 0755), 0);
		for (int i = 0; i < THREADS; i++) {
			r[i].dir = dir;
			cr_assert_eq(pthread_create(&th[i], NULL, race_ensure, &r[i]), 0);
		}
		for (int i = 0; i < THREADS; i++)
			pthread_join(th[i], NULL);
		for (int i = 0; i < THREADS; i++) {
			cr_expect_eq(r[i].rc, 0, "round %d thread %d: %d", round, i, r[i].rc);
			cr_expect_str_eq(r[i].id, r[0].id, "round %d thread %d", round, i);
		}
		cr_expect_str_eq(listing(dir), ".lsnfs-archive ", "round %d: temporary files left", round);
	}
}

Test(identity, config_adopt, .init = setup, .fini = teardown)
{
	char dir[128], why[LSN_ARCHIVE_REASON_MAX], id[LSN_ARCHIVE_ID_LEN + 1];
	struct lsn_config cfg, before;

	lsn_config_defaults(&cfg);
	sub(dir, sizeof(dir), "arch");
	before = cfg;
	cr_expect_eq(lsn_archive_config_adopt(&cfg, dir, why), -ENOENT);
	cr_expect_not_null(strstr(why, "does not exist"), "why: %s", why);
	cr_expect(!exists(dir));
	cr_expect_eq(lsn_archive_config_adopt(&cfg, "relative", why), -EINVAL);
	cr_expect(memcmp(&cfg, &before, sizeof(cfg)) == 0, "a refused adopt changed the config");

	cr_assert_eq(mkdir(dir, 0755), 0);
	cr_assert_eq(lsn_archive_config_adopt(&cfg, dir, why), 0, "%s", why);
	cr_expect_str_eq(cfg.archive, dir);
	cr_assert_eq(lsn_archive_identity_read(dir, id), 0);
	cr_expect_str_eq(cfg.archive_id, id);

	cr_assert_eq(lsn_archive_config_adopt(&cfg, "none", why), 0);
	cr_expect_str_eq(cfg.archive, "");
	cr_expect_str_eq(cfg.archive_id, "");
	cr_expect(exists(dir), "archive=none touched the archive");
}

/* A handle opened with the recorded id sees the archive go and come back. */
Test(identity, handle_available, .init = setup, .fini = teardown)
{
	char dir[128], scr[128], why[LSN_ARCHIVE_REASON_MAX], reason[LSN_ARCHIVE_REASON_MAX];
	char marker[256], want[512], saved[256];
	struct lsn_archive *a;
	struct lsn_config cfg;

	lsn_config_defaults(&cfg);
	sub(dir, sizeof(dir), "arch");
	sub(scr, sizeof(scr), "scratch");
	cr_assert_eq(mkdir(dir, 0755), 0);
	cr_assert_eq(lsn_archive_config_adopt(&cfg, dir, why), 0, "%s", why);
	cr_assert_eq(lsn_archive_init_config(&a, &cfg, scr), 0);
	cr_expect_eq(lsn_archive_available(a, reason), 0, "%s", reason);
	snprintf(marker, sizeof(marker), "%s/%s", dir, LSN_ARCHIVE_MARKER);
	snprintf(saved, sizeof(saved), "%s/saved", tmpdir);
	cr_assert_eq(rename(marker, saved), 0);
	cr_expect_eq(lsn_archive_available(a, reason), -ENOENT);
	snprintf(want, sizeof(want), "archive unavailable: marker missing at %s", dir);
	cr_expect_str_eq(reason, want);
	cr_assert_eq(rename(saved, marker), 0);
	cr_expect_eq(lsn_archive_available(a, reason), 0, "%s", reason);
	lsn_archive_free(a);

	/* no recorded id (a store from before markers): nothing to check */
	cfg.archive_id[0] = '\0';
	cr_assert_eq(unlink(marker), 0);
	cr_assert_eq(lsn_archive_init_config(&a, &cfg, scr), 0);
	cr_expect_eq(lsn_archive_available(a, reason), 0);
	lsn_archive_free(a);
}

/* ---- 2. registry ------------------------------------------------------------ */

static struct lsn_archive *open_node(const char *dir, const char *node)
{
	char scr[192];
	struct lsn_archive *a;

	snprintf(scr, sizeof(scr), "%s/scratch-%s", tmpdir, node);
	cr_assert_eq(lsn_archive_init(&a, dir, "", node, scr), 0);
	return a;
}

static const struct lsn_archive_node *find_node(const struct lsn_archive_node *v, size_t n,
						const char *id)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i].node_id, id) == 0)
			return &v[i];
	return NULL;
}

static uint64_t point_of(const struct lsn_archive_node *node, const char *log)
{
	for (size_t i = 0; i < node->n_points; i++)
		if (strcmp(node->points[i].log, log) == 0)
			return node->points[i].trim_point;
	return 0;
}

Test(registry, publish_and_read, .init = setup, .fini = teardown)
{
	char dir[128], path[256];
	struct lsn_archive *a, *b;
	struct lsn_archive_node *v;
	const struct lsn_archive_node *na, *nb;
	struct lsn_archive_trim_point p1[] = { { "p0", 24 }, { "p1", 8 } };
	struct lsn_archive_trim_point p2[] = { { "p0", 40 }, { "p1", 0 }, { "p2", 3 } };
	struct lsn_archive_trim_point bad[] = { { ".x", 1 } };
	int64_t t0 = (int64_t)time(NULL);
	size_t n;

	sub(dir, sizeof(dir), "arch");
	a = open_node(dir, "node-a");
	cr_expect_eq(lsn_archive_register(a), -ENOENT, "registered into a missing root");
	cr_expect(!exists(dir));
	cr_assert_eq(mkdir(dir, 0755), 0);
	b = open_node(dir, "node-b");
	cr_assert_eq(lsn_archive_register(a), 0);
	cr_assert_eq(lsn_archive_register(b), 0);
	cr_assert_eq(lsn_archive_publish(a, p1, 2), 0);

	cr_assert_eq(lsn_archive_nodes(b, &v, &n), 0);
	cr_assert_eq(n, 2);
	cr_expect_str_eq(v[0].node_id, "node-a", "sorted by node id");
	na = find_node(v, n, "node-a");
	nb = find_node(v, n, "node-b");
	cr_assert(na && nb);
	cr_expect(na->published && nb->published);
	cr_expect_eq(na->n_points, 2);
	cr_expect_eq(point_of(na, "p0"), 24);
	cr_expect_eq(point_of(na, "p1"), 8);
	cr_expect_eq(nb->n_points, 0);
	cr_expect_geq(na->updated, t0);
	cr_expect_geq(na->registered, t0);
	cr_expect_eq(na->pid, (int)getpid());
	lsn_archive_nodes_free(v, n);

	/* merge: p0 replaced, p1 removed (0), p2 added */
	cr_assert_eq(lsn_archive_publish(a, p2, 3), 0);
	cr_expect_eq(lsn_archive_publish(a, bad, 1), -EINVAL);
	cr_assert_eq(lsn_archive_nodes(a, &v, &n), 0);
	na = find_node(v, n, "node-a");
	cr_assert_not_null(na);
	cr_expect_eq(na->n_points, 2);
	cr_expect_eq(point_of(na, "p0"), 40);
	cr_expect_eq(point_of(na, "p1"), 0);
	cr_expect_eq(point_of(na, "p2"), 3);
	lsn_archive_nodes_free(v, n);
	snprintf(path, sizeof(path), "%s/.nodes", dir);
	cr_expect_str_eq(listing(path), "node-a node-b ", "temporary files left");

	/* a restarted node keeps what it published until it publishes again */
	lsn_archive_free(a);
	a = open_node(dir, "node-a");
	cr_assert_eq(lsn_archive_register(a), 0);
	cr_assert_eq(lsn_archive_nodes_in(dir, &v, &n), 0);
	na = find_node(v, n, "node-a");
	cr_assert_not_null(na);
	cr_expect_eq(point_of(na, "p0"), 40, "trim points lost at re-registration");
	cr_expect_eq(point_of(na, "p2"), 3);
	lsn_archive_nodes_free(v, n);

	lsn_archive_free(a);
	lsn_archive_free(b);
}

/* Registrations written by the previous lsnfs (format 1), foreign files and
 * temporaries are tolerated. */
Test(registry, old_format_and_junk, .init = setup, .fini = teardown)
{
	char dir[128], nodes[160], path[256];
	struct lsn_archive_node *v;
	const struct lsn_archive_node *old, *mine;
	struct lsn_archive *a;
	struct lsn_archive_trim_point p[] = { { "p0", 5 } };
	size_t n;

	sub(dir, sizeof(dir), "arch");
	snprintf(nodes, sizeof(nodes), "%s/.nodes", dir);
	cr_assert_eq(mkdir(dir, 0755), 0);
	cr_assert_eq(lsn_archive_nodes_in(dir, &v, &n), 0, "no .nodes yet");
	cr_expect_eq(n, 0);
	cr_assert_eq(mkdir(nodes, 0755), 0);
	snprintf(path, sizeof(path), "%s/old-node", nodes);
	put_text(path, "node_id=old-node\npid=4242\nregistered=1700000000\n");
	snprintf(path, sizeof(path), "%s/.old-node.tmp", nodes);
	put_text(path, "node_id=tmp\n");
	snprintf(path, sizeof(path), "%s/foreign", nodes);
	put_text(path, "something else entirely\n");
	snprintf(path, sizeof(path), "%s/odd", nodes);
	put_text(path, "node_id=odd\nformat=2\nupdated=x\ntrim.p0=abc\ntrim..bad=4\ntrim.p1=7\nnoeq\n");

	a = open_node(dir, "mine");
	cr_assert_eq(lsn_archive_publish(a, p, 1), 0, "publish before register");
	cr_assert_eq(lsn_archive_nodes(a, &v, &n), 0);
	cr_expect_eq(n, 3, "got %zu registrations", n);
	old = find_node(v, n, "old-node");
	cr_assert_not_null(old);
	cr_expect(!old->published, "format 1 has no trim points to trust");
	cr_expect_eq(old->n_points, 0);
	cr_expect_eq(old->registered, 1700000000);
	cr_expect_eq(old->updated, 1700000000, "updated falls back to registered");
	cr_expect_eq(old->pid, 4242);
	mine = find_node(v, n, "mine");
	cr_assert_not_null(mine);
	cr_expect_eq(point_of(mine, "p0"), 5);
	old = find_node(v, n, "odd");
	cr_assert_not_null(old);
	cr_expect_eq(old->n_points, 1, "only the well-formed trim line counts");
	cr_expect_eq(point_of(old, "p1"), 7);
	cr_expect_eq(lsn_archive_other_nodes(a, NULL, 0), 3);
	lsn_archive_nodes_free(v, n);
	lsn_archive_free(a);
}

/* ---- 3. coverage rule -------------------------------------------------------- */

Test(registry, unlink_blocker_table)
{
	static struct lsn_archive_trim_point pa[] = { { "p0", 20 }, { "p1", 5 } };
	static struct lsn_archive_trim_point pb[] = { { "p0", 30 } };
	static struct lsn_archive_trim_point pold[] = { { "p0", 99 } };
	static const struct lsn_archive_node nodes[] = {
		{ .node_id = "a", .published = true, .points = pa, .n_points = 2 },
		{ .node_id = "b", .published = true, .points = pb, .n_points = 1 },
		{ .node_id = "c", .published = true, .points = NULL, .n_points = 0 },
	};
	static const struct {
		const char *log;
		uint64_t lsn;
		uint64_t archived[4];
		size_t n_archived;
		const char *blocker; /* NULL: allowed */
		uint64_t tp;
	} cases[] = {
		/* below every trim point: never needed for coverage */
		{ "p0", 10, { 10, 20, 30 }, 3, NULL, 0 },
		/* a's prefix (20) is still covered by 30 after removing 20 */
		{ "p0", 20, { 10, 20, 30 }, 3, NULL, 0 },
		/* 30 is the only one >= 30 (b) and >= 20 once 20 is gone... */
		{ "p0", 30, { 10, 20, 30 }, 3, "b", 30 },
		/* ...and the only one >= 20 (a) when 20 is not archived */
		{ "p0", 30, { 10, 30 }, 2, "a", 20 },
		/* a later snapshot covers both */
		{ "p0", 30, { 30, 45 }, 2, NULL, 0 },
		/* the snapshot being removed is not in the list: same rule */
		{ "p0", 25, { 10 }, 1, "a", 20 },
		/* the trim point itself is covered by an equal LSN */
		{ "p0", 20, { 20 }, 1, "a", 20 },
		{ "p1", 5, { 5, 6 }, 2, NULL, 0 },
		{ "p1", 6, { 5, 6 }, 2, NULL, 0 },
		{ "p1", 6, { 6 }, 1, "a", 5 },
		{ "p1", 4, { 4 }, 1, NULL, 0 },
		/* a log nobody trimmed */
		{ "p2", 100, { 100 }, 1, NULL, 0 },
		{ "p0", 30, { 30 }, 1, "a", 20 }, /* first blocking node in array order */
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t tp = 777;
		const struct lsn_archive_node *blk = lsn_archive_unlink_blocker(
			nodes, 3, cases[i].log, cases[i].lsn, cases[i].archived, cases[i].n_archived, &tp);
		if (!cases[i].blocker) {
			cr_expect_null(blk, "case %zu: blocked by %s", i, blk ? blk->node_id : "");
			cr_expect_eq(tp, 777, "case %zu: trim point set when allowed", i);
			continue;
		}
		cr_expect_not_null(blk, "case %zu: allowed", i);
		if (blk) {
			cr_expect_str_eq(blk->node_id, cases[i].blocker, "case %zu", i);
			cr_expect_eq(tp, cases[i].tp, "case %zu", i);
		}
	}
	/* a node that published nothing (format 1) constrains nothing */
	{
		const struct lsn_archive_node old = { .node_id = "old", .published = false,
						      .points = NULL, .n_points = 0 };
		const struct lsn_archive_node pub = { .node_id = "o", .published = true,
						      .points = pold, .n_points = 1 };
		uint64_t one = 100;
		cr_expect_null(lsn_archive_unlink_blocker(&old, 1, "p0", 100, &one, 1, NULL));
		cr_expect_not_null(lsn_archive_unlink_blocker(&pub, 1, "p0", 100, &one, 1, NULL),
				   "trim_point may be NULL");
		cr_expect_null(lsn_archive_unlink_blocker(NULL, 0, "p0", 100, &one, 1, NULL));
	}
}

/* ---- 4. commands --------------------------------------------------------------- */

static pthread_mutex_t diag_lock = PTHREAD_MUTEX_INITIALIZER;
static char diag_buf[8192];

static void capture(enum lsn_diag_level level, const char *msg)
{
	(void)level;
	pthread_mutex_lock(&diag_lock);
	strncat(diag_buf, msg, sizeof(diag_buf) - strlen(diag_buf) - 2);
	strcat(diag_buf, "\n");
	pthread_mutex_unlock(&diag_lock);
}

static struct lsn_archive *check_handle(const char *check, uint32_t timeout)
{
	char scr[128];
	struct lsn_archive *a;
	struct lsn_config cfg;

	lsn_config_defaults(&cfg);
	snprintf(cfg.archive_check_command, sizeof(cfg.archive_check_command), "%s", check);
	cfg.archive_timeout = timeout;
	snprintf(cfg.node_id, sizeof(cfg.node_id), "n1");
	sub(scr, sizeof(scr), "scratch");
	cr_assert_eq(lsn_archive_init_config(&a, &cfg, scr), 0);
	return a;
}

/* Alive: in /proc and not a zombie. */
static bool alive(long pid)
{
	char path[64], buf[512], *p;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	f = fopen(path, "r");
	if (!f)
		return false;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	return p && p[1] == ' ' && p[2] != 'Z' && p[2] != 'X';
}

/* The pids the command wrote down, none alive (waiting up to 2 s for the
 * kernel to finish killing). */
static void expect_all_gone(const char *pidfile, size_t want)
{
	long pids[16];
	size_t n = 0;
	FILE *f = fopen(pidfile, "r");

	cr_assert_not_null(f, "the command wrote no %s", pidfile);
	while (n < 16 && fscanf(f, "%ld", &pids[n]) == 1)
		n++;
	fclose(f);
	cr_expect_eq(n, want, "pids written: %zu", n);
	for (size_t i = 0; i < n; i++) {
		for (int t = 0; t < 40 && alive(pids[i]); t++)
			usleep(50000);
		cr_expect(!alive(pids[i]), "process %ld left behind", pids[i]);
		if (alive(pids[i]))
			kill((pid_t)pids[i], SIGKILL);
	}
}

Test(command, check_status_and_stderr, .init = setup, .fini = teardown)
{
	char reason[LSN_ARCHIVE_REASON_MAX], cmd[512], out[128];
	struct lsn_archive *a;

	lsn_diag_set_sink(capture);
	a = check_handle("", 5);
	cr_expect(!lsn_archive_has_check(a));
	cr_expect_eq(lsn_archive_check(a, "p0", 7, reason), -EOPNOTSUPP);
	lsn_archive_free(a);

	/* %f is the archive name; exit 0 = present */
	sub(out, sizeof(out), "f");
	snprintf(cmd, sizeof(cmd), "echo %%f > %s", out);
	a = check_handle(cmd, 5);
	cr_expect_eq(lsn_archive_check(a, "p0", 7, reason), 0, "%s", reason);
	cr_expect_str_eq(get_text(out), "p0/00000000000000000007.snap.zst\n");
	lsn_archive_free(a);

	/* stderr: each line logged, the last one ends the reason; stdout not */
	a = check_handle("echo to-stdout; echo first >&2; printf 'second\\r\\n\\n' >&2; "
			 "printf 'third, no newline' >&2; exit 4",
			 5);
	diag_buf[0] = '\0';
	reason[0] = '\0';
	cr_expect_eq(lsn_archive_check(a, "p0", 7, reason), -ENOENT);
	cr_expect_str_eq(reason, "archive_check_command exited with status 4: third, no newline");
	cr_expect_not_null(strstr(diag_buf, "archive_check_command p0/00000000000000000007.snap.zst: first\n"),
			   "log: %s", diag_buf);
	cr_expect_not_null(strstr(diag_buf, ": second\n"), "log: %s", diag_buf);
	cr_expect_not_null(strstr(diag_buf, ": third, no newline\n"), "log: %s", diag_buf);
	cr_expect_null(strstr(diag_buf, "to-stdout"), "stdout was logged");
	lsn_archive_free(a);

	/* exit without stderr: the status alone */
	a = check_handle("exit 1", 5);
	cr_expect_eq(lsn_archive_check(a, "p0", 7, reason), -ENOENT);
	cr_expect_str_eq(reason, "archive_check_command exited with status 1");
	lsn_archive_free(a);
	lsn_diag_set_sink(NULL);
}

/* A hanging command that spawned children (one ignoring SIGTERM) is killed
 * with its whole group after the timeout. */
Test(command, timeout_kills_the_group, .init = setup, .fini = teardown, .timeout = 60)
{
	char reason[LSN_ARCHIVE_REASON_MAX], cmd[1024], pids[128];
	struct lsn_archive *a;
	double t0, took;
	int rc;

	sub(pids, sizeof(pids), "pids");
	snprintf(cmd, sizeof(cmd),
		 "echo $$ > %s; sleep 1000 & echo $! >> %s; "
		 "sh -c 'trap \"\" TERM; sleep 1000' & echo $! >> %s; "
		 "echo hanging now >&2; wait",
		 pids, pids, pids);
	a = check_handle(cmd, 1);
	t0 = now_s();
	rc = lsn_archive_check(a, "p0", 7, reason);
	took = now_s() - t0;
	cr_expect_eq(rc, -ETIMEDOUT, "rc %d: %s", rc, reason);
	cr_expect_not_null(strstr(reason, "timed out after 1 s"), "reason: %s", reason);
	cr_expect_not_null(strstr(reason, "hanging now"), "reason: %s", reason);
	/* 1 s timeout + 1 s grace for SIGTERM; far below the 1000 s it wanted */
	cr_expect_lt(took, 8.0, "took %.1f s", took);
	cr_expect_geq(took, 0.9, "took %.1f s: killed before the timeout", took);
	expect_all_gone(pids, 3);
	lsn_archive_free(a);
}

/* A command that exits 0 but leaves a child holding its stderr: the run
 * ends at the exit, and the child is killed. */
Test(command, leftovers_of_a_finished_command, .init = setup, .fini = teardown, .timeout = 60)
{
	char reason[LSN_ARCHIVE_REASON_MAX], cmd[512], pids[128];
	struct lsn_archive *a;
	double t0;

	sub(pids, sizeof(pids), "pids");
	snprintf(cmd, sizeof(cmd), "sleep 1000 & echo $! > %s; exit 0", pids);
	a = check_handle(cmd, 30);
	t0 = now_s();
	cr_expect_eq(lsn_archive_check(a, "p0", 7, reason), 0, "%s", reason);
	cr_expect_lt(now_s() - t0, 10.0, "waited for the child");
	expect_all_gone(pids, 1);
	lsn_archive_free(a);
}

struct run_arg {
	struct lsn_archive *a;
	char reason[LSN_ARCHIVE_REASON_MAX];
	int rc;
};

static void *run_check(void *arg)
{
	struct run_arg *r = arg;

	r->rc = lsn_archive_check(r->a, "p0", 7, r->reason);
	return NULL;
}

/* Shutdown kills a running command at once, whatever its timeout. */
Test(command, abort_at_shutdown, .init = setup, .fini = teardown, .timeout = 60)
{
	char cmd[512], pids[128], started[128];
	struct run_arg r = { .rc = 1 };
	pthread_t th;
	double t0, took;

	sub(pids, sizeof(pids), "pids");
	sub(started, sizeof(started), "started");
	snprintf(cmd, sizeof(cmd), "echo $$ > %s; sleep 1000 & echo $! >> %s; touch %s; wait", pids,
		 pids, started);
	r.a = check_handle(cmd, 300);
	cr_assert_eq(pthread_create(&th, NULL, run_check, &r), 0);
	for (int t = 0; t < 200 && !exists(started); t++)
		usleep(25000);
	cr_assert(exists(started), "the command did not start");
	t0 = now_s();
	lsn_archive_abort(r.a);
	pthread_join(th, NULL);
	took = now_s() - t0;
	cr_expect_eq(r.rc, -ECANCELED, "rc %d: %s", r.rc, r.reason);
	cr_expect_lt(took, 3.0, "abort took %.1f s", took);
	expect_all_gone(pids, 2);
	/* later runs do not start */
	cr_expect_eq(lsn_archive_check(r.a, "p0", 7, r.reason), -ECANCELED);
	lsn_archive_abort(r.a); /* idempotent */
	lsn_archive_free(r.a);
	lsn_archive_abort(NULL);
}
