/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The distributor's front process, split in two: front.c (accept, the
 * loop, signals) and relay.c (each relayed connection's I/O).
 */
#ifndef NSTCPD_FRONT_H
#define NSTCPD_FRONT_H

#include <signal.h>
#include <sys/socket.h>

#include "distributor.h"

/* One direction of a relayed connection: from @from to @to. */
struct pipe_dir {
	char *buf;
	size_t head, len;
	int eof;			/* read end saw EOF */
	int shut;			/* write end shut */
};

/* A front process. */
struct front {
	const char *name;
	int index;			/* in the shared counters */
	int lfd;
	int cpu;
	size_t buf;
	int nback;
	char **path;			/* the back ends' sockets */
	struct nd_dview v;
	struct nd_fctr *c;		/* its counters */
	struct relay *dead;		/* ended in this epoll batch */
	int nrelay;			/* relays open */
	int maxrelay;			/* below RLIMIT_NOFILE / 2 */
	int accepting;			/* listener in the epoll set */
	int stopped;			/* listener shut down or closed */
	sigset_t waitmask;		/* SIGUSR1 let in while waiting only */
	sigset_t sigs;			/* SIGUSR1, SIGTERM: blocked but then */
};

struct relay {
	struct front *f;
	int fd[2];			/* 0 client, 1 back end */
	int back;
	int ended;
	struct sockaddr_storage peer;
	int gone[2];			/* side out of the epoll set */
	struct relay *next_dead;
	struct pipe_dir dir[2];		/* 0: client to back end, 1: back */
	struct endp {
		struct relay *r;
		int side;
	} end[2];
};

void nd_relay_start(struct front *f, int ep, int cfd,
		    const struct sockaddr_storage *peer);
int nd_relay_io(struct relay *r, int side, unsigned int events);
void nd_relay_events(int ep, struct relay *r);
void nd_bury(struct front *f);

#endif
