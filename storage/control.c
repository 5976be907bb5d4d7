#include "storage/control.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "storage/crc32c.h"
#include "storage/diag.h"
#include "storage/fileio.h"
#include "storage/store_internal.h"

/* Version 1 files record the trim point for information only; version 2
 * files claim it (raised before every trim) and the mount compares it. */
#define HEADER_V1 "lsnfs-control 1\n"
#define HEADER_V2 "lsnfs-control 2\n"
/* Fuzzing builds (make fuzz) skip the checksum to reach the parser behind it. */
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
#define LSN_FUZZING 1
#else
#define LSN_FUZZING 0
#endif
#define CONTROL_MAX (64u << 20)

void lsn_control_release(struct lsn_control *c)
{
	free(c->v);
	memset(c, 0, sizeof(*c));
}

static int control_add(struct lsn_control *c, const char *name, size_t name_len, uint64_t tail,
		       uint64_t trim)
{
	struct lsn_control_entry *e;

	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 16;
		void *p = realloc(c->v, cap * sizeof(*c->v));
		if (!p)
			return -ENOMEM;
		c->v = p;
		c->cap = cap;
	}
	e = &c->v[c->n++];
	memset(e, 0, sizeof(*e));
	memcpy(e->name, name, name_len);
	e->tail_lsn = tail;
	e->trim_point = trim;
	return 0;
}

/* One decimal field of a line ending at `end`; advances *p past it. */
static int parse_field_u64(const char **p, const char *end, uint64_t *out)
{
	char num[21];
	size_t n = 0;

	while (*p < end && **p != ' ' && **p != '\n') {
		if (n == sizeof(num) - 1 || **p < '0' || **p > '9')
			return -EBADMSG; /* digits only: no NUL cuts the field short */
		num[n++] = *(*p)++;
	}
	num[n] = '\0';
	if (n > 1 && num[0] == '0')
		return -EBADMSG; /* the file has one form: no zero padding */
	return lsn_parse_u64(num, out) ? -EBADMSG : 0;
}

int lsn_control_parse(const char *buf, size_t len, struct lsn_control *out)
{
	const char *p = buf, *end = buf + len, *nl;
	size_t hl = strlen(HEADER_V2);
	unsigned version;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	if (len >= hl && memcmp(buf, HEADER_V2, hl) == 0)
		version = 2;
	else if (len >= hl && memcmp(buf, HEADER_V1, hl) == 0)
		version = 1;
	else
		return -EBADMSG;
	p += hl;
	for (;;) {
		const char *name;
		size_t name_len;
		uint64_t tail, trim;
		char nm[LSN_NAME_MAX + 1];

		nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl) {
			rc = -EBADMSG;
			goto out;
		}
		if (nl - p == 12 && memcmp(p, "end ", 4) == 0) {
			char hex[9];
			unsigned long want;
			char *stop;
			memcpy(hex, p + 4, 8);
			hex[8] = '\0';
			want = strtoul(hex, &stop, 16);
			if (*stop || hex[0] == '+' || hex[0] == '-' || hex[0] == ' ' || nl + 1 != end ||
			    (lsn_crc32c(0, buf, (size_t)(p - buf)) != (uint32_t)want && !LSN_FUZZING)) {
				rc = -EBADMSG;
				goto out;
			}
			out->version = version;
			return 0;
		}
		if (nl - p < 4 || memcmp(p, "log ", 4) != 0) {
			rc = -EBADMSG;
			goto out;
		}
		p += 4;
		name = p;
		while (p < nl && *p != ' ')
			p++;
		name_len = (size_t)(p - name);
		if (name_len == 0 || name_len > LSN_NAME_MAX || p == nl) {
			rc = -EBADMSG;
			goto out;
		}
		memcpy(nm, name, name_len);
		nm[name_len] = '\0';
		if (memchr(name, '\0', name_len) || !lsn_name_valid(nm) ||
		    (out->n && strcmp(out->v[out->n - 1].name, nm) >= 0)) {
			rc = -EBADMSG; /* names are valid, sorted and unique */
			goto out;
		}
		p++;
		if (parse_field_u64(&p, nl, &tail) || p == nl || *p != ' ') {
			rc = -EBADMSG;
			goto out;
		}
		p++;
		if (parse_field_u64(&p, nl, &trim) || p != nl || trim > tail) {
			rc = -EBADMSG;
			goto out;
		}
		rc = control_add(out, name, name_len, tail, trim);
		if (rc)
			goto out;
		p = nl + 1;
	}
out:
	lsn_control_release(out);
	return rc;
}

