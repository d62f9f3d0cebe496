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

static void serve(int fd)
{
	int cpu_in = -1;
	socklen_t len = sizeof(cpu_in);
	unsigned long long total = 0;
	const char *log = getenv("SDECHO_LOG");
	char buf[16384];
	ssize_t n;

	while ((n = recv(fd, buf, sizeof(buf), 0)) > 0) {
		char *p = buf;

		total += n;
		while (n > 0) {
			ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

			if (w <= 0)
				goto out;
			p += w;
			n -= w;
		}
	}
out:
	getsockopt(fd, SOL_SOCKET, SO_INCOMING_CPU, &cpu_in, &len);
	if (log) {
		char line[64];
		int lfd = open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);

		n = snprintf(line, sizeof(line), "%d %d %llu\n", sched_getcpu(),
			     cpu_in, total);
		if (lfd >= 0) {
			if (write(lfd, line, n) != n)
				perror("sdecho: log");
			close(lfd);
		}
	}
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
	int acc = 0, served = 0, limit = crash ? atoi(crash) : 0;
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
	for (;;) {
		int c = accept4(3, NULL, NULL, SOCK_CLOEXEC);
		pthread_t t;

		if (c < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			perror("sdecho: accept");
			return 1;
		}
		if (limit) {
			serve(c);
			if (++served == limit)
				abort();
			continue;
		}
		if (pthread_create(&t, NULL, thread, (void *)(long)c)) {
			serve(c);
			continue;
		}
		pthread_detach(t);
	}
}
