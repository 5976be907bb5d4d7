#include "storage/block.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>
#include <zstd_errors.h>

#include "storage/crc32c.h"
#include "storage/diag.h"

#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
#define LSN_FUZZING 1
#else
#define LSN_FUZZING 0
#endif
#define BLOCK_MAGIC 0x3142534cu /* "LSB1" little-endian */

/*
 * One compression and one decompression context per thread, reused: a
 * context costs far more to create than a 256 KiB block costs to compress.
 * Freed by the key destructors when a FUSE worker thread exits.
 */
static pthread_key_t cctx_key, dctx_key;
static pthread_once_t ctx_once = PTHREAD_ONCE_INIT;

static void free_cctx(void *p)
{
	ZSTD_freeCCtx(p);
}

static void free_dctx(void *p)
{
	ZSTD_freeDCtx(p);
}

static void make_keys(void)
{
	pthread_key_create(&cctx_key, free_cctx);
	pthread_key_create(&dctx_key, free_dctx);
}

static ZSTD_CCtx *thread_cctx(void)
{
	ZSTD_CCtx *c;

	pthread_once(&ctx_once, make_keys);
	c = pthread_getspecific(cctx_key);
	if (!c) {
		c = ZSTD_createCCtx();
		if (c)
			pthread_setspecific(cctx_key, c);
	}
	return c;
}

static ZSTD_DCtx *thread_dctx(void)
{
	ZSTD_DCtx *d;

	pthread_once(&ctx_once, make_keys);
	d = pthread_getspecific(dctx_key);
	if (!d) {
		d = ZSTD_createDCtx();
		if (d)
			pthread_setspecific(dctx_key, d);
	}
	return d;
}

static void put_le32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static void put_le64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get_le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get_le64(const unsigned char *p)
{
	return (uint64_t)get_le32(p) | (uint64_t)get_le32(p + 4) << 32;
}

int lsn_zstd_compress(const void *src, size_t len, int level, unsigned char **out, size_t *out_len)
{
	size_t bound = ZSTD_compressBound(len);
	unsigned char *buf = malloc(bound ? bound : 1);
	ZSTD_CCtx *cctx = thread_cctx();
	size_t n;

	if (!buf || !cctx) {
		free(buf);
		return -ENOMEM;
	}
	n = ZSTD_compressCCtx(cctx, buf, bound, src, len, level);
	if (ZSTD_isError(n)) {
		lsn_diag(LSN_DIAG_ERR, "zstd compress: %s", ZSTD_getErrorName(n));
		free(buf);
		return ZSTD_getErrorCode(n) == ZSTD_error_memory_allocation ? -ENOMEM : -EIO;
	}
	*out = buf;
	*out_len = n;
	return 0;
}

int lsn_zstd_decompress(const void *src, size_t len, void *dst, size_t dst_len)
{
	unsigned long long content = ZSTD_getFrameContentSize(src, len);
	ZSTD_DCtx *dctx = thread_dctx();
	size_t n;

	/* The frame must announce exactly the size we expect: anything else is
	 * a damaged or foreign value. */
	if (content == ZSTD_CONTENTSIZE_ERROR || content == ZSTD_CONTENTSIZE_UNKNOWN ||
	    content != dst_len)
		return -EBADMSG;
	if (!dctx)
		return -ENOMEM;
	n = ZSTD_decompressDCtx(dctx, dst, dst_len, src, len);
	if (ZSTD_isError(n)) {
		if (ZSTD_getErrorCode(n) == ZSTD_error_memory_allocation)
			return -ENOMEM;
		return -EBADMSG;
	}
	return n == dst_len ? 0 : -EBADMSG;
}