int lsn_control_format(const struct lsn_control *c, char **buf, size_t *len)
{
	size_t cap = strlen(HEADER_V2) + 16 + c->n * (LSN_NAME_MAX + 48), n;
	char *b = malloc(cap);

	if (!b)
		return -ENOMEM;
	n = (size_t)snprintf(b, cap, "%s", HEADER_V2); /* always the current form */
	for (size_t i = 0; i < c->n; i++)
		n += (size_t)snprintf(b + n, cap - n, "log %s %" PRIu64 " %" PRIu64 "\n", c->v[i].name,
				      c->v[i].tail_lsn, c->v[i].trim_point);
	n += (size_t)snprintf(b + n, cap - n, "end %08x\n", lsn_crc32c(0, b, n));
	*buf = b;
	*len = n;
	return 0;
}

static char *control_path(const char *dir, const char *name)
{
	size_t n = strlen(dir) + strlen(name) + 2;
	char *p = malloc(n);

	if (p)
		snprintf(p, n, "%s/%s", dir, name);
	return p;
}

int lsn_control_read(const char *store_dir, struct lsn_control *out)
{
	char *path = control_path(store_dir, LSN_CONTROL_FILE), *buf = NULL;
	struct stat sb;
	size_t got = 0;
	int fd = -1, rc;

	memset(out, 0, sizeof(*out));
	if (!path)
		return -ENOMEM;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		goto out;
	}
	if (fstat(fd, &sb) != 0) {
		rc = -errno;
		goto out;
	}
	if (sb.st_size > CONTROL_MAX) {
		rc = -EBADMSG;
		goto out;
	}
	buf = malloc((size_t)sb.st_size + 1);
	if (!buf) {
		rc = -ENOMEM;
		goto out;
	}
	rc = lsn_pread_full(fd, buf, (size_t)sb.st_size, 0, &got);
	if (!rc)
		rc = lsn_control_parse(buf, got, out);
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	free(path);
	return rc;
}

static int fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd) != 0)
		rc = -errno;
	close(fd);
	return rc;
}

int lsn_control_write(const char *store_dir, const struct lsn_control *c)
{
	char *tmp = control_path(store_dir, LSN_CONTROL_FILE ".tmp");
	char *path = control_path(store_dir, LSN_CONTROL_FILE);
	char *buf = NULL;
	size_t len;
	int fd = -1, rc;

	if (!tmp || !path) {
		rc = -ENOMEM;
		goto out;
	}
	rc = lsn_control_format(c, &buf, &len);
	if (rc)
		goto out;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		rc = -errno;
		goto out;
	}
	rc = lsn_write_full(fd, buf, len);
	if (!rc && fsync(fd) != 0)
		rc = -errno;
	if (close(fd) != 0 && !rc)
		rc = -errno;
	fd = -1;
	if (!rc && rename(tmp, path) != 0)
		rc = -errno;
	if (!rc)
		rc = fsync_dir(store_dir);
out:
	free(buf);
	free(tmp);
	free(path);
	return rc;
}

/* ---- the store's side ------------------------------------------------- */

/* What the file should say now: every live log but `skip` (callers hold
 * logs_lock; `skip`'s lock too when it is set, so its state is not read).
 * A trim point is read under the log's lock unless that lock is held by
 * the caller for another reason (lock_logs false): then the last seen. */
static int control_build(struct lsn_store *st, const struct lsn_log *skip, bool lock_logs,
			 struct lsn_control *c)
{
	memset(c, 0, sizeof(*c));
	for (size_t i = 0; i < st->n_logs; i++) {
		struct lsn_log *log = st->logs[i];
		uint64_t tail = atomic_load(&log->durable_tail), trim;
		int rc;

		if (log->removed || log == skip)
			continue;
		if (lock_logs) {
			pthread_mutex_lock(&log->lock);
			trim = log->segs[0].first_lsn - 1;
			pthread_mutex_unlock(&log->lock);
			atomic_store(&log->seen_trim, trim);
		} else {
			trim = atomic_load(&log->seen_trim);
		}
		uint64_t claim = atomic_load(&log->trim_claim); /* a trim about to be written */
		if (trim < claim)
			trim = claim;
		if (trim > tail)
			trim = tail; /* a trim point beyond the durable tail is not claimed */
		rc = control_add(c, log->name, strlen(log->name), tail, trim);
		if (rc) {
			lsn_control_release(c);
			return rc;
		}
	}
	return 0;
}

static int control_write_now(struct lsn_store *st, const struct lsn_log *skip, bool lock_logs)
{
	struct lsn_control c;
	uint64_t gen = atomic_load(&st->ctl_gen);
	int rc = control_build(st, skip, lock_logs, &c);

	if (rc)
		return rc;
	pthread_mutex_lock(&st->ctl_lock);
	rc = lsn_control_write(st->path, &c);
	if (!rc && gen > atomic_load(&st->ctl_written_gen))
		atomic_store(&st->ctl_written_gen, gen);
	pthread_mutex_unlock(&st->ctl_lock);
	lsn_control_release(&c);
	if (rc)
		lsn_diag(LSN_DIAG_ERR, "control file %s/%s: cannot write: %s", st->path,
			 LSN_CONTROL_FILE, strerror(-rc));
	return rc;
}

