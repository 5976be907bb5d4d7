/*
 * fs/xattr.c - the user.lsnfs.* extended attributes (SPEC section 5).
 *
 * One table says, for every attribute, where it lives, how its value is
 * read and written, and whether listxattr shows it.  Values are decimal
 * text without a newline.  Unknown user.lsnfs.* names: ENODATA on get,
 * EINVAL on set; read-only ones: EPERM on set; other namespaces: ENOTSUP
 * (the kernel's own security.* probes get that answer too).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs/fs.h"
#include "fs/xattr_value.h"
#include "storage/diag.h"

#define PREFIX "user.lsnfs."
#define PREFIX_LEN (sizeof(PREFIX) - 1)
#define VALUE_MAX (64 * 1024) /* the kernel's limit (XATTR_SIZE_MAX); metrics need room */

/* Where an attribute lives. */
enum {
	AT_ROOT = 1u << 0,
	AT_LOG = 1u << 1,
	AT_SNAPSHOT = 1u << 2,
	AT_SEGMENT = 1u << 3,
};

/* What one request is about. */
struct xattr_req {
	struct lsnfs *fs;
	const char *path;
	const struct lsn_path *p;
	struct lsn_log *log;       /* NULL at the root */
	const char *arg;           /* the part after a prefix ("hold.NAME": NAME) */
};

/* A value as written, checked against the attribute's kind. */
struct xattr_value {
	char text[LSN_XATTR_VALUE_MAX]; /* a log name (remove_log), a word, an LSN */
	uint64_t lsn;
};

/* The table's short names for fs/xattr_value.h's kinds.  VALUE_IGNORED: any bytes (seal). */
enum value_kind { VALUE_ANY = LSN_XATTR_ANY, VALUE_LSN = LSN_XATTR_LSN, VALUE_WORD = LSN_XATTR_WORD,
		  VALUE_IGNORED = LSN_XATTR_IGNORED };

struct xattr_def {
	const char *name;     /* full name after "user.lsnfs.", or a prefix ending in '.' */
	unsigned at;
	bool listed;
	enum value_kind kind; /* of what set takes */
	int (*get)(const struct xattr_req *r, char *text, size_t cap);
	int (*set)(const struct xattr_req *r, const struct xattr_value *v); /* NULL: read only */
	int (*remove)(const struct xattr_req *r);                          /* NULL: EPERM */
	/* Prefix entries: list the names under the prefix. */
	int (*list)(const struct xattr_req *r, void (*add)(void *l, const char *name), void *l);
};

/* ---- getters and setters ----------------------------------------------------- */

static int text_u64(char *text, size_t cap, uint64_t v)
{
	snprintf(text, cap, "%llu", (unsigned long long)v);
	return 0;
}

static int get_info(const struct xattr_req *r, char *text, size_t cap)
{
	struct lsn_log_info info;
	const char *n = r->arg;

	lsn_log_info(r->log, &info);
	return text_u64(text, cap, strcmp(n, "first_lsn") == 0  ? info.first_lsn
				   : strcmp(n, "tail_lsn") == 0 ? info.tail_lsn
				   : strcmp(n, "trim_point") == 0 ? info.trim_point
								  : info.persisted_lsn);
}

static int get_archived_lsn(const struct xattr_req *r, char *text, size_t cap)
{
	return text_u64(text, cap, lsn_node_archived_lsn(r->fs->node, r->log));
}

static int get_decision(const struct xattr_req *r, char *text, size_t cap)
{
	struct lsn_trim_decision d;
	int rc = lsn_node_decide(r->fs->node, r->log, &d);

	if (rc)
		return rc;
	if (strcmp(r->arg, "safe_trim_lsn") == 0)
		return text_u64(text, cap, d.safe_lsn);
	snprintf(text, cap, "%s",
		 strcmp(r->arg, "trim_strategy") == 0 ? lsn_trim_strategy_name(d.strategy) : d.reason);
	return 0;
}

static int set_persisted(const struct xattr_req *r, const struct xattr_value *v)
{
	return lsn_node_set_persisted(r->fs->node, r->log, v->lsn);
}

