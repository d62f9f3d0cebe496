// SPDX-License-Identifier: GPL-2.0
/*
 * A front process of the distributor model (distributor.c), its relays:
 * for each connection the front accepted (front.c), it picks the least
 * loaded back end, connects to it over AF_UNIX and relays the data both
 * ways (non-blocking, a bounded buffer per direction, a side's end of
 * stream passed on as a shutdown of the other side's write, an error
 * ending both with a reset to the client).  Its counters are in memory
 * shared with nstcpd (distributor.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "front.h"

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
 * for it waits after send() hit EAGAIN (nd_relay_io() runs both directions on
 * any event of the relay, then this).
 */
void nd_relay_events(int ep, struct relay *r)
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

void nd_bury(struct front *f)
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
int nd_relay_io(struct relay *r, int side, unsigned int events)
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
void nd_relay_start(struct front *f, int ep, int cfd,
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

