// SPDX-License-Identifier: GPL-2.0
/*
 * AF_NSTCP socket addresses.  Applications pass and receive the standard
 * sockaddr_in and sockaddr_in6.  A dual-stack socket (the default) is an
 * IPv6 TCP socket underneath: IPv4 addresses travel as v4-mapped IPv6
 * addresses inside and come back out as sockaddr_in.
 */
#include <linux/in.h>
#include <linux/in6.h>
#include <linux/socket.h>
#include <linux/string.h>
#include <net/ipv6.h>
#include <kunit/visibility.h>

#include "nstcp.h"

/**
 * nstcp_addr_in - convert an application's address for the TCP socket
 * @uaddr: the address as given (kernel copy)
 * @len: its length
 * @v6sock: whether the TCP socket underneath is AF_INET6
 * @out: where the converted address goes
 * @outlen: its length
 *
 * Return: 0, -EINVAL for a short address, -EAFNOSUPPORT for a family the
 * socket cannot use.  AF_UNSPEC passes through (connect() uses it to
 * disconnect).
 */
int nstcp_addr_in(const struct sockaddr *uaddr, int len, bool v6sock,
		  struct sockaddr_storage *out, int *outlen)
{
	const struct sockaddr_in *sin = (const struct sockaddr_in *)uaddr;
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)uaddr;

	if (len < (int)sizeof(uaddr->sa_family) || len > (int)sizeof(*out))
		return -EINVAL;

	switch (uaddr->sa_family) {
	case AF_INET:
		if (len < (int)sizeof(*sin))
			return -EINVAL;
		if (v6sock) {
			struct sockaddr_in6 *o = (struct sockaddr_in6 *)out;

			memset(o, 0, sizeof(*o));
			o->sin6_family = AF_INET6;
			o->sin6_port = sin->sin_port;
			ipv6_addr_set_v4mapped(sin->sin_addr.s_addr, &o->sin6_addr);
			*outlen = sizeof(*o);
			return 0;
		}
		break;
	case AF_INET6:
		if (len < SIN6_LEN_RFC2133)
			return -EINVAL;
		if (!v6sock) {
			struct sockaddr_in *o = (struct sockaddr_in *)out;

			if (!ipv6_addr_v4mapped(&sin6->sin6_addr))
				return -EAFNOSUPPORT;
			memset(o, 0, sizeof(*o));
			o->sin_family = AF_INET;
			o->sin_port = sin6->sin6_port;
			o->sin_addr.s_addr = sin6->sin6_addr.s6_addr32[3];
			*outlen = sizeof(*o);
			return 0;
		}
		break;
	case AF_UNSPEC:
		break;
	default:
		return -EAFNOSUPPORT;
	}
	memcpy(out, uaddr, len);
	*outlen = len;
	return 0;
}
EXPORT_SYMBOL_IF_KUNIT(nstcp_addr_in);

/**
 * nstcp_addr_out - convert an address from the TCP socket for the application
 * @addr: the address, converted in place
 * @len: its length
 *
 * A v4-mapped IPv6 address becomes a sockaddr_in.
 *
 * Return: the new length.
 */
int nstcp_addr_out(struct sockaddr_storage *addr, int len)
{
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)addr;
	struct sockaddr_in *sin = (struct sockaddr_in *)addr;
	__be32 v4;
	__be16 port;

	if (len < (int)sizeof(*sin6) || sin6->sin6_family != AF_INET6 ||
	    !ipv6_addr_v4mapped(&sin6->sin6_addr))
		return len;
	v4 = sin6->sin6_addr.s6_addr32[3];
	port = sin6->sin6_port;
	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_port = port;
	sin->sin_addr.s_addr = v4;
	return sizeof(*sin);
}
EXPORT_SYMBOL_IF_KUNIT(nstcp_addr_out);
