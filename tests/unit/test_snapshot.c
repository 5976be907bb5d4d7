/*
 * Unit tests for committed snapshots (storage/snapshot.h) and the snapshot
 * archive (storage/archive.h), no FUSE.  Every test formats its own store
 * under /tmp (log "p0" with records appended, so the tail is > 0) and removes
 * it afterwards.  Contents are compared byte for byte with what was staged;
 * crash leftovers are planted and checked with RocksDB while the store is closed.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <rocksdb/c.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "storage/archive.h"
#include "storage/crc32c.h"
#include "storage/snapshot.h"
#include "storage/staging.h"
#include "storage/store.h"

#define CHUNK ((size_t)LSN_SNAPSHOT_CHUNK)
#define BIG (3 * CHUNK + 17)

#define FX_TMPDIR_TEMPLATE "/tmp/lsn-snap-XXXXXX"
#include "tests/unit/fixture.h"

/* ---- fixture: log "p0" and test data on top of fixture.h ----------------- */

static struct lsn_log *log_;
static void *owned[16]; /* test data, freed by teardown even after a failed assert */
static size_t n_owned;
static struct lsn_snapshot_cache cache = { .chunk = -1 };

static void fx_close_p0(void)
{
	fx_close();
	log_ = NULL;
}

static void snap_teardown(void)
{
	fx_close_p0();
	lsn_snapshot_cache_release(&cache);
	while (n_owned > 0)
		free(owned[--n_owned]);
	fx_rm_tmpdir();
}

static void fx_reopen_p0(void)
{
	log_ = NULL;
	fx_reopen();
	log_ = fx_log("p0");
}

/* Format with segment_size (0: default), create "p0", append n records. */
static void fx_open_p0(uint64_t segment_size, size_t n, size_t reclen)
{
	static unsigned char rec[1000];
	struct iovec iov = { rec, reclen };
	uint64_t last = 0;

	fx_open(segment_size);
	log_ = fx_create("p0");
	for (size_t i = 0; i < n; i++) {
		memset(rec, 'a' + (int)(i % 26), reclen);
		cr_assert_eq(lsn_log_append(log_, &iov, 1, &last), 0);
	}
	cr_assert_eq(last, n);
}

/* ---- data and files ----------------------------------------------------- */

/* n random bytes, or compressible numbered text lines; freed by teardown. */
static unsigned char *make_bytes(size_t n, bool text)
{
	unsigned char *p = malloc(n ? n : 1);
	char line[32];

	cr_assert(p && n_owned < 16);
	owned[n_owned++] = p;
	for (size_t pos = 0, i = 0; pos < n && text; i++) {
		size_t l = (size_t)snprintf(line, sizeof(line), "state line %zu\n", i);
		l = l < n - pos ? l : n - pos;
		memcpy(p + pos, line, l);
		pos += l;
	}
	for (size_t i = 0; i < n && !text; i++)
		p[i] = (unsigned char)(rnd() >> 24);
	return p;
}

static void write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	cr_assert_not_null(f, "fopen %s: %s", path, strerror(errno));
	cr_assert(len == 0 || fwrite(data, 1, len, f) == len);
	cr_assert_eq(fclose(f), 0);
}

static unsigned char *slurp(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	unsigned char *p;
	struct stat st;

	cr_assert(fd >= 0 && fstat(fd, &st) == 0, "open %s: %s", path, strerror(errno));
	*len = (size_t)st.st_size;
	p = malloc(*len + 1);
	cr_assert_not_null(p);
	cr_assert_eq(pread(fd, p, *len, 0), (ssize_t)*len);
	close(fd);
	return p;
}

static bool exists(const char *path)
{
	return access(path, F_OK) == 0;
}

/* Decompress a whole .zst stream with ZSTD_decompressStream; NULL if bad. */
static unsigned char *unzstd(const unsigned char *src, size_t len, size_t *out_len)
{
	ZSTD_DStream *d = ZSTD_createDStream();
	ZSTD_inBuffer ib = { src, len, 0 };
	size_t cap = 1 << 20, n = 0, r = 0;
	unsigned char *out = malloc(cap);

	cr_assert(d && out);
	while (len > 0) {
		ZSTD_outBuffer ob;
		if (cap - n < ZSTD_DStreamOutSize()) {
			out = realloc(out, cap *= 2);
			cr_assert_not_null(out);
		}
		ob = (ZSTD_outBuffer){ out + n, cap - n, 0 };
		r = ZSTD_decompressStream(d, &ob, &ib);
		if (ZSTD_isError(r))
			break;
		n += ob.pos;
		/* all input used, and the frame done or everything flushed */
		if (ib.pos == ib.size && (r == 0 || ob.pos < ob.size))
			break;
	}
	ZSTD_freeDStream(d);
	if (r != 0) {
		free(out);
		return NULL;
	}
	*out_len = n;
	return out;
}

