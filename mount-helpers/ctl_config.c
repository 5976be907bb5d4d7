/*
 * mount-helpers/ctl_config.c - `lsnfsctl config`, see ctl_config.h.
 *
 * Every KEY=VALUE is validated (the same rules as mkfs.lsnfs and -o) before
 * anything is written; archive=DIR comes last since it may write the
 * archive's marker; then all changed keys go to the store in one batch.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "mount-helpers/ctl_config.h"
#include "storage/archive.h"
#include "storage/store.h"

enum { CFG_DONE = 0, CFG_REFUSED = 1, CFG_USAGE = 2 };

#define MAX_KEYS 32

static bool tunable(const char *key)
{
	return lsn_config_key_is(key, LSN_KEY_TUNABLE);
}

static int usage_error(const char *fmt, const char *arg)
{
	fputs("lsnfsctl: config: ", stderr);
	fprintf(stderr, fmt, arg);
	fputs("\nusage: lsnfsctl config STORE [KEY=VALUE...]\nsettable keys:", stderr);
	for (size_t i = 0; lsn_config_key_at(i); i++)
		if (lsn_config_key_at(i)->flags & LSN_KEY_TUNABLE)
			fprintf(stderr, " %s", lsn_config_key_at(i)->name);
	fputs("\n", stderr);
	return CFG_USAGE;
}

static int open_error(const char *store, int rc)
{
	if (rc == -EBUSY)
		fprintf(stderr,
			"lsnfsctl: config: %s is in use (mounted, or another tool has it open); "
			"unmount it first: settings are changed offline only\n",
			store);
	else if (rc == -ENOENT || rc == -EINVAL)
		fprintf(stderr, "lsnfsctl: config: %s is not an lsnfs store (no lsnfs.store marker)\n",
			store);
	else
		fprintf(stderr, "lsnfsctl: config: cannot open %s: %s\n", store, strerror(-rc));
	return CFG_REFUSED;
}

static void list_settings(const struct lsn_config *cfg)
{
	char value[PATH_MAX];

	for (size_t i = 0; lsn_config_key_at(i); i++) {
		const struct lsn_config_key *k = lsn_config_key_at(i);
		if (!(k->flags & LSN_KEY_STORED))
			continue;
		lsn_config_get(cfg, k->name, value, sizeof(value));
		printf("%s=%s\n", k->name, value);
	}
}

/* Remember key once (a key given twice keeps its last value). */
static void note_key(const char **keys, int *n, const char *key)
{
	for (int i = 0; i < *n; i++)
		if (strcmp(keys[i], key) == 0)
			return;
	keys[(*n)++] = key;
}

int lsnfsctl_config(int argc, char **argv)
{
	const char *keys[MAX_KEYS + 1];
	char why[LSN_ARCHIVE_REASON_MAX], key[64], before[PATH_MAX], after[PATH_MAX];
	const char *archive = NULL;
	struct lsn_store *store = NULL;
	struct lsn_config cfg, old;
	int n_keys = 0, rc, code = CFG_DONE;

	if (argc < 1)
		return usage_error("missing STORE%s", "");
	for (int i = 1; i < argc; i++) {
		const char *eq = strchr(argv[i], '=');
		if (!eq || eq == argv[i] || (size_t)(eq - argv[i]) >= sizeof(key))
			return usage_error("expected KEY=VALUE, not '%s'", argv[i]);
		snprintf(key, sizeof(key), "%.*s", (int)(eq - argv[i]), argv[i]);
		if (!tunable(key))
			return usage_error("'%s' is not a setting lsnfsctl config changes", key);
	}
	if (argc - 1 > MAX_KEYS)
		return usage_error("too many settings at once (%s)", argv[MAX_KEYS + 1]);
	rc = lsn_store_open(argv[0], &store);
	if (rc)
		return open_error(argv[0], rc);
	cfg = *lsn_store_config(store);
	old = cfg;
	for (int i = 1; i < argc; i++) {
		const char *eq = strchr(argv[i], '=');
		snprintf(key, sizeof(key), "%.*s", (int)(eq - argv[i]), argv[i]);
		if (strcmp(key, "archive") == 0) {
			archive = eq + 1;
			continue;
		}
		rc = lsn_config_set(&cfg, key, eq + 1, why);
		if (rc) {
			fprintf(stderr, "lsnfsctl: config: %s\n", why);
			code = CFG_USAGE;
			goto out;
		}
		for (size_t i = 0; lsn_config_key_at(i); i++)
			if ((lsn_config_key_at(i)->flags & LSN_KEY_TUNABLE) &&
			    strcmp(lsn_config_key_at(i)->name, key) == 0)
				note_key(keys, &n_keys, lsn_config_key_at(i)->name);
	}
	if (archive) {
		rc = lsn_archive_config_adopt(&cfg, archive, why);
		if (rc) {
			fprintf(stderr, "lsnfsctl: config: %s\n", why);
			code = rc == -EINVAL ? CFG_USAGE : CFG_REFUSED;
			goto out;
		}
		note_key(keys, &n_keys, "archive");
		note_key(keys, &n_keys, "archive_id");
	}
	if (n_keys == 0) {
		list_settings(&cfg);
		goto out;
	}
	keys[n_keys] = NULL;
	rc = lsn_store_save_config(store, &cfg, keys);
	if (rc) {
		fprintf(stderr, "lsnfsctl: config: cannot save the settings in %s: %s\n", argv[0],
			strerror(-rc));
		code = CFG_REFUSED;
		goto out;
	}
	for (int i = 0; i < n_keys; i++) {
		lsn_config_get(&old, keys[i], before, sizeof(before));
		lsn_config_get(&cfg, keys[i], after, sizeof(after));
		if (strcmp(before, after) != 0)
			printf("%s=%s (was '%s')\n", keys[i], after, before);
		else
			printf("%s=%s (unchanged)\n", keys[i], after);
	}
out:
	lsn_store_close(store);
	return code;
}
