/*
 * node/metrics.c - the node and its logs in the Prometheus text exposition
 * format (version 0.0.4): what `lsnfsctl metrics` prints and what the
 * metrics_file writer (node/metrics_file.c) writes for node_exporter's
 * textfile collector.
 *
 * Every family has # HELP and # TYPE and the lsnfs_ prefix, values are in
 * base units (bytes, seconds), counters end in _total and count since the
 * mount.  A family's samples are consecutive, as the format requires, so
 * every log's status is gathered first.  Label values are escaped (log and
 * node names cannot need it today, but the format is the format).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/node_internal.h"

struct log_metrics {
	char *name;
	struct lsn_node_log_status st;
};

typedef uint64_t (*log_value_fn)(const struct lsn_node_log_status *st);

#define LOG_VALUE(fn, expr)                                                   \
	static uint64_t fn(const struct lsn_node_log_status *st) { return expr; }
LOG_VALUE(v_first, st->info.first_lsn)
LOG_VALUE(v_tail, st->info.tail_lsn)
LOG_VALUE(v_trim_point, st->info.trim_point)
LOG_VALUE(v_persisted, st->info.persisted_lsn)
LOG_VALUE(v_archived, st->archived_lsn)
LOG_VALUE(v_safe, st->decision.safe_lsn)
LOG_VALUE(v_segments, st->info.n_segments)
LOG_VALUE(v_logical, st->info.retained_bytes)
LOG_VALUE(v_stored, st->stored_bytes)
LOG_VALUE(v_holds, st->n_holds)
LOG_VALUE(v_snapshots, st->n_snapshots)
LOG_VALUE(v_pending, st->n_pending)
LOG_VALUE(v_failed, st->n_failed)
#undef LOG_VALUE

static const struct {
	const char *name, *help;
	log_value_fn value;
} log_families[] = {
	{ "lsnfs_log_first_lsn", "Oldest retained LSN of the log (trim point + 1).", v_first },
	{ "lsnfs_log_tail_lsn", "Last appended LSN of the log (0 if none).", v_tail },
	{ "lsnfs_log_trim_point_lsn", "Highest trimmed LSN of the log (0 if none).", v_trim_point },
	{ "lsnfs_log_persisted_lsn", "The consumer's persisted LSN (0 if never set).", v_persisted },
	{ "lsnfs_log_archived_lsn", "Highest LSN covered by a confirmed archived snapshot.",
	  v_archived },
	{ "lsnfs_log_safe_trim_lsn", "Highest LSN the trim rules allow removing now.", v_safe },
	{ "lsnfs_log_segments", "Retained segments of the log, the active one included.",
	  v_segments },
	{ "lsnfs_log_logical_bytes", "Payload bytes of the retained records.", v_logical },
	{ "lsnfs_log_stored_bytes",
	  "Estimated bytes the log takes in the store (compressed; unflushed data not counted).",
	  v_stored },
	{ "lsnfs_log_holds", "Reader holds on the log.", v_holds },
	{ "lsnfs_log_snapshots", "Committed local snapshots of the log.", v_snapshots },
	{ "lsnfs_log_snapshots_pending", "Local snapshots not archived yet, no failure so far.",
	  v_pending },
	{ "lsnfs_log_snapshots_failed", "Local snapshots whose last archive attempt failed.",
	  v_failed },
};

/* A label value with \, " and newline escaped. */
static void label_value(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			fprintf(f, "\\%c", *s);
		else if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
}

static void family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void lsn_node_counters(struct lsn_node *node, struct lsn_node_counters *c)
{
	struct lsn_archiver_counters ac;

	lsn_archiver_counters(node->archiver, &ac);
	c->records_appended = atomic_load(&node->records_appended);
	c->bytes_appended = atomic_load(&node->bytes_appended);
	c->segments_trimmed = atomic_load(&node->segments_trimmed);
	c->bytes_trimmed = atomic_load(&node->bytes_trimmed);
	c->trims_refused = atomic_load(&node->trims_refused);
	c->archive_attempts = ac.attempts;
	c->archive_successes = ac.successes;
	c->archive_failures = ac.failures;
	c->last_archive_unix = ac.last_success_unix;
	lsn_store_group_commit_counters(node->store, &c->durable_appends, &c->wal_syncs);
}

