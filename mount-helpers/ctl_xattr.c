#include "mount-helpers/ctl_xattr.h"

#include <errno.h>
#include <stdio.h>
#include <sys/xattr.h>

#include "storage/config.h"

int ctl_get_attr(const char *path, const char *shortname, char *buf, size_t n)
{
	char name[128];
	ssize_t got;

	snprintf(name, sizeof(name), CTL_ATTR "%s", shortname);
	got = getxattr(path, name, buf, n - 1);
	if (got < 0)
		return -errno;
	buf[got] = '\0';
	return 0;
}

int ctl_get_u64(const char *path, const char *shortname, uint64_t *v)
{
	char buf[64];
	int rc = ctl_get_attr(path, shortname, buf, sizeof(buf));

	if (rc == 0 && lsn_parse_u64(buf, v) != 0)
		rc = -EBADMSG;
	return rc;
}
