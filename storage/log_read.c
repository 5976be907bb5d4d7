/*
 * storage/log_read.c - reading a segment's payload and its index text at
 * any offset.
 *
 * A read finds its first block with one seek_for_prev on the 'B' (payload)
 * or 'X' (index) keys and then walks forward, so its cost is O(log n)
 * lookups plus the blocks it touches.  The part of the active segment that
 * is still in the open block is copied from memory under the log's lock;
 * compressed blocks are immutable and read without it.  The caller's
 * struct lsn_read_cache keeps the last decoded block, so sequential reads
 * decompress each block once.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "storage/diag.h"
#include "storage/store_internal.h"

void lsn_read_cache_release(struct lsn_read_cache *c)
{
	if (!c)
		return;
	lsn_block_release(&c->block);
	c->valid = false;
}

/* Where the open block starts, and what a reader must copy from it. */
struct read_plan {
	struct lsn_segment_info seg;
	bool active;
	uint64_t mem_from;     /* segment offset where the open block starts */
	uint64_t mem_idx_from; /* index offset where the open block starts */
};

/*
 * Load the block covering seg_off into blk.  *itp is the caller's iterator
 * (created on first use): the first block of a read is found with
 * seek_for_prev, the following ones with next, so a sequential read costs
 * one seek.  (Measured: RocksDB readahead on these short-lived iterators
 * made cold reads slower, not faster.)
 */
int lsn_log_load_block(struct lsn_log *log, uint64_t seg_first, uint64_t seg_off,
		       struct lsn_block *blk, rocksdb_iterator_t **itp)
{
	struct lsn_store *st = log->store;
	rocksdb_iterator_t *it = *itp;
	struct lsn_key k;
	char *err = NULL;
	int rc = -EBADMSG;

	lsn_key_init(&k, 'B');
	lsn_key_u32(&k, log->id);
	lsn_key_u64(&k, seg_first);
	lsn_key_u64(&k, seg_off);
	if (it && rocksdb_iter_valid(it)) {
		rocksdb_iter_next(it);
	} else {
		if (!it)
			it = *itp = rocksdb_create_iterator(st->db, st->ro);
		rocksdb_iter_seek_for_prev(it, lsn_key_data(&k), k.len);
	}
	if (rocksdb_iter_valid(it)) {
		size_t klen, vlen;
		const char *key = rocksdb_iter_key(it, &klen);
		const unsigned char *val = (const unsigned char *)rocksdb_iter_value(it, &vlen);

		if (klen == k.len && memcmp(key, k.b, k.len - 8) == 0) {
			rc = lsn_block_decode(val, vlen, blk);
			if (rc == 0 && blk->seg_offset != lsn_get_be64((const unsigned char *)key + 13))
				rc = -EBADMSG;
		}
	}
	rocksdb_iter_get_error(it, &err);
	if (err)
		rc = lsn_rdb_errno(err, "read block");
	/* A block of only empty records (closed by a seal) covers its offset. */
	if (rc == 0 && (seg_off < blk->seg_offset ||
			(seg_off >= blk->seg_offset + blk->payload_len &&
			 !(blk->payload_len == 0 && seg_off == blk->seg_offset))))
		rc = -EBADMSG; /* a hole where a block should be */
	return rc;
}

/*
 * A block that cannot be found or decoded: either the segment was trimmed
 * while we read it (blocks are read without the log's lock), which is
 * -ENOENT for the reader, or the store is damaged, which is said loudly.
 */
int lsn_log_block_error(struct lsn_log *log, uint64_t seg_first, uint64_t seg_off, int rc)
{
	bool gone;

	if (rc != -EBADMSG)
		return rc;
	pthread_mutex_lock(&log->lock);
	gone = lsn_log_find_segment(log, seg_first) == NULL;
	pthread_mutex_unlock(&log->lock);
	if (gone)
		return -ENOENT;
	lsn_diag(LSN_DIAG_ERR, "log %s: segment %llu: no valid block at offset %llu", log->name,
		 (unsigned long long)seg_first, (unsigned long long)seg_off);
	return rc;
}

