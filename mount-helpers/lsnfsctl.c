/*
 * mount-helpers/lsnfsctl.c - the operators' tool for a mounted lsnfs
 * (status, trim, snapshot, hold, persisted, seal, mode; see usage() and
 * lsnfsctl(8)).  It talks to the filesystem only through the user.lsnfs.*
 * xattrs, file copies and rename(2) (SPEC sections 3-5), so everything it
 * does can be done with getfattr, setfattr, cp and mv; it never links FUSE.
 * `config` is the exception: it works on an unmounted store (ctl_config.c).
 * Exit status: 0 done, 1 refused by a rule or failed (the message names the
 * rule and the numbers), 2 bad arguments.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "mount-helpers/ctl_config.h"
#include "mount-helpers/ctl_logs.h"
#include "mount-helpers/ctl_xattr.h"
#include "storage/config.h"

#define VALUE_MAX 8192
#define DEFAULT_TIMEOUT 60

enum { EXIT_DONE = 0, EXIT_REFUSED = 1, EXIT_USAGE = 2 };

enum { F_JSON = 1, F_ARCHIVED = 2, F_TIMEOUT = 4, F_REMOVE = 8, F_YES = 16 };

struct args {
	const char *pos[4];
	int npos;
	unsigned flags;
	const char *timeout;
};

struct command {
	const char *name;
	int min_pos, max_pos;
	unsigned flags_ok;
	int (*run)(const struct args *a);
};

/* One row of `status`: the xattrs of a log directory. */
#define N_NUMS 6
static const char *const num_attrs[N_NUMS] = { "first_lsn",     "tail_lsn",     "trim_point",
					       "persisted_lsn", "archived_lsn", "safe_trim_lsn" };

struct log_row {
	char name[LSN_NAME_MAX + 1];
	uint64_t num[N_NUMS];
	char strategy[32];
	char blocked[VALUE_MAX];
	struct ctl_log_details details;
};

struct root_info {
	char mode[32];
	char node_id[VALUE_MAX];
	char archive[VALUE_MAX];
	char archive_state[VALUE_MAX]; /* "" from a daemon that has none */
	char archive_nodes[8192];      /* "; "-separated */
};

/* ---- messages ------------------------------------------------------------ */

static void usage(FILE *to)
{
	fprintf(to,
		"usage: lsnfsctl COMMAND ARGS...\n"
		"\n"
		"Inspect and operate a mounted lsnfs through its xattrs and files.\n"
		"  status MOUNTPOINT [--json]          every log: LSNs, trim strategy, why blocked,\n"
		"                                      sizes, holds, snapshots not archived\n"
		"  trim MOUNTPOINT/LOG LSN|safe        trim sealed segments up to LSN\n"
		"  snapshot MOUNTPOINT/LOG LSN FILE [--archived [--timeout SECONDS]]\n"
		"                                      commit FILE as the snapshot covering LSN;\n"
		"                                      --archived waits until it is archived\n"
		"                                      (default timeout %d s, 0 = no limit)\n"
		"  hold MOUNTPOINT/LOG NAME LSN        set the reader hold NAME at LSN\n"
		"  hold MOUNTPOINT/LOG NAME --remove   remove the hold NAME\n"
		"  persisted MOUNTPOINT/LOG LSN        set the consumer's persisted LSN\n"
		"  seal MOUNTPOINT/LOG                 seal the active segment now\n"
		"  mode MOUNTPOINT single|cluster      switch the node's mode\n"
		"  metrics MOUNTPOINT                  Prometheus text format of the node and logs\n"
		"  remove-log MOUNTPOINT LOG --yes     remove LOG with its segments and local\n"
		"                                      snapshots (refused while it has holds)\n"
		"  config STORE [KEY=VALUE...]         list or change an unmounted store's settings\n"
		"  --help, --version                   this help; the version\n"
		"\n"
		"Exit status: 0 done, 1 refused by a rule or failed, 2 bad arguments.\n"
		"See lsnfsctl(8).\n",
		DEFAULT_TIMEOUT);
}

