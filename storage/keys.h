/*
 * storage/keys.h - the RocksDB key layout and fixed-width encodings.
 *
 * Every key starts with one tag byte; integers are big-endian so that
 * RocksDB's bytewise order is numeric order.  <id> is a log's 32-bit id,
 * <lsn>/<off> are 64-bit.
 *
 *   'M' "next_log_id"            -> u32  next log id to hand out
 *   'C' <name>                   -> text config value (mode, node_id, ...)
 *   'L' <log name>               -> struct lsn_log_meta (id, persisted_lsn)
 *   'S' <id> <first lsn>         -> struct lsn_seg_meta (one per retained segment)
 *   'B' <id> <seg first> <off>   -> compressed block whose payload starts at
 *                                   segment byte offset <off> (storage/block.h)
 *   'X' <id> <seg first> <ioff>  -> u64 <off> of the block whose first index
 *                                   line starts at index byte offset <ioff>
 *   'R' <id> <lsn>               -> the records one append call left in the
 *                                   open block, from <lsn> on: i64 append time
 *                                   (ns), u32 count, u32 length[count],
 *                                   payloads (always in the active segment)
 *   'H' <id> <hold name>         -> u64 reader hold
 *   'P' <id> <lsn>               -> snapshot meta; 'Q' <id> <lsn> <chunk> -> data
 *   'G' <id> <lsn>               -> u64 inode, name: the staging file a commit
 *                                   consumed, until it is unlinked (written
 *                                   with the 'P' key; see storage/snapshot.c)
 *
 * Invariants: a log's segments tile [trim_point+1, tail] without gaps; the
 * last segment is the active one; B/X/R keys exist only inside retained
 * segments; every change to data and the metadata describing it is one
 * WriteBatch.  The active segment's 'S' value describes it up to its last
 * closed block; its 'R' records (which start right after) extend it, so
 * an append writes just its records, not the segment metadata again.
 */
#ifndef LSN_KEYS_H
#define LSN_KEYS_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define LSN_KEY_MAX 96

static inline void lsn_put_be64(unsigned char *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		p[i] = (unsigned char)v;
		v >>= 8;
	}
}

static inline uint64_t lsn_get_be64(const unsigned char *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static inline void lsn_put_be32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

static inline uint32_t lsn_get_be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* A key under construction: tag, then appended fields. */
struct lsn_key {
	unsigned char b[LSN_KEY_MAX];
	size_t len;
};

static inline void lsn_key_init(struct lsn_key *k, char tag)
{
	k->b[0] = (unsigned char)tag;
	k->len = 1;
}

static inline void lsn_key_u32(struct lsn_key *k, uint32_t v)
{
	lsn_put_be32(k->b + k->len, v);
	k->len += 4;
}

static inline void lsn_key_u64(struct lsn_key *k, uint64_t v)
{
	lsn_put_be64(k->b + k->len, v);
	k->len += 8;
}

/* Callers bound names (log names, hold names: <= 64 bytes). */
static inline void lsn_key_str(struct lsn_key *k, const char *s)
{
	size_t n = strlen(s);
	memcpy(k->b + k->len, s, n);
	k->len += n;
}

static inline const char *lsn_key_data(const struct lsn_key *k)
{
	return (const char *)k->b;
}

/* Upper bound of every key that starts with k: k with its last byte + 1
 * (prefixes here never end in 0xff runs that matter: ids and tags are small). */
static inline void lsn_key_successor(struct lsn_key *k)
{
	size_t i = k->len;
	while (i > 0) {
		if (++k->b[i - 1] != 0)
			return;
		i--;
	}
}

#endif
