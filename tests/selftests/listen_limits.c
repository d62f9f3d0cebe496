// SPDX-License-Identifier: GPL-2.0
/*
 * Selftest: a port's limits (NSTCP_MAX_CONNS, NSTCP_PER_SOURCE, NSTCP_CPS),
 * set on any member and enforced at accept.  A connection over a limit is reset (its client
 * reads ECONNRESET), counted in the port's lrefused, and the accept goes on
 * to the next one: a non-blocking accept returns EAGAIN when none is left,
 * a blocking one keeps waiting.  A connection stays charged while given and
 * after it is taken, until its last close; a split accept is held to the
 * same limits.  Per source: 127.0.0.1 and 127.0.0.2 counted apart, an IPv4
 * client and a v4-mapped IPv6 one of a dual-stack port as one source; a
 * socket disconnected and connected elsewhere uncharges the source it was
 * accepted from.  The refused client reads ECONNRESET, as an AF_INET
 * server's zero-linger close gives its client.  Bad option lengths and
 * values: EINVAL.  Runs in a network namespace of its own.
 */
#include <pthread.h>

#include "limit_util.h"

#define NCASES	55

static void test_badinput(void)
{
	int fd, lfd, lfd2, port, v;
	socklen_t len;
	long long big = 5;

	fd = fam_socket(AF_NSTCP, 0);
	TAP_ERRNO(fam_setint(fd, SOL_NSTCP, NSTCP_MAX_CONNS, 3), EINVAL,
		  "NSTCP_MAX_CONNS on a socket that does not listen: EINVAL");
	len = sizeof(v);
	TAP_ERRNO(getsockopt(fd, SOL_NSTCP, NSTCP_CPS, &v, &len), EINVAL,
		  "getsockopt(NSTCP_CPS) on a socket that does not listen: EINVAL");
	close(fd);

	lfd = lst_member(LST_IP, 0, "lim", 0, &port);
	TAP_ERRNO(setsockopt(lfd, SOL_NSTCP, NSTCP_MAX_CONNS, &v, 2), EINVAL,
		  "NSTCP_MAX_CONNS optlen 2: EINVAL");
	TAP_ERRNO(setsockopt(lfd, SOL_NSTCP, NSTCP_MAX_CONNS, &big, sizeof(big)),
		  EINVAL, "NSTCP_MAX_CONNS optlen 8: EINVAL");
	TAP_ERRNO(fam_setint(lfd, SOL_NSTCP, NSTCP_MAX_CONNS, -1), EINVAL,
		  "NSTCP_MAX_CONNS -1: EINVAL");
	TAP_ERRNO(fam_setint(lfd, SOL_NSTCP, NSTCP_CPS, NSTCP_LIMIT_MAX + 1),
		  EINVAL, "NSTCP_CPS NSTCP_LIMIT_MAX + 1: EINVAL");
	TAP_ERRNO(fam_setint(lfd, SOL_NSTCP, NSTCP_PER_SOURCE, INT32_MIN),
		  EINVAL, "NSTCP_PER_SOURCE INT_MIN: EINVAL");
	len = 2;
	TAP_ERRNO(getsockopt(lfd, SOL_NSTCP, NSTCP_MAX_CONNS, &v, &len), EINVAL,
		  "getsockopt(NSTCP_MAX_CONNS) optlen 2: EINVAL");

	/* Set on one member, read on another: the port's. */
	lfd2 = lst_member(LST_IP, port, "lim", 0, NULL);
	FAM_OK(!fam_setint(lfd, SOL_NSTCP, NSTCP_MAX_CONNS, NSTCP_LIMIT_MAX) &&
	       !fam_setint(lfd, SOL_NSTCP, NSTCP_CPS, 7) &&
	       !fam_getint(lfd2, SOL_NSTCP, NSTCP_MAX_CONNS, &v) &&
	       v == NSTCP_LIMIT_MAX && !fam_getint(lfd2, SOL_NSTCP, NSTCP_CPS, &v) &&
	       v == 7, "limits set on one member read back on the other");
	struct lim_row r;

	FAM_OK(!lim_read(port, &r) && r.max_conns == NSTCP_LIMIT_MAX &&
	       r.cps == 7 && r.conns == 0 && r.lrefused == 0,
	       "netlink shows them: max_conns %ld cps %ld conns %ld lrefused %ld",
	       r.max_conns, r.cps, r.conns, r.lrefused);
	FAM_OK(!fam_setint(lfd2, SOL_NSTCP, NSTCP_CPS, 0) &&
	       !fam_getint(lfd, SOL_NSTCP, NSTCP_CPS, &v) && v == 0,
	       "0 clears a limit");
	close(lfd2);
	close(lfd);

	char hdr[PROC_LINE];

	FAM_OK(!proc_read_header(PROC_NSTCP_LISTEN, hdr, sizeof(hdr)) &&
	       strstr(hdr, " max_conns cps conns lrefused per_source src_uncounted"),
	       "/proc/net/nstcp_listen has the limit columns");
}

