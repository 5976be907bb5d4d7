/*
 * mount-helpers/ctl_xattr.h - how lsnfsctl reads the mount: the
 * user.lsnfs.* attributes, as text or as a decimal number.
 */
#ifndef LSNFSCTL_XATTR_H
#define LSNFSCTL_XATTR_H

#include <stddef.h>
#include <stdint.h>

#define CTL_ATTR "user.lsnfs."

/* getxattr of user.lsnfs.SHORT as a NUL-terminated string; 0 or -errno. */
int ctl_get_attr(const char *path, const char *shortname, char *buf, size_t n);
/* The same, parsed as an LSN or count; -EBADMSG when it is not one. */
int ctl_get_u64(const char *path, const char *shortname, uint64_t *v);

#endif
