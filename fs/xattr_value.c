#include "fs/xattr_value.h"

#include <errno.h>
#include <string.h>

int lsn_xattr_value_parse(enum lsn_xattr_kind kind, const char *value, size_t size, char *text,
			  size_t cap, uint64_t *lsn)
{
	if (kind == LSN_XATTR_IGNORED)
		return 0;
	if (size >= cap)
		return -EINVAL;
	if (size)
		memcpy(text, value, size);
	text[size] = '\0';
	/* Exactly the text (SPEC: no newline): "5\n" and "5\0" are refused,
	 * as `echo` or a C string's terminator would write them. */
	if (strlen(text) != size)
		return -EINVAL; /* a NUL, trailing or embedded */
	if (size > 0 && text[size - 1] == '\n')
		return -EINVAL;
	if (kind == LSN_XATTR_LSN)
		return lsn_parse_u64(text, lsn);
	if (kind == LSN_XATTR_WORD && size == 0)
		return -EINVAL;
	return 0;
}

int lsn_xattr_trim_parse(const char *text, bool *safe, uint64_t *upto)
{
	*safe = strcmp(text, "safe") == 0;
	if (*safe)
		return 0;
	return lsn_parse_u64(text, upto);
}
