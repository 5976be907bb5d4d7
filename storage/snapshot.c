/*
 * storage/snapshot.c - committed snapshots (see snapshot.h for the design).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "storage/crc32c.h"
#include "storage/diag.h"
#include "storage/fileio.h"
#include "storage/snapshot.h"
#include "storage/store_internal.h"

#define SNAP_META_LEN 44

static void snap_key(struct lsn_key *k, uint32_t id, uint64_t lsn)
{
	lsn_key_init(k, 'P');
	lsn_key_u32(k, id);
	lsn_key_u64(k, lsn);
}

/* 'G' <id> <lsn>: the staging file this commit consumes (see lsn_snapshot_commit). */
static void consumed_key(struct lsn_key *k, uint32_t id, uint64_t lsn)
{
	lsn_key_init(k, 'G');
	lsn_key_u32(k, id);
	lsn_key_u64(k, lsn);
}

static void chunk_key(struct lsn_key *k, uint32_t id, uint64_t lsn, uint32_t chunk)
{
	lsn_key_init(k, 'Q');
	lsn_key_u32(k, id);
	lsn_key_u64(k, lsn);
	lsn_key_u32(k, chunk);
}

static void meta_encode(const struct lsn_snapshot_info *s, unsigned char *v)
{
	lsn_put_be64(v, s->size);
	lsn_put_be64(v + 8, (uint64_t)s->mtime_ns);
	lsn_put_be32(v + 16, s->crc);
	lsn_put_be32(v + 20, s->chunks);
	lsn_put_be32(v + 24, s->archived ? 1 : 0);
	lsn_put_be64(v + 28, s->archive_size);
	lsn_put_be32(v + 36, s->archive_crc);
	lsn_put_be32(v + 40, 0);
}

static int meta_decode(uint64_t lsn, const unsigned char *v, size_t len,
		       struct lsn_snapshot_info *s)
{
	if (len != SNAP_META_LEN)
		return -EBADMSG;
	s->lsn = lsn;
	s->size = lsn_get_be64(v);
	s->mtime_ns = (int64_t)lsn_get_be64(v + 8);
	s->crc = lsn_get_be32(v + 16);
	s->chunks = lsn_get_be32(v + 20);
	s->archived = lsn_get_be32(v + 24) & 1;
	s->archive_size = lsn_get_be64(v + 28);
	s->archive_crc = lsn_get_be32(v + 36);
	if (s->chunks != (s->size + LSN_SNAPSHOT_CHUNK - 1) / LSN_SNAPSHOT_CHUNK)
		return -EBADMSG;
	return 0;
}

int lsn_snapshot_get(struct lsn_log *log, uint64_t lsn, struct lsn_snapshot_info *info)
{
	struct lsn_store *st = log->store;
	struct lsn_key k;
	char *v = NULL;
	size_t vlen;
	int rc;

	snap_key(&k, log->id, lsn);
	rc = lsn_rdb_get(st->db, st->ro, lsn_key_data(&k), k.len, &v, &vlen);
	if (rc)
		return rc;
	rc = meta_decode(lsn, (unsigned char *)v, vlen, info);
	rocksdb_free(v);
	return rc;
}

/* Under the log's lock: may a snapshot at lsn be committed now? */
static int commit_allowed(struct lsn_log *log, uint64_t lsn)
{
	uint64_t trim_point = log->segs[0].first_lsn - 1;
	uint64_t tail = lsn_log_active(log)->last_lsn;

	if (lsn < 1 || lsn < trim_point || lsn > tail) {
		lsn_diag(LSN_DIAG_WARN,
			 "log %s: snapshot %llu refused: its LSN must be between the trim point %llu and the tail %llu",
			 log->name, (unsigned long long)lsn, (unsigned long long)trim_point,
			 (unsigned long long)tail);
		return -EINVAL;
	}
	return 0;
}

static void delete_chunks(rocksdb_writebatch_t *wb, uint32_t id, uint64_t lsn)
{
	struct lsn_key lo, hi;

	lsn_key_init(&lo, 'Q');
	lsn_key_u32(&lo, id);
	lsn_key_u64(&lo, lsn);
	hi = lo;
	lsn_key_successor(&hi);
	rocksdb_writebatch_delete_range(wb, lsn_key_data(&lo), lo.len, lsn_key_data(&hi), hi.len);
}

