/*
 * The control file (storage/control.h): its format round-trips and refuses
 * damage; a store that comes back behind it is refused with -EUCLEAN unless
 * recover=accept-loss, which mounts it and rewrites the claims; the claims
 * follow synced appends, fsync, log creation and removal, and never lead.
 */
#include "tests/unit/fixture.h"

#include <fcntl.h>
#include <glob.h>
#include <pthread.h>
#include <sys/wait.h>

#include "storage/control.h"
#include "storage/crc32c.h"

TestSuite(control, .init = setup, .fini = teardown);

static void append_n(struct lsn_log *log, int n)
{
	for (int i = 0; i < n; i++) {
		char buf[32];
		struct iovec iov = { buf, (size_t)snprintf(buf, sizeof(buf), "rec %d\n", i) };
		uint64_t lsn;
		cr_assert_eq(lsn_log_append(log, &iov, 1, &lsn), 0);
	}
}

/* What the control file on disk claims for log `name` (UINT64_MAX: none). */
static uint64_t claimed(const char *name, bool want_trim)
{
	struct lsn_control c;
	uint64_t v = UINT64_MAX;

	cr_assert_eq(lsn_control_read(store ? lsn_store_path(store) : tmpdir, &c), 0);
	for (size_t i = 0; i < c.n; i++)
		if (strcmp(c.v[i].name, name) == 0)
			v = want_trim ? c.v[i].trim_point : c.v[i].tail_lsn;
	lsn_control_release(&c);
	return v;
}

static uint64_t claimed_tail(const char *name)
{
	return claimed(name, false);
}

/* Read the whole control file, or write `len` bytes over it. */
static char *control_bytes(size_t *len)
{
	char path[128], *buf = malloc(1 << 16);
	int fd;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, LSN_CONTROL_FILE);
	fd = open(path, O_RDONLY);
	cr_assert_geq(fd, 0);
	n = read(fd, buf, 1 << 16);
	cr_assert_gt(n, 0);
	close(fd);
	*len = (size_t)n;
	return buf;
}

static void control_put(const char *buf, size_t len)
{
	char path[128];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, LSN_CONTROL_FILE);
	fd = open(path, O_WRONLY | O_TRUNC);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, buf, len), (ssize_t)len);
	close(fd);
}

Test(control, format_round_trips_and_damage_is_refused)
{
	struct lsn_control c = { 0 }, back;
	struct lsn_control_entry e[2] = { { "a", 10, 3 }, { "b.x", 0, 0 } };
	char *buf;
	size_t len;

	c.v = e;
	c.n = 2;
	cr_assert_eq(lsn_control_format(&c, &buf, &len), 0);
	cr_assert_eq(lsn_control_parse(buf, len, &back), 0);
	cr_assert_eq(back.n, 2);
	cr_assert_str_eq(back.v[1].name, "b.x");
	cr_assert_eq(back.v[0].tail_lsn, 10);
	cr_assert_eq(back.v[0].trim_point, 3);
	lsn_control_release(&back);
	for (size_t i = 0; i < len; i++) { /* every flipped bit is noticed */
		buf[i] ^= 0x04;
		cr_assert_eq(lsn_control_parse(buf, len, &back), -EBADMSG, "flip at %zu accepted", i);
		buf[i] ^= 0x04;
	}
	for (size_t cut = 0; cut < len; cut++)
		cr_assert_eq(lsn_control_parse(buf, cut, &back), -EBADMSG, "cut at %zu accepted", cut);
	free(buf);
}

Test(control, claims_follow_sync_and_never_lead)
{
	struct lsn_log *log;

	fx_open(4096);
	log = fx_create("p");
	cr_assert_eq(claimed_tail("p"), 0, "a created log is claimed at once");
	append_n(log, 50); /* sync=fsync: not durable yet */
	usleep(3 * LSN_CONTROL_PERIOD_MS * 1000);
	cr_assert_eq(claimed_tail("p"), 0, "unsynced records are never claimed");
	cr_assert_eq(lsn_log_sync(log), 0);
	usleep(3 * LSN_CONTROL_PERIOD_MS * 1000);
	cr_assert_eq(claimed_tail("p"), 50, "the writer claims what fsync made durable");
	cr_assert_eq(lsn_store_override(store, "sync", "always", NULL), 0);
	append_n(log, 5);
	usleep(3 * LSN_CONTROL_PERIOD_MS * 1000);
	cr_assert_eq(claimed_tail("p"), 55, "sync=always appends are claimed");
	fx_close();
	cr_assert_eq(claimed_tail("p"), 55);
}

