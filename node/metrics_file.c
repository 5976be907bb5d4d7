/*
 * node/metrics_file.c - the -o metrics_file=PATH writer: every 10 s the
 * node's metrics text (node/metrics.c) replaces PATH atomically, written to
 * PATH.tmp and renamed over PATH, so node_exporter's textfile collector
 * (which reads *.prom) never sees a half-written file.  Runs on its own
 * worker (node/worker.h); a failure is logged once until it changes, and
 * the next period tries again.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "node/node_internal.h"
#include "storage/diag.h"

static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int lsn_node_metrics_write(struct lsn_node *node, const char *path)
{
	char tmp[PATH_MAX];
	char *text = NULL;
	int fd = -1, rc;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
		return -ENAMETOOLONG;
	rc = lsn_node_metrics_text(node, &text);
	if (rc)
		goto out;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0) {
		rc = -errno;
		goto out;
	}
	rc = write_all(fd, text, strlen(text));
	if (!rc && close(fd) != 0)
		rc = -errno;
	else if (rc)
		close(fd);
	fd = -1;
	if (!rc && rename(tmp, path) != 0)
		rc = -errno;
	if (rc)
		unlink(tmp);
out:
	free(text);
	return rc;
}

void lsn_node_tick_metrics(struct lsn_node *node)
{
	const char *path = lsn_store_config(node->store)->metrics_file;
	int rc;

	if (!path[0])
		return;
	rc = lsn_node_metrics_write(node, path);
	if (rc && rc != node->metrics_file_error)
		lsn_diag(LSN_DIAG_WARN, "metrics_file %s: cannot write it: %s (trying again every 10 s)",
			 path, strerror(-rc));
	else if (!rc && node->metrics_file_error)
		lsn_diag(LSN_DIAG_INFO, "metrics_file %s: written again", path);
	node->metrics_file_error = rc;
}
