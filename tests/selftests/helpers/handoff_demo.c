// SPDX-License-Identifier: GPL-2.0
/*
 * handoff_demo: make demo's hand-off server (tests/demo-guest).  One
 * AF_NSTCP listener; the dispatcher accepts each connection as a token
 * (split accept, which tells the flow's CPU) and, to show the steering
 * following the taker, hands it to the worker pinned on ANOTHER CPU (the
 * next one).  The worker takes it and answers each line with where the
 * line's packets were processed (SO_INCOMING_CPU after the read) and
 * where it runs, so a client sees the flow move: a hop for what arrived
 * before the take, none after.
 *
 *   handoff_demo -a ADDR -p PORT -n CONNECTIONS [-w MS]
 *
 * -w: the dispatcher waits MS before each hand-off, so that what the
 * client sends first arrives before the take.
 * Prints "listening" when ready; exits after CONNECTIONS hand-offs.
 */
#include <arpa/inet.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/nstcp.h>

#define MAXW	64

static void pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

/* One line read byte by byte (the client sends one line at a time). */
static int read_line(int fd, char *buf, size_t len)
{
	size_t n = 0;

	while (n + 1 < len) {
		ssize_t r = recv(fd, buf + n, 1, 0);

		if (r <= 0)
			return -1;
		if (buf[n] == '\n')
			break;
		n++;
	}
	buf[n] = 0;
	return n;
}

static void serve(int fd, int cpu, int from_cpu)
{
	char line[256], reply[400];
	int in, k = 0;
	socklen_t len;

	while (read_line(fd, line, sizeof(line)) >= 0) {
		len = sizeof(in);
		if (getsockopt(fd, SOL_SOCKET, SO_INCOMING_CPU, &in, &len))
			in = -1;
		snprintf(reply, sizeof(reply),
			 "line %d: packets processed on CPU %d, worker on CPU %d%s (the flow arrived on CPU %d)\n",
			 ++k, in, cpu, in == cpu ? ", local" : ": a HOP",
			 from_cpu);
		if (send(fd, reply, strlen(reply), MSG_NOSIGNAL) < 0)
			break;
	}
}

/* A worker pinned on cpu: takes the tokens (and the flow's CPU) it reads. */
static int worker(int cpu, int in)
{
	struct { uint64_t token; int32_t cpu; } m;
	int fd;

	pin(cpu);
	while (read(in, &m, sizeof(m)) == sizeof(m)) {
		fd = socket(AF_NSTCP, SOCK_STREAM, 0);
		if (fd < 0 || setsockopt(fd, SOL_NSTCP, NSTCP_TAKE, &m.token,
					 sizeof(m.token))) {
			perror("handoff_demo: take");
			if (fd >= 0)
				close(fd);
			continue;
		}
		serve(fd, cpu, m.cpu);
		close(fd);
	}
	return 0;
}

int main(int argc, char **argv)
{
	int nw = sysconf(_SC_NPROCESSORS_ONLN), pipes[MAXW], lfd, i, o;
	struct sockaddr_in a = { .sin_family = AF_INET };
	const char *addr = "127.0.0.1";
	int port = 0, left = 1, wait_ms = 0;
	pid_t pids[MAXW];

	while ((o = getopt(argc, argv, "a:p:n:w:")) != -1) {
		switch (o) {
		case 'a': addr = optarg; break;
		case 'p': port = atoi(optarg); break;
		case 'n': left = atoi(optarg); break;
		case 'w': wait_ms = atoi(optarg); break;
		default:
			fprintf(stderr, "usage: %s -a ADDR -p PORT -n CONNECTIONS [-w MS]\n",
				argv[0]);
			return 2;
		}
	}
	if (nw > MAXW)
		nw = MAXW;
	if (nw < 2 || inet_pton(AF_INET, addr, &a.sin_addr) != 1) {
		fprintf(stderr, "handoff_demo: needs 2 CPUs and an IPv4 address\n");
		return 2;
	}
	a.sin_port = htons(port);
	lfd = socket(AF_NSTCP, SOCK_STREAM, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof(a)) ||
	    listen(lfd, 128)) {
		perror("handoff_demo: listen");
		return 1;
	}
	for (i = 0; i < nw; i++) {
		int p[2];

		if (pipe(p))
			return 1;
		fflush(stdout);
		pids[i] = fork();
		if (pids[i] == 0) {
			close(p[1]);
			close(lfd);
			_exit(worker(i, p[0]));
		}
		close(p[0]);
		pipes[i] = p[1];
	}
	printf("listening on %s:%d, %d workers (one pinned per CPU)\n", addr,
	       port, nw);
	fflush(stdout);
	while (left-- > 0) {
		struct nstcp_accept_token at = { 0 };
		struct { uint64_t token; int32_t cpu; } m;
		socklen_t len = sizeof(at);
		int w;

		at.nat_give.ng_flags = NSTCP_GIVE_UID;
		at.nat_give.ng_id = getuid();
		if (getsockopt(lfd, SOL_NSTCP, NSTCP_ACCEPT_TOKEN, &at, &len)) {
			perror("handoff_demo: accept token");
			break;
		}
		/* Deliberately elsewhere: the next CPU's worker. */
		w = ((at.nat_cpu >= 0 ? at.nat_cpu : 0) + 1) % nw;
		m.token = at.nat_give.ng_token;
		m.cpu = at.nat_cpu;
		printf("dispatcher: a connection whose packets are processed on CPU %d, given to the worker on CPU %d\n",
		       at.nat_cpu, w);
		fflush(stdout);
		usleep(wait_ms * 1000);
		if (write(pipes[w], &m, sizeof(m)) != sizeof(m))
			break;
	}
	for (i = 0; i < nw; i++)
		close(pipes[i]);
	for (i = 0; i < nw; i++)
		waitpid(pids[i], NULL, 0);
	close(lfd);
	return 0;
}
