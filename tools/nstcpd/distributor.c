// SPDX-License-Identifier: GPL-2.0
/*
 * The distributor model (a proxy): a front thread per configured CPU,
 * pinned there, each with its own AF_NSTCP listening socket of the
 * service's shared port (a member of its share key), so per-CPU listening
 * gives each front the connections its CPU processes.  A front accepts,
 * connects to the least loaded back end over AF_UNIX and relays the data
 * both ways (epoll, non-blocking, a bounded buffer per direction, a
 * half-close passed on as a shutdown of the other side's write).  The back
 * ends are copies of the program, started, pinned and supervised as the
 * monolithic model's copies are, each passed its own AF_UNIX listening
 * socket by LISTEN_FDS; nstcpd holds those sockets, so a back end that
 * exits is restarted on the same one and the connections it had not
 * accepted wait for it.  Those it was serving are closed: their clients
 * see a reset.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <json-c/json.h>

#include "nstcpd.h"

/* Counters written by the fronts (relaxed atomics), read for the status. */
struct nd_front {
	struct nd_dist *d;
	int cpu;
	int lfd;
	unsigned long long accepted, active, served, aborted, refused, local;
	unsigned long long bytes_in, bytes_out;
	struct relay *dead;		/* ended in this epoll batch */
};

struct nd_backend {
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int up;				/* its process runs */
	unsigned long long active, served;
};

struct nd_dist {
	struct nd_service *s;
	struct nd_front *front;
	int nfront;
	struct nd_backend *back;	/* one per s->copies */
	pthread_mutex_t pick_lock;
	size_t buf;			/* bytes per direction */
};

#define ADD(x, v)	__atomic_add_fetch(&(x), (v), __ATOMIC_RELAXED)
#define SUB(x, v)	__atomic_sub_fetch(&(x), (v), __ATOMIC_RELAXED)
#define GET(x)		__atomic_load_n(&(x), __ATOMIC_RELAXED)

/* One direction of a relayed connection: from @from to @to. */
struct pipe_dir {
	char *buf;
	size_t head, len;
	int eof;			/* read end saw EOF */
	int shut;			/* write end shut */
};

struct relay {
	struct nd_front *f;
	int fd[2];			/* 0 client, 1 back end */
	int back;
	int ended;
	int gone[2];			/* side out of the epoll set */
	struct relay *next_dead;
	struct pipe_dir dir[2];		/* 0: client to back end, 1: back */
	struct endp {
		struct relay *r;
		int side;
	} end[2];
};

/* The back end for a new connection: the least loaded of those up. */
static int pick(struct nd_dist *d)
{
	struct nd_service *s = d->s;
	int i, best = -1;

	pthread_mutex_lock(&d->pick_lock);
	for (i = 0; i < s->ncopies; i++) {
		struct nd_backend *b = &d->back[i];
		int up = GET(b->up);

		if (best < 0 || (up && !GET(d->back[best].up)) ||
		    (up == GET(d->back[best].up) &&
		     GET(b->active) < GET(d->back[best].active)))
			best = i;
	}
	if (best >= 0)
		ADD(d->back[best].active, 1);
	pthread_mutex_unlock(&d->pick_lock);
	return best;
}

static void relay_events(int ep, struct relay *r)
{
	int side;

	for (side = 0; side < 2; side++) {
		struct pipe_dir *in = &r->dir[side], *out = &r->dir[!side];
		struct epoll_event ev = { .data.ptr = &r->end[side] };

		if (r->gone[side])
			continue;
		/* Read to its end and written shut: nothing more to wait for. */
		if (in->eof && out->shut) {
			epoll_ctl(ep, EPOLL_CTL_DEL, r->fd[side], NULL);
			r->gone[side] = 1;
			continue;
		}

		/* Read @side while its direction has room; write it what waits. */
		if (!in->eof && in->len < r->f->d->buf)
			ev.events |= EPOLLIN;
		if (out->len)
			ev.events |= EPOLLOUT;
		epoll_ctl(ep, EPOLL_CTL_MOD, r->fd[side], &ev);
	}
}

