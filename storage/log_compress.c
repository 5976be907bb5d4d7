/*
 * storage/log_compress.c - compressing closed blocks off the appending
 * thread.
 *
 * An append that fills a block (LSN_BLOCK_TARGET bytes) only cuts it: its
 * records are already in the batch as an 'R' key, so they are durable when
 * the append is (the durability contract does not depend on compression).
 * The cut block, with a copy of its records, is queued for the store's
 * compressors; a compressor compresses it with no lock held, then, under
 * the log's lock, writes every finished block at the front of the log's
 * pending list in one batch: 'B' and 'X' keys, the segment's 'S' as of the
 * last of them, and the deletion of their 'R' keys.  Blocks are written in
 * cut order, so 'S' never points past a block that is not written and a
 * crash at any moment leaves either the 'R' keys or the block: recovery
 * reads the open block back from 'R' keys as before.
 *
 * Until a block is written, reads take its bytes from the open block in
 * memory (storage/log_read.c reads every record from open.seg_offset on
 * from memory), so a reader sees the same bytes either way.
 *
 * A seal compresses what is still pending on the sealing thread (reusing
 * finished compressions) in its own batch (storage/log_append.c); the
 * compressors' late results for those blocks find no pending entry and
 * are dropped.  Trims touch sealed segments only, which have no pending
 * blocks.
 *
 * With compress_threads=0, or when the compressors cannot take a job, the
 * appending thread compresses and writes the block itself right after its
 * append (the behaviour before this file).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "storage/diag.h"
#include "storage/store_internal.h"

struct compress_job {
	struct lsn_log *log;
	uint64_t first_lsn; /* identifies the pending block: LSNs never repeat */
};

static struct lsn_pending *find_pending(struct lsn_log *log, uint64_t first_lsn)
{
	for (size_t i = 0; i < log->n_pend; i++)
		if (log->pend[i].first_lsn == first_lsn)
			return &log->pend[i];
	return NULL;
}

static int encode_pending(const struct lsn_pending *p, const uint32_t *lengths,
			  const unsigned char *payload, int level, unsigned char **out, size_t *len)
{
	return lsn_block_encode(p->first_lsn, p->count, lengths, payload, (uint32_t)p->len,
				p->seg_offset, p->index_offset, level, out, len);
}

static void put_block(rocksdb_writebatch_t *wb, uint32_t log_id, const struct lsn_pending *p)
{
	unsigned char off[8];
	struct lsn_key k;

	lsn_key_init(&k, 'B');
	lsn_key_u32(&k, log_id);
	lsn_key_u64(&k, p->closed.first_lsn);
	lsn_key_u64(&k, p->seg_offset);
	rocksdb_writebatch_put(wb, lsn_key_data(&k), k.len, (const char *)p->encoded,
			       p->encoded_len);
	lsn_key_init(&k, 'X');
	lsn_key_u32(&k, log_id);
	lsn_key_u64(&k, p->closed.first_lsn);
	lsn_key_u64(&k, p->index_offset);
	lsn_put_be64(off, p->seg_offset);
	rocksdb_writebatch_put(wb, lsn_key_data(&k), k.len, (const char *)off, 8);
}

static void pending_release(struct lsn_pending *p)
{
	free(p->copy);
	free(p->encoded);
	p->copy = NULL;
	p->encoded = NULL;
}

void lsn_compress_commit_ready(struct lsn_log *log)
{
	struct lsn_store *st = log->store;
	struct lsn_open_block *ob = &log->open;
	const struct lsn_config *cfg = lsn_store_config(st);
	rocksdb_writebatch_t *wb;
	size_t n = 0, byte = 0;
	uint32_t rec = 0, chunk = 0;
	unsigned char seg[LSN_SEG_META_LEN];
	struct lsn_key k;
	int rc;

	/* The finished prefix; a block a compressor failed on is compressed here. */
	for (; n < log->n_pend && log->pend[n].state == LSN_PENDING_DONE; n++) {
		struct lsn_pending *p = &log->pend[n];

		if (!p->encoded) {
			rc = encode_pending(p, ob->lengths + rec, ob->data + byte, cfg->compress_level,
					    &p->encoded, &p->encoded_len);
			if (rc)
				break;
		}
		rec += p->count;
		byte += p->len;
	}
	if (n == 0 || atomic_load(&st->failed))
		return;
	wb = rocksdb_writebatch_create();
	for (size_t i = 0; i < n; i++) {
		put_block(wb, log->id, &log->pend[i]);
		for (uint32_t c = 0; c < log->pend[i].n_chunks; c++, chunk++) {
			lsn_key_init(&k, 'R');
			lsn_key_u32(&k, log->id);
			lsn_key_u64(&k, ob->chunks[chunk]);
			rocksdb_writebatch_delete(wb, lsn_key_data(&k), k.len);
		}
	}
	lsn_seg_key(&k, log->id, log->pend[n - 1].closed.first_lsn);
	lsn_seg_meta_encode(&log->pend[n - 1].closed, seg);
	rocksdb_writebatch_put(wb, lsn_key_data(&k), k.len, (const char *)seg, sizeof(seg));
	/* The records are durable already (their 'R' keys): no sync needed. */
	rc = lsn_store_write(st, st->wo_nosync, wb, "write compressed blocks");
	rocksdb_writebatch_destroy(wb);
	if (rc)
		return; /* the store is read-only now; the 'R' keys still hold everything */

	/* The written blocks leave the open block buffer. */
	if (ob->count > rec)
		memmove(ob->lengths, ob->lengths + rec, (ob->count - rec) * sizeof(*ob->lengths));
	if (ob->len > byte)
		memmove(ob->data, ob->data + byte, ob->len - byte);
	ob->first_lsn += rec;
	ob->count -= rec;
	ob->len -= byte;
	ob->seg_offset = log->pend[n - 1].closed.bytes;
	ob->index_offset = log->pend[n - 1].closed.index_bytes;
	memmove(ob->chunks, ob->chunks + chunk, (ob->n_chunks - chunk) * sizeof(*ob->chunks));
	ob->n_chunks -= chunk;
	for (size_t i = 0; i < n; i++) {
		log->pend_bytes -= log->pend[i].len;
		pending_release(&log->pend[i]);
	}
	memmove(log->pend, log->pend + n, (log->n_pend - n) * sizeof(*log->pend));
	log->n_pend -= n;
	pthread_cond_broadcast(&log->pend_done);
}

