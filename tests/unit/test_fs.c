/*
 * Unit tests for the pure parts of fs/ (path parsing, append.lines
 * splitting) and for the xattr table, driven through a real node without a
 * mount: the test stands in for libfuse's fuse_get_context().
 */
#include "tests/unit/fixture.h"

#include <sys/xattr.h>

#include "fs/fs.h"
#include "fs/lines.h"
#include "fs/path.h"
#include "fs/xattr_value.h"

/* ---- path parsing ---------------------------------------------------------- */

struct path_case {
	const char *path;
	int rc;
	enum lsn_path_node node;
	const char *log;
	uint64_t lsn;
	const char *name;
};

static const struct path_case path_cases[] = {
	{ "/", 0, LSN_NODE_ROOT, "", 0, "" },
	{ "//", 0, LSN_NODE_ROOT, "", 0, "" },
	{ "/p0", 0, LSN_NODE_LOG, "p0", 0, "" },
	{ "/p0/", 0, LSN_NODE_LOG, "p0", 0, "" },
	{ "/p0/append", 0, LSN_NODE_APPEND, "p0", 0, "" },
	{ "/p0/append.lines", 0, LSN_NODE_APPEND_LINES, "p0", 0, "" },
	{ "/p0/segments", 0, LSN_NODE_SEGDIR, "p0", 0, "" },
	{ "/p0/segments/00000000000000000042.log", 0, LSN_NODE_SEGMENT, "p0", 42, "" },
	{ "/p0/index/00000000000000000042.index", 0, LSN_NODE_INDEX, "p0", 42, "" },
	{ "/p0/snapshots/00000000000000001234.snap", 0, LSN_NODE_SNAPSHOT, "p0", 1234, "" },
	{ "/p0/snapshots/.incoming-42", 0, LSN_NODE_STAGING, "p0", 0, ".incoming-42" },
	{ "/p0/snapshots/1234.snap", 0, LSN_NODE_STAGING, "p0", 0, "1234.snap" },
	{ "/p0/segments/42.log", -ENOENT, 0, "", 0, "" },
	{ "/p0/segments/00000000000000000042.index", -ENOENT, 0, "", 0, "" },
	{ "/p0/index/00000000000000000042.log", -ENOENT, 0, "", 0, "" },
	{ "/p0/nothing", -ENOENT, 0, "", 0, "" },
	{ "/.hidden", -ENOENT, 0, "", 0, "" },
	{ "/bad name", -ENOENT, 0, "", 0, "" },
	{ "/p0/segments/00000000000000000042.log/x", -ENOENT, 0, "", 0, "" },
	{ "/p0/snapshots/a/b", -ENOENT, 0, "", 0, "" },
};

Test(fs_path, parse_table)
{
	for (size_t i = 0; i < sizeof(path_cases) / sizeof(path_cases[0]); i++) {
		const struct path_case *c = &path_cases[i];
		struct lsn_path p;
		int rc = lsn_path_parse(c->path, &p);

		cr_assert_eq(rc, c->rc, "%s: rc %d, want %d", c->path, rc, c->rc);
		if (rc)
			continue;
		cr_expect_eq(p.node, c->node, "%s: node %d, want %d", c->path, p.node, c->node);
		cr_expect_str_eq(p.log, c->log, "%s", c->path);
		cr_expect_eq(p.lsn, c->lsn, "%s", c->path);
		cr_expect_str_eq(p.name, c->name, "%s", c->path);
	}
}

Test(fs_path, long_names)
{
	char path[600];
	struct lsn_path p;

	snprintf(path, sizeof(path), "/p0/snapshots/%0300d", 7);
	cr_expect_eq(lsn_path_parse(path, &p), -ENAMETOOLONG);
	snprintf(path, sizeof(path), "/%065d", 7);
	cr_expect_eq(lsn_path_parse(path, &p), -ENOENT, "a log name is at most 64 characters");
}

/* ---- append.lines ------------------------------------------------------------- */

struct sink {
	char records[16][64];
	size_t n;
	size_t calls;
	int fail;
};

