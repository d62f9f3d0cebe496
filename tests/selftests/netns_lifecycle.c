// SPDX-License-Identifier: GPL-2.0
/*
 * Selftest: AF_NSTCP state is per network namespace (instances, counters,
 * sysctls), and a namespace torn down with live and orphaned AF_NSTCP
 * connections goes away cleanly (the guest runner fails on any splat or
 * leak).
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/nstcp.h>
#include "tap.h"
#include "listen_util.h"
#include "proc_util.h"

/* The sockets counter of the calling thread's namespace; -1 if unreadable. */
static long sum_sockets(void)
{
	static struct proc_stats st;

	return proc_read_stats(&st) < 0 ? -1 : (long)st.sum[PROC_SOCKETS];
}

static int read_sysctl(const char *name)
{
	char path[128], buf[32] = "";
	int fd, v = -1;

	snprintf(path, sizeof(path), "/proc/sys/net/nstcp/%s", name);
	fd = open(path, O_RDONLY);
	if (fd >= 0 && read(fd, buf, sizeof(buf) - 1) > 0)
		v = atoi(buf);
	if (fd >= 0)
		close(fd);
	return v;
}

/* A connected AF_NSTCP pair over the namespace's loopback, with data queued. */
static int make_pair(int *lfd, int *cfd, int *afd)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	static char junk[65536];

	*lfd = socket(AF_NSTCP, SOCK_STREAM, 0);
	*cfd = socket(AF_NSTCP, SOCK_STREAM, 0);
	if (*lfd < 0 || *cfd < 0 || bind(*lfd, (struct sockaddr *)&a, sizeof(a)) ||
	    listen(*lfd, 8) || getsockname(*lfd, (struct sockaddr *)&a, &len) ||
	    connect(*cfd, (struct sockaddr *)&a, sizeof(a)))
		return -1;
	*afd = accept(*lfd, NULL, NULL);
	if (*afd < 0)
		return -1;
	/* Unread data both ways, so close() has work to do. */
	if (send(*cfd, junk, sizeof(junk), MSG_DONTWAIT) <= 0 ||
	    send(*afd, junk, 1000, MSG_DONTWAIT) <= 0)
		return -1;
	return 0;
}

/*
 * Child: a fresh namespace.  Reports over a pipe: its sockets counter,
 * whether the parent's sysctl change is invisible, and hands one live
 * socket to the parent over an AF_UNIX socket so it outlives the child.
 */
static void child(int report, int unix_fd)
{
	int lfd = -1, cfd = -1, afd = -1, r[4] = { -1, -1, -1, -1 };
	char cbuf[CMSG_SPACE(sizeof(int))] = {};
	struct iovec iov = { .iov_base = r, .iov_len = 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *cm;

	if (unshare(CLONE_NEWNET) || lst_lo_up())
		_exit(2);
	r[0] = (int)sum_sockets();		/* fresh: 0 */
	r[1] = read_sysctl("hop_accounting");		/* fresh: 1 */
	r[2] = make_pair(&lfd, &cfd, &afd);
	r[3] = (int)sum_sockets();		/* now: 3 */
	if (write(report, r, sizeof(r)) != sizeof(r))
		_exit(3);
	cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &afd, sizeof(int));
	if (sendmsg(unix_fd, &mh, 0) != 1)
		_exit(4);
	/* Exit with the listener and client open: the kernel closes them. */
	_exit(0);
}

int main(void)
{
	int pfd[2], sv[2], r[4], status, passed = -1, saved;
	char savedbuf[16];
	long before;
	char b;
	pid_t pid;

	tap_plan(9);
	before = sum_sockets();
	tap_ok(before >= 0, "/proc/net/nstcp readable in the initial namespace");
	saved = read_sysctl("hop_accounting");
	snprintf(savedbuf, sizeof(savedbuf), "%d", saved);
	tap_ok(saved >= 0 && proc_nstcp_sysctl_write("hop_accounting", "0") == 0 &&
	       read_sysctl("hop_accounting") == 0,
	       "hop_accounting set to 0 in the initial namespace");

	if (pipe(pfd) || socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
		return tap_done();
	pid = fork();
	if (pid == 0)
		child(pfd[1], sv[1]);
	close(pfd[1]);
	close(sv[1]);
	if (read(pfd[0], r, sizeof(r)) != sizeof(r))
		memset(r, 0xff, sizeof(r));
	{
		char cbuf[CMSG_SPACE(sizeof(int))];
		struct iovec iov = { .iov_base = &b, .iov_len = 1 };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
				     .msg_control = cbuf,
				     .msg_controllen = sizeof(cbuf) };
		struct cmsghdr *cm;

		if (recvmsg(sv[0], &mh, 0) == 1 && (cm = CMSG_FIRSTHDR(&mh)) &&
		    cm->cmsg_type == SCM_RIGHTS)
			memcpy(&passed, CMSG_DATA(cm), sizeof(int));
	}
	waitpid(pid, &status, 0);

	tap_ok(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	       "child in a new namespace set up its flow (status %d)", status);
	tap_ok(r[0] == 0, "a new namespace starts with its own counters (sockets %d)", r[0]);
	tap_ok(r[1] == 1, "a new namespace has its own sysctls (hop_accounting %d)", r[1]);
	tap_ok(r[2] == 0 && r[3] == 3,
	       "its counters count its own sockets (%d after 3 opened)", r[3]);
	tap_ok(sum_sockets() == before,
	       "the initial namespace's counters did not move (%ld, was %ld)",
	       sum_sockets(), before);

	/* The passed socket keeps the child's namespace alive until closed. */
	{
		char buf[2000];
		ssize_t got = recv(passed, buf, sizeof(buf), MSG_DONTWAIT);

		/* 64 KiB were queued towards it: a full buffer comes back. */
		tap_ok(got == (ssize_t)sizeof(buf),
		       "a socket outliving its namespace's last process still works (%zd)",
		       got);
	}
	close(passed);
	close(sv[0]);
	close(pfd[0]);
	if (saved >= 0)
		proc_nstcp_sysctl_write("hop_accounting", savedbuf);
	tap_ok(saved >= 0 && read_sysctl("hop_accounting") == saved,
	       "hop_accounting restored (to %d)", saved);
	/* Give the namespace's cleanup work time to run before the leak scan. */
	sleep(1);
	return tap_done();
}
