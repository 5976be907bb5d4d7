/*
 * storage/store.c - store lifecycle (format, open, close), configuration,
 * and the table of logs.  Appends, reads and trims are in log_*.c.
 */
#include <dirent.h>
#include <stdatomic.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "storage/control.h"
#include "storage/diag.h"
#include "storage/snapshot.h"
#include "storage/store_internal.h"

#define STORE_MARKER "lsnfs.store"
#define STORE_FORMAT "lsnfs store format 1\n"

static char *path_join(const char *dir, const char *name)
{
	char *p = NULL;

	if (asprintf(&p, "%s/%s", dir, name) < 0)
		return NULL;
	return p;
}

/* RocksDB tuned for lsnfs: our values are already zstd-compressed blocks.
 * accept_loss: the operator mounts with recover=accept-loss. */
static int store_make_options(struct lsn_store *st, bool create, bool accept_loss)
{
	st->opts = rocksdb_options_create();
	st->table_opts = rocksdb_block_based_options_create();
	st->cache = rocksdb_cache_create_lru(32u << 20);
	st->ro = rocksdb_readoptions_create();
	st->ro_ahead = rocksdb_readoptions_create();
	st->wo = rocksdb_writeoptions_create();
	st->wo_sync = rocksdb_writeoptions_create();
	st->wo_nosync = rocksdb_writeoptions_create();
	if (!st->opts || !st->table_opts || !st->cache || !st->ro || !st->wo || !st->wo_sync ||
	    !st->wo_nosync)
		return -ENOMEM;
	rocksdb_block_based_options_set_block_cache(st->table_opts, st->cache);
	rocksdb_block_based_options_set_block_size(st->table_opts, 64u << 10);
	rocksdb_options_set_block_based_table_factory(st->opts, st->table_opts);
	rocksdb_options_set_create_if_missing(st->opts, create);
	rocksdb_options_set_error_if_exists(st->opts, create);
	rocksdb_options_set_compression(st->opts, rocksdb_no_compression);
	rocksdb_options_set_write_buffer_size(st->opts, 32u << 20);
	rocksdb_options_set_max_write_buffer_number(st->opts, 2);
	rocksdb_options_set_max_total_wal_size(st->opts, 128u << 20);
	rocksdb_options_set_max_background_jobs(st->opts, 2);
	rocksdb_options_set_keep_log_file_num(st->opts, 3);
	/* RocksDB's own LOG lives in the data directory; once the disk is full,
	 * a second failed log write aborts the process (assertion in Debian's
	 * build).  Only fatal lines are written; errors reach us as statuses. */
	rocksdb_options_set_info_log_level(st->opts, 4 /* FATAL_LEVEL */);
	rocksdb_options_set_max_log_file_size(st->opts, 4u << 20);
	rocksdb_options_set_max_open_files(st->opts, 256);
	rocksdb_options_set_target_file_size_base(st->opts, 64u << 20);
	/* WAL recovery: an incomplete last record (a crash or power cut in
	 * the middle of a write, which was never acknowledged) is dropped; any
	 * other damage fails the open, so the store is refused instead of
	 * coming back without the records after the damage (RocksDB's default,
	 * point-in-time recovery, stops replaying there without a word, and
	 * the control file may not claim the last LSN_CONTROL_PERIOD_MS yet). */
	/* recover=accept-loss: the operator accepts the loss, replay up to
	 * the damage. */
	rocksdb_options_set_wal_recovery_mode(st->opts, accept_loss ? 2 /* kPointInTimeRecovery */
								    : 0 /* kTolerateCorruptedTailRecords */);
	if (accept_loss)
		lsn_diag(LSN_DIAG_ERR, "recover=accept-loss: the WAL is replayed up to its first "
				       "damage; records after it are lost");
	/* Blocks read ahead are read once: they would only push the index
	 * and metadata out of the block cache. */
	rocksdb_readoptions_set_fill_cache(st->ro_ahead, 0);
	rocksdb_writeoptions_set_sync(st->wo_sync, 1);
	rocksdb_writeoptions_set_sync(st->wo, 0);
	rocksdb_writeoptions_set_sync(st->wo_nosync, 0);
	/* A batch of many lines holds consecutive 'R' keys: insert with hints. */
	rocksdb_writeoptions_set_memtable_insert_hint_per_batch(st->wo, 1);
	return 0;
}

