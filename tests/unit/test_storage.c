/*
 * Unit tests for the log store (storage/store.h), no FUSE: every test formats
 * its own store in a fresh directory under /tmp and removes it afterwards.
 * Payloads are checked byte for byte against an in-memory model of what was
 * appended (struct model), LSNs and sizes exactly.
 * The block codec, config parsing, corruption and compression are in
 * test_block.c.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "storage/store.h"

#include "tests/unit/fixture.h"

TestSuite(store, .init = setup, .fini = teardown, .timeout = 60);

/* ---- helpers -------------------------------------------------------------- */

/* Everything appended to one log, in LSN order (record i has LSN first + i). */
struct model {
	unsigned char *data;
	size_t len, cap;
	uint64_t *off; /* start of each record in data */
	uint32_t *lens;
	size_t n, cap_n;
};

static void model_add(struct model *m, const void *p, size_t len)
{
	if (m->n == m->cap_n) {
		m->cap_n = m->cap_n ? m->cap_n * 2 : 1024;
		m->off = realloc(m->off, m->cap_n * sizeof(*m->off));
		m->lens = realloc(m->lens, m->cap_n * sizeof(*m->lens));
		cr_assert(m->off && m->lens);
	}
	while (m->len + len > m->cap) {
		m->cap = m->cap ? m->cap * 2 : 1 << 20;
		m->data = realloc(m->data, m->cap);
		cr_assert_not_null(m->data);
	}
	m->off[m->n] = m->len;
	m->lens[m->n++] = (uint32_t)len;
	if (len)
		memcpy(m->data + m->len, p, len);
	m->len += len;
}

static void model_free(struct model *m)
{
	free(m->data);
	free(m->off);
	free(m->lens);
	memset(m, 0, sizeof(*m));
}

/* Fill buf with record number `seq`: mostly text, sometimes binary. */
static void fill_record(unsigned char *buf, size_t len, uint64_t seq)
{
	static const char words[] = "alpha beta gamma delta request served in ms error ok\n";

	for (size_t i = 0; i < len; i++)
		buf[i] = seq % 7 == 3 ? (unsigned char)rnd() : (unsigned char)words[(seq + i) % (sizeof(words) - 1)];
}

/* Append one record of `len` bytes to log and model; checks its LSN. */
static uint64_t append_rec(struct lsn_log *log, struct model *m, size_t len)
{
	static unsigned char buf[LSN_RECORD_MAX + 1];
	struct iovec iov = { buf, len };
	uint64_t lsn = 0;
	int rc;

	fill_record(buf, len, m->n);
	rc = lsn_log_append(log, &iov, 1, &lsn);
	cr_assert_eq(rc, 0, "append %zu bytes: %d", len, rc);
	model_add(m, buf, len);
	cr_assert_eq(lsn, m->n, "append: lsn %" PRIu64 ", want %zu", lsn, m->n);
	return lsn;
}

/* Append records with sizes from [lo, hi] until total payload grows by `total`. */
static void append_bulk(struct lsn_log *log, struct model *m, size_t total, size_t lo, size_t hi)
{
	size_t start = m->len;

	while (m->len - start < total)
		append_rec(log, m, lo + rnd_below(hi - lo + 1));
}

static uint64_t tail_of(struct lsn_log *log)
{
	struct lsn_log_info info;

	lsn_log_info(log, &info);
	return info.tail_lsn;
}

/* The expected index text of segment s (malloc'd). */
static char *model_index(const struct model *m, const struct lsn_segment_info *s, size_t *len)
{
	size_t cap = 64 * (size_t)(s->last_lsn + 1 - s->first_lsn) + 1, n = 0;
	char *text = malloc(cap);
	uint64_t base = s->last_lsn >= s->first_lsn ? m->off[s->first_lsn - 1] : 0;

	cr_assert_not_null(text);
	for (uint64_t lsn = s->first_lsn; lsn <= s->last_lsn; lsn++)
		n += (size_t)sprintf(text + n, "%" PRIu64 " %" PRIu64 " %" PRIu32 "\n", lsn,
				     m->off[lsn - 1] - base, m->lens[lsn - 1]);
	*len = n;
	return text;
}

/* Segment s's payload in the model. */
static const unsigned char *model_seg(const struct model *m, const struct lsn_segment_info *s)
{
	return s->last_lsn >= s->first_lsn ? m->data + m->off[s->first_lsn - 1] : m->data;
}

/*
 * The whole log against the model: segments tile [first, tail], sealed ones
 * hold >= seg_size bytes (when seg_size != 0), only the last is unsealed,
 * every segment's payload and index read back exactly.
 */
