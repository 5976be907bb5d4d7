/*
 * storage/rdb.h - the only place that sees RocksDB's char **errptr.
 *
 * lsn_rdb_errno() turns a RocksDB status message into a negative errno
 * (and logs it once), so that "disk full" stays -ENOSPC and "corrupt"
 * stays -EBADMSG all the way up to the user.
 */
#ifndef LSN_RDB_H
#define LSN_RDB_H

#include <rocksdb/c.h>
#include <stddef.h>

/* Convert and free *err (which must be non-NULL); logs `what`. */
int lsn_rdb_errno(char *err, const char *what);

/* Get a value (malloc'd, caller frees).  -ENOENT when absent. */
int lsn_rdb_get(rocksdb_t *db, const rocksdb_readoptions_t *ro, const char *key, size_t klen,
		char **val, size_t *vlen);
int lsn_rdb_write(rocksdb_t *db, const rocksdb_writeoptions_t *wo, rocksdb_writebatch_t *wb,
		  const char *what);

#endif