static int store_open_db(struct lsn_store *st)
{
	char *dbpath = path_join(st->path, "db");
	char *err = NULL;
	int rc = 0;

	if (!dbpath)
		return -ENOMEM;
	st->db = rocksdb_open(st->opts, dbpath, &err);
	if (err)
		rc = lsn_rdb_errno(err, "open");
	free(dbpath);
	return rc;
}

static void store_free(struct lsn_store *st)
{
	if (!st)
		return;
	lsn_compress_stop(st);
	lsn_compactor_stop(st);
	lsn_control_close(st); /* after a failed open; a no-op after lsn_store_close */
	for (size_t i = 0; i < st->n_logs; i++)
		lsn_log_free(st->logs[i]);
	free(st->logs);
	if (st->db)
		rocksdb_close(st->db);
	if (st->opts)
		rocksdb_options_destroy(st->opts);
	if (st->table_opts)
		rocksdb_block_based_options_destroy(st->table_opts);
	if (st->cache)
		rocksdb_cache_destroy(st->cache);
	if (st->ro)
		rocksdb_readoptions_destroy(st->ro);
	if (st->ro_ahead)
		rocksdb_readoptions_destroy(st->ro_ahead);
	if (st->wo)
		rocksdb_writeoptions_destroy(st->wo);
	if (st->wo_sync)
		rocksdb_writeoptions_destroy(st->wo_sync);
	if (st->wo_nosync)
		rocksdb_writeoptions_destroy(st->wo_nosync);
	if (st->lock_fd >= 0)
		close(st->lock_fd); /* drops the flock */
	pthread_rwlock_destroy(&st->logs_lock);
	pthread_mutex_destroy(&st->cq_lock);
	pthread_mutex_destroy(&st->ctl_lock);
	pthread_cond_destroy(&st->ctl_cond);
	pthread_mutex_destroy(&st->comp_lock);
	pthread_mutex_destroy(&st->rdr_pool_lock);
	pthread_cond_destroy(&st->cq_cond);
	lsn_group_commit_release(&st->gc);
	free(st->path);
	free(st);
}

static struct lsn_store *store_alloc(const char *dir)
{
	struct lsn_store *st = calloc(1, sizeof(*st));

	if (!st)
		return NULL;
	st->lock_fd = -1;
	pthread_rwlock_init(&st->logs_lock, NULL);
	pthread_mutex_init(&st->cq_lock, NULL);
	pthread_mutex_init(&st->comp_lock, NULL);
	pthread_mutex_init(&st->rdr_pool_lock, NULL);
	pthread_cond_init(&st->cq_cond, NULL);
	pthread_mutex_init(&st->ctl_lock, NULL);
	pthread_cond_init(&st->ctl_cond, NULL);
	lsn_group_commit_init(&st->gc);
	st->path = strdup(dir);
	if (!st->path) {
		free(st);
		return NULL;
	}
	return st;
}

static int dir_is_empty(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int rc = 0;

	if (!d)
		return -errno;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			rc = -ENOTEMPTY;
			break;
		}
	}
	closedir(d);
	return rc;
}

static void put_config(rocksdb_writebatch_t *wb, const char *key, const char *value)
{
	struct lsn_key k;

	lsn_key_init(&k, 'C');
	lsn_key_str(&k, key);
	rocksdb_writebatch_put(wb, lsn_key_data(&k), k.len, value, strlen(value));
}

static void put_next_log_id(rocksdb_writebatch_t *wb, uint32_t id)
{
	unsigned char v[4];

	lsn_put_be32(v, id);
	rocksdb_writebatch_put(wb, "Mnext_log_id", 12, (const char *)v, 4);
}

