/*
 * fs/xattr.c - the user.lsnfs.* extended attributes (SPEC section 5).
 *
 * Values are decimal text without a newline.  Unknown user.lsnfs.* names:
 * ENODATA on get, EINVAL on set; other namespaces: ENOTSUP (the kernel's
 * own security.* probes get that answer too).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs/fs.h"
#include "fs/trimmer.h"
#include "storage/diag.h"

#define PREFIX "user.lsnfs."
#define PREFIX_LEN (sizeof(PREFIX) - 1)
#define HOLD "hold."
#define VALUE_MAX (PATH_MAX + 1100) /* archive dir + archive_command */

/* A growing list of names for listxattr. */
struct name_list {
	char *buf;
	size_t size, len;
	int rc;
};

static void list_add(struct name_list *l, const char *name)
{
	size_t n = strlen(PREFIX) + strlen(name) + 1;

	if (l->rc)
		return;
	if (l->size == 0) { /* size probe */
		l->len += n;
		return;
	}
	if (l->len + n > l->size) {
		l->rc = -ERANGE;
		return;
	}
	snprintf(l->buf + l->len, n, "%s%s", PREFIX, name);
	l->len += n;
}

static int reply(char *value, size_t size, const char *text)
{
	size_t n = strlen(text);

	if (size == 0)
		return (int)n;
	if (n > size)
		return -ERANGE;
	memcpy(value, text, n);
	return (int)n;
}

static int parse_value(const char *value, size_t size, char *text, size_t cap)
{
	if (size >= cap)
		return -EINVAL;
	if (size)
		memcpy(text, value, size);
	text[size] = '\0';
	/* Tolerate one trailing newline (echo ... | xargs setfattr habits). */
	if (size > 0 && text[size - 1] == '\n')
		text[size - 1] = '\0';
	return 0;
}

static int parse_lsn_value(const char *value, size_t size, uint64_t *lsn)
{
	char text[32];

	if (parse_value(value, size, text, sizeof(text)) != 0)
		return -EINVAL;
	return lsn_parse_u64(text, lsn);
}

/* ---- log directory ----------------------------------------------------- */

static int log_get(struct lsn_log *log, const char *name, char *text, size_t cap)
{
	struct lsn_trim_decision d;
	struct lsn_log_info info;
	uint64_t v;

	lsn_log_info(log, &info);
	if (strcmp(name, "first_lsn") == 0)
		v = info.first_lsn;
	else if (strcmp(name, "tail_lsn") == 0)
		v = info.tail_lsn;
	else if (strcmp(name, "trim_point") == 0)
		v = info.trim_point;
	else if (strcmp(name, "persisted_lsn") == 0)
		v = info.persisted_lsn;
	else if (strcmp(name, "archived_lsn") == 0)
		v = lsnfs_archived_lsn(log);
	else if (strncmp(name, HOLD, strlen(HOLD)) == 0) {
		if (lsn_log_hold_get(log, name + strlen(HOLD), &v) != 0)
			return -ENODATA;
	} else if (strcmp(name, "safe_trim_lsn") == 0 || strcmp(name, "trim_strategy") == 0 ||
		   strcmp(name, "trim_blocked") == 0) {
		lsnfs_trim_decide(log, &d);
		if (name[0] == 's')
			v = d.safe_lsn;
		else {
			snprintf(text, cap, "%s",
				 name[5] == 's' ? lsn_trim_strategy_name(d.strategy) : d.reason);
			return 0;
		}
	} else
		return -ENODATA;
	snprintf(text, cap, "%llu", (unsigned long long)v);
	return 0;
}

static void log_list(struct lsn_log *log, struct name_list *l)
{
	static const char *const names[] = { "first_lsn",     "tail_lsn",      "trim_point",
					      "persisted_lsn", "archived_lsn",  "safe_trim_lsn",
					      "trim_strategy", "trim_blocked",  NULL };
	struct lsn_hold *holds;
	char hold[sizeof(HOLD) + LSN_NAME_MAX];
	size_t n;

	for (const char *const *p = names; *p; p++)
		list_add(l, *p);
	if (lsn_log_holds(log, &holds, &n) != 0) {
		l->rc = -ENOMEM;
		return;
	}
	for (size_t i = 0; i < n; i++) {
		snprintf(hold, sizeof(hold), HOLD "%s", holds[i].name);
		list_add(l, hold);
	}
	free(holds);
}