/* A one-line error on stderr; returns `code`. */
static int __attribute__((format(printf, 2, 3))) say(int code, const char *fmt, ...)
{
	va_list ap;

	fputs("lsnfsctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\n", stderr);
	return code;
}

/* Bad arguments: the one-line error, then where to read more; exit status 2. */
#define usage_error(...)                                                                   \
	(say(EXIT_USAGE, __VA_ARGS__), fputs("Try 'lsnfsctl --help' for more information.\n", stderr), \
	 EXIT_USAGE)

/* An errno the filesystem returned that no rule below explains better. */
static int refused(const char *what, const char *path, int err)
{
	if (err == EPERM)
		return say(EXIT_REFUSED,
			   "%s refused: %s; the rule and its numbers are in user.lsnfs.trim_blocked "
			   "of %s and in the daemon's log (syslog, or stderr with -f)",
			   what, strerror(err), path);
	return say(EXIT_REFUSED, "%s: %s: %s", what, path, strerror(err));
}

/* ---- xattrs -------------------------------------------------------------- */

/* The value of a numeric attribute as text for messages ("?" if unreadable). */
static const char *num_text(const char *path, const char *shortname, char *buf, size_t n)
{
	uint64_t v;

	if (ctl_get_u64(path, shortname, &v) != 0)
		snprintf(buf, n, "?");
	else
		snprintf(buf, n, "%llu", (unsigned long long)v);
	return buf;
}

static int set_attr(const char *path, const char *shortname, const char *value)
{
	char name[128];

	snprintf(name, sizeof(name), CTL_ATTR "%s", shortname);
	return setxattr(path, name, value, strlen(value), 0) == 0 ? 0 : -errno;
}

/* ---- arguments ----------------------------------------------------------- */

/* The path must answer user.lsnfs.ATTR: a mount root (mode) or a log (tail_lsn). */
static int check_node(const char *path, const char *attr, const char *noun, const char *what)
{
	char buf[64];
	int rc = ctl_get_attr(path, attr, buf, sizeof(buf));

	if (rc == -ENOENT || rc == -ENOTDIR)
		return say(EXIT_USAGE, "%s: no such %s", path, noun);
	if (rc)
		return say(EXIT_USAGE, "%s is not %s of a mounted lsnfs (no user.lsnfs.%s: %s)", path,
			   what, attr, strerror(-rc));
	return 0;
}

#define check_root(path) check_node(path, "mode", "mountpoint", "the root")
#define check_log(path) check_node(path, "tail_lsn", "log", "a log directory")

static int parse_lsn(const char *text, uint64_t *lsn, const char *what)
{
	if (lsn_parse_u64(text, lsn) == 0)
		return 0;
	return usage_error("%s must be an unsigned decimal number, not '%s'", what, text);
}

static const struct {
	const char *name;
	unsigned bit;
} flag_names[] = { { "--json", F_JSON }, { "--archived", F_ARCHIVED },
		   { "--remove", F_REMOVE }, { "--timeout", F_TIMEOUT }, { "--yes", F_YES } };

/* One option at argv[*i]; --timeout takes the next argument (or =VALUE). */
static int parse_flag(const struct command *c, int argc, char **argv, int *i, struct args *a)
{
	const char *arg = argv[*i], *eq = strchr(arg, '=');
	size_t len = eq ? (size_t)(eq - arg) : strlen(arg);

	for (size_t k = 0; k < sizeof(flag_names) / sizeof(flag_names[0]); k++) {
		if (strlen(flag_names[k].name) != len || strncmp(arg, flag_names[k].name, len) != 0)
			continue;
		if (!(c->flags_ok & flag_names[k].bit))
			return usage_error("%s: option %s is not valid here", c->name, flag_names[k].name);
		if (eq && flag_names[k].bit != F_TIMEOUT)
			return usage_error("%s: option %s takes no value", c->name, flag_names[k].name);
		a->flags |= flag_names[k].bit;
		if (flag_names[k].bit == F_TIMEOUT && !eq && *i + 1 >= argc)
			return usage_error("%s: --timeout needs a number of seconds", c->name);
		if (flag_names[k].bit == F_TIMEOUT)
			a->timeout = eq ? eq + 1 : argv[++*i];
		return 0;
	}
	return usage_error("%s: unknown option '%s'", c->name, arg);
}