static int write_marker(const char *dir)
{
	char *marker = path_join(dir, STORE_MARKER);
	int fd, rc = 0;

	if (!marker)
		return -ENOMEM;
	fd = open(marker, O_WRONLY | O_CREAT | O_EXCL, 0644);
	if (fd < 0) {
		rc = -errno;
		goto out;
	}
	if (write(fd, STORE_FORMAT, strlen(STORE_FORMAT)) != (ssize_t)strlen(STORE_FORMAT) ||
	    fsync(fd) != 0)
		rc = errno ? -errno : -EIO;
	close(fd);
out:
	free(marker);
	return rc;
}

int lsn_store_format(const char *dir, const struct lsn_config *cfg)
{
	struct lsn_store *st = NULL;
	rocksdb_writebatch_t *wb = NULL;
	char value[PATH_MAX];
	int rc;

	if (mkdir(dir, 0755) != 0 && errno != EEXIST)
		return -errno;
	rc = dir_is_empty(dir);
	if (rc)
		return rc;
	st = store_alloc(dir);
	if (!st)
		return -ENOMEM;
	rc = store_make_options(st, true, false);
	if (rc)
		goto out;
	rc = store_open_db(st);
	if (rc)
		goto out;
	wb = rocksdb_writebatch_create();
	for (size_t i = 0; lsn_config_key_at(i); i++) {
		const struct lsn_config_key *key = lsn_config_key_at(i);
		if (!(key->flags & LSN_KEY_STORED))
			continue;
		lsn_config_get(cfg, key->name, value, sizeof(value));
		put_config(wb, key->name, value);
	}
	put_next_log_id(wb, 1);
	rc = lsn_store_write(st, st->wo_sync, wb, "format");
	if (rc)
		goto out;
	rc = lsn_control_write(dir, &(struct lsn_control){ 0 }); /* no logs claimed yet */
	if (rc)
		goto out;
	/* The marker comes last: a directory without it is not a store. */
	rc = write_marker(dir);
out:
	if (wb)
		rocksdb_writebatch_destroy(wb);
	store_free(st);
	return rc;
}

static int store_lock(struct lsn_store *st)
{
	char *marker = path_join(st->path, STORE_MARKER);
	char head[64] = { 0 };
	int rc = 0;

	if (!marker)
		return -ENOMEM;
	st->lock_fd = open(marker, O_RDONLY | O_CLOEXEC);
	if (st->lock_fd < 0) {
		rc = errno == ENOENT ? -ENOENT : -errno;
		goto out;
	}
	if (read(st->lock_fd, head, sizeof(head) - 1) < 0 || strcmp(head, STORE_FORMAT) != 0) {
		rc = -EINVAL;
		goto out;
	}
	if (flock(st->lock_fd, LOCK_EX | LOCK_NB) != 0)
		rc = errno == EWOULDBLOCK ? -EBUSY : -errno;
out:
	free(marker);
	return rc;
}

static int store_load_config(struct lsn_store *st)
{
	rocksdb_iterator_t *it = rocksdb_create_iterator(st->db, st->ro);
	char why[128], key[64], value[PATH_MAX];
	char *err = NULL;
	int rc = 0;

	lsn_config_defaults(&st->cfg);
	for (rocksdb_iter_seek(it, "C", 1); rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
		size_t klen, vlen;
		const char *k = rocksdb_iter_key(it, &klen);
		const char *v = rocksdb_iter_value(it, &vlen);

		if (klen < 1 || k[0] != 'C')
			break;
		if (klen - 1 >= sizeof(key) || vlen >= sizeof(value)) {
			rc = -EBADMSG;
			break;
		}
		memcpy(key, k + 1, klen - 1);
		key[klen - 1] = '\0';
		memcpy(value, v, vlen);
		value[vlen] = '\0';
		if (lsn_config_set(&st->cfg, key, value, why) == -EINVAL) {
			lsn_diag(LSN_DIAG_ERR, "store config: %s", why);
			rc = -EBADMSG;
			break;
		}
	}
	rocksdb_iter_get_error(it, &err);
	if (err && !rc)
		rc = lsn_rdb_errno(err, "load config");
	else
		free(err);
	rocksdb_iter_destroy(it);
	return rc;
}

