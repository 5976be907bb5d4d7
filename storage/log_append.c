/*
 * storage/log_append.c - appending records and sealing segments.
 *
 * One call is one transaction: everything it changes (records, blocks a
 * seal closes, segment metadata, new segments) goes into one WriteBatch,
 * and the in-memory state is changed only after that batch is written.  If
 * the write fails (disk full, I/O error) memory is rolled back and nothing
 * was appended.
 *
 * The open block buffer holds every record of the active segment that is
 * not yet written as a compressed block: first the blocks already cut and
 * waiting for a compressor (log->pend, storage/log_compress.c), then the
 * block being filled.  An append that fills a block only cuts it: its
 * records go into the batch as 'R' keys, one key ending at each cut, so
 * that every cut block owns whole 'R' keys; the compressors write it later.
 * A seal writes every block of the segment that is still pending, here, in
 * the sealing batch (a sealed segment is complete on disk).
 *
 * While a call runs, records [0, sealed) of the buffer belong to blocks a
 * seal in this call has written (still needed for rollback), and
 * [fill, count) to the block being filled.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "storage/control.h"
#include "storage/diag.h"
#include "storage/store_internal.h"

struct append_txn {
	struct lsn_log *log;
	rocksdb_writebatch_t *wb;
	struct lsn_segment_info cur;   /* draft of the segment being filled */
	struct lsn_segment_info cur_meta; /* 'S' to write for it when cur_dirty */
	bool cur_dirty;                /* a new segment started: cur_meta must be written */
	struct lsn_segment_info *done; /* drafts of segments sealed by this call */
	size_t n_done, cap_done;
	uint32_t saved_count;          /* records in the buffer before the call (all have 'R' keys) */
	size_t saved_len;
	bool chunks_deleted;           /* their 'R' keys are deleted by this batch */
	bool pend_consumed;            /* log->pend was written by a seal of this batch */
	uint32_t sealed;               /* records [0, sealed) are in written blocks */
	size_t sealed_byte;
	uint32_t fill;                 /* first record of the block being filled */
	size_t fill_byte;
	uint64_t fill_seg_off, fill_idx_off;
	uint32_t fill_chunks;          /* 'R' keys of earlier calls inside it */
	struct lsn_pending *cuts;      /* blocks this call cut, in order */
	uint32_t *cut_end;             /* buffer index just past each cut */
	size_t n_cuts, cap_cuts;
	int64_t now;
	int rc;
};

static void txn_begin(struct append_txn *t, struct lsn_log *log)
{
	struct lsn_open_block *ob = &log->open;
	uint32_t chunks = 0;

	memset(t, 0, sizeof(*t));
	t->log = log;
	t->wb = rocksdb_writebatch_create();
	t->cur = *lsn_log_active(log);
	t->saved_count = ob->count;
	t->saved_len = ob->len;
	t->fill_seg_off = ob->seg_offset;
	t->fill_idx_off = ob->index_offset;
	for (size_t i = 0; i < log->n_pend; i++) {
		t->fill += log->pend[i].count;
		t->fill_byte += log->pend[i].len;
		chunks += log->pend[i].n_chunks;
		t->fill_seg_off = log->pend[i].closed.bytes;
		t->fill_idx_off = log->pend[i].closed.index_bytes;
	}
	t->fill_chunks = ob->n_chunks - chunks;
	t->now = lsn_now_ns();
}

static void record_key(struct lsn_key *k, uint32_t id, uint64_t lsn)
{
	lsn_key_init(k, 'R');
	lsn_key_u32(k, id);
	lsn_key_u64(k, lsn);
}

static void put_segment(struct append_txn *t, const struct lsn_segment_info *s)
{
	unsigned char v[LSN_SEG_META_LEN];
	struct lsn_key k;

	lsn_seg_key(&k, t->log->id, s->first_lsn);
	lsn_seg_meta_encode(s, v);
	rocksdb_writebatch_put(t->wb, lsn_key_data(&k), k.len, (const char *)v, sizeof(v));
}