static void check_log(struct lsn_log *log, const struct model *m, uint64_t first, uint64_t seg_size)
{
	struct lsn_segment_info *segs;
	struct lsn_log_info info;
	size_t n;
	int rc;

	lsn_log_info(log, &info);
	cr_assert_eq(info.tail_lsn, m->n, "tail %" PRIu64 ", want %zu", info.tail_lsn, m->n);
	cr_assert_eq(info.first_lsn, first);
	rc = lsn_log_segments(log, &segs, &n);
	cr_assert_eq(rc, 0);
	cr_assert_eq(n, info.n_segments);
	cr_assert_geq(n, 1);
	cr_assert_eq(segs[0].first_lsn, first);
	cr_assert_eq(segs[n - 1].last_lsn, m->n);
	for (size_t i = 0; i < n; i++) {
		const struct lsn_segment_info *s = &segs[i];
		uint64_t want_bytes = 0;
		size_t got, ilen;
		char *idx, *buf;

		if (i > 0)
			cr_assert_eq(s->first_lsn, segs[i - 1].last_lsn + 1, "gap before segment %zu", i);
		cr_assert_eq(s->sealed, i + 1 < n, "segment %zu sealed=%d", i, s->sealed);
		for (uint64_t l = s->first_lsn; l <= s->last_lsn; l++)
			want_bytes += m->lens[l - 1];
		cr_assert_eq(s->bytes, want_bytes, "segment %zu: %" PRIu64 " bytes, want %" PRIu64,
			     i, s->bytes, want_bytes);
		if (seg_size && s->sealed)
			cr_assert_geq(s->bytes, seg_size, "sealed segment %zu too small", i);
		idx = model_index(m, s, &ilen);
		cr_assert_eq(s->index_bytes, ilen, "segment %zu index_bytes %" PRIu64 ", want %zu", i,
			     s->index_bytes, ilen);
		buf = malloc(s->bytes + ilen + 100);
		cr_assert_not_null(buf);
		rc = lsn_log_read(log, s->first_lsn, 0, buf, s->bytes + 100, &got, NULL);
		cr_assert_eq(rc, 0, "read segment %" PRIu64 ": %d", s->first_lsn, rc);
		cr_assert_eq(got, s->bytes);
		assert_bytes(buf, model_seg(m, s), got, "segment payload");
		rc = lsn_log_read_index(log, s->first_lsn, 0, buf, ilen + 100, &got, NULL);
		cr_assert_eq(rc, 0, "read index %" PRIu64 ": %d", s->first_lsn, rc);
		cr_assert_eq(got, ilen);
		assert_bytes(buf, idx, ilen, "index text");
		free(buf);
		free(idx);
	}
	free(segs);
}

/* ---- 1. creating, finding, listing logs --------------------------------- */

Test(store, create_find_list)
{
	static const char *const bad[] = { "", ".x", "a/b", "a b", "tab\t", "caf\xc3\xa9", ".." };
	static const char *const good[] = { "zeta", "a", "A-1_b.c", "m", "x.", "0" };
	static const char *const sorted[] = { "0", "A-1_b.c", "a", "m", "x.", "zeta" };
	char long_name[LSN_NAME_MAX + 2];
	struct lsn_log *log;
	char **names;
	size_t n;

	fx_open(0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_expect_eq(lsn_store_create_log(store, bad[i]), -EINVAL, "create '%s'", bad[i]);
		cr_expect_eq(lsn_store_find_log(store, bad[i], &log), -EINVAL, "find '%s'", bad[i]);
	}
	memset(long_name, 'n', LSN_NAME_MAX + 1);
	long_name[LSN_NAME_MAX + 1] = '\0';
	cr_expect_eq(lsn_store_create_log(store, long_name), -EINVAL, "65 chars");
	long_name[LSN_NAME_MAX] = '\0';
	cr_expect_eq(lsn_store_create_log(store, long_name), 0, "64 chars");
	cr_expect_eq(lsn_store_remove_log(store, long_name), 0);

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		cr_assert_eq(lsn_store_create_log(store, good[i]), 0, "create '%s'", good[i]);
	cr_expect_eq(lsn_store_create_log(store, "zeta"), -EEXIST);
	cr_expect_eq(lsn_store_find_log(store, "missing", &log), -ENOENT);
	log = fx_log("m");
	cr_expect_str_eq(lsn_log_name(log), "m");
	cr_expect_eq(tail_of(log), 0);

	for (int pass = 0; pass < 2; pass++) {
		cr_assert_eq(lsn_store_list_logs(store, &names, &n), 0);
		cr_assert_eq(n, 6);
		for (size_t i = 0; i < n; i++)
			cr_expect_str_eq(names[i], sorted[i]);
		lsn_names_free(names, n);
		fx_reopen(); /* the list survives a reopen */
	}
}

/* ---- 2. appending -------------------------------------------------------- */

