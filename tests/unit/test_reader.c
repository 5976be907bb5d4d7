/*
 * Unit tests for the segment reader (storage/log_reader.c): every byte
 * read back in any order, read-ahead only for sequential readers and
 * bounded by read_ahead_blocks, each block decoded about once, and a
 * trim or log removal racing read-ahead returns -ENOENT, never bytes.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "storage/store.h"

#define FX_TMPDIR_TEMPLATE "/tmp/lsn-ut-reader-XXXXXX"
#include "tests/unit/fixture.h"

TestSuite(reader, .init = setup, .fini = teardown, .timeout = 120);

#define SEG_SIZE (4u << 20) /* 16 blocks of LSN_BLOCK_TARGET */

struct seg {
	uint64_t first_lsn;
	unsigned char *data;
	size_t len;
};

/* Text-like records (they compress as logs do), 40..400 bytes each. */
static size_t make_record(unsigned char *b)
{
	static const char words[][8] = { "GET ", "POST ", "/api/", "user=", "200 ", "404 ",
					 "ms ", "id=", "ok ", "retry " };
	size_t len = 40 + rnd_below(361), i = 0;

	while (i < len) {
		const char *w = words[rnd_below(10)];
		for (size_t j = 0; w[j] && i < len; j++)
			b[i++] = (unsigned char)w[j];
		if (i < len)
			b[i++] = (unsigned char)('0' + rnd_below(10));
	}
	b[len - 1] = '\n';
	return len;
}

/* Append until `n_segs` sealed segments exist; their bytes go to segs[]. */
static struct lsn_log *fill(struct seg *segs, size_t n_segs)
{
	struct lsn_log *log;
	unsigned char rec[512];
	uint64_t lsn = 0;

	fx_open(SEG_SIZE);
	log = fx_create("r");
	for (size_t s = 0; s < n_segs; s++) {
		segs[s].first_lsn = lsn + 1;
		segs[s].data = malloc(SEG_SIZE + sizeof(rec));
		segs[s].len = 0;
		cr_assert_not_null(segs[s].data);
		while (segs[s].len < SEG_SIZE - 1000) {
			size_t n = make_record(rec);
			struct iovec iov = { rec, n };

			cr_assert_eq(lsn_log_append(log, &iov, 1, &lsn), 0);
			memcpy(segs[s].data + segs[s].len, rec, n);
			segs[s].len += n;
		}
		cr_assert_eq(lsn_log_seal(log), 0);
	}
	for (size_t s = 0; s < n_segs; s++) {
		struct lsn_segment_info info;

		cr_assert_eq(lsn_log_segment(log, segs[s].first_lsn, &info), 0);
		cr_assert(info.sealed);
		cr_assert_eq(info.bytes, segs[s].len, "segment %zu: %llu bytes, wrote %zu", s,
			     (unsigned long long)info.bytes, segs[s].len);
	}
	return log;
}

static void free_segs(struct seg *segs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(segs[i].data);
}

static void set_ahead(unsigned n)
{
	char v[16], why[128] = "";

	snprintf(v, sizeof(v), "%u", n);
	cr_assert_eq(lsn_store_override(store, "read_ahead_blocks", v, why), 0, "%s", why);
}

/* Read [off, off+len) and compare with the segment's bytes. */
static void read_check(struct lsn_reader *r, const struct seg *s, uint64_t off, size_t len)
{
	unsigned char *buf = malloc(len ? len : 1);
	size_t got = 0, want = off >= s->len ? 0 : off + len > s->len ? s->len - off : len;
	char what[96];

	cr_assert_not_null(buf);
	cr_assert_eq(lsn_reader_read(r, off, buf, len, &got), 0, "read at %llu", (unsigned long long)off);
	cr_assert_eq(got, want, "read at %llu: got %zu, want %zu", (unsigned long long)off, got, want);
	snprintf(what, sizeof(what), "read of %zu at %llu", len, (unsigned long long)off);
	assert_bytes(buf, s->data + off, got, what);
	free(buf);
}

