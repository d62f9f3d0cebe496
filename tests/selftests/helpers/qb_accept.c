// SPDX-License-Identifier: GPL-2.0
/*
 * The guest side of queue_bind's locality check: an AF_NSTCP listener on
 * ADDR:PORT with one acceptor thread pinned per online CPU.  Each accepted
 * connection's byte is read (so its packets have been processed), then
 * its SO_INCOMING_CPU is compared with the acceptor's CPU, a byte is sent
 * back and the connection closed.  Ends after N connections or SECS
 * seconds and prints "accepted=A local=L cpus=C0,C1,..." (connections per
 * acceptor CPU).
 *
 *   qb_accept ADDR PORT N SECS
 */
#include <arpa/inet.h>
#include <errno.h>
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

static int lfd;
static atomic_int want;
static atomic_int accepted, local, per_cpu[MAXCPU];

static void *acceptor(void *arg)
{
	int cpu = (int)(long)arg, icpu, fd;
	socklen_t len = sizeof(icpu);
	struct timeval tv = { .tv_sec = 2 };
	cpu_set_t set;
	char c;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		perror("qb_accept: sched_setaffinity");
	while (atomic_load(&accepted) < atomic_load(&want)) {
		fd = accept(lfd, NULL, NULL);
		if (fd < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			perror("qb_accept: accept");
			break;
		}
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		if (read(fd, &c, 1) == 1 &&
		    !getsockopt(fd, SOL_SOCKET, SO_INCOMING_CPU, &icpu, &len)) {
			atomic_fetch_add(&accepted, 1);
			atomic_fetch_add(&per_cpu[cpu], 1);
			if (icpu == cpu)
				atomic_fetch_add(&local, 1);
			if (write(fd, &c, 1) != 1)
				perror("qb_accept: write");
		}
		close(fd);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	struct timeval tv = { .tv_sec = 0, .tv_usec = 200000 };
	int ncpu = sysconf(_SC_NPROCESSORS_ONLN), secs;
	pthread_t t[MAXCPU];

	if (argc != 5 || inet_pton(AF_INET, argv[1], &a.sin_addr) != 1) {
		fprintf(stderr, "usage: qb_accept ADDR PORT N SECS\n");
		return 2;
	}
	a.sin_port = htons(atoi(argv[2]));
	atomic_store(&want, atoi(argv[3]));
	secs = atoi(argv[4]);
	if (ncpu > MAXCPU)
		ncpu = MAXCPU;
	lfd = socket(AF_NSTCP, SOCK_STREAM, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof(a)) ||
	    listen(lfd, 1024) ||
	    setsockopt(lfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv))) {
		perror("qb_accept: listener");
		return 1;
	}
	for (int c = 0; c < ncpu; c++)
		pthread_create(&t[c], NULL, acceptor, (void *)(long)c);
	for (int s = 0; s < secs * 10 && atomic_load(&accepted) < atomic_load(&want); s++)
		usleep(100000);
	atomic_store(&want, 0);	/* the acceptors stop at their next timeout */
	for (int c = 0; c < ncpu; c++)
		pthread_join(t[c], NULL);
	printf("accepted=%d local=%d cpus=", atomic_load(&accepted),
	       atomic_load(&local));
	for (int c = 0; c < ncpu; c++)
		printf("%s%d", c ? "," : "", atomic_load(&per_cpu[c]));
	printf("\n");
	return 0;
}
