/*
 * bench/zlimit.c - the compression limit for `make bench`: how fast zstd
 * alone compresses and decompresses the bench's input, cut in blocks the
 * size lsnfs compresses, at lsnfs' level, on T threads.
 *
 *   zlimit LEVEL BLOCK THREADS FILE [MAX_BYTES [PASSES]]
 *
 * Reads the first MAX_BYTES (default all) of FILE into memory, cuts it into
 * BLOCK-byte blocks, and compresses every block once with ZSTD_compressCCtx
 * at LEVEL, the blocks shared among THREADS threads (block i goes to thread
 * i % THREADS, each with its own context), then decompresses them all the
 * same way and checks the result; PASSES times (default 3), keeping the
 * fastest pass of each, as `zstd -b` does (the machine is shared: the
 * fastest pass is the one least disturbed).  No I/O is timed.  Prints
 *   "IN_BYTES OUT_BYTES COMPRESS_SECONDS DECOMPRESS_SECONDS"
 * so IN_BYTES / COMPRESS_SECONDS is the most any store compressing such
 * blocks on THREADS cores could ingest, and OUT_BYTES / IN_BYTES the ratio.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <zstd.h>

struct job {
	const unsigned char *in;
	size_t in_len, block, nblocks;
	unsigned char **out;  /* per block, ZSTD_compressBound(block) bytes */
	size_t *out_len;      /* per block */
	unsigned char *check; /* decompression target, in_len bytes */
	int level;
	unsigned thread, threads;
	int failed;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t block_len(const struct job *j, size_t i)
{
	size_t off = i * j->block;

	return j->in_len - off < j->block ? j->in_len - off : j->block;
}

static void *compress_part(void *arg)
{
	struct job *j = arg;
	ZSTD_CCtx *c = ZSTD_createCCtx();

	if (!c) {
		j->failed = 1;
		return NULL;
	}
	for (size_t i = j->thread; i < j->nblocks; i += j->threads) {
		size_t r = ZSTD_compressCCtx(c, j->out[i], ZSTD_compressBound(j->block),
					     j->in + i * j->block, block_len(j, i), j->level);
		if (ZSTD_isError(r)) {
			j->failed = 1;
			break;
		}
		j->out_len[i] = r;
	}
	ZSTD_freeCCtx(c);
	return NULL;
}

static void *decompress_part(void *arg)
{
	struct job *j = arg;
	ZSTD_DCtx *d = ZSTD_createDCtx();

	if (!d) {
		j->failed = 1;
		return NULL;
	}
	for (size_t i = j->thread; i < j->nblocks; i += j->threads) {
		size_t r = ZSTD_decompressDCtx(d, j->check + i * j->block, block_len(j, i), j->out[i],
					       j->out_len[i]);
		if (ZSTD_isError(r) || r != block_len(j, i)) {
			j->failed = 1;
			break;
		}
	}
	ZSTD_freeDCtx(d);
	return NULL;
}

/* Run fn on `threads` threads over copies of *proto; seconds, or -1. */
static double run(void *(*fn)(void *), const struct job *proto, unsigned threads)
{
	struct job *jobs = calloc(threads, sizeof(*jobs));
	pthread_t *tid = calloc(threads, sizeof(*tid));
	double t0, t1;
	int failed = 0;

	if (!jobs || !tid)
		return -1;
	t0 = now_s();
	for (unsigned t = 0; t < threads; t++) {
		jobs[t] = *proto;
		jobs[t].thread = t;
		if (pthread_create(&tid[t], NULL, fn, &jobs[t]) != 0)
			return -1;
	}
	for (unsigned t = 0; t < threads; t++) {
		pthread_join(tid[t], NULL);
		failed |= jobs[t].failed;
	}
	t1 = now_s();
	free(jobs);
	free(tid);
	return failed ? -1 : t1 - t0;
}

int main(int argc, char **argv)
{
	struct job j = { 0 };
	unsigned long long max = ~0ull;
	size_t cap = 1 << 20, total = 0;
	unsigned char *in;
	double tc = -1, td = -1;
	int passes = 3;
	FILE *f;

	if (argc < 5 || argc > 7) {
		fprintf(stderr, "usage: zlimit LEVEL BLOCK THREADS FILE [MAX_BYTES [PASSES]]\n");
		return 2;
	}
	j.level = atoi(argv[1]);
	j.block = strtoull(argv[2], NULL, 10);
	j.threads = (unsigned)strtoul(argv[3], NULL, 10);
	if (argc > 5)
		max = strtoull(argv[5], NULL, 10);
	if (argc > 6)
		passes = atoi(argv[6]);
	if (j.block < 1024 || j.threads < 1 || j.threads > 256 || passes < 1) {
		fprintf(stderr, "zlimit: BLOCK >= 1024, 1 <= THREADS <= 256, PASSES >= 1\n");
		return 2;
	}
	f = fopen(argv[4], "rb");
	in = malloc(cap);
	if (!f || !in) {
		fprintf(stderr, "zlimit: %s: %s\n", argv[4], strerror(errno));
		return 1;
	}
	for (;;) {
		size_t want = cap - total, r;

		if (max - total < want)
			want = (size_t)(max - total);
		if (want == 0) {
			if (total >= max)
				break;
			cap *= 2;
			in = realloc(in, cap);
			if (!in)
				return 1;
			continue;
		}
		r = fread(in + total, 1, want, f);
		total += r;
		if (r < want)
			break;
	}
	fclose(f);
	if (total == 0) {
		fprintf(stderr, "zlimit: %s is empty\n", argv[4]);
		return 1;
	}
	j.in = in;
	j.in_len = total;
	j.nblocks = (total + j.block - 1) / j.block;
	j.out = calloc(j.nblocks, sizeof(*j.out));
	j.out_len = calloc(j.nblocks, sizeof(*j.out_len));
	j.check = malloc(total);
	if (!j.out || !j.out_len || !j.check)
		return 1;
	for (size_t i = 0; i < j.nblocks; i++) {
		j.out[i] = malloc(ZSTD_compressBound(j.block));
		if (!j.out[i])
			return 1;
		/* touch the pages so the timed part does not fault them in */
		memset(j.out[i], 0, ZSTD_compressBound(j.block));
	}
	memset(j.check, 0, total);
	for (int p = 0; p < passes; p++) {
		double c = run(compress_part, &j, j.threads);
		double d = c < 0 ? -1 : run(decompress_part, &j, j.threads);

		if (c < 0 || d < 0 || memcmp(j.check, in, total) != 0) {
			fprintf(stderr, "zlimit: compression or decompression failed\n");
			return 1;
		}
		if (tc < 0 || c < tc)
			tc = c;
		if (td < 0 || d < td)
			td = d;
		memset(j.check, 0, total);
	}
	size_t out_total = 0;
	for (size_t i = 0; i < j.nblocks; i++) {
		out_total += j.out_len[i];
		free(j.out[i]);
	}
	printf("%zu %zu %.6f %.6f\n", total, out_total, tc, td);
	free(j.out);
	free(j.out_len);
	free(j.check);
	free(in);
	return 0;
}