static int store_add_log(struct lsn_store *st, struct lsn_log *log)
{
	size_t pos = 0;

	if (st->n_logs == st->cap_logs) {
		size_t cap = st->cap_logs ? st->cap_logs * 2 : 16;
		void *p = realloc(st->logs, cap * sizeof(*st->logs));
		if (!p)
			return -ENOMEM;
		st->logs = p;
		st->cap_logs = cap;
	}
	while (pos < st->n_logs && strcmp(st->logs[pos]->name, log->name) < 0)
		pos++;
	memmove(st->logs + pos + 1, st->logs + pos, (st->n_logs - pos) * sizeof(*st->logs));
	st->logs[pos] = log;
	st->n_logs++;
	return 0;
}

static struct lsn_log *log_alloc(struct lsn_store *st, const char *name, const unsigned char *meta)
{
	struct lsn_log *log = calloc(1, sizeof(*log));

	if (!log)
		return NULL;
	log->store = st;
	snprintf(log->name, sizeof(log->name), "%s", name);
	log->id = lsn_get_be32(meta);
	log->persisted_lsn = lsn_get_be64(meta + 4);
	log->created_ns = (int64_t)lsn_get_be64(meta + 12);
	pthread_mutex_init(&log->lock, NULL);
	pthread_mutex_init(&log->snap_lock, NULL);
	pthread_cond_init(&log->pend_done, NULL);
	return log;
}

static int store_load_logs(struct lsn_store *st)
{
	rocksdb_iterator_t *it = rocksdb_create_iterator(st->db, st->ro);
	char name[LSN_NAME_MAX + 1];
	char *err = NULL;
	int rc = 0;

	for (rocksdb_iter_seek(it, "L", 1); rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
		size_t klen, vlen;
		const char *k = rocksdb_iter_key(it, &klen);
		const unsigned char *v = (const unsigned char *)rocksdb_iter_value(it, &vlen);
		struct lsn_log *log;

		if (klen < 1 || k[0] != 'L')
			break;
		if (klen - 1 > LSN_NAME_MAX || vlen != LSN_LOG_META_LEN) {
			rc = -EBADMSG;
			break;
		}
		memcpy(name, k + 1, klen - 1);
		name[klen - 1] = '\0';
		log = log_alloc(st, name, v);
		if (!log) {
			rc = -ENOMEM;
			break;
		}
		rc = lsn_log_load(log);
		if (!rc)
			rc = lsn_snapshot_gc(log);
		if (!rc)
			rc = store_add_log(st, log);
		if (rc) {
			lsn_diag(LSN_DIAG_ERR, "log %s: cannot load: %s", name, strerror(-rc));
			lsn_log_free(log);
			break;
		}
	}
	rocksdb_iter_get_error(it, &err);
	if (err && !rc)
		rc = lsn_rdb_errno(err, "load logs");
	else
		free(err);
	rocksdb_iter_destroy(it);
	return rc;
}

static int store_load_next_id(struct lsn_store *st)
{
	char *v = NULL;
	size_t vlen;
	int rc = lsn_rdb_get(st->db, st->ro, "Mnext_log_id", 12, &v, &vlen);

	if (rc)
		return rc == -ENOENT ? -EBADMSG : rc;
	if (vlen != 4)
		rc = -EBADMSG;
	else
		st->next_log_id = lsn_get_be32((unsigned char *)v);
	rocksdb_free(v);
	return rc;
}

int lsn_store_open(const char *dir, struct lsn_store **out)
{
	return lsn_store_open_with(dir, NULL, 0, out);
}