static int set_trim(const struct xattr_req *r, const struct xattr_value *v)
{
	uint64_t upto = 0;
	bool safe;

	if (lsn_xattr_trim_parse(v->text, &safe, &upto) != 0) {
		lsn_diag(LSN_DIAG_WARN, "setxattr %s user.lsnfs.trim refused: '%s' is not an LSN or 'safe'",
			 r->path, v->text);
		return -EINVAL;
	}
	if (safe)
		return lsn_node_trim_safe(r->fs->node, r->log);
	return lsn_node_trim_to(r->fs->node, r->log, upto);
}

static int set_seal(const struct xattr_req *r, const struct xattr_value *v)
{
	(void)v;
	return lsn_node_seal(r->fs->node, r->log);
}

static int get_hold(const struct xattr_req *r, char *text, size_t cap)
{
	uint64_t lsn;

	if (lsn_log_hold_get(r->log, r->arg, &lsn) != 0)
		return -ENODATA;
	return text_u64(text, cap, lsn);
}

static int set_hold(const struct xattr_req *r, const struct xattr_value *v)
{
	if (!lsn_name_valid(r->arg)) {
		lsn_diag(LSN_DIAG_WARN,
			 "setxattr %s user.lsnfs.hold.%s refused: a hold name is 1-64 of [A-Za-z0-9._-], "
			 "not starting with '.'", r->path, r->arg);
		return -EINVAL;
	}
	return lsn_node_hold_set(r->fs->node, r->log, r->arg, v->lsn);
}

static int remove_hold(const struct xattr_req *r)
{
	int rc = lsn_node_hold_remove(r->fs->node, r->log, r->arg);

	return rc == -ENOENT ? -ENODATA : rc;
}

static int list_holds(const struct xattr_req *r, void (*add)(void *l, const char *name), void *l)
{
	char name[sizeof("hold.") + LSN_NAME_MAX];
	struct lsn_hold *holds;
	size_t n;

	if (lsn_log_holds(r->log, &holds, &n) != 0)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "hold.%s", holds[i].name);
		add(l, name);
	}
	free(holds);
	return 0;
}

static int get_mode(const struct xattr_req *r, char *text, size_t cap)
{
	snprintf(text, cap, "%s", lsn_mode_name(lsn_node_mode(r->fs->node)));
	return 0;
}

static int set_mode(const struct xattr_req *r, const struct xattr_value *v)
{
	enum lsn_mode mode;

	if (lsn_mode_parse(v->text, &mode) != 0) {
		lsn_diag(LSN_DIAG_WARN, "setxattr %s user.lsnfs.mode refused: '%s' is not single or cluster",
			 r->path, v->text);
		return -EINVAL;
	}
	return lsn_node_set_mode(r->fs->node, mode);
}

static int get_archive(const struct xattr_req *r, char *text, size_t cap)
{
	const struct lsn_config *cfg = lsn_store_config(r->fs->store);

	/* Both may be configured (store and mount): both are used. */
	if (cfg->archive[0] && cfg->archive_command[0])
		snprintf(text, cap, "%s; archive_command=%s", cfg->archive, cfg->archive_command);
	else
		snprintf(text, cap, "%s", cfg->archive[0] ? cfg->archive : cfg->archive_command);
	return 0;
}

static int get_node_id(const struct xattr_req *r, char *text, size_t cap)
{
	snprintf(text, cap, "%s", lsn_store_config(r->fs->store)->node_id);
	return 0;
}

static int get_archive_state(const struct xattr_req *r, char *text, size_t cap)
{
	return lsn_node_archive_state_text(r->fs->node, text, cap);
}

static int get_archive_nodes(const struct xattr_req *r, char *text, size_t cap)
{
	return lsn_node_archive_nodes_text(r->fs->node, text, cap);
}

/* user.lsnfs.option.<key>: the value this mount uses (store or -o). */
static int get_option(const struct xattr_req *r, char *text, size_t cap)
{
	int rc = lsn_config_get(lsn_store_config(r->fs->store), r->arg, text, cap);

	return rc == -ENOENT ? -ENODATA : rc;
}

