// SPDX-License-Identifier: GPL-2.0
/*
 * A front process of the distributor model (distributor.c): nstcpd starts
 * it, pinned on its CPU, with its AF_NSTCP listening socket; it accepts
 * and hands each connection to a relay (relay.c), in one epoll loop that
 * also drains (SIGUSR1) and ends (SIGTERM).
 */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "front.h"
#include "nstcpd.h"

/* SIGUSR1: drain (a new nstcpd image took over the port); SIGTERM: end. */
static int draining, ending;

static void on_drain(int sig)
{
	__atomic_store_n(sig == SIGTERM ? &ending : &draining, 1,
			 __ATOMIC_RELAXED);
}

/* Puts the listener in the epoll set (@on) or takes it out. */
static void arm_accept(struct front *f, int ep, int on)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };

	if (f->stopped || on == f->accepting)
		return;
	if (!epoll_ctl(ep, on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, f->lfd, &ev))
		f->accepting = on;
}

/*
 * Accepts what waits, at most ACCEPT_BATCH a round: the listener stays in
 * the level-triggered epoll set, so under a steady flood the loop comes
 * back to it at once, having looked at its relays and signals.  Only
 * EINVAL (the listener shut down: nstcpd stops) ends accepting; out of
 * descriptors or memory, or at the relay cap, it pauses until a relay ends
 * or the loop's timer fires.
 */
#define ACCEPT_BATCH 64
static void accept_all(struct front *f, int ep)
{
	struct sockaddr_storage peer;
	socklen_t len;
	int c, i;

	for (i = 0; i < ACCEPT_BATCH; i++) {
		if (f->nrelay >= f->maxrelay) {
			arm_accept(f, ep, 0);
			return;
		}
		len = sizeof(peer);
		memset(&peer, 0, sizeof(peer));
		c = accept4(f->lfd, (struct sockaddr *)&peer, &len,
			    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (c >= 0) {
			nd_relay_start(f, ep, c, &peer);
			continue;
		}
		switch (errno) {
		case EINTR:
		case ECONNABORTED:
		case EPROTO:
		case EPERM:
			continue;
		case EINVAL:
			/* Shut down: relay what is left. */
			arm_accept(f, ep, 0);
			f->stopped = 1;
			return;
		case EMFILE:
		case ENFILE:
		case ENOBUFS:
		case ENOMEM:
			arm_accept(f, ep, 0);
			return;
		default:
			/* EAGAIN, or a connection's own error: next event. */
			return;
		}
	}
}

/* The front's loop: accept, relay. */
static void run(struct front *f)
{
	struct epoll_event ev[64];
	int ep = epoll_create1(EPOLL_CLOEXEC), n, i;
	long long wait, log;

	if (ep < 0) {
		fprintf(stderr, "nstcpd[%s]: front %d: epoll: %s\n", f->name,
			f->index, strerror(errno));
		exit(1);
	}
	arm_accept(f, ep, 1);
	if (!f->accepting) {
		fprintf(stderr, "nstcpd[%s]: front %d: epoll: %s\n", f->name,
			f->index, strerror(errno));
		exit(1);
	}
	for (;;) {
		/*
		 * Draining: the listening socket closed here (not shut down:
		 * the new image's fronts accept on it), the relays finished,
		 * then exit 0.
		 */
		int drain = __atomic_load_n(&draining, __ATOMIC_RELAXED);

		if (drain && f->lfd >= 0) {
			arm_accept(f, ep, 0);
			close(f->lfd);
			f->lfd = -1;
			f->stopped = 1;
		}
		if (__atomic_load_n(&ending, __ATOMIC_RELAXED)) {
			/* SIGTERM's own end, after the log's last line. */
			nd_unrel_flush(1);
			signal(SIGTERM, SIG_DFL);
			sigprocmask(SIG_SETMASK, &f->waitmask, NULL);
			raise(SIGTERM);
		}
		if (drain && !f->nrelay) {
			nd_unrel_flush(1);
			exit(0);
		}
		/* Paused: try again on a relay's end or in 100 ms. */
		wait = f->accepting || f->stopped ? -1 : 100;
		log = nd_unrel_wait();
		if (log >= 0 && (wait < 0 || log < wait))
			wait = log;
		n = epoll_pwait(ep, ev, 64, (int)wait, &f->waitmask);
		nd_unrel_flush(0);
		/* Ready events: a pending SIGTERM or SIGUSR1 was not let in. */
		if (n > 0)
			nd_let_signals_in(&f->waitmask, &f->sigs);
		for (i = 0; i < n; i++) {
			struct endp *e = ev[i].data.ptr;

			if (!e) {
				accept_all(f, ep);
				continue;
			}
			if (!e->r->ended && !nd_relay_io(e->r, e->side, ev[i].events))
				nd_relay_events(ep, e->r);
		}
		if (f->dead || n == 0)
			arm_accept(f, ep, f->nrelay < f->maxrelay);
		nd_bury(f);
	}
}

/* Relays a front keeps open at most: each holds two descriptors. */
static int relay_cap(void)
{
	struct rlimit rl;
	rlim_t cap = 1 << 20;

	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur != RLIM_INFINITY)
		cap = rl.rlim_cur / 2;
	cap = cap > 16 ? cap - 8 : 1;
	return cap > (1 << 20) ? 1 << 20 : (int)cap;
}

/*
 * nstcpd front NAME INDEX BUFFER PATH...: a front of service NAME, with
 * its listening socket on descriptor 3 and the shared counters on 4, as
 * nstcpd starts it (pinned already), relaying to the back ends at PATH...
 */
int nd_front_main(int argc, char **argv)
{
	struct front f = { .lfd = 3 };
	struct sigaction sa = { 0 };
	sigset_t usr1;
	struct stat st;
	void *base;

	if (argc < 5 || fstat(4, &st)) {
		fprintf(stderr, "nstcpd front: started by nstcpd only\n");
		return 2;
	}
	f.name = argv[1];
	f.index = atoi(argv[2]);
	f.buf = strtoul(argv[3], NULL, 10);
	f.path = argv + 4;
	f.nback = argc - 4;
	f.cpu = sched_getcpu();
	base = mmap(NULL, st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, 4, 0);
	if (base == MAP_FAILED) {
		perror("nstcpd front: mmap");
		return 1;
	}
	close(4);
	nd_dview(&f.v, base);
	if (f.index < 0 || (unsigned int)f.index >= f.v.m->nfront ||
	    (unsigned int)f.nback != f.v.m->nback || f.buf < 4096 ||
	    (size_t)st.st_size < nd_dshm_size(f.v.m->nfront, f.v.m->nback)) {
		fprintf(stderr, "nstcpd front: bad arguments\n");
		return 2;
	}
	f.c = &f.v.front[f.index];
	f.maxrelay = relay_cap();
	nd_unrel_init(f.name, f.index);
	signal(SIGPIPE, SIG_IGN);
	/*
	 * SIGUSR1 and SIGTERM blocked but in epoll_pwait (no SA_RESTART: it
	 * returns EINTR), so that the flag is seen before the loop sleeps.
	 */
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_drain;
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	sigaddset(&usr1, SIGTERM);
	f.sigs = usr1;
	sigprocmask(SIG_BLOCK, &usr1, &f.waitmask);
	sigdelset(&f.waitmask, SIGUSR1);
	sigdelset(&f.waitmask, SIGTERM);
	run(&f);
	return 0;
}