Test(store, append_lsns_and_limits)
{
	static unsigned char big[LSN_RECORD_MAX + 1];
	struct lsn_log *log;
	struct model m = { 0 };
	struct iovec iov[5];
	uint64_t lsn = 0;

	fx_open(0);
	log = fx_create("log");
	cr_expect_eq(lsn_log_append(log, iov, 0, &lsn), -EINVAL, "empty batch");
	cr_assert_eq(append_rec(log, &m, 10), 1);
	cr_assert_eq(append_rec(log, &m, 0), 2); /* zero-length record */
	cr_assert_eq(append_rec(log, &m, 1), 3);

	/* a batch of 5 gets 4..8, *last_lsn is the last of them */
	for (int i = 0; i < 5; i++) {
		static char text[5][16];
		int len = snprintf(text[i], sizeof(text[i]), "batch-%d\n", i);
		iov[i] = (struct iovec){ text[i], (size_t)(i == 2 ? 0 : len) };
	}
	cr_assert_eq(lsn_log_append(log, iov, 5, &lsn), 0);
	cr_assert_eq(lsn, 8);
	for (int i = 0; i < 5; i++)
		model_add(&m, iov[i].iov_base, iov[i].iov_len);

	/* exactly LSN_RECORD_MAX: fine; one more byte: -EFBIG, nothing appended */
	cr_assert_eq(append_rec(log, &m, LSN_RECORD_MAX), 9);
	iov[0] = (struct iovec){ big, LSN_RECORD_MAX + 1 };
	cr_expect_eq(lsn_log_append(log, iov, 1, &lsn), -EFBIG);
	cr_expect_eq(tail_of(log), 9);
	iov[0] = (struct iovec){ big, 3 };
	iov[1] = (struct iovec){ big, 4 };
	iov[2] = (struct iovec){ big, LSN_RECORD_MAX + 1 };
	iov[3] = (struct iovec){ big, 5 };
	lsn = 77;
	cr_expect_eq(lsn_log_append(log, iov, 4, &lsn), -EFBIG, "third iovec too big");
	cr_expect_eq(lsn, 77, "last_lsn untouched on failure");
	cr_expect_eq(tail_of(log), 9);
	check_log(log, &m, 1, 0);

	cr_assert_eq(append_rec(log, &m, 100), 10, "LSNs continue without a gap");
	check_log(log, &m, 1, 0);
	fx_reopen();
	check_log(fx_log("log"), &m, 1, 0);
	model_free(&m);
}

/* ---- 3. segment roll ------------------------------------------------------ */

Test(store, segment_roll_small_segments)
{
	struct lsn_segment_info *segs;
	struct lsn_log *log;
	struct model m = { 0 };
	size_t n;

	fx_open(4096);
	cr_assert_eq(lsn_store_config(store)->segment_size, 4096);
	log = fx_create("roll");
	append_bulk(log, &m, 60000, 0, 700);
	append_rec(log, &m, 9000); /* bigger than a segment: seals right away */
	append_bulk(log, &m, 3000, 1, 50);
	check_log(log, &m, 1, 4096);
	cr_assert_eq(lsn_log_segments(log, &segs, &n), 0);
	cr_expect_geq(n, 15, "only %zu segments", n);
	free(segs);

	/* a per-mount override changes the roll size of later segments */
	char why[128] = "";
	cr_assert_eq(lsn_store_override(store, "segment_size", "20000", why), 0, "%s", why);
	append_bulk(log, &m, 100000, 100, 3000);
	check_log(log, &m, 1, 4096);
	fx_reopen();
	check_log(fx_log("roll"), &m, 1, 4096);
	model_free(&m);
}

/* A batch that crosses several segment boundaries is one append. */
Test(store, batch_spans_segments)
{
	static unsigned char buf[40][1000];
	struct iovec iov[40];
	struct lsn_log *log;
	struct model m = { 0 };
	uint64_t lsn = 0;

	fx_open(4096);
	log = fx_create("b");
	append_rec(log, &m, 100);
	for (size_t i = 0; i < 40; i++) {
		fill_record(buf[i], 1000, i + 1);
		iov[i] = (struct iovec){ buf[i], 400 + 15 * i };
		model_add(&m, buf[i], iov[i].iov_len);
	}
	cr_assert_eq(lsn_log_append(log, iov, 40, &lsn), 0);
	cr_assert_eq(lsn, 41);
	check_log(log, &m, 1, 4096);
	fx_reopen();
	check_log(fx_log("b"), &m, 1, 4096);
	model_free(&m);
}

/* ---- 6. sealing ------------------------------------------------------------ */

