/*
 * mount-helpers/ctl_config.h - `lsnfsctl config STORE [KEY=VALUE...]`: list
 * or change the settings kept in an unmounted store, like tune2fs.  It
 * opens the store itself (the store's flock keeps a mounted one out).
 */
#ifndef LSNFSCTL_CONFIG_H
#define LSNFSCTL_CONFIG_H

/* argv: STORE then KEY=VALUE...; returns the exit status (0 done,
 * 1 refused or failed, 2 bad arguments), after printing what happened. */
int lsnfsctl_config(int argc, char **argv);

#endif