static void *control_writer(void *arg)
{
	struct lsn_store *st = arg;
	struct timespec ts;
	bool stop;

	for (;;) {
		pthread_mutex_lock(&st->ctl_lock);
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += LSN_CONTROL_PERIOD_MS * 1000000L;
		ts.tv_sec += ts.tv_nsec / 1000000000L;
		ts.tv_nsec %= 1000000000L;
		if (!st->ctl_stop)
			pthread_cond_timedwait(&st->ctl_cond, &st->ctl_lock, &ts);
		stop = st->ctl_stop;
		pthread_mutex_unlock(&st->ctl_lock);
		if (stop)
			break;
		if (atomic_load(&st->ctl_gen) == atomic_load(&st->ctl_written_gen))
			continue; /* no durable tail moved since the last write */
		pthread_rwlock_rdlock(&st->logs_lock);
		control_write_now(st, NULL, true);
		pthread_rwlock_unlock(&st->logs_lock);
	}
	return NULL;
}

void lsn_control_note_durable(struct lsn_log *log, uint64_t tail)
{
	uint64_t cur = atomic_load(&log->durable_tail);

	while (cur < tail && !atomic_compare_exchange_weak(&log->durable_tail, &cur, tail))
		;
	if (cur < tail)
		atomic_fetch_add(&log->store->ctl_gen, 1);
}

/* Compare the claims with what RocksDB loaded; 0 or -EUCLEAN. */
static int control_compare(struct lsn_store *st, const struct lsn_control *c)
{
	char line[900];
	size_t n = 0;
	unsigned short_logs = 0;

	line[0] = '\0';
	for (size_t i = 0; i < c->n; i++) {
		const struct lsn_control_entry *e = &c->v[i];
		struct lsn_log *log = NULL;
		uint64_t have, lost, front;

		for (size_t j = 0; j < st->n_logs; j++)
			if (!st->logs[j]->removed && strcmp(st->logs[j]->name, e->name) == 0)
				log = st->logs[j];
		have = log ? atomic_load(&log->durable_tail) : 0;
		/* Records gone from the front: the store's trim point is beyond
		 * the highest one it ever claimed (version 2 files only). */
		front = 0;
		if (log && c->version >= 2) {
			uint64_t trimmed = atomic_load(&log->seen_trim);
			if (trimmed > e->tail_lsn)
				trimmed = e->tail_lsn; /* only acknowledged records count */
			if (trimmed > e->trim_point)
				front = trimmed - e->trim_point;
		}
		if (log && have >= e->tail_lsn && front == 0)
			continue;
		lost = log ? (have < e->tail_lsn ? e->tail_lsn - have : 0) + front
			   : e->tail_lsn - e->trim_point;
		short_logs++;
		if (n < sizeof(line) - 1)
			n += (size_t)snprintf(line + n, sizeof(line) - n,
					      log ? "%s%s is short by %" PRIu64 " records"
						  : "%s%s is missing (%" PRIu64 " acknowledged records)",
					      short_logs > 1 ? ", " : "", e->name, lost);
		if (front && n < sizeof(line) - 1)
			n += (size_t)snprintf(line + n, sizeof(line) - n,
					      " (%" PRIu64 " of them from its front)", front);
		if (n >= sizeof(line))
			n = sizeof(line) - 1;
		if (st->cfg.recover_accept_loss)
			lsn_diag(LSN_DIAG_ERR,
				 "recover=accept-loss: ACCEPTING THE LOSS of %" PRIu64
				 " acknowledged records of log %s (control file: tail %" PRIu64 "; store: %s)",
				 lost, e->name, e->tail_lsn, log ? "shorter" : "log missing");
	}
	if (!short_logs)
		return 0;
	if (st->cfg.recover_accept_loss)
		return 0;
	lsn_diag(LSN_DIAG_ERR,
		 "store %s is behind what it acknowledged as durable: %s; refusing to mount "
		 "(-o recover=accept-loss mounts it as it is)",
		 st->path, line);
	return -EUCLEAN;
}