Test(store, seal)
{
	struct lsn_segment_info *segs, s;
	struct lsn_log *log;
	struct model m = { 0 };
	size_t n;

	fx_open(0);
	log = fx_create("s");
	cr_assert_eq(lsn_log_seal(log), 0, "sealing an empty log is a no-op");
	cr_assert_eq(lsn_log_segments(log, &segs, &n), 0);
	cr_assert_eq(n, 1);
	cr_expect_eq(segs[0].first_lsn, 1);
	cr_expect_eq(segs[0].last_lsn, 0);
	cr_expect_not(segs[0].sealed);
	free(segs);

	append_bulk(log, &m, 5000, 10, 200);
	cr_assert_eq(lsn_log_seal(log), 0);
	cr_assert_eq(lsn_log_seal(log), 0, "second seal: the new segment is empty, no-op");
	cr_assert_eq(lsn_log_segments(log, &segs, &n), 0);
	cr_assert_eq(n, 2);
	cr_expect(segs[0].sealed);
	cr_expect_eq(segs[0].last_lsn, m.n);
	cr_expect_eq(segs[1].first_lsn, m.n + 1);
	cr_expect_eq(segs[1].last_lsn, m.n);
	cr_expect_eq(segs[1].bytes, 0);
	cr_expect_not(segs[1].sealed);
	free(segs);
	check_log(log, &m, 1, 0);
	fx_reopen(); /* with an empty active segment */
	log = fx_log("s");
	check_log(log, &m, 1, 0);

	uint64_t next = m.n + 1;
	cr_assert_eq(append_rec(log, &m, 33), next);
	cr_assert_eq(lsn_log_segment(log, next, &s), 0);
	cr_expect_eq(s.first_lsn, next);
	cr_expect_eq(s.last_lsn, next);
	cr_expect_eq(s.bytes, 33);
	cr_expect_eq(lsn_log_segment(log, 2, &s), -ENOENT, "no segment starts at 2");
	fx_reopen();
	log = fx_log("s");
	check_log(log, &m, 1, 0);
	cr_assert_eq(lsn_log_seal(log), 0); /* its records were under 'R' keys */
	append_bulk(log, &m, 300000, 1000, 20000);
	check_log(log, &m, 1, 0);
	fx_reopen();
	check_log(fx_log("s"), &m, 1, 0);
	model_free(&m);
}

/* ---- 4. reads at arbitrary offsets ----------------------------------------- */

/* One read of [off, off+len) of segment s, payload or index, against `want`. */
static void check_range(struct lsn_log *log, const struct lsn_segment_info *s, bool index,
			const void *want, uint64_t size, uint64_t off, size_t len,
			struct lsn_read_cache *cache)
{
	static unsigned char buf[1 << 20];
	uint64_t expect = off >= size ? 0 : (size - off < len ? size - off : len);
	size_t got = 12345;
	int rc;

	cr_assert_leq(len, sizeof(buf));
	rc = index ? lsn_log_read_index(log, s->first_lsn, off, (char *)buf, len, &got, cache)
		   : lsn_log_read(log, s->first_lsn, off, buf, len, &got, cache);
	cr_assert_eq(rc, 0, "%s seg %" PRIu64 " off %" PRIu64 " len %zu: %d", index ? "index" : "read",
		     s->first_lsn, off, len, rc);
	cr_assert_eq(got, expect, "%s seg %" PRIu64 " off %" PRIu64 " len %zu: got %zu, want %" PRIu64,
		     index ? "index" : "read", s->first_lsn, off, len, got, expect);
	if (got)
		assert_bytes(buf, (const unsigned char *)want + off, got, index ? "index range" : "payload range");
}

/* Random and boundary reads of every segment of log, with and without a cache. */
static void check_random_reads(struct lsn_log *log, const struct model *m, int rounds)
{
	struct lsn_segment_info *segs;
	size_t n;

	cr_assert_eq(lsn_log_segments(log, &segs, &n), 0);
	for (size_t i = 0; i < n; i++) {
		const struct lsn_segment_info *s = &segs[i];
		struct lsn_read_cache cache = { 0 };
		size_t ilen;
		char *idx = model_index(m, s, &ilen);
		const unsigned char *pay = model_seg(m, s);

		for (int use_cache = 0; use_cache < 2; use_cache++) {
			struct lsn_read_cache *c = use_cache ? &cache : NULL;

			/* around every block boundary, at EOF, past EOF */
			for (uint64_t b = 0; b <= s->bytes + LSN_BLOCK_TARGET; b += LSN_BLOCK_TARGET) {
				static const int64_t delta[] = { -4097, -1, 0, 1, 4096 };
				for (size_t d = 0; d < sizeof(delta) / sizeof(delta[0]); d++) {
					if ((int64_t)b + delta[d] < 0)
						continue;
					check_range(log, s, false, pay, s->bytes, b + delta[d], 1 + rnd_below(200000), c);
				}
			}
			check_range(log, s, false, pay, s->bytes, s->bytes, 10, c);
			check_range(log, s, false, pay, s->bytes, s->bytes + 1000, 10, c);
			check_range(log, s, true, idx, ilen, ilen, 10, c);
			for (int r = 0; r < rounds; r++) {
				uint64_t off = rnd_below(s->bytes + 10);
				size_t len = (size_t)(r % 3 == 0 ? rnd_below(300000) : rnd_below(5000));
				check_range(log, s, false, pay, s->bytes, off, len, c);
				off = rnd_below(ilen + 10);
				check_range(log, s, true, idx, ilen, off, (size_t)rnd_below(r % 3 ? 3000 : 100000), c);
			}
			/* sequential small reads through the whole segment */
			for (uint64_t off = 0; off < s->bytes; off += 50000)
				check_range(log, s, false, pay, s->bytes, off, 50000, c);
			for (uint64_t off = 0; off < ilen; off += 7000)
				check_range(log, s, true, idx, ilen, off, 7000, c);
		}
		lsn_read_cache_release(&cache);
		free(idx);
	}
	free(segs);
}