/* The .zst file at path decompresses to data[0..len). */
static void check_zst_file(const char *path, const unsigned char *data, size_t len)
{
	size_t zlen, plain_len = 0;
	unsigned char *z = slurp(path, &zlen), *plain = unzstd(z, zlen, &plain_len);

	cr_assert_not_null(plain, "%s (want %zu bytes) is not a complete zstd stream", path, len);
	cr_assert_eq(plain_len, len, "%s decompresses to %zu bytes, want %zu", path, plain_len, len);
	cr_assert(len == 0 || memcmp(plain, data, len) == 0, "%s content differs", path);
	free(plain);
	free(z);
}

/* ---- snapshot helpers ---------------------------------------------------- */

static void stage(uint64_t id, const void *data, size_t len, char *path, size_t n)
{
	char dir[512];

	cr_assert_eq(lsn_staging_dir(log_, dir, sizeof(dir)), 0);
	snprintf(path, n, "%s/.incoming-%" PRIu64, dir, id);
	write_file(path, data, len);
}

/* Stage and commit; the staging file must be gone iff the commit succeeded. */
static int commit(uint64_t lsn, const void *data, size_t len)
{
	char path[600];
	int rc;

	stage(lsn, data, len, path, sizeof(path));
	rc = lsn_snapshot_commit(log_, path, lsn);
	if (rc == 0)
		cr_expect(!exists(path), "staging file %s still there after commit", path);
	else
		cr_expect(exists(path), "staging file %s gone after failed commit (%d)", path, rc);
	unlink(path);
	return rc;
}

static void check_read(uint64_t lsn, const unsigned char *data, size_t len, uint64_t off,
		       size_t rlen, struct lsn_snapshot_cache *c)
{
	unsigned char *buf = malloc(rlen ? rlen : 1);
	size_t want = off >= len ? 0 : (rlen < len - off ? rlen : len - off), got = 99;
	int rc = lsn_snapshot_read(log_, lsn, off, buf, rlen, &got, c);
	bool same = rc == 0 && got == want && (want == 0 || memcmp(buf, data + off, want) == 0);

	free(buf);
	cr_assert_eq(rc, 0, "read lsn %" PRIu64 " off %" PRIu64 " len %zu: %d", lsn, off, rlen, rc);
	cr_assert_eq(got, want, "read lsn %" PRIu64 " off %" PRIu64 " len %zu: got %zu want %zu",
		     lsn, off, rlen, got, want);
	cr_assert(same, "read lsn %" PRIu64 " off %" PRIu64 " len %zu: bytes differ", lsn, off, rlen);
}

/* Metadata and content of snapshot lsn equal data[0..len). */
static void check_snapshot(uint64_t lsn, const unsigned char *data, size_t len)
{
	static const size_t edges[][2] = { { CHUNK - 1, 2 }, { CHUNK - 5, 5 }, { CHUNK, 1 } };
	size_t span = len < 2 * CHUNK + 3 ? len + 2 : 2 * CHUNK + 3;
	struct lsn_snapshot_info info;

	cr_assert_eq(lsn_snapshot_get(log_, lsn, &info), 0);
	cr_expect_eq(info.lsn, lsn);
	cr_expect_eq(info.size, len, "size %" PRIu64 ", want %zu", info.size, len);
	cr_expect_eq(info.crc, lsn_crc32c(0, data, len));
	cr_expect_eq(info.chunks, (len + CHUNK - 1) / CHUNK);
	check_read(lsn, data, len, 0, len + 100, NULL); /* whole, asking for more */
	check_read(lsn, data, len, 0, len, &cache);
	check_read(lsn, data, len, len, 10, &cache); /* at and past the end */
	check_read(lsn, data, len, len + 12345, 10, NULL);
	for (size_t off = 0; off < len; off += 100000) /* sequential, cached */
		check_read(lsn, data, len, off, 100000, &cache);
	for (int i = 0; i < 40; i++) /* random, with and without the cache */
		check_read(lsn, data, len, rnd() % (len + 2), (size_t)(rnd() % span),
			   i % 2 ? &cache : NULL);
	for (size_t i = 0; i < 3 && len > CHUNK; i++) /* around the first boundary */
		check_read(lsn, data, len, edges[i][0], edges[i][1], &cache);
	lsn_snapshot_cache_release(&cache);
	cr_expect(cache.chunk == -1 && cache.data == NULL);
}

/* Export snapshot lsn to path; size and crc must describe the file. */
static void export_to(uint64_t lsn, const char *path, uint64_t *size, uint32_t *crc)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	unsigned char *z;
	size_t zlen;

	cr_assert_geq(fd, 0);
	cr_assert_eq(lsn_snapshot_export(log_, lsn, fd, size, crc), 0);
	cr_assert_eq(close(fd), 0);
	z = slurp(path, &zlen);
	cr_expect_eq(*size, zlen, "export size %" PRIu64 ", file %zu", *size, zlen);
	cr_expect_eq(*crc, lsn_crc32c(0, z, zlen));
	free(z);
}

/* ---- direct RocksDB access (store closed) -------------------------------- */

/* With keys[i] = { lsn, chunk }: put 'Q' <be32 log 1> <be64 lsn> <be32 chunk>
 * keys (a commit cut short); or, with put false, read back every such key of
 * log 1 in key order.  Returns the count. */