/* max_conns 2: two held, the third reset, a fourth served after a close. */
static void test_max_conns(void)
{
	int lfd, port, c[4] = { -1, -1, -1, -1 }, a[3] = { -1, -1, -1 };

	lfd = lst_member(LST_IP, 0, NULL, 0, &port);
	FAM_OK(!fam_setint(lfd, SOL_NSTCP, NSTCP_MAX_CONNS, 2) &&
	       !clients(port, c, 3, 0), "max_conns 2, three clients queued");
	a[0] = lst_try_accept(lfd);
	a[1] = lst_try_accept(lfd);
	FAM_OK(is_peer(a[0], c[0]) && is_peer(a[1], c[1]) && lim_conns(port) == 2,
	       "two accepted and served, conns 2 (%ld)", lim_conns(port));
	errno = 0;
	a[2] = lst_try_accept(lfd);
	FAM_OK(a[2] < 0 && errno == EAGAIN,
	       "the third: non-blocking accept EAGAIN (%s)", strerror(errno));
	FAM_OK(was_reset(c[2]), "... its client reset");
	FAM_OK(lim_refused(port) == 1 && lim_conns(port) == 2,
	       "... counted refused (%ld), conns still 2", lim_refused(port));
	fam_close(&a[0]);
	FAM_OK(lim_conns(port) == 1, "a close: conns 1 (%ld)", lim_conns(port));
	FAM_OK(!clients(port, &c[3], 1, 0), "a fourth client");
	a[2] = lst_try_accept(lfd);
	FAM_OK(is_peer(a[2], c[3]) && lim_refused(port) == 1,
	       "... accepted and served, nothing more refused");
	close_all(a, 3);
	close_all(c, 4);
	FAM_OK(lim_conns(port) == 0, "all closed: conns 0 (%ld)", lim_conns(port));
	close(lfd);
}

struct later {
	int *held, port, cfd;
};

/* Frees the held connection, then connects a client. */
static void *later_main(void *arg)
{
	struct later *l = arg;

	lst_sleep_ms(300);
	fam_close(l->held);
	lst_sleep_ms(100);
	l->cfd = lst_connect(LST_IP, l->port, FAM_TIMEOUT_MS);
	return NULL;
}

/* A blocking accept skips the refused one and waits for the next. */
static void test_blocking(void)
{
	int lfd, port, held = -1, c[2] = { -1, -1 }, afd;
	struct later l = { .held = &held, .cfd = -1 };
	pthread_t t;

	lfd = lst_member(LST_IP, 0, NULL, 0, &port);
	fam_setint(lfd, SOL_NSTCP, NSTCP_MAX_CONNS, 1);
	fam_timeouts(lfd, FAM_TIMEOUT_MS);
	clients(port, c, 2, 0);
	held = accept(lfd, NULL, NULL);
	l.port = port;
	pthread_create(&t, NULL, later_main, &l);
	/* c[1] is refused at once; the accept then waits for the thread's. */
	afd = accept(lfd, NULL, NULL);
	pthread_join(t, NULL);
	FAM_OK(is_peer(afd, l.cfd), "max_conns 1: a blocking accept skips the one over the limit and gets the next");
	FAM_OK(was_reset(c[1]) && lim_refused(port) == 1,
	       "... the skipped one reset, refused %ld", lim_refused(port));
	if (afd >= 0)
		close(afd);
	fam_close(&held);
	fam_close(&l.cfd);
	close_all(c, 2);
	close(lfd);
}

