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
 * Requests the kernel cut out of a larger write
 * ---------------------------------------------
 * FUSE hands a write(2) larger than its maximum request (max_write) to the
 * daemon as several requests, one after the other, and nothing in a request
 * says it is a piece.  append.frames refuses such writes whole (-EFBIG)
 * with two rules that need no state between requests:
 *   - a request of max_request bytes or more is refused: a write of that
 *     size may be the first piece of a larger one (so the largest write
 *     taken is max_request - 1 bytes);
 *   - a request whose last frame runs past its end and that is longer than
 *     max_request - LSN_FRAMES_PAGE bytes is refused with -EFBIG, not
 *     -EINVAL: it is the first piece of a larger write whose buffer did not
 *     start on a page boundary (the kernel pins at most max_request / page
 *     pages per request, so the first piece is a little shorter).
 * Since the first piece is refused, the kernel sends no further piece and
 * the write fails with nothing appended.  What the rules cannot see (a
 * writev(2) of many small vectors on distinct pages, split where a frame
 * happens to end) is documented in SPEC as a limit.
 *
 * Pure: no I/O, no locks, no state.
 */
#ifndef LSN_FS_FRAMES_H
#define LSN_FS_FRAMES_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#define LSN_FRAMES_HEADER 4u
#define LSN_FRAMES_PAGE 4096u

enum lsn_frames_fault {
	LSN_FRAMES_OK,
	LSN_FRAMES_TRUNCATED,     /* -EINVAL: the write ends inside a frame */
	LSN_FRAMES_RECORD_TOO_BIG, /* -EFBIG: a frame's length exceeds the record limit */
	LSN_FRAMES_WRITE_TOO_BIG, /* -EFBIG: the write is (a piece of) one above max_request */
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
 * max_request: the largest request FUSE sends (its max_write).
 */
int lsn_frames_parse(const char *buf, size_t size, size_t max_record, size_t max_request,
		     struct iovec **records, size_t *n, struct lsn_frames_error *err);

/* "frame 3 at byte 1028 declares 2000000 bytes, more than ..." into buf. */
void lsn_frames_describe(const struct lsn_frames_error *err, size_t size, size_t max_record,
			 size_t max_request, char *buf, size_t len);

#endif
