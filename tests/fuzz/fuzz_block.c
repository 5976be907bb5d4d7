/*
 * Fuzz target: block decoding (storage/block.h) and the zstd frames of
 * snapshot chunks.  Bytes from disk: any input must decode or give
 * -EBADMSG, never crash; a decoded block's lengths add up to its payload.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "storage/block.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lsn_block blk = { 0 }, hdr = { 0 };
	static unsigned char out[1u << 20];
	uint64_t sum = 0;
	int rc;

	rc = lsn_block_peek(data, size, &hdr);
	if (rc != 0 && rc != -EBADMSG)
		abort();
	rc = lsn_block_decode(data, size, &blk);
	/* Whatever the header claims, decoding allocates no more than a block
	 * can hold (regressions/block/oom-huge-block-header). */
	if (blk.cap > LSN_BLOCK_RAW_MAX)
		abort();
	if (rc == 0) {
		for (uint32_t i = 0; i < blk.count; i++)
			sum += blk.lengths[i];
		if (sum != blk.payload_len)
			abort(); /* decode promised the lengths add up */
		if (blk.payload_len)
			(void)blk.payload[blk.payload_len - 1];
	} else if (rc != -EBADMSG && rc != -ENOMEM) {
		abort();
	}
	/* Decoding into a used block reuses its buffers. */
	rc = lsn_block_decode(data, size, &blk);
	lsn_block_release(&blk);
	/* A snapshot chunk: one zstd frame of a known size. */
	if (size > 4) {
		size_t expect = (size_t)(data[0] | data[1] << 8) % sizeof(out);
		rc = lsn_zstd_decompress(data + 2, size - 2, out, expect);
		if (rc != 0 && rc != -EBADMSG && rc != -EIO && rc != -ENOMEM)
			abort();
	}
	return 0;
}