static size_t db_chunks(bool put, uint64_t (*keys)[2], size_t n)
{
	rocksdb_options_t *opts = rocksdb_options_create();
	rocksdb_writeoptions_t *wo = rocksdb_writeoptions_create();
	rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
	unsigned char k[17] = { 'Q', 0, 0, 0, 1 };
	char path[128], *err = NULL;
	rocksdb_iterator_t *it;
	size_t count = 0, klen;
	rocksdb_t *db;

	snprintf(path, sizeof(path), "%s/db", tmpdir);
	db = rocksdb_open(opts, path, &err);
	cr_assert_null(err, "rocksdb_open: %s", err);
	for (size_t i = 0; put && i < n; i++) {
		for (int b = 0; b < 12; b++)
			k[5 + b] = (unsigned char)(b < 8 ? keys[i][0] >> (56 - 8 * b)
							 : keys[i][1] >> (24 - 8 * (b - 8)));
		rocksdb_put(db, wo, (const char *)k, sizeof(k), "junk", 4, &err);
		cr_assert_null(err);
	}
	it = rocksdb_create_iterator(db, ro);
	for (rocksdb_iter_seek(it, (const char *)k, 5); !put && rocksdb_iter_valid(it);
	     rocksdb_iter_next(it)) {
		const unsigned char *key = (const unsigned char *)rocksdb_iter_key(it, &klen);

		if (klen < 5 || memcmp(key, k, 5) != 0)
			break;
		cr_assert(klen == 17 && count < n);
		keys[count][0] = keys[count][1] = 0;
		for (int b = 0; b < 12; b++)
			keys[count][b / 8] = keys[count][b / 8] << 8 | key[5 + b];
		count++;
	}
	rocksdb_iter_destroy(it);
	rocksdb_readoptions_destroy(ro);
	rocksdb_writeoptions_destroy(wo);
	rocksdb_close(db);
	rocksdb_options_destroy(opts);
	return put ? n : count;
}

/* ---- 1. commit and read back --------------------------------------------- */

Test(snapshot, commit_sizes_read_and_list, .init = setup, .fini = snap_teardown)
{
	static const size_t sizes[] = { 0, 1, CHUNK, BIG };
	static const uint64_t lsns[] = { 9, 1, 20, 5 }; /* committed out of order */
	static const uint64_t sorted[] = { 1, 5, 9, 20 };
	static const size_t sorted_size[] = { 1, BIG, 0, CHUNK };
	struct lsn_snapshot_info *v;
	unsigned char *data[4];
	size_t n;

	fx_open_p0(0, 20, 100);
	for (size_t i = 0; i < 4; i++) {
		data[i] = make_bytes(sizes[i], false);
		cr_assert_eq(commit(lsns[i], data[i], sizes[i]), 0, "commit %zu bytes", sizes[i]);
		check_snapshot(lsns[i], data[i], sizes[i]);
	}
	for (size_t i = 0; i < 4; i++) /* nothing was overwritten by later commits */
		check_snapshot(lsns[i], data[i], sizes[i]);
	for (size_t r = 0; r < 12; r++) /* one cache moving between snapshots */
		check_read(lsns[r % 4], data[r % 4], sizes[r % 4],
			   sizes[r % 4] ? rnd() % sizes[r % 4] : 0, 4096, &cache);
	lsn_snapshot_cache_release(&cache);

	cr_assert_eq(lsn_snapshot_list(log_, &v, &n), 0);
	cr_assert_eq(n, 4);
	for (size_t i = 0; i < n; i++) {
		cr_expect_eq(v[i].lsn, sorted[i], "list[%zu] = %" PRIu64, i, v[i].lsn);
		cr_expect_eq(v[i].size, sorted_size[i]);
		cr_expect(!v[i].archived);
	}
	free(v);
}

/* ---- 2. validation ------------------------------------------------------- */

Test(snapshot, commit_validation, .init = setup, .fini = snap_teardown)
{
	unsigned char *a = make_bytes(1000, false), *b = make_bytes(2000, false);
	struct lsn_snapshot_info *v, info;
	struct lsn_log_info li;
	size_t n, three = 3, removed = 0;
	char path[600];
	uint64_t tp;

	fx_open_p0(4096, 60, 900);
	cr_expect_eq(commit(0, a, 1000), -EINVAL);
	cr_expect_eq(commit(61, a, 1000), -EINVAL); /* > tail: staging file stays */
	cr_expect_eq(commit(UINT64_MAX, a, 1000), -EINVAL);
	cr_expect_eq(lsn_snapshot_get(log_, 61, &info), -ENOENT);
	snprintf(path, sizeof(path), "%s/staging/no-such-file", tmpdir);
	cr_expect_eq(lsn_snapshot_commit(log_, path, 10), -ENOENT);

	/* the same LSN twice: -EEXIST, the first one untouched */
	cr_assert_eq(commit(60, a, 1000), 0); /* == tail is allowed */
	cr_expect_eq(commit(60, b, 2000), -EEXIST);
	check_snapshot(60, a, 1000);

	/* trim three 4 KiB segments: below the trim point is refused */
	cr_assert_eq(fx_trim_n(log_, three, &removed), 0);
	cr_assert_eq(removed, 3);
	lsn_log_info(log_, &li);
	tp = li.trim_point;
	cr_assert_gt(tp, 2);
	cr_expect_eq(commit(tp - 1, a, 1000), -EINVAL);
	cr_expect_eq(commit(1, a, 1000), -EINVAL);
	cr_expect_eq(commit(tp, a, 1000), 0, "trim point itself (trim_point <= lsn)");
	cr_expect_eq(commit(tp + 1, b, 2000), 0);
	check_snapshot(tp, a, 1000);
	check_snapshot(tp + 1, b, 2000);
	cr_assert_eq(lsn_snapshot_list(log_, &v, &n), 0);
	cr_expect_eq(n, 3);
	free(v);
}