/* Apply "key=value" mount overrides to `cfg` with the config table's parser. */
static int config_apply_overrides(struct lsn_config *cfg, char *const *overrides, size_t n)
{
	char key[64], why[128];

	for (size_t i = 0; i < n; i++) {
		const char *eq = strchr(overrides[i], '=');
		int rc;

		if (!eq || (size_t)(eq - overrides[i]) >= sizeof(key))
			return -EINVAL;
		memcpy(key, overrides[i], (size_t)(eq - overrides[i]));
		key[eq - overrides[i]] = '\0';
		rc = lsn_config_set(cfg, key, eq + 1, why);
		if (rc) {
			lsn_diag(LSN_DIAG_ERR, "bad option %s: %s", overrides[i],
				 rc == -ENOENT ? "unknown key" : why);
			return -EINVAL;
		}
	}
	return 0;
}

int lsn_store_open_with(const char *dir, char *const *overrides, size_t n_overrides,
			struct lsn_store **out)
{
	struct lsn_store *st = store_alloc(dir);
	struct lsn_config wanted;
	int rc;

	*out = NULL;
	if (!st)
		return -ENOMEM;
	rc = store_lock(st);
	if (rc)
		goto out;
	/* The overrides on their own first: opening RocksDB needs recover=
	 * (its WAL recovery mode), and a bad option is refused before the
	 * store is touched.  They are applied to the stored config below. */
	lsn_config_defaults(&wanted);
	rc = config_apply_overrides(&wanted, overrides, n_overrides);
	if (rc)
		goto out;
	rc = store_make_options(st, false, wanted.recover_accept_loss);
	if (rc)
		goto out;
	rc = store_open_db(st);
	if (rc)
		goto out;
	rc = store_load_config(st);
	if (rc)
		goto out;
	rc = config_apply_overrides(&st->cfg, overrides, n_overrides);
	if (rc)
		goto out;
	atomic_store(&st->mode, (int)st->cfg.mode);
	rc = store_load_next_id(st);
	if (rc)
		goto out;
	rc = store_load_logs(st);
	if (rc)
		goto out;
	if (st->cfg.sync_always)
		rocksdb_writeoptions_set_sync(st->wo, 1);
	/* What was loaded is claimed only once it is durable. */
	rc = lsn_store_sync(st);
	if (!rc)
		rc = lsn_control_open(st);
	if (rc)
		goto out;
	rc = lsn_compactor_start(st);
	if (rc)
		goto out;
	*out = st;
	st = NULL;
out:
	store_free(st);
	return rc;
}

void lsn_store_close(struct lsn_store *store)
{
	rocksdb_flushoptions_t *fo;
	char *err = NULL;

	if (!store)
		return;
	lsn_reader_pool_stop(store); /* read-ahead jobs use the db */
	lsn_compress_stop(store); /* its last blocks are written before the flush */
	lsn_compactor_stop(store);
	if (store->db && atomic_load(&store->failed) == 0) {
		/* Everything acknowledged is already in the WAL; make it durable,
		 * then flush the memtables so the next mount replays no WAL. */
		lsn_store_sync(store);
		fo = rocksdb_flushoptions_create();
		rocksdb_flushoptions_set_wait(fo, 1);
		rocksdb_flush(store->db, fo, &err);
		if (err)
			lsn_rdb_errno(err, "close: flush");
		rocksdb_flushoptions_destroy(fo);
	}
	lsn_control_close(store); /* claims what the sync above made durable */
	store_free(store);
}

int lsn_store_override(struct lsn_store *store, const char *key, const char *value, char *why)
{
	int rc = lsn_config_set(&store->cfg, key, value, why);

	if (rc == 0 && strcmp(key, "sync") == 0)
		rocksdb_writeoptions_set_sync(store->wo, store->cfg.sync_always);
	return rc;
}

static bool key_is_stored(const char *key)
{
	return lsn_config_key_is(key, LSN_KEY_STORED);
}

int lsn_store_save_config(struct lsn_store *store, const struct lsn_config *cfg,
			  const char *const *keys)
{
	rocksdb_writebatch_t *wb;
	char value[PATH_MAX];
	int rc;

	for (const char *const *k = keys; *k; k++)
		if (!key_is_stored(*k))
			return -EINVAL;
	wb = rocksdb_writebatch_create();
	for (const char *const *k = keys; *k; k++) {
		lsn_config_get(cfg, *k, value, sizeof(value));
		put_config(wb, *k, value);
	}
	rc = lsn_store_write(store, store->wo_sync, wb, "save config");
	rocksdb_writebatch_destroy(wb);
	for (const char *const *k = keys; !rc && *k; k++) {
		lsn_config_get(cfg, *k, value, sizeof(value));
		lsn_config_set(&store->cfg, *k, value, NULL);
	}
	return rc;
}

