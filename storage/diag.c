#include "storage/diag.h"

#include <stdio.h>

static lsn_diag_sink diag_sink;

void lsn_diag_set_sink(lsn_diag_sink sink)
{
	diag_sink = sink;
}

void lsn_diag(enum lsn_diag_level level, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (diag_sink) {
		diag_sink(level, msg);
		return;
	}
	fprintf(stderr, "lsnfs: %s\n", msg);
}
