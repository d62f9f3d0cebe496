// SPDX-License-Identifier: GPL-2.0
/*
 * Selftest: accept() on an AF_NSTCP listening socket (a listen group member)
 * behaves as on an AF_INET listener: blocking accept woken by a connection,
 * non-blocking accept (EAGAIN), SO_RCVTIMEO, a signal (EINTR), poll and
 * level- and edge-triggered epoll (EPOLLIN when a connection is queued),
 * accept4() flags and the peer address, shutdown(SHUT_WR) (nothing) and
 * shutdown(SHUT_RD) (pending and later accept() fail with EINVAL).  Every
 * check runs on both families and must give the same answer.  Runs in a
 * network namespace of its own.
 */
#include <sys/epoll.h>

#include "listen_util.h"

#define PER_FAMILY	22
#define NCASES		(2 * PER_FAMILY + 2 + 5)

static const char *fname(int family)
{
	return family == AF_NSTCP ? "AF_NSTCP" : "AF_INET";
}

static int make_listener(int family, int *port)
{
	if (family == AF_NSTCP)
		return lst_member(LST_IP, 0, NULL, 0, port);
	return fam_listen(AF_INET, LST_IP, 0, port);
}

enum { B_ACCEPT, B_EPOLL, B_POLL };

/* A thread blocked in accept(), epoll_wait() or poll(). */
struct blocked {
	pthread_t tid;
	int fd;			/* listener, or epoll descriptor */
	int mode;		/* accept, epoll_wait or poll */
	int ms;			/* epoll_wait or poll timeout */
	int ret, err;
	uint32_t events;
	long long t_done;
	atomic_int done;
	atomic_int started;
};

static void *blocked_main(void *arg)
{
	struct blocked *b = arg;

	atomic_store(&b->started, 1);
	if (b->mode == B_EPOLL) {
		struct epoll_event e = { 0 };

		b->ret = epoll_wait(b->fd, &e, 1, b->ms);
		b->events = e.events;
	} else if (b->mode == B_POLL) {
		struct pollfd p = { .fd = b->fd, .events = POLLIN };

		b->ret = poll(&p, 1, b->ms);
		b->events = p.revents;
	} else {
		b->ret = accept(b->fd, NULL, NULL);
	}
	b->err = errno;
	b->t_done = lst_now_ms();
	atomic_store(&b->done, 1);
	return NULL;
}

static int blocked_start(struct blocked *b, int fd, int mode, int ms)
{
	memset(b, 0, sizeof(*b));
	b->fd = fd;
	b->mode = mode;
	b->ms = ms;
	if (pthread_create(&b->tid, NULL, blocked_main, b))
		return -1;
	while (!atomic_load(&b->started))
		lst_sleep_ms(1);
	lst_sleep_ms(150);	/* let it block */
	return 0;
}

/* Waits up to ms for the thread; joins it if it finished.  1 if so. */
static int blocked_wait(struct blocked *b, int ms)
{
	long long end = lst_now_ms() + ms;

	while (!atomic_load(&b->done) && lst_now_ms() < end)
		lst_sleep_ms(5);
	if (!atomic_load(&b->done))
		return 0;
	pthread_join(b->tid, NULL);
	return 1;
}

static void on_signal(int sig)
{
	(void)sig;
}

static int ewait(int ep, int ms)
{
	struct epoll_event e[4];
	int n = epoll_wait(ep, e, 4, ms);

	return n > 0 ? (int)e[0].events : n;
}

static int shut_mask = -1;	/* what AF_INET's shut listener polls */

