/*
 * storage/block.h - a block: several consecutive records of one segment,
 * compressed together with zstd.
 *
 * Records are grouped so that zstd sees enough context to compress well and
 * each block is compressed exactly once, when it closes.  Encoded layout
 * (little-endian header, 40 bytes):
 *
 *   u32 magic "LSB1"   u32 crc32c of every byte after this field
 *   u64 first_lsn      u32 record count   u32 payload bytes
 *   u64 seg_offset     u64 index_offset   (where the block starts in the
 *                                          segment and in its index file)
 *   zstd frame of { u32 length[count], payload bytes }
 *
 * Decoding checks magic, checksum, sizes and that the lengths add up, and
 * returns -EBADMSG on any mismatch: a corrupt block is an error, never a
 * crash or wrong data.
 *
 * A struct lsn_block (decoded) owns its buffers; zero-initialised is empty
 * and lsn_block_release() is safe on it.  Not thread safe per object.
 */
#ifndef LSN_BLOCK_H
#define LSN_BLOCK_H

#include <stddef.h>
#include <stdint.h>

#define LSN_BLOCK_HEADER 40
/* Bound on a block's decoded size (lengths + payload): a block closes at
 * about 128 KiB of payload, plus at most one record of 1020 KiB; decoding
 * refuses anything larger rather than allocating it. */
#define LSN_BLOCK_RAW_MAX (16u << 20)

struct lsn_block {
	uint64_t first_lsn;
	uint32_t count;
	uint32_t payload_len;
	uint64_t seg_offset;
	uint64_t index_offset;
	uint32_t *lengths;       /* count entries */
	unsigned char *payload;  /* payload_len bytes */
	size_t cap;              /* allocation behind lengths+payload */
};

/*
 * Encode `count` records (lengths[], payload) into *out (malloc'd, caller
 * frees), compressing at `level`.  0 or -ENOMEM / -EIO (zstd failure).
 */
int lsn_block_encode(uint64_t first_lsn, uint32_t count, const uint32_t *lengths,
		     const unsigned char *payload, uint32_t payload_len, uint64_t seg_offset,
		     uint64_t index_offset, int level, unsigned char **out, size_t *out_len);

/* Decode an encoded value into blk (reusing its buffers). */
int lsn_block_decode(const unsigned char *val, size_t len, struct lsn_block *blk);

/* Peek at the header only (checks magic and length, not the checksum). */
int lsn_block_peek(const unsigned char *val, size_t len, struct lsn_block *hdr);

void lsn_block_release(struct lsn_block *blk);

/* Bytes of the index line "LSN OFFSET LENGTH\n". */
size_t lsn_index_line_len(uint64_t lsn, uint64_t offset, uint64_t length);
/* Formats that line into buf (>= 64 bytes); returns its length. */
size_t lsn_index_line_format(char *buf, uint64_t lsn, uint64_t offset, uint64_t length);

/* Generic zstd helpers for other compressed objects (snapshots). */
int lsn_zstd_compress(const void *src, size_t len, int level, unsigned char **out,
		      size_t *out_len);
int lsn_zstd_decompress(const void *src, size_t len, void *dst, size_t dst_len);

#endif