/* Wait until no read-ahead job is queued or running (they end on their own). */
static void quiesce(struct lsn_reader *r, struct lsn_reader_stats *st)
{
	for (int i = 0; i < 2000; i++) {
		lsn_reader_stats(r, st);
		if (st->ahead_busy == 0)
			return;
		nanosleep(&(struct timespec){ 0, 5000000 }, NULL);
	}
	cr_assert_fail("read-ahead jobs still busy after 10 s");
}

static size_t max_blocks(const struct seg *s)
{
	return s->len / LSN_BLOCK_TARGET + 1;
}

Test(reader, sequential_read_decodes_ahead_each_block_once)
{
	struct seg segs[1];
	struct lsn_log *log = fill(segs, 1);
	struct lsn_reader_stats st;
	struct lsn_reader *r;

	set_ahead(4);
	cr_assert_eq(lsn_reader_open(log, segs[0].first_lsn, &r), 0);
	for (uint64_t off = 0; off < segs[0].len + 4096; off += 128 * 1024)
		read_check(r, &segs[0], off, 128 * 1024);
	quiesce(r, &st);
	cr_expect_gt(st.decoded_ahead, max_blocks(&segs[0]) / 2,
		     "a sequential reader reads ahead: %llu of about %zu blocks",
		     (unsigned long long)st.decoded_ahead, max_blocks(&segs[0]));
	cr_expect_leq(st.decoded + st.decoded_ahead, max_blocks(&segs[0]) + 2,
		      "each block decoded about once: %llu + %llu for %zu blocks",
		      (unsigned long long)st.decoded, (unsigned long long)st.decoded_ahead,
		      max_blocks(&segs[0]));
	lsn_reader_free(r);
	free_segs(segs, 1);
}

Test(reader, read_ahead_zero_decodes_on_the_reading_thread_only)
{
	struct seg segs[1];
	struct lsn_log *log = fill(segs, 1);
	struct lsn_reader_stats st;
	struct lsn_reader *r;

	set_ahead(0);
	cr_assert_eq(lsn_reader_open(log, segs[0].first_lsn, &r), 0);
	for (uint64_t off = 0; off < segs[0].len; off += 100000)
		read_check(r, &segs[0], off, 100000);
	lsn_reader_stats(r, &st);
	cr_expect_eq(st.decoded_ahead, 0);
	cr_expect_eq(st.ahead_busy, 0);
	cr_expect_leq(st.decoded, max_blocks(&segs[0]), "%llu decodes for %zu blocks",
		      (unsigned long long)st.decoded, max_blocks(&segs[0]));
	lsn_reader_free(r);
	free_segs(segs, 1);
}

Test(reader, read_ahead_stops_after_read_ahead_blocks)
{
	struct seg segs[1];
	struct lsn_log *log = fill(segs, 1);
	struct lsn_reader_stats st;
	struct lsn_reader *r;

	set_ahead(3);
	cr_assert_eq(lsn_reader_open(log, segs[0].first_lsn, &r), 0);
	read_check(r, &segs[0], 0, 65536);
	read_check(r, &segs[0], 65536, 65536); /* sequential: reads ahead */
	quiesce(r, &st);
	cr_expect_gt(st.decoded_ahead, 0, "two sequential reads start read-ahead");
	cr_expect_leq(st.decoded_ahead, 3, "read-ahead went %llu blocks ahead, at most 3",
		      (unsigned long long)st.decoded_ahead);
	/* The reader moves on: read-ahead follows, still bounded. */
	read_check(r, &segs[0], 131072, 400000);
	quiesce(r, &st);
	cr_expect_leq(st.decoded + st.decoded_ahead, (531072 / LSN_BLOCK_TARGET + 1) + 3 + 1,
		      "%llu + %llu decodes after 531072 bytes", (unsigned long long)st.decoded,
		      (unsigned long long)st.decoded_ahead);
	lsn_reader_free(r);
	free_segs(segs, 1);
}

