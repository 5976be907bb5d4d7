/*
 * Unit tests for the block codec and zstd helpers (storage/block.h), the
 * config (storage/config.h), and the store-level things that are not about
 * log contents (test_storage.c has those): corrupt blocks in a real store,
 * the compression ratio, persisted_lsn, holds, and the store lifecycle.
 * Every store test formats its own store under /tmp and removes it after.
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>

#include <errno.h>
#include <inttypes.h>
#include <rocksdb/c.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "storage/keys.h"
#include "storage/store.h"

#define FX_RNG_SEED 0x2545f4914f6cdd1dull
#include "tests/unit/fixture.h"

TestSuite(block, .timeout = 60);
TestSuite(config, .timeout = 60);
TestSuite(store, .init = setup, .fini = teardown, .timeout = 60);

/* ---- 7. block codec -------------------------------------------------------- */

/* count records with random lengths summing to payload_len (some zero). */
struct records {
	uint32_t count, payload_len;
	uint32_t *lengths;
	unsigned char *payload;
};

static void make_records(struct records *r, uint32_t count, uint32_t payload_len, bool text)
{
	static const char words[] = "GET /index.html 200 OK user=bob took 13ms cache miss retry\n";
	uint32_t left = payload_len;

	r->count = count;
	r->payload_len = payload_len;
	r->lengths = calloc(count, sizeof(*r->lengths));
	r->payload = malloc(payload_len + 1);
	cr_assert(r->lengths && r->payload);
	for (uint32_t i = 0; i < count; i++) {
		uint32_t l = i % 5 == 4 ? 0 : (uint32_t)rnd_below(2 * payload_len / count + 1);
		if (l > left || i + 1 == count)
			l = left;
		r->lengths[i] = l;
		left -= l;
	}
	for (uint32_t i = 0; i < payload_len; i++)
		r->payload[i] = !text ? (unsigned char)rnd()
			      : i % 17 == 0 ? (unsigned char)('0' + rnd_below(10))
					    : (unsigned char)words[(i + 7 * (i / 61)) % (sizeof(words) - 1)];
}

static void free_records(struct records *r)
{
	free(r->lengths);
	free(r->payload);
}

static void check_decoded(const struct lsn_block *b, const struct records *r, uint64_t first,
			  uint64_t seg_off, uint64_t idx_off)
{
	cr_assert_eq(b->first_lsn, first);
	cr_assert_eq(b->count, r->count);
	cr_assert_eq(b->payload_len, r->payload_len);
	cr_assert_eq(b->seg_offset, seg_off);
	cr_assert_eq(b->index_offset, idx_off);
	assert_bytes(b->lengths, r->lengths, r->count * sizeof(uint32_t), "lengths");
	assert_bytes(b->payload, r->payload, r->payload_len, "payload");
}

struct codec_case {
	uint32_t count, payload_len;
	bool text;
	int level;
	bool all_truncations; /* else sampled */
};

static const struct codec_case codec_cases[] = {
	{ 1, 0, true, 3, true },          /* one empty record */
	{ 1, 1, false, 1, true },
	{ 20, 700, true, 3, true },
	{ 50, 3000, false, 3, true },
	{ 300, 131072, true, 3, false },  /* a full block of text */
	{ 40, 131072, false, 1, false },  /* a full block that does not compress */
	{ 3, 1044480, true, 19, false },  /* record-sized, high level */
};

Test(block, codec_round_trip_and_damage)
{
	struct lsn_block blk = { 0 }, hdr;

	for (size_t ci = 0; ci < sizeof(codec_cases) / sizeof(codec_cases[0]); ci++) {
		const struct codec_case *c = &codec_cases[ci];
		uint64_t first = 1000 * ci + 1, seg_off = 77777 * ci, idx_off = 999 * ci + 5;
		unsigned char *enc, *bad;
		struct records r;
		size_t len;

		make_records(&r, c->count, c->payload_len, c->text);
		cr_assert_eq(lsn_block_encode(first, r.count, r.lengths, r.payload, r.payload_len, seg_off,
					      idx_off, c->level, &enc, &len), 0, "case %zu", ci);
		cr_assert_gt(len, LSN_BLOCK_HEADER);
		if (c->text && c->payload_len > 10000)
			cr_expect_lt(len, c->payload_len / 3, "case %zu: text compresses (%zu)", ci, len);
		cr_assert_eq(lsn_block_peek(enc, len, &hdr), 0);
		cr_expect_eq(hdr.first_lsn, first);
		cr_expect_eq(hdr.count, r.count);
		cr_expect_eq(hdr.payload_len, r.payload_len);
		cr_assert_eq(lsn_block_decode(enc, len, &blk), 0, "case %zu", ci);
		check_decoded(&blk, &r, first, seg_off, idx_off);

		/* one damaged byte anywhere: every header byte, sampled body bytes */
		bad = malloc(len);
		cr_assert_not_null(bad);
		for (size_t k = 0; k < 40 + 200; k++) {
			size_t pos = k < LSN_BLOCK_HEADER ? k : LSN_BLOCK_HEADER + rnd_below(len - LSN_BLOCK_HEADER);
			unsigned char x = (unsigned char)(1u << (k % 8)) | (k % 3 ? 0 : 0x80);
			if (k == LSN_BLOCK_HEADER)
				pos = len - 1; /* last byte of the frame */
			memcpy(bad, enc, len);
			bad[pos] ^= x;
			cr_assert_eq(lsn_block_decode(bad, len, &blk), -EBADMSG,
				     "case %zu: byte %zu ^ 0x%02x decoded", ci, pos, x);
		}
		/* every (or sampled) truncation */
		for (size_t k = 0; k < (c->all_truncations ? len : 300); k++) {
			size_t cut = c->all_truncations ? k : (k < 100 ? k : rnd_below(len));
			memcpy(bad, enc, cut);
			cr_assert_eq(lsn_block_decode(bad, cut, &blk), -EBADMSG, "case %zu: %zu of %zu bytes",
				     ci, cut, len);
		}
		/* trailing garbage is damage too */
		bad = realloc(bad, len + 1);
		memcpy(bad, enc, len);
		bad[len] = 0;
		cr_assert_eq(lsn_block_decode(bad, len + 1, &blk), -EBADMSG, "case %zu: one byte more", ci);
		/* and the same struct still decodes the good value afterwards */
		cr_assert_eq(lsn_block_decode(enc, len, &blk), 0);
		check_decoded(&blk, &r, first, seg_off, idx_off);
		free(bad);
		free(enc);
		free_records(&r);
	}
	lsn_block_release(&blk);
	lsn_block_release(&blk); /* twice is fine */
}