/* Write the chunk frames of the file; the 'P' record comes afterwards. */
static int write_chunks(struct lsn_log *log, int fd, uint64_t lsn, struct lsn_snapshot_info *s)
{
	struct lsn_store *st = log->store;
	unsigned char *raw = malloc(LSN_SNAPSHOT_CHUNK);
	size_t bound = ZSTD_compressBound(LSN_SNAPSHOT_CHUNK);
	unsigned char *out = malloc(bound);
	ZSTD_CCtx *cctx = ZSTD_createCCtx();
	rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
	uint64_t off = 0;
	int rc = 0;

	if (!raw || !out || !cctx) {
		rc = -ENOMEM;
		goto out;
	}
	ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, st->cfg.compress_level);
	ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1);
	delete_chunks(wb, log->id, lsn); /* leftovers of an interrupted commit */
	rc = lsn_store_write(st, st->wo, wb, "snapshot chunks cleanup");
	rocksdb_writebatch_clear(wb);
	for (uint32_t chunk = 0; rc == 0; chunk++) {
		struct lsn_key k;
		size_t got = 0, n;

		rc = lsn_pread_full(fd, raw, LSN_SNAPSHOT_CHUNK, off, &got);
		if (rc || got == 0)
			break;
		n = ZSTD_compress2(cctx, out, bound, raw, got);
		if (ZSTD_isError(n)) {
			lsn_diag(LSN_DIAG_ERR, "snapshot compress: %s", ZSTD_getErrorName(n));
			rc = -EIO;
			break;
		}
		s->crc = lsn_crc32c(s->crc, raw, got);
		chunk_key(&k, log->id, lsn, chunk);
		rocksdb_writebatch_put(wb, lsn_key_data(&k), k.len, (const char *)out, n);
		rc = lsn_store_write(st, st->wo, wb, "snapshot chunk");
		rocksdb_writebatch_clear(wb);
		if (rc)
			break;
		off += got;
		s->chunks = chunk + 1;
		if (got < LSN_SNAPSHOT_CHUNK)
			break;
	}
	s->size = off;
out:
	rocksdb_writebatch_destroy(wb);
	ZSTD_freeCCtx(cctx);
	free(raw);
	free(out);
	return rc;
}

int lsn_snapshot_commit(struct lsn_log *log, const char *path, uint64_t lsn)
{
	struct lsn_store *st = log->store;
	struct lsn_snapshot_info s = { .lsn = lsn }, existing;
	unsigned char meta[SNAP_META_LEN];
	rocksdb_writebatch_t *wb = NULL;
	struct lsn_key k;
	struct stat sb;
	const char *base = strrchr(path, '/');
	unsigned char *consumed = NULL;
	size_t consumed_len;
	int fd, rc;

	base = base ? base + 1 : path;
	pthread_mutex_lock(&log->snap_lock);
	pthread_mutex_lock(&log->lock);
	rc = commit_allowed(log, lsn);
	pthread_mutex_unlock(&log->lock);
	if (rc)
		goto out;
	rc = lsn_snapshot_get(log, lsn, &existing);
	if (rc != -ENOENT) {
		rc = rc == 0 ? -EEXIST : rc;
		goto out;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		goto out;
	}
	rc = fstat(fd, &sb) != 0 ? -errno : write_chunks(log, fd, lsn, &s);
	close(fd);
	if (rc)
		goto out;
	s.mtime_ns = lsn_now_ns();
	meta_encode(&s, meta);
	snap_key(&k, log->id, lsn);
	wb = rocksdb_writebatch_create();
	rocksdb_writebatch_put(wb, lsn_key_data(&k), k.len, (const char *)meta, sizeof(meta));
	/* Like rename(2), a crash must leave exactly one of the two names: the
	 * batch that makes the snapshot exist also says which staging file it
	 * consumed (inode and name), so that the next open removes that file
	 * if the unlink below never happened (lsn_snapshot_gc). */
	consumed_len = 8 + strlen(base);
	consumed = malloc(consumed_len);
	if (!consumed) {
		rc = -ENOMEM;
		goto out;
	}
	lsn_put_be64(consumed, (uint64_t)sb.st_ino);
	memcpy(consumed + 8, base, consumed_len - 8);
	consumed_key(&k, log->id, lsn);
	rocksdb_writebatch_put(wb, lsn_key_data(&k), k.len, (const char *)consumed, consumed_len);
	/* The trim point may have moved while we were compressing. */
	pthread_mutex_lock(&log->lock);
	rc = commit_allowed(log, lsn);
	if (!rc)
		rc = lsn_store_write(st, st->wo_sync, wb, "snapshot commit");
	pthread_mutex_unlock(&log->lock);
	if (rc == -EINVAL) {
		/* Refused after all: its chunks must not linger. */
		rocksdb_writebatch_clear(wb);
		delete_chunks(wb, log->id, lsn);
		lsn_store_write(st, st->wo, wb, "snapshot chunks cleanup");
	}
	if (rc)
		goto out;
	if (unlink(path) != 0) {
		lsn_diag(LSN_DIAG_WARN, "snapshot %llu committed but staging file %s stays: %s",
			 (unsigned long long)lsn, path, strerror(errno));
		goto out; /* the next open tries again */
	}
	/* Synced: the inode number may be reused by a new staging file. */
	rocksdb_writebatch_clear(wb);
	rocksdb_writebatch_delete(wb, lsn_key_data(&k), k.len);
	lsn_store_write(st, st->wo_sync, wb, "snapshot staging consumed");
out:
	pthread_mutex_unlock(&log->snap_lock);
	if (wb)
		rocksdb_writebatch_destroy(wb);
	free(consumed);
	return rc;
}