static void relay_end(struct relay *r, int abort_client)
{
	struct nd_front *f = r->f;
	struct linger lg = { 1, 0 };

	if (abort_client)
		setsockopt(r->fd[0], SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(r->fd[0]);
	close(r->fd[1]);
	SUB(f->d->back[r->back].active, 1);
	SUB(f->active, 1);
	if (abort_client) {
		ADD(f->aborted, 1);
	} else {
		ADD(f->served, 1);
		ADD(f->d->back[r->back].served, 1);
	}
	/* Freed after the batch: later events of it may name @r. */
	r->ended = 1;
	r->next_dead = f->dead;
	f->dead = r;
}

static void bury(struct nd_front *f)
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
	size_t cap = r->f->d->buf;
	int k;

	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
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
				ADD(*(side ? &r->f->bytes_out : &r->f->bytes_in), n);
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

/* A connection accepted by front @f: connect its back end, relay. */
static void relay_start(struct nd_front *f, int ep, int cfd)
{
	struct nd_dist *d = f->d;
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	struct relay *r = calloc(1, sizeof(*r));
	struct epoll_event ev;
	int cpu = -1, side;
	socklen_t len = sizeof(cpu);

	ADD(f->accepted, 1);
	if (!getsockopt(cfd, SOL_SOCKET, SO_INCOMING_CPU, &cpu, &len) &&
	    cpu == f->cpu)
		ADD(f->local, 1);
	if (!r)
		goto refuse;
	r->f = f;
	r->fd[0] = cfd;
	r->back = pick(d);
	if (r->back < 0)
		goto refuse;
	r->dir[0].buf = malloc(d->buf);
	r->dir[1].buf = malloc(d->buf);
	r->fd[1] = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	memcpy(un.sun_path, d->back[r->back].path, sizeof(un.sun_path));
	if (!r->dir[0].buf || !r->dir[1].buf || r->fd[1] < 0 ||
	    connect(r->fd[1], (struct sockaddr *)&un, sizeof(un)))
		goto unpick;
	ADD(f->active, 1);
	for (side = 0; side < 2; side++) {
		r->end[side].r = r;
		r->end[side].side = side;
		ev.events = EPOLLIN;
		ev.data.ptr = &r->end[side];
		epoll_ctl(ep, EPOLL_CTL_ADD, r->fd[side], &ev);
	}
	return;
unpick:
	SUB(d->back[r->back].active, 1);
	if (r->fd[1] >= 0)
		close(r->fd[1]);
	free(r->dir[0].buf);
	free(r->dir[1].buf);
refuse:
	free(r);
	close(cfd);
	ADD(f->refused, 1);
}

static void *front(void *arg)
{
	struct nd_front *f = arg;
	struct epoll_event ev[64];
	int ep = epoll_create1(EPOLL_CLOEXEC), n, i;

	if (nd_pin(f->cpu))
		nd_log("service %s: front on CPU %d: %s", f->d->s->name, f->cpu,
		       strerror(errno));
	ev[0].events = EPOLLIN;
	ev[0].data.ptr = NULL;
	if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, f->lfd, &ev[0])) {
		nd_log("service %s: front on CPU %d: epoll: %s", f->d->s->name,
		       f->cpu, strerror(errno));
		return NULL;
	}
	for (;;) {
		n = epoll_wait(ep, ev, 64, -1);
		for (i = 0; i < n; i++) {
			struct endp *e = ev[i].data.ptr;
			int c;

			if (!e) {
				while ((c = accept4(f->lfd, NULL, NULL,
						    SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0)
					relay_start(f, ep, c);
				/* Shut down (nstcpd stops): relay what is left. */
				if (errno != EAGAIN && errno != EINTR &&
				    errno != ECONNABORTED)
					epoll_ctl(ep, EPOLL_CTL_DEL, f->lfd, NULL);
				continue;
			}
			if (!e->r->ended && !relay_io(e->r, e->side, ev[i].events))
				relay_events(ep, e->r);
		}
		bury(f);
	}
	return NULL;
}

/* Back end @i's AF_UNIX listening socket, at @dir/NAME.I.sock, root's only. */
static int backend_socket(struct nd_dist *d, int i, const char *dir)
{
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	struct nd_backend *b = &d->back[i];
	struct stat st;
	int fd;

	if (snprintf(b->path, sizeof(b->path), "%s/%s.%d.sock", dir,
		     d->s->name, i) >= (int)sizeof(b->path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (!lstat(b->path, &st) && S_ISSOCK(st.st_mode))
		unlink(b->path);
	memcpy(un.sun_path, b->path, sizeof(un.sun_path));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (bind(fd, (struct sockaddr *)&un, sizeof(un)) ||
	    chmod(b->path, 0600) || listen(fd, 4096)) {
		int err = errno;

		close(fd);
		errno = err;
		return -1;
	}
	return fd;
}

/*
 * Starts @s: its back ends (sockets in @rundir), then a front per CPU.
 */
int nd_distributor_start(struct nd_service *s, const char *rundir)
{
	int n = s->workers ? s->workers : s->ncpus, i, c;
	pthread_attr_t attr;
	struct nd_dist *d;

	d = calloc(1, sizeof(*d));
	if (!d)
		return -1;
	s->dist = d;
	d->s = s;
	d->buf = (size_t)s->buf_kb * 1024;
	pthread_mutex_init(&d->pick_lock, NULL);
	d->back = calloc(n, sizeof(*d->back));
	s->copies = calloc(n, sizeof(*s->copies));
	d->front = calloc(s->ncpus, sizeof(*d->front));
	if (!d->back || !s->copies || !d->front)
		return -1;
	if (mkdir(rundir, 0755) && errno != EEXIST)
		return -1;
	for (i = 0, c = 0; i < n; i++, c++) {
		while (!CPU_ISSET(c % CPU_SETSIZE, &s->cpus))
			c++;
		s->copies[i].cpu = c % CPU_SETSIZE;
		s->copies[i].chan = -1;
		s->copies[i].lfd = backend_socket(d, i, rundir);
		if (s->copies[i].lfd < 0)
			return -1;
		s->ncopies++;
		s->copies[i].restart_at.tv_sec = 1;
	}
	nd_distributor_tick(s);
	for (c = 0; c < CPU_SETSIZE && c < ND_MAX_CPUS; c++) {
		struct nd_front *f;

		if (!CPU_ISSET(c, &s->cpus))
			continue;
		f = &d->front[d->nfront];
		f->d = d;
		f->cpu = c;
		f->lfd = nd_listen_socket(s);
		if (f->lfd < 0)
			return -1;
		d->nfront++;
	}
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	for (i = 0; i < d->nfront; i++) {
		pthread_t t;

		/* Non-blocking accepts: a front sleeps in epoll only. */
		if (fcntl(d->front[i].lfd, F_SETFL, O_NONBLOCK) ||
		    (errno = pthread_create(&t, &attr, front, &d->front[i]))) {
			pthread_attr_destroy(&attr);
			return -1;
		}
	}
	pthread_attr_destroy(&attr);
	return 0;
}

/* A back end exited: restarted as a monolithic copy is. */
void nd_distributor_exited(struct nd_service *s, struct nd_proc *p, int status)
{
	__atomic_store_n(&s->dist->back[p->slot].up, 0, __ATOMIC_RELAXED);
	nd_monolithic_exited(s, p, status);
}

long long nd_distributor_tick(struct nd_service *s)
{
	long long t = nd_monolithic_tick(s);
	int i;

	for (i = 0; i < s->ncopies; i++)
		__atomic_store_n(&s->dist->back[i].up, s->copies[i].pid > 0,
				 __ATOMIC_RELAXED);
	return t;
}

/* Stops the fronts accepting: their listening sockets shut down. */
void nd_distributor_quiesce(struct nd_service *s)
{
	int i;

	for (i = 0; s->dist && i < s->dist->nfront; i++)
		shutdown(s->dist->front[i].lfd, SHUT_RD);
}

/* Removes the back ends' sockets (the fronts end with nstcpd). */
void nd_distributor_stop(struct nd_service *s)
{
	int i;

	if (!s->dist)
		return;
	for (i = 0; i < s->ncopies; i++)
		unlink(s->dist->back[i].path);
}

static void add(json_object *o, const char *k, unsigned long long v)
{
	json_object_object_add(o, k, json_object_new_int64((int64_t)v));
}

/* The service's totals from its fronts' counters. */
void nd_distributor_totals(struct nd_service *s)
{
	struct nd_dist *d = s->dist;
	int i;

	s->served = 0;
	s->dropped = 0;
	s->refused = 0;
	s->given = 0;
	for (i = 0; d && i < d->nfront; i++) {
		s->served += GET(d->front[i].served);
		s->dropped += GET(d->front[i].aborted);
		s->refused += GET(d->front[i].refused);
		s->given += GET(d->front[i].accepted);
	}
}

/* The fronts as the service's "workers", and its "backends". */
void nd_distributor_json(struct nd_service *s, struct json_object *o,
			 struct json_object *ws)
{
	json_object *bs = json_object_new_array();
	struct nd_dist *d = s->dist;
	unsigned long long active = 0;
	int i;

	for (i = 0; d && i < d->nfront; i++) {
		struct nd_front *f = &d->front[i];
		json_object *w = json_object_new_object();

		add(w, "cpu", f->cpu);
		add(w, "accepted", GET(f->accepted));
		add(w, "active", GET(f->active));
		add(w, "served", GET(f->served));
		add(w, "aborted", GET(f->aborted));
		add(w, "refused", GET(f->refused));
		add(w, "local", GET(f->local));
		add(w, "hops", GET(f->accepted) - GET(f->local));
		add(w, "bytes_in", GET(f->bytes_in));
		add(w, "bytes_out", GET(f->bytes_out));
		json_object_array_add(ws, w);
		active += GET(f->active);
	}
	for (i = 0; d && i < s->ncopies; i++) {
		json_object *b = json_object_new_object();

		add(b, "backend", i);
		add(b, "cpu", s->copies[i].cpu);
		add(b, "pid", s->copies[i].pid);
		add(b, "active", GET(d->back[i].active));
		add(b, "served", GET(d->back[i].served));
		json_object_array_add(bs, b);
	}
	json_object_object_add(o, "backends", bs);
	json_object_object_add(o, "relaying", json_object_new_int64(active));
}