/* Put block p, whose records start at buffer record rec / byte `byte`;
 * a finished compression (a compressor's) is used as it is. */
static void write_block(struct append_txn *t, const struct lsn_pending *p, uint32_t rec,
			size_t byte)
{
	struct lsn_open_block *ob = &t->log->open;
	const struct lsn_config *cfg = lsn_store_config(t->log->store);
	unsigned char *val = NULL, off[8];
	const unsigned char *v;
	size_t vlen;
	struct lsn_key k;
	int rc;

	if (t->rc)
		return;
	if (p->state == LSN_PENDING_DONE && p->encoded) {
		v = p->encoded;
		vlen = p->encoded_len;
	} else {
		rc = lsn_block_encode(p->first_lsn, p->count, ob->lengths + rec, ob->data + byte,
				      (uint32_t)p->len, p->seg_offset, p->index_offset,
				      cfg->compress_level, &val, &vlen);
		if (rc) {
			t->rc = rc;
			return;
		}
		v = val;
	}
	lsn_key_init(&k, 'B');
	lsn_key_u32(&k, t->log->id);
	lsn_key_u64(&k, t->cur.first_lsn);
	lsn_key_u64(&k, p->seg_offset);
	rocksdb_writebatch_put(t->wb, lsn_key_data(&k), k.len, (const char *)v, vlen);
	free(val);

	lsn_key_init(&k, 'X');
	lsn_key_u32(&k, t->log->id);
	lsn_key_u64(&k, t->cur.first_lsn);
	lsn_key_u64(&k, p->index_offset);
	lsn_put_be64(off, p->seg_offset);
	rocksdb_writebatch_put(t->wb, lsn_key_data(&k), k.len, (const char *)off, 8);
}

/* The block being filled, [fill, count), described as a pending block. */
static void describe_fill(struct append_txn *t, struct lsn_pending *p)
{
	struct lsn_open_block *ob = &t->log->open;

	memset(p, 0, sizeof(*p));
	p->first_lsn = ob->first_lsn + t->fill;
	p->count = ob->count - t->fill;
	p->len = ob->len - t->fill_byte;
	p->seg_offset = t->fill_seg_off;
	p->index_offset = t->fill_idx_off;
	p->closed = t->cur;
	p->state = LSN_PENDING_QUEUED;
}

static void start_fill(struct append_txn *t)
{
	struct lsn_open_block *ob = &t->log->open;

	t->fill = ob->count;
	t->fill_byte = ob->len;
	t->fill_seg_off = t->cur.bytes;
	t->fill_idx_off = t->cur.index_bytes;
	t->fill_chunks = 0;
}

/* The block being filled is full: cut it for the compressors.  Its records
 * get their 'R' keys at commit (one ending here), so nothing is lost if the
 * compression never happens. */
static void cut_block(struct append_txn *t)
{
	struct lsn_open_block *ob = &t->log->open;
	struct lsn_pending *p;

	if (t->rc)
		return;
	if (t->n_cuts == t->cap_cuts) {
		size_t cap = t->cap_cuts ? t->cap_cuts * 2 : 4;
		void *a = realloc(t->cuts, cap * sizeof(*t->cuts));
		void *b = a ? realloc(t->cut_end, cap * sizeof(*t->cut_end)) : NULL;
		if (a)
			t->cuts = a;
		if (b)
			t->cut_end = b;
		if (!a || !b) {
			t->rc = -ENOMEM;
			return;
		}
		t->cap_cuts = cap;
	}
	p = &t->cuts[t->n_cuts];
	describe_fill(t, p);
	p->n_chunks = t->fill_chunks + 1; /* earlier calls' keys, and this call's up to here */
	p->copy = malloc(4 * (size_t)p->count + p->len);
	if (!p->copy) {
		t->rc = -ENOMEM;
		return;
	}
	memcpy(p->copy, ob->lengths + t->fill, 4 * (size_t)p->count);
	memcpy(p->copy + 4 * (size_t)p->count, ob->data + t->fill_byte, p->len);
	t->cut_end[t->n_cuts++] = ob->count;
	start_fill(t);
}

