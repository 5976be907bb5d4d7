/*
 * Unit tests for the append.frames parser (fs/frames.h): framing, the
 * all-or-nothing refusals and which frame they name, and the write limit
 * that keeps out writes the kernel would cut into several requests.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fs/frames.h"

#define MAX_RECORD 1044480u
#define MAX_WRITE 1044480u /* 1 MiB less a page: fs/frames.h */

TestSuite(frames, .timeout = 30);

/* Appends one frame (length, then `len` bytes of `fill`) at buf+pos. */
static size_t put_frame(char *buf, size_t pos, uint32_t len, char fill)
{
	buf[pos] = (char)(len >> 24);
	buf[pos + 1] = (char)(len >> 16);
	buf[pos + 2] = (char)(len >> 8);
	buf[pos + 3] = (char)len;
	memset(buf + pos + 4, fill, len);
	return pos + 4 + len;
}

static int parse(const char *buf, size_t size, struct iovec **iov, size_t *n,
		 struct lsn_frames_error *err)
{
	return lsn_frames_parse(buf, size, MAX_RECORD, MAX_WRITE, iov, n, err);
}

Test(frames, several_records_point_into_the_write)
{
	char buf[64];
	struct lsn_frames_error err;
	struct iovec *iov;
	size_t n, pos = 0;

	pos = put_frame(buf, pos, 3, 'a');
	pos = put_frame(buf, pos, 0, 'x');
	pos = put_frame(buf, pos, 5, 'c');
	cr_assert_eq(parse(buf, pos, &iov, &n, &err), 0);
	cr_assert_eq(n, 3);
	cr_assert_eq(iov[0].iov_base, buf + 4);
	cr_assert_eq(iov[0].iov_len, 3);
	cr_assert_eq(iov[1].iov_len, 0);
	cr_assert_eq(iov[2].iov_base, buf + 4 + 3 + 4 + 4);
	cr_assert_eq(iov[2].iov_len, 5);
	cr_assert_eq(memcmp(iov[2].iov_base, "ccccc", 5), 0);
	cr_assert_eq(err.fault, LSN_FRAMES_OK);
	free(iov);
}

Test(frames, big_endian_length)
{
	static char buf[70000];
	struct lsn_frames_error err;
	struct iovec *iov;
	size_t n;
	size_t pos = put_frame(buf, 0, 0x10203, 'z'); /* 66051 bytes */

	cr_assert_eq(parse(buf, pos, &iov, &n, &err), 0);
	cr_assert_eq(n, 1);
	cr_assert_eq(iov[0].iov_len, 0x10203);
	free(iov);
}

Test(frames, empty_write_is_no_record)
{
	struct lsn_frames_error err;
	struct iovec *iov;
	size_t n = 7;

	cr_assert_eq(parse("", 0, &iov, &n, &err), 0);
	cr_assert_eq(n, 0);
	cr_assert_null(iov);
}

Test(frames, cut_inside_the_length_names_that_frame)
{
	char buf[64];
	struct lsn_frames_error err;
	struct iovec *iov;
	size_t n, pos = put_frame(buf, 0, 2, 'a');

	buf[pos] = 0;
	buf[pos + 1] = 0;
	cr_assert_eq(parse(buf, pos + 2, &iov, &n, &err), -EINVAL);
	cr_assert_eq(err.fault, LSN_FRAMES_TRUNCATED);
	cr_assert_eq(err.frame, 1);
	cr_assert_eq(err.offset, 6);
	cr_assert_null(iov);
	cr_assert_eq(n, 0);
}

Test(frames, cut_inside_the_body_refuses_the_whole_write)
{
	char buf[64], text[256];
	struct lsn_frames_error err;
	struct iovec *iov;
	size_t n, pos = 0;

	pos = put_frame(buf, pos, 3, 'a');
	pos = put_frame(buf, pos, 3, 'b');
	pos = put_frame(buf, pos, 10, 'c');
	cr_assert_eq(parse(buf, pos - 1, &iov, &n, &err), -EINVAL);
	cr_assert_eq(err.frame, 2);
	cr_assert_eq(err.offset, 14);
	cr_assert_eq(err.length, 10);
	cr_assert_null(iov);
	lsn_frames_describe(&err, pos - 1, MAX_RECORD, MAX_WRITE, text, sizeof(text));
	cr_assert(strstr(text, "frame 3 at byte 14 declares 10 bytes") != NULL, "%s", text);
}

