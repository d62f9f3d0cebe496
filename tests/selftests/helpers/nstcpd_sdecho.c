// SPDX-License-Identifier: GPL-2.0
/*
 * A socket-activated echo server that knows nothing of AF_NSTCP: it reads
 * LISTEN_PID/LISTEN_FDS (the systemd convention, as sd_listen_fds does)
 * and serves descriptor 3, a listening socket (accept loop, a thread per
 * connection) or one connection.  Each connection served appends a line
 * "CPU INCOMING_CPU BYTES" to $SDECHO_LOG (sched_getcpu() and
 * SO_INCOMING_CPU after the last byte), so a test sees where it was served.
 * $SDECHO_CRASH_AFTER=N: serve connections one at a time and abort() after
 * the Nth (a crashing worker).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "echo_util.h"

static void serve(int fd)
{
	int cpu_in = -1;
	socklen_t len = sizeof(cpu_in);
	unsigned long long total = echo_conn(fd);

	getsockopt(fd, SOL_SOCKET, SO_INCOMING_CPU, &cpu_in, &len);
	echo_log(getenv("SDECHO_LOG"), "sdecho", "%d %d %llu\n",
		 sched_getcpu(), cpu_in, total);
	close(fd);
}

static void *thread(void *arg)
{
	serve((int)(long)arg);
	return NULL;
}

int main(void)
{
	const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
	const char *crash = getenv("SDECHO_CRASH_AFTER");
	int acc = 0, limit = crash ? atoi(crash) : 0;
	socklen_t len = sizeof(acc);

	if (!pid || !fds || atoi(pid) != getpid() || atoi(fds) != 1) {
		fprintf(stderr, "sdecho: not socket-activated (LISTEN_PID %s, LISTEN_FDS %s)\n",
			pid ? pid : "-", fds ? fds : "-");
		return 2;
	}
	if (getsockopt(3, SOL_SOCKET, SO_ACCEPTCONN, &acc, &len)) {
		perror("sdecho: fd 3");
		return 2;
	}
	if (!acc) {
		serve(3);
		return 0;
	}
	if (echo_accept_loop(3, "sdecho", limit, serve, thread))
		return 1;
	abort();	/* after the limit-th */
}