static int log_set(struct lsn_log *log, const char *name, const char *value, size_t size)
{
	char text[64];
	uint64_t lsn;
	int rc;

	if (strcmp(name, "seal") == 0)
		return lsn_log_seal(log);
	if (strcmp(name, "trim") == 0) {
		if (parse_value(value, size, text, sizeof(text)) != 0)
			return -EINVAL;
		return lsnfs_trim_to(log, text);
	}
	if (strcmp(name, "persisted_lsn") == 0) {
		if (parse_lsn_value(value, size, &lsn) != 0)
			return -EINVAL;
		rc = lsn_log_set_persisted(log, lsn);
		if (rc == -EINVAL) {
			struct lsn_log_info info;
			lsn_log_info(log, &info);
			lsn_diag(LSN_DIAG_WARN,
				 "log %s: persisted_lsn %llu refused: must be >= %llu (never decreases) and <= tail %llu",
				 lsn_log_name(log), (unsigned long long)lsn,
				 (unsigned long long)info.persisted_lsn,
				 (unsigned long long)info.tail_lsn);
		}
		return rc;
	}
	if (strncmp(name, HOLD, strlen(HOLD)) == 0) {
		if (!lsn_name_valid(name + strlen(HOLD)) || parse_lsn_value(value, size, &lsn) != 0)
			return -EINVAL;
		return lsn_log_hold_set(log, name + strlen(HOLD), lsn);
	}
	if (strcmp(name, "first_lsn") == 0 || strcmp(name, "tail_lsn") == 0 ||
	    strcmp(name, "trim_point") == 0 || strcmp(name, "archived_lsn") == 0 ||
	    strcmp(name, "safe_trim_lsn") == 0 || strcmp(name, "trim_strategy") == 0 ||
	    strcmp(name, "trim_blocked") == 0) {
		lsn_diag(LSN_DIAG_WARN, "log %s: user.lsnfs.%s is read only", lsn_log_name(log), name);
		return -EPERM;
	}
	return -EINVAL;
}

/* ---- mount root ------------------------------------------------------- */

static int root_get(const char *name, char *text, size_t cap)
{
	const struct lsn_config *cfg = lsn_store_config(lsnfs_ctx()->store);

	if (strcmp(name, "mode") == 0)
		snprintf(text, cap, "%s", lsn_trim_mode_name(cfg->mode));
	else if (strcmp(name, "archive") == 0) {
		/* Both may be configured (store and mount): both are used. */
		if (cfg->archive[0] && cfg->archive_command[0])
			snprintf(text, cap, "%s; archive_command=%s", cfg->archive, cfg->archive_command);
		else
			snprintf(text, cap, "%s", cfg->archive[0] ? cfg->archive : cfg->archive_command);
	}
	else if (strcmp(name, "node_id") == 0)
		snprintf(text, cap, "%s", cfg->node_id);
	else
		return -ENODATA;
	return 0;
}

static int root_set(const char *name, const char *value, size_t size)
{
	enum lsn_mode mode;
	char text[32];

	if (strcmp(name, "mode") == 0) {
		if (parse_value(value, size, text, sizeof(text)) != 0 ||
		    lsn_trim_mode_parse(text, &mode) != 0)
			return -EINVAL;
		return lsnfs_set_mode(mode);
	}
	if (strcmp(name, "archive") == 0 || strcmp(name, "node_id") == 0) {
		lsn_diag(LSN_DIAG_WARN, "user.lsnfs.%s is read only (set it with mkfs.lsnfs or -o)", name);
		return -EPERM;
	}
	return -EINVAL;
}

/* ---- dispatch ---------------------------------------------------------- */