static int sink_append(void *arg, const struct iovec *records, size_t n)
{
	struct sink *s = arg;

	if (s->fail)
		return s->fail;
	s->calls++;
	for (size_t i = 0; i < n; i++) {
		cr_assert_lt(s->n, 16);
		cr_assert_lt(records[i].iov_len, 64);
		memcpy(s->records[s->n], records[i].iov_base, records[i].iov_len);
		s->records[s->n++][records[i].iov_len] = '\0';
	}
	return 0;
}

static int feed(struct lsn_lines *l, struct sink *s, const char *text, size_t max)
{
	return lsn_lines_write(l, text, strlen(text), max, sink_append, s);
}

Test(fs_lines, lines_partial_lines_and_flush)
{
	struct lsn_lines l = { 0 };
	struct sink s = { 0 };

	cr_assert_eq(feed(&l, &s, "a\nbb\ncc", 100), 0);
	cr_expect_eq(s.calls, 1, "one write, one batch");
	cr_assert_eq(s.n, 2);
	cr_expect_str_eq(s.records[0], "a\n");
	cr_expect_str_eq(s.records[1], "bb\n");
	cr_assert_eq(feed(&l, &s, "c", 100), 0);
	cr_expect_eq(s.n, 2, "still no newline: held");
	cr_assert_eq(feed(&l, &s, "c\nd", 100), 0);
	cr_expect_str_eq(s.records[2], "cccc\n", "the held part joins its end");
	cr_assert_eq(lsn_lines_flush(&l, sink_append, &s), 0);
	cr_expect_str_eq(s.records[3], "d", "the last partial line is a record at close");
	cr_assert_eq(lsn_lines_flush(&l, sink_append, &s), 0);
	cr_expect_eq(s.n, 4, "nothing held: nothing flushed");
	lsn_lines_release(&l);
	lsn_lines_release(&l);
}

Test(fs_lines, an_over_long_line_is_refused_whole)
{
	struct lsn_lines l = { 0 };
	struct sink s = { 0 };

	cr_expect_eq(feed(&l, &s, "ok\n0123456789\n", 8), -EFBIG);
	cr_expect_eq(s.n, 0, "nothing of the write is appended");
	/* A long line arriving in pieces: dropped up to its newline. */
	cr_assert_eq(feed(&l, &s, "abc", 8), 0);
	cr_expect_eq(feed(&l, &s, "defghij", 8), -EFBIG);
	cr_expect_eq(feed(&l, &s, "klm", 8), -EFBIG, "still the same line");
	cr_assert_eq(feed(&l, &s, "n\nnext\n", 8), 0);
	cr_assert_eq(s.n, 1);
	cr_expect_str_eq(s.records[0], "next\n");
	lsn_lines_release(&l);
}

Test(fs_lines, a_failed_append_keeps_the_held_line)
{
	struct lsn_lines l = { 0 };
	struct sink s = { 0 };

	cr_assert_eq(feed(&l, &s, "par", 100), 0);
	s.fail = -ENOSPC;
	cr_expect_eq(feed(&l, &s, "t\n", 100), -ENOSPC);
	s.fail = 0;
	cr_assert_eq(feed(&l, &s, "t\n", 100), 0);
	cr_expect_str_eq(s.records[0], "part\n");
	lsn_lines_release(&l);
}

/* ---- xattr values (pure) ------------------------------------------------------------ */

struct value_case {
	enum lsn_xattr_kind kind;
	const char *value;
	size_t size; /* 0: strlen(value) */
	int rc;
	uint64_t lsn;
};