/* Given, the giver closed, taken: the charge follows to the last close. */
static void test_handoff(void)
{
	int lfd, port, c[3] = { -1, -1, -1 }, afd, tfd = -1;
	uint64_t token = 0;

	lfd = lst_member(LST_IP, 0, NULL, 0, &port);
	fam_setint(lfd, SOL_NSTCP, NSTCP_MAX_CONNS, 1);
	clients(port, c, 1, 0);
	afd = lst_try_accept(lfd);
	FAM_OK(afd >= 0 && !ho_give_pid(afd, getpid(), 5000, &token),
	       "max_conns 1: accepted and given");
	close(afd);
	FAM_OK(lim_conns(port) == 1, "given, giver closed: still charged (%ld)",
	       lim_conns(port));
	clients(port, &c[1], 1, 0);
	errno = 0;
	FAM_OK(lst_try_accept(lfd) < 0 && errno == EAGAIN && was_reset(c[1]) &&
	       lim_refused(port) == 1,
	       "... so the next is reset (refused %ld)", lim_refused(port));
	tfd = ho_take_new(token);
	FAM_OK(is_peer(tfd, c[0]) && lim_conns(port) == 1,
	       "taken: served, still charged (%ld)", lim_conns(port));
	fam_close(&tfd);
	FAM_OK(lim_conns(port) == 0, "the taker's close uncharges it (%ld)",
	       lim_conns(port));
	clients(port, &c[2], 1, 0);
	afd = lst_try_accept(lfd);
	FAM_OK(is_peer(afd, c[2]), "... and the next is accepted");
	if (afd >= 0)
		close(afd);
	close_all(c, 3);
	close(lfd);
}

static int split_accept(int lfd, struct nstcp_accept_token *at)
{
	socklen_t len = sizeof(*at);

	memset(at, 0, sizeof(*at));
	at->nat_give.ng_flags = NSTCP_GIVE_PID;
	at->nat_give.ng_id = getpid();
	at->nat_give.ng_timeout_ms = 5000;
	return getsockopt(lfd, SOL_NSTCP, NSTCP_ACCEPT_TOKEN, at, &len) ?
	       errno : 0;
}

/* A split accept is held to the limits, and its connection charged. */
static void test_split(void)
{
	int lfd, port, c[3] = { -1, -1, -1 }, tfd, afd;
	struct nstcp_accept_token at, at2;

	lfd = lst_member(LST_IP, 0, NULL, 0, &port);
	fam_setint(lfd, SOL_NSTCP, NSTCP_MAX_CONNS, 1);
	fcntl(lfd, F_SETFL, O_NONBLOCK);
	clients(port, c, 2, 0);
	FAM_OK(!split_accept(lfd, &at) && lim_conns(port) == 1,
	       "max_conns 1: a split accept, charged (%ld)", lim_conns(port));
	FAM_OK(split_accept(lfd, &at2) == EAGAIN && was_reset(c[1]) &&
	       lim_refused(port) == 1,
	       "the second split accept: EAGAIN, its client reset, refused %ld",
	       lim_refused(port));
	tfd = ho_take_new(at.nat_give.ng_token);
	FAM_OK(is_peer(tfd, c[0]) && lim_conns(port) == 1,
	       "the first taken and served, still charged");
	if (tfd >= 0)
		close(tfd);
	clients(port, &c[2], 1, 0);
	afd = lst_try_accept(lfd);
	FAM_OK(is_peer(afd, c[2]) && lim_conns(port) == 1,
	       "closed: the next accepted");
	if (afd >= 0)
		close(afd);
	close_all(c, 3);
	close(lfd);
}

/* cps 3: of five at once three are served, the rest reset; a second on, more. */
static void test_cps(void)
{
	int lfd, port, c[6], a[6], served = 0, reset = 0, i;

	for (i = 0; i < 6; i++)
		c[i] = a[i] = -1;
	lfd = lst_member(LST_IP, 0, NULL, 0, &port);
	FAM_OK(!fam_setint(lfd, SOL_NSTCP, NSTCP_CPS, 3) && !clients(port, c, 5, 0),
	       "cps 3, five clients queued");
	/* The window starts at the first accept a second after the last one. */
	lst_sleep_ms(1100);
	for (i = 0; i < 5; i++)
		a[i] = lst_try_accept(lfd);
	for (i = 0; i < 5; i++)
		served += is_peer(a[i], c[i]);
	for (i = 3; i < 5; i++)
		reset += was_reset(c[i]);
	FAM_OK(served == 3 && a[3] < 0 && a[4] < 0 && reset == 2,
	       "three served in the second, two reset (%d, %d)", served, reset);
	FAM_OK(lim_refused(port) == 2 && lim_conns(port) == 0,
	       "refused 2 (%ld); cps alone counts none in service (%ld)",
	       lim_refused(port), lim_conns(port));
	lst_sleep_ms(1100);
	clients(port, &c[5], 1, 0);
	a[5] = lst_try_accept(lfd);
	FAM_OK(is_peer(a[5], c[5]), "a second later: accepted again");
	close_all(a, 6);
	close_all(c, 6);
	close(lfd);
}