/* Load into the caller's one-block cache (valid only when it worked). */
static int cache_load(struct lsn_log *log, uint64_t seg_first, uint64_t seg_off,
		      struct lsn_read_cache *c, rocksdb_iterator_t **itp)
{
	int rc;

	c->valid = false;
	rc = lsn_log_load_block(log, seg_first, seg_off, &c->block, itp);
	if (rc == 0) {
		c->seg_first = seg_first;
		c->valid = true;
	}
	return rc;
}

static bool cache_covers(const struct lsn_read_cache *c, uint64_t seg_first, uint64_t off)
{
	return c->valid && c->seg_first == seg_first && off >= c->block.seg_offset &&
	       off < c->block.seg_offset + c->block.payload_len;
}

/* Under the lock: locate the segment and snapshot what is in memory. */
static int plan_read(struct lsn_log *log, uint64_t first_lsn, struct read_plan *p)
{
	struct lsn_segment_info *s = lsn_log_find_segment(log, first_lsn);

	/* A removed log keeps its segment table in memory, not its blocks. */
	if (!s || log->removed)
		return -ENOENT;
	p->seg = *s;
	p->active = s == lsn_log_active(log);
	p->mem_from = p->active ? log->open.seg_offset : s->bytes;
	p->mem_idx_from = p->active ? log->open.index_offset : s->index_bytes;
	return 0;
}

int lsn_log_read_begin(struct lsn_log *log, uint64_t first_lsn, uint64_t off, void *buf,
		       size_t len, uint64_t *end, uint64_t *mem_from)
{
	unsigned char *out = buf;
	struct read_plan p;
	int rc;

	*end = off;
	*mem_from = off;
	pthread_mutex_lock(&log->lock);
	rc = plan_read(log, first_lsn, &p);
	if (rc || off >= p.seg.bytes) {
		pthread_mutex_unlock(&log->lock);
		return rc;
	}
	*end = off + len < p.seg.bytes ? off + len : p.seg.bytes;
	*mem_from = p.mem_from;
	if (*end > p.mem_from) {
		/* Tail part from the open block, copied while we hold the lock. */
		uint64_t from = off > p.mem_from ? off : p.mem_from;
		memcpy(out + (from - off), log->open.data + (from - p.mem_from), *end - from);
	}
	pthread_mutex_unlock(&log->lock);
	return 0;
}

int lsn_log_fetch_block(struct lsn_log *log, uint64_t seg_first, uint64_t seg_off,
			rocksdb_pinnableslice_t **pin, const unsigned char **val, size_t *len)
{
	struct lsn_store *st = log->store;
	struct lsn_key k;
	char *err = NULL;

	*pin = NULL;
	lsn_key_init(&k, 'B');
	lsn_key_u32(&k, log->id);
	lsn_key_u64(&k, seg_first);
	lsn_key_u64(&k, seg_off);
	*pin = rocksdb_get_pinned(st->db, st->ro_ahead, lsn_key_data(&k), k.len, &err);
	if (err)
		return lsn_rdb_errno(err, "read block");
	if (!*pin)
		return -ENOENT;
	*val = (const unsigned char *)rocksdb_pinnableslice_value(*pin, len);
	return 0;
}

