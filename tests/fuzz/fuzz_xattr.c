/*
 * Fuzz target: values written to user.lsnfs.* attributes (fs/xattr_value.c,
 * pure, compiled in as is), then what the attributes' setters read from
 * them: trim's "safe" or LSN, mode's word (storage/config.c), a log or hold
 * name.  Input: one control byte (kind in bits 0-1, text room in bits 2-3),
 * then the value's bytes exactly as setxattr(2) hands them over.
 *
 * Checked against an independent reading of the bytes:
 *  - a value is taken iff it fits, has no NUL, no trailing newline, is not
 *    empty where a word is needed, and for an LSN is 1-20 decimal digits
 *    whose value is <= UINT64_MAX; refused ones give -EINVAL and leave the
 *    LSN as it was; seal's values are always taken and not looked at;
 *  - a taken value is the same bytes, terminated; an LSN prints back as
 *    the value without its zero padding (so canonical text round-trips);
 *  - trim takes exactly "safe" or an LSN, mode exactly single|cluster (and
 *    prints back the same word), a name is 1-64 of [A-Za-z0-9._-] not
 *    starting with '.'.
 * The text buffer is exactly the room given, so ASan sees any write or
 * read past it, or past the value.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs/xattr_value.h"
#include "storage/config.h"

#define LSN_UNSET 0xfeedfacecafebeefull

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Strict decimal that fits in 64 bits, with at most 20 characters. */
static bool is_u64(const char *s, size_t len)
{
	size_t z = 0;

	if (len < 1 || len > 20)
		return false;
	for (size_t i = 0; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	while (z + 1 < len && s[z] == '0')
		z++;
	return len - z < 20 || memcmp(s + z, "18446744073709551615", 20) <= 0;
}

/* The LSN prints back as the text without its zero padding. */
static void check_lsn(const char *s, uint64_t lsn)
{
	char back[32];
	size_t z = 0, len = strlen(s);

	while (z + 1 < len && s[z] == '0')
		z++;
	snprintf(back, sizeof(back), "%" PRIu64, lsn);
	if (strcmp(back, s + z) != 0)
		abort();
}

static bool name_ok(const char *s)
{
	size_t len = strlen(s);

	if (len < 1 || len > LSN_NAME_MAX || s[0] == '.')
		return false;
	for (size_t i = 0; i < len; i++)
		if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-", s[i]))
			return false;
	return true;
}

/* What the setters of WORD attributes do with the text. */
static void check_words(const char *text)
{
	enum lsn_mode mode = LSN_MODE_SINGLE;
	uint64_t upto = LSN_UNSET;
	bool safe = false;
	int rc;

	rc = lsn_xattr_trim_parse(text, &safe, &upto);
	if (strcmp(text, "safe") == 0) {
		if (rc != 0 || !safe)
			abort();
	} else if (is_u64(text, strlen(text))) {
		if (rc != 0 || safe)
			abort();
		check_lsn(text, upto);
	} else if (rc != -EINVAL || safe) {
		abort();
	}
	rc = lsn_mode_parse(text, &mode);
	if (strcmp(text, "single") == 0 || strcmp(text, "cluster") == 0) {
		if (rc != 0 || strcmp(lsn_mode_name(mode), text) != 0)
			abort();
	} else if (rc != -EINVAL) {
		abort();
	}
	if (lsn_name_valid(text) != name_ok(text))
		abort(); /* remove_log's value, hold.NAME's name */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum lsn_xattr_kind kinds[] = { LSN_XATTR_ANY, LSN_XATTR_LSN, LSN_XATTR_WORD,
						     LSN_XATTR_IGNORED };
	enum lsn_xattr_kind kind;
	const char *value;
	size_t len, cap;
	uint64_t lsn = LSN_UNSET;
	bool take;
	char *text;
	int rc;

	if (size < 1)
		return 0;
	kind = kinds[data[0] & 3];
	value = (const char *)data + 1;
	len = size - 1;
	switch ((data[0] >> 2) & 3) {
	case 0: cap = len; break;     /* one byte short of room for the NUL */
	case 1: cap = len + 1; break; /* just fits */
	case 2: cap = 1; break;       /* only the empty value fits */
	default: cap = LSN_XATTR_VALUE_MAX; break; /* xattr.c's room */
	}
	if (cap == 0)
		cap = 1;
	text = malloc(cap);
	if (!text)
		return 0;
	memset(text, 'x', cap);
	rc = lsn_xattr_value_parse(kind, value, len, text, cap, &lsn);
	if (kind == LSN_XATTR_IGNORED) {
		if (rc != 0 || lsn != LSN_UNSET || text[0] != 'x')
			abort(); /* seal's value: taken, not looked at */
		goto out;
	}
	take = len < cap && !memchr(value, '\0', len) && !(len > 0 && value[len - 1] == '\n') &&
	       !(kind == LSN_XATTR_WORD && len == 0) && !(kind == LSN_XATTR_LSN && !is_u64(value, len));
	if (!take) {
		if (rc != -EINVAL || lsn != LSN_UNSET)
			abort();
		goto out;
	}
	if (rc != 0)
		abort();
	if (text[len] != '\0' || memcmp(text, value, len) != 0)
		abort(); /* the text is the value, exactly */
	if (kind == LSN_XATTR_LSN)
		check_lsn(text, lsn);
	else if (lsn != LSN_UNSET)
		abort();
	if (kind == LSN_XATTR_WORD)
		check_words(text);
out:
	free(text);
	return 0;
}
