// SPDX-License-Identifier: GPL-2.0
/*
 * Helper of module_handoff.sh: leaves a hand-off pending and exits.  Makes
 * a loopback AF_NSTCP connection in the calling network namespace, gives
 * it to its own pid for MS milliseconds, closes everything and exits: the
 * connection is reserved, owned by nobody, until its token expires.
 *
 *   handoff_pending MS
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/types.h>
#include <linux/nstcp.h>

int main(int argc, char **argv)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct nstcp_give g = { .ng_flags = NSTCP_GIVE_PID };
	socklen_t len = sizeof(a);
	int l, c, s;

	if (argc != 2)
		return 2;
	g.ng_id = getpid();
	g.ng_timeout_ms = atoi(argv[1]);
	l = socket(AF_NSTCP, SOCK_STREAM, 0);
	c = socket(AF_NSTCP, SOCK_STREAM, 0);
	if (l < 0 || c < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) ||
	    listen(l, 1) || getsockname(l, (struct sockaddr *)&a, &len) ||
	    connect(c, (struct sockaddr *)&a, sizeof(a))) {
		perror("handoff_pending: connection");
		return 1;
	}
	s = accept(l, NULL, NULL);
	len = sizeof(g);
	if (s < 0 || getsockopt(s, SOL_NSTCP, NSTCP_GIVE, &g, &len)) {
		perror("handoff_pending: give");
		return 1;
	}
	printf("pending\n");
	return 0;	/* closing s leaves the connection reserved */
}
