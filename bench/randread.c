/*
 * bench/randread.c - COUNT preads of BLOCK bytes at random offsets.
 *
 *   randread SEED COUNT BLOCK FILE...
 *
 * The FILEs are taken as one concatenation (e.g. a log's sealed segments,
 * or the one plain file they came from); each read picks a uniform random
 * byte offset in it and reads BLOCK bytes from the file holding that offset
 * (moved back so it does not cross the end of that file).  The same SEED
 * gives the same offsets.  Prints
 *   "COUNT SECONDS READS_PER_S P50_US P99_US MAX_US"
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static uint64_t rs;

static uint64_t rnd(void)
{
	rs ^= rs >> 12;
	rs ^= rs << 25;
	rs ^= rs >> 27;
	return rs * 2685821657736338717ull;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	unsigned long count;
	size_t block;
	int nf = argc - 4;
	int *fds;
	uint64_t *ends, total = 0;
	double *lat, t0, t1;
	char *buf;

	if (argc < 5) {
		fprintf(stderr, "usage: randread SEED COUNT BLOCK FILE...\n");
		return 2;
	}
	rs = strtoull(argv[1], NULL, 10) * 0x9e3779b97f4a7c15ull + 1;
	count = strtoul(argv[2], NULL, 10);
	block = strtoul(argv[3], NULL, 10);
	fds = calloc((size_t)nf, sizeof(*fds));
	ends = calloc((size_t)nf, sizeof(*ends));
	lat = calloc(count ? count : 1, sizeof(*lat));
	buf = malloc(block);
	if (!fds || !ends || !lat || !buf || block == 0)
		return 1;
	for (int i = 0; i < nf; i++) {
		struct stat st;

		fds[i] = open(argv[4 + i], O_RDONLY);
		if (fds[i] < 0 || fstat(fds[i], &st) != 0) {
			fprintf(stderr, "randread: %s: %s\n", argv[4 + i], strerror(errno));
			return 1;
		}
		total += (uint64_t)st.st_size;
		ends[i] = total;
	}
	if (total < block) {
		fprintf(stderr, "randread: the files hold fewer than %zu bytes\n", block);
		return 1;
	}
	for (int i = 0; i < 10; i++)
		rnd();
	t0 = now_s();
	for (unsigned long n = 0; n < count; n++) {
		uint64_t g = rnd() % (total - block + 1), start, size;
		int lo = 0, hi = nf - 1;
		double a, b;
		ssize_t r;
		off_t off;

		while (lo < hi) { /* first file whose end is > g */
			int mid = (lo + hi) / 2;
			if (ends[mid] > g)
				hi = mid;
			else
				lo = mid + 1;
		}
		start = lo ? ends[lo - 1] : 0;
		size = ends[lo] - start;
		off = (off_t)(g - start);
		if ((uint64_t)off + block > size)
			off = size > block ? (off_t)(size - block) : 0;
		a = now_s();
		r = pread(fds[lo], buf, block, off);
		b = now_s();
		if (r < 0) {
			fprintf(stderr, "randread: pread %s at %lld: %s\n", argv[4 + lo], (long long)off,
				strerror(errno));
			return 1;
		}
		lat[n] = (b - a) * 1e6;
	}
	t1 = now_s();
	qsort(lat, count, sizeof(*lat), cmp_double);
	printf("%lu %.6f %.1f %.1f %.1f %.1f\n", count, t1 - t0, (double)count / (t1 - t0),
	       lat[count / 2], lat[(count * 99) / 100], lat[count ? count - 1 : 0]);
	return 0;
}