static void run(int family)
{
	const char *f = fname(family);
	int lfd, port, cfd, cfd2, afd, ep, ept, r, n, sr, fl;
	struct fam_addr peer;
	struct blocked b, b2;
	long long t0;
	struct timeval tv;

	lfd = make_listener(family, &port);
	if (lfd < 0) {
		for (int i = 0; i < PER_FAMILY; i++)
			tap_ok(0, "%s: listener", f);
		return;
	}

	/* Nothing queued. */
	fl = fcntl(lfd, F_GETFL);
	fcntl(lfd, F_SETFL, fl | O_NONBLOCK);
	TAP_ERRNO(accept(lfd, NULL, NULL), EAGAIN,
		  "%s: non-blocking accept with nothing queued is EAGAIN", f);
	fcntl(lfd, F_SETFL, fl);
	FAM_OK(fam_wait(lfd, POLLIN, 100) == 0,
	       "%s: poll sees nothing with nothing queued", f);
	ep = fam_epoll_for(lfd, EPOLLIN);
	ept = fam_epoll_for(lfd, EPOLLIN | EPOLLET);
	FAM_OK(ewait(ep, 100) == 0, "%s: epoll sees nothing with nothing queued", f);

	tv = (struct timeval){ .tv_usec = 300000 };
	setsockopt(lfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	t0 = lst_now_ms();
	errno = 0;
	r = accept(lfd, NULL, NULL);
	t0 = lst_now_ms() - t0;
	FAM_OK(r < 0 && errno == EAGAIN && t0 >= 250 && t0 < 3000,
	       "%s: accept with SO_RCVTIMEO 300 ms fails EAGAIN after %lld ms (%s)",
	       f, t0, strerror(errno));
	tv = (struct timeval){ .tv_sec = 5 };
	setsockopt(lfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));

	/* A blocked accept is woken by a connection. */
	blocked_start(&b, lfd, B_ACCEPT, 0);
	FAM_OK(!atomic_load(&b.done), "%s: accept blocks with nothing queued", f);
	cfd = lst_connect(LST_IP, port, FAM_TIMEOUT_MS);
	t0 = lst_now_ms();
	r = blocked_wait(&b, 6000);
	peer.len = sizeof(peer.ss);
	FAM_OK(r && b.ret >= 0 && b.t_done - t0 < 2000 && cfd >= 0 &&
	       !getpeername(b.ret, &peer.sa, &peer.len) &&
	       fam_port(&peer.sa) == fam_local_port(cfd),
	       "%s: a blocked accept returns the connection (%lld ms, %s)", f,
	       b.t_done - t0, r && b.ret < 0 ? strerror(b.err) : "ok");
	if (r && b.ret >= 0)
		close(b.ret);
	fam_close(&cfd);
	/* (The edge-triggered one may still hold that edge: drop it.) */
	FAM_OK(ewait(ep, 0) == 0 && ewait(ept, 0) >= 0,
	       "%s: nothing left for level-triggered epoll after the accept", f);

	/* A blocked epoll_wait is woken by a connection. */
	blocked_start(&b, ep, B_EPOLL, 5000);
	cfd = lst_connect(LST_IP, port, FAM_TIMEOUT_MS);
	t0 = lst_now_ms();
	r = blocked_wait(&b, 6000);
	FAM_OK(r && b.ret == 1 && (b.events & EPOLLIN) && b.t_done - t0 < 2000,
	       "%s: a blocked epoll_wait returns EPOLLIN (%d, %#x, %lld ms)", f,
	       b.ret, b.events, b.t_done - t0);
	FAM_OK(fam_wait(lfd, POLLIN, 0) & POLLIN,
	       "%s: poll says POLLIN with a connection queued", f);
	FAM_OK(ewait(ept, 1000) & EPOLLIN,
	       "%s: edge-triggered epoll reports the arrival", f);
	/*
	 * A connection left queued past accept_steal_delay_ms is told to
	 * the socket's pollers once more, for the other CPUs' workers
	 * (listen.rst): on AF_NSTCP one more edge may come, not a second.
	 */
	n = family == AF_NSTCP && ewait(ept, 500) > 0;
	FAM_OK(ewait(ept, 100) == 0 && (ewait(ep, 0) & EPOLLIN),
	       "%s: once per edge%s; level-triggered epoll keeps reporting it",
	       f, n ? " (and once when the steal delay ran out)" : "");

	/* accept4() flags and the peer address. */
	peer.len = sizeof(peer.ss);
	afd = accept4(lfd, &peer.sa, &peer.len, SOCK_NONBLOCK | SOCK_CLOEXEC);
	FAM_OK(afd >= 0 && (fcntl(afd, F_GETFL) & O_NONBLOCK) &&
	       (fcntl(afd, F_GETFD) & FD_CLOEXEC),
	       "%s: accept4(SOCK_NONBLOCK|SOCK_CLOEXEC) sets both on the new socket",
	       f);
	FAM_OK(fam_addr_is(&peer.sa, peer.len, LST_IP, fam_local_port(cfd)),
	       "%s: accept returns the client's address as a sockaddr_in (len %u)",
	       f, peer.len);
	fam_close(&afd);
	fam_close(&cfd);
	TAP_ERRNO(lst_try_accept(lfd), EAGAIN,
		  "%s: non-blocking accept with the queue drained is EAGAIN", f);

	/* Edge-triggered: a second arrival is a second edge. */
	cfd = lst_connect(LST_IP, port, FAM_TIMEOUT_MS);
	cfd2 = lst_connect(LST_IP, port, FAM_TIMEOUT_MS);
	r = ewait(ept, 1000);
	FAM_OK(r & EPOLLIN, "%s: edge-triggered epoll reports new arrivals (%#x)",
	       f, r);
	afd = fam_accept(lfd, NULL);
	fam_close(&afd);
	afd = fam_accept(lfd, NULL);
	FAM_OK(afd >= 0, "%s: both queued connections are accepted", f);
	fam_close(&afd);
	fam_close(&cfd);
	fam_close(&cfd2);

	/* A signal interrupts a blocked accept. */
	{
		struct sigaction sa = { .sa_handler = on_signal };

		sigaction(SIGUSR1, &sa, NULL);	/* no SA_RESTART */
		blocked_start(&b, lfd, B_ACCEPT, 0);
		for (int i = 0; i < 20 && !atomic_load(&b.done); i++) {
			pthread_kill(b.tid, SIGUSR1);
			lst_sleep_ms(100);
		}
		r = blocked_wait(&b, 6000);
		FAM_OK(r && b.ret < 0 && b.err == EINTR,
		       "%s: a signal makes a blocked accept fail EINTR (%s)", f,
		       r ? strerror(b.err) : "still blocked");
		if (r && b.ret >= 0)
			close(b.ret);
	}

	/* shutdown(SHUT_WR) changes nothing. */
	r = shutdown(lfd, SHUT_WR);
	cfd = lst_connect(LST_IP, port, FAM_TIMEOUT_MS);
	afd = fam_accept(lfd, NULL);
	FAM_OK(r == 0 && afd >= 0,
	       "%s: after shutdown(SHUT_WR) the listener still accepts", f);
	fam_close(&afd);
	fam_close(&cfd);

	/* shutdown(SHUT_RD) fails a blocked accept and later ones. */
	blocked_start(&b2, lfd, B_POLL, 5000);
	blocked_start(&b, lfd, B_ACCEPT, 0);
	t0 = lst_now_ms();
	sr = shutdown(lfd, SHUT_RD);
	r = blocked_wait(&b2, 3000);
	FAM_OK(r && b2.ret == 1 && b2.t_done - t0 < 2000,
	       "%s: shutdown(SHUT_RD) wakes a blocked poll (%d, %#x, %lld ms)",
	       f, r ? b2.ret : -1, r ? b2.events : 0,
	       r ? b2.t_done - t0 : -1LL);
	if (!r)
		blocked_wait(&b2, 6000);
	n = blocked_wait(&b, 3000);
	FAM_OK(sr == 0 && n && b.ret < 0 && b.err == EINVAL &&
	       b.t_done - t0 < 2000,
	       "%s: shutdown(SHUT_RD) makes a blocked accept fail EINVAL (%s, %lld ms)",
	       f, n ? strerror(b.err) : "still blocked", n ? b.t_done - t0 : -1LL);
	if (!n)
		n = blocked_wait(&b, 6000);
	if (n && b.ret >= 0)
		close(b.ret);
	TAP_ERRNO(accept(lfd, NULL, NULL), EINVAL,
		  "%s: accept after shutdown(SHUT_RD) is EINVAL", f);
	r = fam_wait(lfd, POLLIN | POLLOUT | POLLRDHUP, 0);
	if (family == AF_INET)
		shut_mask = r;
	FAM_OK(!(r & POLLIN) && r == shut_mask,
	       "%s: a listener shut down for reading polls %#x, not POLLIN (AF_INET: %#x)",
	       f, r, shut_mask);
	close(ep);
	close(ept);
	close(lfd);
}