int lsn_snapshot_list(struct lsn_log *log, struct lsn_snapshot_info **out, size_t *n)
{
	struct lsn_store *st = log->store;
	rocksdb_iterator_t *it = rocksdb_create_iterator(st->db, st->ro);
	struct lsn_snapshot_info *v = NULL;
	size_t count = 0, cap = 0;
	struct lsn_key k;
	char *err = NULL;
	int rc = 0;

	lsn_key_init(&k, 'P');
	lsn_key_u32(&k, log->id);
	for (rocksdb_iter_seek(it, lsn_key_data(&k), k.len); rocksdb_iter_valid(it);
	     rocksdb_iter_next(it)) {
		size_t klen, vlen;
		const unsigned char *key = (const unsigned char *)rocksdb_iter_key(it, &klen);
		const unsigned char *val = (const unsigned char *)rocksdb_iter_value(it, &vlen);

		if (klen != k.len + 8 || memcmp(key, k.b, k.len) != 0)
			break;
		if (count == cap) {
			void *p;
			cap = cap ? cap * 2 : 8;
			p = realloc(v, cap * sizeof(*v));
			if (!p) {
				rc = -ENOMEM;
				break;
			}
			v = p;
		}
		rc = meta_decode(lsn_get_be64(key + k.len), val, vlen, &v[count]);
		if (rc)
			break;
		count++;
	}
	rocksdb_iter_get_error(it, &err);
	if (err && !rc)
		rc = lsn_rdb_errno(err, "list snapshots");
	else
		free(err);
	rocksdb_iter_destroy(it);
	if (rc) {
		free(v);
		return rc;
	}
	*out = v;
	*n = count;
	return 0;
}

int lsn_snapshot_remove(struct lsn_log *log, uint64_t lsn)
{
	struct lsn_store *st = log->store;
	struct lsn_snapshot_info info;
	rocksdb_writebatch_t *wb;
	struct lsn_key k;
	int rc;

	pthread_mutex_lock(&log->snap_lock);
	rc = lsn_snapshot_get(log, lsn, &info);
	if (rc)
		goto out;
	wb = rocksdb_writebatch_create();
	snap_key(&k, log->id, lsn);
	rocksdb_writebatch_delete(wb, lsn_key_data(&k), k.len);
	delete_chunks(wb, log->id, lsn);
	rc = lsn_store_write(st, st->wo_sync, wb, "snapshot remove");
	rocksdb_writebatch_destroy(wb);
out:
	pthread_mutex_unlock(&log->snap_lock);
	return rc;
}

int lsn_snapshot_set_archived(struct lsn_log *log, uint64_t lsn, bool archived,
			      uint64_t archive_size, uint32_t archive_crc)
{
	struct lsn_store *st = log->store;
	struct lsn_snapshot_info info;
	unsigned char meta[SNAP_META_LEN];
	rocksdb_writebatch_t *wb;
	struct lsn_key k;
	int rc;

	pthread_mutex_lock(&log->snap_lock);
	rc = lsn_snapshot_get(log, lsn, &info);
	if (rc)
		goto out;
	info.archived = archived;
	info.archive_size = archive_size;
	info.archive_crc = archive_crc;
	meta_encode(&info, meta);
	snap_key(&k, log->id, lsn);
	wb = rocksdb_writebatch_create();
	rocksdb_writebatch_put(wb, lsn_key_data(&k), k.len, (const char *)meta, sizeof(meta));
	rc = lsn_store_write(st, st->wo_sync, wb, "snapshot archived mark");
	rocksdb_writebatch_destroy(wb);
out:
	pthread_mutex_unlock(&log->snap_lock);
	return rc;
}

