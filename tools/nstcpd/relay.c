// SPDX-License-Identifier: GPL-2.0
/*
 * A front process of the distributor model (distributor.c): nstcpd starts
 * it, pinned on its CPU, with its AF_NSTCP listening socket; it accepts,
 * picks the least loaded back end, connects to it over AF_UNIX and relays
 * the data both ways (epoll, non-blocking, a bounded buffer per direction,
 * a side's end of stream passed on as a shutdown of the other side's
 * write, an error ending both with a reset to the client).  Its counters
 * are in memory shared with nstcpd (distributor.h).
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
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

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
};

/* SIGUSR1: drain (a new nstcpd image took over the port); SIGTERM: end. */
static int draining, ending;

static void on_drain(int sig)
{
	__atomic_store_n(sig == SIGTERM ? &ending : &draining, 1,
			 __ATOMIC_RELAXED);
}

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

/*
 * The back end for a new connection: the least loaded of those up.  The
 * fronts pick concurrently: the count of the one picked is raised only if
 * it did not change since it was read, else the pick starts again.
 */
static int pick(struct front *f)
{
	struct nd_dview *v = &f->v;
	unsigned long long seen;
	int i, best;

	do {
		best = -1;
		for (i = 0; i < f->nback; i++) {
			int up = !!GET(v->up[i]);

			if (best < 0 || (up && !GET(v->up[best])) ||
			    (up == !!GET(v->up[best]) &&
			     GET(v->active[i]) < GET(v->active[best])))
				best = i;
		}
		if (best < 0)
			return -1;
		seen = GET(v->active[best]);
	} while (!__atomic_compare_exchange_n(&v->active[best], &seen, seen + 1,
					      0, __ATOMIC_RELAXED,
					      __ATOMIC_RELAXED));
	ADD(v->load[f->index * f->nback + best], 1);
	return best;
}

/*
 * A side stays in the epoll set only while it is read (not at its end, with
 * room in its direction) or has output waiting: a side in the set always
 * reports EPOLLHUP once its peer is gone, even with no events asked, which
 * would wake the loop for ever.  A side out of the set comes back when data
 * for it waits after send() hit EAGAIN (relay_io() runs both directions on
 * any event of the relay, then this).
 */
static void relay_events(int ep, struct relay *r)
{
	int side;

	for (side = 0; side < 2; side++) {
		struct pipe_dir *in = &r->dir[side], *out = &r->dir[!side];
		struct epoll_event ev = { .data.ptr = &r->end[side] };

		if (!in->eof && in->len < r->f->buf)
			ev.events |= EPOLLIN;
		if (out->len)
			ev.events |= EPOLLOUT;
		if (!ev.events) {
			if (!r->gone[side]) {
				epoll_ctl(ep, EPOLL_CTL_DEL, r->fd[side], NULL);
				r->gone[side] = 1;
			}
		} else if (r->gone[side]) {
			if (!epoll_ctl(ep, EPOLL_CTL_ADD, r->fd[side], &ev))
				r->gone[side] = 0;
		} else {
			epoll_ctl(ep, EPOLL_CTL_MOD, r->fd[side], &ev);
		}
	}
}

