/*
 * storage/control.h - the store's control file: what it has acknowledged as
 * durable, kept outside RocksDB (like PostgreSQL's pg_control).
 *
 * Why: a RocksDB whose WAL or MANIFEST was damaged may open cleanly with
 * logs shorter or missing.  The control file lets the next mount notice.
 *
 * File: STORE/lsnfs.control, text, one line each:
 *
 *   lsnfs-control 2
 *   log <name> <tail_lsn> <trim_point>      (sorted by name, one per live log)
 *   end <crc32c of every byte before this line, 8 hex digits>
 *
 * It is written whole to lsnfs.control.tmp, fsynced, renamed over, and the
 * store directory fsynced, so a crash leaves the old or the new file.
 *
 * Invariant: the file never claims more than RocksDB holds durably.
 * - A log is listed only after the batch creating it was synced, and it is
 *   dropped from the file before the batch removing it is written.
 * - A log's tail is its durable tail: set when a synced append returns
 *   (sync=always) or when a WAL sync that started after the append returns
 *   (lsn_store_sync), and at open after a WAL sync.
 * - A log's trim point is an upper bound: before the batch removing
 *   segments is written, the file is rewritten (durably) claiming the new
 *   trim point (lsn_control_note_trim).  A crash between the two leaves a
 *   claim above what the store trimmed, which is harmless; the store can
 *   never be found trimmed beyond its claim unless records vanished from
 *   the front of the log.  (Version 1 files, written before this rule,
 *   carry the trim point for information only and it is not compared.)
 * Claims may lag: appends only update memory; a background thread rewrites
 * the file at most every LSN_CONTROL_PERIOD_MS when a durable tail moved,
 * and close writes the final state.  So the append path pays no fsync.
 *
 * At open the claims are compared with what RocksDB loaded: a log missing,
 * with a smaller tail, or whose first segment starts beyond the claimed
 * trim point means the store lost acknowledged records.  The
 * open is refused (-EUCLEAN, one diagnostic line naming each short log and
 * by how many records) unless the `recover=accept-loss` override is set;
 * then each loss is logged as an error and the file is rewritten to match.
 *
 * Thread safety: st->ctl_lock serialises every write of the file; lock
 * order logs_lock -> log->lock -> ctl_lock.
 */
#ifndef LSN_CONTROL_H
#define LSN_CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "storage/config.h"

#define LSN_CONTROL_FILE "lsnfs.control"
#define LSN_CONTROL_PERIOD_MS 200

struct lsn_control_entry {
	char name[LSN_NAME_MAX + 1];
	uint64_t tail_lsn;
	uint64_t trim_point;
};

struct lsn_control {
	struct lsn_control_entry *v; /* sorted by name */
	size_t n, cap;
	unsigned version;            /* of the parsed file; format writes the current one */
};

void lsn_control_release(struct lsn_control *c);
/* Parse the file's bytes: 0, -EBADMSG (damaged or malformed) or -ENOMEM. */
int lsn_control_parse(const char *buf, size_t len, struct lsn_control *out);
/* The file's bytes for c (malloc'd). */
int lsn_control_format(const struct lsn_control *c, char **buf, size_t *len);
/* Read STORE/lsnfs.control: 0, -ENOENT (none yet), -EBADMSG, ... */
int lsn_control_read(const char *store_dir, struct lsn_control *out);
/* Replace STORE/lsnfs.control durably (tmp, fsync, rename, fsync dir). */
int lsn_control_write(const char *store_dir, const struct lsn_control *c);

/* ---- hooks used by the store (storage/ only) ---------------------------- */
struct lsn_store;
struct lsn_log;

/* At open, after the logs are loaded: compare, then claim the loaded state
 * and start the background writer.  -EUCLEAN when the store is behind. */
/* The caller has synced the WAL (lsn_store_sync) just before. */
int lsn_control_open(struct lsn_store *st);
/* At close, after the final WAL sync: stop the writer, write the final state. */
void lsn_control_close(struct lsn_store *st);
/* A synced append of `log` returned with tail `tail`. */
void lsn_control_note_durable(struct lsn_log *log, uint64_t tail);
/* Around a WAL sync: note each log's appended tail before it, and make
 * those tails durable once it returned. */
struct lsn_control_mark {
	struct lsn_log **logs;
	uint64_t *tails;
	size_t n;
};
void lsn_control_mark_appended(struct lsn_store *st, struct lsn_control_mark *m);
void lsn_control_mark_durable(struct lsn_control_mark *m, int sync_rc);
/* Before a trim batch moves `log`'s trim point to `trim` (the caller holds
 * no store lock and synced the WAL, so the claimed tail covers `trim`):
 * claim the new trim point durably.  The trim must not proceed unless this
 * returns 0. */
int lsn_control_note_trim(struct lsn_log *log, uint64_t trim);
/* Does the file already claim `trim` (or is there no file writer yet)?
 * Then a trim to it needs neither the WAL sync nor the claim. */
bool lsn_control_trim_claimed(struct lsn_log *log, uint64_t trim);
/* A log was created (its batch synced): claim it now. */
int lsn_control_log_created(struct lsn_store *st);
/* Before the batch removing `log` (caller holds logs_lock for writing and
 * log->lock): write the file without it. */
int lsn_control_log_removing(struct lsn_store *st, struct lsn_log *log);

#endif
