/*
 * storage/log_append.c - appending records and sealing segments.
 *
 * One call is one transaction: everything it changes (records, closed
 * blocks, segment metadata, new segments) goes into one WriteBatch, and the
 * in-memory state is changed only after that batch is written.  If the
 * write fails (disk full, I/O error) memory is rolled back and nothing was
 * appended.
 *
 * The open block buffer holds the records of the active segment that are
 * not yet compressed.  While a call runs, records [0, bstart) of the buffer
 * belong to blocks this call has closed (still needed for rollback), and
 * [bstart, count) to the block being filled.
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
	struct lsn_segment_info cur_closed; /* cur as of its last closed block */
	bool cur_dirty;                /* cur_closed must be written */
	struct lsn_segment_info *done; /* drafts of segments sealed by this call */
	size_t n_done, cap_done;
	uint32_t saved_count;          /* records in the buffer before the call (all have 'R' keys) */
	bool chunks_deleted;           /* their 'R' keys are deleted by this batch */
	size_t saved_len;
	uint32_t bstart;               /* first record of the block being filled */
	size_t bstart_byte;
	uint64_t bstart_seg_off, bstart_idx_off;
	int64_t now;
	int rc;
};

static void txn_begin(struct append_txn *t, struct lsn_log *log)
{
	struct lsn_open_block *ob = &log->open;

	memset(t, 0, sizeof(*t));
	t->log = log;
	t->wb = rocksdb_writebatch_create();
	t->cur = *lsn_log_active(log);
	t->saved_count = ob->count;
	t->saved_len = ob->len;
	t->bstart_seg_off = ob->seg_offset;
	t->bstart_idx_off = ob->index_offset;
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

/* Compress records [bstart, count) into one block of the current segment. */
static void close_block(struct append_txn *t)
{
	struct lsn_open_block *ob = &t->log->open;
	const struct lsn_config *cfg = lsn_store_config(t->log->store);
	uint32_t n = ob->count - t->bstart;
	unsigned char *val = NULL, off[8];
	size_t vlen;
	struct lsn_key k;
	int rc;

	if (t->rc || n == 0)
		return;
	rc = lsn_block_encode(ob->first_lsn + t->bstart, n, ob->lengths + t->bstart,
			      ob->data + t->bstart_byte, (uint32_t)(ob->len - t->bstart_byte),
			      t->bstart_seg_off, t->bstart_idx_off, cfg->compress_level, &val, &vlen);
	if (rc) {
		t->rc = rc;
		return;
	}
	lsn_key_init(&k, 'B');
	lsn_key_u32(&k, t->log->id);
	lsn_key_u64(&k, t->cur.first_lsn);
	lsn_key_u64(&k, t->bstart_seg_off);
	rocksdb_writebatch_put(t->wb, lsn_key_data(&k), k.len, (const char *)val, vlen);
	free(val);

	lsn_key_init(&k, 'X');
	lsn_key_u32(&k, t->log->id);
	lsn_key_u64(&k, t->cur.first_lsn);
	lsn_key_u64(&k, t->bstart_idx_off);
	lsn_put_be64(off, t->bstart_seg_off);
	rocksdb_writebatch_put(t->wb, lsn_key_data(&k), k.len, (const char *)off, 8);

	/* Records of earlier calls (all of them: they sit at the start of the
	 * open block) now live in this block: their 'R' keys go. */
	if (!t->chunks_deleted && t->bstart < t->saved_count) {
		for (uint32_t i = 0; i < ob->n_chunks; i++) {
			record_key(&k, t->log->id, ob->chunks[i]);
			rocksdb_writebatch_delete(t->wb, lsn_key_data(&k), k.len);
		}
		t->chunks_deleted = true;
	}
	t->bstart = ob->count;
	t->bstart_byte = ob->len;
	t->bstart_seg_off = t->cur.bytes;
	t->bstart_idx_off = t->cur.index_bytes;
	t->cur_closed = t->cur;
	t->cur_dirty = true;
}

static void seal_segment(struct append_txn *t)
{
	struct lsn_segment_info next;

	close_block(t);
	if (t->rc)
		return;
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
	t->cur_closed = next;
	t->cur_dirty = true;
	t->bstart_seg_off = 0;
	t->bstart_idx_off = 0;
}

static void add_record(struct append_txn *t, const void *data, size_t len)
{
	struct lsn_open_block *ob = &t->log->open;
	const struct lsn_config *cfg = lsn_store_config(t->log->store);
	uint64_t lsn = t->cur.last_lsn + 1;
	int rc;

	if (t->rc)
		return;
	if (ob->count == 0 && t->bstart == 0)
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
	if (ob->len - t->bstart_byte >= LSN_BLOCK_TARGET)
		close_block(t);
	if (t->cur.bytes >= cfg->segment_size)
		seal_segment(t);
}

/* One 'R' key for records [first, count) of the open block. */
static int put_chunk(struct append_txn *t, uint32_t first, size_t byte)
{
	struct lsn_open_block *ob = &t->log->open;
	uint32_t n = ob->count - first;
	size_t vlen = 12 + 4 * (size_t)n + (ob->len - byte);
	unsigned char *val;
	struct lsn_key k;

	/* Room for the chunk's entry, so nothing can fail after the write. */
	if (ob->n_chunks == ob->cap_chunks) {
		int rc = lsn_open_block_note_chunk(ob, 0);
		if (rc)
			return rc;
		ob->n_chunks--;
	}
	val = malloc(vlen);
	if (!val)
		return -ENOMEM;
	lsn_put_be64(val, (uint64_t)t->now);
	lsn_put_be32(val + 8, n);
	for (uint32_t i = 0; i < n; i++)
		lsn_put_be32(val + 12 + 4 * (size_t)i, ob->lengths[first + i]);
	if (ob->len > byte)
		memcpy(val + 12 + 4 * (size_t)n, ob->data + byte, ob->len - byte);
	record_key(&k, t->log->id, ob->first_lsn + first);
	rocksdb_writebatch_put(t->wb, lsn_key_data(&k), k.len, (const char *)val, vlen);
	free(val);
	return 0;
}

/* Write the batch; on success fold the drafts into the log's memory. */
static int txn_commit(struct append_txn *t)
{
	struct lsn_log *log = t->log;
	struct lsn_store *st = log->store;
	struct lsn_open_block *ob = &log->open;
	uint32_t first;
	size_t byte;
	int rc = t->rc;

	if (rc)
		goto rollback;
	/* This call's records still in the open block: one 'R' key for all. */
	first = t->bstart > t->saved_count ? t->bstart : t->saved_count;
	byte = t->bstart > t->saved_count ? t->bstart_byte : t->saved_len;
	if (first < ob->count) {
		rc = put_chunk(t, first, byte);
		if (rc)
			goto rollback;
	}
	/* Only a closed block or a new segment changes what 'S' says. */
	if (t->cur_dirty)
		put_segment(t, &t->cur_closed);
	/* Reserve the segment table first: after the write nothing may fail. */
	if (log->n_segs + t->n_done > log->cap_segs) {
		size_t cap = log->cap_segs;
		void *p;
		while (cap < log->n_segs + t->n_done)
			cap *= 2;
		p = realloc(log->segs, cap * sizeof(*log->segs));
		if (!p) {
			rc = -ENOMEM;
			goto rollback;
		}
		log->segs = p;
		log->cap_segs = cap;
	}
	rc = lsn_store_write(st, st->wo, t->wb, "append");
	if (rc)
		goto rollback;
	atomic_store(&log->appended_tail, t->cur.last_lsn);
	if (st->cfg.sync_always) /* st->wo syncs: these records are durable */
		lsn_control_note_durable(log, t->cur.last_lsn);

	for (size_t i = 0; i < t->n_done; i++)
		log->segs[log->n_segs - 1 + i] = t->done[i];
	log->n_segs += t->n_done;
	log->segs[log->n_segs - 1] = t->cur;

	/* Drop the records that went into closed blocks (none, usually). */
	if (t->bstart > 0 && ob->count > t->bstart)
		memmove(ob->lengths, ob->lengths + t->bstart,
			(ob->count - t->bstart) * sizeof(*ob->lengths));
	if (t->bstart_byte > 0 && ob->len > t->bstart_byte)
		memmove(ob->data, ob->data + t->bstart_byte, ob->len - t->bstart_byte);
	ob->first_lsn += t->bstart;
	ob->count -= t->bstart;
	ob->len -= t->bstart_byte;
	ob->seg_offset = t->bstart_seg_off;
	ob->index_offset = t->bstart_idx_off;
	if (ob->count == 0)
		ob->first_lsn = t->cur.last_lsn + 1;
	if (t->chunks_deleted)
		ob->n_chunks = 0;
	if (first < ob->count + t->bstart) /* a chunk was written (room reserved) */
		ob->chunks[ob->n_chunks++] = ob->first_lsn + (first - t->bstart);
	goto out;
rollback:
	ob->count = t->saved_count;
	ob->len = t->saved_len;
out:
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