/* The least policy's count and a maximum share the charge. */
static void test_least(void)
{
	int lfd, port, c[2] = { -1, -1 }, a[2] = { -1, -1 };

	lfd = lst_member(LST_IP, 0, NULL, NSTCP_POLICY_LEAST, &port);
	clients(port, c, 1, 0);
	a[0] = lst_try_accept(lfd);
	FAM_OK(lim_conns(port) == 1, "least, no limit: in service 1 (%ld)",
	       lim_conns(port));
	fam_setint(lfd, SOL_NSTCP, NSTCP_MAX_CONNS, 1);
	clients(port, &c[1], 1, 0);
	errno = 0;
	a[1] = lst_try_accept(lfd);
	FAM_OK(a[1] < 0 && errno == EAGAIN && was_reset(c[1]),
	       "max_conns 1 set later: the one accepted before counts");
	close_all(a, 2);
	FAM_OK(lim_conns(port) == 0, "closed: conns 0 (%ld)", lim_conns(port));
	close_all(c, 2);
	close(lfd);
}

/* per_source 1: one connection in service from each source. */
static void test_per_source(void)
{
	int lfd, port, c[4] = { -1, -1, -1, -1 }, a[4] = { -1, -1, -1, -1 };
	int v = 0;

	lfd = lst_member(LST_IP, 0, NULL, 0, &port);
	FAM_OK(!fam_setint(lfd, SOL_NSTCP, NSTCP_PER_SOURCE, 1) &&
	       !fam_getint(lfd, SOL_NSTCP, NSTCP_PER_SOURCE, &v) && v == 1,
	       "NSTCP_PER_SOURCE 1 set and read back");
	c[0] = connect_from("127.0.0.1", LST_IP, port);
	c[1] = connect_from("127.0.0.1", LST_IP, port);
	c[2] = connect_from("127.0.0.2", LST_IP, port);
	lst_wait_queued(port, 3, FAM_TIMEOUT_MS);
	a[0] = lst_try_accept(lfd);
	a[1] = lst_try_accept(lfd);
	errno = 0;
	a[2] = lst_try_accept(lfd);
	FAM_OK(is_peer(a[0], c[0]) && is_peer(a[1], c[2]) && a[2] < 0 &&
	       errno == EAGAIN && was_reset(c[1]) && lim_refused(port) == 1,
	       "127.0.0.1's second reset, 127.0.0.2's first served (refused %ld)",
	       lim_refused(port));
	fam_close(&a[0]);
	c[3] = connect_from("127.0.0.1", LST_IP, port);
	lst_wait_queued(port, 1, FAM_TIMEOUT_MS);
	a[2] = lst_try_accept(lfd);
	FAM_OK(is_peer(a[2], c[3]) && lim_conns(port) == 2,
	       "127.0.0.1's closed: its next served (conns %ld)", lim_conns(port));
	close_all(a, 4);
	close_all(c, 4);
	close(lfd);
}

/* On a dual-stack port, 127.0.0.1 and ::ffff:127.0.0.1 are one source. */
static void test_per_source_mapped(void)
{
	int lfd, port, c[2] = { -1, -1 }, a[2] = { -1, -1 };

	lfd = lst_member("::", 0, NULL, 0, &port);
	fam_setint(lfd, SOL_NSTCP, NSTCP_PER_SOURCE, 1);
	c[0] = connect_from("127.0.0.1", "127.0.0.1", port);
	c[1] = connect_from("::ffff:127.0.0.1", "::ffff:127.0.0.1", port);
	FAM_OK(c[0] >= 0 && c[1] >= 0 &&
	       lst_wait_queued(port, 2, FAM_TIMEOUT_MS) == 2,
	       "a dual-stack port, per_source 1: an IPv4 and a v4-mapped IPv6 client");
	FAM_OK(lim_second_reset(lfd, port, c, a) && lim_refused(port) == 1,
	       "... one source: the second reset");
	close_all(a, 2);
	close_all(c, 2);
	FAM_OK(lim_conns(port) == 0, "closed: conns 0 (%ld)", lim_conns(port));
	close(lfd);
}

static const char *end_name(int e)
{
	return e == 0 ? "EOF" : e < 0 ? "data" : strerror(e);
}

/*
 * The client of a refused connection reads what the client of an AF_INET
 * server that accepts and closes with SO_LINGER {1, 0} reads: ECONNRESET.
 */
