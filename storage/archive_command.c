/*
 * storage/archive_command.c - running archive_command and
 * archive_check_command: own process group, stderr to the log line by line,
 * a timeout, and an abort for shutdown.  See archive.h.
 *
 * The wait is a poll loop on the command's stderr pipe and the handle's
 * abort eventfd, with a short tick to notice the exit (waitid with WNOWAIT,
 * so the leader stays a zombie and its pid, which names the group, cannot
 * be reused while we still signal the group).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "storage/archive_internal.h"
#include "storage/diag.h"

#define TICK_MS 50
#define TERM_GRACE_MS 1000
#define LINE_MAX_LOGGED 480

/* Collects stderr bytes into lines; logs each, keeps the last non-empty. */
struct err_lines {
	const char *what;
	const char *label;
	char cur[LINE_MAX_LOGGED + 1];
	size_t len;
	char last[LINE_MAX_LOGGED + 1];
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void line_end(struct err_lines *el)
{
	while (el->len > 0 && (el->cur[el->len - 1] == '\r' || el->cur[el->len - 1] == ' ' ||
			       el->cur[el->len - 1] == '\t'))
		el->len--;
	el->cur[el->len] = '\0';
	if (el->len > 0) {
		lsn_diag(LSN_DIAG_WARN, "%s %s: %s", el->what, el->label, el->cur);
		memcpy(el->last, el->cur, el->len + 1);
	}
	el->len = 0;
}

static void line_feed(struct err_lines *el, const char *buf, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (buf[i] == '\n') {
			line_end(el);
			continue;
		}
		if (el->len == LINE_MAX_LOGGED)
			line_end(el); /* a very long line is logged in pieces */
		el->cur[el->len++] = buf[i];
	}
}

/* Read what is there now; -1 into *fd at end of file (or error). */
static void drain(int *fd, struct err_lines *el)
{
	char buf[4096];
	ssize_t n;

	while (*fd >= 0) {
		n = read(*fd, buf, sizeof(buf));
		if (n > 0) {
			line_feed(el, buf, (size_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		close(*fd);
		*fd = -1;
	}
}

/* posix_spawn (no copy of the daemon's address space): its own group, a
 * clean signal state, stdin from /dev/null, stderr into the pipe. */
static int spawn(const char *line, int err_w, pid_t *pid)
{
	char *const argv[] = { (char *)"sh", (char *)"-c", (char *)line, NULL };
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, dfl;
	int rc;

	sigemptyset(&none);
	sigemptyset(&dfl);
	sigaddset(&dfl, SIGPIPE);
	sigaddset(&dfl, SIGTERM);
	sigaddset(&dfl, SIGINT);
	sigaddset(&dfl, SIGHUP);
	posix_spawnattr_init(&attr);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
					       POSIX_SPAWN_SETSIGDEF);
	posix_spawnattr_setpgroup(&attr, 0);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &dfl);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, err_w, 2);
	rc = -posix_spawn(pid, "/bin/sh", &fa, &attr, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	return rc;
}

/* Has the leader exited?  Leaves it a zombie (WNOWAIT). */
static bool leader_exited(pid_t pid)
{
	siginfo_t si;

	memset(&si, 0, sizeof(si));
	if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) != 0)
		return errno == ECHILD;
	return si.si_pid == pid;
}

enum outcome { RAN, TIMED_OUT, ABORTED };

/* Wait for the leader, reading stderr, until exit, deadline or abort. */
static enum outcome wait_leader(struct lsn_archive *a, pid_t pid, int *err_fd,
				struct err_lines *el)
{
	int64_t deadline = now_ms() + (int64_t)a->timeout * 1000;
	int64_t term_sent = 0;

	for (;;) {
		struct pollfd pf[2] = { { .fd = *err_fd, .events = POLLIN },
					{ .fd = a->abort_fd, .events = POLLIN } };
		int64_t now;

		if (poll(pf, 2, TICK_MS) > 0 && (pf[0].revents & (POLLIN | POLLHUP | POLLERR)))
			drain(err_fd, el);
		if (atomic_load(&a->aborted)) {
			kill(-pid, SIGKILL);
			return ABORTED;
		}
		if (leader_exited(pid))
			return term_sent ? TIMED_OUT : RAN;
		now = now_ms();
		if (!term_sent && now >= deadline) {
			kill(-pid, SIGTERM);
			term_sent = now;
		} else if (term_sent && now - term_sent >= TERM_GRACE_MS) {
			kill(-pid, SIGKILL);
			return TIMED_OUT;
		}
	}
}

int lsn_archive_run(struct lsn_archive *a, const char *what, const char *label, const char *line,
		    char *reason)
{
	struct err_lines el = { .what = what, .label = label };
	int pipefd[2], err_fd, status = 0, rc;
	enum outcome how;
	pid_t pid;

	if (atomic_load(&a->aborted)) {
		lsn_archive_why(reason, "%s not run: shutting down", what);
		return -ECANCELED;
	}
	if (pipe2(pipefd, O_CLOEXEC) != 0) {
		rc = -errno;
		lsn_archive_why(reason, "cannot start %s: %s", what, strerror(-rc));
		return rc;
	}
	rc = spawn(line, pipefd[1], &pid);
	close(pipefd[1]);
	if (rc) {
		close(pipefd[0]);
		lsn_archive_why(reason, "cannot start %s: %s", what, strerror(-rc));
		return rc;
	}
	err_fd = pipefd[0];
	fcntl(err_fd, F_SETFL, O_NONBLOCK);
	how = wait_leader(a, pid, &err_fd, &el);
	/* The leader is a zombie or dying: its pid still names the group. */
	kill(-pid, SIGKILL);
	drain(&err_fd, &el);
	if (err_fd >= 0)
		close(err_fd);
	if (el.len)
		line_end(&el);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (how == ABORTED) {
		lsn_archive_why(reason, "%s killed: shutting down", what);
		return -ECANCELED;
	}
	if (how == TIMED_OUT) {
		lsn_archive_why(reason, "%s timed out after %u s and was killed%s%s", what, a->timeout,
				el.last[0] ? ": " : "", el.last);
		return -ETIMEDOUT;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (WIFEXITED(status))
		lsn_archive_why(reason, "%s exited with status %d%s%s", what, WEXITSTATUS(status),
				el.last[0] ? ": " : "", el.last);
	else
		lsn_archive_why(reason, "%s killed by signal %d%s%s", what, WTERMSIG(status),
				el.last[0] ? ": " : "", el.last);
	return -EIO;
}

void lsn_archive_abort(struct lsn_archive *a)
{
	uint64_t one = 1;

	if (!a)
		return;
	atomic_store(&a->aborted, true);
	if (a->abort_fd >= 0 && write(a->abort_fd, &one, sizeof(one)) < 0) {
		/* Counter full or closed: the flag alone ends the wait within a tick. */
	}
}