static int list_options(const struct xattr_req *r, void (*add)(void *l, const char *name),
			void *l)
{
	const struct lsn_config_key *k;
	char name[80];

	(void)r;
	for (size_t i = 0; (k = lsn_config_key_at(i)) != NULL; i++) {
		snprintf(name, sizeof(name), "option.%s", k->name);
		add(l, name);
	}
	return 0;
}

static int get_snapshot_archived(const struct xattr_req *r, char *text, size_t cap)
{
	return lsn_node_snapshot_archived_text(r->fs->node, r->log, r->p->lsn, text, cap);
}

static int get_segment_blocked(const struct xattr_req *r, char *text, size_t cap)
{
	return lsn_node_segment_blocked(r->fs->node, r->log, r->p->lsn, text, cap);
}

static int get_metrics(const struct xattr_req *r, char *text, size_t cap)
{
	char *m = NULL;
	int rc = lsn_node_metrics_text(r->fs->node, &m);

	if (rc == 0 && strlen(m) >= cap)
		rc = -E2BIG;
	if (rc == 0)
		memcpy(text, m, strlen(m) + 1);
	free(m);
	return rc;
}

static int set_remove_log(const struct xattr_req *r, const struct xattr_value *v)
{
	return lsn_node_purge_log(r->fs->node, v->text);
}

/* segments, logical_bytes, stored_bytes, holds, snapshots_unarchived */
static int get_status(const struct xattr_req *r, char *text, size_t cap)
{
	struct lsn_node_log_status st;
	const char *n = r->arg;
	size_t len = 0;
	int rc = lsn_node_log_status(r->fs->node, r->log, &st);

	if (rc)
		return rc;
	text[0] = '\0';
	if (strcmp(n, "segments") == 0) {
		text_u64(text, cap, st.info.n_segments);
	} else if (strcmp(n, "logical_bytes") == 0) {
		text_u64(text, cap, st.info.retained_bytes);
	} else if (strcmp(n, "stored_bytes") == 0) {
		text_u64(text, cap, st.stored_bytes);
	} else if (strcmp(n, "holds") == 0) { /* "NAME=LSN NAME=LSN" */
		for (size_t i = 0; i < st.n_holds && len < cap; i++)
			len += (size_t)snprintf(text + len, cap - len, "%s%s=%llu", i ? " " : "",
						st.holds[i].name, (unsigned long long)st.holds[i].lsn);
	} else { /* one line per snapshot: "LSN pending" or "LSN failed: REASON" */
		for (size_t i = 0; i < st.n_pending + st.n_failed && len < cap; i++) {
			const struct lsn_node_unarchived *u = &st.unarchived[i];

			len += (size_t)snprintf(text + len, cap - len, "%s%llu %s%s", i ? "\n" : "",
						(unsigned long long)u->lsn,
						u->failed ? "failed: " : "pending", u->reason);
		}
	}
	lsn_node_log_status_release(&st);
	return len >= cap ? -E2BIG : 0;
}

/* ---- the table ------------------------------------------------------------------ */

