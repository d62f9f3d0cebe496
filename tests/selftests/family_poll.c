// SPDX-License-Identifier: GPL-2.0
/*
 * Selftest: readiness of AF_NSTCP sockets through poll, select and epoll,
 * level- and edge-triggered: data arrival and draining, EPOLLRDHUP and
 * EPOLLHUP on shutdown, EPOLLOUT on connect completion and when send space
 * returns, errors of a refused connect, SO_RCVLOWAT, POLLPRI for urgent data,
 * EPOLLONESHOT, and listeners readable on a pending connection.
 */
#include <sys/epoll.h>
#include <sys/select.h>

#include "family_util.h"

#define NCASES 43

static int pair4(int *c, int *s)
{
	if (fam_pair("127.0.0.1", c, s)) {
		tap_ok(0, "a connected IPv4 pair");
		return -1;
	}
	return 0;
}

/* Mask of pending revents right now. */
static int now(int fd, short events)
{
	return fam_wait(fd, events, 0);
}

/* epoll_wait for up to ms; returns the number of events, *ev the first. */
static int ewait(int ep, uint32_t *ev, int ms)
{
	struct epoll_event e[4];
	int n = epoll_wait(ep, e, 4, ms);

	*ev = n > 0 ? e[0].events : 0;
	return n;
}

/*
 * Level-triggered: wait until every bit of @want is reported together.  TCP
 * sets sk_err before it moves the socket to CLOSE (tcp_reset()), so a wake-up
 * in between can see EPOLLERR alone for a moment, on AF_INET as on AF_NSTCP.
 */
static int ewait_all(int ep, uint32_t *ev, uint32_t want, int ms)
{
	int n, waited = 0;

	for (;;) {
		n = ewait(ep, ev, ms - waited);
		if (n != 1 || (*ev & want) == want || waited >= ms)
			return n;
		usleep(1000);
		waited++;
	}
}

static int selectable(int fd, int write, int ms)
{
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = ms % 1000 * 1000 };
	fd_set set;

	FD_ZERO(&set);
	FD_SET(fd, &set);
	if (select(fd + 1, write ? NULL : &set, write ? &set : NULL, NULL,
		   &tv) != 1)
		return 0;
	return FD_ISSET(fd, &set);
}

static void test_poll_select(void)
{
	int fd = fam_socket(AF_NSTCP, 0), v6 = fam_socket(AF_INET6, 0);
	int c, s, m, m6;
	char buf[64];

	m = now(fd, POLLIN | POLLOUT | POLLPRI | POLLRDHUP);
	m6 = now(v6, POLLIN | POLLOUT | POLLPRI | POLLRDHUP);
	FAM_OK(m == (POLLOUT | POLLHUP) && m == m6,
	       "a fresh socket polls POLLOUT|POLLHUP, as AF_INET6 (%#x, %#x)", m, m6);
	fam_close(&fd);
	fam_close(&v6);

	if (pair4(&c, &s))
		return;
	m = now(s, POLLIN | POLLOUT | POLLRDHUP);
	FAM_OK(m == POLLOUT, "a connected socket polls POLLOUT only (%#x)", m);
	send(c, "hello", 5, 0);
	m = fam_wait(s, POLLIN, FAM_TIMEOUT_MS);
	FAM_OK(m == POLLIN, "poll reports POLLIN once data arrived (%#x)", m);
	m = now(s, POLLIN);
	FAM_OK(m == POLLIN, "... and keeps reporting it until read (%#x)", m);
	recv(s, buf, sizeof(buf), 0);
	m = now(s, POLLIN);
	FAM_OK(m == 0, "no POLLIN once drained (%#x)", m);

	FAM_OK(!selectable(s, 0, 0) && selectable(s, 1, 0),
	       "select: writable, not readable, with nothing queued");
	send(s, "x", 1, 0);
	FAM_OK(selectable(c, 0, FAM_TIMEOUT_MS), "select: readable once data arrived");
	recv(c, buf, sizeof(buf), 0);
	FAM_OK(!selectable(c, 0, 0), "select: not readable once drained");

	/* Urgent data raises POLLPRI. */
	send(c, "u", 1, MSG_OOB);
	m = fam_wait(s, POLLPRI, FAM_TIMEOUT_MS);
	FAM_OK(m & POLLPRI, "urgent data raises POLLPRI (%#x)", m);
	recv(s, buf, 1, MSG_OOB);

	/* SO_RCVLOWAT holds POLLIN back until that much is queued. */
	FAM_OK(!fam_setint(s, SOL_SOCKET, SO_RCVLOWAT, 10),
	       "SO_RCVLOWAT 10 is accepted");
	send(c, "12345", 5, 0);
	m = fam_wait(s, POLLIN, FAM_QUIET_MS);
	FAM_OK(m == 0, "5 bytes under SO_RCVLOWAT 10: no POLLIN (%#x)", m);
	send(c, "67890", 5, 0);
	m = fam_wait(s, POLLIN, FAM_TIMEOUT_MS);
	FAM_OK(m == POLLIN, "10 bytes: POLLIN (%#x)", m);
	fam_close(&c);
	fam_close(&s);
}