static int parse_args(const struct command *c, int argc, char **argv, struct args *a)
{
	bool options = true;
	int rc;

	for (int i = 0; i < argc; i++) {
		if (options && strcmp(argv[i], "--") == 0) {
			options = false;
		} else if (options && argv[i][0] == '-' && argv[i][1] != '\0') {
			if ((rc = parse_flag(c, argc, argv, &i, a)) != 0)
				return rc;
		} else if (a->npos == c->max_pos) {
			return usage_error("%s: too many arguments (unexpected '%s')", c->name, argv[i]);
		} else {
			a->pos[a->npos++] = argv[i];
		}
	}
	if ((a->flags & F_TIMEOUT) && !(a->flags & F_ARCHIVED))
		return usage_error("%s: --timeout needs --archived", c->name);
	if (a->npos < c->min_pos)
		return usage_error("%s: missing arguments", c->name);
	return 0;
}

/* ---- status -------------------------------------------------------------- */

static int read_row(const char *mnt, const char *name, struct log_row *r)
{
	char path[PATH_MAX];
	int rc = 0;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", mnt, name) >= sizeof(path))
		return -ENAMETOOLONG;
	snprintf(r->name, sizeof(r->name), "%s", name);
	for (int i = 0; rc == 0 && i < N_NUMS; i++)
		rc = ctl_get_u64(path, num_attrs[i], &r->num[i]);
	if (rc == 0)
		rc = ctl_get_attr(path, "trim_strategy", r->strategy, sizeof(r->strategy));
	if (rc == 0)
		rc = ctl_get_attr(path, "trim_blocked", r->blocked, sizeof(r->blocked));
	if (rc == 0)
		rc = ctl_log_details_read(path, &r->details);
	return rc;
}

static int cmp_rows(const void *x, const void *y)
{
	return strcmp(((const struct log_row *)x)->name, ((const struct log_row *)y)->name);
}