void lsn_snapshot_cache_release(struct lsn_snapshot_cache *c)
{
	if (!c)
		return;
	free(c->data);
	c->data = NULL;
	c->len = 0;
	c->chunk = -1;
}

static int load_chunk(struct lsn_log *log, uint64_t lsn, uint32_t chunk, size_t expect,
		      struct lsn_snapshot_cache *c)
{
	struct lsn_store *st = log->store;
	struct lsn_key k;
	char *v = NULL;
	size_t vlen;
	int rc;

	chunk_key(&k, log->id, lsn, chunk);
	rc = lsn_rdb_get(st->db, st->ro, lsn_key_data(&k), k.len, &v, &vlen);
	if (rc)
		return rc == -ENOENT ? -EBADMSG : rc;
	if (!c->data) {
		c->data = malloc(LSN_SNAPSHOT_CHUNK);
		if (!c->data) {
			rocksdb_free(v);
			return -ENOMEM;
		}
	}
	c->chunk = -1;
	rc = lsn_zstd_decompress(v, vlen, c->data, expect);
	rocksdb_free(v);
	if (rc)
		return rc;
	c->lsn = lsn;
	c->chunk = chunk;
	c->len = expect;
	return 0;
}

int lsn_snapshot_read(struct lsn_log *log, uint64_t lsn, uint64_t off, void *buf, size_t len,
		      size_t *got, struct lsn_snapshot_cache *cache)
{
	struct lsn_snapshot_cache local = { .chunk = -1 };
	struct lsn_snapshot_cache *c = cache ? cache : &local;
	struct lsn_snapshot_info info;
	unsigned char *out = buf;
	uint64_t end, pos;
	int rc;

	*got = 0;
	rc = lsn_snapshot_get(log, lsn, &info);
	if (rc)
		return rc;
	if (off >= info.size)
		return 0;
	end = off + len < info.size ? off + len : info.size;
	for (pos = off; pos < end;) {
		uint32_t chunk = (uint32_t)(pos / LSN_SNAPSHOT_CHUNK);
		uint64_t base = (uint64_t)chunk * LSN_SNAPSHOT_CHUNK;
		size_t expect = info.size - base < LSN_SNAPSHOT_CHUNK ? (size_t)(info.size - base)
								       : LSN_SNAPSHOT_CHUNK;
		size_t n;

		if (c->chunk != (int64_t)chunk || c->lsn != lsn) {
			rc = load_chunk(log, lsn, chunk, expect, c);
			if (rc)
				goto out;
		}
		n = (size_t)(base + c->len - pos);
		if (n > end - pos)
			n = (size_t)(end - pos);
		memcpy(out + (pos - off), c->data + (pos - base), n);
		pos += n;
	}
	*got = (size_t)(end - off);
out:
	if (c == &local)
		lsn_snapshot_cache_release(&local);
	return rc;
}

int lsn_snapshot_export(struct lsn_log *log, uint64_t lsn, int fd, uint64_t *size, uint32_t *crc)
{
	struct lsn_store *st = log->store;
	struct lsn_snapshot_info info;
	int rc;

	*size = 0;
	*crc = 0;
	rc = lsn_snapshot_get(log, lsn, &info);
	if (rc)
		return rc;
	if (info.chunks == 0) {
		/* No chunks: still a valid .zst stream, one empty frame. */
		unsigned char *frame;
		size_t n;

		rc = lsn_zstd_compress("", 0, 1, &frame, &n);
		if (rc)
			return rc;
		rc = lsn_write_full(fd, frame, n);
		*crc = lsn_crc32c(0, frame, n);
		*size = n;
		free(frame);
		return rc;
	}
	for (uint32_t chunk = 0; chunk < info.chunks; chunk++) {
		struct lsn_key k;
		char *v = NULL;
		size_t vlen;

		chunk_key(&k, log->id, lsn, chunk);
		rc = lsn_rdb_get(st->db, st->ro, lsn_key_data(&k), k.len, &v, &vlen);
		if (rc)
			return rc == -ENOENT ? -EBADMSG : rc;
		rc = lsn_write_full(fd, v, vlen);
		*crc = lsn_crc32c(*crc, v, vlen);
		*size += vlen;
		rocksdb_free(v);
		if (rc)
			return rc;
	}
	return 0;
}

