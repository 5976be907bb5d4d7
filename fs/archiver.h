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

/* Archive work is waiting (a snapshot was committed). */
void lsnfs_archiver_wake(void);
/* user.lsnfs.archived text of a snapshot: yes | no | failed: REASON */
int lsnfs_archiver_state_text(struct lsn_log *log, uint64_t lsn, char *buf, size_t n);
/* Snapshots of this log archived by other nodes (not held here); free(). */
int lsnfs_archiver_remote_list(struct lsn_log *log, uint64_t **lsns, size_t *n);
bool lsnfs_archiver_has_remote(struct lsn_log *log, uint64_t lsn);
/* Content size of such a snapshot, and a readable copy of it (unlinked fd). */
int lsnfs_archiver_remote_size(struct lsn_log *log, uint64_t lsn, uint64_t *size);
int lsnfs_archiver_fetch(struct lsn_log *log, uint64_t lsn, int *fd, uint64_t *size);
/*
 * Remove a snapshot here (local) and from the archive; -EPERM when the
 * trimmed prefix would be covered by no other archived snapshot.
 */
int lsnfs_archiver_unlink(struct lsn_log *log, uint64_t lsn, bool local);

#endif