static void *append_500(void *arg)
{
	append_n(arg, 500);
	return NULL;
}

/* sync=always on 4 logs at once (group commit, storage/group_commit.c):
 * every append returned durable, so every tail is claimed without a sync,
 * and the records are all there after a reopen. */
Test(control, concurrent_sync_always_appends_are_all_durable)
{
	static const char *names[] = { "g0", "g1", "g2", "g3" };
	pthread_t th[4];

	fx_open(4096);
	cr_assert_eq(lsn_store_override(store, "sync", "always", NULL), 0);
	for (int i = 0; i < 4; i++)
		cr_assert_eq(pthread_create(&th[i], NULL, append_500, fx_create(names[i])), 0);
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	usleep(3 * LSN_CONTROL_PERIOD_MS * 1000);
	for (int i = 0; i < 4; i++)
		cr_assert_eq(claimed_tail(names[i]), 500, "%s: durable tail claimed", names[i]);
	fx_reopen();
	for (int i = 0; i < 4; i++) {
		struct lsn_segment_info *segs;
		size_t n;
		cr_assert_eq(lsn_log_segments(fx_log(names[i]), &segs, &n), 0);
		cr_assert_eq(segs[n - 1].last_lsn, 500, "%s: tail after reopen", names[i]);
		free(segs);
	}
}

Test(control, a_store_behind_its_claims_is_refused_unless_accept_loss)
{
	char db[128], old[128], cmd[512];
	char *accept[] = { (char *)"recover=accept-loss" };
	char *bad[] = { (char *)"recover=maybe" };
	struct lsn_log *log;

	fx_open(4096);
	append_n(fx_create("p"), 10);
	fx_close();
	snprintf(db, sizeof(db), "%s/db", tmpdir);
	snprintf(old, sizeof(old), "%s/db.old", tmpdir);
	snprintf(cmd, sizeof(cmd), "cp -a %s %s", db, old);
	cr_assert_eq(system(cmd), 0);
	fx_reopen();
	cr_assert_eq(lsn_store_find_log(store, "p", &log), 0);
	append_n(log, 7);
	fx_create("q");
	fx_close();
	/* The store comes back with its older db: p short by 7, q missing. */
	snprintf(cmd, sizeof(cmd), "rm -rf %s && mv %s %s", db, old, db);
	cr_assert_eq(system(cmd), 0);
	cr_assert_eq(lsn_store_open(tmpdir, &store), -EUCLEAN);
	cr_assert_null(store);
	cr_assert_eq(lsn_store_open_with(tmpdir, bad, 1, &store), -EINVAL);
	cr_assert_eq(lsn_store_open_with(tmpdir, accept, 1, &store), 0);
	cr_assert_eq(lsn_store_find_log(store, "p", &log), 0);
	cr_assert_eq(lsn_store_find_log(store, "q", &log), -ENOENT);
	fx_close();
	/* Accepted: the claims now match and a plain open works. */
	cr_assert_eq(claimed_tail("p"), 10);
	cr_assert_eq(claimed_tail("q"), UINT64_MAX);
	cr_assert_eq(lsn_store_open(tmpdir, &store), 0);
}

/* A trim claims its new trim point before its batch; a store found trimmed
 * beyond the claim (records gone from the front) is refused. */
Test(control, a_store_trimmed_beyond_its_claim_is_refused)
{
	char *accept[] = { (char *)"recover=accept-loss" };
	struct lsn_segment_info *segs;
	struct lsn_log *log;
	char *before, *v1;
	size_t len, n;
	uint64_t trim;

	fx_open(4096);
	log = fx_create("p");
	append_n(log, 3000);
	cr_assert_eq(lsn_log_sync(log), 0);
	cr_assert_eq(lsn_log_segments(log, &segs, &n), 0);
	cr_assert_geq(n, 3);
	trim = segs[2].first_lsn - 1;
	free(segs);
	fx_close();
	before = control_bytes(&len); /* claims trim point 0 */
	cr_assert_eq(claimed("p", true), 0);

	fx_reopen();
	log = fx_log("p");
	cr_assert_eq(fx_trim_n(log, 2, NULL), 0);
	/* On disk as soon as the trim returns: the periodic writer only runs
	 * when a tail moves, so this is the claim written before the batch. */
	cr_assert_eq(claimed("p", true), trim);
	fx_close();
	cr_assert_eq(lsn_store_open(tmpdir, &store), 0, "the claim matches the store");
	fx_close();

	/* The store comes back trimmed beyond what its control file claims. */
	control_put(before, len);
	cr_assert_eq(lsn_store_open(tmpdir, &store), -EUCLEAN);
	cr_assert_null(store);
	/* A version 1 file recorded the trim point for information only. */
	v1 = malloc(len + 1); /* snprintf below writes its NUL past the file's end */
	memcpy(v1, before, len);
	cr_assert_eq(memcmp(v1, "lsnfs-control 2\n", 16), 0);
	v1[14] = '1';
	snprintf(v1 + len - 9, 10, "%08x\n", lsn_crc32c(0, v1, len - 13));
	control_put(v1, len);
	cr_assert_eq(lsn_store_open(tmpdir, &store), 0, "version 1: tails only");
	fx_close();
	cr_assert_eq(claimed("p", true), trim, "rewritten in the current form");

	control_put(before, len);
	cr_assert_eq(lsn_store_open_with(tmpdir, accept, 1, &store), 0);
	fx_close();
	cr_assert_eq(claimed("p", true), trim, "accepted: the claims match the store");
	cr_assert_eq(lsn_store_open(tmpdir, &store), 0);
	free(before);
	free(v1);
}

