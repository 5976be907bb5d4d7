/*
 * bench/writer.c - COUNT records of SIZE bytes written to PATH, one process.
 *
 *   writer [-c] [-s] [-l] [-f N] PATH COUNT SIZE [ID]
 *
 * Opens PATH O_WRONLY (no O_TRUNC, no O_CREAT unless -c), writes COUNT
 * records of SIZE bytes (printable text ending in '\n', each different: it
 * carries the writer ID and the record number), closes, and prints
 *   "START_NS END_NS COUNT"
 * with CLOCK_MONOTONIC times taken just before the first write and just
 * after close, so several writers can be combined into one rate.
 *
 *   -c    create/truncate PATH (O_CREAT|O_TRUNC, 0644): a plain-file reference
 *   -s    fdatasync(2) after every write(2) (the plain-file reference of
 *         lsnfs' sync=always)
 *   -l    time every write(2) (with its fdatasync under -s) and append
 *         " P50_NS P99_NS MAX_NS" to the output line
 *   -f N  frames: each write(2) carries N records (the last one fewer when
 *         COUNT is not a multiple of N), each a 4-byte big-endian length
 *         followed by SIZE bytes (LOG/append.frames); COUNT counts records
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
#include <time.h>
#include <unistd.h>

static unsigned long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000000000ull + (unsigned long long)ts.tv_nsec;
}

static int cmp_ull(const void *a, const void *b)
{
	unsigned long long x = *(const unsigned long long *)a, y = *(const unsigned long long *)b;

	return (x > y) - (x < y);
}

/* Nearest-rank percentile of a sorted array of n > 0 values. */
static unsigned long long percentile(const unsigned long long *v, size_t n, unsigned pct)
{
	size_t rank = (n * pct + 99) / 100;

	return v[rank ? rank - 1 : 0];
}

static void usage(void)
{
	fprintf(stderr, "usage: writer [-c] [-s] [-l] [-f N] PATH COUNT SIZE [ID]\n");
	exit(2);
}

/* Fill one record of `size` bytes at p: "w<id> r<n> " then letters, '\n'. */
static void fill_record(char *p, size_t size, unsigned id, unsigned long long n)
{
	char head[40];
	int h = snprintf(head, sizeof(head), "w%u r%012llu ", id, n);

	memcpy(p, head, (size_t)h < size - 1 ? (size_t)h : size - 1);
}

int main(int argc, char **argv)
{
	unsigned long long count, t0, t1, *lat = NULL, nlat = 0;
	size_t size, frames = 0, rec_len, buf_len;
	int create = 0, dsync = 0, timed = 0, opt, fd, flags = O_WRONLY;
	unsigned id = 0;
	char *buf, *end;

	while ((opt = getopt(argc, argv, "cslf:")) != -1) {
		switch (opt) {
		case 'c':
			create = 1;
			break;
		case 's':
			dsync = 1;
			break;
		case 'l':
			timed = 1;
			break;
		case 'f':
			frames = strtoul(optarg, &end, 10);
			if (*end || frames < 1 || frames > 4096)
				usage();
			break;
		default:
			usage();
		}
	}
	if (argc - optind < 3 || argc - optind > 4)
		usage();
	count = strtoull(argv[optind + 1], NULL, 10);
	size = strtoull(argv[optind + 2], NULL, 10);
	if (argc - optind > 3)
		id = (unsigned)strtoul(argv[optind + 3], NULL, 10);
	if (size < 32 || size > (1u << 20)) {
		fprintf(stderr, "writer: SIZE must be 32..1048576\n");
		return 2;
	}
	rec_len = frames ? 4 + size : size;
	buf_len = rec_len * (frames ? frames : 1);
	buf = malloc(buf_len);
	if (!buf)
		return 1;
	for (size_t r = 0; r < (frames ? frames : 1); r++) {
		char *p = buf + r * rec_len;

		if (frames) {
			p[0] = (char)((size >> 24) & 0xff);
			p[1] = (char)((size >> 16) & 0xff);
			p[2] = (char)((size >> 8) & 0xff);
			p[3] = (char)(size & 0xff);
			p += 4;
		}
		for (size_t i = 0; i < size; i++)
			p[i] = (char)('a' + i % 26);
		p[size - 1] = '\n';
	}
	if (timed) {
		lat = malloc(sizeof(*lat) * (count ? count : 1));
		if (!lat)
			return 1;
	}
	if (create)
		flags |= O_CREAT | O_TRUNC;
	fd = open(argv[optind], flags, 0644);
	if (fd < 0) {
		fprintf(stderr, "writer: %s: %s\n", argv[optind], strerror(errno));
		return 1;
	}
	t0 = now_ns();
	for (unsigned long long n = 0; n < count;) {
		size_t k = frames ? frames : 1, len;
		unsigned long long w0 = 0;
		ssize_t w;

		if (k > count - n)
			k = (size_t)(count - n);
		for (size_t r = 0; r < k; r++)
			fill_record(buf + r * rec_len + (frames ? 4 : 0), size, id, n + r);
		len = k * rec_len;
		if (timed)
			w0 = now_ns();
		w = write(fd, buf, len);
		if (w != (ssize_t)len) {
			fprintf(stderr, "writer: write of record %llu to %s: %s\n", n, argv[optind],
				w < 0 ? strerror(errno) : "short write");
			return 1;
		}
		if (dsync && fdatasync(fd) != 0) {
			fprintf(stderr, "writer: fdatasync %s: %s\n", argv[optind], strerror(errno));
			return 1;
		}
		if (timed)
			lat[nlat++] = now_ns() - w0;
		n += k;
	}
	if (close(fd) != 0) {
		fprintf(stderr, "writer: close %s: %s\n", argv[optind], strerror(errno));
		return 1;
	}
	t1 = now_ns();
	printf("%llu %llu %llu", t0, t1, count);
	if (timed && nlat) {
		qsort(lat, (size_t)nlat, sizeof(*lat), cmp_ull);
		printf(" %llu %llu %llu", percentile(lat, (size_t)nlat, 50),
		       percentile(lat, (size_t)nlat, 99), lat[nlat - 1]);
	}
	printf("\n");
	free(lat);
	free(buf);
	return 0;
}