int lsn_store_set_mode(struct lsn_store *store, enum lsn_mode mode)
{
	rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
	int rc;

	put_config(wb, "mode", lsn_mode_name(mode));
	rc = lsn_store_write(store, store->wo_sync, wb, "set mode");
	rocksdb_writebatch_destroy(wb);
	if (!rc)
		atomic_store(&store->mode, (int)mode);
	return rc;
}

/* ---- logs ------------------------------------------------------------- */

static struct lsn_log *find_live(struct lsn_store *st, const char *name)
{
	for (size_t i = 0; i < st->n_logs; i++)
		if (!st->logs[i]->removed && strcmp(st->logs[i]->name, name) == 0)
			return st->logs[i];
	return NULL;
}

int lsn_store_find_log(struct lsn_store *store, const char *name, struct lsn_log **out)
{
	struct lsn_log *log;

	if (!lsn_name_valid(name))
		return -EINVAL;
	pthread_rwlock_rdlock(&store->logs_lock);
	log = find_live(store, name);
	pthread_rwlock_unlock(&store->logs_lock);
	if (!log)
		return -ENOENT;
	*out = log;
	return 0;
}

int lsn_store_create_log(struct lsn_store *store, const char *name)
{
	rocksdb_writebatch_t *wb = NULL;
	struct lsn_segment_info first = { .first_lsn = 1, .last_lsn = 0 };
	unsigned char meta[LSN_LOG_META_LEN], seg[LSN_SEG_META_LEN];
	struct lsn_log *log = NULL;
	struct lsn_key k;
	int rc;

	if (!lsn_name_valid(name))
		return -EINVAL;
	pthread_rwlock_wrlock(&store->logs_lock);
	if (find_live(store, name)) {
		rc = -EEXIST;
		goto out;
	}
	first.mtime_ns = lsn_now_ns();
	lsn_put_be32(meta, store->next_log_id);
	lsn_put_be64(meta + 4, 0);
	lsn_put_be64(meta + 12, (uint64_t)first.mtime_ns);
	log = log_alloc(store, name, meta);
	if (!log) {
		rc = -ENOMEM;
		goto out;
	}
	rc = lsn_log_push_segment(log, &first);
	if (rc)
		goto out;
	log->open.first_lsn = 1;
	wb = rocksdb_writebatch_create();
	lsn_key_init(&k, 'L');
	lsn_key_str(&k, name);
	rocksdb_writebatch_put(wb, lsn_key_data(&k), k.len, (const char *)meta, sizeof(meta));
	lsn_seg_key(&k, log->id, 1);
	lsn_seg_meta_encode(&first, seg);
	rocksdb_writebatch_put(wb, lsn_key_data(&k), k.len, (const char *)seg, sizeof(seg));
	put_next_log_id(wb, store->next_log_id + 1);
	rc = lsn_store_write(store, store->wo_sync, wb, "create log");
	if (rc)
		goto out;
	rc = store_add_log(store, log);
	if (rc)
		goto out; /* the log exists on disk; it is found at next mount */
	store->next_log_id++;
	log = NULL;
	lsn_control_log_created(store); /* a failure only leaves the claim behind */
out:
	pthread_rwlock_unlock(&store->logs_lock);
	if (wb)
		rocksdb_writebatch_destroy(wb);
	lsn_log_free(log);
	return rc;
}

static void delete_prefix(rocksdb_writebatch_t *wb, char tag, uint32_t id)
{
	struct lsn_key lo, hi;

	lsn_key_init(&lo, tag);
	lsn_key_u32(&lo, id);
	hi = lo;
	lsn_key_successor(&hi);
	rocksdb_writebatch_delete_range(wb, lsn_key_data(&lo), lo.len, lsn_key_data(&hi), hi.len);
}