/* ---- races (snapshot.h: "commits and removals take the log's lock") ------ */

struct racer {
	pthread_barrier_t *go;
	char path[600];
	uint64_t lsn;
	int rc;
	atomic_bool *done;
};

static void *race_commit(void *arg)
{
	struct racer *r = arg;

	pthread_barrier_wait(r->go);
	r->rc = lsn_snapshot_commit(log_, r->path, r->lsn);
	return NULL;
}

/* Two commits of one LSN at once: one wins, the other gets -EEXIST, and the
 * snapshot is the winner's bytes. */
Test(snapshot, concurrent_commit_same_lsn, .init = setup, .fini = snap_teardown)
{
	static const size_t sizes[2] = { 3 * CHUNK + 1, CHUNK / 2 };
	unsigned char *data[2] = { make_bytes(sizes[0], false), make_bytes(sizes[1], false) };
	struct lsn_snapshot_info info;
	pthread_barrier_t go;
	struct racer r[2];
	pthread_t t[2];
	int won;

	fx_open_p0(0, 10, 10);
	for (uint64_t lsn = 1; lsn <= 6; lsn++) {
		pthread_barrier_init(&go, NULL, 2);
		for (int i = 0; i < 2; i++) {
			r[i] = (struct racer){ .go = &go, .lsn = lsn };
			stage(lsn * 10 + (uint64_t)i, data[i], sizes[i], r[i].path, sizeof(r[i].path));
			cr_assert_eq(pthread_create(&t[i], NULL, race_commit, &r[i]), 0);
		}
		for (int i = 0; i < 2; i++)
			pthread_join(t[i], NULL);
		pthread_barrier_destroy(&go);
		for (int i = 0; i < 2; i++)
			cr_assert(r[i].rc == 0 || r[i].rc == -EEXIST, "racer %d: %d", i, r[i].rc);
		cr_expect(r[0].rc != r[1].rc,
			  "lsn %" PRIu64 ": both commits returned %d (want one 0 and one -EEXIST)", lsn,
			  r[0].rc);
		/* whatever happened, the snapshot must be one racer's bytes, whole */
		cr_assert_eq(lsn_snapshot_get(log_, lsn, &info), 0);
		won = info.size == sizes[0] ? 0 : 1;
		check_snapshot(lsn, data[won], sizes[won]);
		if (r[1 - won].rc == -EEXIST)
			cr_expect(exists(r[1 - won].path), "loser's staging file was removed");
	}
}

#define RACE_SNAPS 40

static void *race_mark(void *arg)
{
	struct racer *r = arg;

	pthread_barrier_wait(r->go);
	while (!atomic_load(r->done))
		for (uint64_t lsn = 1; lsn <= RACE_SNAPS; lsn++)
			lsn_snapshot_set_archived(log_, lsn, true, lsn, 1);
	return NULL;
}

static void *race_remove(void *arg)
{
	struct racer *r = arg;

	pthread_barrier_wait(r->go);
	for (uint64_t lsn = 1; lsn <= RACE_SNAPS; lsn++)
		r->rc += lsn_snapshot_remove(log_, lsn) == 0;
	atomic_store(r->done, true);
	return NULL;
}

/* lsn_snapshot_remove racing lsn_snapshot_set_archived (the archiver marking
 * while a user unlinks): a removed snapshot stays gone. */
Test(snapshot, remove_races_set_archived, .init = setup, .fini = snap_teardown)
{
	unsigned char *d = make_bytes(5000, false), buf[16];
	struct lsn_snapshot_info info;
	atomic_bool done = false;
	pthread_barrier_t go;
	struct racer mark = { .go = &go, .done = &done }, rm = mark;
	pthread_t t[2];
	size_t back = 0, got;
	int rc = 0;

	fx_open_p0(0, RACE_SNAPS, 10);
	for (uint64_t lsn = 1; lsn <= RACE_SNAPS; lsn++)
		cr_assert_eq(commit(lsn, d, 5000), 0);
	pthread_barrier_init(&go, NULL, 2);
	cr_assert_eq(pthread_create(&t[0], NULL, race_mark, &mark), 0);
	cr_assert_eq(pthread_create(&t[1], NULL, race_remove, &rm), 0);
	pthread_join(t[0], NULL);
	pthread_join(t[1], NULL);
	pthread_barrier_destroy(&go);
	cr_expect_eq(rm.rc, RACE_SNAPS, "removed %d", rm.rc);
	for (uint64_t lsn = 1; lsn <= RACE_SNAPS; lsn++) {
		if (lsn_snapshot_get(log_, lsn, &info) != 0)
			continue;
		back++;
		rc = lsn_snapshot_read(log_, lsn, 0, buf, sizeof(buf), &got, NULL);
	}
	cr_expect_eq(back, 0, "%zu of %d removed snapshots are back (a read gives %d)", back,
		     RACE_SNAPS, rc);
}