static int lsnfs_getxattr(const char *path, const char *name, char *value, size_t size)
{
	char text[VALUE_MAX];
	struct lsn_log *log;
	struct lsn_path p;
	int rc;

	if (strncmp(name, "user.", 5) != 0)
		return -ENOTSUP;
	rc = lsnfs_resolve(path, &p, &log);
	if (rc)
		return rc;
	if (strncmp(name, PREFIX, PREFIX_LEN) != 0)
		return -ENODATA;
	name += PREFIX_LEN;
	switch (p.node) {
	case LSN_NODE_ROOT:
		rc = root_get(name, text, sizeof(text));
		break;
	case LSN_NODE_LOG:
		rc = log_get(log, name, text, sizeof(text));
		break;
	case LSN_NODE_SNAPSHOT:
		if (strcmp(name, "archived") != 0)
			return -ENODATA;
		rc = lsnfs_snapshots_archived_text(log, &p, text, sizeof(text));
		break;
	case LSN_NODE_SEGMENT:
		if (strcmp(name, "trim_blocked") != 0)
			return -ENODATA;
		rc = lsnfs_trim_segment_blocked(log, p.lsn, text, sizeof(text));
		break;
	default:
		return -ENODATA;
	}
	return rc ? rc : reply(value, size, text);
}

static int lsnfs_setxattr(const char *path, const char *name, const char *value, size_t size,
			  int flags)
{
	struct lsn_log *log;
	struct lsn_path p;
	int rc;

	(void)flags;
	if (strncmp(name, "user.", 5) != 0)
		return -ENOTSUP;
	rc = lsnfs_resolve(path, &p, &log);
	if (rc)
		return rc;
	if (strncmp(name, PREFIX, PREFIX_LEN) != 0)
		return -ENOTSUP;
	name += PREFIX_LEN;
	switch (p.node) {
	case LSN_NODE_ROOT:
		rc = root_set(name, value, size);
		break;
	case LSN_NODE_LOG:
		rc = log_set(log, name, value, size);
		break;
	case LSN_NODE_SNAPSHOT:
	case LSN_NODE_SEGMENT:
		rc = (strcmp(name, "archived") == 0 || strcmp(name, "trim_blocked") == 0) ? -EPERM
											  : -EINVAL;
		break;
	default:
		rc = -EINVAL;
	}
	if (rc == -EINVAL)
		lsn_diag(LSN_DIAG_WARN, "setxattr %s user.lsnfs.%s refused: unknown name or malformed value",
			 path, name);
	return rc;
}

static int lsnfs_listxattr(const char *path, char *list, size_t size)
{
	struct name_list l = { .buf = list, .size = size };
	struct lsn_log *log;
	struct lsn_path p;
	int rc;

	rc = lsnfs_resolve(path, &p, &log);
	if (rc)
		return rc;
	switch (p.node) {
	case LSN_NODE_ROOT:
		list_add(&l, "mode");
		list_add(&l, "archive");
		list_add(&l, "node_id");
		break;
	case LSN_NODE_LOG:
		log_list(log, &l);
		break;
	case LSN_NODE_SNAPSHOT:
		list_add(&l, "archived");
		break;
	case LSN_NODE_SEGMENT:
		list_add(&l, "trim_blocked");
		break;
	default:
		break;
	}
	return l.rc ? l.rc : (int)l.len;
}

static int lsnfs_removexattr(const char *path, const char *name)
{
	struct lsn_log *log;
	struct lsn_path p;
	int rc;

	if (strncmp(name, "user.", 5) != 0)
		return -ENOTSUP;
	rc = lsnfs_resolve(path, &p, &log);
	if (rc)
		return rc;
	if (strncmp(name, PREFIX HOLD, PREFIX_LEN + strlen(HOLD)) == 0 && p.node == LSN_NODE_LOG) {
		rc = lsn_log_hold_remove(log, name + PREFIX_LEN + strlen(HOLD));
		return rc == -ENOENT ? -ENODATA : rc;
	}
	if (strncmp(name, PREFIX, PREFIX_LEN) == 0) {
		char text[VALUE_MAX];
		/* Known attributes cannot be removed; unknown ones do not exist. */
		if ((p.node == LSN_NODE_LOG && log_get(log, name + PREFIX_LEN, text, sizeof(text)) == 0) ||
		    (p.node == LSN_NODE_ROOT && root_get(name + PREFIX_LEN, text, sizeof(text)) == 0)) {
			lsn_diag(LSN_DIAG_WARN, "removexattr %s %s refused: only hold.NAME can be removed",
				 path, name);
			return -EPERM;
		}
		return -ENODATA;
	}
	return -ENODATA;
}

void lsnfs_xattr_fill(struct fuse_operations *ops)
{
	ops->getxattr = lsnfs_getxattr;
	ops->setxattr = lsnfs_setxattr;
	ops->listxattr = lsnfs_listxattr;
	ops->removexattr = lsnfs_removexattr;
}