static const struct value_case value_cases[] = {
	{ LSN_XATTR_LSN, "0", 0, 0, 0 },
	{ LSN_XATTR_LSN, "42", 0, 0, 42 },
	{ LSN_XATTR_LSN, "0042", 0, 0, 42 }, /* zero padding, as in file names */
	{ LSN_XATTR_LSN, "18446744073709551615", 0, 0, UINT64_MAX },
	{ LSN_XATTR_LSN, "18446744073709551616", 0, -EINVAL, 0 },  /* UINT64_MAX + 1 */
	{ LSN_XATTR_LSN, "99999999999999999999", 0, -EINVAL, 0 },  /* 20 digits, too big */
	{ LSN_XATTR_LSN, "000000000000000000001", 0, -EINVAL, 0 }, /* 21 digits */
	{ LSN_XATTR_LSN, "", 0, -EINVAL, 0 },
	{ LSN_XATTR_LSN, "-1", 0, -EINVAL, 0 },
	{ LSN_XATTR_LSN, "+1", 0, -EINVAL, 0 },
	{ LSN_XATTR_LSN, " 1", 0, -EINVAL, 0 },
	{ LSN_XATTR_LSN, "1k", 0, -EINVAL, 0 },
	{ LSN_XATTR_LSN, "5\n", 0, -EINVAL, 0 },
	{ LSN_XATTR_LSN, "5\0", 2, -EINVAL, 0 },    /* a C string's terminator */
	{ LSN_XATTR_LSN, "5\0009", 3, -EINVAL, 0 }, /* an embedded NUL */
	{ LSN_XATTR_WORD, "safe", 0, 0, 0 },
	{ LSN_XATTR_WORD, "", 0, -EINVAL, 0 },
	{ LSN_XATTR_WORD, "safe\n", 0, -EINVAL, 0 },
	{ LSN_XATTR_WORD, "single\0", 7, -EINVAL, 0 },
	{ LSN_XATTR_WORD, "a\nb", 0, 0, 0 }, /* a newline inside: the word's reader refuses it */
	{ LSN_XATTR_ANY, "", 0, 0, 0 },
	{ LSN_XATTR_ANY, "\n", 0, -EINVAL, 0 },
	{ LSN_XATTR_IGNORED, "anything\n\0", 10, 0, 0 },
	{ LSN_XATTR_IGNORED, "", 0, 0, 0 },
};

Test(fs_xattr_value, parse_table)
{
	for (size_t i = 0; i < sizeof(value_cases) / sizeof(value_cases[0]); i++) {
		const struct value_case *c = &value_cases[i];
		size_t size = c->size ? c->size : strlen(c->value);
		char text[LSN_XATTR_VALUE_MAX] = "untouched";
		uint64_t lsn = 7;
		int rc = lsn_xattr_value_parse(c->kind, c->value, size, text, sizeof(text), &lsn);

		cr_assert_eq(rc, c->rc, "row %zu '%s': rc %d, want %d", i, c->value, rc, c->rc);
		if (rc || c->kind == LSN_XATTR_IGNORED)
			continue;
		cr_expect_eq(strlen(text), size, "row %zu: the text is the value, terminated", i);
		cr_expect_eq(memcmp(text, c->value, size), 0, "row %zu", i);
		if (c->kind == LSN_XATTR_LSN)
			cr_expect_eq(lsn, c->lsn, "row %zu: lsn %llu", i, (unsigned long long)lsn);
	}
}

Test(fs_xattr_value, size_limit_and_ignored_values)
{
	char value[LSN_XATTR_VALUE_MAX + 1], text[LSN_XATTR_VALUE_MAX] = "untouched";
	uint64_t lsn = 7;

	memset(value, 'a', sizeof(value));
	cr_expect_eq(lsn_xattr_value_parse(LSN_XATTR_WORD, value, sizeof(text) - 1, text, sizeof(text), &lsn),
		     0, "the longest value that fits");
	cr_expect_eq(strlen(text), sizeof(text) - 1);
	cr_expect_eq(lsn_xattr_value_parse(LSN_XATTR_WORD, value, sizeof(text), text, sizeof(text), &lsn),
		     -EINVAL, "one byte more");
	memcpy(text, "untouched", 10);
	cr_expect_eq(lsn_xattr_value_parse(LSN_XATTR_IGNORED, value, sizeof(value), text, sizeof(text), &lsn),
		     0);
	cr_expect_str_eq(text, "untouched", "seal's value is not looked at");
	cr_expect_eq(lsn, 7);
}

