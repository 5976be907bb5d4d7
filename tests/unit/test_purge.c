/*
 * Unit tests of removing a whole log (lsn_store_purge_log, under
 * lsnfsctl remove-log), of the stored-bytes estimate and of the node's
 * Prometheus text (lsn_node_metrics_text).
 */
#include "tests/unit/fixture.h"

#include <stdlib.h>

#include "node/node.h"
#include "storage/snapshot.h"

static void append_lines(struct lsn_log *log, int n)
{
	char buf[64];

	for (int i = 1; i <= n; i++) {
		struct iovec iov = { buf, (size_t)snprintf(buf, sizeof(buf), "line %06d of the log\n", i) };
		cr_assert_eq(lsn_log_append(log, &iov, 1, NULL), 0);
	}
}

static void commit_snapshot(struct lsn_log *log, uint64_t lsn)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/state", tmpdir);
	f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs("consumer state\n", f);
	fclose(f);
	cr_assert_eq(lsn_snapshot_commit(log, path, lsn), 0);
}

Test(purge, removes_everything_in_one_step, .init = setup, .fini = teardown)
{
	struct lsn_snapshot_info *snaps;
	struct lsn_log_info info;
	struct lsn_log *log;
	size_t n;

	fx_open(4096);
	log = fx_create("p");
	fx_create("other");
	append_lines(log, 2000);
	commit_snapshot(log, 1500);
	cr_expect_eq(lsn_store_remove_log(store, "p"), -ENOTEMPTY, "rmdir semantics refuse");

	cr_assert_eq(lsn_log_hold_set(log, "backup", 10), 0);
	cr_expect_eq(lsn_store_purge_log(store, "p"), -EBUSY, "refused while held");
	fx_reopen();
	log = fx_log("p");
	lsn_log_info(log, &info);
	cr_expect_eq(info.tail_lsn, 2000, "a refused purge changes nothing");
	cr_assert_eq(lsn_snapshot_list(log, &snaps, &n), 0);
	cr_expect_eq(n, 1);
	free(snaps);

	cr_assert_eq(lsn_log_hold_remove(log, "backup"), 0);
	cr_assert_eq(lsn_store_purge_log(store, "p"), 0);
	cr_expect_eq(lsn_store_find_log(store, "p", &log), -ENOENT);
	cr_expect_eq(lsn_store_purge_log(store, "p"), -ENOENT);
	cr_expect_eq(lsn_store_purge_log(store, "../x"), -EINVAL);
	fx_reopen();
	cr_expect_eq(lsn_store_find_log(store, "p", &log), -ENOENT, "gone after reopen");
	fx_log("other");

	/* The name starts from scratch: no records, snapshots or holds survive. */
	log = fx_create("p");
	lsn_log_info(log, &info);
	cr_expect_eq(info.tail_lsn, 0);
	cr_expect_eq(info.n_segments, 1);
	cr_assert_eq(lsn_snapshot_list(log, &snaps, &n), 0);
	cr_expect_eq(n, 0, "snapshots of the old log are gone");
	free(snaps);
}

Test(purge, stored_bytes_estimate, .init = setup, .fini = teardown)
{
	struct lsn_log_info info;
	struct lsn_log *log;
	uint64_t bytes;

	fx_open(0);
	log = fx_create("s");
	cr_assert_eq(lsn_log_stored_bytes(log, &bytes), 0);
	cr_expect_eq(bytes, 0, "an empty log stores nothing");
	append_lines(log, 20000);
	cr_assert_eq(lsn_log_seal(log), 0);
	fx_reopen(); /* RocksDB flushes what it recovers from its log */
	log = fx_log("s");
	lsn_log_info(log, &info);
	cr_assert_eq(lsn_log_stored_bytes(log, &bytes), 0);
	cr_expect_gt(bytes, 0, "stored bytes after a flush");
	cr_expect_lt(bytes, info.retained_bytes, "repetitive text compresses: %llu of %llu",
		     (unsigned long long)bytes, (unsigned long long)info.retained_bytes);
}

Test(metrics, text_has_every_family_once, .init = setup, .fini = teardown)
{
	struct lsn_node_options opts = { .threads = false };
	struct lsn_node *node;
	struct lsn_log *log;
	char *text, *p;

	fx_open(4096);
	log = fx_create("p0");
	fx_create("p1");
	cr_assert_eq(lsn_node_open(&node, store, &opts), 0);
	store = NULL; /* the node owns it now */
	char rec[] = "abc";

	cr_assert_eq(lsn_node_append(node, log, &(struct iovec){ rec, 3 }, 1, NULL), 0);
	cr_assert_eq(lsn_node_hold_set(node, log, "backup", 1), 0);
	cr_assert_eq(lsn_node_metrics_text(node, &text), 0);
	cr_expect_not_null(strstr(text, "\nlsnfs_log_tail_lsn{log=\"p0\"} 1\n"), "%s", text);
	cr_expect_not_null(strstr(text, "\nlsnfs_log_tail_lsn{log=\"p1\"} 0\n"));
	cr_expect_not_null(strstr(text, "\nlsnfs_log_holds{log=\"p0\"} 1\n"));
	cr_expect_not_null(strstr(text, "\nlsnfs_appended_records_total 1\n"));
	cr_expect_not_null(strstr(text, "\nlsnfs_appended_bytes_total 3\n"));
	/* every sample's family was introduced by HELP and TYPE, each once */
	for (p = text; *p; p = strchr(p, '\n') + 1) {
		char name[128], help[160], type[160];
		size_t len = strcspn(p, "{ ");

		if (*p != '#') {
			cr_assert_lt(len, sizeof(name));
			snprintf(name, sizeof(name), "%.*s", (int)len, p);
			snprintf(help, sizeof(help), "# HELP %s ", name);
			snprintf(type, sizeof(type), "# TYPE %s ", name);
			cr_assert_not_null(strstr(text, help), "no HELP for %s", name);
			cr_expect_eq(strstr(strstr(text, help) + 1, help), NULL, "two HELP for %s", name);
			cr_expect_not_null(strstr(text, type), "no TYPE for %s", name);
			cr_expect_eq(strncmp(name, "lsnfs_", 6), 0, "%s", name);
		}
		if (!strchr(p, '\n'))
			break;
	}
	free(text);
	lsn_node_free(node);
}
