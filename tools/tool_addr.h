/* SPDX-License-Identifier: GPL-2.0 */
/*
 * For the one-file tools (nstcp-echo, nstcp-broker): an IPv4 or IPv6
 * socket address as text, "ADDR:PORT" or "[ADDR]:PORT".
 */
#ifndef NSTCP_TOOL_ADDR_H
#define NSTCP_TOOL_ADDR_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/socket.h>

/* Buffer size for tool_addr_text(): the longest address and ":65535". */
#define TOOL_ADDR_LEN	(INET6_ADDRSTRLEN + 8)

static inline void tool_addr_text(const struct sockaddr_storage *ss,
				  char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN] = "?";

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)ss;

		inet_ntop(AF_INET, &sin->sin_addr, ip, sizeof(ip));
		snprintf(buf, len, "%s:%u", ip, ntohs(sin->sin_port));
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const void *)ss;

		inet_ntop(AF_INET6, &sin6->sin6_addr, ip, sizeof(ip));
		snprintf(buf, len, "[%s]:%u", ip, ntohs(sin6->sin6_port));
	} else {
		snprintf(buf, len, "(family %d)", ss->ss_family);
	}
}

#endif
