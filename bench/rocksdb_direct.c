/*
 * bench/rocksdb_direct.c - the "RocksDB direct" reference for `make bench`.
 *
 *   rocksdb_direct DBDIR INPUT
 *   rocksdb_direct DBDIR --records COUNT SIZE
 *
 * Reads INPUT and puts each line (its '\n' included) into a new RocksDB
 * database at DBDIR as one record: key = 8-byte big-endian record number
 * (from 1), value = the line.  One rocksdb_put per record, single thread,
 * default options (create_if_missing), WAL on, no sync.  The timed part is
 * reading INPUT and the puts (what `cat INPUT > LOG/append.lines` does); the
 * close after them is not.  With --records it puts COUNT generated records
 * of SIZE bytes instead (each different, like bench/writer.c's), the
 * reference for binary records.  Prints "RECORDS BYTES SECONDS".
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

#include <rocksdb/c.h>

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static rocksdb_t *db;
static rocksdb_writeoptions_t *wo;
static uint64_t records, bytes;

static void put(const char *p, size_t n)
{
	char key[8], *err = NULL;
	uint64_t k = ++records;

	for (int i = 7; i >= 0; i--, k >>= 8)
		key[i] = (char)(k & 0xff);
	rocksdb_put(db, wo, key, sizeof(key), p, n, &err);
	if (err) {
		fprintf(stderr, "rocksdb_direct: put: %s\n", err);
		exit(1);
	}
	bytes += n;
}

static void finish(rocksdb_options_t *o, double t0, double t1)
{
	rocksdb_close(db);
	rocksdb_writeoptions_destroy(wo);
	rocksdb_options_destroy(o);
	printf("%llu %llu %.6f\n", (unsigned long long)records, (unsigned long long)bytes, t1 - t0);
}

/* COUNT records of SIZE bytes: "r<n> " then letters, '\n'. */
static int put_generated(rocksdb_options_t *o, unsigned long long count, size_t size)
{
	char *rec;
	double t0, t1;

	if (size < 32 || size > (1u << 20)) {
		fprintf(stderr, "rocksdb_direct: SIZE must be 32..1048576\n");
		return 2;
	}
	rec = malloc(size);
	if (!rec)
		return 1;
	for (size_t i = 0; i < size; i++)
		rec[i] = (char)('a' + i % 26);
	rec[size - 1] = '\n';
	t0 = now_s();
	for (unsigned long long n = 0; n < count; n++) {
		char head[32];
		int h = snprintf(head, sizeof(head), "r%012llu ", n);

		memcpy(rec, head, (size_t)h);
		put(rec, size);
	}
	t1 = now_s();
	finish(o, t0, t1);
	free(rec);
	return 0;
}

int main(int argc, char **argv)
{
	enum { CHUNK = 1 << 20 };
	rocksdb_options_t *o;
	char *err = NULL, *buf;
	size_t fill = 0;
	double t0, t1;
	int fd;

	if (argc != 3 && !(argc == 5 && strcmp(argv[2], "--records") == 0)) {
		fprintf(stderr, "usage: rocksdb_direct DBDIR INPUT | DBDIR --records COUNT SIZE\n");
		return 2;
	}
	o = rocksdb_options_create();
	rocksdb_options_set_create_if_missing(o, 1);
	db = rocksdb_open(o, argv[1], &err);
	if (err) {
		fprintf(stderr, "rocksdb_direct: open %s: %s\n", argv[1], err);
		return 1;
	}
	wo = rocksdb_writeoptions_create();
	rocksdb_writeoptions_set_sync(wo, 0);
	rocksdb_writeoptions_disable_WAL(wo, 0);
	if (argc == 5)
		return put_generated(o, strtoull(argv[3], NULL, 10), strtoull(argv[4], NULL, 10));
	fd = open(argv[2], O_RDONLY);
	buf = malloc(2 * CHUNK);
	if (fd < 0 || !buf) {
		fprintf(stderr, "rocksdb_direct: %s: %s\n", argv[2], strerror(errno));
		return 1;
	}
	t0 = now_s();
	for (;;) {
		ssize_t r = read(fd, buf + fill, CHUNK);
		size_t start = 0;

		if (r < 0) {
			fprintf(stderr, "rocksdb_direct: read: %s\n", strerror(errno));
			return 1;
		}
		if (r == 0)
			break;
		fill += (size_t)r;
		for (;;) {
			char *nl = memchr(buf + start, '\n', fill - start);
			if (!nl)
				break;
			put(buf + start, (size_t)(nl - (buf + start)) + 1);
			start = (size_t)(nl - buf) + 1;
		}
		memmove(buf, buf + start, fill - start);
		fill -= start;
		if (fill > CHUNK) {
			fprintf(stderr, "rocksdb_direct: line longer than 1 MiB\n");
			return 1;
		}
	}
	if (fill)
		put(buf, fill);
	t1 = now_s();
	close(fd);
	finish(o, t0, t1);
	free(buf);
	return 0;
}
