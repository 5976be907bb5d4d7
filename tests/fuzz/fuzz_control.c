/*
 * Fuzz target: the control file parser (storage/control.h), bytes from
 * disk.  Any input parses or gives -EBADMSG; what parses formats back to
 * the same bytes (the file has one canonical form), except that a version 1
 * file comes back as version 2 (the only difference is the header).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "storage/control.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lsn_control c;
	char *buf;
	size_t len;
	int rc = lsn_control_parse((const char *)data, size, &c);

	if (rc == -EBADMSG || rc == -ENOMEM)
		return 0;
	if (rc != 0)
		abort();
	if (lsn_control_format(&c, &buf, &len) != 0)
		abort();
	/* The header says the version parsed; the current form is 2. */
	if ((c.version != 1 && c.version != 2) || data[14] != '0' + c.version || buf[14] != '2')
		abort();
	/* All but the version digit and the checksum (fuzzing builds do not
	 * check it). */
	if (len != size || memcmp(buf, data, 14) != 0 || memcmp(buf + 15, data + 15, size - 24) != 0)
		abort();
	free(buf);
	lsn_control_release(&c);
	return 0;
}