/*
 * A member shut down for reading takes nothing more: poll must not claim a
 * connection it could not accept, and the port's other member gets it.
 */
static void run_shut_member(void)
{
	int a, b, port, cfd, afd, m;

	a = lst_member(LST_IP, 0, "shut", 0, &port);
	b = lst_member(LST_IP, port, "shut", 0, NULL);
	shutdown(a, SHUT_RD);
	cfd = lst_connect(LST_IP, port, FAM_TIMEOUT_MS);
	lst_wait_queued(port, 1, 2000);
	m = fam_wait(a, POLLIN, 200);
	FAM_OK(!(m & POLLIN),
	       "AF_NSTCP: a member shut down for reading does not poll POLLIN for a queued connection (%#x)",
	       m);
	afd = fam_accept(b, NULL);
	FAM_OK(afd >= 0, "AF_NSTCP: the port's other member accepts it");
	fam_close(&afd);
	fam_close(&cfd);
	close(a);
	close(b);
}

/*
 * Edge-triggered epoll and the steal delay (listen.rst, "Poll and
 * wake-ups"), made deterministic: one thread pinned to one CPU registers,
 * connects and polls there, so each connection arrives on the head it
 * polls; a delay of 200 ms in the test's namespace.  A connection left
 * queued is told once more when the delay runs out, no sooner; one
 * arriving while the queue is past its delay is told once.
 */
