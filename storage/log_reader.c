/*
 * storage/log_reader.c - a segment reader that decodes ahead of a
 * sequential reader (store.h, struct lsn_reader).
 *
 * Why: a cold `cat` of a sealed segment is a chain of FUSE requests, each
 * waiting for a RocksDB read and a zstd decode of the blocks it covers;
 * the kernel keeps about two requests in flight, so the daemon was idle
 * between them and, with one block cached per file, decoded most blocks
 * twice (bench/PROFILE.md, cold read).
 *
 * A reader has `n_slots` = read_ahead_blocks + 3 slots, each one decoded
 * block (or one being loaded): the block the reader is in, one behind it
 * (the kernel's requests arrive slightly out of order), the ones ahead and
 * a spare for a read elsewhere.  A read looks for the blocks it covers in
 * the slots, waits for one that is being loaded, or loads it itself.
 *
 * Sequential detection: a read that starts within two of its own lengths
 * of where the previous read ended continues a streak, and so does a first
 * read of at least 64 KiB at offset 0; any other read ends it (random
 * reads never read ahead).  While a streak lasts, the reader keeps the
 * next read_ahead_blocks blocks after the one it is in loaded or loading.
 * Where each block starts comes from the segment's 'X' keys (one short
 * scan, at the first sequential read), so one job per block fetches it by
 * its exact key and decodes it, all of them at once on the store's
 * read-ahead threads: the RocksDB reads overlap each other (measured: a
 * chain that learnt the next block's start from the previous block's
 * header waited for one disk read per block) and the decodes run in
 * parallel.  Read-ahead never evicts a block in use, ahead of the
 * reader, or the one just behind it: memory is bounded by the slots.
 *
 * Trims and removals: every read first checks under the log's lock that
 * the segment exists (lsn_log_read_begin), as lsn_log_read does, so a read
 * after a trim fails with -ENOENT however many blocks are decoded.  A
 * decoded block is the segment's content, which never changes while the
 * segment exists.  A read-ahead job that finds no block (trimmed under it)
 * frees its slot silently; a reader that needs that block loads it itself
 * and reports what lsn_log_read would.
 *
 * Locks: `lock` guards the slots' states and the fields below it; it is
 * taken without any other lock held, and held only to pick slots and to
 * queue jobs (then rdr_pool_lock and the queue's lock are taken inside it,
 * storage/store_internal.h).  RocksDB reads, decoding and copying run
 * without it: a LOADING slot's block belongs to its loader, a READY slot
 * is only read, and pinned while a reader copies from it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "storage/diag.h"
#include "storage/store_internal.h"

/* A first read from offset 0 at least this long starts a streak: the
 * kernel asks that much only when it reads ahead for a sequential reader
 * (a random 4 KiB pread asks for a page or two). */
#define READER_FIRST_READ_SEQUENTIAL (64u * 1024u)
/* Read-ahead threads: mostly waiting for the disk, so two per core. */
#define READER_THREADS_MAX 8

enum slot_state {
	SLOT_FREE,
	SLOT_LOADING, /* its block belongs to the loader */
	SLOT_READY,   /* decoded; read only while pinned */
};

struct reader_slot {
	struct lsn_reader *r;
	enum slot_state state;
	bool ahead;          /* LOADING by a read-ahead job */
	bool has_end;        /* `end` is known (READY, or a job read the header) */
	uint64_t seg_offset; /* READY or ahead: the block's start; else the offset asked for */
	uint64_t end;        /* seg_offset + payload bytes */
	unsigned pins;       /* readers copying from it */
	uint64_t used;       /* r->tick when last used: least recently used goes first */
	struct lsn_block block;
};

struct lsn_reader {
	struct lsn_log *log;
	uint64_t seg_first;
	unsigned ahead_max;          /* read_ahead_blocks at open */
	struct reader_slot *slots;
	size_t n_slots;
	pthread_mutex_t lock;        /* see the top of the file; everything below */
	pthread_cond_t cond;         /* a slot left LOADING, a pin dropped, a job ended */
	uint64_t tick;
	bool have_last;
	uint64_t last_off, last_end; /* the latest read */
	uint64_t prev_off;           /* the one before it */
	unsigned streak;             /* reads in a row that continued the previous one */
	uint64_t next_block;         /* where the block after the latest read's last starts */
	uint64_t *starts;            /* block starts (read-ahead), ascending */
	size_t n_starts;
	uint64_t starts_upto;        /* `limit` when `starts` was read */
	uint64_t limit;              /* end of the compressed part, as of the latest read */
	unsigned jobs;               /* read-ahead jobs queued or running */
	bool closing;
	struct lsn_reader_stats stats;
};

