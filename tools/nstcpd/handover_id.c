// SPDX-License-Identifier: GPL-2.0
/*
 * The handover's identities (handover.c): the name a held listening socket
 * goes by ("nd.MODEL.KEY.POLICY.ADDR.PORT"), the check that an inherited
 * socket is what its name says, and the path of the running binary that a
 * restart executes.
 */
#include <arpa/inet.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/types.h>
#include <linux/nstcp.h>

#include "nstcp.h"
#include "nstcpd.h"

/* The running binary's path, read before anything else (nd_self_path). */
static char self_path[PATH_MAX];

/*
 * At start: the path of the running binary (/proc/self/exe's target), so
 * that a restart runs the binary installed at that path now.  A target
 * already " (deleted)" (replaced before we ran) is kept empty: a restart
 * then falls back to /proc/self/exe.
 */
void nd_self_path(void)
{
	static const char del[] = " (deleted)";
	ssize_t n = readlink("/proc/self/exe", self_path, sizeof(self_path) - 1);
	size_t d = sizeof(del) - 1;

	if (n <= 0 || self_path[0] != '/') {
		self_path[0] = 0;
		return;
	}
	self_path[n] = 0;
	if ((size_t)n > d && !strcmp(self_path + n - d, del))
		self_path[0] = 0;
}

/* The running binary's path recorded at start, or "" when unknown. */
const char *nd_self(void)
{
	return self_path;
}

/* Family, port and address of @a; IPv4-mapped IPv6 as IPv4. */
static int addr_key(const struct sockaddr_storage *a, char *buf, size_t len)
{
	const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)a;
	const struct sockaddr_in *a4 = (const struct sockaddr_in *)a;
	const unsigned char *b;
	int n, i, port;

	if (a->ss_family == AF_INET) {
		b = (const unsigned char *)&a4->sin_addr;
		n = 4;
		port = ntohs(a4->sin_port);
	} else if (a->ss_family == AF_INET6) {
		b = (const unsigned char *)&a6->sin6_addr;
		n = 16;
		if (IN6_IS_ADDR_V4MAPPED(&a6->sin6_addr)) {
			b += 12;
			n = 4;
		}
		port = ntohs(a6->sin6_port);
	} else {
		return -1;
	}
	if (len < (size_t)n * 2 + 16)
		return -1;
	for (i = 0; i < n; i++)
		sprintf(buf + 2 * i, "%02x", b[i]);
	sprintf(buf + 2 * n, ".%d", port);
	return 0;
}

/*
 * The identity of a listening socket: "nd.MODEL.KEY.POLICY.ADDR.PORT"
 * (KEY "_" for none, ADDR in hex): printable, without colons, so that it
 * is also a valid systemd FDNAME.
 */
int nd_ident(char *buf, enum nd_model m, const char *key, int policy,
		 const struct sockaddr_storage *a)
{
	char ak[48];

	if (addr_key(a, ak, sizeof(ak)))
		return -1;
	snprintf(buf, ND_ID_MAX, "nd.%s.%s.%d.%s", nd_model_name(m),
		 key && *key ? key : "_", policy, ak);
	return 0;
}

/*
 * 0 when @fd is an AF_NSTCP listening socket (SO_DOMAIN the TCP sock's
 * family, NSTCP_INFO answered, SO_ACCEPTCONN set) whose address (and
 * share key and policy, when @id names them) are @id's.
 */
int nd_handover_check(int fd, const char *id, const char **why)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(int);
	char model[16], key[ND_KEY_MAX + 2], got[ND_KEY_MAX + 1];
	char ak[48], want[48];
	struct nstcp_info ni;
	int v = 0, policy = 0;

	/* SO_DOMAIN is the TCP sock's family: NSTCP_INFO tells AF_NSTCP. */
	*why = "not a socket";
	if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &v, &len))
		return -1;
	*why = "not AF_NSTCP";
	len = sizeof(ni);
	memset(&ni, 0, sizeof(ni));
	if ((v != AF_INET && v != AF_INET6) ||
	    getsockopt(fd, SOL_NSTCP, NSTCP_INFO, &ni, &len))
		return -1;
	*why = "not listening";
	len = sizeof(v);
	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &v, &len) || !v ||
	    !(ni.nsi_flags & NSTCP_INFO_LISTENING))
		return -1;
	*why = "not named by nstcpd";
	if (sscanf(id, "nd.%15[a-z].%9[A-Za-z0-9_].%d.%47s", model, key,
		   &policy, want) != 4)
		return -1;
	*why = "bound to another address than its name's";
	len = sizeof(ss);
	memset(&ss, 0, sizeof(ss));
	if (getsockname(fd, (struct sockaddr *)&ss, &len) ||
	    addr_key(&ss, ak, sizeof(ak)) || strcmp(ak, want))
		return -1;
	*why = "another share key than its name's";
	memset(got, 0, sizeof(got));
	len = ND_KEY_MAX;
	if (strcmp(key, "_") &&
	    (getsockopt(fd, SOL_NSTCP, NSTCP_SHARE_KEY, got, &len) ||
	     strcmp(got, key)))
		return -1;
	*why = "another policy than its name's";
	len = sizeof(v);
	if (policy && (getsockopt(fd, SOL_NSTCP, NSTCP_POLICY, &v, &len) ||
		       v != policy))
		return -1;
	return 0;
}