int lsn_log_block_starts(struct lsn_log *log, uint64_t seg_first, uint64_t **starts, size_t *n)
{
	struct lsn_store *st = log->store;
	rocksdb_iterator_t *it = rocksdb_create_iterator(st->db, st->ro);
	uint64_t *v = NULL;
	size_t cap = 0, k = 0;
	struct lsn_key lo;
	char *err = NULL;
	int rc = 0;

	lsn_key_init(&lo, 'X');
	lsn_key_u32(&lo, log->id);
	lsn_key_u64(&lo, seg_first);
	for (rocksdb_iter_seek(it, lsn_key_data(&lo), lo.len); rocksdb_iter_valid(it);
	     rocksdb_iter_next(it)) {
		size_t klen, vlen;
		const char *key = rocksdb_iter_key(it, &klen);
		const unsigned char *val = (const unsigned char *)rocksdb_iter_value(it, &vlen);

		if (klen != lo.len + 8 || memcmp(key, lo.b, lo.len) != 0)
			break;
		if (vlen != 8) {
			rc = -EBADMSG;
			break;
		}
		if (k == cap) {
			uint64_t *nv = realloc(v, (cap = cap ? 2 * cap : 64) * sizeof(*v));

			if (!nv) {
				rc = -ENOMEM;
				break;
			}
			v = nv;
		}
		v[k] = lsn_get_be64(val);
		if (k > 0 && v[k] <= v[k - 1]) {
			rc = -EBADMSG; /* block starts only grow */
			break;
		}
		k++;
	}
	rocksdb_iter_get_error(it, &err);
	if (err)
		rc = lsn_rdb_errno(err, "read index keys");
	rocksdb_iter_destroy(it);
	if (rc) {
		free(v);
		v = NULL;
		k = 0;
	}
	*starts = v;
	*n = k;
	return rc;
}

int lsn_log_read(struct lsn_log *log, uint64_t first_lsn, uint64_t off, void *buf, size_t len,
		 size_t *got, struct lsn_read_cache *cache)
{
	struct lsn_read_cache local = { 0 };
	struct lsn_read_cache *c = cache ? cache : &local;
	rocksdb_iterator_t *it = NULL;
	unsigned char *out = buf;
	uint64_t end, mem_from, pos;
	int rc;

	*got = 0;
	rc = lsn_log_read_begin(log, first_lsn, off, buf, len, &end, &mem_from);
	if (rc || end == off)
		return rc;

	for (pos = off; pos < end && pos < mem_from;) {
		uint64_t stop = end < mem_from ? end : mem_from;
		uint64_t in_block, n;

		if (!cache_covers(c, first_lsn, pos)) {
			rc = cache_load(log, first_lsn, pos, c, &it);
			if (rc) {
				rc = lsn_log_block_error(log, first_lsn, pos, rc);
				goto out;
			}
		}
		in_block = pos - c->block.seg_offset;
		n = c->block.payload_len - in_block;
		if (n > stop - pos)
			n = stop - pos;
		memcpy(out + (pos - off), c->block.payload + in_block, n);
		pos += n;
	}
	*got = end - off;
out:
	if (it)
		rocksdb_iter_destroy(it);
	if (c == &local)
		lsn_read_cache_release(&local);
	return rc;
}

/* ---- index text ------------------------------------------------------- */

/* Append the index lines of records [from, count) of a block to buf. */
struct index_writer {
	uint64_t want_off;   /* index offset the caller asked for */
	uint64_t at;         /* index offset of the next line produced */
	char *buf;
	size_t len, got;
};

static void index_emit(struct index_writer *w, uint64_t lsn, uint64_t seg_off, uint64_t length)
{
	char line[72];
	size_t n = lsn_index_line_format(line, lsn, seg_off, length);
	uint64_t from, to;

	from = w->at > w->want_off + w->got ? w->at : w->want_off + w->got;
	to = w->at + n;
	if (to > w->want_off + w->len)
		to = w->want_off + w->len;
	if (from < to && from == w->want_off + w->got) {
		memcpy(w->buf + w->got, line + (from - w->at), to - from);
		w->got += to - from;
	}
	w->at += n;
}

static bool index_full(const struct index_writer *w)
{
	return w->got == w->len;
}