/* ---- the store's read-ahead threads ------------------------------------ */

static int pool_submit(struct lsn_store *st, lsn_workq_fn fn, void *arg)
{
	int rc = -ESRCH;

	pthread_mutex_lock(&st->rdr_pool_lock);
	if (!st->rdr_pool.started && !st->rdr_pool_stopped) {
		long n = 2 * sysconf(_SC_NPROCESSORS_ONLN);
		size_t threads = n < 2 ? 2 : n > READER_THREADS_MAX ? READER_THREADS_MAX : (size_t)n;

		rc = lsn_workq_start(&st->rdr_pool, threads);
		if (rc) {
			lsn_diag(LSN_DIAG_WARN, "cannot start %zu read-ahead threads (%s); reading without read-ahead",
				 threads, strerror(-rc));
			st->rdr_pool_stopped = true;
		}
	}
	/* Not once stopping: lsn_reader_pool_stop tears the queue down
	 * without this lock. */
	if (st->rdr_pool.started && !st->rdr_pool_stopped)
		rc = lsn_workq_submit(&st->rdr_pool, fn, arg);
	pthread_mutex_unlock(&st->rdr_pool_lock);
	return rc;
}

void lsn_reader_pool_stop(struct lsn_store *st)
{
	pthread_mutex_lock(&st->rdr_pool_lock);
	st->rdr_pool_stopped = true;
	pthread_mutex_unlock(&st->rdr_pool_lock);
	/* No submit can start now; the queued jobs run to their end. */
	lsn_workq_stop(&st->rdr_pool);
}

/* ---- slots (r->lock held) ------------------------------------------------ */

static bool slot_covers(const struct reader_slot *s, uint64_t pos)
{
	return s->state == SLOT_READY && pos >= s->seg_offset && pos < s->end;
}

/* A READY slot holding pos. */
static struct reader_slot *find_ready(struct lsn_reader *r, uint64_t pos)
{
	for (size_t i = 0; i < r->n_slots; i++)
		if (slot_covers(&r->slots[i], pos))
			return &r->slots[i];
	return NULL;
}

/* A slot being loaded that may hold pos: wait for it rather than decode
 * the same block twice. */
static struct reader_slot *find_loading(struct lsn_reader *r, uint64_t pos)
{
	for (size_t i = 0; i < r->n_slots; i++) {
		struct reader_slot *s = &r->slots[i];

		if (s->state != SLOT_LOADING || pos < s->seg_offset)
			continue;
		if (s->has_end ? pos < s->end : pos - s->seg_offset < LSN_BLOCK_TARGET)
			return s;
	}
	return NULL;
}

/* The slot (READY, or loading by read-ahead) of the block starting at off. */
static struct reader_slot *find_start(struct lsn_reader *r, uint64_t off)
{
	for (size_t i = 0; i < r->n_slots; i++) {
		struct reader_slot *s = &r->slots[i];

		if (s->seg_offset == off &&
		    (s->state == SLOT_READY || (s->state == SLOT_LOADING && s->ahead)))
			return s;
	}
	return NULL;
}

/*
 * A slot to load into: a free one, else the least recently used READY one
 * nobody copies from.  For read-ahead (`ahead`) only one that the reader
 * is past: it ends before both of the latest two reads began.
 */
static struct reader_slot *take_slot(struct lsn_reader *r, bool ahead)
{
	uint64_t behind = r->last_off < r->prev_off ? r->last_off : r->prev_off;
	struct reader_slot *best = NULL;

	for (size_t i = 0; i < r->n_slots; i++) {
		struct reader_slot *s = &r->slots[i];

		if (s->state == SLOT_FREE)
			return s;
		if (s->state != SLOT_READY || s->pins > 0)
			continue;
		if (ahead && s->end > behind)
			continue;
		if (!best || s->used < best->used)
			best = s;
	}
	return best;
}

/* ---- read-ahead ------------------------------------------------------------ */

