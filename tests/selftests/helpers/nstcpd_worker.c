// SPDX-License-Identifier: GPL-2.0
/*
 * A hybrid-model worker of nstcpd, written with libnstcp: takes each
 * connection nstcpd hands it (nstcp_worker_next()), echoes it to EOF,
 * appends "CPU HOME_CPU BYTES" to $SDECHO_LOG and reports it done.
 * $WORKER_NOTAKE_CPU=N: the worker pinned on CPU N never takes what it is
 * handed (a stalled worker: nstcpd hands it to another).
 * $WORKER_CRASH_AFTER=N: abort() after N connections.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "nstcp.h"

static void serve(int fd)
{
	const char *log = getenv("SDECHO_LOG");
	unsigned long long total = 0;
	char buf[16384];
	ssize_t n;

	while ((n = recv(fd, buf, sizeof(buf), 0)) > 0) {
		total += n;
		if (send(fd, buf, n, MSG_NOSIGNAL) != n)
			break;
	}
	if (log) {
		char line[64];
		int lfd = open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);

		n = snprintf(line, sizeof(line), "%d %d %llu\n", sched_getcpu(),
			     nstcp_home_cpu(fd), total);
		if (lfd >= 0) {
			if (write(lfd, line, n) != n)
				perror("worker: log");
			close(lfd);
		}
	}
	close(fd);
}

int main(void)
{
	const char *notake = getenv("WORKER_NOTAKE_CPU");
	const char *crash = getenv("WORKER_CRASH_AFTER");
	int limit = crash ? atoi(crash) : 0, served = 0, fd;

	if (notake && atoi(notake) == sched_getcpu()) {
		/* Reads nothing, takes nothing: a stalled worker. */
		for (;;)
			pause();
	}
	while ((fd = nstcp_worker_next(NULL)) >= 0) {
		serve(fd);
		nstcp_worker_done();
		if (limit && ++served == limit)
			abort();
	}
	fprintf(stderr, "worker: %s\n", strerror(errno));
	return errno == ENOTCONN ? 0 : 1;
}