static void test_reset_parity(void)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	int ilfd, ic = -1, ia = -1, ie = -1, ne = -1, set = 0;
	int lfd, port, c[2] = { -1, -1 }, a = -1, b;

	ilfd = lst_listen_on(AF_INET, LST_IP, 0, 8);
	if (ilfd >= 0)
		ic = lst_connect(LST_IP, fam_local_port(ilfd), FAM_TIMEOUT_MS);
	if (ic >= 0)
		ia = accept(ilfd, NULL, NULL);
	if (ia >= 0)
		set = !setsockopt(ia, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	fam_close(&ia);
	if (set)
		ie = read_end(ic);

	lfd = lst_member(LST_IP, 0, NULL, 0, &port);
	FAM_OK(!fam_setint(lfd, SOL_NSTCP, NSTCP_MAX_CONNS, 1) &&
	       !clients(port, c, 2, 0), "max_conns 1, two clients queued");
	a = lst_try_accept(lfd);
	errno = 0;
	b = lst_try_accept(lfd);
	FAM_OK(is_peer(a, c[0]) && b < 0 && errno == EAGAIN &&
	       lim_refused(port) == 1, "the second refused (%ld)",
	       lim_refused(port));
	ne = read_end(c[1]);
	FAM_OK(set && ie == ECONNRESET && ne == ie,
	       "AF_INET, accepted and closed with SO_LINGER {1,0}: its client reads %s; AF_NSTCP, refused: %s",
	       end_name(ie), end_name(ne));
	fam_close(&a);
	close_all(c, 2);
	fam_close(&ic);
	fam_close(&ilfd);
	close(lfd);
}

/*
 * per_source 1: an accepted socket disconnected (connect AF_UNSPEC) and
 * connected to another host, then closed, uncharges the source it was
 * accepted from, not its peer of the moment.
 */
static void test_per_source_reconnect(void)
{
	int lfd, port, olfd, c[4] = { -1, -1, -1, -1 }, a[4] = { -1, -1, -1, -1 };
	struct sockaddr_in un = { .sin_family = AF_UNSPEC };
	struct fam_addr d;
	int o = -1;

	lfd = lst_member(LST_IP, 0, NULL, 0, &port);
	olfd = lst_listen_on(AF_INET, "127.0.0.2", 0, 8);
	FAM_OK(olfd >= 0 && !fam_setint(lfd, SOL_NSTCP, NSTCP_PER_SOURCE, 1),
	       "per_source 1, and an AF_INET listener on 127.0.0.2");
	d = fam_addr("127.0.0.2", olfd >= 0 ? fam_local_port(olfd) : 1);
	FAM_OK(lim_two_sources(lfd, port, c, a) && lim_conns(port) == 2,
	       "127.0.0.1 and 127.0.0.2 each served, conns %ld",
	       lim_conns(port));
	errno = 0;
	FAM_OK(a[0] >= 0 && !connect(a[0], (struct sockaddr *)&un, sizeof(un)) &&
	       !connect(a[0], &d.sa, d.len) &&
	       (o = accept(olfd, NULL, NULL)) >= 0 && is_peer(o, a[0]),
	       "127.0.0.1's accepted socket disconnected and connected to 127.0.0.2 (%s)",
	       strerror(errno));
	fam_close(&a[0]);
	fam_close(&o);
	FAM_OK(lim_conns(port) == 1, "closed: conns 1 (%ld)", lim_conns(port));
	c[2] = connect_from("127.0.0.1", LST_IP, port);
	c[3] = connect_from("127.0.0.2", LST_IP, port);
	lst_wait_queued(port, 2, FAM_TIMEOUT_MS);
	a[2] = lst_try_accept(lfd);
	errno = 0;
	a[3] = lst_try_accept(lfd);
	FAM_OK(is_peer(a[2], c[2]) && a[3] < 0 && errno == EAGAIN &&
	       was_reset(c[3]),
	       "its close uncharged 127.0.0.1 (its next served), not 127.0.0.2 (its second reset)");
	close_all(a, 4);
	close_all(c, 4);
	fam_close(&olfd);
	FAM_OK(lim_conns(port) == 0, "all closed: conns 0 (%ld)", lim_conns(port));
	close(lfd);
}

int main(void)
{
	lst_private_netns();
	/* One CPU: the connections queue, and are accepted, in order. */
	lst_pin(0);
	fam_start(NCASES, 120);
	test_badinput();
	test_max_conns();
	test_blocking();
	test_handoff();
	test_split();
	test_cps();
	test_least();
	test_per_source();
	test_per_source_mapped();
	test_reset_parity();
	test_per_source_reconnect();
	return fam_finish();
}
