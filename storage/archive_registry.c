/*
 * storage/archive_registry.c - the node registry under <archive>/.nodes/:
 * registering, publishing trim points, reading every node's registration,
 * and the cluster-wide coverage rule for unlinking a snapshot.  See
 * archive.h for the file format.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "storage/archive_internal.h"
#include "storage/fileio.h"

#define REG_FORMAT 2
#define REG_FILE_MAX (1u << 20) /* far above any real node: 64-byte names */

static int cmp_point(const void *x, const void *y)
{
	return strcmp(((const struct lsn_archive_trim_point *)x)->log,
		      ((const struct lsn_archive_trim_point *)y)->log);
}

static int cmp_node(const void *x, const void *y)
{
	return strcmp(((const struct lsn_archive_node *)x)->node_id,
		      ((const struct lsn_archive_node *)y)->node_id);
}

static int add_point(struct lsn_archive_trim_point **v, size_t *n, const char *log, uint64_t tp)
{
	struct lsn_archive_trim_point *p = realloc(*v, (*n + 1) * sizeof(**v));

	if (!p)
		return -ENOMEM;
	*v = p;
	snprintf(p[*n].log, sizeof(p[*n].log), "%s", log);
	p[*n].trim_point = tp;
	(*n)++;
	return 0;
}

static int parse_i64(const char *text, int64_t *out)
{
	uint64_t v;

	if (lsn_parse_u64(text, &v) || v > INT64_MAX)
		return -EINVAL;
	*out = (int64_t)v;
	return 0;
}

/*
 * One registration's text.  Unknown keys and malformed lines are skipped
 * (a newer lsnfs may add keys); a file without node_id is foreign.
 */
static int parse_node(char *text, struct lsn_archive_node *node)
{
	char *line, *save = NULL;
	int64_t v;
	int rc = 0;

	memset(node, 0, sizeof(*node));
	for (line = strtok_r(text, "\n", &save); line && !rc; line = strtok_r(NULL, "\n", &save)) {
		char *eq = strchr(line, '=');
		uint64_t lsn;

		if (!eq)
			continue;
		*eq = '\0';
		if (strcmp(line, "node_id") == 0 && lsn_name_valid(eq + 1))
			snprintf(node->node_id, sizeof(node->node_id), "%s", eq + 1);
		else if (strcmp(line, "pid") == 0 && parse_i64(eq + 1, &v) == 0 && v <= INT32_MAX)
			node->pid = (int)v;
		else if (strcmp(line, "registered") == 0 && parse_i64(eq + 1, &v) == 0)
			node->registered = v;
		else if (strcmp(line, "updated") == 0 && parse_i64(eq + 1, &v) == 0)
			node->updated = v;
		else if (strcmp(line, "format") == 0 && parse_i64(eq + 1, &v) == 0)
			node->published = v >= REG_FORMAT;
		else if (strncmp(line, "trim.", 5) == 0 && lsn_name_valid(line + 5) &&
			 lsn_parse_u64(eq + 1, &lsn) == 0 && lsn > 0)
			rc = add_point(&node->points, &node->n_points, line + 5, lsn);
	}
	if (!rc && !node->node_id[0])
		rc = -EBADMSG;
	if (rc) {
		free(node->points);
		memset(node, 0, sizeof(*node));
		return rc;
	}
	if (!node->updated)
		node->updated = node->registered;
	if (node->n_points)
		qsort(node->points, node->n_points, sizeof(*node->points), cmp_point);
	return 0;
}

static int read_node(const char *path, struct lsn_archive_node *node)
{
	char *text = malloc(REG_FILE_MAX + 1);
	size_t got = 0;
	int fd, rc;

	memset(node, 0, sizeof(*node));
	if (!text)
		return -ENOMEM;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		goto out;
	}
	rc = lsn_pread_full(fd, text, REG_FILE_MAX, 0, &got);
	close(fd);
	if (rc)
		goto out;
	text[got] = '\0';
	rc = parse_node(text, node);
