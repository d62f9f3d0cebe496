// SPDX-License-Identifier: GPL-2.0
/*
 * sd_notify by hand (no libsystemd): a datagram to the service manager's
 * $NOTIFY_SOCKET (a path, or an abstract name after "@"), with one
 * descriptor in SCM_RIGHTS for FDSTORE=1 (handover.c).  A path must name
 * a socket (not a symbolic link) owned by root or nstcpd's user: the
 * listening sockets go to the service manager only; the send never
 * blocks (a manager that does not read loses the message, nstcpd goes on).
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "nstcpd.h"

/* One sd_notify datagram of @msg to $NOTIFY_SOCKET, with @fd if >= 0. */
int nd_sd_notify(const char *msg, int fd)
{
	const char *path = getenv("NOTIFY_SOCKET");
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int))];
	} u;
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct iovec iov = { (void *)msg, strlen(msg) };
	struct msghdr mh = { .msg_name = &sun, .msg_iov = &iov,
			     .msg_iovlen = 1 };
	struct stat st;
	size_t len;
	int s, r;

	if (!path || (path[0] != '/' && path[0] != '@'))
		return -1;
	len = strlen(path);
	if (len >= sizeof(sun.sun_path))
		return -1;
	if (path[0] == '/' &&
	    (lstat(path, &st) || !S_ISSOCK(st.st_mode) ||
	     (st.st_uid != 0 && st.st_uid != geteuid()))) {
		nd_log("NOTIFY_SOCKET %s: not a socket of root or nstcpd's user: not used",
		       path);
		return -1;
	}
	memcpy(sun.sun_path, path, len);
	if (path[0] == '@')
		sun.sun_path[0] = 0;
	mh.msg_namelen = offsetof(struct sockaddr_un, sun_path) + len;
	if (fd >= 0) {
		memset(&u, 0, sizeof(u));
		mh.msg_control = u.b;
		mh.msg_controllen = sizeof(u.b);
		CMSG_FIRSTHDR(&mh)->cmsg_level = SOL_SOCKET;
		CMSG_FIRSTHDR(&mh)->cmsg_type = SCM_RIGHTS;
		CMSG_FIRSTHDR(&mh)->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(CMSG_FIRSTHDR(&mh)), &fd, sizeof(int));
	}
	s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -1;
	r = sendmsg(s, &mh, MSG_NOSIGNAL | MSG_DONTWAIT) < 0 ? -1 : 0;
	close(s);
	return r;
}
