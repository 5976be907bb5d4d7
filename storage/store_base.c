/*
 * storage/store_base.c - what every part of the store uses: the one gate
 * all RocksDB writes and WAL syncs pass (a failed write turns the store
 * read-only), the wall clock of records, and the store's plain accessors.
 *
 * Kept apart from store.c (lifecycle and the table of logs) so that logs
 * and snapshots depend on this file alone and store.c sits above them:
 * no call cycle inside storage/.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "storage/control.h"
#include "storage/diag.h"
#include "storage/store_internal.h"

int64_t lsn_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int store_poison(struct lsn_store *st, int rc, const char *what)
{
	int expected = 0;

	if (rc == -EINVAL || rc == -ENOMEM || rc == -ENOENT)
		return rc; /* the request was bad, the store is fine */
	if (atomic_compare_exchange_strong(&st->failed, &expected, rc))
		lsn_diag(LSN_DIAG_ERR,
			 "%s failed: %s; the store is read-only from now on: free the space or fix the "
			 "device, then remount (every acknowledged record is safe)",
			 what, strerror(-rc));
	return rc;
}

int lsn_store_write(struct lsn_store *st, const rocksdb_writeoptions_t *wo,
		    rocksdb_writebatch_t *wb, const char *what)
{
	int rc = atomic_load(&st->failed);

	if (rc)
		return rc;
	rc = lsn_rdb_write(st->db, wo, wb, what);
	return rc ? store_poison(st, rc, what) : 0;
}

int lsn_store_sync(struct lsn_store *st)
{
	int rc = atomic_load(&st->failed);
	struct lsn_control_mark mark;

	if (rc)
		return rc;
	/* What is appended now is durable once the WAL sync returns: the
	 * control file may claim it from then on (storage/control.h). */
	lsn_control_mark_appended(st, &mark);
	rc = lsn_store_sync_wal(st, "sync");
	lsn_control_mark_durable(&mark, rc);
	return rc;
}

int lsn_store_sync_wal(struct lsn_store *st, const char *what)
{
	int rc = atomic_load(&st->failed);
	char *err = NULL;

	if (rc)
		return rc;
	rocksdb_flush_wal(st->db, 1, &err);
	return err ? store_poison(st, lsn_rdb_errno(err, what), what) : 0;
}

const struct lsn_config *lsn_store_config(const struct lsn_store *store)
{
	return &store->cfg;
}

const char *lsn_store_path(const struct lsn_store *store)
{
	return store->path;
}

enum lsn_mode lsn_store_mode(const struct lsn_store *store)
{
	return (enum lsn_mode)atomic_load(&((struct lsn_store *)store)->mode);
}

int lsn_store_tmpdir(const struct lsn_store *store, char *buf, size_t n)
{
	if ((size_t)snprintf(buf, n, "%s/tmp", store->path) >= n)
		return -ENAMETOOLONG;
	return 0;
}

void lsn_names_free(char **names, size_t n)
{
	if (!names)
		return;
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

int lsn_staging_dir(struct lsn_log *log, char *buf, size_t n)
{
	const char *root = lsn_store_path(log->store);
	int len;

	len = snprintf(buf, n, "%s/staging", root);
	if (len < 0 || (size_t)len >= n)
		return -ENAMETOOLONG;
	if (mkdir(buf, 0700) != 0 && errno != EEXIST)
		return -errno;
	len = snprintf(buf, n, "%s/staging/%u", root, log->id);
	if (len < 0 || (size_t)len >= n)
		return -ENAMETOOLONG;
	if (mkdir(buf, 0700) != 0 && errno != EEXIST)
		return -errno;
	return 0;
}