static void relay_end(struct relay *r, int abort_client)
{
	struct front *f = r->f;
	struct nd_dview *v = &f->v;
	struct linger lg = { 1, 0 };

	if (abort_client)
		setsockopt(r->fd[0], SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(r->fd[0]);
	close(r->fd[1]);
	SUB(v->load[f->index * f->nback + r->back], 1);
	SUB(v->active[r->back], 1);
	SUB(f->c->active, 1);
	nd_dlimit_release(v->m, f->index, &r->peer);
	f->nrelay--;
	if (abort_client) {
		ADD(f->c->aborted, 1);
	} else {
		ADD(f->c->served, 1);
		ADD(v->served[r->back], 1);
	}
	/* Freed after the batch: later events of it may name @r. */
	r->ended = 1;
	r->next_dead = f->dead;
	f->dead = r;
}

static void bury(struct front *f)
{
	while (f->dead) {
		struct relay *r = f->dead;

		f->dead = r->next_dead;
		free(r->dir[0].buf);
		free(r->dir[1].buf);
		free(r);
	}
}

/* Moves what it can on @r's side @side; 0, or -1 when @r ended. */
static int relay_io(struct relay *r, int side, unsigned int events)
{
	size_t cap = r->f->buf;
	int k;

	/* A pending error on either side: the relay cannot go on. */
	if (events & EPOLLERR) {
		int err = 0;
		socklen_t len = sizeof(err);

		getsockopt(r->fd[side], SOL_SOCKET, SO_ERROR, &err, &len);
		goto abort;
	}
	if (events & (EPOLLIN | EPOLLHUP)) {
		struct pipe_dir *in = &r->dir[side];

		while (!in->eof && in->len < cap) {
			size_t at = (in->head + in->len) % cap;
			size_t room = cap - in->len;
			ssize_t n;

			if (room > cap - at)
				room = cap - at;
			n = recv(r->fd[side], in->buf + at, room, 0);
			if (n > 0) {
				in->len += n;
				ADD(*(side ? &r->f->c->bytes_out : &r->f->c->bytes_in), n);
			} else if (n == 0) {
				in->eof = 1;
			} else if (errno == EAGAIN || errno == EINTR) {
				break;
			} else {
				goto abort;
			}
		}
	}
	/* Both directions: write what waits, pass a drained EOF on. */
	for (k = 0; k < 2; k++) {
		struct pipe_dir *dir = &r->dir[k];
		int to = r->fd[!k];

		while (dir->len) {
			size_t chunk = dir->len;
			ssize_t n;

			if (chunk > cap - dir->head)
				chunk = cap - dir->head;
			n = send(to, dir->buf + dir->head, chunk,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
			if (n > 0) {
				dir->head = (dir->head + n) % cap;
				dir->len -= n;
			} else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
				break;
			} else {
				goto abort;
			}
		}
		if (dir->eof && !dir->len && !dir->shut) {
			shutdown(to, SHUT_WR);
			dir->shut = 1;
		}
	}
	if (r->dir[0].shut && r->dir[1].shut) {
		relay_end(r, 0);
		return -1;
	}
	return 0;
abort:
	relay_end(r, 1);
	return -1;
}

/*
 * A connection accepted by front @f, from @peer: within the limits
 * (dlimit.c), connect its back end, relay; else closed, counted refused.
 */
static void relay_start(struct front *f, int ep, int cfd,
			const struct sockaddr_storage *peer)
{
	struct nd_dview *v = &f->v;
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	struct relay *r = calloc(1, sizeof(*r));
	struct epoll_event ev;
	int cpu = -1, side;
	socklen_t len = sizeof(cpu);

	ADD(f->c->accepted, 1);
	if (!getsockopt(cfd, SOL_SOCKET, SO_INCOMING_CPU, &cpu, &len) &&
	    cpu == f->cpu)
		ADD(f->c->local, 1);
	if (!r)
		goto refuse;
	r->peer = *peer;
	if (nd_dlimit_admit(v->m, f->index, &r->peer))
		goto refuse;
	r->f = f;
	r->fd[0] = cfd;
	r->back = pick(f);
	if (r->back < 0)
		goto release;
	r->dir[0].buf = malloc(f->buf);
	r->dir[1].buf = malloc(f->buf);
	r->fd[1] = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	snprintf(un.sun_path, sizeof(un.sun_path), "%s", f->path[r->back]);
	if (!r->dir[0].buf || !r->dir[1].buf || r->fd[1] < 0)
		goto unpick;
	if (connect(r->fd[1], (struct sockaddr *)&un, sizeof(un))) {
		nd_unrel_tell(r->back, f->path[r->back], errno);
		goto unpick;
	}
	ADD(f->c->active, 1);
	f->nrelay++;
	for (side = 0; side < 2; side++) {
		r->end[side].r = r;
		r->end[side].side = side;
		ev.events = EPOLLIN;
		ev.data.ptr = &r->end[side];
		epoll_ctl(ep, EPOLL_CTL_ADD, r->fd[side], &ev);
	}
	return;
unpick:
	SUB(v->load[f->index * f->nback + r->back], 1);
	SUB(v->active[r->back], 1);
	if (r->fd[1] >= 0)
		close(r->fd[1]);
	free(r->dir[0].buf);
	free(r->dir[1].buf);
release:
	nd_dlimit_release(v->m, f->index, &r->peer);
refuse:
	free(r);
	close(cfd);
	ADD(f->c->refused, 1);
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
 * Accepts what waits.  Only EINVAL (the listener shut down: nstcpd stops)
 * ends accepting; out of descriptors or memory, or at the relay cap, it
 * pauses until a relay ends or the loop's timer fires.
 */
static void accept_all(struct front *f, int ep)
{
	struct sockaddr_storage peer;
	socklen_t len;
	int c;

	for (;;) {
		if (f->nrelay >= f->maxrelay) {
			arm_accept(f, ep, 0);
			return;
		}
		len = sizeof(peer);
		memset(&peer, 0, sizeof(peer));
		c = accept4(f->lfd, (struct sockaddr *)&peer, &len,
			    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (c >= 0) {
			relay_start(f, ep, c, &peer);
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
		for (i = 0; i < n; i++) {
			struct endp *e = ev[i].data.ptr;

			if (!e) {
				accept_all(f, ep);
				continue;
			}
			if (!e->r->ended && !relay_io(e->r, e->side, ev[i].events))
				relay_events(ep, e->r);
		}
		if (f->dead || n == 0)
			arm_accept(f, ep, f->nrelay < f->maxrelay);
		bury(f);
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
	sigprocmask(SIG_BLOCK, &usr1, &f.waitmask);
	sigdelset(&f.waitmask, SIGUSR1);
	sigdelset(&f.waitmask, SIGTERM);
	run(&f);
	return 0;
}