Test(fs_xattr_value, trim_takes_safe_or_an_lsn)
{
	bool safe = false;
	uint64_t upto = 0;

	cr_expect_eq(lsn_xattr_trim_parse("safe", &safe, &upto), 0);
	cr_expect(safe);
	cr_expect_eq(lsn_xattr_trim_parse("120", &safe, &upto), 0);
	cr_expect(!safe);
	cr_expect_eq(upto, 120);
	cr_expect_eq(lsn_xattr_trim_parse("Safe", &safe, &upto), -EINVAL);
	cr_expect_eq(lsn_xattr_trim_parse("safe ", &safe, &upto), -EINVAL);
	cr_expect_eq(lsn_xattr_trim_parse("18446744073709551616", &safe, &upto), -EINVAL);
	cr_expect_eq(lsn_xattr_trim_parse("", &safe, &upto), -EINVAL);
}

/* ---- the xattr table, through a node ---------------------------------------------- */

static struct lsnfs fs_;
static struct lsn_clock fake_clock;
static struct fuse_context fake_context;

/* What libfuse gives every operation; here, our mount's state. */
struct fuse_context *fuse_get_context(void)
{
	fake_context.private_data = &fs_;
	return &fake_context;
}

static void xattr_setup(void)
{
	struct lsn_node_options opts = { .clock = &fake_clock, .threads = false };
	struct lsn_config cfg;

	setup();
	lsn_config_defaults(&cfg);
	cfg.segment_size = 4096;
	cfg.trim_delay = 0;
	fx_open_cfg(&cfg);
	lsn_clock_init_fake(&fake_clock, 1000);
	cr_assert_eq(lsn_node_open(&fs_.node, store, &opts), 0);
	store = NULL;
	cr_assert_eq(lsn_node_start(fs_.node), 0);
	fs_.store = lsn_node_store(fs_.node);
	lsnfs_partials_init(&fs_.partials);
	cr_assert_eq(lsnfs_mkdir("/p0", 0755), 0);
}

static void xattr_teardown(void)
{
	lsn_node_free(fs_.node);
	lsnfs_partials_destroy(&fs_.partials);
	memset(&fs_, 0, sizeof(fs_));
	fx_rm_tmpdir();
}

static const char *get(const char *path, const char *name)
{
	static char buf[512];
	int n = lsnfs_getxattr(path, name, buf, sizeof(buf) - 1);

	if (n < 0)
		snprintf(buf, sizeof(buf), "error %d", n);
	else
		buf[n] = '\0';
	return buf;
}

static int set(const char *path, const char *name, const char *value)
{
	return lsnfs_setxattr(path, name, value, strlen(value), 0);
}

TestSuite(fs_xattr, .init = xattr_setup, .fini = xattr_teardown, .timeout = 60);

Test(fs_xattr, names_places_and_errors)
{
	cr_expect_str_eq(get("/p0", "user.lsnfs.tail_lsn"), "0");
	cr_expect_str_eq(get("/p0", "user.lsnfs.trim_strategy"), "persisted");
	cr_expect_str_eq(get("/", "user.lsnfs.mode"), "single");
	cr_expect_str_eq(get("/p0", "user.lsnfs.mode"), "error -61", "root attribute on a log");
	cr_expect_str_eq(get("/", "user.lsnfs.tail_lsn"), "error -61", "log attribute on the root");
	cr_expect_str_eq(get("/p0", "user.lsnfs.nope"), "error -61");
	cr_expect_str_eq(get("/p0", "user.lsnfs.trim"), "error -61", "write-only");
	cr_expect_str_eq(get("/p0", "user.other"), "error -61");
	cr_expect_str_eq(get("/p0", "security.selinux"), "error -95");
	cr_expect_str_eq(get("/nolog", "user.lsnfs.tail_lsn"), "error -2");

	cr_expect_eq(set("/p0", "user.lsnfs.nope", "1"), -EINVAL);
	cr_expect_eq(set("/p0", "user.lsnfs.tail_lsn", "1"), -EPERM, "read only");
	cr_expect_eq(set("/", "user.lsnfs.archive", "/x"), -EPERM);
	cr_expect_eq(set("/p0", "trusted.x", "1"), -ENOTSUP);
	cr_expect_eq(set("/", "user.lsnfs.mode", "bogus"), -EINVAL);
	cr_expect_eq(set("/", "user.lsnfs.mode", "cluster"), -EPERM, "no archive");
	cr_expect_eq(set("/", "user.lsnfs.mode", "single"), 0);
}