int lsn_control_open(struct lsn_store *st)
{
	struct lsn_control c;
	int rc;

	/* The caller synced the WAL: what was loaded is durable. */
	for (size_t i = 0; i < st->n_logs; i++) {
		struct lsn_log *log = st->logs[i];
		uint64_t tail = lsn_log_active(log)->last_lsn;
		atomic_store(&log->appended_tail, tail);
		atomic_store(&log->durable_tail, tail);
		atomic_store(&log->seen_trim, log->segs[0].first_lsn - 1);
		atomic_store(&log->trim_claim, log->segs[0].first_lsn - 1);
	}
	rc = lsn_control_read(st->path, &c);
	if (rc == -ENOENT) {
		lsn_diag(LSN_DIAG_INFO, "store %s: no control file yet; writing one", st->path);
	} else if (rc == -EBADMSG) {
		if (!st->cfg.recover_accept_loss) {
			lsn_diag(LSN_DIAG_ERR,
				 "store %s: control file %s is damaged; refusing to mount "
				 "(-o recover=accept-loss rewrites it from the store as it is)",
				 st->path, LSN_CONTROL_FILE);
			return -EUCLEAN;
		}
		lsn_diag(LSN_DIAG_ERR, "recover=accept-loss: control file damaged; rewriting it from the store");
	} else if (rc) {
		lsn_diag(LSN_DIAG_ERR, "store %s: cannot read %s: %s", st->path, LSN_CONTROL_FILE,
			 strerror(-rc));
		return rc;
	} else {
		rc = control_compare(st, &c);
		lsn_control_release(&c);
		if (rc)
			return rc;
	}
	rc = control_write_now(st, NULL, true);
	if (rc)
		return rc;
	if (pthread_create(&st->ctl_thread, NULL, control_writer, st) != 0)
		return -EAGAIN;
	st->ctl_started = true;
	return 0;
}

void lsn_control_close(struct lsn_store *st)
{
	if (st->ctl_started) {
		pthread_mutex_lock(&st->ctl_lock);
		st->ctl_stop = true;
		pthread_cond_signal(&st->ctl_cond);
		pthread_mutex_unlock(&st->ctl_lock);
		pthread_join(st->ctl_thread, NULL);
		st->ctl_started = false;
		if (atomic_load(&st->failed) == 0) {
			pthread_rwlock_rdlock(&st->logs_lock);
			control_write_now(st, NULL, true);
			pthread_rwlock_unlock(&st->logs_lock);
		}
	}
}

bool lsn_control_trim_claimed(struct lsn_log *log, uint64_t trim)
{
	return !log->store->ctl_started || trim <= atomic_load(&log->trim_claim);
}

int lsn_control_note_trim(struct lsn_log *log, uint64_t trim)
{
	struct lsn_store *st = log->store;
	uint64_t cur = atomic_load(&log->trim_claim);
	int rc;

	if (!st->ctl_started || trim <= cur)
		return 0;
	/* The claimed tail must cover the claimed trim point: the file never
	 * says trim > tail (the caller synced the WAL). */
	if (atomic_load(&log->durable_tail) < trim) {
		lsn_diag(LSN_DIAG_ERR, "log %s: a trim to %" PRIu64 " passes the durable tail %" PRIu64,
			 log->name, trim, atomic_load(&log->durable_tail));
		return -EINVAL;
	}
	while (cur < trim && !atomic_compare_exchange_weak(&log->trim_claim, &cur, trim))
		;
	pthread_rwlock_rdlock(&st->logs_lock);
	rc = control_write_now(st, NULL, true);
	pthread_rwlock_unlock(&st->logs_lock);
	return rc;
}

int lsn_control_log_created(struct lsn_store *st)
{
	return st->ctl_started ? control_write_now(st, NULL, false) : 0;
}

int lsn_control_log_removing(struct lsn_store *st, struct lsn_log *log)
{
	return st->ctl_started ? control_write_now(st, log, false) : 0;
}

void lsn_control_mark_appended(struct lsn_store *st, struct lsn_control_mark *m)
{
	memset(m, 0, sizeof(*m));
	pthread_rwlock_rdlock(&st->logs_lock);
	m->logs = malloc((st->n_logs ? st->n_logs : 1) * sizeof(*m->logs));
	m->tails = malloc((st->n_logs ? st->n_logs : 1) * sizeof(*m->tails));
	if (m->logs && m->tails) {
		for (size_t i = 0; i < st->n_logs; i++) {
			m->logs[i] = st->logs[i];
			m->tails[i] = atomic_load(&st->logs[i]->appended_tail);
		}
		m->n = st->n_logs;
	}
	pthread_rwlock_unlock(&st->logs_lock);
}

/* Log handles stay valid until the store closes, so no lock is needed. */
void lsn_control_mark_durable(struct lsn_control_mark *m, int sync_rc)
{
	for (size_t i = 0; sync_rc == 0 && i < m->n; i++)
		lsn_control_note_durable(m->logs[i], m->tails[i]);
	free(m->logs);
	free(m->tails);
	memset(m, 0, sizeof(*m));
}
