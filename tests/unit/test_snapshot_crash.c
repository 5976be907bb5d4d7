/*
 * A snapshot commit killed between the batch that commits it and the
 * unlink of its staging file: after the next open exactly one of the two
 * names exists (the committed snapshot), as with rename(2) (issue 10).
 *
 * This binary interposes unlink(2): when `die_at_unlink` names the path,
 * the process exits on the spot, as a kill -9 there would.
 */
#include "tests/unit/fixture.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <sys/wait.h>

#include "storage/snapshot.h"

static char die_at_unlink[PATH_MAX + 64];

int unlink(const char *path)
{
	static int (*real_unlink)(const char *);

	if (die_at_unlink[0] && strcmp(path, die_at_unlink) == 0)
		_exit(42);
	if (!real_unlink)
		real_unlink = (int (*)(const char *))dlsym(RTLD_NEXT, "unlink");
	return real_unlink(path);
}

TestSuite(snapshot_crash, .init = setup, .fini = teardown);

static void write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	cr_assert_geq(fd, 0, "%s: %s", path, strerror(errno));
	cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

Test(snapshot_crash, killed_before_the_staging_unlink_leaves_one_name)
{
	char dir[PATH_MAX], stage[PATH_MAX + 32], other[PATH_MAX + 32];
	struct lsn_snapshot_info info;
	struct iovec iov = { (void *)"r\n", 2 };
	struct lsn_log *log;
	struct stat sb;
	int status;
	pid_t pid;

	fx_open(4096);
	log = fx_create("p");
	for (int i = 0; i < 5; i++)
		cr_assert_eq(lsn_log_append(log, &iov, 1, NULL), 0);
	cr_assert_eq(lsn_staging_dir(log, dir, sizeof(dir)), 0);
	snprintf(stage, sizeof(stage), "%s/.incoming", dir);
	snprintf(other, sizeof(other), "%s/.unrelated", dir);
	write_file(stage, "state at 3\n");
	write_file(other, "another staging file\n");
	fx_close();

	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		struct lsn_log *l;
		if (lsn_store_open(tmpdir, &store) || lsn_store_find_log(store, "p", &l))
			_exit(1);
		snprintf(die_at_unlink, sizeof(die_at_unlink), "%s", stage);
		lsn_snapshot_commit(l, stage, 3);
		_exit(2); /* the unlink was never reached */
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 42, "child status %d", status);
	cr_assert_eq(stat(stage, &sb), 0, "the staging file is there before the next open");

	fx_reopen();
	log = fx_log("p");
	cr_assert_eq(lsn_snapshot_get(log, 3, &info), 0, "the snapshot was committed");
	cr_assert_eq(info.size, strlen("state at 3\n"));
	cr_assert_neq(stat(stage, &sb), 0, "both the staging file and the snapshot exist");
	cr_assert_eq(stat(other, &sb), 0, "an unrelated staging file was removed");
	fx_reopen(); /* the record of the consumed file is gone: nothing more happens */
	cr_assert_eq(stat(other, &sb), 0);
}

Test(snapshot_crash, a_new_file_under_the_consumed_name_is_kept)
{
	char dir[PATH_MAX], stage[PATH_MAX + 32];
	struct iovec iov = { (void *)"r\n", 2 };
	struct lsn_log *log;
	struct stat sb;

	fx_open(4096);
	log = fx_create("p");
	cr_assert_eq(lsn_log_append(log, &iov, 1, NULL), 0);
	cr_assert_eq(lsn_staging_dir(log, dir, sizeof(dir)), 0);
	snprintf(stage, sizeof(stage), "%s/.incoming", dir);
	write_file(stage, "one\n");
	cr_assert_eq(lsn_snapshot_commit(log, stage, 1), 0);
	cr_assert_neq(stat(stage, &sb), 0, "a clean commit removes its staging file");
	write_file(stage, "a new staging file, same name\n");
	fx_reopen();
	cr_assert_eq(stat(stage, &sb), 0, "a later staging file of the same name was removed");
}
