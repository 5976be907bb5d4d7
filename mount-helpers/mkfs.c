/*
 * mount-helpers/mkfs.c - `mkfs.lsnfs [--mode single|cluster] [--archive DIR]
 * [--segment-size BYTES] [--node-id ID] STORE`: create a new, empty store.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "storage/archive.h"
#include "storage/store.h"

static void usage(FILE *to)
{
	fprintf(to, "usage: mkfs.lsnfs [--mode single|cluster] [--archive DIR] "
		    "[--segment-size BYTES] [--node-id ID] STORE\n"
		    "       mkfs.lsnfs --help | --version\n"
		    "\n"
		    "Create a new, empty lsnfs store in the directory STORE (created, with\n"
		    "any missing parent directories, if missing;\n"
		    "it must be empty).  Defaults: mode single, no archive, segment size 64 MiB\n"
		    "(67108864), node id the host name.  The archive DIR must exist (it is never\n"
		    "created); its marker %s is written when it has none, else adopted,\n"
		    "and the store records the archive's id.\n", LSN_ARCHIVE_MARKER);
}

/* A bad invocation: one line saying what is wrong, one pointing to --help; 2. */
static int __attribute__((format(printf, 1, 2))) usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("mkfs.lsnfs: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry 'mkfs.lsnfs --help' for more information.\n", stderr);
	return 2;
}

/* mkdir -p of every directory above STORE (the format makes STORE itself). */
static int make_parents(const char *store)
{
	char path[PATH_MAX], *last;
	size_t len = strlen(store);

	if (len >= sizeof(path))
		return -ENAMETOOLONG;
	memcpy(path, store, len + 1);
	while (len > 1 && path[len - 1] == '/')
		path[--len] = '\0'; /* "a/b/" names b */
	last = strrchr(path, '/');
	for (char *p = path + 1; last && p < last; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0755) != 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (last && last != path) {
		*last = '\0';
		if (mkdir(path, 0755) != 0 && errno != EEXIST)
			return -errno;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "mode", required_argument, NULL, 'm' },
		{ "archive", required_argument, NULL, 'a' },
		{ "segment-size", required_argument, NULL, 's' },
		{ "node-id", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct lsn_config cfg;
	const char *archive = NULL;
	char why[LSN_ARCHIVE_REASON_MAX];
	const char *key;
	int c, rc;

	lsn_config_defaults(&cfg);
	opterr = 0;
	while ((c = getopt_long(argc, argv, "hV", longopts, NULL)) != -1) {
		switch (c) {
		case 'm': key = "mode"; break;
		case 'a': key = "archive"; archive = optarg; break;
		case 's': key = "segment_size"; break;
		case 'n': key = "node_id"; break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("mkfs.lsnfs (lsnfs) %s\n", LSN_VERSION);
			return 0;
		default:
			return usage_error("unknown or incomplete option '%s'", argv[optind - 1]);
		}
		if (lsn_config_set(&cfg, key, optarg, why) != 0)
			return usage_error("%s", why);
	}
	if (optind != argc - 1)
		return usage_error("%s", optind == argc ? "missing STORE" : "too many arguments");
	rc = make_parents(argv[optind]);
	if (rc) {
		fprintf(stderr, "mkfs.lsnfs: %s: creating its parent directories: %s\n", argv[optind],
			strerror(-rc));
		return 1;
	}
	/* Last, once every argument is known good: it may write the marker. */
	if (archive && lsn_archive_config_adopt(&cfg, archive, why) != 0) {
		fprintf(stderr, "mkfs.lsnfs: %s\n", why);
		return 1;
	}
	rc = lsn_store_format(argv[optind], &cfg);
	if (rc) {
		fprintf(stderr, "mkfs.lsnfs: %s: %s\n", argv[optind],
			rc == -ENOTEMPTY ? "directory is not empty; refusing to format it" : strerror(-rc));
		return 1;
	}
	printf("mkfs.lsnfs: created %s store in %s (node %s, segment size %llu%s%s%s%s)\n",
	       lsn_mode_name(cfg.mode), argv[optind], cfg.node_id,
	       (unsigned long long)cfg.segment_size, cfg.archive[0] ? ", archive " : "", cfg.archive,
	       cfg.archive[0] ? " id " : "", cfg.archive_id);
	return 0;
}
