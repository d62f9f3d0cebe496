// SPDX-License-Identifier: GPL-2.0
/*
 * nic_accept_srv: the guest-side servers of the NIC accept benchmark
 * (tests/bench/nic_accept_run).  One worker pinned per CPU for each of
 * three servers, all listening at once on the multi-queue test NIC:
 *
 *   BASE+0  AF_INET, a SO_REUSEPORT listener per worker, SO_INCOMING_CPU
 *   BASE+1  AF_NSTCP, one listening socket shared by every worker
 *   BASE+2  AF_INET, one listening socket shared by every worker
 *
 * A worker accepts, answers one byte and closes once the client has (the
 * client closes first), counting the connections whose packets were
 * processed on its own CPU (SO_INCOMING_CPU).  A connection to DONE_PORT
 * ends the run: one line per server is printed,
 *
 *   server S port P accepted N local L
 *
 *   nic_accept_srv ADDR BASE DONE_PORT
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/nstcp.h>

#define MAXCPU	64
#define NSRV	3

static const char *const names[NSRV] = {
	"inet-reuseport", "nstcp", "inet-shared",
};

static struct sockaddr_in addr;
static atomic_long accepted[NSRV], local[NSRV];

struct worker {
	pthread_t t;
	int srv, cpu, lfd;
};

static int listener(int family, int port, int reuseport)
{
	struct sockaddr_in a = addr;
	int one = 1, fd = socket(family, SOCK_STREAM, 0);

	a.sin_port = htons(port);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    (reuseport &&
	     setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one))) ||
	    bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 1024)) {
		perror("nic_accept_srv: listener");
		exit(1);
	}
	return fd;
}

static void *serve(void *arg)
{
	struct worker *w = arg;
	cpu_set_t set;
	int fd, in;
	socklen_t len;
	char c;

	CPU_ZERO(&set);
	CPU_SET(w->cpu, &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	if (w->srv == 0)	/* this listener takes its CPU's connections */
		setsockopt(w->lfd, SOL_SOCKET, SO_INCOMING_CPU, &w->cpu,
			   sizeof(w->cpu));
	for (;;) {
		fd = accept(w->lfd, NULL, NULL);
		if (fd < 0)
			continue;
		if (read(fd, &c, 1) == 1 && write(fd, &c, 1) == 1) {
			len = sizeof(in);
			if (!getsockopt(fd, SOL_SOCKET, SO_INCOMING_CPU, &in, &len) &&
			    in == w->cpu)
				atomic_fetch_add(&local[w->srv], 1);
			atomic_fetch_add(&accepted[w->srv], 1);
			while (read(fd, &c, 1) > 0)	/* the client closes first */
				;
		}
		close(fd);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	static struct worker w[NSRV][MAXCPU];
	int ncpu = sysconf(_SC_NPROCESSORS_ONLN), base, s, i, shared = -1;
	int done, fd;

	if (argc != 4 || inet_pton(AF_INET, argv[1], &addr.sin_addr) != 1) {
		fprintf(stderr, "usage: %s ADDR BASE DONE_PORT\n", argv[0]);
		return 2;
	}
	addr.sin_family = AF_INET;
	base = atoi(argv[2]);
	if (ncpu > MAXCPU)
		ncpu = MAXCPU;
	for (s = 0; s < NSRV; s++) {
		if (s)
			shared = listener(s == 1 ? AF_NSTCP : AF_INET, base + s, 0);
		for (i = 0; i < ncpu; i++) {
			w[s][i].srv = s;
			w[s][i].cpu = i;
			w[s][i].lfd = s ? shared : listener(AF_INET, base, 1);
			pthread_create(&w[s][i].t, NULL, serve, &w[s][i]);
		}
	}
	done = listener(AF_INET, atoi(argv[3]), 0);
	printf("listening on %s ports %d-%d, %d workers each\n", argv[1], base,
	       base + NSRV - 1, ncpu);
	fflush(stdout);
	fd = accept(done, NULL, NULL);
	close(fd);
	for (s = 0; s < NSRV; s++)
		printf("server %s port %d accepted %ld local %ld\n", names[s],
		       base + s, atomic_load(&accepted[s]), atomic_load(&local[s]));
	fflush(stdout);
	_exit(0);
}
