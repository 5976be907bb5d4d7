/*
 * storage/crc32c.h - CRC-32C (Castagnoli), used to detect corrupt blocks
 * before zstd ever sees them.  Table driven, slicing-by-8; thread safe
 * (the table is built once under pthread_once).
 */
#ifndef LSN_CRC32C_H
#define LSN_CRC32C_H

#include <stddef.h>
#include <stdint.h>

uint32_t lsn_crc32c(uint32_t crc, const void *data, size_t len);

#endif
