// SPDX-License-Identifier: GPL-2.0
/*
 * nstcp-handoff: the example of Documentation/handoff.rst.  A dispatcher
 * accepts connections on PORT as tokens (split accept), without owning a
 * descriptor, and hands each to the worker pinned on the connection's CPU;
 * the worker takes it into a new descriptor and echoes one line.
 *
 *   nstcp-handoff PORT [CONNECTIONS]
 */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <netinet/in.h>
#include <linux/types.h>
#include <linux/nstcp.h>

#define MAXW 64

/* A worker: pinned on cpu, takes the tokens it reads from the pipe. */
static int worker(int cpu, int in)
{
	cpu_set_t set;
	struct nstcp_take_fd tf = { .ntf_flags = SOCK_CLOEXEC };
	socklen_t len;
	char buf[512];
	ssize_t n;
	int via, fd;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
	/* Any AF_NSTCP socket: the takes go through it. */
	via = socket(AF_NSTCP, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (via < 0) {
		perror("socket");
		return 1;
	}
	while (read(in, &tf.ntf_token, sizeof(tf.ntf_token)) ==
	       sizeof(tf.ntf_token)) {
		len = sizeof(tf);
		if (getsockopt(via, SOL_NSTCP, NSTCP_TAKE_FD, &tf, &len)) {
			perror("take");	/* EPERM, ENOENT: see handoff.rst */
			continue;
		}
		fd = tf.ntf_fd;
		/* The connection, its unread data and its options are ours. */
		n = recv(fd, buf, sizeof(buf), 0);
		if (n > 0)
			send(fd, buf, n, MSG_NOSIGNAL);
		close(fd);
	}
	close(via);
	return 0;
}

int main(int argc, char **argv)
{
	struct sockaddr_in6 a = { .sin6_family = AF_INET6 };
	int nw = sysconf(_SC_NPROCESSORS_ONLN), pipes[MAXW], lfd, i, left;
	pid_t pids[MAXW];

	if (argc < 2) {
		fprintf(stderr, "usage: %s PORT [CONNECTIONS]\n", argv[0]);
		return 2;
	}
	left = argc > 2 ? atoi(argv[2]) : -1;
	if (nw > MAXW)
		nw = MAXW;
	for (i = 0; i < nw; i++) {
		int p[2];

		if (pipe(p))
			return 1;
		pids[i] = fork();
		if (pids[i] == 0) {
			close(p[1]);
			_exit(worker(i, p[0]));
		}
		close(p[0]);
		pipes[i] = p[1];
	}

	a.sin6_port = htons(atoi(argv[1]));
	lfd = socket(AF_NSTCP, SOCK_STREAM, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof(a)) ||
	    listen(lfd, 128)) {
		perror("listen");
		return 1;
	}
	while (left--) {
		struct nstcp_accept_token at = { 0 };
		socklen_t len = sizeof(at);
		int w;

		/*
		 * Accept as a token.  The taker is named in the same call,
		 * before the flow's CPU is known: name the workers' uid, and
		 * route the token by the CPU the call returns.
		 */
		at.nat_give.ng_flags = NSTCP_GIVE_UID;
		at.nat_give.ng_id = getuid();
		at.nat_give.ng_timeout_ms = 2000;
		if (getsockopt(lfd, SOL_NSTCP, NSTCP_ACCEPT_TOKEN, &at, &len)) {
			perror("accept token");
			break;
		}
		w = at.nat_cpu >= 0 ? at.nat_cpu % nw : 0;
		if (write(pipes[w], &at.nat_give.ng_token,
			  sizeof(at.nat_give.ng_token)) < 0)
			break;
	}
	for (i = 0; i < nw; i++)
		close(pipes[i]);
	for (i = 0; i < nw; i++)
		waitpid(pids[i], NULL, 0);
	close(lfd);
	return 0;
}
