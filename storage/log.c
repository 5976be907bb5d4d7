/*
 * storage/log.c - a log's in-memory state: loading it at open, the segment
 * table, consumer state (persisted_lsn) and reader holds.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage/diag.h"
#include "storage/store_internal.h"

void lsn_seg_key(struct lsn_key *k, uint32_t id, uint64_t first)
{
	lsn_key_init(k, 'S');
	lsn_key_u32(k, id);
	lsn_key_u64(k, first);
}

void lsn_seg_meta_encode(const struct lsn_segment_info *s, unsigned char *out)
{
	lsn_put_be64(out, s->first_lsn);
	lsn_put_be64(out + 8, s->last_lsn);
	lsn_put_be64(out + 16, s->bytes);
	lsn_put_be64(out + 24, s->index_bytes);
	lsn_put_be64(out + 32, (uint64_t)s->mtime_ns);
	lsn_put_be32(out + 40, s->sealed ? 1 : 0);
}

int lsn_seg_meta_decode(const unsigned char *v, size_t len, struct lsn_segment_info *s)
{
	if (len != LSN_SEG_META_LEN)
		return -EBADMSG;
	s->first_lsn = lsn_get_be64(v);
	s->last_lsn = lsn_get_be64(v + 8);
	s->bytes = lsn_get_be64(v + 16);
	s->index_bytes = lsn_get_be64(v + 24);
	s->mtime_ns = (int64_t)lsn_get_be64(v + 32);
	s->sealed = lsn_get_be32(v + 40) & 1;
	if (s->first_lsn == 0 || s->last_lsn + 1 < s->first_lsn)
		return -EBADMSG;
	return 0;
}

int lsn_log_push_segment(struct lsn_log *log, const struct lsn_segment_info *s)
{
	if (log->n_segs == log->cap_segs) {
		size_t cap = log->cap_segs ? log->cap_segs * 2 : 8;
		void *p = realloc(log->segs, cap * sizeof(*log->segs));
		if (!p)
			return -ENOMEM;
		log->segs = p;
		log->cap_segs = cap;
	}
	log->segs[log->n_segs++] = *s;
	return 0;
}

void lsn_log_free(struct lsn_log *log)
{
	if (!log)
		return;
	pthread_mutex_destroy(&log->lock);
	pthread_mutex_destroy(&log->snap_lock);
	pthread_cond_destroy(&log->pend_done);
	for (size_t i = 0; i < log->n_pend; i++) {
		free(log->pend[i].copy);
		free(log->pend[i].encoded);
	}
	free(log->pend);
	free(log->segs);
	free(log->open.lengths);
	free(log->open.data);
	free(log->open.chunks);
	free(log->holds);
	free(log);
}

/* Iterate every key of <tag><id>, calling fn(key-suffix, value). */
typedef int (*prefix_fn)(struct lsn_log *log, const unsigned char *suffix, size_t slen,
			 const unsigned char *val, size_t vlen);

static int scan_prefix(struct lsn_log *log, char tag, prefix_fn fn)
{
	struct lsn_store *st = log->store;
	rocksdb_iterator_t *it = rocksdb_create_iterator(st->db, st->ro);
	struct lsn_key k;
	char *err = NULL;
	int rc = 0;

	lsn_key_init(&k, tag);
	lsn_key_u32(&k, log->id);
	for (rocksdb_iter_seek(it, lsn_key_data(&k), k.len); rocksdb_iter_valid(it);
	     rocksdb_iter_next(it)) {
		size_t klen, vlen;
		const unsigned char *key = (const unsigned char *)rocksdb_iter_key(it, &klen);
		const unsigned char *val = (const unsigned char *)rocksdb_iter_value(it, &vlen);

		if (klen < k.len || memcmp(key, k.b, k.len) != 0)
			break;
		rc = fn(log, key + k.len, klen - k.len, val, vlen);
		if (rc)
			break;
	}
	rocksdb_iter_get_error(it, &err);
	if (err && !rc)
		rc = lsn_rdb_errno(err, "scan");
	else
		free(err);
	rocksdb_iter_destroy(it);
	return rc;
}

