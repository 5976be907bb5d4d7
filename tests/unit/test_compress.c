/*
 * Unit tests for compressing closed blocks off the appending thread
 * (storage/log_compress.c): what a reader sees while blocks wait for a
 * compressor, a seal that overtakes them, the inline mode
 * (compress_threads=0), and what is on disk once the compressors are done
 * (every cut block written, only the block being filled left under 'R').
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <rocksdb/c.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage/store.h"

#define FX_TMPDIR_TEMPLATE "/tmp/lsn-ut-compress-XXXXXX"
#include "tests/unit/fixture.h"

TestSuite(compress, .init = setup, .fini = teardown, .timeout = 120);

struct expect {
	unsigned char *data;
	size_t len, cap;
	uint64_t records;
};

static void expect_add(struct expect *e, const void *p, size_t n)
{
	if (e->len + n > e->cap) {
		e->cap = (e->len + n) * 2;
		e->data = realloc(e->data, e->cap);
		cr_assert_not_null(e->data);
	}
	memcpy(e->data + e->len, p, n);
	e->len += n;
	e->records++;
}

/* Append n records of 0..max_len random bytes in one call. */
static void append_batch(struct lsn_log *log, struct expect *e, size_t n, size_t max_len)
{
	struct iovec *iov = calloc(n, sizeof(*iov));
	uint64_t last;

	cr_assert_not_null(iov);
	for (size_t i = 0; i < n; i++) {
		size_t len = rnd_below(max_len + 1);
		unsigned char *b = malloc(len ? len : 1);

		cr_assert_not_null(b);
		for (size_t j = 0; j < len; j++)
			b[j] = (unsigned char)(rnd() >> 24);
		iov[i].iov_base = b;
		iov[i].iov_len = len;
	}
	cr_assert_eq(lsn_log_append(log, iov, n, &last), 0);
	for (size_t i = 0; i < n; i++) {
		expect_add(e, iov[i].iov_base, iov[i].iov_len);
		free(iov[i].iov_base);
	}
	cr_assert_eq(last, e->records);
	free(iov);
}

/* The segment starting at LSN 1 holds exactly e's bytes. */
static void check_segment(struct lsn_log *log, const struct expect *e, const char *what)
{
	unsigned char *buf = malloc(e->len + 1);
	struct lsn_read_cache cache = { 0 };
	size_t got = 0, pos = 0;

	cr_assert_not_null(buf);
	/* In odd-sized pieces, so reads start and end inside blocks. */
	while (pos < e->len) {
		size_t want = 50000 + rnd_below(100000);
		cr_assert_eq(lsn_log_read(log, 1, pos, buf + pos, want, &got, &cache), 0, "%s", what);
		cr_assert(got > 0, "%s: short read at %zu", what, pos);
		pos += got;
	}
	cr_assert_eq(pos, e->len, "%s", what);
	assert_bytes(buf, e->data, e->len, what);
	lsn_read_cache_release(&cache);
	free(buf);
}

/* Keys of tag in the (closed) store, and the bytes of their values. */
static void count_keys(char tag, size_t *n, size_t *bytes)
{
	char path[128], *err = NULL;
	rocksdb_options_t *o = rocksdb_options_create();
	rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
	rocksdb_t *db;
	rocksdb_iterator_t *it;

	snprintf(path, sizeof(path), "%s/db", tmpdir);
	db = rocksdb_open_for_read_only(o, path, 0, &err);
	cr_assert_null(err, "open %s: %s", path, err);
	it = rocksdb_create_iterator(db, ro);
	*n = *bytes = 0;
	for (rocksdb_iter_seek(it, &tag, 1); rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
		size_t kl, vl;
		const char *k = rocksdb_iter_key(it, &kl);

		rocksdb_iter_value(it, &vl);
		if (kl == 0 || k[0] != tag)
			break;
		(*n)++;
		*bytes += vl;
	}
	rocksdb_iter_destroy(it);
	rocksdb_close(db);
	rocksdb_readoptions_destroy(ro);
	rocksdb_options_destroy(o);
}

static void set_threads(const char *n)
{
	char why[128] = "";

	cr_assert_eq(lsn_store_override(store, "compress_threads", n, why), 0, "%s", why);
}

Test(compress, reads_see_every_byte_while_blocks_wait_and_after_reopen)
{
	struct expect e = { 0 };
	struct lsn_log *log;
	size_t nb, bb, nr, br;

	fx_open(0); /* 64 MiB segments: nothing seals */
	set_threads("2");
	log = fx_create("c");
	for (int i = 0; i < 120; i++) {
		/* Mostly small calls; now and then one that cuts several blocks. */
		if (i % 40 == 7)
			append_batch(log, &e, 500, 2000);
		else
			append_batch(log, &e, 1 + rnd_below(60), 700);
		if (i % 10 == 0)
			check_segment(log, &e, "while appending");
	}
	check_segment(log, &e, "after the appends");
	fx_reopen(); /* closing lets the compressors finish */
	log = fx_log("c");
	check_segment(log, &e, "after reopen");
	fx_close();
	count_keys('B', &nb, &bb);
	count_keys('R', &nr, &br);
	cr_assert_geq(nb, e.len / LSN_BLOCK_TARGET - 1, "%zu blocks for %zu bytes", nb, e.len);
	/* Only the block being filled is left under 'R' keys. */
	cr_assert_lt(br, LSN_BLOCK_TARGET + 2000 + 64 * 1024, "%zu bytes under %zu 'R' keys", br, nr);
	free(e.data);
}

Test(compress, a_seal_overtakes_pending_blocks)
{
	struct expect e = { 0 };
	struct lsn_segment_info seg;
	struct lsn_log *log;

	fx_open(0);
	set_threads("1");
	log = fx_create("s");
	append_batch(log, &e, 3000, 1400); /* ~2 MiB in one call: ~16 blocks cut */
	cr_assert_eq(lsn_log_seal(log), 0);
	cr_assert_eq(lsn_log_segment(log, 1, &seg), 0);
	cr_assert(seg.sealed);
	cr_assert_eq(seg.bytes, e.len);
	check_segment(log, &e, "sealed at once");
	/* The next segment fills and cuts as usual. */
	{
		struct iovec iov = { .iov_base = e.data, .iov_len = 1000 };
		uint64_t last;
		for (int i = 0; i < 300; i++)
			cr_assert_eq(lsn_log_append(log, &iov, 1, &last), 0);
		cr_assert_eq(last, e.records + 300);
	}
	fx_reopen();
	log = fx_log("s");
	check_segment(log, &e, "sealed, after reopen");
	cr_assert_eq(lsn_log_segment(log, e.records + 1, &seg), 0);
	cr_assert_eq(seg.bytes, 300000);
	free(e.data);
}

Test(compress, inline_mode_writes_blocks_on_the_appending_thread)
{
	struct expect e = { 0 };
	struct lsn_log *log;
	size_t nb, bb, nr, br;

	fx_open(0);
	set_threads("0");
	log = fx_create("i");
	for (int i = 0; i < 40; i++)
		append_batch(log, &e, 1 + rnd_below(100), 900);
	check_segment(log, &e, "inline");
	fx_close();
	count_keys('B', &nb, &bb);
	count_keys('R', &nr, &br);
	cr_assert_geq(nb, e.len / LSN_BLOCK_TARGET - 1);
	cr_assert_lt(br, LSN_BLOCK_TARGET + 100 * 1024);
	cr_assert_eq(lsn_store_open(tmpdir, &store), 0);
	check_segment(fx_log("i"), &e, "inline, after reopen");
	free(e.data);
}
