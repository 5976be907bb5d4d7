/*
 * mount-helpers/ctl_logs.h - lsnfsctl's `metrics` and `remove-log`
 * commands, and the per-log details `status` shows below each log's row
 * (segments, logical and stored bytes, holds, snapshots not yet archived).
 * Like the rest of lsnfsctl it talks to the mount only through xattrs.
 */
#ifndef LSNFSCTL_LOGS_H
#define LSNFSCTL_LOGS_H

#include <stdbool.h>
#include <stdint.h>

#define CTL_DETAIL_MAX 8192

struct ctl_log_details {
	uint64_t segments, logical_bytes, stored_bytes;
	char holds[CTL_DETAIL_MAX];      /* "NAME=LSN NAME=LSN" */
	char unarchived[CTL_DETAIL_MAX]; /* lines "LSN pending" | "LSN failed: REASON" */
};

/* Read them from the log directory `path`; 0 or -errno. */
int ctl_log_details_read(const char *path, struct ctl_log_details *d);
/* Indented lines under the log's row, within 80 columns. */
void ctl_log_details_print(const struct ctl_log_details *d);
/* ,"segments":N,... for the log's JSON object; json_string as in lsnfsctl.c. */
void ctl_log_details_json(const struct ctl_log_details *d,
			  void (*json_string)(const char *key, const char *text));

/* `lead` then the words of `text`, wrapped at 80 columns, continuation
 * lines indented under the lead. */
void ctl_print_wrapped(const char *lead, const char *text);

/* The commands; each returns lsnfsctl's exit status. */
int ctl_metrics(const char *mnt);
int ctl_remove_log(const char *mnt, const char *log, bool yes);

#endif
