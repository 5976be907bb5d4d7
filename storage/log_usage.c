/*
 * storage/log_usage.c - how many bytes a log takes in the store (for
 * status and metrics): RocksDB's approximate sizes of the log's key ranges.
 */
#include <errno.h>
#include <stdlib.h>

#include "storage/store_internal.h"

int lsn_log_stored_bytes(struct lsn_log *log, uint64_t *bytes)
{
	static const char tags[] = "BPQRSX"; /* every per-log range (storage/keys.h) */
	enum { N = sizeof(tags) - 1 };
	struct lsn_key lo[N], hi[N];
	const char *starts[N], *limits[N];
	size_t start_lens[N], limit_lens[N];
	uint64_t sizes[N] = { 0 };
	char *err = NULL;

	for (size_t i = 0; i < N; i++) {
		lsn_key_init(&lo[i], tags[i]);
		lsn_key_u32(&lo[i], log->id);
		hi[i] = lo[i];
		lsn_key_successor(&hi[i]);
		starts[i] = lsn_key_data(&lo[i]);
		start_lens[i] = lo[i].len;
		limits[i] = lsn_key_data(&hi[i]);
		limit_lens[i] = hi[i].len;
	}
	rocksdb_approximate_sizes(log->store->db, N, starts, start_lens, limits, limit_lens, sizes,
				  &err);
	if (err)
		return lsn_rdb_errno(err, "approximate sizes");
	*bytes = 0;
	for (size_t i = 0; i < N; i++)
		*bytes += sizes[i];
	pthread_mutex_lock(&log->lock);
	*bytes += log->open.len;
	pthread_mutex_unlock(&log->lock);
	return 0;
}