Test(fs_xattr, values_are_checked)
{
	struct iovec iov = { (void *)(uintptr_t)"x", 1 };
	struct lsn_log *log;

	cr_assert_eq(lsn_store_find_log(fs_.store, "p0", &log), 0);
	for (int i = 0; i < 10; i++)
		cr_assert_eq(lsn_node_append(fs_.node, log, &iov, 1, NULL), 0);
	cr_expect_eq(set("/p0", "user.lsnfs.persisted_lsn", "abc"), -EINVAL);
	cr_expect_eq(set("/p0", "user.lsnfs.persisted_lsn", "-1"), -EINVAL);
	cr_expect_eq(set("/p0", "user.lsnfs.persisted_lsn", ""), -EINVAL);
	cr_expect_eq(lsnfs_setxattr("/p0", "user.lsnfs.persisted_lsn", "5\0009", 3, 0), -EINVAL,
		     "an embedded NUL");
	cr_expect_eq(set("/p0", "user.lsnfs.persisted_lsn", "11"), -EINVAL, "above the tail");
	cr_expect_eq(set("/p0", "user.lsnfs.persisted_lsn", "7"), 0);
	cr_expect_eq(set("/p0", "user.lsnfs.persisted_lsn", "6"), -EINVAL, "never decreases");
	cr_expect_str_eq(get("/p0", "user.lsnfs.persisted_lsn"), "7");
	cr_expect_str_eq(get("/p0", "user.lsnfs.safe_trim_lsn"), "7");
	cr_expect_eq(set("/p0", "user.lsnfs.trim", "soon"), -EINVAL);
	cr_expect_eq(set("/p0", "user.lsnfs.trim", "safe"), 0, "nothing sealed: nothing to do");
	cr_expect_eq(set("/p0", "user.lsnfs.seal", ""), 0, "seal takes any value");
}

Test(fs_xattr, holds_list_and_remove)
{
	char list[8192];
	int n;

	cr_expect_eq(set("/p0", "user.lsnfs.hold.backup", "3"), 0);
	cr_expect_eq(set("/p0", "user.lsnfs.hold..x", "3"), -EINVAL, "not a hold name");
	cr_expect_eq(set("/p0", "user.lsnfs.hold.", "3"), -EINVAL);
	cr_expect_str_eq(get("/p0", "user.lsnfs.hold.backup"), "3");
	cr_expect_str_eq(get("/p0", "user.lsnfs.hold.other"), "error -61");
	n = lsnfs_listxattr("/p0", NULL, 0);
	cr_assert_gt(n, 0);
	cr_assert_eq(lsnfs_listxattr("/p0", list, (size_t)n), n);
	cr_expect_eq(lsnfs_listxattr("/p0", list, 10), -ERANGE);
	cr_expect(memmem(list, (size_t)n, "user.lsnfs.hold.backup", 23) != NULL);
	cr_expect(memmem(list, (size_t)n, "user.lsnfs.safe_trim_lsn", 25) != NULL);
	cr_expect(memmem(list, (size_t)n, "user.lsnfs.trim\0", 16) == NULL, "write-only: not listed");
	cr_expect_eq(lsnfs_removexattr("/p0", "user.lsnfs.tail_lsn"), -EPERM);
	cr_expect_eq(lsnfs_removexattr("/p0", "user.lsnfs.trim"), -ENODATA);
	cr_expect_eq(lsnfs_removexattr("/p0", "user.lsnfs.hold.backup"), 0);
	cr_expect_eq(lsnfs_removexattr("/p0", "user.lsnfs.hold.backup"), -ENODATA);
	n = lsnfs_listxattr("/", list, sizeof(list));
	cr_assert_gt(n, 0);
	cr_expect(memmem(list, (size_t)n, "user.lsnfs.mode\0", 16) != NULL);
}