Test(frames, record_limit_is_inclusive)
{
	size_t size = 4 + MAX_RECORD;
	char *buf = malloc(size + 4);
	struct lsn_frames_error err;
	struct iovec *iov;
	size_t n;

	cr_assert_not_null(buf);
	put_frame(buf, 0, MAX_RECORD, 'm');
	/* The record limit on its own (with room for the write). */
	cr_assert_eq(lsn_frames_parse(buf, size, MAX_RECORD, 2 * MAX_WRITE, &iov, &n, &err), 0);
	cr_assert_eq(n, 1);
	cr_assert_eq(iov[0].iov_len, MAX_RECORD);
	free(iov);
	free(buf);
}

Test(frames, over_long_record_is_efbig_even_when_cut)
{
	char buf[64], text[256];
	struct lsn_frames_error err;
	struct iovec *iov;
	size_t n, pos = put_frame(buf, 0, 1, 'a');

	/* Declares MAX_RECORD + 1 bytes; only a few follow. */
	buf[pos] = (char)((MAX_RECORD + 1) >> 24);
	buf[pos + 1] = (char)((MAX_RECORD + 1) >> 16);
	buf[pos + 2] = (char)((MAX_RECORD + 1) >> 8);
	buf[pos + 3] = (char)(MAX_RECORD + 1);
	cr_assert_eq(parse(buf, pos + 8, &iov, &n, &err), -EFBIG);
	cr_assert_eq(err.fault, LSN_FRAMES_RECORD_TOO_BIG);
	cr_assert_eq(err.frame, 1);
	cr_assert_eq(err.length, MAX_RECORD + 1);
	lsn_frames_describe(&err, pos + 8, MAX_RECORD, MAX_WRITE, text, sizeof(text));
	cr_assert(strstr(text, "frame 2 at byte 5 declares 1044481 bytes") != NULL, "%s", text);
}

/* Fills size bytes with frames of `rec` bytes; the last frame declares
 * `rec` and may be cut by the end of the buffer. */
static char *frames_of(size_t size, uint32_t rec)
{
	char *buf = calloc(1, size + 4 + rec);
	size_t pos = 0;

	cr_assert_not_null(buf);
	while (pos < size)
		pos = put_frame(buf, pos, rec, 'f');
	return buf;
}

Test(frames, the_write_limit_refuses_larger_writes_even_when_they_parse)
{
	/* 1020 frames of 1020 bytes are exactly the limit; a first piece of a
	 * larger write (1 MiB, or 1 MiB - 4095 from an unaligned buffer) is
	 * above it whether or not it ends on a frame boundary. */
	char *buf = frames_of(1 << 20, 1020);
	struct lsn_frames_error err;
	struct iovec *iov;
	size_t n;
	char text[256];

	cr_assert_eq(parse(buf, MAX_WRITE, &iov, &n, &err), 0);
	cr_assert_eq(n, 1020);
	free(iov);
	cr_assert_eq(parse(buf, (1 << 20), &iov, &n, &err), -EFBIG);
	cr_assert_eq(err.fault, LSN_FRAMES_WRITE_TOO_BIG);
	cr_assert_null(iov);
	cr_assert_eq(parse(buf, (1 << 20) - 4095, &iov, &n, &err), -EFBIG);
	cr_assert_eq(err.fault, LSN_FRAMES_WRITE_TOO_BIG);
	cr_assert_eq(parse(buf, MAX_WRITE + 1, &iov, &n, &err), -EFBIG);
	lsn_frames_describe(&err, MAX_WRITE + 1, MAX_RECORD, MAX_WRITE, text, sizeof(text));
	cr_assert(strstr(text, "at most 1044480 bytes") != NULL, "%s", text);
	free(buf);
}

Test(frames, below_the_limit_a_cut_frame_is_einval)
{
	char *buf = frames_of(1 << 20, 1000);
	struct lsn_frames_error err;
	struct iovec *iov;
	size_t n;

	/* 1040 frames of 1004 bytes = 1,044,160; the limit cuts the 1041st. */
	cr_assert_eq(parse(buf, MAX_WRITE, &iov, &n, &err), -EINVAL);
	cr_assert_eq(err.fault, LSN_FRAMES_TRUNCATED);
	cr_assert_eq(err.frame, 1040);
	cr_assert_eq(err.offset, 1040 * 1004);
	cr_assert_eq(parse(buf, 1040 * 1004, &iov, &n, &err), 0);
	cr_assert_eq(n, 1040);
	free(iov);
	free(buf);
}