static void test_epoll_lt_et(const char *ip)
{
	int c, s, ep, n, bad = 0;
	uint32_t ev;
	char buf[16];

	if (fam_pair(ip, &c, &s)) {
		for (int i = 0; i < 5; i++)
			tap_ok(0, "%s pair for epoll", ip);
		return;
	}
	/* Level-triggered: reported on every wait while data remains. */
	ep = fam_epoll_for(s, EPOLLIN);
	n = ewait(ep, &ev, 0);
	FAM_OK(ep >= 0 && n == 0, "%s epoll LT: nothing before data (%d)", ip, n);
	send(c, "ab", 2, 0);
	n = ewait(ep, &ev, FAM_TIMEOUT_MS);
	FAM_OK(n == 1 && ev == EPOLLIN, "%s epoll LT: EPOLLIN on arrival (%d, %#x)",
	       ip, n, ev);
	n = ewait(ep, &ev, 0);
	FAM_OK(n == 1 && ev == EPOLLIN,
	       "%s epoll LT: EPOLLIN again while unread (%d, %#x)", ip, n, ev);
	recv(s, buf, sizeof(buf), 0);
	fam_close(&ep);

	/* Edge-triggered: exactly one event per arrival, unread or not. */
	ep = fam_epoll_for(s, EPOLLIN | EPOLLET);
	for (int i = 0; i < 4; i++) {
		uint32_t e2;
		int n2;

		send(c, "z", 1, 0);
		n = ewait(ep, &ev, FAM_TIMEOUT_MS);
		n2 = ewait(ep, &e2, i == 3 ? FAM_QUIET_MS : 30);
		if (n != 1 || ev != EPOLLIN || n2 != 0) {
			tap_diag("arrival %d: %d event(s) %#x, then %d more", i, n,
				 ev, n2);
			bad++;
		}
	}
	FAM_OK(!bad, "%s epoll ET: one EPOLLIN per arrival, none in between (4 arrivals)",
	       ip);
	n = recv(s, buf, sizeof(buf), MSG_DONTWAIT);
	FAM_OK(n == 4, "%s epoll ET: the 4 bytes were all queued (%d)", ip, n);
	fam_close(&ep);
	fam_close(&c);
	fam_close(&s);
}

static void test_hup(void)
{
	int c, s, ep, n, m;
	uint32_t ev;
	char buf[8];

	if (pair4(&c, &s))
		return;
	ep = fam_epoll_for(s, EPOLLIN | EPOLLRDHUP | EPOLLET);
	shutdown(c, SHUT_WR);
	n = ewait(ep, &ev, FAM_TIMEOUT_MS);
	FAM_OK(n == 1 && ev == (EPOLLIN | EPOLLRDHUP),
	       "peer SHUT_WR: EPOLLIN|EPOLLRDHUP, no EPOLLHUP (%d, %#x)", n, ev);
	m = now(s, POLLIN | POLLRDHUP | POLLOUT);
	FAM_OK(m == (POLLIN | POLLRDHUP | POLLOUT),
	       "poll: POLLIN|POLLRDHUP and still POLLOUT (%#x)", m);
	FAM_OK(recv(s, buf, sizeof(buf), 0) == 0, "and recv gives EOF");
	shutdown(s, SHUT_WR);
	n = ewait(ep, &ev, FAM_TIMEOUT_MS);
	FAM_OK(n == 1 && (ev & EPOLLHUP),
	       "both directions shut: EPOLLHUP (%d, %#x)", n, ev);
	m = fam_wait(c, POLLIN, FAM_TIMEOUT_MS);
	FAM_OK(m == (POLLIN | POLLHUP), "the other end polls POLLIN|POLLHUP (%#x)", m);
	fam_close(&ep);
	fam_close(&c);
	fam_close(&s);
}

