// SPDX-License-Identifier: GPL-2.0
/*
 * Selftest: sharing a port between AF_NSTCP listening sockets.  Sockets
 * with the same NSTCP_SHARE_KEY share it; a different key, no key, or a
 * plain socket (SO_REUSEPORT or not, IPv4 or IPv6) gets EADDRINUSE; without
 * a key the first listener owns the port.  The roundrobin policy gives N
 * connections over K members exactly N/K each; the least policy stops
 * giving connections to a member that does not accept them.  Runs in a
 * network namespace of its own, on loopback.
 */
#include "listen_util.h"

#define NCASES		34
#define RR_K		3
#define RR_N		30
#define LEAST_N		30
#define STALL_MS	2000	/* no serve within this: the stalled member's */

static int ncpus;

/* A plain socket of family domain with SO_REUSEADDR and SO_REUSEPORT. */
static int plain_bind(int domain, const char *ip, int port)
{
	struct fam_addr a = fam_addr(ip, port);
	int fd = socket(domain, SOCK_STREAM, 0), one = 1, e;

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	if (bind(fd, &a.sa, a.len)) {
		e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* An AF_NSTCP socket with key (or none) bound to ip:port; fd or -1. */
static int nstcp_bind(const char *key, const char *ip, int port, int reuse)
{
	struct fam_addr a = fam_addr(ip, port);
	int fd = fam_socket(AF_NSTCP, 0), e;

	if (fd < 0)
		return -1;
	if (reuse) {
		fam_setint(fd, SOL_SOCKET, SO_REUSEADDR, 1);
		fam_setint(fd, SOL_SOCKET, SO_REUSEPORT, 1);
	}
	if ((key && lst_set_key(fd, key)) || bind(fd, &a.sa, a.len)) {
		e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* Expects bind of a socket so made to fail with EADDRINUSE. */
static void expect_inuse(int fd_or_err, const char *what, int port)
{
	int e = errno;

	if (fd_or_err >= 0)
		close(fd_or_err);
	FAM_OK(fd_or_err < 0 && e == EADDRINUSE, "%s on port %d: EADDRINUSE (%s)",
	       what, port, fd_or_err < 0 ? strerror(e) : "bound");
}

static void expect_bound(int fd_or_err, const char *what, int port)
{
	int e = errno;

	if (fd_or_err >= 0)
		close(fd_or_err);
	FAM_OK(fd_or_err >= 0, "%s on port %d: bound (%s)", what, port,
	       fd_or_err < 0 ? strerror(e) : "ok");
}

static void test_keys(void)
{
	int a, b, x, port, port2, n, fd, cfd, afd, res[2];
	struct lst_port st;
	char key[NSTCP_KEY_MAX];
	socklen_t len = sizeof(key);

	a = lst_member(LST_IP, 0, "k1", 0, &port);
	b = lst_member(LST_IP, port, "k1", 0, NULL);
	lst_proc(port, &st);
	FAM_OK(a >= 0 && b >= 0 && fam_local_port(b) == port &&
	       st.rows > 0 && st.listeners == 2 && !strcmp(st.key, "k1"),
	       "two sockets with key k1 listen on port %d (/proc: %d rows, %d listeners, key %s)",
	       port, st.rows, st.listeners, st.key);
	FAM_OK(!getsockopt(b, SOL_NSTCP, NSTCP_SHARE_KEY, key, &len) &&
	       len == 2 && !memcmp(key, "k1", 2), "the key reads back");
	expect_inuse(nstcp_bind("k2", LST_IP, port, 0), "bind with key k2", port);
	expect_inuse(nstcp_bind("K1", LST_IP, port, 0), "bind with key K1 (case differs)", port);
	expect_inuse(nstcp_bind("k1x", LST_IP, port, 0), "bind with key k1x (longer)", port);
	expect_inuse(nstcp_bind(NULL, LST_IP, port, 1), "keyless AF_NSTCP bind", port);
	/*
	 * A keyed port follows SO_REUSEPORT's rule: a socket of the owner's
	 * uid with SO_REUSEPORT binds beside it, as beside an AF_INET
	 * SO_REUSEPORT listener (other uids: listen_privilege).
	 */
	expect_bound(plain_bind(AF_INET, LST_IP, port), "AF_INET SO_REUSEPORT bind of the owner's uid", port);
	expect_bound(plain_bind(AF_INET6, "::ffff:127.0.0.1", port),
		     "AF_INET6 SO_REUSEPORT bind of the owner's uid to ::ffff:127.0.0.1", port);

	/* Both members get connections (default policy cpu). */
	cfd = lst_connect(LST_IP, port, FAM_TIMEOUT_MS);
	afd = fam_accept(b, NULL);
	FAM_OK(cfd >= 0 && afd >= 0, "the second member accepts a connection");
	fam_close(&afd);
	fam_close(&cfd);
	cfd = lst_connect(LST_IP, port, FAM_TIMEOUT_MS);
	afd = fam_accept(a, NULL);
	FAM_OK(cfd >= 0 && afd >= 0, "the first member accepts a connection");
	fam_close(&afd);
	fam_close(&cfd);

	/* The creator leaves: the port stays, and sharers may still join. */
	fam_close(&a);
	x = lst_member(LST_IP, port, "k1", 0, NULL);
	cfd = lst_connect(LST_IP, port, FAM_TIMEOUT_MS);
	afd = fam_accept(x, NULL);
	lst_proc(port, &st);
	FAM_OK(x >= 0 && afd >= 0 && st.listeners == 2,
	       "after the first member closes a new one joins and accepts (%d listeners)",
	       st.listeners);
	fam_close(&afd);
	fam_close(&cfd);
	expect_inuse(nstcp_bind(NULL, LST_IP, port, 0),
		     "keyless AF_NSTCP bind after the creator left", port);
	expect_bound(plain_bind(AF_INET, LST_IP, port),
		     "AF_INET SO_REUSEPORT bind of the owner's uid after the creator left", port);
	fam_close(&x);
	fam_close(&b);
	n = lst_proc(port, &st);
	x = plain_bind(AF_INET, LST_IP, port);
	fd = x < 0 ? errno : 0;
	fam_close(&x);
	FAM_OK(n == 0 && fd == 0,
	       "after the last member the port is gone and free (%d rows, bind: %s)",
	       n, strerror(fd));

	/* Keyless: the first listener owns the port. */
	a = lst_member(LST_IP, 0, NULL, 0, &port2);
	lst_proc(port2, &st);
	FAM_OK(a >= 0 && st.rows > 0 && !strcmp(st.key, "-") && st.listeners == 1,
	       "a keyless listener owns port %d (/proc key %s)", port2, st.key);
	expect_inuse(nstcp_bind(NULL, LST_IP, port2, 0),
		     "second keyless AF_NSTCP bind", port2);
	expect_inuse(nstcp_bind(NULL, LST_IP, port2, 1),
		     "second keyless AF_NSTCP bind with SO_REUSEADDR|SO_REUSEPORT", port2);
	expect_inuse(nstcp_bind("k1", LST_IP, port2, 0),
		     "keyed AF_NSTCP bind to a keyless port", port2);
	expect_inuse(plain_bind(AF_INET, LST_IP, port2),
		     "AF_INET SO_REUSEPORT bind to a keyless port", port2);
	expect_inuse(plain_bind(AF_INET6, "::", port2),
		     "AF_INET6 SO_REUSEPORT bind to a keyless port", port2);
	fam_close(&a);

	/* Keyed sockets may bind before the port's first listen. */
	a = nstcp_bind("early", LST_IP, 0, 0);
	port = a >= 0 ? fam_local_port(a) : 0;
	b = nstcp_bind("early", LST_IP, port, 0);
	FAM_OK(a >= 0 && b >= 0, "two sockets with a key bind port %d before listen()",
	       port);
	/* Before any listen() there is no key to check against yet. */
	fd = nstcp_bind("late", LST_IP, port, 0);
	n = fd < 0 ? errno : 0;
	FAM_OK(!listen(a, 16) && !listen(b, 16) && lst_proc(port, &st) > 0 &&
	       st.listeners == 2, "and both listen, as members (%d)", st.listeners);
	if (fd >= 0 && !n)
		n = listen(fd, 16) ? errno : 0;
	FAM_OK(n == EADDRINUSE,
	       "a socket with another key cannot become a member (%s at %s)",
	       strerror(n), fd < 0 ? "bind" : "listen");
	fam_close(&fd);
	fam_close(&a);
	fam_close(&b);

	/*
	 * Beside a plain AF_INET SO_REUSEPORT listener of its uid, AF_NSTCP
	 * with SO_REUSEPORT binds, as a dual-stack AF_INET6 socket does, but
	 * its listen() fails EADDRINUSE: its AF_INET per-CPU listeners would
	 * join the plain listener's reuseport group (listen_family compares
	 * AF_INET), and AF_INET6 ones beside it would get no IPv4
	 * connection.  The plain listener keeps accepting.
	 */
	x = fam_socket(AF_INET, 0);
	{
		struct fam_addr ad = fam_addr(LST_IP, 0);

		fam_setint(x, SOL_SOCKET, SO_REUSEPORT, 1);
		if (bind(x, &ad.sa, ad.len) || listen(x, 16))
			tap_diag("plain listener: %s", strerror(errno));
		port = fam_local_port(x);
	}
	for (int f = 0; f < 2; f++) {
		int dom = f ? AF_NSTCP : AF_INET6;
		struct fam_addr ad = fam_addr(f ? LST_IP : "::ffff:127.0.0.1",
					      port);

		fd = fam_socket(dom, 0);
		fam_setint(fd, SOL_SOCKET, SO_REUSEPORT, 1);
		res[f] = bind(fd, &ad.sa, ad.len) ? errno :
			 listen(fd, 16) ? errno : 0;
		fam_close(&fd);
	}
	cfd = lst_connect(LST_IP, port, FAM_TIMEOUT_MS);
	afd = fam_accept(x, NULL);
	FAM_OK(res[1] == EADDRINUSE && res[0] == 0 && afd >= 0,
	       "beside a plain reuseport listener, AF_NSTCP with SO_REUSEPORT fails listen() EADDRINUSE (%s; a v4-mapped AF_INET6 one listens: %s), and the plain one still accepts",
	       strerror(res[1]), strerror(res[0]));
	fam_close(&afd);
	fam_close(&cfd);
	fam_close(&x);
}

/* Connections i = cpu, cpu + step, ... from a thread pinned to cpu. */
struct burst {
	pthread_t tid;
	int port, cpu, step;
	int *cfd;
};

static void *burst_main(void *arg)
{
	struct burst *b = arg;

	lst_pin(b->cpu);
	for (int i = b->cpu; i < RR_N; i += b->step) {
		b->cfd[i] = lst_connect(LST_IP, b->port, FAM_TIMEOUT_MS);
		if (b->cfd[i] >= 0 && lst_request(b->cfd[i]))
			fam_close(&b->cfd[i]);
	}
	return NULL;
}

static void test_roundrobin(void)
{
	struct lst_acceptor ac[RR_K];
	struct burst burst[LST_MAXCPU];
	int lfd[RR_K], cfd[RR_N], port = 0, ok = 1, pol = 1, served = 0, fails = 0;
	struct lst_port st;

	for (int k = 0; k < RR_K; k++) {
		lfd[k] = lst_member(LST_IP, port, "rr",
				    k ? 0 : NSTCP_POLICY_ROUNDROBIN, &port);
		ok &= lfd[k] >= 0;
	}
	for (int k = 0; k < RR_K; k++)
		pol &= lst_policy(lfd[k]) == NSTCP_POLICY_ROUNDROBIN;
	lst_proc(port, &st);
	FAM_OK(ok && pol && st.listeners == RR_K && !strcmp(st.policy, "roundrobin"),
	       "%d members share port %d under roundrobin (/proc: %s, %d listeners)",
	       RR_K, port, st.policy, st.listeners);
	if (!ok) {
		for (int k = 0; k < RR_K; k++)
			fam_close(&lfd[k]);
		for (int i = 0; i < 4; i++)
			tap_ok(0, "roundrobin");
		return;
	}
	for (int k = 0; k < RR_K; k++)
		lst_acceptor_start(&ac[k], lfd[k], k % ncpus, NULL);

	/* A burst: N connections from a thread per CPU, all at once. */
	for (int t = 0; t < ncpus && t < RR_N; t++) {
		burst[t] = (struct burst){ .port = port, .cpu = t, .step = ncpus,
					   .cfd = cfd };
		pthread_create(&burst[t].tid, NULL, burst_main, &burst[t]);
	}
	for (int t = 0; t < ncpus && t < RR_N; t++)
		pthread_join(burst[t].tid, NULL);
	for (int i = 0; i < RR_N; i++) {
		if (cfd[i] >= 0 && !lst_reply(cfd[i]))
			served++;
		else
			fails++;
		fam_close(&cfd[i]);
	}
	FAM_OK(served == RR_N && !fails, "all %d connections served (%d, %d failed)",
	       RR_N, served, fails);
	lst_sleep_ms(100);
	ok = 1;
	for (int k = 0; k < RR_K; k++)
		ok &= atomic_load(&ac[k].served) == RR_N / RR_K;
	FAM_OK(ok, "roundrobin, %d at once from %d CPUs: each member accepted exactly %d (%d, %d, %d)",
	       RR_N, ncpus, RR_N / RR_K, atomic_load(&ac[0].served),
	       atomic_load(&ac[1].served), atomic_load(&ac[2].served));

	/* Then one at a time, from every CPU in turn. */
	fails = 0;
	for (int i = 0; i < RR_N; i++) {
		lst_pin(i % ncpus);
		fails += !!lst_exchange(LST_IP, port, FAM_TIMEOUT_MS, NULL);
	}
	lst_unpin();
	lst_sleep_ms(100);
	ok = !fails;
	for (int k = 0; k < RR_K; k++)
		ok &= atomic_load(&ac[k].served) == 2 * RR_N / RR_K;
	FAM_OK(ok, "roundrobin, %d more one at a time: each member accepted exactly %d in all (%d, %d, %d; %d failed)",
	       RR_N, 2 * RR_N / RR_K, atomic_load(&ac[0].served),
	       atomic_load(&ac[1].served), atomic_load(&ac[2].served), fails);
	for (int k = 0; k < RR_K; k++)
		lst_acceptor_stop(&ac[k]);
	lst_proc(port, &st);
	FAM_OK(st.sum_accepted == 2 * RR_N && st.sum_queued == 0,
	       "/proc counts %ld accepted, %ld queued", st.sum_accepted,
	       st.sum_queued);
	for (int k = 0; k < RR_K; k++)
		fam_close(&lfd[k]);
	lst_unpin();
}

static void test_least(void)
{
	atomic_int total = 0;
	struct lst_acceptor a, b;
	int lfd[3], cfd[LEAST_N], port = 0, ok = 1, unserved = 0, extra, n;
	struct lst_port st;

	for (int i = 0; i < LEAST_N; i++)
		cfd[i] = -1;

	/* Members in order A, S, B; S never accepts. */
	for (int k = 0; k < 3; k++) {
		lfd[k] = lst_member(LST_IP, port, "least",
				    k ? 0 : NSTCP_POLICY_LEAST, &port);
		ok &= lfd[k] >= 0;
	}
	lst_proc(port, &st);
	FAM_OK(ok && st.listeners == 3 && !strcmp(st.policy, "least"),
	       "3 members share port %d under least (/proc: %s)", port, st.policy);
	if (!ok) {
		for (int k = 0; k < 3; k++)
			fam_close(&lfd[k]);
		for (int i = 0; i < 4; i++)
			tap_ok(0, "least");
		return;
	}
	lst_acceptor_start(&a, lfd[0], -1, &total);
	lst_acceptor_start(&b, lfd[2], -1, &total);

	/* One at a time: each served (and closed) before the next arrives. */
	for (int i = 0; i < LEAST_N; i++) {
		long long end;
		int before = atomic_load(&total);

		lst_pin(i % ncpus);
		cfd[i] = lst_connect(LST_IP, port, FAM_TIMEOUT_MS);
		if (cfd[i] < 0 || lst_request(cfd[i]))
			tap_diag("client %d: %s", i, strerror(errno));
		end = lst_now_ms() + STALL_MS;
		while (atomic_load(&total) == before && lst_now_ms() < end)
			lst_sleep_ms(2);
		if (atomic_load(&total) == before && ++unserved > 3)
			break;
	}
	n = atomic_load(&total);
	FAM_OK(unserved == 1 && n == LEAST_N - 1,
	       "least: after the stalled member's first connection the others got the rest (%d of %d served, %d unserved)",
	       n, LEAST_N, unserved);
	FAM_OK(atomic_load(&a.served) > 0 && atomic_load(&b.served) > 0,
	       "both accepting members got connections (%d, %d)",
	       atomic_load(&a.served), atomic_load(&b.served));
	lst_proc(port, &st);
	FAM_OK(st.sum_queued == 1, "one connection stays queued (%ld)", st.sum_queued);
	lst_acceptor_stop(&a);
	lst_acceptor_stop(&b);

	/* The stalled member's one connection is there for it, and no more. */
	n = lst_try_accept(lfd[1]);
	extra = lst_try_accept(lfd[1]);
	FAM_OK(n >= 0 && lst_peer_port(n) > 0 && extra < 0 && errno == EAGAIN,
	       "the stalled member accepts exactly its one connection (then %s)",
	       extra < 0 ? strerror(errno) : "another");
	if (n >= 0)
		close(n);
	if (extra >= 0)
		close(extra);
	for (int i = 0; i < LEAST_N; i++)
		fam_close(&cfd[i]);
	lst_unpin();
	for (int k = 0; k < 3; k++)
		fam_close(&lfd[k]);
}

int main(void)
{
	lst_private_netns();
	ncpus = lst_ncpus();
	fam_start(NCASES, 55);
	test_keys();
	test_roundrobin();
	test_least();
	return fam_finish();
}
