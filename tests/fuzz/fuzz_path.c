/*
 * Fuzz target: paths and log names (fs/path.c, pure, compiled in as is).
 * Any path parses or is refused with -ENOENT/-ENAMETOOLONG; what parses
 * names a valid log, and an LSN name formats back to the same text.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs/path.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char buf[8192], back[64];
	struct lsn_path p;
	uint64_t lsn;
	size_t len;
	int rc;

	if (size >= sizeof(buf))
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	rc = lsn_path_parse(buf, &p);
	if (rc != 0 && rc != -ENOENT && rc != -ENAMETOOLONG)
		abort();
	if (rc == 0 && p.node != LSN_NODE_ROOT && !lsn_name_valid(p.log))
		abort();
	/* The path is the C string: bytes after a NUL are not part of it. */
	len = strlen(buf);
	if (rc == 0 && len > 0 && buf[len - 1] != '/' && (p.node == LSN_NODE_SEGMENT || p.node == LSN_NODE_INDEX || p.node == LSN_NODE_SNAPSHOT)) {
		const char *suffix = p.node == LSN_NODE_SEGMENT ? ".log" : p.node == LSN_NODE_INDEX ? ".index" : ".snap";
		const char *base = strrchr(buf, '/') + 1;
		lsn_path_format_lsn(back, p.lsn, suffix);
		if (strcmp(back, base) != 0)
			abort();
	}
	if (lsn_path_lsn_name(buf, ".log", &lsn)) {
		lsn_path_format_lsn(back, lsn, ".log");
		if (strcmp(back, buf) != 0)
			abort();
	}
	return 0;
}
