/*
 * mount-helpers/ctl_logs.c - see ctl_logs.h.
 */
#include "mount-helpers/ctl_logs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>

#include "mount-helpers/ctl_xattr.h"
#include "storage/config.h"

#define METRICS_MAX (64 * 1024) /* an xattr value's limit */

int ctl_log_details_read(const char *path, struct ctl_log_details *d)
{
	int rc;

	memset(d, 0, sizeof(*d));
	rc = ctl_get_u64(path, "segments", &d->segments);
	if (!rc)
		rc = ctl_get_u64(path, "logical_bytes", &d->logical_bytes);
	if (!rc)
		rc = ctl_get_u64(path, "stored_bytes", &d->stored_bytes);
	if (!rc)
		rc = ctl_get_attr(path, "holds", d->holds, sizeof(d->holds));
	if (!rc)
		rc = ctl_get_attr(path, "snapshots_unarchived", d->unarchived, sizeof(d->unarchived));
	return rc;
}

/* 1536 -> "1.5 KiB" */
static const char *human(uint64_t bytes, char *buf, size_t n)
{
	static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
	double v = (double)bytes;
	int u = 0;

	while (v >= 1024 && u < 5) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, n, "%llu B", (unsigned long long)bytes);
	else
		snprintf(buf, n, "%.1f %s", v, unit[u]);
	return buf;
}

void ctl_print_wrapped(const char *lead, const char *text)
{
	size_t indent = strlen(lead), col = indent;

	fputs(lead, stdout);
	while (*text) {
		size_t word = strcspn(text, " ");

		if (col > indent && col + 1 + word > 80) {
			printf("\n%*s", (int)indent, "");
			col = indent;
		} else if (col > indent) {
			putchar(' ');
			col++;
		}
		fwrite(text, 1, word, stdout);
		col += word;
		text += word;
		text += strspn(text, " ");
	}
	putchar('\n');
}

void ctl_log_details_print(const struct ctl_log_details *d)
{
	char a[32], b[32], line[CTL_DETAIL_MAX + 32];
	const char *p;

	printf("    segments %llu, logical %s, stored %s\n", (unsigned long long)d->segments,
	       human(d->logical_bytes, a, sizeof(a)), human(d->stored_bytes, b, sizeof(b)));
	if (d->holds[0]) {
		/* "NAME=LSN ..." -> "NAME at LSN, ..." */
		size_t len = 0;

		line[0] = '\0';
		for (p = d->holds; *p && len < sizeof(line) - 1;) {
			size_t w = strcspn(p, " ");
			const char *eq = memchr(p, '=', w);

			if (eq)
				len += (size_t)snprintf(line + len, sizeof(line) - len, "%s%.*s at %.*s",
							len ? ", " : "", (int)(eq - p), p,
							(int)(w - (size_t)(eq - p) - 1), eq + 1);
			p += w;
			p += strspn(p, " ");
		}
		ctl_print_wrapped("    holds: ", line);
	}
	for (p = d->unarchived; *p;) {
		size_t w = strcspn(p, "\n");
		const char *sp = memchr(p, ' ', w);

		if (sp && sp - p < 24) {
			char lead[48];

			snprintf(line, sizeof(line), "%.*s", (int)(w - (size_t)(sp - p) - 1), sp + 1);
			snprintf(lead, sizeof(lead), "    snapshot %.*s: ", (int)(sp - p), p);
			ctl_print_wrapped(lead, line);
		}
		p += w;
		p += strspn(p, "\n");
	}
}

void ctl_log_details_json(const struct ctl_log_details *d,
			  void (*json_string)(const char *key, const char *text))
{
	const char *p;
	char name[LSN_NAME_MAX + 1], state[CTL_DETAIL_MAX];
	bool first = true;

	printf(",\"segments\":%llu,\"logical_bytes\":%llu,\"stored_bytes\":%llu,\"holds\":[",
	       (unsigned long long)d->segments, (unsigned long long)d->logical_bytes,
	       (unsigned long long)d->stored_bytes);
	for (p = d->holds; *p;) {
		size_t w = strcspn(p, " ");
		const char *eq = memchr(p, '=', w);

		if (eq && (size_t)(eq - p) < sizeof(name)) {
			snprintf(name, sizeof(name), "%.*s", (int)(eq - p), p);
			printf("%s{", first ? "" : ",");
			json_string("name", name);
			printf(",\"lsn\":%llu}", strtoull(eq + 1, NULL, 10));
			first = false;
		}
		p += w;
		p += strspn(p, " ");
	}
	printf("],\"snapshots_unarchived\":[");
	first = true;
	for (p = d->unarchived; *p;) {
		size_t w = strcspn(p, "\n");
		const char *sp = memchr(p, ' ', w);

		if (sp) {
			bool failed = strncmp(sp + 1, "failed: ", 8) == 0;

			printf("%s{\"lsn\":%llu,", first ? "" : ",", strtoull(p, NULL, 10));
			json_string("state", failed ? "failed" : "pending");
			snprintf(state, sizeof(state), "%.*s", failed ? (int)(w - (size_t)(sp - p) - 9) : 0,
				 sp + 9);
			putchar(',');
			json_string("reason", state);
			putchar('}');
			first = false;
		}
		p += w;
		p += strspn(p, "\n");
	}
	putchar(']');
}

int ctl_metrics(const char *mnt)
{
	char *text = malloc(METRICS_MAX + 1);
	int rc;

	if (!text)
		return 1;
	rc = ctl_get_attr(mnt, "metrics", text, METRICS_MAX + 1);
	if (rc == -ENODATA || rc == -ENOTSUP) {
		fprintf(stderr, "lsnfsctl: %s is not the root of a mounted lsnfs (no user.lsnfs.metrics)\n",
			mnt);
		free(text);
		return 2;
	}
	if (rc) {
		fprintf(stderr, "lsnfsctl: metrics of %s: %s\n", mnt, strerror(-rc));
		free(text);
		return 1;
	}
	fputs(text, stdout);
	free(text);
	return fflush(stdout) == 0 ? 0 : 1;
}

int ctl_remove_log(const char *mnt, const char *log, bool yes)
{
	char mode[32];
	int rc;

	if (!lsn_name_valid(log)) {
		fprintf(stderr, "lsnfsctl: remove-log: '%s' is not a log name\n"
				"Try 'lsnfsctl --help' for more information.\n", log);
		return 2;
	}
	if (ctl_get_attr(mnt, "mode", mode, sizeof(mode)) != 0) {
		fprintf(stderr, "lsnfsctl: %s is not the root of a mounted lsnfs\n", mnt);
		return 2;
	}
	if (!yes) {
		fprintf(stderr,
			"lsnfsctl: remove-log removes %s/%s with all its segments and local snapshots "
			"for good; add --yes to do it\n", mnt, log);
		return 2;
	}
	rc = setxattr(mnt, CTL_ATTR "remove_log", log, strlen(log), 0) == 0 ? 0 : errno;
	if (rc == ENOENT) {
		fprintf(stderr, "lsnfsctl: remove-log: %s has no log named %s\n", mnt, log);
		return 1;
	}
	if (rc == EBUSY) {
		fprintf(stderr, "lsnfsctl: remove-log %s refused: the log has holds (%s/%s: "
				"user.lsnfs.holds); remove them first\n", log, mnt, log);
		return 1;
	}
	if (rc) {
		fprintf(stderr, "lsnfsctl: remove-log %s: %s\n", log, strerror(rc));
		return 1;
	}
	printf("%s: log %s removed (archived snapshots, if any, stay in the archive)\n", mnt, log);
	return 0;
}
