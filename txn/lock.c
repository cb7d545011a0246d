/*
 * txn/lock.c - the lock of the state directory: one run changes the managed
 * system at a time; the others wait a bounded time, then name the holder.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "../core/fsutil.h"
#include "../core/path.h"
#include "internal.h"

#define POLL_NS (50L * 1000 * 1000)

void
txn_iso_time(char out[32], time_t when)
{
	struct tm tm;

	if (gmtime_r(&when, &tm) == NULL || strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(out, 32, "@%lld", (long long)when);
}

static double
elapsed(const struct timespec *start)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - start->tv_sec) + (double)(now.tv_nsec - start->tv_nsec) / 1e9;
}

/* The lock is held elsewhere: say by whom, from what it wrote in the file. */
static int
locked_error(struct txn *t, int fd, int waited)
{
	char buf[128], since[32], *host;
	char wait[64] = "";
	ssize_t n;
	long pid;

	host = tf_hostpath(t->ctx, TXN_STATE_DIR "/" LOCK_NAME);
	if (waited > 0)
		snprintf(wait, sizeof(wait), " after waiting %d s", waited);
	n = pread(fd, buf, sizeof(buf) - 1, 0);
	buf[n > 0 ? n : 0] = '\0';
	if (sscanf(buf, "pid %ld since %31s", &pid, since) == 2)
		tf_error(t->ctx, TF_ELOCKED,
		    "another trustfix run (pid %ld, since %s) holds the lock '%s'%s; try again "
		    "when it has finished",
		    pid, since, host, wait);
	else
		tf_error(t->ctx, TF_ELOCKED,
		    "another trustfix run holds the lock '%s'%s; try again when it has finished",
		    host, wait);
	free(host);
	return TF_ELOCKED;
}

/*
 * flock(2) the lock file of the state directory, polling until 'wait_seconds'
 * have passed. The lock goes with the descriptor: it is released when the
 * process dies, however it dies, and not inherited by exec'd hooks.
 */
int
txn_lock_take(struct txn *t, int wait_seconds)
{
	struct timespec start, pause = { 0, POLL_NS };
	char line[96], since[32];
	int fd, n;

	fd = openat(t->statefd, LOCK_NAME, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd == -1)
		return txn_sys_error(t, "cannot open the lock", TXN_STATE_DIR "/" LOCK_NAME);
	clock_gettime(CLOCK_MONOTONIC, &start);
	while (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		if (errno == EINTR)
			continue;
		if (errno != EWOULDBLOCK) {
			txn_sys_error(t, "cannot lock", TXN_STATE_DIR "/" LOCK_NAME);
			close(fd);
			return TF_EIO;
		}
		if (elapsed(&start) >= (double)wait_seconds) {
			locked_error(t, fd, wait_seconds);
			close(fd);
			return TF_ELOCKED;
		}
		nanosleep(&pause, NULL);
	}
	t->lockfd = fd;
	/* Informational, for the message of a run that finds it locked. */
	txn_iso_time(since, t->ctx->now);
	n = snprintf(line, sizeof(line), "pid %ld since %s\n", (long)getpid(), since);
	if (ftruncate(fd, 0) == 0)
		(void)tf_pwrite_all(fd, line, (size_t)n, 0);
	return 0;
}

void
txn_lock_release(struct txn *t)
{
	if (t->lockfd == -1)
		return;
	(void)!ftruncate(t->lockfd, 0);
	close(t->lockfd);
	t->lockfd = -1;
}
