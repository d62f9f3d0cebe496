/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Whole-buffer send and receive on a stream socket, for the one-file tools
 * and the benchmarks: retried on EINTR, no SIGPIPE.
 */
#ifndef NSTCP_TOOL_IO_H
#define NSTCP_TOOL_IO_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

/* Send all of @len bytes; false on an error (the peer has gone). */
static inline bool tool_send_all(int fd, const char *buf, size_t len)
{
	ssize_t n;

	while (len) {
		n = send(fd, buf, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		buf += n;
		len -= n;
	}
	return true;
}

/* Read exactly @len bytes; false on an error or an early EOF. */
static inline bool tool_recv_all(int fd, char *buf, size_t len)
{
	ssize_t n;

	while (len) {
		n = recv(fd, buf, len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		buf += n;
		len -= n;
	}
	return true;
}

#endif
