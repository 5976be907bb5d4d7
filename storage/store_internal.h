/*
 * storage/store_internal.h - structures shared by the storage .c files
 * that implement store.h.  Not for use outside storage/.
 */
#ifndef LSN_STORE_INTERNAL_H
#define LSN_STORE_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <rocksdb/c.h>

#include "storage/keys.h"
#include "storage/rdb.h"
#include "storage/store.h"
#include "storage/workq.h"

/* Value of an 'S' key. */
#define LSN_SEG_META_LEN 44
/* Value of an 'L' key: u32 id, u64 persisted_lsn, i64 created_ns. */
#define LSN_LOG_META_LEN 20

/* The active segment's open block: records not yet compressed. */
struct lsn_open_block {
	uint64_t first_lsn;     /* LSN of lengths[0] */
	uint64_t seg_offset;    /* segment offset of its first byte */
	uint64_t index_offset;  /* index-file offset of its first line */
	uint32_t count;
	uint32_t cap_count;
	uint32_t *lengths;
	unsigned char *data;
	size_t len, cap;
	int64_t last_append_ns; /* newest 'R' time seen while loading */
	/* First LSN of each 'R' key holding records of this block: an append
	 * call writes one key for all of its records, so that a batch of lines
	 * costs one RocksDB entry, not one per line. */
	uint64_t *chunks;
	uint32_t n_chunks, cap_chunks;
};

/*
 * A block cut from the front of the open block (it reached
 * LSN_BLOCK_TARGET) and not yet written compressed.  Its records stay in
 * the open block buffer and under their own 'R' keys (exactly n_chunks of
 * them: the append that cuts a block ends an 'R' key there) until one
 * batch writes the block, its 'X' key and the segment's 'S' as of its end
 * (`closed`) and deletes those 'R' keys (storage/log_compress.c).  Blocks
 * are written in order, so 'S' always ends at the last written block and
 * recovery (lsn_log_load) is unchanged: whatever is still under 'R' keys
 * is the open block.
 */
enum lsn_pending_state {
	LSN_PENDING_QUEUED,   /* waiting for a compressor; `copy` owned here */
	LSN_PENDING_BUSY,     /* a compressor works on its own copy */
	LSN_PENDING_DONE,     /* `encoded` ready (NULL: compressing failed) */
};
struct lsn_pending {
	uint64_t first_lsn;
	uint32_t count;
	uint32_t n_chunks;
	size_t len;                      /* payload bytes */
	uint64_t seg_offset, index_offset;
	struct lsn_segment_info closed;  /* the segment as of the block's end */
	enum lsn_pending_state state;
	bool submitted;                  /* a compressor job names it */
	unsigned char *copy;             /* u32 lengths[count], then the payload */
	unsigned char *encoded;
	size_t encoded_len;
};

struct lsn_log {
	struct lsn_store *store;
	char name[LSN_NAME_MAX + 1];
	uint32_t id;
	bool removed;
	int64_t created_ns;

	/* Serialises snapshot commits, removals and archived marks: a commit
	 * compresses for a long time and must not hold `lock` meanwhile. */
	pthread_mutex_t snap_lock;
	pthread_mutex_t lock;           /* everything below */
	uint64_t persisted_lsn;
	struct lsn_segment_info *segs;  /* oldest first; last is active */
	size_t n_segs, cap_segs;
	struct lsn_open_block open;
	struct lsn_pending *pend;       /* the open block's cut blocks, oldest first */
	size_t n_pend, cap_pend;
	size_t pend_bytes;              /* their payload bytes */
	pthread_cond_t pend_done;       /* with `lock`: pending blocks were written */
	struct lsn_hold *holds;
	size_t n_holds;

	/* Durability bookkeeping for the control file (storage/control.h):
	 * the tail of the last append that returned, the highest tail known
	 * durable, the trim point the control writer last saw, and the trim
	 * point claimed before a trim batch (lsn_control_note_trim). */
	_Atomic uint64_t appended_tail;
	_Atomic uint64_t durable_tail;
	_Atomic uint64_t seen_trim;
	_Atomic uint64_t trim_claim;
};

/*
 * Group commit of sync=always appends (storage/group_commit.c).  `lock`
 * guards every field; it is a leaf, taken under a log's lock (an append
 * holds its log's lock until its records are durable, so readers never
 * see a record a power cut could take back).
 */