static int load_segment(struct lsn_log *log, const unsigned char *suffix, size_t slen,
			const unsigned char *val, size_t vlen)
{
	struct lsn_segment_info s;
	int rc;

	if (slen != 8)
		return -EBADMSG;
	rc = lsn_seg_meta_decode(val, vlen, &s);
	if (rc)
		return rc;
	if (s.first_lsn != lsn_get_be64(suffix))
		return -EBADMSG;
	/* Segments must tile the log without gaps. */
	if (log->n_segs > 0 && log->segs[log->n_segs - 1].last_lsn + 1 != s.first_lsn)
		return -EBADMSG;
	return lsn_log_push_segment(log, &s);
}

static int open_block_reserve(struct lsn_open_block *ob, uint32_t count, size_t len)
{
	if (count > ob->cap_count) {
		uint32_t cap = ob->cap_count ? ob->cap_count : 256;
		void *p;
		while (cap < count)
			cap *= 2;
		p = realloc(ob->lengths, cap * sizeof(*ob->lengths));
		if (!p)
			return -ENOMEM;
		ob->lengths = p;
		ob->cap_count = cap;
	}
	if (len > ob->cap) {
		size_t cap = ob->cap ? ob->cap : 64 * 1024;
		void *p;
		while (cap < len)
			cap *= 2;
		p = realloc(ob->data, cap);
		if (!p)
			return -ENOMEM;
		ob->data = p;
		ob->cap = cap;
	}
	return 0;
}

int lsn_open_block_add(struct lsn_open_block *ob, const void *data, size_t len)
{
	int rc = open_block_reserve(ob, ob->count + 1, ob->len + len);

	if (rc)
		return rc;
	ob->lengths[ob->count++] = (uint32_t)len;
	if (len)
		memcpy(ob->data + ob->len, data, len);
	ob->len += len;
	return 0;
}

int lsn_open_block_note_chunk(struct lsn_open_block *ob, uint64_t lsn)
{
	if (ob->n_chunks == ob->cap_chunks) {
		uint32_t cap = ob->cap_chunks ? ob->cap_chunks * 2 : 64;
		void *p = realloc(ob->chunks, cap * sizeof(*ob->chunks));
		if (!p)
			return -ENOMEM;
		ob->chunks = p;
		ob->cap_chunks = cap;
	}
	ob->chunks[ob->n_chunks++] = lsn;
	return 0;
}

static int load_records(struct lsn_log *log, const unsigned char *suffix, size_t slen,
			const unsigned char *val, size_t vlen)
{
	struct lsn_open_block *ob = &log->open;
	const unsigned char *payload;
	uint64_t lsn, total = 0;
	uint32_t count;
	int64_t when;
	int rc;

	if (slen != 8 || vlen < 12)
		return -EBADMSG;
	lsn = lsn_get_be64(suffix);
	when = (int64_t)lsn_get_be64(val);
	count = lsn_get_be32(val + 8);
	if (count == 0 || (vlen - 12) / 4 < count)
		return -EBADMSG;
	for (uint32_t i = 0; i < count; i++)
		total += lsn_get_be32(val + 12 + 4 * (size_t)i);
	if (total != vlen - 12 - 4 * (uint64_t)count)
		return -EBADMSG;
	if (ob->count == 0)
		ob->first_lsn = lsn;
	else if (lsn != ob->first_lsn + ob->count)
		return -EBADMSG;
	if (when > ob->last_append_ns)
		ob->last_append_ns = when;
	payload = val + 12 + 4 * (size_t)count;
	for (uint32_t i = 0; i < count; i++) {
		uint32_t len = lsn_get_be32(val + 12 + 4 * (size_t)i);
		if (len > LSN_RECORD_MAX)
			return -EBADMSG;
		rc = lsn_open_block_add(ob, payload, len);
		if (rc)
			return rc;
		payload += len;
	}
	return lsn_open_block_note_chunk(ob, lsn);
}

static int load_hold(struct lsn_log *log, const unsigned char *suffix, size_t slen,
		     const unsigned char *val, size_t vlen)
{
	struct lsn_hold *h;
	void *p;

	if (slen < 1 || slen > LSN_NAME_MAX || vlen != 8)
		return -EBADMSG;
	p = realloc(log->holds, (log->n_holds + 1) * sizeof(*log->holds));
	if (!p)
		return -ENOMEM;
	log->holds = p;
	h = &log->holds[log->n_holds++];
	memcpy(h->name, suffix, slen);
	h->name[slen] = '\0';
	h->lsn = lsn_get_be64(val);
	return 0;
}