static void node_metrics(struct lsn_node *node, FILE *f)
{
	const struct lsn_config *cfg = lsn_store_config(node->store);
	enum lsn_mode mode = lsn_store_mode(node->store);
	uint64_t uptime_s = (lsn_clock_now_ms(node->clock) - node->opened_ms) / 1000;
	struct lsn_node_counters c;
	static const struct {
		const char *name, *help;
		size_t offset;
	} counters[] = {
		{ "lsnfs_appended_records_total", "Records appended since mount.",
		  offsetof(struct lsn_node_counters, records_appended) },
		{ "lsnfs_appended_bytes_total", "Payload bytes appended since mount.",
		  offsetof(struct lsn_node_counters, bytes_appended) },
		{ "lsnfs_trimmed_segments_total", "Segments trimmed since mount.",
		  offsetof(struct lsn_node_counters, segments_trimmed) },
		{ "lsnfs_trimmed_bytes_total", "Payload bytes trimmed since mount.",
		  offsetof(struct lsn_node_counters, bytes_trimmed) },
		{ "lsnfs_trims_refused_total", "Trim requests refused by a rule since mount.",
		  offsetof(struct lsn_node_counters, trims_refused) },
		{ "lsnfs_archive_attempts_total", "Snapshot archive attempts since mount.",
		  offsetof(struct lsn_node_counters, archive_attempts) },
		{ "lsnfs_archive_successes_total", "Snapshots archived since mount.",
		  offsetof(struct lsn_node_counters, archive_successes) },
		{ "lsnfs_archive_failures_total", "Failed snapshot archive attempts since mount.",
		  offsetof(struct lsn_node_counters, archive_failures) },
		{ "lsnfs_durable_appends_total",
		  "Appends made durable under sync=always since mount (by group commit).",
		  offsetof(struct lsn_node_counters, durable_appends) },
		{ "lsnfs_wal_syncs_total",
		  "WAL syncs of sync=always group commit since mount (appends per sync = the ratio).",
		  offsetof(struct lsn_node_counters, wal_syncs) },
	};

	lsn_node_counters(node, &c);
	family(f, "lsnfs_node_mode", "gauge", "1 for the node's mode (single or cluster), 0 for the other.");
	for (int m = LSN_MODE_SINGLE; m <= LSN_MODE_CLUSTER; m++) {
		fprintf(f, "lsnfs_node_mode{node=\"");
		label_value(f, cfg->node_id);
		fprintf(f, "\",mode=\"%s\"} %d\n", lsn_mode_name((enum lsn_mode)m), m == (int)mode);
	}
	family(f, "lsnfs_node_uptime_seconds", "gauge", "Seconds since this mount started.");
	fprintf(f, "lsnfs_node_uptime_seconds %" PRIu64 "\n", uptime_s);
	for (size_t i = 0; i < sizeof(counters) / sizeof(counters[0]); i++) {
		family(f, counters[i].name, "counter", counters[i].help);
		fprintf(f, "%s %" PRIu64 "\n", counters[i].name,
			*(const uint64_t *)((const char *)&c + counters[i].offset));
	}
	family(f, "lsnfs_archive_last_success_timestamp_seconds", "gauge",
	       "Unix time of the last successful archive since mount (0: none).");
	fprintf(f, "lsnfs_archive_last_success_timestamp_seconds %" PRId64 "\n", c.last_archive_unix);
}

static void free_logs(struct log_metrics *logs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		lsn_node_log_status_release(&logs[i].st);
	free(logs);
}

/* Every live log's status; a log removed meanwhile is left out. */
static int gather(struct lsn_node *node, char **names, size_t n, struct log_metrics **out,
		  size_t *n_out)
{
	struct log_metrics *logs = calloc(n + 1, sizeof(*logs));
	size_t k = 0;

	if (!logs)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct lsn_log *log;
		int rc = lsn_store_find_log(node->store, names[i], &log);

		if (rc == 0)
			rc = lsn_node_log_status(node, log, &logs[k].st);
		if (rc == -ENOENT)
			continue;
		if (rc) {
			free_logs(logs, k);
			return rc;
		}
		logs[k++].name = names[i];
	}
	*out = logs;
	*n_out = k;
	return 0;
}

int lsn_node_metrics_text(struct lsn_node *node, char **out)
{
	struct log_metrics *logs = NULL;
	char **names = NULL, *text = NULL;
	size_t n_names = 0, n_logs = 0, len = 0;
	FILE *f = NULL;
	int rc;

	*out = NULL;
	rc = lsn_store_list_logs(node->store, &names, &n_names);
	if (rc)
		return rc;
	rc = gather(node, names, n_names, &logs, &n_logs);
	if (rc)
		goto out;
	f = open_memstream(&text, &len);
	if (!f) {
		rc = -ENOMEM;
		goto out;
	}
	node_metrics(node, f);
	for (size_t i = 0; i < sizeof(log_families) / sizeof(log_families[0]); i++) {
		family(f, log_families[i].name, "gauge", log_families[i].help);
		for (size_t k = 0; k < n_logs; k++) {
			fprintf(f, "%s{log=\"", log_families[i].name);
			label_value(f, logs[k].name);
			fprintf(f, "\"} %" PRIu64 "\n", log_families[i].value(&logs[k].st));
		}
	}
	if (fclose(f) != 0) {
		rc = -ENOMEM;
		free(text);
		text = NULL;
	}
	*out = text;
out:
	if (logs)
		free_logs(logs, n_logs);
	lsn_names_free(names, n_names);
	return rc;
}