static void run_et_steal(void)
{
	int lfd, port, ept, cfd = -1, cfd2 = -1, cpu = sched_getcpu();
	char old[32];
	long long t0, t = 0;
	cpu_set_t all;

	sched_getaffinity(0, sizeof(all), &all);
	lst_sysctl_read("accept_steal_delay_ms", old, sizeof(old));
	if (cpu < 0 || lst_pin(cpu) ||
	    lst_sysctl_write("accept_steal_delay_ms", "200")) {
		for (int i = 0; i < 5; i++)
			tap_ok(0, "AF_NSTCP: steal delay 200 ms, pinned");
		return;
	}
	lfd = make_listener(AF_NSTCP, &port);
	ept = fam_epoll_for(lfd, EPOLLIN | EPOLLET);
	t0 = lst_now_ms();
	cfd = lst_connect(LST_IP, port, FAM_TIMEOUT_MS);
	FAM_OK(cfd >= 0 && (ewait(ept, 1000) & EPOLLIN),
	       "AF_NSTCP: pinned, edge-triggered epoll reports the arrival");
	FAM_OK(ewait(ept, 2000) > 0 && (t = lst_now_ms() - t0) >= 150,
	       "AF_NSTCP: the connection left queued is told once more when the 200 ms delay runs out (%lld ms)",
	       t);
	FAM_OK(ewait(ept, 300) == 0,
	       "AF_NSTCP: ... once: nothing more in 300 ms");
	/* The queue is past its delay: a second arrival, one edge. */
	cfd2 = lst_connect(LST_IP, port, FAM_TIMEOUT_MS);
	FAM_OK(cfd2 >= 0 && (ewait(ept, 1000) & EPOLLIN),
	       "AF_NSTCP: a connection arriving behind one past its delay is reported");
	FAM_OK(ewait(ept, 300) == 0,
	       "AF_NSTCP: ... once: nothing more in 300 ms");
	fam_close(&cfd);
	fam_close(&cfd2);
	close(ept);
	close(lfd);
	lst_sysctl_write("accept_steal_delay_ms", old[0] ? old : "20");
	sched_setaffinity(0, sizeof(all), &all);
}

int main(void)
{

	lst_private_netns();
	fam_start(NCASES, 50);
	run(AF_INET);
	run(AF_NSTCP);
	run_shut_member();
	run_et_steal();
	return fam_finish();
}