int lsn_log_load(struct lsn_log *log)
{
	struct lsn_open_block *ob = &log->open;
	struct lsn_segment_info *act;
	int rc;

	rc = scan_prefix(log, 'S', load_segment);
	if (rc)
		return rc;
	if (log->n_segs == 0)
		return -EBADMSG;
	rc = scan_prefix(log, 'R', load_records);
	if (rc)
		return rc;
	rc = scan_prefix(log, 'H', load_hold);
	if (rc)
		return rc;
	act = lsn_log_active(log);
	if (act->sealed)
		return -EBADMSG;
	/* The 'S' value ends at the last closed block; the open block's
	 * records start right after it and extend the segment to the tail. */
	if (ob->count == 0)
		ob->first_lsn = act->last_lsn + 1;
	if (ob->first_lsn != act->last_lsn + 1)
		return -EBADMSG;
	ob->seg_offset = act->bytes;
	ob->index_offset = act->index_bytes;
	for (uint32_t i = 0; i < ob->count; i++) {
		act->index_bytes += lsn_index_line_len(ob->first_lsn + i, act->bytes, ob->lengths[i]);
		act->bytes += ob->lengths[i];
		act->last_lsn++;
	}
	if (ob->last_append_ns > act->mtime_ns)
		act->mtime_ns = ob->last_append_ns;
	return 0;
}

/* ---- queries ---------------------------------------------------------- */

const char *lsn_log_name(const struct lsn_log *log)
{
	return log->name;
}

void lsn_log_info(struct lsn_log *log, struct lsn_log_info *info)
{
	memset(info, 0, sizeof(*info));
	pthread_mutex_lock(&log->lock);
	info->first_lsn = log->segs[0].first_lsn;
	info->trim_point = info->first_lsn - 1;
	info->tail_lsn = lsn_log_active(log)->last_lsn;
	info->persisted_lsn = log->persisted_lsn;
	info->n_segments = log->n_segs;
	for (size_t i = 0; i < log->n_segs; i++)
		info->retained_bytes += log->segs[i].bytes;
	info->created_ns = log->created_ns;
	info->mtime_ns = lsn_log_active(log)->mtime_ns;
	pthread_mutex_unlock(&log->lock);
}

int lsn_log_segments(struct lsn_log *log, struct lsn_segment_info **segs, size_t *n)
{
	int rc = 0;

	pthread_mutex_lock(&log->lock);
	*segs = malloc(log->n_segs * sizeof(**segs));
	if (*segs) {
		memcpy(*segs, log->segs, log->n_segs * sizeof(**segs));
		*n = log->n_segs;
	} else {
		rc = -ENOMEM;
	}
	pthread_mutex_unlock(&log->lock);
	return rc;
}

/* Binary search under the lock. */
struct lsn_segment_info *lsn_log_find_segment(struct lsn_log *log, uint64_t first_lsn)
{
	size_t lo = 0, hi = log->n_segs;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (log->segs[mid].first_lsn < first_lsn)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < log->n_segs && log->segs[lo].first_lsn == first_lsn)
		return &log->segs[lo];
	return NULL;
}

int lsn_log_segment(struct lsn_log *log, uint64_t first_lsn, struct lsn_segment_info *info)
{
	struct lsn_segment_info *s;
	int rc = -ENOENT;

	pthread_mutex_lock(&log->lock);
	s = lsn_log_find_segment(log, first_lsn);
	if (s) {
		*info = *s;
		rc = 0;
	}
	pthread_mutex_unlock(&log->lock);
	return rc;
}

/* ---- consumer state and holds ----------------------------------------- */

static void log_meta_encode(const struct lsn_log *log, uint64_t persisted, unsigned char *out)
{
	lsn_put_be32(out, log->id);
	lsn_put_be64(out + 4, persisted);
	lsn_put_be64(out + 12, (uint64_t)log->created_ns);
}

