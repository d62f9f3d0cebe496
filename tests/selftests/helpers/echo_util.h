/* SPDX-License-Identifier: GPL-2.0 */
/*
 * For the socket-activated echo servers of the nstcpd tests
 * (nstcpd_sdecho, nstcpd_bkserver, nstcpd_drain): the echo of one
 * connection, a line appended to a log file, and the accept loop with a
 * thread a connection.
 */
#ifndef NSTCP_SELFTEST_ECHO_UTIL_H
#define NSTCP_SELFTEST_ECHO_UTIL_H

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Sends back what fd receives until EOF or an error; the bytes received. */
static inline unsigned long long echo_conn(int fd)
{
	unsigned long long total = 0;
	char buf[16384];
	ssize_t n;

	while ((n = recv(fd, buf, sizeof(buf), 0)) > 0) {
		char *p = buf;

		total += n;
		while (n > 0) {
			ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

			if (w <= 0)
				return total;
			p += w;
			n -= w;
		}
	}
	return total;
}

/* Appends a line to the file path, when set; who names the server. */
static inline __attribute__((format(printf, 3, 4)))
void echo_log(const char *path, const char *who, const char *fmt, ...)
{
	char line[128];
	va_list ap;
	int n, fd;

	if (!path)
		return;
	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0 || n >= (int)sizeof(line))
		return;
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return;
	if (write(fd, line, n) != n)
		fprintf(stderr, "%s: log: %s\n", who, strerror(errno));
	close(fd);
}

/*
 * Accepts on lfd for ever: each connection served by thread (which calls
 * serve), or by serve itself when no thread can be made.  With limit > 0,
 * one at a time by serve, and back after the limit-th: 0.  1 when accept
 * fails.
 */
static inline int echo_accept_loop(int lfd, const char *who, int limit,
				   void (*serve)(int),
				   void *(*thread)(void *))
{
	int served = 0;

	for (;;) {
		int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		pthread_t t;

		if (c < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			fprintf(stderr, "%s: accept: %s\n", who, strerror(errno));
			return 1;
		}
		if (limit) {
			serve(c);
			if (++served == limit)
				return 0;
			continue;
		}
		if (pthread_create(&t, NULL, thread, (void *)(long)c)) {
			serve(c);
			continue;
		}
		pthread_detach(t);
	}
}

#endif