static void compress_job_run(void *arg)
{
	struct compress_job *job = arg;
	struct lsn_log *log = job->log;
	int level = lsn_store_config(log->store)->compress_level;
	struct lsn_pending *p, work;
	unsigned char *enc = NULL;
	size_t enc_len = 0;
	int rc;

	pthread_mutex_lock(&log->lock);
	p = find_pending(log, job->first_lsn);
	if (!p || p->state != LSN_PENDING_QUEUED) {
		pthread_mutex_unlock(&log->lock);
		goto out; /* a seal wrote it already */
	}
	p->state = LSN_PENDING_BUSY;
	work = *p; /* the copy is ours now */
	p->copy = NULL;
	pthread_mutex_unlock(&log->lock);

	rc = encode_pending(&work, (const uint32_t *)work.copy,
			    work.copy + 4 * (size_t)work.count, level, &enc, &enc_len);
	free(work.copy);
	if (rc)
		lsn_diag(LSN_DIAG_WARN, "log %s: compressing the block at LSN %llu failed (%s); retried on write",
			 log->name, (unsigned long long)work.first_lsn, strerror(-rc));

	pthread_mutex_lock(&log->lock);
	p = find_pending(log, job->first_lsn);
	if (p && p->state == LSN_PENDING_BUSY) {
		p->state = LSN_PENDING_DONE;
		p->encoded = enc; /* NULL when it failed: commit_ready compresses it */
		p->encoded_len = enc_len;
		enc = NULL;
		lsn_compress_commit_ready(log);
	}
	pthread_mutex_unlock(&log->lock);
	free(enc);
out:
	free(job);
}

/*
 * Queue a job, starting the compressors at the first one.  Under
 * comp_lock, so that lsn_compress_stop() cannot tear the queue down under
 * a submitter (lock order: log->lock, comp_lock, the queue's lock).
 * -ESRCH when there are no compressors (compress_threads=0, or stopped).
 */
static int submit_job(struct lsn_store *st, struct compress_job *job)
{
	int rc = -ESRCH;

	pthread_mutex_lock(&st->comp_lock);
	if (!st->compressors.started && !st->comp_stopped && st->cfg.compress_threads > 0) {
		rc = lsn_workq_start(&st->compressors, st->cfg.compress_threads);
		if (rc) {
			lsn_diag(LSN_DIAG_WARN, "cannot start %u compressor threads (%s); compressing on the appending threads",
				 st->cfg.compress_threads, strerror(-rc));
			st->comp_stopped = true;
		}
	}
	if (st->compressors.started && !st->comp_stopped)
		rc = lsn_workq_submit(&st->compressors, compress_job_run, job);
	else
		rc = -ESRCH;
	pthread_mutex_unlock(&st->comp_lock);
	return rc;
}

void lsn_compress_submit(struct lsn_log *log)
{
	struct lsn_store *st = log->store;
	const struct lsn_config *cfg = lsn_store_config(st);
	bool inline_done = false;

	for (size_t i = 0; i < log->n_pend; i++) {
		struct lsn_pending *p = &log->pend[i];
		struct compress_job *job;

		if (p->state != LSN_PENDING_QUEUED || !p->copy || p->submitted)
			continue;
		job = malloc(sizeof(*job));
		if (job) {
			job->log = log;
			job->first_lsn = p->first_lsn;
			if (submit_job(st, job) == 0) {
				p->submitted = true;
				continue;
			}
			free(job);
		}
		/* Here, now: no compressor to take it. */
		if (encode_pending(p, (const uint32_t *)p->copy, p->copy + 4 * (size_t)p->count,
				   cfg->compress_level, &p->encoded, &p->encoded_len) != 0)
			p->encoded = NULL;
		free(p->copy);
		p->copy = NULL;
		p->state = LSN_PENDING_DONE;
		inline_done = true;
	}
	if (inline_done)
		lsn_compress_commit_ready(log);
}

void lsn_compress_backpressure(struct lsn_log *log)
{
	struct lsn_store *st = log->store;
	/* One block per compressor and one waiting: more does not go faster,
	 * and every waiting block's records can reach an SST file uncompressed
	 * (a memtable flush between their 'R' put and its delete), which the
	 * store's size shows until RocksDB compacts them away. */
	size_t max = ((size_t)st->cfg.compress_threads + 1) * LSN_BLOCK_TARGET;

	while (log->pend_bytes >= max && log->n_pend > 0 && !atomic_load(&st->failed))
		pthread_cond_wait(&log->pend_done, &log->lock);
}

void lsn_compress_stop(struct lsn_store *st)
{
	pthread_mutex_lock(&st->comp_lock);
	st->comp_stopped = true;
	pthread_mutex_unlock(&st->comp_lock);
	/* No job can be queued from now on (submit_job checks comp_stopped
	 * under the same lock); the queued ones run to the end. */
	lsn_workq_stop(&st->compressors);
}
