/*
 * Fuzz target: a store's RocksDB content as read at open and by reads
 * (log and segment metadata, open-block records, holds, blocks, snapshot
 * metadata and chunks, config, consumed staging records).
 *
 * Once per process a template store is made (a log with sealed segments,
 * closed blocks, open-block records, a hold, persisted_lsn, a snapshot).
 * Each input is a list of puts and deletes of raw keys applied to a copy
 * of it; the copy is then opened (recover=accept-loss, so that shortened
 * logs are still read) and every log, segment, index file, hold and
 * snapshot is read.  Any damage must give an error, never a crash, a hang
 * or a read past a buffer (ASan, UBSan).
 *
 * Input: repeated { u8 op (bit 0: delete), u8 tag (index into TAGS),
 * u8 suffix length (<= 40), suffix, u16 little-endian value length (<=
 * 4096), value }.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "storage/diag.h"
#include "storage/snapshot.h"
#include "storage/store_internal.h"

#define TAGS "MCLSBXRHPQG"
#define READ_CAP (8u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char template_dir[72], work_dir[80];

static _Noreturn void die(const char *what, int rc)
{
	fprintf(stderr, "fuzz_store: %s: %s\n", what, strerror(-rc));
	abort();
}

static char root_dir[64];

static void remove_root(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root_dir);
	if (system(cmd) != 0)
		fprintf(stderr, "fuzz_store: could not remove %s\n", root_dir);
}

/* Damage is expected here: its diagnostics are noise. */
static void quiet(enum lsn_diag_level level, const char *msg)
{
	(void)level, (void)msg;
}

static void make_template(void)
{
	struct lsn_config cfg;
	struct lsn_store *st;
	struct lsn_log *log;
	char staging[PATH_MAX + 32], rec[3000];
	int rc, fd;

	snprintf(root_dir, sizeof(root_dir), "/tmp/lsnfs-fuzz-XXXXXX");
	if (!mkdtemp(root_dir))
		abort();
	atexit(remove_root);
	lsn_diag_set_sink(quiet);
	snprintf(work_dir, sizeof(work_dir), "%s/work", root_dir);
	snprintf(template_dir, sizeof(template_dir), "%.60s/t", root_dir);
	lsn_config_defaults(&cfg);
	cfg.segment_size = 8192;
	if ((rc = lsn_store_format(template_dir, &cfg)) || (rc = lsn_store_open(template_dir, &st)))
		die("template", rc);
	if ((rc = lsn_store_create_log(st, "a")) || (rc = lsn_store_find_log(st, "a", &log)))
		die("create", rc);
	for (int i = 0; i < 400; i++) {
		size_t n = (size_t)(i * 37 % 2900) + 1;
		struct iovec iov = { rec, n };
		memset(rec, 'a' + i % 26, n);
		if ((rc = lsn_log_append(log, &iov, 1, NULL)))
			die("append", rc);
	}
	if ((rc = lsn_log_set_persisted(log, 100)) || (rc = lsn_log_hold_set(log, "h", 50)))
		die("meta", rc);
	if ((rc = lsn_staging_dir(log, staging, sizeof(staging) - 16)))
		die("staging", rc);
	strcat(staging, "/.s");
	fd = open(staging, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || write(fd, rec, 2000) != 2000)
		abort();
	close(fd);
	if ((rc = lsn_snapshot_commit(log, staging, 200)))
		die("snapshot", rc);
	if ((rc = lsn_store_create_log(st, "b")))
		die("create b", rc);
	lsn_store_close(st);
}

/* Apply the input's puts and deletes; 0 when the input is well formed. */
static void apply(struct lsn_store *st, const uint8_t *d, size_t n)
{
	rocksdb_writeoptions_t *wo = rocksdb_writeoptions_create();
	char key[64];

	while (n >= 3) {
		uint8_t op = d[0], tag = d[1], slen = d[2];
		size_t vlen;
		char *err = NULL;

		d += 3, n -= 3;
		if (slen > 40 || slen > n)
			break;
		key[0] = TAGS[tag % (sizeof(TAGS) - 1)];
		memcpy(key + 1, d, slen);
		d += slen, n -= slen;
		if (op & 1) {
			rocksdb_delete(st->db, wo, key, 1 + (size_t)slen, &err);
		} else {
			if (n < 2)
				break;
			vlen = (size_t)(d[0] | d[1] << 8) % 4097;
			d += 2, n -= 2;
			if (vlen > n)
				vlen = n;
			rocksdb_put(st->db, wo, key, 1 + (size_t)slen, (const char *)d, vlen, &err);
			d += vlen, n -= vlen;
		}
		free(err);
	}
	rocksdb_writeoptions_destroy(wo);
}

static void read_everything(struct lsn_store *st)
{
	static char buf[65536];
	char **names = NULL;
	size_t n_names = 0;

	if (lsn_store_list_logs(st, &names, &n_names))
		return;
	for (size_t i = 0; i < n_names; i++) {
		struct lsn_log *log;
		struct lsn_segment_info *segs = NULL;
		struct lsn_snapshot_info *snaps = NULL;
		struct lsn_hold *holds = NULL;
		struct lsn_log_info info;
		size_t n_segs = 0, n_snaps = 0, n_holds = 0;

		if (lsn_store_find_log(st, names[i], &log))
			continue;
		lsn_log_info(log, &info);
		if (lsn_log_holds(log, &holds, &n_holds) == 0)
			free(holds);
		if (lsn_log_segments(log, &segs, &n_segs) == 0) {
			for (size_t s = 0; s < n_segs; s++) {
				struct lsn_read_cache cache = { 0 };
				for (int pass = 0; pass < 2; pass++) {
					uint64_t off = 0;
					size_t got = 0;
					while (off < READ_CAP) {
						int rc = pass ? lsn_log_read_index(log, segs[s].first_lsn, off, buf, sizeof(buf), &got, &cache)
							      : lsn_log_read(log, segs[s].first_lsn, off, buf, sizeof(buf), &got, &cache);
						if (rc || got == 0)
							break;
						off += got;
					}
				}
				lsn_read_cache_release(&cache);
			}
			free(segs);
		}
		if (lsn_snapshot_list(log, &snaps, &n_snaps) == 0) {
			for (size_t s = 0; s < n_snaps; s++) {
				struct lsn_snapshot_cache cache = { .chunk = -1 };
				uint64_t off = 0;
				size_t got = 0;
				while (off < READ_CAP && lsn_snapshot_read(log, snaps[s].lsn, off, buf, sizeof(buf), &got, &cache) == 0 && got)
					off += got;
				lsn_snapshot_cache_release(&cache);
			}
			free(snaps);
		}
	}
	lsn_names_free(names, n_names);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char cmd[256], *accept[] = { (char *)"recover=accept-loss" };
	struct lsn_store *st = NULL;

	if (!template_dir[0])
		make_template();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s' && cp -a '%s' '%s'", work_dir, template_dir, work_dir);
	if (system(cmd) != 0)
		abort();
	if (lsn_store_open(work_dir, &st) != 0)
		abort(); /* the template opens */
	apply(st, data, size);
	lsn_store_close(st);
	if (lsn_store_open_with(work_dir, accept, 1, &st) == 0) {
		read_everything(st);
		lsn_store_close(st);
	}
	return 0;
}