static void test_connect_events(void)
{
	int l, port, c, s, ep, n, err = -1;
	struct fam_addr a;
	uint32_t ev;

	l = fam_listen(AF_NSTCP, "127.0.0.1", 0, &port);
	FAM_OK(l >= 0 && now(l, POLLIN) == 0 && !selectable(l, 0, 0),
	       "an idle listener is not readable (poll, select)");
	ep = fam_epoll_for(l, EPOLLIN);
	c = fam_socket(AF_NSTCP, SOCK_NONBLOCK);
	{
		int ec = fam_epoll_for(c, EPOLLOUT | EPOLLET);

		a = fam_addr("127.0.0.1", port);
		n = FAM_ERR(connect(c, &a.sa, a.len));
		FAM_OK(n == EINPROGRESS, "non-blocking connect: EINPROGRESS (%d)", n);
		n = ewait(ec, &ev, FAM_TIMEOUT_MS);
		FAM_OK(n == 1 && ev == EPOLLOUT &&
		       !fam_getint(c, SOL_SOCKET, SO_ERROR, &err) && !err,
		       "epoll: EPOLLOUT when the connect completes, no error (%d, %#x, %d)",
		       n, ev, err);
		fam_close(&ec);
	}
	n = ewait(ep, &ev, FAM_TIMEOUT_MS);
	FAM_OK(n == 1 && ev == EPOLLIN, "epoll: the listener has EPOLLIN (%d, %#x)",
	       n, ev);
	FAM_OK(now(l, POLLIN) == POLLIN && selectable(l, 0, 0),
	       "the listener is readable with a connection pending (poll, select)");
	s = accept(l, NULL, NULL);
	n = ewait(ep, &ev, 0);
	FAM_OK(s >= 0 && n == 0 && now(l, POLLIN) == 0,
	       "after accept the listener is idle again (%d)", n);
	fam_close(&s);
	fam_close(&c);
	fam_close(&ep);
	fam_close(&l);

	/*
	 * A refused connect: EPOLLERR|EPOLLHUP and the error, on AF_INET6
	 * in the same run.
	 */
	for (int i = 0; i < 2; i++) {
		int dom = i ? AF_NSTCP : AF_INET6;

		l = fam_socket(dom, 0);
		a = fam_addr("::1", 0);
		bind(l, &a.sa, a.len);
		fam_set_port(&a, fam_local_port(l));
		c = fam_socket(dom, SOCK_NONBLOCK);
		ep = fam_epoll_for(c, EPOLLOUT | EPOLLIN);
		n = FAM_ERR(connect(c, &a.sa, a.len));
		FAM_OK(n == EINPROGRESS,
		       "%s: non-blocking connect to a port nobody listens on: EINPROGRESS (%d)",
		       i ? "AF_NSTCP" : "AF_INET6", n);
		n = ewait_all(ep, &ev, EPOLLERR | EPOLLHUP, FAM_TIMEOUT_MS);
		err = -1;
		fam_getint(c, SOL_SOCKET, SO_ERROR, &err);
		FAM_OK(n == 1 &&
		       (ev & (EPOLLERR | EPOLLHUP)) == (EPOLLERR | EPOLLHUP) &&
		       err == ECONNREFUSED,
		       "%s: refused connect: EPOLLERR|EPOLLHUP, SO_ERROR ECONNREFUSED (%d, %#x, %d)",
		       i ? "AF_NSTCP" : "AF_INET6", n, ev, err);
		fam_close(&ep);
		fam_close(&c);
		fam_close(&l);
	}
}