static const struct xattr_def xattrs[] = {
	{ "mode", AT_ROOT, true, VALUE_WORD, get_mode, set_mode, NULL, NULL },
	{ "archive", AT_ROOT, true, VALUE_ANY, get_archive, NULL, NULL, NULL },
	{ "node_id", AT_ROOT, true, VALUE_ANY, get_node_id, NULL, NULL, NULL },
	{ "archive_state", AT_ROOT, true, VALUE_ANY, get_archive_state, NULL, NULL, NULL },
	{ "archive_nodes", AT_ROOT, true, VALUE_ANY, get_archive_nodes, NULL, NULL, NULL },
	{ "option.", AT_ROOT, false, VALUE_ANY, get_option, NULL, NULL, list_options },
	{ "metrics", AT_ROOT, false, VALUE_ANY, get_metrics, NULL, NULL, NULL },
	{ "remove_log", AT_ROOT, false, VALUE_WORD, NULL, set_remove_log, NULL, NULL },
	{ "first_lsn", AT_LOG, true, VALUE_ANY, get_info, NULL, NULL, NULL },
	{ "tail_lsn", AT_LOG, true, VALUE_ANY, get_info, NULL, NULL, NULL },
	{ "trim_point", AT_LOG, true, VALUE_ANY, get_info, NULL, NULL, NULL },
	{ "persisted_lsn", AT_LOG, true, VALUE_LSN, get_info, set_persisted, NULL, NULL },
	{ "archived_lsn", AT_LOG, true, VALUE_ANY, get_archived_lsn, NULL, NULL, NULL },
	{ "safe_trim_lsn", AT_LOG, true, VALUE_ANY, get_decision, NULL, NULL, NULL },
	{ "trim_strategy", AT_LOG, true, VALUE_ANY, get_decision, NULL, NULL, NULL },
	{ "trim_blocked", AT_LOG, true, VALUE_ANY, get_decision, NULL, NULL, NULL },
	{ "segments", AT_LOG, true, VALUE_ANY, get_status, NULL, NULL, NULL },
	{ "logical_bytes", AT_LOG, true, VALUE_ANY, get_status, NULL, NULL, NULL },
	{ "stored_bytes", AT_LOG, true, VALUE_ANY, get_status, NULL, NULL, NULL },
	{ "holds", AT_LOG, true, VALUE_ANY, get_status, NULL, NULL, NULL },
	{ "snapshots_unarchived", AT_LOG, true, VALUE_ANY, get_status, NULL, NULL, NULL },
	{ "trim", AT_LOG, false, VALUE_WORD, NULL, set_trim, NULL, NULL },
	{ "seal", AT_LOG, false, VALUE_IGNORED, NULL, set_seal, NULL, NULL },
	{ "hold.", AT_LOG, false, VALUE_LSN, get_hold, set_hold, remove_hold, list_holds },
	{ "archived", AT_SNAPSHOT, true, VALUE_ANY, get_snapshot_archived, NULL, NULL, NULL },
	{ "trim_blocked", AT_SEGMENT, true, VALUE_ANY, get_segment_blocked, NULL, NULL, NULL },
};

static unsigned where(const struct lsn_path *p)
{
	switch (p->node) {
	case LSN_NODE_ROOT:
		return AT_ROOT;
	case LSN_NODE_LOG:
		return AT_LOG;
	case LSN_NODE_SNAPSHOT:
		return AT_SNAPSHOT;
	case LSN_NODE_SEGMENT:
		return AT_SEGMENT;
	default:
		return 0;
	}
}

/* The entry for `name` (after the prefix) at this place; r->arg is set. */
static const struct xattr_def *lookup(struct xattr_req *r, const char *name)
{
	unsigned at = where(r->p);

	for (size_t i = 0; i < sizeof(xattrs) / sizeof(xattrs[0]); i++) {
		const struct xattr_def *d = &xattrs[i];
		size_t len = strlen(d->name);
		bool prefix = d->name[len - 1] == '.';

		if (!(d->at & at))
			continue;
		if (prefix ? strncmp(name, d->name, len) == 0 && name[len] : strcmp(name, d->name) == 0) {
			r->arg = prefix ? name + len : name;
			return d;
		}
	}
	return NULL;
}

