#include "storage/rdb.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "storage/diag.h"

int lsn_rdb_errno(char *err, const char *what)
{
	int rc = -EIO;

	if (strstr(err, "No space left") || strstr(err, "NoSpace"))
		rc = -ENOSPC;
	else if (strstr(err, "Corruption"))
		rc = -EBADMSG;
	else if (strstr(err, "lock") && (strstr(err, "Resource temporarily") || strstr(err, "in use")))
		rc = -EBUSY;
	else if (strstr(err, "does not exist") || strstr(err, "NotFound"))
		rc = -ENOENT;
	else if (strstr(err, "Invalid argument"))
		rc = -EINVAL;
	else if (strstr(err, "Permission denied"))
		rc = -EACCES;
	else if (strstr(err, "Read-only file system"))
		rc = -EROFS;
	else if (strstr(err, "Cannot allocate memory"))
		rc = -ENOMEM;
	lsn_diag(LSN_DIAG_ERR, "rocksdb: %s: %s", what, err);
	free(err);
	return rc;
}

int lsn_rdb_get(rocksdb_t *db, const rocksdb_readoptions_t *ro, const char *key, size_t klen,
		char **val, size_t *vlen)
{
	char *err = NULL;
	char *v = rocksdb_get(db, ro, key, klen, vlen, &err);

	if (err)
		return lsn_rdb_errno(err, "get");
	if (!v)
		return -ENOENT;
	*val = v;
	return 0;
}

int lsn_rdb_write(rocksdb_t *db, const rocksdb_writeoptions_t *wo, rocksdb_writebatch_t *wb,
		  const char *what)
{
	char *err = NULL;

	rocksdb_write(db, wo, wb, &err);
	return err ? lsn_rdb_errno(err, what) : 0;
}
