/*
 * fs/frames.h - append.frames: splitting one write into length-prefixed
 * binary records.
 *
 * A write is one or more frames, each a 4-byte big-endian length followed
 * by that many bytes; each frame's bytes are one record.  A write is taken
 * whole or not at all: the parser checks every frame before the caller
 * appends anything, and the records of one write go to the store in one
 * call (consecutive LSNs, one atomic batch).
 *
 * Writes the kernel would cut into several requests
 * ---------------------------------------------------
 * FUSE hands a write(2) larger than one request to the daemon as several
 * requests, one after the other, and nothing in a request says it is a
 * piece; parsed alone, pieces that happen to end on a frame boundary would
 * each be appended, breaking all-or-nothing.  A request is at most
 * max_write (1 MiB) bytes but also at most max_write / page pages of the
 * caller's buffer, so a buffer that does not start on a page boundary gets
 * a first piece up to a page short: 1 MiB - 4095 = 1,044,481 bytes at
 * worst.  So the largest write taken is max_write - page = 1,044,480 bytes
 * (the same limit as one `append` write): every write up to that arrives
 * whole at any alignment, and every larger write arrives as a first
 * request above it (whole or a piece), which is refused with -EFBIG; the
 * kernel then sends nothing more and the write fails, nothing appended.
 * One frame's record is thus at most 1,044,476 bytes (the frame's length
 * field is 4).  What this cannot see: a writev(2) of many vectors on
 * distinct pages, which the kernel may cut below that size (SPEC says to
 * use one buffer per write).
 *
 * Pure: no I/O, no locks, no state.
 */
#ifndef LSN_FS_FRAMES_H
#define LSN_FS_FRAMES_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#define LSN_FRAMES_HEADER 4u

enum lsn_frames_fault {
	LSN_FRAMES_OK,
	LSN_FRAMES_TRUNCATED,     /* -EINVAL: the write ends inside a frame */
	LSN_FRAMES_RECORD_TOO_BIG, /* -EFBIG: a frame's length exceeds the record limit */
	LSN_FRAMES_WRITE_TOO_BIG, /* -EFBIG: the write is larger than max_write */
};

/* What was wrong, for the log line. */
struct lsn_frames_error {
	enum lsn_frames_fault fault;
	size_t frame;       /* 0-based index of the offending frame (the log line counts from 1) */
	size_t offset;      /* byte offset of its header in the write */
	uint64_t length;    /* its declared length (0 when the header itself is cut) */
};

/*
 * Parse one write of `size` bytes.  0 with *records (malloc'd, free() it;
 * the iovecs point into buf) and *n (0 for an empty write), or -EINVAL /
 * -EFBIG with *err filled, or -ENOMEM.  max_record: the largest record;
 * max_write: the largest write (see above).
 */
int lsn_frames_parse(const char *buf, size_t size, size_t max_record, size_t max_write,
		     struct iovec **records, size_t *n, struct lsn_frames_error *err);

/* "frame 3 at byte 1028 declares 2000000 bytes, more than ..." into buf. */
void lsn_frames_describe(const struct lsn_frames_error *err, size_t size, size_t max_record,
			 size_t max_write, char *buf, size_t len);

#endif
