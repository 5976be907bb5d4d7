#include "fs/path.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

bool lsn_path_lsn_name(const char *name, const char *suffix, uint64_t *lsn)
{
	size_t slen = strlen(suffix);
	uint64_t v = 0;

	if (strlen(name) != LSN_LSN_DIGITS + slen || strcmp(name + LSN_LSN_DIGITS, suffix) != 0)
		return false;
	for (int i = 0; i < LSN_LSN_DIGITS; i++) {
		unsigned d;
		if (name[i] < '0' || name[i] > '9')
			return false;
		d = (unsigned)(name[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*lsn = v;
	return true;
}

void lsn_path_format_lsn(char *buf, uint64_t lsn, const char *suffix)
{
	snprintf(buf, 32, "%020llu%s", (unsigned long long)lsn, suffix);
}

/* Split the next component of *pp into comp (NUL-terminated). */
static int next_component(const char **pp, char *comp, size_t cap)
{
	const char *p = *pp, *e;
	size_t n;

	while (*p == '/')
		p++;
	if (!*p)
		return 0;
	e = strchr(p, '/');
	n = e ? (size_t)(e - p) : strlen(p);
	if (n >= cap)
		return -ENAMETOOLONG;
	memcpy(comp, p, n);
	comp[n] = '\0';
	*pp = p + n;
	return 1;
}

int lsn_path_parse(const char *path, struct lsn_path *p)
{
	char comp[4][LSN_STAGING_NAME_MAX + 1];
	int n = 0, rc;

	memset(p, 0, sizeof(*p));
	while (n < 4 && (rc = next_component(&path, comp[n], sizeof(comp[n]))) == 1)
		n++;
	if (rc < 0)
		return rc;
	if (n == 4)
		return -ENOENT; /* nothing lives that deep */
	if (n == 0) {
		p->node = LSN_NODE_ROOT;
		return 0;
	}
	if (!lsn_name_valid(comp[0]))
		return -ENOENT;
	memcpy(p->log, comp[0], strlen(comp[0]) + 1);
	if (n == 1) {
		p->node = LSN_NODE_LOG;
		return 0;
	}
	if (n == 2) {
		if (strcmp(comp[1], "append") == 0)
			p->node = LSN_NODE_APPEND;
		else if (strcmp(comp[1], "append.lines") == 0)
			p->node = LSN_NODE_APPEND_LINES;
		else if (strcmp(comp[1], "append.frames") == 0)
			p->node = LSN_NODE_APPEND_FRAMES;
		else if (strcmp(comp[1], "segments") == 0)
			p->node = LSN_NODE_SEGDIR;
		else if (strcmp(comp[1], "index") == 0)
			p->node = LSN_NODE_IDXDIR;
		else if (strcmp(comp[1], "snapshots") == 0)
			p->node = LSN_NODE_SNAPDIR;
		else if (strcmp(comp[1], "active.log") == 0)
			p->node = LSN_NODE_ACTIVE;
		else
			return -ENOENT;
		return 0;
	}
	if (strcmp(comp[1], "segments") == 0 && lsn_path_lsn_name(comp[2], ".log", &p->lsn)) {
		p->node = LSN_NODE_SEGMENT;
	} else if (strcmp(comp[1], "index") == 0 && lsn_path_lsn_name(comp[2], ".index", &p->lsn)) {
		p->node = LSN_NODE_INDEX;
	} else if (strcmp(comp[1], "snapshots") == 0) {
		if (lsn_path_lsn_name(comp[2], ".snap", &p->lsn)) {
			p->node = LSN_NODE_SNAPSHOT;
		} else {
			p->node = LSN_NODE_STAGING;
			memcpy(p->name, comp[2], strlen(comp[2]) + 1);
		}
	} else {
		return -ENOENT;
	}
	return 0;
}