Test(store, reads_one_big_segment)
{
	struct lsn_log *log;
	struct model m = { 0 };

	fx_open(0); /* 64 MiB: everything stays in the active segment */
	log = fx_create("big");
	append_bulk(log, &m, 1200000, 0, 6000);
	append_rec(log, &m, 300000); /* a block bigger than the target */
	append_bulk(log, &m, 150000, 0, 900);
	append_bulk(log, &m, 2000, 0, 30); /* the open block ends with small ones */
	check_log(log, &m, 1, 0);
	check_random_reads(log, &m, 150);
	fx_reopen();
	log = fx_log("big");
	check_random_reads(log, &m, 50);
	cr_assert_eq(lsn_log_seal(log), 0); /* now sealed: every byte is in a block */
	check_random_reads(log, &m, 50);
	model_free(&m);
}

/* Several segments; then one cache shared by reads of all of them: a block
 * cached from one segment must not answer for another. */
Test(store, reads_several_segments)
{
	struct lsn_read_cache cache = { 0 };
	struct lsn_segment_info *segs;
	struct lsn_log *log;
	struct model m = { 0 };
	size_t n;

	fx_open(300 * 1024);
	log = fx_create("multi");
	append_bulk(log, &m, 1500000, 0, 9000);
	append_bulk(log, &m, 5000, 0, 40);
	check_log(log, &m, 1, 300 * 1024);
	check_random_reads(log, &m, 60);
	fx_reopen();
	log = fx_log("multi");
	check_random_reads(log, &m, 30);
	cr_assert_eq(lsn_log_segments(log, &segs, &n), 0);
	cr_assert_geq(n, 5);
	for (int r = 0; r < 300; r++) {
		const struct lsn_segment_info *s = &segs[rnd_below(n)];
		size_t ilen;
		char *idx = model_index(&m, s, &ilen);
		check_range(log, s, r % 2, r % 2 ? (const void *)idx : model_seg(&m, s),
			    r % 2 ? ilen : s->bytes, rnd_below(r % 2 ? ilen : s->bytes), 2000, &cache);
		free(idx);
	}
	lsn_read_cache_release(&cache);
	free(segs);
	model_free(&m);
}

/* ---- 5. reopen --------------------------------------------------------------- */

static void check_same_segments(struct lsn_log *log, const struct lsn_segment_info *before, size_t n)
{
	struct lsn_segment_info *now;
	size_t k;

	cr_assert_eq(lsn_log_segments(log, &now, &k), 0);
	cr_assert_eq(k, n, "%zu segments after reopen, %zu before", k, n);
	for (size_t i = 0; i < n; i++) {
		cr_expect_eq(now[i].first_lsn, before[i].first_lsn);
		cr_expect_eq(now[i].last_lsn, before[i].last_lsn);
		cr_expect_eq(now[i].bytes, before[i].bytes);
		cr_expect_eq(now[i].index_bytes, before[i].index_bytes);
		cr_expect_eq(now[i].mtime_ns, before[i].mtime_ns);
		cr_expect_eq(now[i].sealed, before[i].sealed);
	}
	free(now);
}

/* Reopen in three states of the open block: empty right after a block
 * closed, a few small records, and many; appends then continue. */
