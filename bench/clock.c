/*
 * bench/clock.c - run a command and append its wall time and CPU time
 * (user + system of it and the children it waited for), in milliseconds,
 * as "WALL CPU" to a file: /usr/bin/time shows CPU time in 10 ms steps.
 *
 * usage: clock OUT CMD [ARG]...     exits with the status of CMD
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double
ms(const struct timeval *tv)
{
	return (double)tv->tv_sec * 1e3 + (double)tv->tv_usec / 1e3;
}

int
main(int argc, char **argv)
{
	struct timespec t0, t1;
	struct rusage ru;
	FILE *out;
	pid_t pid;
	int st;

	if (argc < 3) {
		fputs("usage: clock OUT CMD [ARG]...\n", stderr);
		return 2;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if ((pid = fork()) == 0) {
		execvp(argv[2], argv + 2);
		perror(argv[2]);
		_exit(127);
	}
	if (pid == -1 || wait4(pid, &st, 0, &ru) != pid) {
		perror("clock");
		return 2;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if ((out = fopen(argv[1], "a")) == NULL) {
		perror(argv[1]);
		return 2;
	}
	fprintf(out, "%.2f %.2f\n",
	    (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6,
	    ms(&ru.ru_utime) + ms(&ru.ru_stime));
	if (fclose(out) != 0)
		return 2;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}