Test(block, index_line)
{
	static const struct {
		uint64_t lsn, off, len;
		const char *text;
	} cases[] = {
		{ 1, 0, 0, "1 0 0\n" },
		{ 9, 10, 99, "9 10 99\n" },
		{ 10, 1044480, 100, "10 1044480 100\n" },
		{ UINT64_MAX, UINT64_MAX, UINT64_MAX,
		  "18446744073709551615 18446744073709551615 18446744073709551615\n" },
	};
	char buf[72];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t n = lsn_index_line_format(buf, cases[i].lsn, cases[i].off, cases[i].len);
		cr_expect_str_eq(buf, cases[i].text);
		cr_expect_eq(n, strlen(cases[i].text));
		cr_expect_eq(lsn_index_line_len(cases[i].lsn, cases[i].off, cases[i].len), n);
	}
}

Test(block, zstd_helpers)
{
	static const size_t sizes[] = { 0, 1, 100, 65536, 1 << 20 };
	unsigned char *src = malloc(1 << 20), *dst = malloc((1 << 20) + 1), *z;
	size_t zlen;

	cr_assert(src && dst);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t n = sizes[i];
		for (size_t k = 0; k < n; k++)
			src[k] = i % 2 ? (unsigned char)rnd() : (unsigned char)("log line 42 ok\n"[k % 15]);
		cr_assert_eq(lsn_zstd_compress(src, n, 3, &z, &zlen), 0);
		memset(dst, 0xaa, n + 1);
		cr_assert_eq(lsn_zstd_decompress(z, zlen, dst, n), 0, "size %zu", n);
		assert_bytes(dst, src, n, "zstd round trip");
		cr_expect_eq(dst[n], 0xaa, "wrote past dst_len");
		cr_expect_eq(lsn_zstd_decompress(z, zlen, dst, n + 1), -EBADMSG, "dst_len + 1");
		if (n)
			cr_expect_eq(lsn_zstd_decompress(z, zlen, dst, n - 1), -EBADMSG, "dst_len - 1");
		for (size_t cut = 0; cut < zlen; cut += 1 + zlen / 50)
			cr_expect_eq(lsn_zstd_decompress(z, cut, dst, n), -EBADMSG, "cut at %zu", cut);
		free(z);
	}
	memset(src, 'x', 64);
	cr_expect_eq(lsn_zstd_decompress(src, 64, dst, 64), -EBADMSG, "not a frame");
	free(src);
	free(dst);
}

/* Append n small records "<tag>-<i>\n" one by one; returns the last LSN. */
static uint64_t append_lines(struct lsn_log *log, int n, const char *tag)
{
	uint64_t lsn = 0;

	for (int i = 0; i < n; i++) {
		char buf[64];
		struct iovec iov = { buf, (size_t)snprintf(buf, sizeof(buf), "%s-%d\n", tag, i) };
		cr_assert_eq(lsn_log_append(log, &iov, 1, &lsn), 0);
	}
	return lsn;
}

/* ---- 9. persisted_lsn ---------------------------------------------------------- */

Test(store, persisted_lsn)
{
	struct lsn_log_info info;
	struct lsn_log *log;
	uint64_t tail = 0;

	fx_open(0);
	log = fx_create("p");
	cr_expect_eq(lsn_log_set_persisted(log, 0), 0, "0 <= tail 0");
	cr_expect_eq(lsn_log_set_persisted(log, 1), -EINVAL, "beyond tail 0");
	tail = append_lines(log, 12, "p");
	cr_assert_eq(tail, 12);
	cr_expect_eq(lsn_log_set_persisted(log, 5), 0);
	cr_expect_eq(lsn_log_set_persisted(log, 5), 0, "same value again");
	cr_expect_eq(lsn_log_set_persisted(log, 4), -EINVAL, "decreasing");
	cr_expect_eq(lsn_log_set_persisted(log, tail + 1), -EINVAL, "beyond tail");
	cr_expect_eq(lsn_log_set_persisted(log, tail), 0, "= tail");
	lsn_log_info(log, &info);
	cr_expect_eq(info.persisted_lsn, tail);
	fx_reopen();
	log = fx_log("p");
	lsn_log_info(log, &info);
	cr_expect_eq(info.persisted_lsn, tail, "persisted_lsn after reopen: %" PRIu64, info.persisted_lsn);
	cr_expect_eq(lsn_log_set_persisted(log, tail - 1), -EINVAL, "decreasing after reopen");
}