/* Send space: EPOLLOUT goes when the connection is full, comes back drained. */
static void test_writable(void)
{
	int l, port, c, s, ep, n, buf4k = 4096, m;
	char buf[2048];
	ssize_t total = 0, got = 0, r;
	uint32_t ev;
	struct fam_addr a;

	/*
	 * The receiver keeps its default buffer: a 4 KiB one (which the
	 * listener would now pass on) lets window probes free send space
	 * now and then on 6.12, as on AF_INET.
	 */
	l = fam_socket(AF_NSTCP, 0);
	a = fam_addr("127.0.0.1", 0);
	bind(l, &a.sa, a.len);
	listen(l, 1);
	port = fam_local_port(l);
	c = fam_socket(AF_NSTCP, 0);
	setsockopt(c, SOL_SOCKET, SO_SNDBUF, &buf4k, sizeof(buf4k));
	fam_set_port(&a, port);
	connect(c, &a.sa, a.len);
	s = fam_accept(l, NULL);
	fam_close(&l);
	memset(buf, 'w', sizeof(buf));
	/* Fill until full, and still full after late (delayed) ACKs. */
	for (int round = 0; round < 20 && total < (1 << 24); round++) {
		while ((r = send(c, buf, sizeof(buf), MSG_DONTWAIT)) > 0 &&
		       total < (1 << 24))
			total += r;
		usleep(50000);
		if (!now(c, POLLOUT))
			break;
	}
	m = now(c, POLLOUT);
	FAM_OK(s >= 0 && r < 0 && errno == EAGAIN && m == 0,
	       "a full connection is not writable (%zd bytes queued, %#x)", total, m);
	ep = fam_epoll_for(c, EPOLLOUT | EPOLLET);
	n = ewait(ep, &ev, FAM_QUIET_MS);
	FAM_OK(n == 0, "epoll ET: no EPOLLOUT while full (%d)", n);
	while (got < total && (r = recv(s, buf, sizeof(buf), 0)) > 0)
		got += r;
	n = ewait(ep, &ev, FAM_TIMEOUT_MS);
	FAM_OK(got == total && n == 1 && ev == EPOLLOUT,
	       "epoll ET: EPOLLOUT once the peer drained it (%d, %#x)", n, ev);
	fam_close(&ep);
	fam_close(&c);
	fam_close(&s);
}

static void test_oneshot(void)
{
	struct epoll_event e = { .events = EPOLLIN | EPOLLONESHOT };
	int c, s, ep, n, n2;
	uint32_t ev;
	char buf[8];

	if (pair4(&c, &s))
		return;
	ep = fam_epoll_for(s, EPOLLIN | EPOLLONESHOT);
	send(c, "1", 1, 0);
	n = ewait(ep, &ev, FAM_TIMEOUT_MS);
	send(c, "2", 1, 0);
	n2 = ewait(ep, &ev, FAM_QUIET_MS);
	FAM_OK(n == 1 && n2 == 0, "EPOLLONESHOT: one event, then none (%d, %d)",
	       n, n2);
	e.data.fd = s;
	epoll_ctl(ep, EPOLL_CTL_MOD, s, &e);
	n = ewait(ep, &ev, FAM_TIMEOUT_MS);
	FAM_OK(n == 1 && ev == EPOLLIN && recv(s, buf, sizeof(buf), 0) == 2,
	       "EPOLLONESHOT: rearmed, the pending data is reported (%d)", n);
	fam_close(&ep);
	fam_close(&c);
	fam_close(&s);
}

/* One epoll set watching many AF_NSTCP sockets at once. */
static void test_many(void)
{
	enum { N = 16 };
	int c[N], s[N], ep = epoll_create1(0), ok = 0, seen = 0, bad = 0;
	struct epoll_event e[N];
	char b;

	for (int i = 0; i < N; i++) {
		if (fam_pair(i & 1 ? "::1" : "127.0.0.1", &c[i], &s[i]))
			continue;
		e[0] = (struct epoll_event){ .events = EPOLLIN, .data.u32 = i };
		if (!epoll_ctl(ep, EPOLL_CTL_ADD, s[i], &e[0]))
			ok++;
	}
	/* Data on the odd ones only. */
	for (int i = 1; i < N; i += 2)
		if (c[i] >= 0)
			send(c[i], "d", 1, 0);
	for (int tries = 0; tries < 50 && seen < N / 2; tries++) {
		int n = epoll_wait(ep, e, N, 100);

		seen = 0;
		for (int k = 0; k < n; k++) {
			if (e[k].data.u32 % 2 == 0)
				bad++;
			else
				seen++;
		}
	}
	for (int i = 0; i < N; i++) {
		if (i & 1 && s[i] >= 0 && recv(s[i], &b, 1, 0) != 1)
			bad++;
		fam_close(&c[i]);
		fam_close(&s[i]);
	}
	fam_close(&ep);
	FAM_OK(ok == N && seen == N / 2 && !bad,
	       "one epoll set over %d sockets reports exactly the %d with data (%d, %d)",
	       N, N / 2, seen, bad);
}

int main(void)
{
	fam_start(NCASES, 50);
	test_poll_select();
	test_epoll_lt_et("127.0.0.1");
	test_epoll_lt_et("::1");
	test_hup();
	test_connect_events();
	test_writable();
	test_oneshot();
	test_many();
	return fam_finish();
}