static void free_cuts(struct append_txn *t)
{
	for (size_t i = 0; i < t->n_cuts; i++)
		free(t->cuts[i].copy);
	t->n_cuts = 0;
}

/* Every record of the segment not in a written block goes into blocks now:
 * the log's pending ones, this call's cuts, the block being filled. */
static void seal_segment(struct append_txn *t)
{
	struct lsn_open_block *ob = &t->log->open;
	struct lsn_segment_info next;
	struct lsn_pending fill;
	uint32_t rec = t->sealed;
	size_t byte = t->sealed_byte;
	struct lsn_key k;

	if (t->rc)
		return;
	if (!t->pend_consumed) {
		for (size_t i = 0; i < t->log->n_pend; i++) {
			write_block(t, &t->log->pend[i], rec, byte);
			rec += t->log->pend[i].count;
			byte += t->log->pend[i].len;
		}
		t->pend_consumed = true;
	}
	for (size_t i = 0; i < t->n_cuts; i++) {
		write_block(t, &t->cuts[i], rec, byte);
		rec += t->cuts[i].count;
		byte += t->cuts[i].len;
	}
	free_cuts(t);
	if (ob->count > t->fill) {
		describe_fill(t, &fill);
		write_block(t, &fill, t->fill, t->fill_byte);
	}
	if (t->rc)
		return;
	/* Records of earlier calls (all of them: the buffer held only this
	 * segment's) now live in blocks: their 'R' keys go. */
	if (!t->chunks_deleted) {
		for (uint32_t i = 0; i < ob->n_chunks; i++) {
			record_key(&k, t->log->id, ob->chunks[i]);
			rocksdb_writebatch_delete(t->wb, lsn_key_data(&k), k.len);
		}
		t->chunks_deleted = true;
	}
	t->sealed = ob->count;
	t->sealed_byte = ob->len;

	if (t->n_done == t->cap_done) {
		size_t cap = t->cap_done ? t->cap_done * 2 : 4;
		void *p = realloc(t->done, cap * sizeof(*t->done));
		if (!p) {
			t->rc = -ENOMEM;
			return;
		}
		t->done = p;
		t->cap_done = cap;
	}
	t->cur.sealed = true;
	put_segment(t, &t->cur);
	t->done[t->n_done++] = t->cur;
	memset(&next, 0, sizeof(next));
	next.first_lsn = t->cur.last_lsn + 1;
	next.last_lsn = t->cur.last_lsn;
	next.mtime_ns = t->now;
	t->cur = next;
	t->cur_meta = next;
	t->cur_dirty = true;
	start_fill(t);
}

static void add_record(struct append_txn *t, const void *data, size_t len)
{
	struct lsn_open_block *ob = &t->log->open;
	const struct lsn_config *cfg = lsn_store_config(t->log->store);
	uint64_t lsn = t->cur.last_lsn + 1;
	int rc;

	if (t->rc)
		return;
	if (ob->count == 0)
		ob->first_lsn = lsn;
	rc = lsn_open_block_add(ob, data, len);
	if (rc) {
		t->rc = rc;
		return;
	}
	t->cur.index_bytes += lsn_index_line_len(lsn, t->cur.bytes, len);
	t->cur.last_lsn = lsn;
	t->cur.bytes += len;
	t->cur.mtime_ns = t->now;
	if (t->cur.bytes >= cfg->segment_size)
		seal_segment(t);
	else if (ob->len - t->fill_byte >= LSN_BLOCK_TARGET)
		cut_block(t);
}

