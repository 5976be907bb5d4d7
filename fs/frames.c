#include "fs/frames.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint32_t get_be32(const char *p)
{
	const unsigned char *u = (const unsigned char *)p;

	return (uint32_t)u[0] << 24 | (uint32_t)u[1] << 16 | (uint32_t)u[2] << 8 | u[3];
}

static int fail(struct lsn_frames_error *err, enum lsn_frames_fault fault, size_t frame,
		size_t offset, uint64_t length)
{
	err->fault = fault;
	err->frame = frame;
	err->offset = offset;
	err->length = length;
	return fault == LSN_FRAMES_TRUNCATED ? -EINVAL : -EFBIG;
}

/* First pass: count and check every frame, so nothing is allocated for a
 * write that will be refused, and the second pass cannot fail. */
static int check(const char *buf, size_t size, size_t max_record, size_t max_write,
		 size_t *n, struct lsn_frames_error *err)
{
	size_t pos = 0, i = 0;

	if (size > max_write)
		return fail(err, LSN_FRAMES_WRITE_TOO_BIG, 0, 0, 0);
	while (pos < size) {
		uint64_t len;

		if (size - pos < LSN_FRAMES_HEADER)
			return fail(err, LSN_FRAMES_TRUNCATED, i, pos, 0);
		len = get_be32(buf + pos);
		if (len > max_record)
			return fail(err, LSN_FRAMES_RECORD_TOO_BIG, i, pos, len);
		if (size - pos - LSN_FRAMES_HEADER < len)
			return fail(err, LSN_FRAMES_TRUNCATED, i, pos, len);
		pos += LSN_FRAMES_HEADER + (size_t)len;
		i++;
	}
	*n = i;
	return 0;
}

int lsn_frames_parse(const char *buf, size_t size, size_t max_record, size_t max_write,
		     struct iovec **records, size_t *n, struct lsn_frames_error *err)
{
	struct iovec *iov = NULL;
	size_t count = 0, pos = 0;
	int rc;

	memset(err, 0, sizeof(*err));
	*records = NULL;
	*n = 0;
	rc = check(buf, size, max_record, max_write, &count, err);
	if (rc || count == 0)
		return rc;
	iov = malloc(count * sizeof(*iov));
	if (!iov)
		return -ENOMEM;
	for (size_t i = 0; i < count; i++) {
		size_t len = get_be32(buf + pos);

		iov[i].iov_base = (void *)(buf + pos + LSN_FRAMES_HEADER);
		iov[i].iov_len = len;
		pos += LSN_FRAMES_HEADER + len;
	}
	*records = iov;
	*n = count;
	return 0;
}

void lsn_frames_describe(const struct lsn_frames_error *err, size_t size, size_t max_record,
			 size_t max_write, char *buf, size_t len)
{
	switch (err->fault) {
	case LSN_FRAMES_TRUNCATED:
		if (size - err->offset < LSN_FRAMES_HEADER)
			snprintf(buf, len, "frame %zu at byte %zu: the write ends inside its 4-byte length",
				 err->frame + 1, err->offset);
		else
			snprintf(buf, len,
				 "frame %zu at byte %zu declares %llu bytes but the write ends %zu bytes after its header",
				 err->frame + 1, err->offset, (unsigned long long)err->length,
				 size - err->offset - LSN_FRAMES_HEADER);
		break;
	case LSN_FRAMES_RECORD_TOO_BIG:
		snprintf(buf, len, "frame %zu at byte %zu declares %llu bytes: a record is at most %zu bytes",
			 err->frame + 1, err->offset, (unsigned long long)err->length, max_record);
		break;
	case LSN_FRAMES_WRITE_TOO_BIG:
		snprintf(buf, len,
			 "a write of frames is at most %zu bytes (larger ones reach lsnfs cut into pieces); got %zu or more",
			 max_write, size);
		break;
	default:
		snprintf(buf, len, "no error");
		break;
	}
}
