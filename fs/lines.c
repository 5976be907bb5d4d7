#include "fs/lines.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int reserve(struct lsn_lines *l, size_t need)
{
	size_t cap = l->partial_cap ? l->partial_cap : 4096;
	void *p;

	if (need <= l->partial_cap)
		return 0;
	while (cap < need)
		cap *= 2;
	p = realloc(l->partial, cap);
	if (!p)
		return -ENOMEM;
	l->partial = p;
	l->partial_cap = cap;
	return 0;
}

/* Every complete line is checked before anything is appended, so an
 * oversized line refuses the whole write. */
int lsn_lines_write(struct lsn_lines *l, const char *buf, size_t size, size_t max,
		    lsn_lines_append_fn append, void *ctx)
{
	struct iovec *iov = NULL;
	char *first = NULL;
	size_t n = 0, cap = 0, pos = 0, tail_len;
	int rc = 0;

	if (l->discarding) {
		/* The rest of a line already refused as too long goes nowhere. */
		const char *nl = memchr(buf, '\n', size);
		if (!nl) {
			rc = -EFBIG;
			goto out;
		}
		pos = (size_t)(nl - buf) + 1;
		l->discarding = false;
	}
	while (pos < size) {
		const char *nl = memchr(buf + pos, '\n', size - pos);
		size_t len, rec_len;

		if (!nl)
			break;
		len = (size_t)(nl - (buf + pos)) + 1;
		rec_len = len + (n == 0 ? l->partial_len : 0);
		if (rec_len > max) {
			if (n == 0)
				l->partial_len = 0; /* the held part was this line's */
			rc = -EFBIG;
			goto out;
		}
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 64;
			void *p = realloc(iov, ncap * sizeof(*iov));
			if (!p) {
				rc = -ENOMEM;
				goto out;
			}
			iov = p;
			cap = ncap;
		}
		iov[n].iov_base = (void *)(buf + pos);
		iov[n].iov_len = len;
		n++;
		pos += len;
	}
	tail_len = size - pos;
	if ((n == 0 ? l->partial_len : 0) + tail_len > max) {
		if (n == 0) {
			/* Drop what is held and whatever of the line still comes. */
			l->partial_len = 0;
			l->discarding = true;
		}
		rc = -EFBIG;
		goto out;
	}
	if (n > 0 && l->partial_len > 0) {
		/* The first record is the held partial line plus its end. */
		first = malloc(l->partial_len + iov[0].iov_len);
		if (!first) {
			rc = -ENOMEM;
			goto out;
		}
		memcpy(first, l->partial, l->partial_len);
		memcpy(first + l->partial_len, iov[0].iov_base, iov[0].iov_len);
		iov[0].iov_len += l->partial_len;
		iov[0].iov_base = first;
	}
	if (n > 0) {
		rc = append(ctx, iov, n);
		if (rc)
			goto out;
		l->partial_len = 0;
	}
	if (tail_len > 0) {
		rc = reserve(l, l->partial_len + tail_len);
		if (rc)
			goto out; /* the complete lines are in; report the failure */
		memcpy(l->partial + l->partial_len, buf + pos, tail_len);
		l->partial_len += tail_len;
	}
out:
	free(first);
	free(iov);
	return rc;
}

int lsn_lines_flush(struct lsn_lines *l, lsn_lines_append_fn append, void *ctx)
{
	struct iovec iov = { .iov_base = l->partial, .iov_len = l->partial_len };
	int rc;

	if (l->partial_len == 0)
		return 0;
	rc = append(ctx, &iov, 1);
	if (rc == 0)
		l->partial_len = 0;
	return rc;
}

void lsn_lines_release(struct lsn_lines *l)
{
	free(l->partial);
	memset(l, 0, sizeof(*l));
}