Test(store, reopen_identical)
{
	struct lsn_segment_info *segs;
	struct lsn_log_info before, after;
	struct lsn_log *log;
	struct model m = { 0 };
	size_t n;

	fx_open(600 * 1024);
	log = fx_create("r");
	for (int state = 0; state < 4; state++) {
		if (state == 0) {
			/* exactly one block target: the block closes with the last record */
			for (int i = 0; i < 32; i++)
				append_rec(log, &m, LSN_BLOCK_TARGET / 32);
		} else if (state == 1) {
			for (int i = 0; i < 3; i++)
				append_rec(log, &m, 5 + i);
		} else {
			append_bulk(log, &m, 400000, 0, 3000);
		}
		lsn_log_info(log, &before);
		cr_assert_eq(lsn_log_segments(log, &segs, &n), 0);
		fx_reopen();
		log = fx_log("r");
		lsn_log_info(log, &after);
		cr_expect_eq(after.tail_lsn, before.tail_lsn);
		cr_expect_eq(after.first_lsn, before.first_lsn);
		cr_expect_eq(after.n_segments, before.n_segments);
		cr_expect_eq(after.retained_bytes, before.retained_bytes);
		cr_expect_eq(after.created_ns, before.created_ns);
		cr_expect_eq(after.mtime_ns, before.mtime_ns);
		check_same_segments(log, segs, n);
		free(segs);
		check_log(log, &m, 1, 600 * 1024);
		check_random_reads(log, &m, 10);
		cr_assert_eq(append_rec(log, &m, 17), before.tail_lsn + 1, "state %d", state);
		check_log(log, &m, 1, 600 * 1024);
	}
	model_free(&m);
}

/*
 * Zero-length records in the last block of a segment sealed by lsn_log_seal:
 * that block has payload_len 0.  Its index lines must still read back.
 */
Test(store, seal_block_of_empty_records)
{
	static const struct {
		uint64_t seg;
		const char *index;
	} want[] = { { 1, "1 0 0\n2 0 0\n3 0 0\n" }, { 4, NULL } };
	char second[96];
	struct lsn_log *log;
	struct model m = { 0 };
	char buf[128];
	size_t got;

	snprintf(second, sizeof(second), "4 0 %u\n5 %u 0\n6 %u 0\n", LSN_BLOCK_TARGET,
		 LSN_BLOCK_TARGET, LSN_BLOCK_TARGET);
	fx_open(0);
	log = fx_create("z");
	for (int i = 0; i < 3; i++)
		append_rec(log, &m, 0); /* a segment of nothing but empty records */
	cr_assert_eq(lsn_log_seal(log), 0);
	append_rec(log, &m, LSN_BLOCK_TARGET); /* one full block, then a block of empty ones */
	append_rec(log, &m, 0);
	append_rec(log, &m, 0);
	cr_assert_eq(lsn_log_seal(log), 0);
	append_rec(log, &m, 5);
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < 2; i++) {
			const char *idx = want[i].index ? want[i].index : second;
			int rc = lsn_log_read_index(log, want[i].seg, 0, buf, sizeof(buf), &got, NULL);
			cr_expect_eq(rc, 0, "index of segment %" PRIu64 ": %d", want[i].seg, rc);
			if (rc == 0) {
				cr_expect_eq(got, strlen(idx));
				cr_expect_arr_eq(buf, idx, strlen(idx));
			}
		}
		check_log(log, &m, 1, 0);
		fx_reopen();
		log = fx_log("z");
	}
	model_free(&m);
}

/* ---- 9. persisted_lsn and 10. holds: test_block.c ------------------------ */

/* ---- 11. trimming ------------------------------------------------------------ */

static void check_trimmed(struct lsn_log *log, const struct model *m, uint64_t trim_point,
			  const uint64_t *gone, size_t n_gone)
{
	struct lsn_log_info info;
	char buf[16];
	size_t got;

	lsn_log_info(log, &info);
	cr_expect_eq(info.trim_point, trim_point, "trim_point %" PRIu64 ", want %" PRIu64,
		     info.trim_point, trim_point);
	cr_expect_eq(info.first_lsn, trim_point + 1);
	for (size_t i = 0; i < n_gone; i++) {
		cr_expect_eq(lsn_log_read(log, gone[i], 0, buf, sizeof(buf), &got, NULL), -ENOENT);
		cr_expect_eq(lsn_log_read_index(log, gone[i], 0, buf, sizeof(buf), &got, NULL), -ENOENT);
	}
	check_log(log, m, trim_point + 1, 4096);
}