/* ---- 3. reopen and remove ------------------------------------------------ */

Test(snapshot, survives_reopen_and_remove, .init = setup, .fini = snap_teardown)
{
	unsigned char *a = make_bytes(CHUNK + 1, false), *b = make_bytes(5000, true), buf[16];
	struct lsn_snapshot_info *v, info;
	uint64_t keys[16][2];
	size_t n, got;

	fx_open_p0(0, 10, 10);
	cr_assert_eq(commit(3, a, CHUNK + 1), 0);
	cr_assert_eq(commit(7, b, 5000), 0);
	fx_reopen_p0();
	check_snapshot(3, a, CHUNK + 1);
	check_snapshot(7, b, 5000);

	cr_assert_eq(lsn_snapshot_remove(log_, 3), 0);
	cr_expect_eq(lsn_snapshot_get(log_, 3, &info), -ENOENT);
	cr_expect_eq(lsn_snapshot_read(log_, 3, 0, buf, sizeof(buf), &got, NULL), -ENOENT);
	cr_expect_eq(lsn_snapshot_remove(log_, 3), -ENOENT);
	cr_assert_eq(lsn_snapshot_list(log_, &v, &n), 0);
	cr_expect(n == 1 && v[0].lsn == 7);
	free(v);
	check_snapshot(7, b, 5000);
	fx_reopen_p0();
	cr_expect_eq(lsn_snapshot_get(log_, 3, &info), -ENOENT);
	check_snapshot(7, b, 5000);
	fx_close_p0();
	n = db_chunks(false, keys, 16); /* the removed snapshot's chunks went with it */
	cr_expect(n == 1 && keys[0][0] == 7, "%zu chunk keys left", n);
}

/* ---- 4. crash leftovers -------------------------------------------------- */

Test(snapshot, gc_removes_uncommitted_chunks_at_open, .init = setup, .fini = snap_teardown)
{
	static uint64_t orphans[][2] = { { 3, 0 }, { 3, 1 }, { 3, 2 }, { 8, 0 }, { 9, 7 } };
	unsigned char *a = make_bytes(CHUNK + 100, false), *c = make_bytes(300, false);
	struct lsn_snapshot_info *v, info;
	uint64_t keys[16][2];
	size_t n;

	fx_open_p0(0, 10, 10);
	cr_assert_eq(commit(5, a, CHUNK + 100), 0);
	fx_close_p0();
	n = db_chunks(false, keys, 16); /* the key layout is as assumed (log id 1) */
	cr_assert(n == 2 && keys[0][0] == 5 && keys[1][1] == 1, "%zu chunk keys of log 1", n);
	db_chunks(true, orphans, sizeof(orphans) / sizeof(orphans[0]));

	fx_reopen_p0();
	cr_assert_eq(lsn_snapshot_list(log_, &v, &n), 0);
	cr_expect(n == 1 && v[0].lsn == 5, "%zu snapshots listed", n);
	free(v);
	cr_expect_eq(lsn_snapshot_get(log_, 3, &info), -ENOENT);
	check_snapshot(5, a, CHUNK + 100);
	cr_assert_eq(commit(8, c, 300), 0); /* an interrupted LSN can be committed */
	check_snapshot(8, c, 300);
	fx_close_p0();

	n = db_chunks(false, keys, 16);
	cr_assert_eq(n, 3, "chunk keys left: %zu", n);
	cr_expect(keys[0][0] == 5 && keys[0][1] == 0 && keys[1][0] == 5 && keys[1][1] == 1);
	cr_expect(keys[2][0] == 8 && keys[2][1] == 0);
}

/* ---- 5. export ----------------------------------------------------------- */

Test(snapshot, export_is_a_zstd_stream, .init = setup, .fini = snap_teardown)
{
	static const size_t sizes[] = { 0, 1, CHUNK, BIG, 2 * CHUNK + 5 };
	char path[128];
	uint64_t size;
	uint32_t crc;

	fx_open_p0(0, 10, 10);
	snprintf(path, sizeof(path), "%s/export.zst", tmpdir);
	for (size_t i = 0; i < 5; i++) {
		unsigned char *d = make_bytes(sizes[i], i == 4);
		cr_assert_eq(commit(i + 1, d, sizes[i]), 0);
		export_to(i + 1, path, &size, &crc);
		check_zst_file(path, d, sizes[i]);
		}
	cr_expect_eq(lsn_snapshot_export(log_, 9, STDOUT_FILENO, &size, &crc), -ENOENT);
}

/* ---- 6. archive directory ------------------------------------------------ */

static void archive_file(const char *adir, uint64_t lsn, char *path, size_t n)
{
	snprintf(path, n, "%s/p0/%020" PRIu64 ".snap.zst", adir, lsn);
}

