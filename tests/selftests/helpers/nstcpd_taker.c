// SPDX-License-Identifier: GPL-2.0
/*
 * A standard-model server of nstcpd with "take = program": it takes its
 * connection itself through libnstcp (NSTCP_TOKEN), echoes it to EOF and
 * appends "CPU HOME_CPU BYTES" to $SDECHO_LOG.  When the file named by
 * $TAKER_SKIP exists, it removes it and exits without taking (a server
 * dying before its take: nstcpd gives the connection to another).
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

int main(void)
{
	const char *skip = getenv("TAKER_SKIP"), *log = getenv("SDECHO_LOG");
	unsigned long long total = 0;
	uint64_t token = nstcp_env_token();
	char buf[16384];
	ssize_t n;
	int fd, home;

	if (skip && !unlink(skip))
		return 3;
	if (!token) {
		fprintf(stderr, "taker: no NSTCP_TOKEN\n");
		return 2;
	}
	fd = nstcp_take(token);
	if (fd < 0) {
		fprintf(stderr, "taker: take: %s\n", strerror(errno));
		return 2;
	}
	while ((n = recv(fd, buf, sizeof(buf), 0)) > 0) {
		total += n;
		if (send(fd, buf, n, MSG_NOSIGNAL) != n)
			break;
	}
	home = nstcp_home_cpu(fd);
	if (log) {
		char line[64];
		int lfd = open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);

		n = snprintf(line, sizeof(line), "%d %d %llu\n", sched_getcpu(),
			     home, total);
		if (lfd >= 0) {
			if (write(lfd, line, n) != n)
				perror("taker: log");
			close(lfd);
		}
	}
	close(fd);
	return 0;
}