Test(store, trim_segments)
{
	struct lsn_segment_info *segs;
	struct lsn_log *log;
	struct model m = { 0 };
	uint64_t gone[8], tp;
	size_t n, removed = 99;

	fx_open(4096);
	log = fx_create("t");
	append_bulk(log, &m, 40000, 100, 900);
	cr_assert_eq(lsn_log_segments(log, &segs, &n), 0);
	cr_assert_geq(n, 8);
	cr_assert_eq(lsn_log_set_persisted(log, 3), 0);
	cr_assert_eq(lsn_log_hold_set(log, "x", 2), 0);

	/* the view: what the trim rules see, copied */
	struct lsn_log_view v;
	cr_assert_eq(lsn_log_view(log, LSN_VIEW_SEGMENTS, &v), 0);
	cr_expect_eq(v.n_segments, n);
	cr_expect_eq(v.tail_lsn, m.n);
	cr_expect_eq(v.trim_point, 0);
	cr_expect_eq(v.first_lsn, 1);
	cr_expect_eq(v.persisted_lsn, 3);
	cr_expect_eq(v.n_holds, 1);
	cr_expect_str_eq(v.holds[0].name, "x");
	cr_expect_eq(v.segments[n - 1].first_lsn, segs[n - 1].first_lsn);
	lsn_log_view_release(&v);
	lsn_log_view_release(&v); /* safe twice */
	cr_assert_eq(lsn_log_view(log, 0, &v), 0);
	cr_expect_null(v.segments, "segments only when asked for");
	lsn_log_view_release(&v);

	/* the active segment (all of them), a stale expectation, or 0
	 * segments: nothing changes */
	static const struct {
		bool all;
		uint64_t first;
		size_t n;
		int want;
	} no_change[] = { { true, 1, 0, -EPERM }, { false, 2, 1, -ESTALE }, { false, 1, 0, 0 } };
	for (size_t i = 0; i < sizeof(no_change) / sizeof(no_change[0]); i++) {
		uint64_t to = 99;
		cr_expect_eq(lsn_log_trim_prefix(log, no_change[i].first,
						 no_change[i].all ? n : no_change[i].n, &to),
			     no_change[i].want, "case %zu", i);
		cr_expect_eq(to, no_change[i].want ? 99 : 0);
		check_trimmed(log, &m, 0, NULL, 0);
	}

	/* the first three */
	cr_assert_eq(fx_trim_n(log, 3, &removed), 0);
	cr_expect_eq(removed, 3);
	for (size_t i = 0; i < 3; i++)
		gone[i] = segs[i].first_lsn;
	tp = segs[2].last_lsn;
	check_trimmed(log, &m, tp, gone, 3);
	fx_reopen();
	log = fx_log("t");
	check_trimmed(log, &m, tp, gone, 3);

	/* two more, the view shows the new trim point */
	cr_assert_eq(lsn_log_view(log, LSN_VIEW_SEGMENTS, &v), 0);
	cr_expect_eq(v.trim_point, tp);
	cr_expect_eq(v.n_segments, n - 3);
	lsn_log_view_release(&v);
	cr_assert_eq(fx_trim_n(log, 2, &removed), 0);
	cr_expect_eq(removed, 2);
	gone[3] = segs[3].first_lsn;
	gone[4] = segs[4].first_lsn;
	tp = segs[4].last_lsn;
	check_trimmed(log, &m, tp, gone, 5);
	append_rec(log, &m, 700);
	check_trimmed(log, &m, tp, gone, 5);
	fx_reopen();
	check_trimmed(fx_log("t"), &m, tp, gone, 5);
	free(segs);
	model_free(&m);
}

Test(store, remove_log)
{
	struct lsn_log_info info;
	struct lsn_log *log;
	struct model m = { 0 };
	char **names;
	size_t n, removed;

	fx_open(4096);
	log = fx_create("gone");
	cr_assert_eq(lsn_store_create_log(store, "empty"), 0);
	cr_expect_eq(lsn_store_remove_log(store, "nope"), -ENOENT);
	cr_expect_eq(lsn_store_remove_log(store, "a/b"), -EINVAL);
	cr_expect_eq(lsn_store_remove_log(store, "empty"), 0, "tail 0: removable at once");
	cr_expect_eq(lsn_store_find_log(store, "empty", &log), -ENOENT);
	log = fx_log("gone");

	append_bulk(log, &m, 20000, 100, 900);
	cr_assert_eq(lsn_log_hold_set(log, "h", 1), 0);
	cr_expect_eq(lsn_store_remove_log(store, "gone"), -ENOTEMPTY);
	lsn_log_info(log, &info);
	/* every sealed one; the active one still has records */
	cr_assert_eq(fx_trim_n(log, info.n_segments - 1, &removed), 0);
	cr_expect_eq(lsn_store_remove_log(store, "gone"), -ENOTEMPTY);
	cr_assert_eq(lsn_log_seal(log), 0);
	cr_assert_eq(fx_trim_n(log, 1, &removed), 0);
	cr_assert_eq(removed, 1);
	lsn_log_info(log, &info);
	cr_expect_eq(info.trim_point, m.n);
	cr_expect_eq(info.tail_lsn, m.n);
	cr_expect_eq(info.n_segments, 1);
	cr_expect_eq(info.retained_bytes, 0);
	fx_reopen();
	log = fx_log("gone");
	cr_assert_eq(lsn_store_remove_log(store, "gone"), 0);
	cr_expect_eq(lsn_log_append(log, &(struct iovec){ m.data, 1 }, 1, NULL), -ENOENT,
		     "append through the handle of a removed log");
	cr_expect_eq(lsn_store_find_log(store, "gone", &log), -ENOENT);
	cr_assert_eq(lsn_store_list_logs(store, &names, &n), 0);
	cr_expect_eq(n, 0);
	lsn_names_free(names, n);
	fx_reopen();
	cr_expect_eq(lsn_store_find_log(store, "gone", &log), -ENOENT, "removed for good");

	/* the name is free again and starts from scratch, twice */
	for (int pass = 0; pass < 2; pass++) {
		struct lsn_hold *h;
		size_t nh;
		model_free(&m);
		log = fx_create("gone");
		lsn_log_info(log, &info);
		cr_expect_eq(info.tail_lsn, 0);
		cr_expect_eq(info.first_lsn, 1);
		cr_expect_eq(info.persisted_lsn, 0);
		cr_assert_eq(lsn_log_holds(log, &h, &nh), 0);
		cr_expect_eq(nh, 0, "old holds are gone");
		free(h);
		cr_assert_eq(append_rec(log, &m, 10), 1);
		check_log(log, &m, 1, 4096);
		fx_reopen();
		log = fx_log("gone");
		check_log(log, &m, 1, 4096);
		cr_assert_eq(lsn_store_remove_log(store, "gone"), -ENOTEMPTY);
		cr_assert_eq(lsn_log_seal(log), 0);
		cr_assert_eq(fx_trim_n(log, 1, &removed), 0);
		cr_assert_eq(lsn_store_remove_log(store, "gone"), 0);
	}
	model_free(&m);
}