/*
 * Remove log `name` and everything of it (segments, blocks, holds,
 * snapshots) in one synced batch: after a crash it is fully there or fully
 * gone.  `purge` false: only a log whose records are all trimmed.
 * snap_lock first, so that no snapshot commit of the log is half done.
 */
static int remove_log(struct lsn_store *store, const char *name, bool purge)
{
	rocksdb_writebatch_t *wb = NULL;
	struct lsn_log *log;
	struct lsn_key k;
	uint64_t tail;
	int rc;

	if (!lsn_name_valid(name))
		return -EINVAL;
	rc = lsn_store_find_log(store, name, &log);
	if (rc)
		return rc;
	pthread_mutex_lock(&log->snap_lock);
	pthread_rwlock_wrlock(&store->logs_lock);
	if (log->removed || find_live(store, name) != log) {
		rc = -ENOENT;
		goto out_unlocked_log;
	}
	pthread_mutex_lock(&log->lock);
	tail = lsn_log_active(log)->last_lsn;
	if (!purge && log->segs[0].first_lsn <= tail) {
		rc = -ENOTEMPTY; /* some record is still retained */
		goto out;
	}
	/* The control file stops claiming the log before it goes. */
	rc = lsn_control_log_removing(store, log);
	if (rc)
		goto out;
	if (purge && log->n_holds > 0) {
		rc = -EBUSY;
		goto out;
	}
	wb = rocksdb_writebatch_create();
	lsn_key_init(&k, 'L');
	lsn_key_str(&k, name);
	rocksdb_writebatch_delete(wb, lsn_key_data(&k), k.len);
	delete_prefix(wb, 'S', log->id);
	delete_prefix(wb, 'B', log->id);
	delete_prefix(wb, 'X', log->id);
	delete_prefix(wb, 'R', log->id);
	delete_prefix(wb, 'H', log->id);
	delete_prefix(wb, 'P', log->id);
	delete_prefix(wb, 'Q', log->id);
	delete_prefix(wb, 'G', log->id);
	rc = lsn_store_write(store, store->wo_sync, wb, "remove log");
	if (!rc)
		log->removed = true;
out:
	pthread_mutex_unlock(&log->lock);
out_unlocked_log:
	pthread_rwlock_unlock(&store->logs_lock);
	pthread_mutex_unlock(&log->snap_lock);
	if (wb)
		rocksdb_writebatch_destroy(wb);
	if (!rc && purge) {
		/* The space comes back in the background, as after a trim. */
		static const char tags[] = "BPQRSX";

		for (const char *t = tags; *t; t++) {
			struct lsn_key lo, hi;

			lsn_key_init(&lo, *t);
			lsn_key_u32(&lo, log->id);
			hi = lo;
			lsn_key_successor(&hi);
			lsn_compactor_enqueue(store, &lo, &hi);
		}
	}
	return rc;
}

int lsn_store_remove_log(struct lsn_store *store, const char *name)
{
	return remove_log(store, name, false);
}

int lsn_store_purge_log(struct lsn_store *store, const char *name)
{
	return remove_log(store, name, true);
}

int lsn_store_list_logs(struct lsn_store *store, char ***names, size_t *n)
{
	char **v;
	size_t k = 0;

	pthread_rwlock_rdlock(&store->logs_lock);
	v = calloc(store->n_logs + 1, sizeof(*v));
	if (!v) {
		pthread_rwlock_unlock(&store->logs_lock);
		return -ENOMEM;
	}
	for (size_t i = 0; i < store->n_logs; i++) {
		if (store->logs[i]->removed)
			continue;
		v[k] = strdup(store->logs[i]->name);
		if (!v[k]) {
			pthread_rwlock_unlock(&store->logs_lock);
			lsn_names_free(v, k);
			return -ENOMEM;
		}
		k++;
	}
	pthread_rwlock_unlock(&store->logs_lock);
	*names = v;
	*n = k;
	return 0;
}