out:
	free(text);
	return rc;
}

void lsn_archive_nodes_free(struct lsn_archive_node *nodes, size_t n)
{
	for (size_t i = 0; nodes && i < n; i++)
		free(nodes[i].points);
	free(nodes);
}

int lsn_archive_nodes_in(const char *dir, struct lsn_archive_node **nodes, size_t *n)
{
	struct lsn_archive_node *v = NULL;
	size_t count = 0;
	char path[4096];
	struct dirent *e;
	int rc = 0;
	DIR *d;

	*nodes = NULL;
	*n = 0;
	snprintf(path, sizeof(path), "%s/.nodes", dir);
	d = opendir(path);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((e = readdir(d)) != NULL) {
		struct lsn_archive_node node, *p;
		if (!lsn_name_valid(e->d_name))
			continue; /* ".", "..", temporary files */
		if (snprintf(path, sizeof(path), "%s/.nodes/%s", dir, e->d_name) >= (int)sizeof(path))
			continue;
		rc = read_node(path, &node);
		if (rc == -ENOMEM)
			break;
		rc = 0;
		if (!node.node_id[0])
			continue; /* vanished, unreadable or foreign: not a registration */
		p = realloc(v, (count + 1) * sizeof(*v));
		if (!p) {
			free(node.points);
			rc = -ENOMEM;
			break;
		}
		v = p;
		v[count++] = node;
	}
	closedir(d);
	if (rc) {
		lsn_archive_nodes_free(v, count);
		return rc;
	}
	if (count)
		qsort(v, count, sizeof(*v), cmp_node);
	*nodes = v;
	*n = count;
	return 0;
}

int lsn_archive_nodes(struct lsn_archive *a, struct lsn_archive_node **nodes, size_t *n)
{
	*nodes = NULL;
	*n = 0;
	if (!lsn_archive_has_dir(a))
		return 0;
	return lsn_archive_nodes_in(a->dir, nodes, n);
}

/* Rewrite this node's file from the handle's state; reg_lock held. */
static int write_registration(struct lsn_archive *a)
{
	char dir[4096], path[4096 + 80], tmp[4096 + 100];
	char *text = NULL;
	size_t len = 0;
	FILE *f;
	int fd, rc;

	snprintf(dir, sizeof(dir), "%s/.nodes", a->dir);
	/* One level: the archive root itself is never created. */
	if (mkdir(dir, 0755) != 0 && errno != EEXIST)
		return -errno;
	f = open_memstream(&text, &len);
	if (!f)
		return -ENOMEM;
	fprintf(f, "node_id=%s\npid=%d\nregistered=%lld\nformat=%d\nupdated=%lld\n", a->node_id,
		(int)getpid(), (long long)a->registered, REG_FORMAT, (long long)time(NULL));
	for (size_t i = 0; i < a->n_points; i++)
		fprintf(f, "trim.%s=%llu\n", a->points[i].log,
			(unsigned long long)a->points[i].trim_point);
	if (fclose(f) != 0 || !text) {
		free(text);
		return -ENOMEM;
	}
	snprintf(path, sizeof(path), "%s/%s", dir, a->node_id);
	snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, a->node_id);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		rc = -errno;
		goto out;
	}
	rc = lsn_write_full(fd, text, len);
	if (!rc && fsync(fd) != 0)
		rc = -errno;
	if (close(fd) != 0 && !rc)
		rc = -errno;
	if (!rc && rename(tmp, path) != 0)
		rc = -errno;
	if (rc)
		unlink(tmp);
	else
		rc = lsn_archive_fsync_dir(dir);
out:
	free(text);
	return rc;
}