/* Parse a written value: exactly its text (fs/xattr_value.h). */
static int parse_value(const struct xattr_def *d, const char *value, size_t size,
		       struct xattr_value *v)
{
	memset(v, 0, sizeof(*v));
	return lsn_xattr_value_parse((enum lsn_xattr_kind)d->kind, value, size, v->text,
				     sizeof(v->text), &v->lsn);
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

/* ---- the operations ---------------------------------------------------------------- */

int lsnfs_getxattr(const char *path, const char *name, char *value, size_t size)
{
	char *text;
	const struct xattr_def *d;
	struct xattr_req r;
	struct lsn_path p;
	int rc;

	if (strncmp(name, "user.", 5) != 0)
		return -ENOTSUP;
	memset(&r, 0, sizeof(r));
	r.fs = lsnfs_ctx();
	r.path = path;
	r.p = &p;
	rc = lsnfs_resolve(r.fs, path, &p, &r.log);
	if (rc)
		return rc;
	if (strncmp(name, PREFIX, PREFIX_LEN) != 0)
		return -ENODATA;
	d = lookup(&r, name + PREFIX_LEN);
	if (!d || !d->get)
		return -ENODATA;
	text = malloc(VALUE_MAX);
	if (!text)
		return -ENOMEM;
	rc = d->get(&r, text, VALUE_MAX);
	if (rc == 0)
		rc = reply(value, size, text);
	free(text);
	return rc;
}

int lsnfs_setxattr(const char *path, const char *name, const char *value, size_t size, int flags)
{
	const struct xattr_def *d;
	struct xattr_value v;
	struct xattr_req r;
	struct lsn_path p;
	int rc;

	(void)flags;
	if (strncmp(name, PREFIX, PREFIX_LEN) != 0)
		return -ENOTSUP;
	memset(&r, 0, sizeof(r));
	r.fs = lsnfs_ctx();
	r.path = path;
	r.p = &p;
	rc = lsnfs_resolve(r.fs, path, &p, &r.log);
	if (rc)
		return rc;
	d = lookup(&r, name + PREFIX_LEN);
	if (!d) {
		lsn_diag(LSN_DIAG_WARN, "setxattr %s %s refused: no such attribute here", path, name);
		return -EINVAL;
	}
	if (!d->set) {
		lsn_diag(LSN_DIAG_WARN, "setxattr %s %s refused: read only%s", path, name,
			 d->at == AT_ROOT ? " (set it with mkfs.lsnfs or -o)" : "");
		return -EPERM;
	}
	if (parse_value(d, value, size, &v) != 0) {
		lsn_diag(LSN_DIAG_WARN, "setxattr %s %s refused: malformed value '%.*s'", path, name,
			 (int)(size > 64 ? 64 : size), value);
		return -EINVAL;
	}
	return d->set(&r, &v);
}

/* A growing list of names for listxattr. */
struct name_list {
	char *buf;
	size_t size, len;
	int rc;
};

static void list_add(void *arg, const char *name)
{
	struct name_list *l = arg;
	size_t n = PREFIX_LEN + strlen(name) + 1;

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

int lsnfs_listxattr(const char *path, char *list, size_t size)
{
	struct name_list l = { .buf = list, .size = size };
	struct xattr_req r;
	struct lsn_path p;
	unsigned at;
	int rc;

	memset(&r, 0, sizeof(r));
	r.fs = lsnfs_ctx();
	r.path = path;
	r.p = &p;
	rc = lsnfs_resolve(r.fs, path, &p, &r.log);
	if (rc)
		return rc;
	at = where(&p);
	for (size_t i = 0; i < sizeof(xattrs) / sizeof(xattrs[0]); i++) {
		const struct xattr_def *d = &xattrs[i];

		if (!(d->at & at))
			continue;
		if (d->listed)
			list_add(&l, d->name);
		if (d->list && (rc = d->list(&r, list_add, &l)) != 0)
			return rc;
	}
	return l.rc ? l.rc : (int)l.len;
}

int lsnfs_removexattr(const char *path, const char *name)
{
	const struct xattr_def *d;
	struct xattr_req r;
	struct lsn_path p;
	char *text;
	int rc;

	if (strncmp(name, "user.", 5) != 0)
		return -ENOTSUP;
	memset(&r, 0, sizeof(r));
	r.fs = lsnfs_ctx();
	r.path = path;
	r.p = &p;
	rc = lsnfs_resolve(r.fs, path, &p, &r.log);
	if (rc)
		return rc;
	if (strncmp(name, PREFIX, PREFIX_LEN) != 0)
		return -ENODATA;
	d = lookup(&r, name + PREFIX_LEN);
	if (!d)
		return -ENODATA;
	if (d->remove)
		return d->remove(&r);
	/* Known attributes cannot be removed; write-only ones do not exist. */
	if (!d->get || !(text = malloc(VALUE_MAX)))
		return -ENODATA;
	rc = d->get(&r, text, VALUE_MAX);
	free(text);
	if (rc)
		return -ENODATA;
	lsn_diag(LSN_DIAG_WARN, "removexattr %s %s refused: only hold.NAME can be removed", path, name);
	return -EPERM;
}
