/*
 * Shared fixture for the store unit tests (test_storage.c, test_block.c,
 * test_snapshot.c): one temporary store per test under /tmp, removed after.
 *
 * Everything here is static (functions and globals) on purpose: include this
 * header from exactly one translation unit per test binary (each
 * tests/unit/test_*.c is its own binary).  Helpers that some test file does
 * not call are marked __attribute__((unused)) so -Wunused-function stays
 * quiet under -Werror.
 *
 * Define before including, to override the defaults:
 *   FX_TMPDIR_TEMPLATE  mkdtemp template for tmpdir ("/tmp/lsn-ut-XXXXXX")
 *   FX_RNG_SEED         initial state of rnd()'s xorshift64 generator
 */
#ifndef LSNFS_TESTS_UNIT_FIXTURE_H
#define LSNFS_TESTS_UNIT_FIXTURE_H

#include <criterion/criterion.h>

#include <errno.h>
#include <ftw.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "storage/store.h"

#ifndef FX_TMPDIR_TEMPLATE
#define FX_TMPDIR_TEMPLATE "/tmp/lsn-ut-XXXXXX"
#endif

#ifndef FX_RNG_SEED
#define FX_RNG_SEED 0x9e3779b97f4a7c15ull
#endif

/* ---- fixture: one temporary store per test ------------------------------ */

static char tmpdir[64];
static struct lsn_store *store;

static int rm_one(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	(void)sb;
	(void)ftw;
	return type == FTW_DP ? rmdir(path) : unlink(path);
}

static void rm_rf(const char *path)
{
	nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void setup(void)
{
	snprintf(tmpdir, sizeof(tmpdir), FX_TMPDIR_TEMPLATE);
	cr_assert_not_null(mkdtemp(tmpdir), "mkdtemp: %s", strerror(errno));
}

/* Close the store (if open); store is NULL afterwards. */
static void fx_close(void)
{
	lsn_store_close(store);
	store = NULL;
}

static void fx_rm_tmpdir(void)
{
	if (tmpdir[0])
		rm_rf(tmpdir);
}

__attribute__((unused)) static void teardown(void)
{
	fx_close();
	fx_rm_tmpdir();
}

/* Format tmpdir with cfg and open it. */
__attribute__((unused)) static void fx_open_cfg(const struct lsn_config *cfg)
{
	int rc = lsn_store_format(tmpdir, cfg);

	cr_assert_eq(rc, 0, "format: %d", rc);
	rc = lsn_store_open(tmpdir, &store);
	cr_assert_eq(rc, 0, "open: %d", rc);
}

/* Format tmpdir with segment_size (0: default) and open it. */
__attribute__((unused)) static void fx_open(uint64_t segment_size)
{
	struct lsn_config cfg;

	lsn_config_defaults(&cfg);
	if (segment_size)
		cfg.segment_size = segment_size;
	fx_open_cfg(&cfg);
}

__attribute__((unused)) static void fx_reopen(void)
{
	int rc;

	fx_close();
	rc = lsn_store_open(tmpdir, &store);
	cr_assert_eq(rc, 0, "reopen: %d", rc);
}

__attribute__((unused)) static struct lsn_log *fx_log(const char *name)
{
	struct lsn_log *log = NULL;
	int rc = lsn_store_find_log(store, name, &log);

	cr_assert_eq(rc, 0, "find %s: %d", name, rc);
	return log;
}

__attribute__((unused)) static struct lsn_log *fx_create(const char *name)
{
	int rc = lsn_store_create_log(store, name);

	cr_assert_eq(rc, 0, "create %s: %d", name, rc);
	return fx_log(name);
}

/* ---- random data and byte comparison ------------------------------------ */

/* Trim the n oldest segments the way node/ does: look, then remove. */
static __attribute__((unused)) int fx_trim_n(struct lsn_log *log, size_t n, size_t *removed)
{
	struct lsn_log_view v;
	int rc = lsn_log_view(log, 0, &v);

	if (removed)
		*removed = 0;
	if (rc)
		return rc;
	rc = lsn_log_trim_prefix(log, v.first_lsn, n, NULL);
	if (rc == 0 && removed)
		*removed = n;
	lsn_log_view_release(&v);
	return rc;
}

static uint64_t rng_state = FX_RNG_SEED;

/* xorshift64: deterministic, so a failing test fails the same way again. */
static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

__attribute__((unused)) static uint64_t rnd_below(uint64_t n)
{
	return n ? rnd() % n : 0;
}

__attribute__((unused)) static void assert_bytes(const void *got, const void *want, size_t n,
						 const char *what)
{
	const unsigned char *g = got, *w = want;

	for (size_t i = 0; i < n; i++)
		if (g[i] != w[i])
			cr_assert_fail("%s: first difference at byte %zu of %zu (got 0x%02x, want 0x%02x)",
				       what, i, n, g[i], w[i]);
}

#endif /* LSNFS_TESTS_UNIT_FIXTURE_H */