static void check_fetch(struct lsn_archive *a, uint64_t lsn, const unsigned char *data, size_t len)
{
	unsigned char *buf = malloc(len + 1);
	uint64_t size = 99;
	int fd = -1;

	cr_assert_eq(lsn_archive_fetch(a, "p0", lsn, &fd, &size), 0);
	cr_assert_geq(fd, 0);
	cr_expect_eq(size, len);
	cr_expect_eq(pread(fd, buf, len + 1, 0), (ssize_t)len, "fetched fd size differs");
	cr_expect(len == 0 || memcmp(buf, data, len) == 0, "fetched content differs");
	close(fd);
	free(buf);
}

Test(archive, directory, .init = setup, .fini = snap_teardown)
{
	static const uint64_t lsns[] = { 8, 3, 2 };
	static const size_t sizes[] = { 2 * CHUNK + 5, BIG, 0 };
	static const char *const junk[] = { ".00000000000000000004.snap.zst.node-a.tmp", "foo",
					    "00000000000000000005.snap.zst.tmp", "123.snap.zst",
					    "000000000000000000006.snap.zst", "0000000000000000000x.snap.zst" };
	char adir[128], scr[128], scr2[128], path[256], other[64], reason[LSN_ARCHIVE_REASON_MAX];
	struct lsn_archive *a, *b;
	unsigned char *data[3], *z;
	uint64_t size[3], *list, fsize;
	uint32_t crc[3];
	size_t n, flen;
	int fd = -1;

	fx_open_p0(0, 10, 10);
	snprintf(adir, sizeof(adir), "%s/archive", tmpdir);
	snprintf(scr, sizeof(scr), "%s/scratch-a", tmpdir);
	snprintf(scr2, sizeof(scr2), "%s/scratch-b", tmpdir);
	cr_assert_eq(lsn_archive_init(&a, adir, "", "node-a", scr), 0);
	cr_expect_eq(lsn_archive_register(a), -ENOENT, "the archive root was created");
	cr_expect(!exists(adir), "the archive root was created");
	cr_assert_eq(mkdir(adir, 0755), 0);
	cr_expect(lsn_archive_configured(a) && lsn_archive_has_dir(a));
	cr_assert_eq(lsn_archive_register(a), 0);
	snprintf(path, sizeof(path), "%s/.nodes/node-a", adir);
	cr_expect(exists(path));
	cr_expect_eq(lsn_archive_other_nodes(a, other, sizeof(other)), 0);
	cr_assert_eq(lsn_archive_list(a, "p0", &list, &n), 0); /* no <dir>/p0 yet */
	cr_expect_eq(n, 0);
	free(list);

	for (size_t i = 0; i < 3; i++) {
		data[i] = make_bytes(sizes[i], i == 0);
		cr_assert_eq(commit(lsns[i], data[i], sizes[i]), 0);
		reason[0] = '\0';
		cr_assert_eq(lsn_archive_put(a, log_, lsns[i], &size[i], &crc[i], reason), 0, "%s", reason);
		archive_file(adir, lsns[i], path, sizeof(path));
		cr_assert(exists(path), "%s missing", path);
		check_zst_file(path, data[i], sizes[i]);
		z = slurp(path, &flen);
		cr_expect_eq(size[i], flen);
		cr_expect_eq(crc[i], lsn_crc32c(0, z, flen));
		free(z);
		cr_expect_eq(lsn_archive_verify(a, log_, lsns[i], size[i], crc[i], reason), 0, "%s", reason);
		check_fetch(a, lsns[i], data[i], sizes[i]);
	}
	snprintf(path, sizeof(path), "test -z \"$(ls -A %s)\"", scr);
	cr_expect_eq(system(path), 0, "the exported temporary stays in %s", scr);

	/* list: sorted, other names ignored */
	for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++) {
		snprintf(path, sizeof(path), "%s/p0/%s", adir, junk[i]);
		write_file(path, "x", 1);
	}
	cr_assert_eq(lsn_archive_list(a, "p0", &list, &n), 0);
	cr_assert_eq(n, 3, "listed %zu", n);
	cr_expect(list[0] == 2 && list[1] == 3 && list[2] == 8);
	free(list);

	/* verify: wrong checksum, truncated, deleted */
	reason[0] = '\0';
	cr_expect_neq(lsn_archive_verify(a, log_, 3, size[1], crc[1] ^ 1, reason), 0);
	cr_expect_neq(reason[0], '\0');
	archive_file(adir, 3, path, sizeof(path));
	cr_assert_eq(truncate(path, (off_t)(size[1] / 2)), 0);
	reason[0] = '\0';
	cr_expect_neq(lsn_archive_verify(a, log_, 3, size[1], crc[1], reason), 0);
	cr_expect_neq(reason[0], '\0', "no reason for a truncated copy");
	cr_expect_neq(lsn_archive_fetch(a, "p0", 3, &fd, &fsize), 0, "fetch of a truncated stream");
	if (fd >= 0)
		close(fd);
	cr_assert_eq(unlink(path), 0);
	reason[0] = '\0';
	cr_expect_neq(lsn_archive_verify(a, log_, 3, size[1], crc[1], reason), 0);
	cr_expect_neq(reason[0], '\0', "no reason for a missing copy");

	/* remove, also when absent */
	cr_expect_eq(lsn_archive_remove(a, "p0", 3), 0);
	cr_expect_eq(lsn_archive_remove(a, "p0", 8), 0);
	archive_file(adir, 8, path, sizeof(path));
	cr_expect(!exists(path));
	cr_expect_eq(lsn_archive_remove(a, "p0", 8), 0);
	cr_assert_eq(lsn_archive_list(a, "p0", &list, &n), 0);
	cr_expect(n == 1 && list[0] == 2);
	free(list);

	/* a second node on the same archive */
	cr_assert_eq(lsn_archive_init(&b, adir, "", "node-b", scr2), 0);
	cr_assert_eq(lsn_archive_register(b), 0);
	other[0] = '\0';
	cr_expect_eq(lsn_archive_other_nodes(a, other, sizeof(other)), 1);
	cr_expect_str_eq(other, "node-b");
	other[0] = '\0';
	cr_expect_eq(lsn_archive_other_nodes(b, other, sizeof(other)), 1);
	cr_expect_str_eq(other, "node-a");
	cr_expect_eq(lsn_archive_register(a), 0); /* again: still one file each */
	cr_expect_eq(lsn_archive_other_nodes(b, NULL, 0), 1);
	lsn_archive_free(b);
	lsn_archive_free(a);
}