int lsn_archive_register(struct lsn_archive *a)
{
	struct lsn_archive_node old;
	char path[4096];
	int rc;

	if (!lsn_archive_has_dir(a))
		return 0;
	pthread_mutex_lock(&a->reg_lock);
	/* Keep what this node published before: its trimmed prefixes still
	 * depend on the archive across remounts. */
	snprintf(path, sizeof(path), "%s/.nodes/%s", a->dir, a->node_id);
	if (a->n_points == 0 && read_node(path, &old) == 0) {
		free(a->points);
		a->points = old.points;
		a->n_points = old.n_points;
	}
	a->registered = time(NULL);
	rc = write_registration(a);
	pthread_mutex_unlock(&a->reg_lock);
	return rc;
}

/* Merge pts into the handle's points (0 removes); reg_lock held. */
static int merge_points(struct lsn_archive *a, const struct lsn_archive_trim_point *pts, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		size_t j;
		if (!lsn_name_valid(pts[i].log))
			return -EINVAL;
		for (j = 0; j < a->n_points && strcmp(a->points[j].log, pts[i].log) != 0; j++)
			;
		if (j < a->n_points && pts[i].trim_point)
			a->points[j].trim_point = pts[i].trim_point;
		else if (j < a->n_points)
			a->points[j] = a->points[--a->n_points];
		else if (pts[i].trim_point) {
			int rc = add_point(&a->points, &a->n_points, pts[i].log, pts[i].trim_point);
			if (rc)
				return rc;
		}
	}
	if (a->n_points)
		qsort(a->points, a->n_points, sizeof(*a->points), cmp_point);
	return 0;
}

int lsn_archive_publish(struct lsn_archive *a, const struct lsn_archive_trim_point *pts,
			size_t n)
{
	struct lsn_archive_trim_point *saved = NULL;
	size_t n_saved;
	int rc;

	if (!lsn_archive_has_dir(a))
		return 0;
	pthread_mutex_lock(&a->reg_lock);
	n_saved = a->n_points;
	if (n_saved && !(saved = malloc(n_saved * sizeof(*saved)))) {
		rc = -ENOMEM;
		goto out;
	}
	if (n_saved)
		memcpy(saved, a->points, n_saved * sizeof(*saved));
	if (!a->registered)
		a->registered = time(NULL);
	rc = merge_points(a, pts, n);
	if (!rc)
		rc = write_registration(a);
	if (rc) {
		/* Not published: what others can read is still the old set. */
		free(a->points);
		a->points = saved;
		a->n_points = n_saved;
		saved = NULL;
	}
out:
	pthread_mutex_unlock(&a->reg_lock);
	free(saved);
	return rc;
}

int lsn_archive_other_nodes(struct lsn_archive *a, char *other, size_t n)
{
	char dir[4096];
	struct dirent *e;
	int count = 0;
	DIR *d;

	if (!lsn_archive_has_dir(a))
		return 0;
	snprintf(dir, sizeof(dir), "%s/.nodes", a->dir);
	d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.' || strcmp(e->d_name, a->node_id) == 0)
			continue;
		if (count++ == 0 && other)
			snprintf(other, n, "%s", e->d_name);
	}
	closedir(d);
	return count;
}

const struct lsn_archive_node *lsn_archive_unlink_blocker(const struct lsn_archive_node *nodes,
							  size_t n_nodes, const char *log,
							  uint64_t lsn, const uint64_t *archived,
							  size_t n_archived, uint64_t *trim_point)
{
	for (size_t i = 0; i < n_nodes; i++) {
		uint64_t tp = 0;
		bool covered = false;

		for (size_t j = 0; j < nodes[i].n_points; j++)
			if (strcmp(nodes[i].points[j].log, log) == 0)
				tp = nodes[i].points[j].trim_point;
		if (tp == 0 || lsn < tp)
			continue; /* nothing trimmed, or this snapshot does not cover it */
		for (size_t k = 0; k < n_archived && !covered; k++)
			covered = archived[k] != lsn && archived[k] >= tp;
		if (!covered) {
			if (trim_point)
				*trim_point = tp;
			return &nodes[i];
		}
	}
	return NULL;
}