static void ahead_job(void *arg)
{
	struct reader_slot *s = arg;
	struct lsn_reader *r = s->r;
	struct lsn_block hdr = { 0 };
	rocksdb_pinnableslice_t *pin = NULL;
	const unsigned char *val = NULL;
	size_t len = 0;
	int rc;

	rc = lsn_log_fetch_block(r->log, r->seg_first, s->seg_offset, &pin, &val, &len);
	if (rc == 0)
		rc = lsn_block_peek(val, len, &hdr);
	if (rc == 0 && (hdr.seg_offset != s->seg_offset || hdr.payload_len == 0))
		rc = -EBADMSG;
	if (rc == 0) {
		/* Readers that need this block wait for it from now on. */
		pthread_mutex_lock(&r->lock);
		s->end = hdr.seg_offset + hdr.payload_len;
		s->has_end = true;
		pthread_mutex_unlock(&r->lock);
		rc = lsn_block_decode(val, len, &s->block);
	}
	if (pin)
		rocksdb_pinnableslice_destroy(pin);
	pthread_mutex_lock(&r->lock);
	if (rc == 0) {
		s->state = SLOT_READY;
		s->used = ++r->tick;
		r->stats.decoded_ahead++;
	} else {
		/* Trimmed, or damaged: the reader that needs it will say which. */
		s->state = SLOT_FREE;
		s->has_end = false;
		r->stats.ahead_failed++;
	}
	s->ahead = false;
	r->jobs--;
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock); /* r may be freed from here on */
}