int lsn_block_encode(uint64_t first_lsn, uint32_t count, const uint32_t *lengths,
		     const unsigned char *payload, uint32_t payload_len, uint64_t seg_offset,
		     uint64_t index_offset, int level, unsigned char **out, size_t *out_len)
{
	size_t raw_len = (size_t)count * 4 + payload_len;
	unsigned char *raw = malloc(raw_len ? raw_len : 1);
	unsigned char *buf = NULL;
	ZSTD_CCtx *cctx = thread_cctx();
	size_t bound, n;
	int rc = 0;

	if (!raw || !cctx) {
		free(raw);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < count; i++)
		put_le32(raw + 4 * (size_t)i, lengths[i]);
	if (payload_len)
		memcpy(raw + (size_t)count * 4, payload, payload_len);

	bound = LSN_BLOCK_HEADER + ZSTD_compressBound(raw_len);
	buf = malloc(bound);
	if (!buf) {
		rc = -ENOMEM;
		goto out;
	}
	n = ZSTD_compressCCtx(cctx, buf + LSN_BLOCK_HEADER, bound - LSN_BLOCK_HEADER, raw, raw_len,
			      level);
	if (ZSTD_isError(n)) {
		lsn_diag(LSN_DIAG_ERR, "zstd compress: %s", ZSTD_getErrorName(n));
		rc = ZSTD_getErrorCode(n) == ZSTD_error_memory_allocation ? -ENOMEM : -EIO;
		goto out;
	}
	put_le32(buf, BLOCK_MAGIC);
	put_le64(buf + 8, first_lsn);
	put_le32(buf + 16, count);
	put_le32(buf + 20, payload_len);
	put_le64(buf + 24, seg_offset);
	put_le64(buf + 32, index_offset);
	put_le32(buf + 4, lsn_crc32c(0, buf + 8, LSN_BLOCK_HEADER - 8 + n));
	*out = buf;
	*out_len = LSN_BLOCK_HEADER + n;
	buf = NULL;
out:
	free(raw);
	free(buf);
	return rc;
}

int lsn_block_peek(const unsigned char *val, size_t len, struct lsn_block *hdr)
{
	if (len < LSN_BLOCK_HEADER || get_le32(val) != BLOCK_MAGIC)
		return -EBADMSG;
	hdr->first_lsn = get_le64(val + 8);
	hdr->count = get_le32(val + 16);
	hdr->payload_len = get_le32(val + 20);
	hdr->seg_offset = get_le64(val + 24);
	hdr->index_offset = get_le64(val + 32);
	return 0;
}

int lsn_block_decode(const unsigned char *val, size_t len, struct lsn_block *blk)
{
	struct lsn_block hdr = { 0 };
	size_t raw_len, need;
	uint64_t sum = 0;
	unsigned char *raw;
	int rc;

	rc = lsn_block_peek(val, len, &hdr);
	if (rc)
		return rc;
	/* Fuzzing builds (make fuzz) skip the checksum so that the fuzzer
	 * reaches the decoding behind it; every other build checks it. */
	if (lsn_crc32c(0, val + 8, len - 8) != get_le32(val + 4) && !LSN_FUZZING)
		return -EBADMSG;
	if (hdr.count == 0 || hdr.count > (1u << 24))
		return -EBADMSG;
	raw_len = (size_t)hdr.count * 4 + hdr.payload_len;
	/* Allocate only what a block can hold and its frame announces: a
	 * damaged header must not ask for gigabytes (found by make fuzz). */
	if (raw_len > LSN_BLOCK_RAW_MAX ||
	    ZSTD_getFrameContentSize(val + LSN_BLOCK_HEADER, len - LSN_BLOCK_HEADER) != raw_len)
		return -EBADMSG;
	/* lengths are kept as native u32s, payload follows them */
	need = raw_len;
	if (blk->cap < need) {
		void *p = realloc(blk->lengths, need);
		if (!p)
			return -ENOMEM;
		blk->lengths = p;
		blk->cap = need;
	}
	raw = (unsigned char *)blk->lengths;
	rc = lsn_zstd_decompress(val + LSN_BLOCK_HEADER, len - LSN_BLOCK_HEADER, raw, raw_len);
	if (rc)
		return rc;
	for (uint32_t i = 0; i < hdr.count; i++) {
		uint32_t l = get_le32(raw + 4 * (size_t)i);
		blk->lengths[i] = l;
		sum += l;
	}
	if (sum != hdr.payload_len)
		return -EBADMSG;
	blk->first_lsn = hdr.first_lsn;
	blk->count = hdr.count;
	blk->payload_len = hdr.payload_len;
	blk->seg_offset = hdr.seg_offset;
	blk->index_offset = hdr.index_offset;
	blk->payload = raw + (size_t)hdr.count * 4;
	return 0;
}

void lsn_block_release(struct lsn_block *blk)
{
	free(blk->lengths);
	memset(blk, 0, sizeof(*blk));
}

static unsigned digits(uint64_t v)
{
	unsigned n = 1;
	while (v >= 10) {
		v /= 10;
		n++;
	}
	return n;
}

size_t lsn_index_line_len(uint64_t lsn, uint64_t offset, uint64_t length)
{
	return digits(lsn) + 1 + digits(offset) + 1 + digits(length) + 1;
}

size_t lsn_index_line_format(char *buf, uint64_t lsn, uint64_t offset, uint64_t length)
{
	return (size_t)sprintf(buf, "%llu %llu %llu\n", (unsigned long long)lsn,
			       (unsigned long long)offset, (unsigned long long)length);
}