/* Staging files whose commit went through but whose unlink did not (a
 * crash in between): remove them, then their 'G' records. */
static int remove_consumed(struct lsn_log *log)
{
	struct lsn_store *st = log->store;
	rocksdb_iterator_t *it = rocksdb_create_iterator(st->db, st->ro);
	rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
	char dir[PATH_MAX] = "", path[PATH_MAX + 256];
	struct lsn_key k, hi;
	size_t n = 0;
	int rc = 0;

	lsn_key_init(&k, 'G');
	lsn_key_u32(&k, log->id);
	for (rocksdb_iter_seek(it, lsn_key_data(&k), k.len); rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
		size_t klen, vlen;
		const unsigned char *key = (const unsigned char *)rocksdb_iter_key(it, &klen);
		const unsigned char *val = (const unsigned char *)rocksdb_iter_value(it, &vlen);
		struct stat sb;

		if (klen != k.len + 8 || memcmp(key, k.b, k.len) != 0)
			break;
		n++;
		if (vlen <= 8 || vlen - 8 > 255 || memchr(val + 8, '/', vlen - 8) ||
		    memchr(val + 8, '\0', vlen - 8))
			continue; /* not a name we wrote: just drop the record */
		if (!dir[0] && (rc = lsn_staging_dir(log, dir, sizeof(dir))) != 0)
			break;
		snprintf(path, sizeof(path), "%s/%.*s", dir, (int)(vlen - 8), (const char *)val + 8);
		if (stat(path, &sb) == 0 && (uint64_t)sb.st_ino == lsn_get_be64(val)) {
			if (unlink(path) != 0) {
				rc = -errno;
				break;
			}
			lsn_diag(LSN_DIAG_INFO, "log %s: removed staging file %s, committed before a crash",
				 log->name, path);
		}
	}
	rocksdb_iter_destroy(it);
	if (!rc && n) {
		hi = k;
		lsn_key_successor(&hi);
		rocksdb_writebatch_delete_range(wb, lsn_key_data(&k), k.len, lsn_key_data(&hi), hi.len);
		rc = lsn_store_write(st, st->wo_sync, wb, "snapshot staging consumed");
	}
	rocksdb_writebatch_destroy(wb);
	return rc;
}

int lsn_snapshot_gc(struct lsn_log *log)
{
	struct lsn_store *st = log->store;
	rocksdb_iterator_t *it = rocksdb_create_iterator(st->db, st->ro);
	rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
	struct lsn_snapshot_info info;
	struct lsn_key k;
	size_t orphans = 0;
	int rc = remove_consumed(log);

	if (rc) {
		rocksdb_iter_destroy(it);
		rocksdb_writebatch_destroy(wb);
		return rc;
	}
	lsn_key_init(&k, 'Q');
	lsn_key_u32(&k, log->id);
	/* One seek per snapshot, not one step per chunk: mount must not read
	 * every snapshot's data. */
	for (rocksdb_iter_seek(it, lsn_key_data(&k), k.len); rocksdb_iter_valid(it);) {
		size_t klen;
		const unsigned char *key = (const unsigned char *)rocksdb_iter_key(it, &klen);
		struct lsn_key next;
		uint64_t lsn;

		if (klen != k.len + 12 || memcmp(key, k.b, k.len) != 0)
			break;
		lsn = lsn_get_be64(key + k.len);
		if (lsn_snapshot_get(log, lsn, &info) == -ENOENT) {
			delete_chunks(wb, log->id, lsn);
			orphans++;
		}
		if (lsn == UINT64_MAX)
			break;
		lsn_key_init(&next, 'Q');
		lsn_key_u32(&next, log->id);
		lsn_key_u64(&next, lsn + 1);
		rocksdb_iter_seek(it, lsn_key_data(&next), next.len);
	}
	rocksdb_iter_destroy(it);
	if (orphans) {
		lsn_diag(LSN_DIAG_INFO, "log %s: removed %zu uncommitted snapshot(s) left by a crash",
			 log->name, orphans);
		rc = lsn_store_write(st, st->wo_sync, wb, "snapshot gc");
	}
	rocksdb_writebatch_destroy(wb);
	return rc;
}