static int index_block_offset(struct lsn_log *log, uint64_t seg_first, uint64_t idx_off,
			      uint64_t *seg_off)
{
	struct lsn_store *st = log->store;
	rocksdb_iterator_t *it = rocksdb_create_iterator(st->db, st->ro);
	struct lsn_key k;
	char *err = NULL;
	int rc = -EBADMSG;

	lsn_key_init(&k, 'X');
	lsn_key_u32(&k, log->id);
	lsn_key_u64(&k, seg_first);
	lsn_key_u64(&k, idx_off);
	rocksdb_iter_seek_for_prev(it, lsn_key_data(&k), k.len);
	if (rocksdb_iter_valid(it)) {
		size_t klen, vlen;
		const char *key = rocksdb_iter_key(it, &klen);
		const unsigned char *val = (const unsigned char *)rocksdb_iter_value(it, &vlen);

		if (klen == k.len && memcmp(key, k.b, k.len - 8) == 0 && vlen == 8) {
			*seg_off = lsn_get_be64(val);
			rc = 0;
		}
	}
	rocksdb_iter_get_error(it, &err);
	if (err)
		rc = lsn_rdb_errno(err, "read index");
	rocksdb_iter_destroy(it);
	return rc;
}

int lsn_log_read_index(struct lsn_log *log, uint64_t first_lsn, uint64_t off, char *buf,
		       size_t len, size_t *got, struct lsn_read_cache *cache)
{
	struct lsn_read_cache local = { 0 };
	struct lsn_read_cache *c = cache ? cache : &local;
	struct index_writer w = { .want_off = off, .buf = buf };
	struct read_plan p;
	uint64_t end, seg_off = 0;
	int rc;

	*got = 0;
	pthread_mutex_lock(&log->lock);
	rc = plan_read(log, first_lsn, &p);
	if (rc || off >= p.seg.index_bytes) {
		pthread_mutex_unlock(&log->lock);
		return rc;
	}
	end = off + len < p.seg.index_bytes ? off + len : p.seg.index_bytes;
	w.len = end - off;
	if (end > p.mem_idx_from) {
		/* Lines of the open block, produced under the lock. */
		struct index_writer mw = { .want_off = off > p.mem_idx_from ? off : p.mem_idx_from,
					   .at = p.mem_idx_from };
		uint64_t so = log->open.seg_offset;

		mw.buf = buf + (mw.want_off - off);
		mw.len = end - mw.want_off;
		for (uint32_t i = 0; i < log->open.count && !index_full(&mw); i++) {
			index_emit(&mw, log->open.first_lsn + i, so, log->open.lengths[i]);
			so += log->open.lengths[i];
		}
		w.len = off < p.mem_idx_from ? p.mem_idx_from - off : 0;
		w.got = 0;
	}
	pthread_mutex_unlock(&log->lock);

	while (!index_full(&w)) {
		uint64_t want = w.want_off + w.got;
		rc = index_block_offset(log, first_lsn, want, &seg_off);
		if (!rc && !cache_covers(c, first_lsn, seg_off)) {
			rocksdb_iterator_t *it = NULL; /* index reads jump by 'X' keys */
			rc = cache_load(log, first_lsn, seg_off, c, &it);
			rocksdb_iter_destroy(it);
		}
		if (rc) {
			rc = lsn_log_block_error(log, first_lsn, seg_off, rc);
			goto out;
		}
		w.at = c->block.index_offset;
		if (w.at > want) {
			rc = -EBADMSG;
			goto out;
		}
		seg_off = c->block.seg_offset;
		for (uint32_t i = 0; i < c->block.count && !index_full(&w); i++) {
			index_emit(&w, c->block.first_lsn + i, seg_off, c->block.lengths[i]);
			seg_off += c->block.lengths[i];
		}
		if (w.at <= want) {
			rc = -EBADMSG; /* the block produced nothing: index is damaged */
			goto out;
		}
	}
	*got = end - off;
out:
	if (c == &local)
		lsn_read_cache_release(&local);
	return rc;
}
