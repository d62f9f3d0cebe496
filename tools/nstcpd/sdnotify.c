// SPDX-License-Identifier: GPL-2.0
/*
 * sd_notify by hand (no libsystemd): a datagram to the service manager's
 * $NOTIFY_SOCKET (a path, or an abstract name after "@"), with one
 * descriptor in SCM_RIGHTS for FDSTORE=1 (handover.c).
 *
 * The listening sockets go to the service manager only.  A path is opened
 * O_PATH without following a final symbolic link, must be a socket owned
 * by root or nstcpd's user, and is connected to through that descriptor
 * (/proc/self/fd/N): the socket checked is the one the datagram goes to,
 * whatever is renamed or replaced meanwhile.  (A connected datagram
 * socket has no SO_PEERCRED, so the owner of the bound inode is the check.)
 * An abstract name can be bound by anyone in the network namespace:
 * notifications go there, descriptors never do.  The send never blocks
 * (a manager that does not read loses the message, nstcpd goes on).
 */
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "nstcpd.h"

/*
 * @s connected to $NOTIFY_SOCKET @path: 0, or -1 (logged once when the
 * socket is refused).  @fds: whether descriptors are to be sent.
 */
static int notify_connect(int s, const char *path, int fds)
{
	static int logged;
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	size_t len = strlen(path);
	const char *why = NULL;
	struct stat st;
	int pfd, r;

	if (len >= sizeof(sun.sun_path))
		return -1;
	if (path[0] == '@') {
		if (fds) {
			why = "an abstract name (anyone may bind it): no descriptors sent";
			goto refuse;
		}
		memcpy(sun.sun_path, path, len);
		sun.sun_path[0] = 0;
		return connect(s, (struct sockaddr *)&sun,
			       offsetof(struct sockaddr_un, sun_path) + len);
	}
	pfd = open(path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (pfd < 0) {
		why = "cannot be opened (or a symbolic link)";
		goto refuse;
	}
	if (fstat(pfd, &st) || !S_ISSOCK(st.st_mode) ||
	    (st.st_uid != 0 && st.st_uid != geteuid())) {
		close(pfd);
		why = "not a socket of root or nstcpd's user";
		goto refuse;
	}
	snprintf(sun.sun_path, sizeof(sun.sun_path), "/proc/self/fd/%d", pfd);
	r = connect(s, (struct sockaddr *)&sun, sizeof(sun));
	close(pfd);
	return r;
refuse:
	if (!logged++)
		nd_log("NOTIFY_SOCKET %s: %s: not used", path, why);
	return -1;
}

/* One sd_notify datagram of @msg to $NOTIFY_SOCKET, with @fd if >= 0. */
int nd_sd_notify(const char *msg, int fd)
{
	const char *path = getenv("NOTIFY_SOCKET");
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int))];
	} u;
	struct iovec iov = { (void *)msg, strlen(msg) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	int s, r = -1;

	if (!path || (path[0] != '/' && path[0] != '@'))
		return -1;
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
	if (!notify_connect(s, path, fd >= 0))
		r = sendmsg(s, &mh, MSG_NOSIGNAL | MSG_DONTWAIT) < 0 ? -1 : 0;
	close(s);
	return r;
}