/* One 'R' key for records [first, end) of the open block. */
static int put_chunk(struct append_txn *t, uint32_t first, uint32_t end, size_t byte,
		     size_t end_byte)
{
	struct lsn_open_block *ob = &t->log->open;
	uint32_t n = end - first;
	size_t vlen = 12 + 4 * (size_t)n + (end_byte - byte);
	unsigned char *val;
	struct lsn_key k;

	val = malloc(vlen);
	if (!val)
		return -ENOMEM;
	lsn_put_be64(val, (uint64_t)t->now);
	lsn_put_be32(val + 8, n);
	for (uint32_t i = 0; i < n; i++)
		lsn_put_be32(val + 12 + 4 * (size_t)i, ob->lengths[first + i]);
	if (end_byte > byte)
		memcpy(val + 12 + 4 * (size_t)n, ob->data + byte, end_byte - byte);
	record_key(&k, t->log->id, ob->first_lsn + first);
	rocksdb_writebatch_put(t->wb, lsn_key_data(&k), k.len, (const char *)val, vlen);
	free(val);
	return 0;
}

/* Byte offset in the buffer of record `rec` (counting from a known one). */
static size_t byte_of(const struct lsn_open_block *ob, uint32_t from, size_t from_byte,
		      uint32_t rec)
{
	for (uint32_t i = from; i < rec; i++)
		from_byte += ob->lengths[i];
	return from_byte;
}

/* Room for n more entries in a growable array; 0 or -ENOMEM. */
static int reserve(void **arr, size_t *cap, size_t need, size_t elem)
{
	size_t c = *cap ? *cap : 8;
	void *p;

	if (need <= *cap)
		return 0;
	while (c < need)
		c *= 2;
	p = realloc(*arr, c * elem);
	if (!p)
		return -ENOMEM;
	*arr = p;
	*cap = c;
	return 0;
}

/* Write the batch; on success fold the drafts into the log's memory. */
static int txn_commit(struct append_txn *t)
{
	struct lsn_log *log = t->log;
	struct lsn_store *st = log->store;
	struct lsn_open_block *ob = &log->open;
	uint64_t chunk_lsn[64];
	uint64_t *chunk_lsns = chunk_lsn;
	size_t n_chunk = 0, cap_chunks;
	uint32_t first;
	size_t byte;
	bool durable;
	int rc = t->rc;

	if (rc)
		goto rollback;
	if (t->n_cuts + 1 > sizeof(chunk_lsn) / sizeof(chunk_lsn[0])) {
		chunk_lsns = malloc((t->n_cuts + 1) * sizeof(*chunk_lsns));
		if (!chunk_lsns) {
			chunk_lsns = chunk_lsn;
			rc = -ENOMEM;
			goto rollback;
		}
	}
	/* This call's records not sealed: one 'R' key ending at each cut, one
	 * for the rest. */
	first = t->sealed > t->saved_count ? t->sealed : t->saved_count;
	byte = t->sealed > t->saved_count ? t->sealed_byte : t->saved_len;
	for (size_t i = 0; i <= t->n_cuts; i++) {
		uint32_t end = i < t->n_cuts ? t->cut_end[i] : ob->count;
		size_t end_byte;

		if (end <= first)
			continue;
		end_byte = byte_of(ob, first, byte, end);
		rc = put_chunk(t, first, end, byte, end_byte);
		if (rc)
			goto rollback;
		chunk_lsns[n_chunk++] = ob->first_lsn + first;
		first = end;
		byte = end_byte;
	}
	/* Only a new segment changes what 'S' says here (the compressors
	 * write it as blocks are written). */
	if (t->cur_dirty)
		put_segment(t, &t->cur_meta);
	/* Reserve everything first: after the write nothing may fail. */
	cap_chunks = ob->cap_chunks;
	rc = reserve((void **)&ob->chunks, &cap_chunks,
		     (t->chunks_deleted ? 0 : ob->n_chunks) + n_chunk, sizeof(*ob->chunks));
	ob->cap_chunks = (uint32_t)cap_chunks;
	if (!rc)
		rc = reserve((void **)&log->segs, &log->cap_segs, log->n_segs + t->n_done,
			     sizeof(*log->segs));
	if (!rc)
		rc = reserve((void **)&log->pend, &log->cap_pend,
			     (t->pend_consumed ? 0 : log->n_pend) + t->n_cuts, sizeof(*log->pend));
	if (rc)
		goto rollback;
	/* sync=always: durable before anyone sees them (the log's lock is
	 * held), one WAL sync shared with appends to other logs. */
	durable = st->cfg.sync_always;
	rc = durable ? lsn_store_write_durable(st, t->wb, "append")
		     : lsn_store_write(st, st->wo, t->wb, "append");
	if (rc)
		goto rollback;
	atomic_store(&log->appended_tail, t->cur.last_lsn);
	if (durable)
		lsn_control_note_durable(log, t->cur.last_lsn);

	for (size_t i = 0; i < t->n_done; i++)
		log->segs[log->n_segs - 1 + i] = t->done[i];
	log->n_segs += t->n_done;
	log->segs[log->n_segs - 1] = t->cur;

	if (t->pend_consumed) {
		/* A compressor still busy with one of them finds it gone. */
		for (size_t i = 0; i < log->n_pend; i++) {
			free(log->pend[i].copy);
			free(log->pend[i].encoded);
		}
		log->n_pend = 0;
		log->pend_bytes = 0;
	}
	/* Drop the records that went into blocks a seal wrote. */
	if (t->sealed > 0) {
		if (ob->count > t->sealed)
			memmove(ob->lengths, ob->lengths + t->sealed,
				(ob->count - t->sealed) * sizeof(*ob->lengths));
		if (ob->len > t->sealed_byte)
			memmove(ob->data, ob->data + t->sealed_byte, ob->len - t->sealed_byte);
		ob->first_lsn += t->sealed;
		ob->count -= t->sealed;
		ob->len -= t->sealed_byte;
		ob->seg_offset = 0; /* what is left starts the new active segment */
		ob->index_offset = 0;
	}
	if (ob->count == 0)
		ob->first_lsn = t->cur.last_lsn + 1;
	if (t->chunks_deleted)
		ob->n_chunks = 0;
	for (size_t i = 0; i < n_chunk; i++)
		ob->chunks[ob->n_chunks++] = chunk_lsns[i];
	for (size_t i = 0; i < t->n_cuts; i++) {
		log->pend[log->n_pend++] = t->cuts[i];
		log->pend_bytes += t->cuts[i].len;
	}
	t->n_cuts = 0; /* their copies belong to log->pend now */
	if (log->n_pend > 0)
		lsn_compress_submit(log);
	goto out;
rollback:
	ob->count = t->saved_count;
	ob->len = t->saved_len;
out:
	if (chunk_lsns != chunk_lsn)
		free(chunk_lsns);
	free_cuts(t);
	free(t->cuts);
	free(t->cut_end);
	rocksdb_writebatch_destroy(t->wb);
	free(t->done);
	return rc;
}

