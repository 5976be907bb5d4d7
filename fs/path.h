/*
 * fs/path.h - what a path in the mounted tree names.
 *
 *   /                                  LSN_NODE_ROOT
 *   /<log>                             LSN_NODE_LOG
 *   /<log>/append, /<log>/append.lines LSN_NODE_APPEND, LSN_NODE_APPEND_LINES
 *   /<log>/append.frames               LSN_NODE_APPEND_FRAMES
 *   /<log>/active.log                  LSN_NODE_ACTIVE (symlink to the active segment)
 *   /<log>/segments[/<lsn20>.log]      LSN_NODE_SEGDIR, LSN_NODE_SEGMENT
 *   /<log>/index[/<lsn20>.index]       LSN_NODE_IDXDIR, LSN_NODE_INDEX
 *   /<log>/snapshots[/<lsn20>.snap]    LSN_NODE_SNAPDIR, LSN_NODE_SNAPSHOT
 *   /<log>/snapshots/<other name>      LSN_NODE_STAGING
 *
 * Parsing is purely lexical: whether the log or segment exists is for the
 * caller to ask the store.  Pure functions, thread safe.
 */
#ifndef LSN_FS_PATH_H
#define LSN_FS_PATH_H

#include <stdbool.h>
#include <stdint.h>

#include "storage/config.h"

enum lsn_path_node {
	LSN_NODE_ROOT,
	LSN_NODE_LOG,
	LSN_NODE_APPEND,
	LSN_NODE_APPEND_LINES,
	LSN_NODE_APPEND_FRAMES,
	LSN_NODE_SEGDIR,
	LSN_NODE_SEGMENT,
	LSN_NODE_IDXDIR,
	LSN_NODE_INDEX,
	LSN_NODE_SNAPDIR,
	LSN_NODE_SNAPSHOT,
	LSN_NODE_STAGING,
	LSN_NODE_ACTIVE,
};

#define LSN_LSN_DIGITS 20
#define LSN_STAGING_NAME_MAX 255

struct lsn_path {
	enum lsn_path_node node;
	char log[LSN_NAME_MAX + 1];
	uint64_t lsn;                        /* SEGMENT, INDEX, SNAPSHOT */
	char name[LSN_STAGING_NAME_MAX + 1]; /* STAGING */
};

/*
 * 0 and *p filled; -ENOENT when the path cannot name anything in the tree
 * (including a root entry that is not a valid log name); -ENAMETOOLONG.
 */
int lsn_path_parse(const char *path, struct lsn_path *p);

/* "<20 digits><suffix>" -> lsn (0 included: callers validate).  false when it is not exactly that. */
bool lsn_path_lsn_name(const char *name, const char *suffix, uint64_t *lsn);
/* Formats "<20 digits><suffix>" into buf (>= 32 bytes). */
void lsn_path_format_lsn(char *buf, uint64_t lsn, const char *suffix);

#endif