struct lsn_group_commit {
	pthread_mutex_t lock;
	pthread_cond_t cond;      /* CLOCK_MONOTONIC; any change below */
	uint64_t written;         /* tickets: appends whose batch reached the WAL */
	uint64_t synced;          /* every ticket <= synced is durable */
	bool leading;             /* an append is gathering others or syncing */
	uint64_t last_group;      /* tickets the last sync made durable */
	int64_t last_sync_ns;     /* how long that sync took */
	int error;                /* a failed sync (the store is read-only then) */
	uint64_t syncs;           /* WAL syncs done (tickets made durable: synced) */
};

/* A key range freed by a trim, waiting for the compactor. */
struct lsn_compaction {
	struct lsn_key lo, hi;
	struct lsn_compaction *next;
};

struct lsn_store {
	char *path;
	int lock_fd;
	rocksdb_t *db;
	rocksdb_options_t *opts;
	rocksdb_block_based_table_options_t *table_opts;
	rocksdb_cache_t *cache;
	rocksdb_readoptions_t *ro;
	rocksdb_readoptions_t *ro_ahead; /* read-ahead: fill_cache off */
	rocksdb_writeoptions_t *wo;      /* per config: sync or not */
	rocksdb_writeoptions_t *wo_sync; /* always sync (metadata, fsync) */
	rocksdb_writeoptions_t *wo_nosync; /* never sync (blocks whose records are durable already) */
	struct lsn_config cfg;
	/* First write error (negative errno), or 0.  After RocksDB reports a
	 * write error its WAL writer must not be used again (Debian's build
	 * asserts), so the store turns read-only until it is reopened. */
	_Atomic int failed;
	/* The live mode (enum lsn_mode); cfg.mode is the one at open. */
	_Atomic int mode;

	pthread_rwlock_t logs_lock;      /* the logs array */
	struct lsn_log **logs;           /* sorted by name, includes removed */
	size_t n_logs, cap_logs;
	uint32_t next_log_id;

	/* The control file writer (storage/control.c).  ctl_lock guards the
	 * file and the fields below; lock order logs_lock -> log->lock -> ctl_lock. */
	pthread_mutex_t ctl_lock;
	pthread_cond_t ctl_cond;
	pthread_t ctl_thread;
	bool ctl_started, ctl_stop;
	_Atomic uint64_t ctl_gen;        /* bumped when a durable tail moves */
	_Atomic uint64_t ctl_written_gen; /* ctl_gen the file reflects */
	/* Block compressors (storage/log_compress.c), started at the first
	 * block when cfg.compress_threads > 0.  comp_lock guards starting and
	 * stopping them (a leaf, never held with a log's lock). */
	pthread_mutex_t comp_lock;
	struct lsn_workq compressors;
	bool comp_stopped;
	/* Read-ahead decoders of sequential readers (storage/log_reader.c),
	 * started by the first reader that reads ahead.  rdr_pool_lock guards
	 * starting, submitting to and stopping them; lock order: a reader's
	 * lock -> rdr_pool_lock -> the queue's lock (never a log's lock). */
	pthread_mutex_t rdr_pool_lock;
	struct lsn_workq rdr_pool;
	bool rdr_pool_stopped;

	struct lsn_group_commit gc;

	/* Background compaction of trimmed ranges (storage/compactor.c). */
	pthread_t compactor;
	bool compactor_started;
	pthread_mutex_t cq_lock;
	pthread_cond_t cq_cond;
	struct lsn_compaction *cq_head, *cq_tail;
	bool cq_stop;
	unsigned cq_busy;
};

static inline struct lsn_segment_info *lsn_log_active(struct lsn_log *log)
{
	return &log->segs[log->n_segs - 1];
}

void lsn_seg_meta_encode(const struct lsn_segment_info *s, unsigned char *out);
int lsn_seg_meta_decode(const unsigned char *v, size_t len, struct lsn_segment_info *s);
void lsn_seg_key(struct lsn_key *k, uint32_t id, uint64_t first);
int64_t lsn_now_ns(void);

/* Every RocksDB write goes through here (see `failed`). */
int lsn_store_write(struct lsn_store *st, const rocksdb_writeoptions_t *wo,
		    rocksdb_writebatch_t *wb, const char *what);
/* Sync the WAL (fsync); same rule; durable tails are noted for the
 * control file (storage/control.h). */
