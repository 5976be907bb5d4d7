/*
 * bench/writer.c - N write(2)s of SIZE bytes each to PATH, one process.
 *
 *   writer PATH COUNT SIZE [ID]
 *
 * Opens PATH O_WRONLY (no O_TRUNC, no O_CREAT), writes COUNT records of
 * SIZE bytes (printable text ending in '\n', each different: it carries the
 * writer ID and the record number), closes, and prints
 *   "START_NS END_NS COUNT"
 * with CLOCK_MONOTONIC times taken just before the first write and just
 * after close, so several writers can be combined into one rate.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
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

int main(int argc, char **argv)
{
	unsigned long long count, t0, t1;
	size_t size;
	unsigned id = 0;
	char *buf;
	int fd;

	if (argc < 4 || argc > 5) {
		fprintf(stderr, "usage: writer PATH COUNT SIZE [ID]\n");
		return 2;
	}
	count = strtoull(argv[2], NULL, 10);
	size = strtoull(argv[3], NULL, 10);
	if (argc > 4)
		id = (unsigned)strtoul(argv[4], NULL, 10);
	if (size < 32 || size > (1u << 20)) {
		fprintf(stderr, "writer: SIZE must be 32..1048576\n");
		return 2;
	}
	buf = malloc(size);
	if (!buf)
		return 1;
	for (size_t i = 0; i < size; i++)
		buf[i] = (char)('a' + i % 26);
	buf[size - 1] = '\n';
	fd = open(argv[1], O_WRONLY);
	if (fd < 0) {
		fprintf(stderr, "writer: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	t0 = now_ns();
	for (unsigned long long n = 0; n < count; n++) {
		ssize_t w;

		/* "w<id> r<n> " at the front: every record differs. */
		int h = snprintf(buf, 32, "w%u r%012llu ", id, n);
		buf[h] = 'x';
		w = write(fd, buf, size);
		if (w != (ssize_t)size) {
			fprintf(stderr, "writer: write %llu to %s: %s\n", n, argv[1],
				w < 0 ? strerror(errno) : "short write");
			return 1;
		}
	}
	if (close(fd) != 0) {
		fprintf(stderr, "writer: close %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	t1 = now_ns();
	printf("%llu %llu %llu\n", t0, t1, count);
	return 0;
}
