/*
 * fs/xattr_value.h - the values written to user.lsnfs.* attributes,
 * checked before xattr.c acts on them.
 *
 * A value is exactly its bytes: decimal text or a word, with no trailing
 * newline and no NUL anywhere (SPEC: "decimal text, no newline"; README
 * "Decisions": `printf '5\n'` and a C string's terminator give EINVAL).
 * An LSN is strict decimal that fits in 64 bits (lsn_parse_u64: no sign,
 * space or suffix; zero padding is allowed, as in file names).
 *
 * Pure: no FUSE, no I/O, no state; tests/fuzz/fuzz_xattr.c fuzzes it.
 */
#ifndef LSN_FS_XATTR_VALUE_H
#define LSN_FS_XATTR_VALUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "storage/config.h"

/* Room for the longest value set takes: a log name, a word, an LSN. */
#define LSN_XATTR_VALUE_MAX (LSN_NAME_MAX + 16)

/* What an attribute's set takes. */
enum lsn_xattr_kind {
	LSN_XATTR_ANY,     /* any exact text (read-only attributes never parse) */
	LSN_XATTR_LSN,     /* an LSN */
	LSN_XATTR_WORD,    /* non-empty exact text: "safe", "single", a log name */
	LSN_XATTR_IGNORED, /* any bytes at all, not looked at (seal) */
};

/*
 * Check `size` bytes at `value` (not NUL-terminated) as `kind`.  0 with
 * the text NUL-terminated in text[cap] (and *lsn for LSN_XATTR_LSN), or
 * -EINVAL: the value does not fit in cap - 1 bytes, holds a NUL, ends in
 * a newline, is empty where a word is needed, or is not an LSN.
 * LSN_XATTR_IGNORED returns 0 and touches nothing.
 */
int lsn_xattr_value_parse(enum lsn_xattr_kind kind, const char *value, size_t size, char *text,
			  size_t cap, uint64_t *lsn);

/* user.lsnfs.trim: "safe" (*safe true) or an LSN (*upto).  0 or -EINVAL. */
int lsn_xattr_trim_parse(const char *text, bool *safe, uint64_t *upto);

#endif