int lsn_store_sync(struct lsn_store *st);
/* Sync the WAL and nothing else (the caller notes what became durable). */
int lsn_store_sync_wal(struct lsn_store *st, const char *what);
/* Write `wb` and return once it is durable, syncing the WAL together with
 * concurrent callers (storage/group_commit.c).  Callers may hold a log's lock. */
int lsn_store_write_durable(struct lsn_store *st, rocksdb_writebatch_t *wb, const char *what);
void lsn_group_commit_init(struct lsn_group_commit *g);
void lsn_group_commit_release(struct lsn_group_commit *g);

/* Queue [lo, hi) for compaction; the space comes back in the background. */
void lsn_compactor_enqueue(struct lsn_store *st, const struct lsn_key *lo, const struct lsn_key *hi);
int lsn_compactor_start(struct lsn_store *st);
void lsn_compactor_stop(struct lsn_store *st);

/* ---- storage/log_compress.c ---- */
/* Hand the log's QUEUED pending blocks to the compressors (or compress
 * them here when there are none); log->lock held. */
void lsn_compress_submit(struct lsn_log *log);
/* Write the finished pending blocks at the front, in one batch; log->lock held. */
void lsn_compress_commit_ready(struct lsn_log *log);
/* Wait (log->lock held, released while waiting) while the log has too many
 * blocks waiting for compression: an ingest cannot outrun the compressors
 * by more than a few blocks of memory. */
void lsn_compress_backpressure(struct lsn_log *log);
/* Finish every queued compression and stop the threads. */
void lsn_compress_stop(struct lsn_store *st);

/* ---- storage/log_read.c ---- */
/*
 * First step of a payload read of [off, off+len): checks under the log's
 * lock that the segment exists (-ENOENT once trimmed or removed) and
 * copies what lies in the open block into buf.  *end gets where the read
 * stops (off when there is nothing to read), *mem_from where the open
 * block starts: [off, min(*end, *mem_from)) is in compressed blocks.
 */
int lsn_log_read_begin(struct lsn_log *log, uint64_t first_lsn, uint64_t off, void *buf,
		       size_t len, uint64_t *end, uint64_t *mem_from);
/* Decode the block covering seg_off into blk; *itp as in log_read.c.
 * -EBADMSG also when no block covers it (see lsn_log_block_error). */
int lsn_log_load_block(struct lsn_log *log, uint64_t seg_first, uint64_t seg_off,
		       struct lsn_block *blk, rocksdb_iterator_t **itp);
/* The encoded block that starts exactly at seg_off, read past the block
 * cache and pinned in *pin (rocksdb_pinnableslice_destroy it) as *val;
 * -ENOENT if there is none. */
int lsn_log_fetch_block(struct lsn_log *log, uint64_t seg_first, uint64_t seg_off,
			rocksdb_pinnableslice_t **pin, const unsigned char **val, size_t *len);
/* Where each compressed block of the segment starts, ascending (from its
 * 'X' keys: one short scan, no block is read); malloc'd, maybe empty. */
int lsn_log_block_starts(struct lsn_log *log, uint64_t seg_first, uint64_t **starts, size_t *n);
/* What a failed block load means for the reader: -ENOENT when the segment
 * is gone (trimmed while read), else rc (said loudly for -EBADMSG). */
int lsn_log_block_error(struct lsn_log *log, uint64_t seg_first, uint64_t seg_off, int rc);

/* ---- storage/log_reader.c ---- */
/* Stop the read-ahead threads (lets queued jobs finish); before the db closes. */
void lsn_reader_pool_stop(struct lsn_store *st);

/* Load segments, open block and holds of a log (at open). */
int lsn_log_load(struct lsn_log *log);
void lsn_log_free(struct lsn_log *log);
/* Append one segment to the in-memory table. */
int lsn_log_push_segment(struct lsn_log *log, const struct lsn_segment_info *s);
/* Segment starting at first_lsn, or NULL; caller holds log->lock. */
struct lsn_segment_info *lsn_log_find_segment(struct lsn_log *log, uint64_t first_lsn);
/* Add one record to the open block (grows its buffers). */
int lsn_open_block_add(struct lsn_open_block *ob, const void *data, size_t len);
/* Remember that an 'R' key starting at lsn holds open-block records. */
int lsn_open_block_note_chunk(struct lsn_open_block *ob, uint64_t lsn);

#endif