/* Every log (directory) at the mount root, sorted by name. */
static int collect_logs(const char *mnt, struct log_row **rows, size_t *n)
{
	DIR *d = opendir(mnt);
	struct dirent *e;
	struct log_row *v = NULL;
	size_t cap = 0;
	int rc = 0;

	*n = 0;
	if (!d)
		return -errno;
	while (rc == 0 && (e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.' || !lsn_name_valid(e->d_name))
			continue; /* ".", "..": never a log */
		if (*n == cap) {
			void *p = realloc(v, (cap = cap * 2 + 8) * sizeof(*v));
			if (!p) {
				rc = -ENOMEM;
				break;
			}
			v = p;
		}
		rc = read_row(mnt, e->d_name, &v[*n]);
		if (rc == 0)
			(*n)++;
		else if (rc == -ENOENT || rc == -ENODATA)
			rc = 0; /* removed meanwhile, or not a log: not listed */
	}
	closedir(d);
	if (rc == 0 && *n > 1)
		qsort(v, *n, sizeof(*v), cmp_rows);
	*rows = v;
	return rc;
}

static int read_root(const char *mnt, struct root_info *ri)
{
	int rc = ctl_get_attr(mnt, "mode", ri->mode, sizeof(ri->mode));

	if (rc == 0)
		rc = ctl_get_attr(mnt, "node_id", ri->node_id, sizeof(ri->node_id));
	if (rc == 0)
		rc = ctl_get_attr(mnt, "archive", ri->archive, sizeof(ri->archive));
	/* Newer attributes: absent from an older daemon. */
	if (rc == 0 && ctl_get_attr(mnt, "archive_state", ri->archive_state, sizeof(ri->archive_state)))
		ri->archive_state[0] = '\0';
	if (rc == 0 && ctl_get_attr(mnt, "archive_nodes", ri->archive_nodes, sizeof(ri->archive_nodes)))
		ri->archive_nodes[0] = '\0';
	return rc;
}

/* Length of the valid UTF-8 sequence at s, or 0. */
static size_t utf8_len(const unsigned char *s)
{
	size_t n = s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc2 ? 2 : 0;

	if (s[0] > 0xf4)
		return 0;
	for (size_t i = 1; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	if ((n == 3 && s[0] == 0xe0 && s[1] < 0xa0) || (n == 3 && s[0] == 0xed && s[1] > 0x9f) ||
	    (n == 4 && s[0] == 0xf0 && s[1] < 0x90) || (n == 4 && s[0] == 0xf4 && s[1] > 0x8f))
		return 0;
	return n;
}

static void json_string(const char *key, const char *text)
{
	const unsigned char *s = (const unsigned char *)text;
	size_t n;

	printf("\"%s\":\"", key);
	while (*s) {
		if (*s == '"' || *s == '\\')
			printf("\\%c", *s++);
		else if (*s < 0x20 || *s == 0x7f)
			printf("\\u%04x", *s++);
		else if (*s < 0x80)
			putchar(*s++);
		else if ((n = utf8_len(s)) != 0)
			s += fwrite(s, 1, n, stdout);
		else
			fputs("\\ufffd", stdout), s++; /* not UTF-8: JSON cannot carry it */
	}
	putchar('"');
}

static void print_json(const struct root_info *ri, const struct log_row *rows, size_t n)
{
	putchar('{');
	json_string("mode", ri->mode);
	putchar(',');
	json_string("node_id", ri->node_id);
	putchar(',');
	json_string("archive", ri->archive);
	putchar(',');
	json_string("archive_state", ri->archive_state);
	putchar(',');
	json_string("archive_nodes", ri->archive_nodes);
	printf(",\"logs\":[");
	for (size_t i = 0; i < n; i++) {
		printf("%s{", i ? "," : "");
		json_string("name", rows[i].name);
		for (int k = 0; k < N_NUMS; k++)
			printf(",\"%s\":%llu", num_attrs[k], (unsigned long long)rows[i].num[k]);
		putchar(',');
		json_string("strategy", rows[i].strategy);
		putchar(',');
		json_string("blocked", rows[i].blocked);
		ctl_log_details_json(&rows[i].details, json_string);
		putchar('}');
	}
	printf("]}\n");
}

/* The nodes of a shared archive, one a line ("; "-separated in the xattr). */
static void print_nodes(const char *nodes)
{
	const char *p = nodes;

	if (!nodes[0])
		return;
	printf("archive nodes:\n");
	while (*p) {
		size_t len = strcspn(p, ";");
		printf("  %.*s\n", (int)len, p);
		p += len;
		p += strspn(p, "; ");
	}
}

static void print_table(const struct root_info *ri, const struct log_row *rows, size_t n)
{
	static const char *const head[N_NUMS] = { "FIRST",     "TAIL",     "TRIMMED",
						  "PERSISTED", "ARCHIVED", "SAFE" };
	int w[N_NUMS], wname = 3;
	char num[24];

	printf("mode %s, node %s\narchive %s\n", ri->mode, ri->node_id,
	       ri->archive[0] ? ri->archive : "(none)");
	if (ri->archive_state[0] && strcmp(ri->archive_state, "available") != 0 &&
	    strcmp(ri->archive_state, "none") != 0)
		printf("  %s\n", ri->archive_state);
	print_nodes(ri->archive_nodes);
	if (n == 0) {
		printf("(no logs)\n");
		return;
	}
	for (int k = 0; k < N_NUMS; k++)
		w[k] = (int)strlen(head[k]);
	for (size_t i = 0; i < n; i++) {
		wname = (int)strlen(rows[i].name) > wname ? (int)strlen(rows[i].name) : wname;
		for (int k = 0; k < N_NUMS; k++) {
			int len = snprintf(num, sizeof(num), "%llu", (unsigned long long)rows[i].num[k]);
			w[k] = len > w[k] ? len : w[k];
		}
	}
	printf("%-*s", wname, "LOG");
	for (int k = 0; k < N_NUMS; k++)
		printf(" %*s", w[k], head[k]);
	printf(" STRATEGY\n");
	for (size_t i = 0; i < n; i++) {
		printf("%-*s", wname, rows[i].name);
		for (int k = 0; k < N_NUMS; k++)
			printf(" %*llu", w[k], (unsigned long long)rows[i].num[k]);
		printf(" %s\n", rows[i].strategy);
		if (rows[i].blocked[0])
			ctl_print_wrapped("    blocked: ", rows[i].blocked);
		ctl_log_details_print(&rows[i].details);
	}
}

static int cmd_status(const struct args *a)
{
	const char *mnt = a->pos[0];
	struct log_row *rows = NULL;
	struct root_info ri;
	size_t n = 0;
	int rc = check_root(mnt);

	if (rc)
		return rc;
	rc = read_root(mnt, &ri);
	if (rc == 0)
		rc = collect_logs(mnt, &rows, &n);
	if (rc) {
		free(rows);
		return say(EXIT_REFUSED, "status of %s: %s", mnt, strerror(-rc));
	}
	if (a->flags & F_JSON)
		print_json(&ri, rows, n);
	else
		print_table(&ri, rows, n);
	free(rows);
	return fflush(stdout) == 0 ? EXIT_DONE : say(EXIT_REFUSED, "stdout: %s", strerror(errno));
}

/* ---- log commands -------------------------------------------------------- */

static int cmd_trim(const struct args *a)
{
	const char *log = a->pos[0], *to = a->pos[1];
	char blocked[VALUE_MAX], safe[24], strategy[32], before[24], after[24];
	uint64_t lsn;
	int rc;

	if (strcmp(to, "safe") != 0 && lsn_parse_u64(to, &lsn) != 0)
		return usage_error("trim: LSN must be a decimal number or 'safe', not '%s'", to);
	if ((rc = check_log(log)) != 0)
		return rc;
	num_text(log, "trim_point", before, sizeof(before));
	rc = set_attr(log, "trim", to);
	if (rc == -EPERM) {
		if (ctl_get_attr(log, "trim_blocked", blocked, sizeof(blocked)) != 0 || !blocked[0])
			snprintf(blocked, sizeof(blocked), "(user.lsnfs.trim_blocked is empty)");
		if (ctl_get_attr(log, "trim_strategy", strategy, sizeof(strategy)) != 0)
			snprintf(strategy, sizeof(strategy), "?");
		return say(EXIT_REFUSED,
			   "trim of %s to %s refused: it is above the safe trim LSN %s (strategy %s): %s",
			   log, to, num_text(log, "safe_trim_lsn", safe, sizeof(safe)), strategy, blocked);
	}
	if (rc)
		return refused("trim", log, -rc);
	num_text(log, "trim_point", after, sizeof(after));
	if (strcmp(before, after) == 0)
		printf("%s: nothing trimmed (trim point stays %s): no sealed segment ends at or below %s\n",
		       log, after, to);
	else
		printf("%s: trim point %s -> %s (first LSN now %s)\n", log, before, after,
		       num_text(log, "first_lsn", safe, sizeof(safe)));
	return EXIT_DONE;
}

static int cmd_persisted(const struct args *a)
{
	const char *log = a->pos[0];
	char tail[24];
	uint64_t lsn, now;
	int rc;

	if ((rc = parse_lsn(a->pos[1], &lsn, "persisted: LSN")) != 0 || (rc = check_log(log)) != 0)
		return rc;
	rc = set_attr(log, "persisted_lsn", a->pos[1]);
	if (rc == -EINVAL && ctl_get_u64(log, "persisted_lsn", &now) == 0 && lsn < now)
		return say(EXIT_REFUSED, "persisted_lsn %s of %s refused: it never decreases (now %llu)",
			   a->pos[1], log, (unsigned long long)now);
	if (rc == -EINVAL)
		return say(EXIT_REFUSED, "persisted_lsn %s of %s refused: it must be <= tail_lsn (%s)",
			   a->pos[1], log, num_text(log, "tail_lsn", tail, sizeof(tail)));
	if (rc)
		return refused("persisted_lsn", log, -rc);
	printf("%s: persisted_lsn %s\n", log, a->pos[1]);
	return EXIT_DONE;
}

static int cmd_hold(const struct args *a)
{
	const char *log = a->pos[0], *name = a->pos[1];
	char attr[16 + LSN_NAME_MAX], full[32 + LSN_NAME_MAX];
	uint64_t lsn;
	int rc;

	if (!lsn_name_valid(name))
		return usage_error("hold: NAME must be 1-64 of [A-Za-z0-9._-], not starting with '.', "
				   "not '%s'", name);
	if ((a->flags & F_REMOVE) ? a->npos != 2 : a->npos != 3)
		return usage_error("hold: expected LOG NAME LSN or LOG NAME --remove");
	if (!(a->flags & F_REMOVE) && (rc = parse_lsn(a->pos[2], &lsn, "hold: LSN")) != 0)
		return rc;
	if ((rc = check_log(log)) != 0)
		return rc;
	snprintf(attr, sizeof(attr), "hold.%s", name);
	if (a->flags & F_REMOVE) {
		snprintf(full, sizeof(full), CTL_ATTR "%s", attr);
		if (removexattr(log, full) != 0)
			return errno == ENODATA ? say(EXIT_REFUSED, "%s has no hold named %s", log, name)
						: refused("removing the hold", log, errno);
		printf("%s: hold %s removed\n", log, name);
		return EXIT_DONE;
	}
	rc = set_attr(log, attr, a->pos[2]);
	if (rc)
		return refused("setting the hold", log, -rc);
	printf("%s: hold %s at LSN %s\n", log, name, a->pos[2]);
	return EXIT_DONE;
}

static int cmd_seal(const struct args *a)
{
	const char *log = a->pos[0];
	char tail[24];
	int rc = check_log(log);

	if (rc)
		return rc;
	rc = set_attr(log, "seal", "1");
	if (rc)
		return refused("seal", log, -rc);
	printf("%s: active segment sealed (tail %s)\n", log, num_text(log, "tail_lsn", tail, sizeof(tail)));
	return EXIT_DONE;
}

/* ---- mode ---------------------------------------------------------------- */

/* Why switching to cluster was refused, from what the xattrs show. */
static int explain_cluster_refusal(const char *mnt)
{
	struct log_row *rows = NULL;
	struct root_info ri;
	size_t n = 0;
	int rc = read_root(mnt, &ri);

	if (rc == 0 && !ri.archive[0])
		return say(EXIT_REFUSED, "mode cluster refused: cluster mode needs a snapshot archive and "
					 "this mount has none (mount with -o archive=DIR or archive_command=CMD)");
	if (rc == 0 && collect_logs(mnt, &rows, &n) == 0) {
		for (size_t i = 0; i < n; i++) {
			if (rows[i].num[2] > rows[i].num[4]) { /* trim_point > archived_lsn */
				rc = say(EXIT_REFUSED,
					 "mode cluster refused: every log's trim point must be covered by an "
					 "archived snapshot; log %s has trim point %llu but archived_lsn %llu",
					 rows[i].name, (unsigned long long)rows[i].num[2],
					 (unsigned long long)rows[i].num[4]);
				free(rows);
				return rc;
			}
		}
	}
	free(rows);
	return refused("mode cluster", mnt, EPERM);
}

static int cmd_mode(const struct args *a)
{
	const char *mnt = a->pos[0], *mode = a->pos[1];
	char was[32];
	int rc;

	if (strcmp(mode, "single") != 0 && strcmp(mode, "cluster") != 0)
		return usage_error("mode: expected single or cluster, not '%s'", mode);
	if ((rc = check_root(mnt)) != 0)
		return rc;
	if (ctl_get_attr(mnt, "mode", was, sizeof(was)) != 0)
		snprintf(was, sizeof(was), "?");
	rc = set_attr(mnt, "mode", mode);
	if (rc == -EPERM && strcmp(mode, "single") == 0)
		return say(EXIT_REFUSED, "mode single refused: a node in cluster mode never switches back "
					 "to single mode");
	if (rc == -EPERM)
		return explain_cluster_refusal(mnt);
	if (rc)
		return refused("mode", mnt, -rc);
	printf("%s: mode %s%s\n", mnt, mode, strcmp(was, mode) == 0 ? " (unchanged)" : "");
	return EXIT_DONE;
}

/* ---- snapshot ------------------------------------------------------------ */

static int copy_fd(int in, int out)
{
	static char buf[1 << 16];
	ssize_t n;

	while ((n = read(in, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		for (ssize_t done = 0; done < n;) {
			ssize_t w = write(out, buf + done, (size_t)(n - done));
			if (w < 0 && errno != EINTR)
				return -errno;
			done += w < 0 ? 0 : w;
		}
	}
	return fsync(out) == 0 ? 0 : -errno;
}

/* Copy FILE to the staging name; 0, or an exit status after a message. */
static int stage(const char *file, const char *staging)
{
	int in = open(file, O_RDONLY | O_CLOEXEC), out, rc;

	if (in < 0)
		return say(EXIT_REFUSED, "snapshot: cannot read %s: %s", file, strerror(errno));
	out = open(staging, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (out < 0) {
		rc = errno;
		close(in);
		return refused("snapshot: creating the staging file", staging, rc);
	}
	rc = copy_fd(in, out);
	close(in);
	if (close(out) != 0 && rc == 0)
		rc = -errno;
	if (rc) {
		unlink(staging);
		return say(EXIT_REFUSED, "snapshot: copying %s to %s: %s", file, staging, strerror(-rc));
	}
	return 0;
}

static double now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Poll user.lsnfs.archived of the committed snapshot until "yes". */
static int wait_archived(const char *snap, uint64_t timeout)
{
	char state[VALUE_MAX], last[VALUE_MAX] = "";
	double start = now_seconds();
	int rc;

	for (;;) {
		rc = ctl_get_attr(snap, "archived", state, sizeof(state));
		if (rc)
			return refused("reading user.lsnfs.archived", snap, -rc);
		if (strcmp(state, "yes") == 0) {
			printf("%s: archived\n", snap);
			return EXIT_DONE;
		}
		if (strncmp(state, "failed", 6) == 0 && strcmp(state, last) != 0)
			fprintf(stderr, "lsnfsctl: %s: %s (the daemon retries)\n", snap, state);
		snprintf(last, sizeof(last), "%s", state);
		if (timeout && now_seconds() - start >= (double)timeout)
			return say(EXIT_REFUSED, "%s: not archived after %llu s (user.lsnfs.archived: %s)",
				   snap, (unsigned long long)timeout, state);
		nanosleep(&(struct timespec){ 0, 100 * 1000000L }, NULL);
	}
}

/* Why the rename into <lsn20>.snap failed. */
static int explain_commit(const char *log, const char *lsn_text, int err)
{
	char tp[24], tail[24];

	if (err == EINVAL)
		return say(EXIT_REFUSED,
			   "snapshot %s of %s refused: its LSN must be between the log's trim point (%s) "
			   "and its tail (%s)",
			   lsn_text, log, num_text(log, "trim_point", tp, sizeof(tp)),
			   num_text(log, "tail_lsn", tail, sizeof(tail)));
	if (err == EPERM || err == EEXIST)
		return say(EXIT_REFUSED, "snapshot %s of %s refused: %s (a committed snapshot is "
					 "immutable; see the daemon's log)",
			   lsn_text, log, strerror(err));
	return refused("snapshot commit", log, err);
}

static int snapshot_paths(const char *log, uint64_t lsn, char *staging, char *final, char *root)
{
	if (snprintf(staging, PATH_MAX, "%s/snapshots/.lsnfsctl-%ld-%llu", log, (long)getpid(),
		     (unsigned long long)lsn) >= PATH_MAX ||
	    snprintf(final, PATH_MAX, "%s/snapshots/%020llu.snap", log, (unsigned long long)lsn) >=
		    PATH_MAX ||
	    snprintf(root, PATH_MAX, "%s/..", log) >= PATH_MAX)
		return usage_error("snapshot: path too long: %s", log);
	return 0;
}

static int cmd_snapshot(const struct args *a)
{
	const char *log = a->pos[0], *file = a->pos[2];
	char staging[PATH_MAX], final[PATH_MAX], root[PATH_MAX], archive[VALUE_MAX];
	uint64_t lsn, timeout = DEFAULT_TIMEOUT;
	struct stat st;
	int rc;

	if ((rc = parse_lsn(a->pos[1], &lsn, "snapshot: LSN")) != 0)
		return rc;
	if ((a->flags & F_TIMEOUT) && (rc = parse_lsn(a->timeout, &timeout, "--timeout")) != 0)
		return rc;
	if ((rc = check_log(log)) != 0 || (rc = snapshot_paths(log, lsn, staging, final, root)) != 0)
		return rc;
	if ((a->flags & F_ARCHIVED) &&
	    (ctl_get_attr(root, "archive", archive, sizeof(archive)) != 0 || !archive[0]))
		return say(EXIT_REFUSED, "snapshot --archived refused: the mount of %s has no archive "
					 "(user.lsnfs.archive is empty), so nothing is ever archived", log);
	if (stat(final, &st) == 0)
		return say(EXIT_REFUSED, "snapshot %s already exists; a committed snapshot is immutable",
			   final);
	if ((rc = stage(file, staging)) != 0)
		return rc;
	if (rename(staging, final) != 0) {
		int err = errno;
		unlink(staging);
		return explain_commit(log, a->pos[1], err);
	}
	printf("%s: committed\n", final);
	fflush(stdout);
	return (a->flags & F_ARCHIVED) ? wait_archived(final, timeout) : EXIT_DONE;
}

static int cmd_metrics(const struct args *a)
{
	return ctl_metrics(a->pos[0]);
}

static int cmd_remove_log(const struct args *a)
{
	return ctl_remove_log(a->pos[0], a->pos[1], a->flags & F_YES);
}

/* ---- main ---------------------------------------------------------------- */

static const struct command commands[] = {
	{ "status", 1, 1, F_JSON, cmd_status },
	{ "trim", 2, 2, 0, cmd_trim },
	{ "snapshot", 3, 3, F_ARCHIVED | F_TIMEOUT, cmd_snapshot },
	{ "hold", 2, 3, F_REMOVE, cmd_hold },
	{ "persisted", 2, 2, 0, cmd_persisted },
	{ "seal", 1, 1, 0, cmd_seal },
	{ "mode", 2, 2, 0, cmd_mode },
	{ "metrics", 1, 1, 0, cmd_metrics },
	{ "remove-log", 2, 2, F_YES, cmd_remove_log },
};

int main(int argc, char **argv)
{
	struct args a = { .npos = 0 };
	int rc;

	for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return EXIT_DONE;
		}
		if (strcmp(argv[i], "--version") == 0 || strcmp(argv[i], "-V") == 0) {
			printf("lsnfsctl (lsnfs) %s\n", LSN_VERSION);
			return EXIT_DONE;
		}
	}
	if (argc < 2)
		return usage_error("missing COMMAND");
	if (strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return EXIT_DONE;
	}
	if (strcmp(argv[1], "config") == 0) /* offline, on a store: any number of KEY=VALUE */
		return lsnfsctl_config(argc - 2, argv + 2);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(argv[1], commands[i].name) != 0)
			continue;
		rc = parse_args(&commands[i], argc - 2, argv + 2, &a);
		return rc ? rc : commands[i].run(&a);
	}
	return usage_error("unknown command '%s'", argv[1]);
}
