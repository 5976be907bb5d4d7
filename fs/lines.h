/*
 * fs/lines.h - append.lines: splitting written bytes into line records.
 *
 * Each '\n'-terminated line, its '\n' included, is one record.  An
 * incomplete last line is held (per open file) until more bytes complete
 * it or the file is closed.  A line longer than `max` bytes is refused
 * whole (-EFBIG): nothing of it is appended, and what is still written of
 * it until its '\n' is dropped too.  All complete lines of one write go to
 * the caller's append function in one call (one atomic batch).
 *
 * Pure: no I/O, no locks; the caller serialises use of one struct.
 */
#ifndef LSN_FS_LINES_H
#define LSN_FS_LINES_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/uio.h>

struct lsn_lines {
	char *partial;          /* the held incomplete line */
	size_t partial_len, partial_cap;
	bool discarding;        /* inside a line refused as too long */
};

/* Appends n records atomically; 0 or a negative errno. */
typedef int (*lsn_lines_append_fn)(void *ctx, const struct iovec *records, size_t n);

/* Feed one write.  0 when all of it was taken (appended or held). */
int lsn_lines_write(struct lsn_lines *l, const char *buf, size_t size, size_t max,
		    lsn_lines_append_fn append, void *ctx);
/* Hand over the held partial line as a record of its own (at close). */
int lsn_lines_flush(struct lsn_lines *l, lsn_lines_append_fn append, void *ctx);
void lsn_lines_release(struct lsn_lines *l);

#endif