/* The newest durable log file of RocksDB (its WAL) in STORE/db: glob()
 * sorts, and RocksDB numbers its files with zero padding. */
static void newest_wal(char *out, size_t n)
{
	char pattern[256];
	glob_t g;

	snprintf(pattern, sizeof(pattern), "%s/db/*.log", tmpdir);
	cr_assert_eq(glob(pattern, 0, NULL, &g), 0, "no WAL in %s/db", tmpdir);
	snprintf(out, n, "%s", g.gl_pathv[g.gl_pathc - 1]);
	globfree(&g);
}

/* Damage in the middle of the WAL of a crashed store: refused (RocksDB's
 * point-in-time recovery would stop at the damage and drop every record
 * after it without a word); recover=accept-loss mounts what is before it. */
Test(control, a_damaged_wal_is_refused_unless_accept_loss)
{
	char *accept[] = { (char *)"recover=accept-loss" };
	char *accept_then_refuse[] = { (char *)"recover=accept-loss", (char *)"recover=refuse" };
	char *bad[] = { (char *)"recover=maybe" };
	char wal[512];
	struct stat sb;
	pid_t pid;
	int fd, status;
	unsigned char b;
	struct lsn_segment_info *segs;
	size_t n;

	fx_open(1 << 20);
	fx_create("w");
	fx_close();
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) { /* appends under sync=always, then dies without closing */
		struct lsn_log *log;
		if (lsn_store_open(tmpdir, &store) || lsn_store_override(store, "sync", "always", NULL) ||
		    lsn_store_find_log(store, "w", &log))
			_exit(1);
		append_n(log, 400);
		_exit(0);
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the appending child failed");
	newest_wal(wal, sizeof(wal));
	cr_assert_eq(stat(wal, &sb), 0, "%s", wal);
	cr_assert_gt(sb.st_size, 8000, "the WAL holds the 400 records");
	fd = open(wal, O_RDWR);
	cr_assert_geq(fd, 0);
	cr_assert_eq(pread(fd, &b, 1, sb.st_size / 2), 1);
	b ^= 0x10;
	cr_assert_eq(pwrite(fd, &b, 1, sb.st_size / 2), 1);
	close(fd);

	cr_assert_eq(lsn_store_open(tmpdir, &store), -EBADMSG, "a damaged WAL is refused");
	cr_assert_null(store);
	/* The overrides are read as the config parser reads them, before the
	 * open: the last recover= wins, and a bad value is refused first. */
	cr_assert_eq(lsn_store_open_with(tmpdir, accept_then_refuse, 2, &store), -EBADMSG,
		     "recover=refuse after recover=accept-loss still refuses");
	cr_assert_eq(lsn_store_open_with(tmpdir, bad, 1, &store), -EINVAL);
	cr_assert_eq(lsn_store_open_with(tmpdir, accept, 1, &store), 0);
	cr_assert_eq(lsn_log_segments(fx_log("w"), &segs, &n), 0);
	cr_assert_lt(segs[n - 1].last_lsn, 400, "accept-loss: the records after the damage are gone");
	cr_assert_gt(segs[n - 1].last_lsn, 0, "accept-loss: the records before the damage are there");
	free(segs);
}

Test(control, removing_a_log_drops_its_claim_first)
{
	fx_open(4096);
	fx_create("gone");
	cr_assert_eq(claimed_tail("gone"), 0);
	cr_assert_eq(lsn_store_remove_log(store, "gone"), 0);
	cr_assert_eq(claimed_tail("gone"), UINT64_MAX);
	fx_reopen();
	cr_assert_eq(claimed_tail("gone"), UINT64_MAX);
}