/* With the store's archive id, a copy is written only into the archive
 * that carries that id: not into an empty mount point, not elsewhere. */
Test(archive, identity_before_write, .init = setup, .fini = snap_teardown)
{
	char adir[128], scr[128], marker[256], path[256], why[LSN_ARCHIVE_REASON_MAX];
	char reason[LSN_ARCHIVE_REASON_MAX], want[512];
	unsigned char *d = make_bytes(1000, true);
	struct lsn_archive *a;
	struct lsn_config cfg;
	uint64_t size;
	uint32_t crc;

	fx_open_p0(0, 10, 10);
	cr_assert_eq(commit(4, d, 1000), 0);
	snprintf(adir, sizeof(adir), "%s/archive", tmpdir);
	snprintf(scr, sizeof(scr), "%s/scratch", tmpdir);
	snprintf(marker, sizeof(marker), "%s/%s", adir, LSN_ARCHIVE_MARKER);
	cr_assert_eq(mkdir(adir, 0755), 0);
	lsn_config_defaults(&cfg);
	cr_assert_eq(lsn_archive_config_adopt(&cfg, adir, why), 0, "%s", why);
	cr_assert_eq(lsn_archive_init_config(&a, &cfg, scr), 0);

	cr_assert_eq(unlink(marker), 0); /* "the NFS mount is gone" */
	reason[0] = '\0';
	cr_expect_eq(lsn_archive_put(a, log_, 4, &size, &crc, reason), -ENOENT);
	snprintf(want, sizeof(want), "archive unavailable: marker missing at %s", adir);
	cr_expect_str_eq(reason, want);
	snprintf(path, sizeof(path), "%s/p0", adir);
	cr_expect(!exists(path), "a copy was written into an unavailable archive");

	write_file(marker, "lsnfs archive format 1\narchive_id=ffffffffffffffffffffffffffffffff\n", 67);
	cr_expect_eq(lsn_archive_put(a, log_, 4, &size, &crc, reason), -EXDEV);
	cr_expect(!exists(path), "a copy was written into another archive");
	cr_assert_eq(unlink(marker), 0);

	cr_assert_eq(lsn_archive_identity_ensure(adir, cfg.archive_id), 0); /* a new archive */
	cr_expect_eq(lsn_archive_put(a, log_, 4, &size, &crc, reason), -EXDEV, "the old id is gone");
	lsn_archive_free(a);
	cr_assert_eq(lsn_archive_init_config(&a, &cfg, scr), 0);
	cr_expect_eq(lsn_archive_put(a, log_, 4, &size, &crc, reason), 0, "%s", reason);
	cr_expect_eq(lsn_archive_verify(a, log_, 4, size, crc, reason), 0, "%s", reason);
	cr_assert_eq(unlink(marker), 0);
	cr_expect_eq(lsn_archive_verify(a, log_, 4, size, crc, reason), -ENOENT,
		     "a confirmation re-checked without the marker");
	lsn_archive_free(a);
}

/* ---- 7. archive_command --------------------------------------------------- */

/* Runs of the counting command: each appends "run\n". */
static size_t runs(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (size_t)st.st_size / 4 : 0;
}