/* ---- 12. concurrent appends ---------------------------------------------------- */

#define N_THREADS 4
#define PER_THREAD 5000

struct thread_arg {
	struct lsn_log *log;
	int t, failed;
};

static void *append_thread(void *p)
{
	struct thread_arg *a = p;
	char buf[32];

	for (int i = 0; i < PER_THREAD && !a->failed; i++) {
		struct iovec iov = { buf, (size_t)snprintf(buf, sizeof(buf), "t%d-%d\n", a->t, i) };
		a->failed = lsn_log_append(a->log, &iov, 1, NULL);
	}
	return NULL;
}

Test(store, concurrent_appends)
{
	struct lsn_segment_info *segs;
	struct thread_arg args[N_THREADS];
	pthread_t th[N_THREADS];
	int next[N_THREADS] = { 0 };
	struct lsn_log *log;
	uint64_t want_lsn = 1;
	size_t n;

	fx_open(64 * 1024);
	log = fx_create("conc");
	for (int t = 0; t < N_THREADS; t++) {
		args[t] = (struct thread_arg){ log, t, 0 };
		cr_assert_eq(pthread_create(&th[t], NULL, append_thread, &args[t]), 0);
	}
	for (int t = 0; t < N_THREADS; t++) {
		pthread_join(th[t], NULL);
		cr_expect_eq(args[t].failed, 0, "thread %d: append failed: %d", t, args[t].failed);
	}
	cr_assert_eq(tail_of(log), N_THREADS * PER_THREAD);

	/* parse every record back through the index text */
	cr_assert_eq(lsn_log_segments(log, &segs, &n), 0);
	for (size_t i = 0; i < n; i++) {
		char *pay = malloc(segs[i].bytes + 1), *idx = malloc(segs[i].index_bytes + 1), *line;
		size_t got;
		cr_assert(pay && idx);
		cr_assert_eq(lsn_log_read(log, segs[i].first_lsn, 0, pay, segs[i].bytes, &got, NULL), 0);
		cr_assert_eq(got, segs[i].bytes);
		cr_assert_eq(lsn_log_read_index(log, segs[i].first_lsn, 0, idx, segs[i].index_bytes, &got, NULL), 0);
		cr_assert_eq(got, segs[i].index_bytes);
		idx[got] = '\0';
		for (line = idx; *line; line = strchr(line, '\n') + 1) {
			unsigned long long lsn, off, len;
			int t, seq, used = 0;
			char rec[32];
			cr_assert_eq(sscanf(line, "%llu %llu %llu", &lsn, &off, &len), 3);
			cr_assert_eq(lsn, want_lsn++);
			cr_assert(off + len <= segs[i].bytes && len < sizeof(rec));
			memcpy(rec, pay + off, len);
			rec[len] = '\0';
			cr_assert_eq(sscanf(rec, "t%d-%d\n%n", &t, &seq, &used), 2, "torn record '%s'", rec);
			cr_assert_eq((unsigned long long)used, len, "torn record '%s'", rec);
			cr_assert(t >= 0 && t < N_THREADS);
			cr_assert_eq(seq, next[t], "thread %d: record %d after %d", t, seq, next[t] - 1);
			next[t]++;
		}
		free(pay);
		free(idx);
	}
	for (int t = 0; t < N_THREADS; t++)
		cr_expect_eq(next[t], PER_THREAD);
	cr_expect_eq(want_lsn, N_THREADS * PER_THREAD + 1);
	free(segs);
}
