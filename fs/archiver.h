/*
 * fs/archiver.h - background archiving of committed snapshots and the
 * node registry in a shared archive.
 */
#ifndef LSN_FS_ARCHIVER_H
#define LSN_FS_ARCHIVER_H

#include <stdbool.h>

#include "fs/fs.h"

int lsnfs_archiver_start(struct lsnfs *fs);
void lsnfs_archiver_stop(struct lsnfs *fs);
/* Another node has registered in the shared archive. */
bool lsnfs_archiver_other_nodes_seen(void);

#endif