/* Index of the first block starting at or after off. */
static size_t first_start_from(const struct lsn_reader *r, uint64_t off)
{
	size_t lo = 0, hi = r->n_starts;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (r->starts[mid] < off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/*
 * Keep the ahead_max blocks after the latest read's last block loaded or
 * loading: queue a job for each one that is in no slot, while slots are
 * free behind the reader.
 */
static void schedule_locked(struct lsn_reader *r)
{
	size_t i;

	if (r->closing || r->ahead_max == 0 || r->streak == 0 || !r->starts)
		return;
	i = first_start_from(r, r->next_block);
	for (unsigned n = 0; n < r->ahead_max && i < r->n_starts && r->starts[i] < r->limit;
	     n++, i++) {
		struct reader_slot *s;

		if (find_start(r, r->starts[i]))
			continue;
		s = take_slot(r, true);
		if (!s)
			return;
		s->state = SLOT_LOADING;
		s->ahead = true;
		s->seg_offset = r->starts[i];
		/* Blocks are contiguous; the job checks with the header. */
		s->has_end = i + 1 < r->n_starts;
		s->end = s->has_end ? r->starts[i + 1] : 0;
		if (pool_submit(r->log->store, ahead_job, s) != 0) {
			s->state = SLOT_FREE;
			s->ahead = false;
			s->has_end = false;
			return;
		}
		r->jobs++;
	}
}

/* Read the block starts when read-ahead is about to need them (the first
 * sequential read; again when the active segment has grown). */
static void load_starts(struct lsn_reader *r)
{
	uint64_t upto, *v = NULL;
	size_t n = 0;
	bool need;

	pthread_mutex_lock(&r->lock);
	need = r->ahead_max > 0 && r->streak > 0 && r->limit > r->starts_upto;
	upto = r->limit;
	pthread_mutex_unlock(&r->lock);
	if (!need || lsn_log_block_starts(r->log, r->seg_first, &v, &n) != 0)
		return; /* no read-ahead this time; the reads themselves still work */
	pthread_mutex_lock(&r->lock);
	if (upto > r->starts_upto) {
		free(r->starts);
		r->starts = v;
		r->n_starts = n;
		r->starts_upto = upto;
		v = NULL;
	}
	pthread_mutex_unlock(&r->lock);
	free(v);
}

/* ---- reading --------------------------------------------------------------- */

/*
 * The block holding pos, pinned (READY), or NULL and *rc.  Waits for a
 * slot being loaded that may hold it; else loads it on this thread.
 */
static struct reader_slot *get_block(struct lsn_reader *r, uint64_t pos, int *rc)
{
	rocksdb_iterator_t *it = NULL;
	struct reader_slot *s;

	pthread_mutex_lock(&r->lock);
	for (;;) {
		s = find_ready(r, pos);
		if (s)
			goto pin;
		if (find_loading(r, pos)) {
			r->stats.waited++;
		} else {
			s = take_slot(r, false);
			if (s)
				break;
		}
		/* Being loaded, or every slot busy for a moment: both end
		 * without this thread's help. */
		pthread_cond_wait(&r->cond, &r->lock);
	}
	s->state = SLOT_LOADING;
	s->ahead = false;
	s->has_end = false;
	s->seg_offset = pos;
	pthread_mutex_unlock(&r->lock);

	*rc = lsn_log_load_block(r->log, r->seg_first, pos, &s->block, &it);
	rocksdb_iter_destroy(it);

	pthread_mutex_lock(&r->lock);
	if (*rc == 0 && s->block.seg_offset + s->block.payload_len <= pos)
		*rc = -EBADMSG; /* an empty closing block: nothing for pos */
	if (*rc) {
		s->state = SLOT_FREE;
		pthread_cond_broadcast(&r->cond);
		pthread_mutex_unlock(&r->lock);
		return NULL;
	}
	s->state = SLOT_READY;
	s->seg_offset = s->block.seg_offset;
	s->end = s->block.seg_offset + s->block.payload_len;
	s->has_end = true;
	r->stats.decoded++;
	pthread_cond_broadcast(&r->cond);
pin:
	s->pins++;
	s->used = ++r->tick;
	pthread_mutex_unlock(&r->lock);
	return s;
}

static void unpin(struct lsn_reader *r, struct reader_slot *s)
{
	pthread_mutex_lock(&r->lock);
	s->pins--;
	if (s->pins == 0)
		pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
}

/* Sequential detection (r->lock held): see the top of the file. */
static void note_read(struct lsn_reader *r, uint64_t off, uint64_t end, uint64_t compressed_end)
{
	uint64_t near = 2 * (end - off);

	if (r->have_last && off + near >= r->last_end && off <= r->last_end + near)
		r->streak++;
	else if (!r->have_last && off == 0 && end - off >= READER_FIRST_READ_SEQUENTIAL)
		r->streak = 1; /* cat, cp, tar: the kernel's first read-ahead request */
	else
		r->streak = 0;
	r->prev_off = r->have_last ? r->last_off : off;
	r->last_off = off;
	r->last_end = end;
	r->have_last = true;
	r->limit = compressed_end;
	r->stats.reads++;
}

int lsn_reader_read(struct lsn_reader *r, uint64_t off, void *buf, size_t len, size_t *got)
{
	unsigned char *out = buf;
	uint64_t end, mem_from, stop, pos, last_end = 0;
	int rc;

	*got = 0;
	rc = lsn_log_read_begin(r->log, r->seg_first, off, buf, len, &end, &mem_from);
	if (rc || end == off)
		return rc;
	stop = end < mem_from ? end : mem_from;
	pthread_mutex_lock(&r->lock);
	note_read(r, off, end, mem_from);
	pthread_mutex_unlock(&r->lock);
	load_starts(r);

	for (pos = off; pos < stop;) {
		struct reader_slot *s = get_block(r, pos, &rc);
		uint64_t n;

		if (!s) {
			rc = lsn_log_block_error(r->log, r->seg_first, pos, rc);
			return rc;
		}
		n = s->end - pos < stop - pos ? s->end - pos : stop - pos;
		memcpy(out + (pos - off), s->block.payload + (pos - s->seg_offset), n);
		last_end = s->end;
		unpin(r, s);
		pos += n;
	}
	if (last_end) {
		pthread_mutex_lock(&r->lock);
		r->next_block = last_end;
		schedule_locked(r);
		pthread_mutex_unlock(&r->lock);
	}
	*got = end - off;
	return 0;
}

/* ---- lifecycle --------------------------------------------------------------- */

int lsn_reader_open(struct lsn_log *log, uint64_t first_lsn, struct lsn_reader **out)
{
	struct lsn_reader *r = calloc(1, sizeof(*r));

	*out = NULL;
	if (!r)
		return -ENOMEM;
	r->log = log;
	r->seg_first = first_lsn;
	r->ahead_max = lsn_store_config(log->store)->read_ahead_blocks;
	r->n_slots = (size_t)r->ahead_max + 3;
	r->slots = calloc(r->n_slots, sizeof(*r->slots));
	if (!r->slots) {
		free(r);
		return -ENOMEM;
	}
	for (size_t i = 0; i < r->n_slots; i++)
		r->slots[i].r = r;
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->cond, NULL);
	*out = r;
	return 0;
}

void lsn_reader_stats(struct lsn_reader *r, struct lsn_reader_stats *out)
{
	pthread_mutex_lock(&r->lock);
	*out = r->stats;
	out->ahead_busy = r->jobs;
	pthread_mutex_unlock(&r->lock);
}

void lsn_reader_free(struct lsn_reader *r)
{
	if (!r)
		return;
	pthread_mutex_lock(&r->lock);
	r->closing = true;
	while (r->jobs > 0)
		pthread_cond_wait(&r->cond, &r->lock);
	pthread_mutex_unlock(&r->lock);
	for (size_t i = 0; i < r->n_slots; i++)
		lsn_block_release(&r->slots[i].block);
	free(r->slots);
	free(r->starts);
	pthread_mutex_destroy(&r->lock);
	pthread_cond_destroy(&r->cond);
	free(r);
}
