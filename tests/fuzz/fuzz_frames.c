/*
 * Fuzz target: append.frames writes (fs/frames.c, pure, compiled in as is).
 * Input: one control byte, one limit byte, then the write.  The control
 * byte picks the record and write limits (the daemon's, tight ones from the
 * limit byte, the write's own size and one less), so refusals of both kinds
 * and writes that fit exactly are reached.
 *
 * Checked against a walk of the write done here, frame by frame:
 *  - taken: the records are the frames in order, each pointing just past
 *    its header with the header's length, each <= max_record, and headers
 *    plus records cover the write exactly (nothing left, nothing read past);
 *  - refused: -EINVAL (cut frame) or -EFBIG (record or write too big), no
 *    output at all (all or nothing), and the error names the FIRST bad
 *    frame: its index and offset are where the walk of the good frames
 *    before it ends, its declared length is the header's;
 *  - the message names that frame (counting from 1) and is terminated, even
 *    in a small buffer.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs/frames.h"
#include "storage/config.h"

/* fs/fs.h's LSN_FRAMES_WRITE_MAX (fs.h itself includes FUSE). */
#define WRITE_MAX (1024u * 1024u - 4096u)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Walks the first `frames` frames, which must all be whole and <= max_record;
 * returns the offset where the next one starts. */
static size_t walk(const uint8_t *buf, size_t size, size_t frames, size_t max_record)
{
	size_t pos = 0;

	for (size_t i = 0; i < frames; i++) {
		uint32_t len;

		if (size - pos < LSN_FRAMES_HEADER)
			abort(); /* a frame before the named one was cut */
		len = be32(buf + pos);
		if (len > max_record || size - pos - LSN_FRAMES_HEADER < len)
			abort(); /* a frame before the named one was bad */
		pos += LSN_FRAMES_HEADER + len;
	}
	return pos;
}

static void check_taken(const uint8_t *buf, size_t size, size_t max_record, size_t max_write,
			const struct iovec *rec, size_t n, const struct lsn_frames_error *err)
{
	size_t pos = 0;

	if (size > max_write || err->fault != LSN_FRAMES_OK)
		abort();
	if ((n == 0) != (size == 0) || (n == 0) != (rec == NULL))
		abort(); /* only the empty write has no record */
	if (n > size / LSN_FRAMES_HEADER)
		abort();
	for (size_t i = 0; i < n; i++) {
		if (size - pos < LSN_FRAMES_HEADER)
			abort();
		if ((const uint8_t *)rec[i].iov_base != buf + pos + LSN_FRAMES_HEADER)
			abort(); /* not the bytes after this frame's header */
		if (rec[i].iov_len != be32(buf + pos) || rec[i].iov_len > max_record)
			abort();
		if (size - pos - LSN_FRAMES_HEADER < rec[i].iov_len)
			abort(); /* past the end of the write */
		pos += LSN_FRAMES_HEADER + rec[i].iov_len;
	}
	if (pos != size)
		abort(); /* bytes left over: a frame was dropped */
}

static void check_refused(int rc, const uint8_t *buf, size_t size, size_t max_record,
			  size_t max_write, const struct lsn_frames_error *err)
{
	size_t pos;

	switch (err->fault) {
	case LSN_FRAMES_WRITE_TOO_BIG:
		if (rc != -EFBIG || size <= max_write || err->frame != 0 || err->offset != 0)
			abort();
		return;
	case LSN_FRAMES_TRUNCATED:
		if (rc != -EINVAL)
			abort();
		break;
	case LSN_FRAMES_RECORD_TOO_BIG:
		if (rc != -EFBIG)
			abort();
		break;
	default:
		abort(); /* refused without a reason */
	}
	if (size > max_write)
		abort(); /* the write limit is checked first */
	if (err->frame > size / LSN_FRAMES_HEADER || err->offset >= size)
		abort();
	pos = walk(buf, size, err->frame, max_record);
	if (pos != err->offset)
		abort(); /* the named frame is not where the good ones end */
	if (size - pos < LSN_FRAMES_HEADER) {
		if (err->fault != LSN_FRAMES_TRUNCATED || err->length != 0)
			abort();
		return;
	}
	if (err->length != be32(buf + pos))
		abort();
	if (err->fault == LSN_FRAMES_RECORD_TOO_BIG && err->length <= max_record)
		abort();
	if (err->fault == LSN_FRAMES_TRUNCATED &&
	    (err->length > max_record || size - pos - LSN_FRAMES_HEADER >= err->length))
		abort(); /* the frame fits: it was not cut */
}

static void check_message(const struct lsn_frames_error *err, size_t size, size_t max_record,
			  size_t max_write, size_t small)
{
	char msg[512], want[64], tiny[16];

	memset(msg, 'x', sizeof(msg));
	lsn_frames_describe(err, size, max_record, max_write, msg, sizeof(msg));
	if (!memchr(msg, '\0', sizeof(msg)))
		abort();
	if (err->fault == LSN_FRAMES_TRUNCATED || err->fault == LSN_FRAMES_RECORD_TOO_BIG) {
		snprintf(want, sizeof(want), "frame %zu at byte %zu", err->frame + 1, err->offset);
		if (strncmp(msg, want, strlen(want)) != 0)
			abort();
	}
	if (err->fault == LSN_FRAMES_WRITE_TOO_BIG) {
		snprintf(want, sizeof(want), "at most %zu bytes", max_write);
		if (!strstr(msg, want))
			abort();
	}
	memset(tiny, 'x', sizeof(tiny));
	lsn_frames_describe(err, size, max_record, max_write, tiny, small);
	if (small > 0 && !memchr(tiny, '\0', small))
		abort();
	for (size_t i = small; i < sizeof(tiny); i++)
		if (tiny[i] != 'x')
			abort(); /* wrote past the buffer it was given */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t daemon_record = LSN_RECORD_MAX;
	struct lsn_frames_error err;
	struct iovec sentinel, *rec = &sentinel; /* not NULL: a refusal must clear it */
	const uint8_t *buf;
	size_t len, max_record, max_write, n = 12345;
	uint8_t ctl, lim;
	int rc;

	if (size < 2)
		return 0;
	ctl = data[0];
	lim = data[1];
	buf = data + 2;
	len = size - 2;
	switch (ctl & 3) {
	case 0: max_record = daemon_record; break;
	case 1: max_record = lim; break;
	case 2: max_record = 0; break;
	default: max_record = UINT32_MAX; break;
	}
	switch ((ctl >> 2) & 3) {
	case 0: max_write = WRITE_MAX; break;
	case 1: max_write = len; break;
	case 2: max_write = len ? len - 1 : 0; break;
	default: max_write = (size_t)lim * 4; break;
	}
	memset(&err, 0xa5, sizeof(err));
	rc = lsn_frames_parse((const char *)buf, len, max_record, max_write, &rec, &n, &err);
	if (rc == -ENOMEM)
		return 0;
	if (rc == 0) {
		check_taken(buf, len, max_record, max_write, rec, n, &err);
	} else {
		if (rc != -EINVAL && rc != -EFBIG)
			abort();
		if (rec != NULL || n != 0)
			abort(); /* all or nothing: no output for a refused write */
		check_refused(rc, buf, len, max_record, max_write, &err);
	}
	check_message(&err, len, max_record, max_write, (ctl >> 4) % 16);
	free(rec);
	return 0;
}