Test(reader, a_large_first_read_at_zero_reads_ahead_a_small_one_does_not)
{
	struct seg segs[1];
	struct lsn_log *log = fill(segs, 1);
	struct lsn_reader_stats st;
	struct lsn_reader *r;

	set_ahead(4);
	cr_assert_eq(lsn_reader_open(log, segs[0].first_lsn, &r), 0);
	read_check(r, &segs[0], 0, 4096);
	quiesce(r, &st);
	cr_expect_eq(st.decoded_ahead + st.ahead_failed, 0, "a 4 KiB read at 0 read ahead");
	lsn_reader_free(r);

	cr_assert_eq(lsn_reader_open(log, segs[0].first_lsn, &r), 0);
	read_check(r, &segs[0], 0, 262144); /* cat's first request */
	quiesce(r, &st);
	cr_expect_gt(st.decoded_ahead, 0, "a 256 KiB read at 0 starts read-ahead");
	cr_expect_leq(st.decoded_ahead, 4);
	lsn_reader_free(r);
	free_segs(segs, 1);
}

Test(reader, random_reads_do_not_read_ahead)
{
	struct seg segs[1];
	struct lsn_log *log = fill(segs, 1);
	struct lsn_reader_stats st;
	struct lsn_reader *r;

	set_ahead(8);
	cr_assert_eq(lsn_reader_open(log, segs[0].first_lsn, &r), 0);
	for (int i = 0; i < 300; i++)
		read_check(r, &segs[0], rnd_below(segs[0].len), 4096);
	quiesce(r, &st);
	/* A random read lands right after the previous one now and then; a
	 * storm would be read-ahead after most of the 300 reads. */
	cr_expect_leq(st.decoded_ahead, 8, "%llu blocks read ahead for random reads",
		      (unsigned long long)st.decoded_ahead);
	cr_expect_eq(st.reads, 300);
	lsn_reader_free(r);
	free_segs(segs, 1);
}

struct racer {
	struct lsn_reader *r;
	const struct seg *s;
	uint64_t start, step, stride;
	pthread_barrier_t *step_done;
};

/* Reads [start, start+step), [start+stride, ...) to the end; the two
 * racers read neighbouring pieces at the same time, as the kernel's two
 * read-ahead requests in flight do. */
static void *race_reads(void *arg)
{
	struct racer *x = arg;

	for (uint64_t off = x->start; off < x->s->len + x->stride; off += x->stride) {
		if (off < x->s->len)
			read_check(x->r, x->s, off, x->step);
		pthread_barrier_wait(x->step_done);
	}
	return NULL;
}

Test(reader, concurrent_requests_share_blocks)
{
	struct seg segs[1];
	struct lsn_log *log = fill(segs, 1);
	struct lsn_reader_stats st;
	struct lsn_reader *r;
	pthread_barrier_t step_done;
	struct racer a, b;
	pthread_t ta, tb;

	set_ahead(4);
	cr_assert_eq(pthread_barrier_init(&step_done, NULL, 2), 0);
	cr_assert_eq(lsn_reader_open(log, segs[0].first_lsn, &r), 0);
	a = (struct racer){ r, &segs[0], 0, 131072, 262144, &step_done };
	b = (struct racer){ r, &segs[0], 131072, 131072, 262144, &step_done };
	cr_assert_eq(pthread_create(&ta, NULL, race_reads, &a), 0);
	cr_assert_eq(pthread_create(&tb, NULL, race_reads, &b), 0);
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	quiesce(r, &st);
	/* Each block once, give or take the blocks both decode at the start. */
	cr_expect_leq(st.decoded + st.decoded_ahead, max_blocks(&segs[0]) + 3,
		      "%llu + %llu decodes for %zu blocks", (unsigned long long)st.decoded,
		      (unsigned long long)st.decoded_ahead, max_blocks(&segs[0]));
	lsn_reader_free(r);
	pthread_barrier_destroy(&step_done);
	free_segs(segs, 1);
}

