/*
 * storage/diag.h - diagnostics sink shared by every module.
 *
 * Library code never prints directly: it calls lsn_diag(), which goes to
 * stderr by default.  The daemon points the sink at syslog when it
 * daemonizes.  Thread safe as long as the sink is set before threads start.
 */
#ifndef LSN_DIAG_H
#define LSN_DIAG_H

#include <stdarg.h>

enum lsn_diag_level { LSN_DIAG_ERR = 3, LSN_DIAG_WARN = 4, LSN_DIAG_INFO = 6 };

typedef void (*lsn_diag_sink)(enum lsn_diag_level level, const char *msg);

void lsn_diag_set_sink(lsn_diag_sink sink);
void lsn_diag(enum lsn_diag_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