int lsn_log_set_persisted(struct lsn_log *log, uint64_t lsn)
{
	struct lsn_store *st = log->store;
	unsigned char meta[LSN_LOG_META_LEN];
	rocksdb_writebatch_t *wb;
	struct lsn_key k;
	int rc;

	pthread_mutex_lock(&log->lock);
	if (lsn < log->persisted_lsn || lsn > lsn_log_active(log)->last_lsn) {
		rc = -EINVAL;
		goto out;
	}
	log_meta_encode(log, lsn, meta);
	lsn_key_init(&k, 'L');
	lsn_key_str(&k, log->name);
	wb = rocksdb_writebatch_create();
	rocksdb_writebatch_put(wb, lsn_key_data(&k), k.len, (const char *)meta, sizeof(meta));
	rc = lsn_store_write(st, st->wo_sync, wb, "set persisted_lsn");
	rocksdb_writebatch_destroy(wb);
	if (!rc)
		log->persisted_lsn = lsn;
out:
	pthread_mutex_unlock(&log->lock);
	return rc;
}

static struct lsn_hold *hold_find(struct lsn_log *log, const char *name)
{
	for (size_t i = 0; i < log->n_holds; i++)
		if (strcmp(log->holds[i].name, name) == 0)
			return &log->holds[i];
	return NULL;
}

static void hold_key(struct lsn_key *k, const struct lsn_log *log, const char *name)
{
	lsn_key_init(k, 'H');
	lsn_key_u32(k, log->id);
	lsn_key_str(k, name);
}

int lsn_log_hold_set(struct lsn_log *log, const char *name, uint64_t lsn)
{
	struct lsn_store *st = log->store;
	rocksdb_writebatch_t *wb = NULL;
	unsigned char v[8];
	struct lsn_hold *h;
	struct lsn_key k;
	int rc;

	if (!lsn_name_valid(name))
		return -EINVAL;
	pthread_mutex_lock(&log->lock);
	h = hold_find(log, name);
	if (!h) {
		void *p = realloc(log->holds, (log->n_holds + 1) * sizeof(*log->holds));
		if (!p) {
			rc = -ENOMEM;
			goto out;
		}
		log->holds = p;
	}
	hold_key(&k, log, name);
	lsn_put_be64(v, lsn);
	wb = rocksdb_writebatch_create();
	rocksdb_writebatch_put(wb, lsn_key_data(&k), k.len, (const char *)v, 8);
	rc = lsn_store_write(st, st->wo_sync, wb, "set hold");
	if (rc)
		goto out;
	if (!h) {
		h = &log->holds[log->n_holds++];
		snprintf(h->name, sizeof(h->name), "%s", name);
	}
	h->lsn = lsn;
out:
	pthread_mutex_unlock(&log->lock);
	if (wb)
		rocksdb_writebatch_destroy(wb);
	return rc;
}

int lsn_log_hold_get(struct lsn_log *log, const char *name, uint64_t *lsn)
{
	struct lsn_hold *h;
	int rc = -ENOENT;

	pthread_mutex_lock(&log->lock);
	h = hold_find(log, name);
	if (h) {
		*lsn = h->lsn;
		rc = 0;
	}
	pthread_mutex_unlock(&log->lock);
	return rc;
}

int lsn_log_hold_remove(struct lsn_log *log, const char *name)
{
	struct lsn_store *st = log->store;
	rocksdb_writebatch_t *wb;
	struct lsn_hold *h;
	struct lsn_key k;
	int rc;

	pthread_mutex_lock(&log->lock);
	h = hold_find(log, name);
	if (!h) {
		rc = -ENOENT;
		goto out;
	}
	hold_key(&k, log, name);
	wb = rocksdb_writebatch_create();
	rocksdb_writebatch_delete(wb, lsn_key_data(&k), k.len);
	rc = lsn_store_write(st, st->wo_sync, wb, "remove hold");
	rocksdb_writebatch_destroy(wb);
	if (!rc)
		*h = log->holds[--log->n_holds];
out:
	pthread_mutex_unlock(&log->lock);
	return rc;
}

static int hold_cmp(const void *a, const void *b)
{
	return strcmp(((const struct lsn_hold *)a)->name, ((const struct lsn_hold *)b)->name);
}

int lsn_log_holds(struct lsn_log *log, struct lsn_hold **holds, size_t *n)
{
	int rc = 0;

	pthread_mutex_lock(&log->lock);
	*holds = malloc((log->n_holds + 1) * sizeof(**holds));
	if (*holds) {
		if (log->n_holds)
			memcpy(*holds, log->holds, log->n_holds * sizeof(**holds));
		*n = log->n_holds;
	} else {
		rc = -ENOMEM;
	}
	pthread_mutex_unlock(&log->lock);
	if (!rc)
		qsort(*holds, *n, sizeof(**holds), hold_cmp);
	return rc;
}