/* Reads that follow a trim (or removal) of the segment fail with -ENOENT
 * and return nothing, whatever was decoded ahead. */
static void expect_gone(struct lsn_reader *r, uint64_t off)
{
	unsigned char buf[65536];
	size_t got = 12345;

	memset(buf, 0xa5, sizeof(buf));
	cr_expect_eq(lsn_reader_read(r, off, buf, sizeof(buf), &got), -ENOENT,
		     "read at %llu after the segment went", (unsigned long long)off);
	cr_expect_eq(got, 0);
	for (size_t i = 0; i < sizeof(buf); i++)
		if (buf[i] != 0xa5)
			cr_assert_fail("a failed read wrote byte %zu", i);
}

Test(reader, trim_racing_read_ahead_returns_enoent)
{
	enum { N = 5 };
	struct seg segs[N];
	struct lsn_log *log = fill(segs, N);
	struct lsn_reader_stats st;
	uint64_t ahead_total = 0;

	set_ahead(8);
	for (size_t i = 0; i + 1 < N; i++) {
		struct lsn_reader *r;
		size_t removed = 0;

		cr_assert_eq(lsn_reader_open(log, segs[i].first_lsn, &r), 0);
		/* Sequential reads start read-ahead; the trim comes while its
		 * jobs are queued or running (not waited for). */
		read_check(r, &segs[i], 0, 131072);
		read_check(r, &segs[i], 131072, 131072);
		read_check(r, &segs[i], 262144, 131072);
		cr_assert_eq(fx_trim_n(log, 1, &removed), 0);
		cr_assert_eq(removed, 1);
		expect_gone(r, 393216);
		expect_gone(r, 0); /* decoded before the trim: still not served */
		expect_gone(r, segs[i].len / 2);
		quiesce(r, &st);
		ahead_total += st.decoded_ahead + st.ahead_failed;
		expect_gone(r, 131072);
		lsn_reader_free(r);
	}
	cr_expect_gt(ahead_total, 0, "read-ahead ran in these reads");
	free_segs(segs, N);
}

Test(reader, log_removal_racing_read_ahead_returns_enoent)
{
	struct seg segs[2];
	struct lsn_log *log = fill(segs, 2);
	struct lsn_reader_stats st;
	struct lsn_reader *r;

	set_ahead(8);
	cr_assert_eq(lsn_reader_open(log, segs[1].first_lsn, &r), 0);
	read_check(r, &segs[1], 0, 131072);
	read_check(r, &segs[1], 131072, 131072);
	cr_assert_eq(lsn_store_purge_log(store, "r"), 0);
	expect_gone(r, 262144);
	expect_gone(r, 0);
	quiesce(r, &st);
	expect_gone(r, 131072);
	lsn_reader_free(r);
	free_segs(segs, 2);
}

Test(reader, active_segment_reads_through_the_open_block)
{
	struct lsn_log *log;
	struct lsn_reader *r;
	struct seg s = { .first_lsn = 1 };
	unsigned char rec[512];
	uint64_t lsn;

	fx_open(64u << 20);
	set_ahead(4);
	log = fx_create("a");
	s.data = malloc(3u << 20);
	cr_assert_not_null(s.data);
	cr_assert_eq(lsn_reader_open(log, 1, &r), 0);
	/* Reads while appends go on: compressed blocks, blocks waiting for
	 * a compressor and the open block, each read sequentially. */
	for (int round = 0; round < 6; round++) {
		size_t target = (size_t)(round + 1) * (450u << 10);

		while (s.len < target) {
			size_t n = make_record(rec);
			struct iovec iov = { rec, n };

			cr_assert_eq(lsn_log_append(log, &iov, 1, &lsn), 0);
			memcpy(s.data + s.len, rec, n);
			s.len += n;
		}
		for (uint64_t off = 0; off < s.len; off += 200000)
			read_check(r, &s, off, 200000);
	}
	lsn_reader_free(r);
	free(s.data);
}