Test(archive, command, .init = setup, .fini = snap_teardown)
{
	static const char pct[] = "100% %p %f %p0/00000000000000000004.snap.zst\n";
	char out[128], count[128], scr[128], cmd[1024], path[256], exp[128];
	char reason[LSN_ARCHIVE_REASON_MAX];
	unsigned char *d = make_bytes(CHUNK + 3, false), *x, *y;
	struct lsn_archive *a;
	uint64_t size, esize, *list;
	uint32_t crc, ecrc;
	size_t xl, yl, n;

	fx_open_p0(0, 10, 10);
	cr_assert_eq(commit(4, d, CHUNK + 3), 0);
	snprintf(out, sizeof(out), "%s/out", tmpdir);
	snprintf(count, sizeof(count), "%s/count", tmpdir);
	snprintf(scr, sizeof(scr), "%s/scratch", tmpdir);
	snprintf(exp, sizeof(exp), "%s/export.zst", tmpdir);
	export_to(4, exp, &esize, &ecrc);

	/* copies the stream; counts its runs */
	snprintf(cmd, sizeof(cmd), "mkdir -p %s/p0 && cp %%p %s/%%f.copy && echo run >> %s", out, out,
		 count);
	cr_assert_eq(lsn_archive_init(&a, "", cmd, "node-a", scr), 0);
	cr_expect(lsn_archive_configured(a) && !lsn_archive_has_dir(a));
	reason[0] = '\0';
	cr_assert_eq(lsn_archive_put(a, log_, 4, &size, &crc, reason), 0, "%s", reason);
	cr_expect(size == esize && crc == ecrc);
	snprintf(path, sizeof(path), "%s/p0/%020d.snap.zst.copy", out, 4);
	x = slurp(path, &xl);
	y = slurp(exp, &yl);
	cr_expect(xl == yl && memcmp(x, y, xl) == 0, "the command's copy differs from the export");
	free(x);
	free(y);
	check_zst_file(path, d, CHUNK + 3);
	cr_expect_eq(runs(count), 1);
	/* without a directory or check command, a confirmation is trusted:
	 * verify never runs the command again */
	cr_expect_eq(lsn_archive_verify(a, log_, 4, size, crc, reason), 0, "%s", reason);
	cr_expect_eq(lsn_archive_verify(a, log_, 4, size, crc, reason), 0, "%s", reason);
	cr_expect_eq(runs(count), 1);
	cr_expect_eq(lsn_archive_list(a, "p0", &list, &n), 0); /* no directory: nothing */
	cr_expect_eq(n, 0);
	free(list);
	cr_expect_eq(lsn_archive_remove(a, "p0", 4), 0);
	lsn_archive_free(a);

	/* a failing command */
	cr_assert_eq(lsn_archive_init(&a, "", "exit 3", "node-a", scr), 0);
	reason[0] = '\0';
	cr_expect_neq(lsn_archive_put(a, log_, 4, &size, &crc, reason), 0);
	cr_expect_not_null(strstr(reason, "status 3"), "reason: '%s'", reason);
	cr_expect_eq(lsn_archive_verify(a, log_, 4, esize, ecrc, reason), 0, "not trusted");
	lsn_archive_free(a);

	/* %% is a literal %, also before p and f */
	snprintf(cmd, sizeof(cmd), "echo 100%%%% %%%%p %%%%f %%%%%%f > %s/pct", tmpdir);
	cr_assert_eq(lsn_archive_init(&a, "", cmd, "node-a", scr), 0);
	cr_assert_eq(lsn_archive_put(a, log_, 4, &size, &crc, reason), 0, "%s", reason);
	snprintf(path, sizeof(path), "%s/pct", tmpdir);
	x = slurp(path, &xl);
	cr_expect(xl == strlen(pct) && memcmp(x, pct, xl) == 0, "got '%.*s'", (int)xl, x);
	free(x);
	lsn_archive_free(a);

	cr_assert_eq(lsn_archive_init(&a, "", "", "node-a", scr), 0); /* nothing configured */
	cr_expect(!lsn_archive_configured(a));
	cr_expect_neq(lsn_archive_put(a, log_, 4, &size, &crc, reason), 0);
	lsn_archive_free(a);
}

/* ---- 8. archived mark ---------------------------------------------------- */

Test(snapshot, set_archived_persists, .init = setup, .fini = snap_teardown)
{
	unsigned char *d = make_bytes(70000, false);
	struct lsn_snapshot_info before, info, *v;
	size_t n;

	fx_open_p0(0, 10, 10);
	cr_assert_eq(commit(6, d, 70000), 0);
	cr_assert_eq(lsn_snapshot_get(log_, 6, &before), 0);
	cr_expect(!before.archived && before.archive_size == 0 && before.archive_crc == 0);
	cr_expect_eq(lsn_snapshot_set_archived(log_, 7, true, 1, 1), -ENOENT);

	cr_assert_eq(lsn_snapshot_set_archived(log_, 6, true, 123456789012ull, 0xdeadbeefu), 0);
	fx_reopen_p0();
	cr_assert_eq(lsn_snapshot_get(log_, 6, &info), 0);
	cr_expect(info.archived);
	cr_expect_eq(info.archive_size, 123456789012ull);
	cr_expect_eq(info.archive_crc, 0xdeadbeefu);
	cr_expect(info.size == before.size && info.crc == before.crc);
	cr_expect(info.chunks == before.chunks && info.mtime_ns == before.mtime_ns);
	cr_assert_eq(lsn_snapshot_list(log_, &v, &n), 0);
	cr_expect(n == 1 && v[0].archived && v[0].archive_crc == 0xdeadbeefu);
	free(v);
	check_snapshot(6, d, 70000);

	cr_assert_eq(lsn_snapshot_set_archived(log_, 6, false, 0, 0), 0);
	fx_reopen_p0();
	cr_assert_eq(lsn_snapshot_get(log_, 6, &info), 0);
	cr_expect(!info.archived && info.archive_size == 0);
}