/* ---- 10. holds --------------------------------------------------------------- */

static void check_holds(struct lsn_log *log, const char *const *names, const uint64_t *lsns, size_t n)
{
	struct lsn_hold *h;
	size_t k;

	cr_assert_eq(lsn_log_holds(log, &h, &k), 0);
	cr_assert_eq(k, n, "%zu holds, want %zu", k, n);
	for (size_t i = 0; i < n; i++) {
		uint64_t v = 0;
		cr_expect_str_eq(h[i].name, names[i]);
		cr_expect_eq(h[i].lsn, lsns[i], "hold %s", names[i]);
		cr_expect_eq(lsn_log_hold_get(log, names[i], &v), 0);
		cr_expect_eq(v, lsns[i]);
	}
	free(h);
}

Test(store, holds)
{
	static const char *const bad[] = { "", ".h", "a/b", "a b",
		"12345678901234567890123456789012345678901234567890123456789012345" };
	static const char *const names1[] = { "a", "backup", "m.1", "zz" };
	static const uint64_t lsns1[] = { 7, 3, 0, 12 };
	static const char *const names2[] = { "a", "m.1", "zz" };
	static const uint64_t lsns2[] = { 7, 0, 99 };
	struct lsn_log *log;
	uint64_t v;

	fx_open(0);
	log = fx_create("h");
	check_holds(log, NULL, NULL, 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_expect_eq(lsn_log_hold_set(log, bad[i], 1), -EINVAL, "hold '%s'", bad[i]);
	cr_assert_eq(lsn_log_hold_set(log, "zz", 1), 0);
	cr_assert_eq(lsn_log_hold_set(log, "backup", 3), 0);
	cr_assert_eq(lsn_log_hold_set(log, "m.1", 0), 0);
	cr_assert_eq(lsn_log_hold_set(log, "a", 7), 0);
	cr_assert_eq(lsn_log_hold_set(log, "zz", 12), 0, "update");
	check_holds(log, names1, lsns1, 4);
	cr_expect_eq(lsn_log_hold_get(log, "nope", &v), -ENOENT);
	cr_expect_eq(lsn_log_hold_remove(log, "nope"), -ENOENT);
	fx_reopen();
	log = fx_log("h");
	check_holds(log, names1, lsns1, 4);
	cr_assert_eq(lsn_log_hold_remove(log, "backup"), 0);
	cr_expect_eq(lsn_log_hold_remove(log, "backup"), -ENOENT);
	cr_expect_eq(lsn_log_hold_get(log, "backup", &v), -ENOENT);
	cr_assert_eq(lsn_log_hold_set(log, "zz", 99), 0);
	check_holds(log, names2, lsns2, 3);
	fx_reopen();
	check_holds(fx_log("h"), names2, lsns2, 3);
}

/* ---- 13. store lifecycle --------------------------------------------------------- */

Test(store, open_busy_and_not_a_store)
{
	struct lsn_store *second = (struct lsn_store *)1;
	struct lsn_config cfg;
	char other[64], path[128];
	int rc;
	FILE *f;

	fx_open(0);
	cr_expect_eq(lsn_store_open(tmpdir, &second), -EBUSY);
	cr_expect_null(second);

	lsn_config_defaults(&cfg);
	snprintf(other, sizeof(other), "/tmp/lsn-ut-XXXXXX");
	cr_assert_not_null(mkdtemp(other));
	rc = lsn_store_open(other, &second);
	cr_expect(rc == -ENOENT || rc == -EINVAL, "empty dir: %d", rc);
	cr_expect_null(second);
	snprintf(path, sizeof(path), "%s/junk", other);
	f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs("x\n", f);
	fclose(f);
	cr_expect_eq(lsn_store_format(other, &cfg), -ENOTEMPTY);
	rc = lsn_store_open(other, &second);
	cr_expect(rc == -ENOENT || rc == -EINVAL, "dir with junk: %d", rc);
	snprintf(path, sizeof(path), "%s/lsnfs.store", other);
	f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs("not a store\n", f);
	fclose(f);
	rc = lsn_store_open(other, &second);
	cr_expect(rc == -ENOENT || rc == -EINVAL, "bad marker: %d", rc);
	rm_rf(other);
	cr_expect_eq(lsn_store_format(tmpdir, &cfg), -ENOTEMPTY, "format over a store");

	/* after close the store can be opened again */
	lsn_store_close(store);
	store = NULL;
	cr_assert_eq(lsn_store_open(tmpdir, &store), 0);
	cr_expect_str_eq(lsn_store_path(store), tmpdir);
}

/* ---- RocksDB opened directly (the store must be closed) -------------------- */

static rocksdb_t *raw_open(rocksdb_options_t **opts)
{
	char path[128], *err = NULL;
	rocksdb_t *db;

	snprintf(path, sizeof(path), "%s/db", tmpdir);
	*opts = rocksdb_options_create();
	rocksdb_options_set_create_if_missing(*opts, 0);
	db = rocksdb_open(*opts, path, &err);
	cr_assert_null(err, "rocksdb_open: %s", err);
	return db;
}

static void raw_close(rocksdb_t *db, rocksdb_options_t *opts)
{
	rocksdb_close(db);
	rocksdb_options_destroy(opts);
}

/* ---- 8. a corrupt block in a real store ----------------------------------- */

#define MAX_BLOCKS 32

struct raw_block {
	unsigned char key[21];
	unsigned char *val;
	size_t vlen;
	struct lsn_block hdr;
};

Test(store, corrupt_block_in_store)
{
	static unsigned char data[8 * LSN_BLOCK_TARGET];
	static char index[64 * 2000];
	static const char *const damage[] = { "none", "flip", "truncate", "other block" };
	struct raw_block blk[MAX_BLOCKS];
	rocksdb_writeoptions_t *wo;
	rocksdb_readoptions_t *ro;
	rocksdb_options_t *opts;
	rocksdb_iterator_t *it;
	struct lsn_log *log;
	unsigned char prefix[13];
	size_t len = 0, ilen = 0, nb = 0, got;
	uint64_t lsn = 0;
	char *err = NULL;
	static unsigned char buf[1 << 20];

	fx_open(0);
	log = fx_create("c");
	while (len < 7 * LSN_BLOCK_TARGET) {
		size_t n = 500 + rnd_below(2500);
		for (size_t i = 0; i < n; i++)
			data[len + i] = (unsigned char)("0123456789 abcdef\n"[rnd_below(18)]);
		struct iovec iov = { data + len, n };
		cr_assert_eq(lsn_log_append(log, &iov, 1, &lsn), 0);
		ilen += (size_t)sprintf(index + ilen, "%" PRIu64 " %zu %zu\n", lsn, len, n);
		len += n;
	}
	lsn_store_close(store);
	store = NULL;

	/* the first log has id 1, its first segment starts at LSN 1 */
	rocksdb_t *db = raw_open(&opts);
	ro = rocksdb_readoptions_create();
	wo = rocksdb_writeoptions_create();
	prefix[0] = 'B';
	lsn_put_be32(prefix + 1, 1);
	lsn_put_be64(prefix + 5, 1);
	it = rocksdb_create_iterator(db, ro);
	for (rocksdb_iter_seek(it, (const char *)prefix, 13); rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
		size_t klen, vlen;
		const char *k = rocksdb_iter_key(it, &klen);
		const char *v = rocksdb_iter_value(it, &vlen);
		if (klen != 21 || memcmp(k, prefix, 13) != 0)
			break;
		cr_assert_lt(nb, MAX_BLOCKS);
		memcpy(blk[nb].key, k, 21);
		blk[nb].val = malloc(vlen);
		memcpy(blk[nb].val, v, vlen);
		blk[nb].vlen = vlen;
		cr_assert_eq(lsn_block_peek(blk[nb].val, vlen, &blk[nb].hdr), 0);
		cr_assert_eq(blk[nb].hdr.seg_offset, lsn_get_be64(blk[nb].key + 13));
		nb++;
	}
	rocksdb_iter_destroy(it);
	cr_assert_geq(nb, 6, "only %zu blocks", nb);
	/* block 1: one flipped byte; 2: cut in half; 3: a valid block from elsewhere */
	blk[1].val[blk[1].vlen / 2] ^= 0x10;
	blk[2].vlen /= 2;
	for (size_t i = 1; i <= 3; i++) {
		const struct raw_block *src = i == 3 ? &blk[0] : &blk[i];
		rocksdb_put(db, wo, (const char *)blk[i].key, 21, (const char *)src->val, src->vlen, &err);
		cr_assert_null(err, "put: %s", err);
	}
	rocksdb_readoptions_destroy(ro);
	rocksdb_writeoptions_destroy(wo);
	raw_close(db, opts);

	fx_reopen();
	log = fx_log("c");
	for (int use_cache = 0; use_cache < 2; use_cache++) {
		struct lsn_read_cache cache = { 0 }, *c = use_cache ? &cache : NULL;
		for (size_t i = 0; i < nb; i++) {
			const struct lsn_block *h = &blk[i].hdr;
			int want = i >= 1 && i <= 3 ? -EBADMSG : 0;
			int rc = lsn_log_read(log, 1, h->seg_offset, buf, h->payload_len, &got, c);
			cr_assert_eq(rc, want, "block %zu (%s): read %d", i, damage[i < 4 ? i : 0], rc);
			if (!rc) {
				cr_assert_eq(got, h->payload_len);
				assert_bytes(buf, data + h->seg_offset, got, "good block");
			}
			/* a single byte in the middle, and its index lines */
			rc = lsn_log_read(log, 1, h->seg_offset + h->payload_len / 2, buf, 1, &got, c);
			cr_assert_eq(rc, want, "block %zu: one byte: %d", i, rc);
			rc = lsn_log_read_index(log, 1, h->index_offset, (char *)buf, 40, &got, c);
			cr_assert_eq(rc, want, "block %zu: index: %d", i, rc);
			if (!rc)
				assert_bytes(buf, index + h->index_offset, got, "index of a good block");
		}
		/* a read that starts in a good block and runs into a bad one */
		cr_expect_eq(lsn_log_read(log, 1, 0, buf, blk[1].hdr.seg_offset + 10, &got, c), -EBADMSG);
		/* the records after the last block (still in the open block) */
		uint64_t end = blk[nb - 1].hdr.seg_offset + blk[nb - 1].hdr.payload_len;
		cr_assert_eq(lsn_log_read(log, 1, end, buf, sizeof(buf), &got, c), 0);
		cr_assert_eq(got, len - end);
		assert_bytes(buf, data + end, got, "open block");
		lsn_read_cache_release(&cache);
	}
	for (size_t i = 0; i < nb; i++)
		free(blk[i].val);
}

/* ---- 15. compression ratio of realistic log lines -------------------------- */

static size_t log_line(char *out, size_t cap, uint64_t *clock_ms)
{
	static const char *const levels[] = { "INFO", "INFO", "INFO", "INFO", "INFO", "INFO",
					      "DEBUG", "DEBUG", "WARN", "ERROR" };
	static const char *const comps[] = { "api.gateway", "db.pool", "auth", "scheduler", "cache",
					     "billing.worker", "http.server", "kafka.consumer", "mailer" };
	static const char *const users[] = { "alice", "bob", "carol", "dave", "erin", "frank", "grace" };
	static const char *const paths[] = { "/api/v1/users", "/api/v1/orders", "/health", "/login",
					     "/api/v2/search", "/static/app.js" };
	static const char *const extra[] = { " region=eu-west-1", " retry=false", " cached=true",
					     " tls=1.3", " proto=h2", " pool=primary", " node=web-3" };
	size_t target = 60 + rnd_below(241), n;
	uint64_t t;
	int w;

	*clock_ms += rnd_below(40);
	t = *clock_ms;
	n = (size_t)snprintf(out, cap, "2024-03-%02u %02u:%02u:%02u.%03u %-5s [%s] ",
			     (unsigned)(1 + t / 86400000 % 28), (unsigned)(t / 3600000 % 24),
			     (unsigned)(t / 60000 % 60), (unsigned)(t / 1000 % 60), (unsigned)(t % 1000),
			     levels[rnd_below(10)], comps[rnd_below(9)]);
	switch (rnd_below(5)) {
	case 0:
		w = snprintf(out + n, cap - n, "GET %s/%u status=%u bytes=%u duration=%u.%ums user=%s",
			     paths[rnd_below(6)], (unsigned)rnd_below(100000), rnd_below(10) ? 200u : 404u,
			     (unsigned)rnd_below(60000), (unsigned)rnd_below(900), (unsigned)rnd_below(10),
			     users[rnd_below(7)]);
		break;
	case 1:
		w = snprintf(out + n, cap - n, "connection pool size=%u active=%u idle=%u waiters=%u",
			     32u, (unsigned)rnd_below(32), (unsigned)rnd_below(8), (unsigned)rnd_below(3));
		break;
	case 2:
		w = snprintf(out + n, cap - n, "cache %s key=session:%u ttl=%us",
			     rnd_below(3) ? "hit" : "miss", (unsigned)rnd_below(50000), 300u);
		break;
	case 3:
		w = snprintf(out + n, cap - n, "job %s finished in %ums, processed %u items",
			     comps[rnd_below(9)], (unsigned)rnd_below(5000), (unsigned)rnd_below(10000));
		break;
	default:
		w = snprintf(out + n, cap - n, "user %s logged in from 10.%u.%u.%u trace=%08x",
			     users[rnd_below(7)], (unsigned)rnd_below(4), (unsigned)rnd_below(256),
			     (unsigned)rnd_below(256), (unsigned)rnd());
	}
	n += (size_t)w;
	while (n < target)
		n += (size_t)snprintf(out + n, cap - n, "%s", extra[rnd_below(7)]);
	if (n > target)
		n = target;
	out[n - 1] = '\n';
	return n;
}

Test(store, compression_ratio)
{
	enum { BATCH = 64 };
	static char lines[BATCH][320];
	struct iovec iov[BATCH];
	rocksdb_readoptions_t *ro;
	rocksdb_options_t *opts;
	rocksdb_iterator_t *it;
	struct lsn_log *log;
	uint64_t clock_ms = 0, lsn, total = 0, vals = 0, payload = 0;
	double ratio;

	fx_open(0); /* the default config: 64 MiB segments, zstd level 3 */
	log = fx_create("app");
	while (total < (8u << 20)) {
		for (int i = 0; i < BATCH; i++) {
			iov[i] = (struct iovec){ lines[i], log_line(lines[i], sizeof(lines[i]), &clock_ms) };
			total += iov[i].iov_len;
		}
		cr_assert_eq(lsn_log_append(log, iov, BATCH, &lsn), 0);
	}
	lsn_store_close(store);
	store = NULL;

	rocksdb_t *db = raw_open(&opts);
	ro = rocksdb_readoptions_create();
	it = rocksdb_create_iterator(db, ro);
	for (rocksdb_iter_seek(it, "B", 1); rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
		size_t klen, vlen;
		const char *k = rocksdb_iter_key(it, &klen);
		const unsigned char *v = (const unsigned char *)rocksdb_iter_value(it, &vlen);
		struct lsn_block hdr;
		if (k[0] != 'B')
			break;
		cr_assert_eq(lsn_block_peek(v, vlen, &hdr), 0);
		vals += vlen;
		payload += hdr.payload_len;
	}
	rocksdb_iter_destroy(it);
	rocksdb_readoptions_destroy(ro);
	raw_close(db, opts);
	/* everything but the open block (< one block target) is in blocks */
	cr_assert_leq(payload, total);
	cr_assert_gt(payload + LSN_BLOCK_TARGET, total, "%" PRIu64 " of %" PRIu64 " in blocks",
		     payload, total);
	ratio = (double)vals / (double)payload;
	cr_log_info("compression ratio: %.3f (%" PRIu64 " block bytes for %" PRIu64 " payload bytes)",
		    ratio, vals, payload);
	cr_expect_lt(ratio, 0.35, "compression ratio %.3f", ratio);
}

/* ---- 14. config -------------------------------------------------------------- */

struct set_case {
	const char *key, *value;
	int rc;
	const char *canon; /* lsn_config_get afterwards, when rc == 0 (NULL: value) */
};

static const struct set_case set_cases[] = {
	{ "mode", "single", 0, NULL },
	{ "mode", "cluster", 0, NULL },
	{ "mode", "Single", -EINVAL, NULL },
	{ "mode", "", -EINVAL, NULL },
	{ "node_id", "node-1.a_b", 0, NULL },
	{ "node_id", ".hidden", -EINVAL, NULL },
	{ "node_id", "a b", -EINVAL, NULL },
	{ "node_id", "", -EINVAL, NULL },
	{ "node_id", "12345678901234567890123456789012345678901234567890123456789012345", -EINVAL, NULL },
	{ "archive", "/var/archive", 0, NULL },
	{ "archive", "", 0, NULL },
	{ "archive", "relative/dir", -EINVAL, NULL },
	{ "archive_command", "cp %p /mnt/arch/%f", 0, NULL },
	{ "archive_command", "", 0, NULL },
	{ "archive", "none", 0, "" },
	{ "archive_id", "0123456789abcdef0123456789abcdef", 0, NULL },
	{ "archive_id", "", 0, NULL },
	{ "archive_id", "0123456789ABCDEF0123456789ABCDEF", -EINVAL, NULL },
	{ "archive_id", "0123456789abcdef0123456789abcde", -EINVAL, NULL },
	{ "archive_id", "0123456789abcdef0123456789abcdef0", -EINVAL, NULL },
	{ "archive_id", "g123456789abcdef0123456789abcdef", -EINVAL, NULL },
	{ "archive_check_command", "test -f /mnt/arch/%f", 0, NULL },
	{ "archive_check_command", "", 0, NULL },
	{ "archive_timeout", "1", 0, NULL },
	{ "archive_timeout", "300", 0, NULL },
	{ "archive_timeout", "0", -EINVAL, NULL },
	{ "archive_timeout", "4294967296", -EINVAL, NULL },
	{ "archive_timeout", "5m", -EINVAL, NULL },
	{ "segment_size", "4096", 0, NULL },
	{ "segment_size", "1099511627776", 0, NULL },
	{ "segment_size", "0067108864", 0, "67108864" },
	{ "segment_size", "4095", -EINVAL, NULL },
	{ "segment_size", "1099511627777", -EINVAL, NULL },
	{ "segment_size", "", -EINVAL, NULL },
	{ "segment_size", "-4096", -EINVAL, NULL },
	{ "segment_size", "4096 ", -EINVAL, NULL },
	{ "segment_size", "18446744073709551616", -EINVAL, NULL },
	{ "sync", "always", 0, NULL },
	{ "sync", "fsync", 0, NULL },
	{ "sync", "never", -EINVAL, NULL },
	{ "auto_trim", "0", 0, NULL },
	{ "auto_trim", "4294967295", 0, NULL },
	{ "auto_trim", "4294967296", -EINVAL, NULL },
	{ "auto_trim", "1s", -EINVAL, NULL },
	{ "trim_delay", "600", 0, NULL },
	{ "trim_delay", "-1", -EINVAL, NULL },
	{ "compress_level", "1", 0, NULL },
	{ "compress_level", "19", 0, NULL },
	{ "compress_level", "0", -EINVAL, NULL },
	{ "compress_level", "20", -EINVAL, NULL },
	{ "compress_level", "", -EINVAL, NULL },
	{ "nope", "1", -ENOENT, NULL },
	{ "", "1", -ENOENT, NULL },
	{ "Segment_size", "4096", -ENOENT, NULL },
};

static const char *const all_keys[] = { "mode",	       "node_id",	  "archive",
					"archive_id",	       "archive_command", "archive_check_command",
					"archive_timeout",     "segment_size",	  "sync",
					"auto_trim",	       "trim_delay",	  "compress_level" };
#define N_KEYS (sizeof(all_keys) / sizeof(all_keys[0]))

static void snapshot(const struct lsn_config *cfg, char (*out)[PATH_MAX])
{
	for (size_t k = 0; k < N_KEYS; k++)
		cr_assert_eq(lsn_config_get(cfg, all_keys[k], out[k], PATH_MAX), 0, "get %s", all_keys[k]);
}

Test(config, set_and_get)
{
	static char before[N_KEYS][PATH_MAX], after[N_KEYS][PATH_MAX];
	struct lsn_config cfg;
	char buf[64];

	lsn_config_defaults(&cfg);
	cr_expect_eq(cfg.segment_size, 64ull << 20);
	cr_expect_eq(cfg.compress_level, 3);
	cr_expect_eq(cfg.archive_timeout, 300);
	cr_expect_not(cfg.sync_always);
	cr_expect_eq(cfg.mode, LSN_MODE_SINGLE);
	cr_expect(lsn_name_valid(cfg.node_id), "default node_id '%s'", cfg.node_id);
	for (size_t i = 0; i < sizeof(set_cases) / sizeof(set_cases[0]); i++) {
		const struct set_case *c = &set_cases[i];
		char why[128] = "";
		int rc;

		snapshot(&cfg, before);
		rc = lsn_config_set(&cfg, c->key, c->value, why);
		cr_expect_eq(rc, c->rc, "%s=%s: %d, want %d", c->key, c->value, rc, c->rc);
		snapshot(&cfg, after);
		if (rc == 0) {
			size_t k = 0;
			while (strcmp(all_keys[k], c->key) != 0)
				k++;
			cr_expect_str_eq(after[k], c->canon ? c->canon : c->value, "%s=%s", c->key, c->value);
			continue;
		}
		if (rc == -EINVAL) {
			cr_expect_neq(why[0], '\0', "%s=%s: no message", c->key, c->value);
			cr_expect_not_null(strstr(why, c->key), "%s=%s: message '%s'", c->key, c->value, why);
			cr_expect_eq(lsn_config_set(&cfg, c->key, c->value, NULL), -EINVAL, "why may be NULL");
		}
		for (size_t k = 0; k < N_KEYS; k++)
			cr_expect_str_eq(after[k], before[k], "%s=%s changed %s", c->key, c->value, all_keys[k]);
	}
	cr_expect_eq(lsn_config_get(&cfg, "nope", buf, sizeof(buf)), -ENOENT);
}

Test(config, parse_u64)
{
	static const struct {
		const char *text;
		int rc;
		uint64_t v;
	} cases[] = {
		{ "0", 0, 0 },
		{ "1", 0, 1 },
		{ "00000000000000000001", 0, 1 }, /* 20-digit zero-padded, as in file names */
		{ "18446744073709551615", 0, UINT64_MAX },
		{ "18446744073709551616", -EINVAL, 0 },
		{ "18446744073709551620", -EINVAL, 0 },
		{ "99999999999999999999", -EINVAL, 0 },
		{ "184467440737095516150", -EINVAL, 0 },
		{ "", -EINVAL, 0 },
		{ "-1", -EINVAL, 0 },
		{ "+1", -EINVAL, 0 },
		{ " 1", -EINVAL, 0 },
		{ "1 ", -EINVAL, 0 },
		{ "1\n", -EINVAL, 0 },
		{ "0x10", -EINVAL, 0 },
		{ "1e3", -EINVAL, 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t v = 4242;
		int rc = lsn_parse_u64(cases[i].text, &v);
		cr_expect_eq(rc, cases[i].rc, "'%s': %d", cases[i].text, rc);
		cr_expect_eq(v, cases[i].rc ? 4242 : cases[i].v, "'%s': %" PRIu64, cases[i].text, v);
	}
	cr_expect_eq(lsn_parse_u64(NULL, NULL), -EINVAL);
}

/* mkfs keys are stored; per-mount overrides are not; offline changes
 * (lsn_store_save_config) are. */
Test(store, config_persistence)
{
	struct lsn_config cfg;
	const struct lsn_config *now;
	char why[128] = "";

	lsn_config_defaults(&cfg);
	cr_assert_eq(lsn_config_set(&cfg, "mode", "cluster", why), 0);
	cr_assert_eq(lsn_config_set(&cfg, "node_id", "n7", why), 0);
	cr_assert_eq(lsn_config_set(&cfg, "archive", "/srv/arch", why), 0);
	cr_assert_eq(lsn_config_set(&cfg, "segment_size", "8192", why), 0);
	cr_assert_eq(lsn_config_set(&cfg, "compress_level", "9", why), 0);
	cr_assert_eq(lsn_config_set(&cfg, "archive_id", "00112233445566778899aabbccddeeff", why), 0);
	cr_assert_eq(lsn_config_set(&cfg, "archive_timeout", "7", why), 0);
	fx_open_cfg(&cfg);
	cr_assert_eq(lsn_store_override(store, "sync", "always", why), 0);
	cr_assert_eq(lsn_store_override(store, "segment_size", "100000", why), 0);
	cr_expect_eq(lsn_store_override(store, "segment_size", "12", why), -EINVAL);
	cr_expect_eq(lsn_store_override(store, "bogus", "1", why), -ENOENT);
	now = lsn_store_config(store);
	cr_expect(now->sync_always);
	cr_expect_eq(now->segment_size, 100000);
	fx_reopen();
	now = lsn_store_config(store);
	cr_expect_eq(now->mode, LSN_MODE_CLUSTER);
	cr_expect_str_eq(now->node_id, "n7");
	cr_expect_str_eq(now->archive, "/srv/arch");
	cr_expect_eq(now->segment_size, 8192, "override leaked into the store");
	cr_expect_not(now->sync_always);
	cr_expect_eq(now->compress_level, 9);
	cr_expect_str_eq(now->archive_id, "00112233445566778899aabbccddeeff");
	cr_expect_eq(now->archive_timeout, 7);
	{
		static const char *const keys[] = { "trim_delay", "archive_check_command", NULL };
		static const char *const not_stored[] = { "trim_delay", "sync", NULL };
		struct lsn_config next = *now;
		cr_assert_eq(lsn_config_set(&next, "trim_delay", "42", why), 0);
		cr_assert_eq(lsn_config_set(&next, "archive_check_command", "test -f /a/%f", why), 0);
		cr_assert_eq(lsn_config_set(&next, "auto_trim", "99", why), 0); /* not in keys */
		cr_expect_eq(lsn_store_save_config(store, &next, not_stored), -EINVAL);
		cr_expect_eq(lsn_store_config(store)->trim_delay, 600, "a refused save changed it");
		cr_assert_eq(lsn_store_save_config(store, &next, keys), 0);
		cr_expect_eq(lsn_store_config(store)->trim_delay, 42);
		fx_reopen();
		now = lsn_store_config(store);
		cr_expect_eq(now->trim_delay, 42);
		cr_expect_str_eq(now->archive_check_command, "test -f /a/%f");
		cr_expect_eq(now->auto_trim, 0, "a key not listed was saved");
	}
	cr_assert_eq(lsn_store_set_mode(store, LSN_MODE_SINGLE), 0);
	cr_expect_eq(lsn_store_mode(store), LSN_MODE_SINGLE);
	fx_reopen();
	cr_expect_eq(lsn_store_mode(store), LSN_MODE_SINGLE);
}

/* ---- trim and remove really delete the keys --------------------------------- */

/* Keys of log id 1 with tag `tag`; *below counts those of a segment < first. */
static size_t count_keys(rocksdb_t *db, char tag, uint64_t first, size_t *below)
{
	rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
	rocksdb_iterator_t *it = rocksdb_create_iterator(db, ro);
	unsigned char prefix[5] = { (unsigned char)tag };
	size_t n = 0;

	*below = 0;
	lsn_put_be32(prefix + 1, 1);
	for (rocksdb_iter_seek(it, (const char *)prefix, 5); rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
		size_t klen;
		const unsigned char *k = (const unsigned char *)rocksdb_iter_key(it, &klen);
		if (klen < 5 || memcmp(k, prefix, 5) != 0)
			break;
		n++;
		if (tag != 'H' && klen >= 13 && lsn_get_be64(k + 5) < first)
			(*below)++;
	}
	rocksdb_iter_destroy(it);
	rocksdb_readoptions_destroy(ro);
	return n;
}

Test(store, trim_and_remove_delete_keys)
{
	struct lsn_config cfg;
	struct lsn_log_info info;
	rocksdb_options_t *opts;
	struct lsn_log *log;
	size_t k = 4, below;
	char path[128];

	lsn_config_defaults(&cfg);
	cfg.segment_size = 4096;
	fx_open_cfg(&cfg);
	log = fx_create("t");
	cr_assert_eq(append_lines(log, 3000, "some record text"), 3000);
	cr_assert_eq(lsn_log_hold_set(log, "h", 1), 0);
	cr_assert_eq(fx_trim_n(log, k, NULL), 0);
	lsn_log_info(log, &info);
	lsn_store_close(store);
	store = NULL;
	rocksdb_t *db = raw_open(&opts);
	for (const char *tag = "BXSR"; *tag; tag++) {
		size_t n = count_keys(db, *tag, info.first_lsn, &below);
		cr_expect_eq(below, 0, "%c keys of trimmed segments: %zu", *tag, below);
		cr_expect(*tag == 'R' || n > 0, "no %c keys left at all", *tag);
	}
	raw_close(db, opts);

	fx_reopen();
	log = fx_log("t");
	cr_assert_eq(lsn_log_seal(log), 0);
	k = info.n_segments; /* every segment that is now sealed */
	cr_assert_eq(fx_trim_n(log, k, NULL), 0);
	cr_assert_eq(lsn_store_remove_log(store, "t"), 0);
	lsn_store_close(store);
	store = NULL;
	db = raw_open(&opts);
	for (const char *tag = "BXSRH"; *tag; tag++)
		cr_expect_eq(count_keys(db, *tag, 0, &below), 0, "%c keys of a removed log", *tag);
	raw_close(db, opts);

	/* not a store: missing directory; format creates a missing directory */
	snprintf(path, sizeof(path), "%s/none", tmpdir);
	cr_expect_eq(lsn_store_open(path, &store), -ENOENT);
	rm_rf(tmpdir);
	cr_assert_eq(mkdir(tmpdir, 0700), 0);
	snprintf(path, sizeof(path), "%s/sub", tmpdir);
	cr_expect_eq(lsn_store_format(path, &cfg), 0);
	cr_assert_eq(lsn_store_open(path, &store), 0);
	cr_expect_eq(lsn_store_config(store)->segment_size, 4096);
}

/* ---- mode names (storage/config.h) ---------------------------------------- */

struct parse_case {
	const char *text;
	int want_rc;
	enum lsn_mode want;
};

static const struct parse_case parse_cases[] = {
	{ "single", 0, LSN_MODE_SINGLE },   { "cluster", 0, LSN_MODE_CLUSTER },
	{ "Single", -EINVAL, 0 },           { "single\n", -EINVAL, 0 },
	{ " cluster", -EINVAL, 0 },         { "cluster ", -EINVAL, 0 },
	{ "", -EINVAL, 0 },                 { "clusters", -EINVAL, 0 },
	{ "singl", -EINVAL, 0 },            { "1", -EINVAL, 0 },
};

Test(config, mode_parse_table)
{
	for (size_t i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
		const struct parse_case *c = &parse_cases[i];
		enum lsn_mode m = (enum lsn_mode)99;
		int rc = lsn_mode_parse(c->text, &m);

		cr_assert_eq(rc, c->want_rc, "parse '%s': rc %d, want %d", c->text, rc, c->want_rc);
		if (rc == 0)
			cr_assert_eq(m, c->want, "parse '%s': mode %d", c->text, m);
		else
			cr_assert_eq(m, (enum lsn_mode)99, "parse '%s' failed but wrote *out", c->text);
	}
	cr_assert_eq(lsn_mode_parse(NULL, &(enum lsn_mode){ 0 }), -EINVAL, "NULL text");
}

Test(config, mode_names_round_trip)
{
	static const enum lsn_mode modes[] = { LSN_MODE_SINGLE, LSN_MODE_CLUSTER };

	cr_assert_str_eq(lsn_mode_name(LSN_MODE_SINGLE), "single");
	cr_assert_str_eq(lsn_mode_name(LSN_MODE_CLUSTER), "cluster");
	for (size_t i = 0; i < 2; i++) {
		enum lsn_mode m;

		cr_assert_eq(lsn_mode_parse(lsn_mode_name(modes[i]), &m), 0);
		cr_assert_eq(m, modes[i], "mode %d does not round-trip", modes[i]);
	}
}