int lsn_log_append(struct lsn_log *log, const struct iovec *records, size_t n, uint64_t *last_lsn)
{
	struct append_txn t;
	int rc;

	for (size_t i = 0; i < n; i++)
		if (records[i].iov_len > LSN_RECORD_MAX)
			return -EFBIG;
	if (n == 0)
		return -EINVAL;
	pthread_mutex_lock(&log->lock);
	lsn_compress_backpressure(log);
	if (log->removed) {
		rc = -ENOENT;
		goto out;
	}
	txn_begin(&t, log);
	for (size_t i = 0; i < n && !t.rc; i++)
		add_record(&t, records[i].iov_base, records[i].iov_len);
	rc = txn_commit(&t);
	if (!rc && last_lsn)
		*last_lsn = lsn_log_active(log)->last_lsn;
out:
	pthread_mutex_unlock(&log->lock);
	return rc;
}

int lsn_log_seal(struct lsn_log *log)
{
	struct append_txn t;
	int rc = 0;

	pthread_mutex_lock(&log->lock);
	if (lsn_log_active(log)->last_lsn < lsn_log_active(log)->first_lsn)
		goto out; /* an empty segment stays open */
	txn_begin(&t, log);
	seal_segment(&t);
	rc = txn_commit(&t);
out:
	pthread_mutex_unlock(&log->lock);
	return rc;
}

int lsn_log_sync(struct lsn_log *log)
{
	return lsn_store_sync(log->store);
}
