/*
 * storage/fileio.h - whole-buffer file I/O that retries short transfers and
 * EINTR, for the plain files lsnfs keeps (staging files, archive copies,
 * registry entries).  0 or a negative errno, per the project rule.
 */
#ifndef LSN_FILEIO_H
#define LSN_FILEIO_H

#include <stddef.h>
#include <stdint.h>

/* Read up to len bytes at off; *got < len only at end of file. */
int lsn_pread_full(int fd, void *buf, size_t len, uint64_t off, size_t *got);
/* Write all len bytes at the file position. */
int lsn_write_full(int fd, const void *buf, size_t len);

#endif
