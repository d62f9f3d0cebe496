// SPDX-License-Identifier: GPL-2.0
/*
 * Helper of module_inbox.sh: exits with connections queued on an inbox.
 * Makes N loopback AF_NSTCP connections in the calling network namespace,
 * queues each on an inbox of its own with NSTCP_ACCEPT_TO, prints
 * "queued N" and exits without closing anything: the exit closes the
 * inbox with them queued.
 *
 *   inbox_queued N
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
	struct nstcp_inbox_info info;
	struct nstcp_accept_to at;
	socklen_t len = sizeof(a);
	int l, ib, c, n, i, q = 0;

	if (argc != 2)
		return 2;
	n = atoi(argv[1]);
	l = socket(AF_NSTCP, SOCK_STREAM, 0);
	ib = socket(AF_NSTCP, SOCK_STREAM, 0);
	if (l < 0 || ib < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) ||
	    listen(l, 16) || getsockname(l, (struct sockaddr *)&a, &len) ||
	    setsockopt(ib, SOL_NSTCP, NSTCP_INBOX, &n, sizeof(n)))
		goto fail;
	len = sizeof(info);
	if (getsockopt(ib, SOL_NSTCP, NSTCP_INBOX, &info, &len))
		goto fail;
	for (i = 0; i < n; i++) {
		c = socket(AF_NSTCP, SOCK_STREAM, 0);
		if (c < 0 || connect(c, (struct sockaddr *)&a, sizeof(a)))
			goto fail;
		memset(&at, 0, sizeof(at));
		at.nto_inbox = info.nii_id;
		len = sizeof(at);
		if (getsockopt(l, SOL_NSTCP, NSTCP_ACCEPT_TO, &at, &len))
			goto fail;
		q++;
	}
	printf("queued %d\n", q);
	return 0;
fail:
	printf("error %s after %d\n", strerror(errno), q);
	return 1;
}
