// SPDX-License-Identifier: GPL-2.0
/*
 * Selftest: the TCP family inside an AF_NSTCP listening port.  A socket
 * bound to an IPv4 address (127.0.0.1, ::ffff:127.0.0.1 or 0.0.0.0) gets
 * AF_INET per-CPU listeners, so the sockets it accepts are plain IPv4 TCP
 * sockets: the kernel lists the listeners and the connection in
 * /proc/net/tcp, not tcp6, and an IPPROTO_IPV6 option on the accepted
 * socket answers as on AF_INET's accepted socket (and not as on
 * AF_INET6's, compared in the same run).  Their addresses read as on
 * AF_INET.  IPv4 options set on the listener (IP_MTU_DISCOVER, IP_MINTTL)
 * reach the accepted socket as on AF_INET; a TCP_MD5SIG key given with a
 * v4-mapped peer works as on an AF_INET6 listener on ::ffff:127.0.0.1, and
 * one for an IPv6 peer neither fails the listen nor applies to IPv4.  A
 * dual-stack [::] listener stays an IPv6 one and accepts IPv4 and IPv6
 * clients.  A port a plain AF_INET listener holds refuses AF_NSTCP as it
 * refuses AF_INET (bind(), EADDRINUSE), except that where AF_INET would
 * join the holder's reuseport group (SO_REUSEPORT, same uid) AF_NSTCP's
 * listen() fails EADDRINUSE, with no IPv6 listeners put there instead,
 * and the holder keeps every connection.  An exclusive IPv4 port refuses
 * another uid's AF_INET and v4-mapped AF_INET6 binds.  A plain listener
 * joining an AF_NSTCP SO_REUSEPORT port loses no connection.  With
 * net.ipv4.tcp_fastopen 0x400, an option set after listen() leaves Fast
 * Open on, as on AF_INET.  Runs in a network namespace of its own.
 */
#include <sys/wait.h>

#include "listen_util.h"

#define N_V4FORMS	3
#define PER_V4FORM	5
#define N_IPOPTS	2
#define NCASES		(N_V4FORMS * PER_V4FORM + 2 * N_IPOPTS + 6 + 3 + 8)
#define HELD_N		32	/* connections to a port's plain listener */

static const char *const v4forms[N_V4FORMS] = {
	"127.0.0.1", "::ffff:127.0.0.1", "0.0.0.0",
};

/*
 * Rows of /proc/net/tcp or tcp6 (@v6) with local port @port in TCP state
 * @st (0x0A: LISTEN, 0x01: ESTABLISHED); -1 if unreadable.
 */
static int tcp_rows(int v6, int port, int st)
{
	FILE *f = fopen(v6 ? "/proc/net/tcp6" : "/proc/net/tcp", "r");
	char line[512], local[64];
	unsigned int lport, state;
	int n = 0;

	if (!f)
		return -1;
	if (!fgets(line, sizeof(line), f)) {	/* the header */
		fclose(f);
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		char *colon;

		if (sscanf(line, " %*d: %63s %*s %x", local, &state) != 2)
			continue;
		colon = strrchr(local, ':');
		if (!colon || sscanf(colon + 1, "%x", &lport) != 1)
			continue;
		if ((int)lport == port && (int)state == st)
			n++;
	}
	fclose(f);
	return n;
}

/* A listener of @family on @ip (any port); its port in *port. */
static int listener(int family, const char *ip, int *port)
{
	if (family == AF_NSTCP)
		return lst_member(ip, 0, NULL, 0, port);
	return fam_listen(family, ip, 0, port);
}

/* errno of getsockopt(IPPROTO_IPV6, IPV6_V6ONLY), 0 if it answered. */
static int v6only_err(int fd)
{
	int v;

	return FAM_ERR(fam_getint(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v));
}

struct accepted {
	int cfd, afd, port;
	struct fam_addr peer, name, pname;
};

static void accepted_init(struct accepted *a)
{
	memset(a, 0, sizeof(*a));
	a->cfd = -1;
	a->afd = -1;
}

/* A client of @cdomain to @ip:@port, accepted from @lfd; 0 or -1. */
static int accept_one(int lfd, int cdomain, const char *ip, int port,
		      struct accepted *a)
{
	accepted_init(a);
	a->cfd = fam_connect(cdomain, ip, port);
	if (a->cfd < 0)
		return -1;
	a->afd = fam_accept(lfd, &a->peer);
	if (a->afd < 0)
		return -1;
	a->name.len = sizeof(a->name.ss);
	a->pname.len = sizeof(a->pname.ss);
	if (getsockname(a->afd, &a->name.sa, &a->name.len) ||
	    getpeername(a->afd, &a->pname.sa, &a->pname.len))
		return -1;
	a->port = fam_local_port(a->cfd);
	return 0;
}

/* A request from the client and the server's reply: 0 or -1. */
static int exchange(const struct accepted *a)
{
	char c = 0, r = LST_REPLY;

	if (lst_request(a->cfd) || recv(a->afd, &c, 1, 0) != 1 ||
	    c != LST_REQ || send(a->afd, &r, 1, MSG_NOSIGNAL) != 1)
		return -1;
	return lst_reply(a->cfd) ? -1 : 0;
}

static void accepted_close(struct accepted *a)
{
	fam_close(&a->cfd);
	fam_close(&a->afd);
}

/* An IPv4 port of AF_NSTCP, bound as @form, against AF_INET and AF_INET6. */
static void test_v4form(const char *form, int ncpus)
{
	struct accepted ns, in, in6;
	int nfd, ifd, i6fd, nport, iport, i6port;
	int l4, l6, e4, e6, okn, oki, oki6;
	char a[64], b[64];

	accepted_init(&ns);
	accepted_init(&in);
	accepted_init(&in6);
	nfd = listener(AF_NSTCP, form, &nport);
	ifd = listener(AF_INET, "127.0.0.1", &iport);
	i6fd = listener(AF_INET6, "::ffff:127.0.0.1", &i6port);
	l4 = nfd >= 0 ? tcp_rows(0, nport, 0x0A) : -1;
	l6 = nfd >= 0 ? tcp_rows(1, nport, 0x0A) : -1;
	FAM_OK(l4 == ncpus && l6 == 0,
	       "AF_NSTCP bound to %s: listeners in /proc/net/tcp %d (want %d, one per possible CPU), in tcp6 %d (want 0)",
	       form, l4, ncpus, l6);

	okn = nfd >= 0 && !accept_one(nfd, AF_INET, "127.0.0.1", nport, &ns);
	oki = ifd >= 0 && !accept_one(ifd, AF_INET, "127.0.0.1", iport, &in);
	oki6 = i6fd >= 0 &&
	       !accept_one(i6fd, AF_INET, "127.0.0.1", i6port, &in6);
	e4 = okn ? tcp_rows(0, nport, 0x01) : -1;
	e6 = okn ? tcp_rows(1, nport, 0x01) : -1;
	FAM_OK(okn && e4 == 1 && e6 == 0,
	       "AF_NSTCP %s: the accepted connection in /proc/net/tcp %d (want 1), in tcp6 %d (want 0)",
	       form, e4, e6);
	e4 = okn ? v6only_err(ns.afd) : -1;
	e6 = oki ? v6only_err(in.afd) : -1;
	FAM_OK(okn && oki && oki6 && e4 == e6 && e4 > 0 &&
	       !v6only_err(in6.afd),
	       "AF_NSTCP %s: getsockopt(IPPROTO_IPV6, IPV6_V6ONLY) on the accepted socket: %s, as AF_INET's: %s (AF_INET6's on ::ffff:127.0.0.1 answers: %s)",
	       form, strerror(e4), strerror(e6),
	       oki6 ? strerror(v6only_err(in6.afd)) : "-");
	FAM_OK(okn && oki && ns.peer.len == in.peer.len &&
	       fam_addr_is(&ns.peer.sa, ns.peer.len, "127.0.0.1", ns.port) &&
	       fam_addr_is(&ns.pname.sa, ns.pname.len, "127.0.0.1", ns.port) &&
	       fam_addr_is(&in.peer.sa, in.peer.len, "127.0.0.1", in.port),
	       "AF_NSTCP %s: accept()'s and getpeername()'s address: %s len %u, as AF_INET's: %s len %u",
	       form, okn ? fam_ntop(&ns.peer.sa, a, sizeof(a)) : "-",
	       ns.peer.len, oki ? fam_ntop(&in.peer.sa, b, sizeof(b)) : "-",
	       in.peer.len);
	FAM_OK(okn && oki && ns.name.len == in.name.len &&
	       fam_addr_is(&ns.name.sa, ns.name.len, "127.0.0.1", nport) &&
	       fam_addr_is(&in.name.sa, in.name.len, "127.0.0.1", iport),
	       "AF_NSTCP %s: the accepted socket's getsockname(): %s len %u, as AF_INET's: %s len %u",
	       form, okn ? fam_ntop(&ns.name.sa, a, sizeof(a)) : "-",
	       ns.name.len, oki ? fam_ntop(&in.name.sa, b, sizeof(b)) : "-",
	       in.name.len);
	accepted_close(&ns);
	accepted_close(&in);
	accepted_close(&in6);
	fam_close(&nfd);
	fam_close(&ifd);
	fam_close(&i6fd);
}

/* IPv4-level options the listener passes on to what it accepts. */
static const struct {
	const char *name;
	int opt, val;
} ipopts[N_IPOPTS] = {
	{ "IP_MTU_DISCOVER", IP_MTU_DISCOVER, IP_PMTUDISC_DO },
	{ "IP_MINTTL", IP_MINTTL, 1 },
};

/* What the accepted socket reads, the option set @after listen() or not. */
static int ipopt_child(int family, int i, int after, int *val)
{
	struct accepted a;
	struct fam_addr la = fam_addr("127.0.0.1", 0);
	int lfd = fam_socket(family, 0), port, e = 0;

	accepted_init(&a);
	*val = -1;
	if (lfd < 0)
		return errno;
	if (!after && fam_setint(lfd, SOL_IP, ipopts[i].opt, ipopts[i].val))
		e = errno;
	if (!e && (bind(lfd, &la.sa, la.len) || listen(lfd, 16)))
		e = errno;
	if (!e && after && fam_setint(lfd, SOL_IP, ipopts[i].opt,
				      ipopts[i].val))
		e = errno;
	port = fam_local_port(lfd);
	if (!e && accept_one(lfd, AF_INET, "127.0.0.1", port, &a))
		e = errno ? errno : EIO;
	if (!e && fam_getint(a.afd, SOL_IP, ipopts[i].opt, val))
		e = errno;
	accepted_close(&a);
	close(lfd);
	return e;
}

static void test_ipopts(void)
{
	for (int i = 0; i < N_IPOPTS; i++)
		for (int after = 0; after <= 1; after++) {
			int vi, vn, ei = ipopt_child(AF_INET, i, after, &vi);
			int en = ipopt_child(AF_NSTCP, i, after, &vn);

			FAM_OK(!ei && !en && vi == vn && vi == ipopts[i].val,
			       "%s %d set %s listen(): the accepted socket reads AF_NSTCP %d (%s), AF_INET %d (%s)",
			       ipopts[i].name, ipopts[i].val,
			       after ? "after" : "before", vn, strerror(en),
			       vi, strerror(ei));
		}
}

/* A dual-stack [::] AF_NSTCP port against AF_INET6's: both clients. */
static void test_dual_stack(int ncpus)
{
	struct accepted n4, n6, i4;
	int nfd, ifd, nport, iport, l4, l6, ok4, ok6, oki;
	char a[64], b[64];

	accepted_init(&n4);
	accepted_init(&n6);
	accepted_init(&i4);
	nfd = listener(AF_NSTCP, "::", &nport);
	ifd = listener(AF_INET6, "::", &iport);
	l4 = nfd >= 0 ? tcp_rows(0, nport, 0x0A) : -1;
	l6 = nfd >= 0 ? tcp_rows(1, nport, 0x0A) : -1;
	FAM_OK(l6 == ncpus && l4 == 0,
	       "AF_NSTCP bound to [::]: dual-stack listeners in /proc/net/tcp6 %d (want %d), in tcp %d (want 0)",
	       l6, ncpus, l4);
	ok4 = nfd >= 0 && !accept_one(nfd, AF_INET, "127.0.0.1", nport, &n4);
	ok6 = nfd >= 0 && !accept_one(nfd, AF_INET6, "::1", nport, &n6);
	oki = ifd >= 0 && !accept_one(ifd, AF_INET, "127.0.0.1", iport, &i4);
	FAM_OK(ok4 && fam_addr_is(&n4.peer.sa, n4.peer.len, "127.0.0.1",
				  n4.port),
	       "[::]: an IPv4 client is accepted, peer %s len %u (sockaddr_in)",
	       ok4 ? fam_ntop(&n4.peer.sa, a, sizeof(a)) : "-", n4.peer.len);
	FAM_OK(ok6 && fam_addr_is(&n6.peer.sa, n6.peer.len, "::1", n6.port),
	       "[::]: an IPv6 client is accepted, peer %s len %u",
	       ok6 ? fam_ntop(&n6.peer.sa, b, sizeof(b)) : "-", n6.peer.len);
	FAM_OK(ok4 && ok6 && tcp_rows(1, nport, 0x01) == 2 &&
	       tcp_rows(0, nport, 0x01) == 0,
	       "[::]: both accepted connections are IPv6 socks (tcp6 %d, tcp %d)",
	       tcp_rows(1, nport, 0x01), tcp_rows(0, nport, 0x01));
	FAM_OK(ok4 && oki && !v6only_err(n4.afd) && !v6only_err(i4.afd),
	       "[::]: IPV6_V6ONLY on the IPv4 client's accepted socket: AF_NSTCP %s, AF_INET6 %s",
	       ok4 ? strerror(v6only_err(n4.afd)) : "-",
	       oki ? strerror(v6only_err(i4.afd)) : "-");
	FAM_OK(ok4 && ok6 && !exchange(&n4) && !exchange(&n6),
	       "[::]: both connections carry data");
	accepted_close(&n4);
	accepted_close(&n6);
	accepted_close(&i4);
	fam_close(&nfd);
	fam_close(&ifd);
}

#define MD5_KEY	"nstcp-md5-v4map"

static int set_md5(int fd, const char *peer)
{
	struct tcp_md5sig sig = { .tcpm_keylen = strlen(MD5_KEY) };
	struct fam_addr a = fam_addr(peer, 0);

	memcpy(&sig.tcpm_addr, &a.ss, a.len);
	memcpy(sig.tcpm_key, MD5_KEY, strlen(MD5_KEY));
	return setsockopt(fd, SOL_TCP, TCP_MD5SIG, &sig, sizeof(sig));
}

/*
 * An AF_INET client to 127.0.0.1:@port, with the key or not, accepted
 * from @lfd within @ms: 1 if accepted, 0 if not.
 */
static int md5_client(int lfd, int port, int keyed, int ms)
{
	struct fam_addr a = fam_addr("127.0.0.1", port);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), afd;

	if (fd < 0)
		return 0;
	if ((keyed && set_md5(fd, "127.0.0.1")) ||
	    (connect(fd, &a.sa, a.len) && errno != EINPROGRESS)) {
		close(fd);
		return 0;
	}
	fam_wait(fd, POLLOUT, ms);
	afd = fam_wait(lfd, POLLIN, keyed ? ms : 50) & POLLIN ?
	      accept(lfd, NULL, NULL) : -1;
	close(fd);
	if (afd < 0)
		return 0;
	close(afd);
	return 1;
}

/*
 * A listener of @family on @ip with the key for @peer set @after listen()
 * or before; which clients it accepts: bit 0 keyed, bit 1 plain.  -errno.
 */
static int md5_run(int family, const char *ip, const char *peer, int after)
{
	struct fam_addr la = fam_addr(ip, 0);
	int lfd = socket(family, SOCK_STREAM | SOCK_NONBLOCK, 0), port, r;

	if (lfd < 0)
		return -errno;
	if ((!after && set_md5(lfd, peer)) || bind(lfd, &la.sa, la.len) ||
	    listen(lfd, 16) || (after && set_md5(lfd, peer))) {
		r = -errno;
		close(lfd);
		return r;
	}
	port = fam_local_port(lfd);
	r = md5_client(lfd, port, 1, 2000);
	r |= md5_client(lfd, port, 0, 1000) << 1;
	close(lfd);
	return r;
}

static void test_md5(void)
{
	int probe = socket(AF_INET, SOCK_STREAM, 0), e, rn, ri;

	e = FAM_ERR(set_md5(probe, "127.0.0.1"));
	close(probe);
	if (e == ENOPROTOOPT) {
		for (int i = 0; i < 3; i++)
			tap_skip("the kernel has no CONFIG_TCP_MD5SIG",
				 "TCP_MD5SIG case %d", i + 1);
		return;
	}
	for (int after = 0; after <= 1; after++) {
		rn = md5_run(AF_NSTCP, "127.0.0.1", "::ffff:127.0.0.1", after);
		ri = md5_run(AF_INET6, "::ffff:127.0.0.1", "::ffff:127.0.0.1",
			     after);
		FAM_OK(rn == ri && ri == 1,
		       "TCP_MD5SIG for ::ffff:127.0.0.1 set %s listen() on 127.0.0.1: keyed/plain client accepted AF_NSTCP %d/%d, AF_INET6 on ::ffff:127.0.0.1 %d/%d (want 1/0; <0: -errno %d %d)",
		       after ? "after" : "before", rn > 0 && (rn & 1),
		       rn > 0 && (rn & 2), ri > 0 && (ri & 1),
		       ri > 0 && (ri & 2), rn, ri);
	}
	/* An IPv6 peer's key: no IPv4 connection uses it. */
	rn = md5_run(AF_NSTCP, "127.0.0.1", "::1", 0);
	ri = md5_run(AF_INET6, "::ffff:127.0.0.1", "::1", 0);
	FAM_OK(rn == ri && ri == 2,
	       "TCP_MD5SIG for ::1 before listen() on 127.0.0.1: the listen succeeds, a plain client is accepted and a keyed one not: AF_NSTCP %d, AF_INET6 %d (want 2)",
	       rn, ri);
}

#define HELD_RP		1	/* held_try(): SO_REUSEPORT */
#define HELD_RA		2	/* SO_REUSEADDR */

/*
 * A socket of @domain on @ip:@port, with the HELD_ options @rp: bind()
 * and listen(), then closed.  0 or the errno; *at_listen when bind()
 * passed.
 */
static int held_try(int domain, const char *ip, int port, int rp,
		    int *at_listen)
{
	struct fam_addr a = fam_addr(ip, port);
	int fd = fam_socket(domain, 0), err;

	*at_listen = 0;
	if (fd < 0)
		return errno;
	if (((rp & HELD_RP) && fam_setint(fd, SOL_SOCKET, SO_REUSEPORT, 1)) ||
	    ((rp & HELD_RA) && fam_setint(fd, SOL_SOCKET, SO_REUSEADDR, 1))) {
		err = errno;
		close(fd);
		return err;
	}
	if (bind(fd, &a.sa, a.len)) {
		err = errno;
	} else {
		*at_listen = 1;
		err = listen(fd, 16) ? errno : 0;
	}
	close(fd);
	return err;
}

/* A plain AF_INET SO_REUSEPORT listener on 127.0.0.1 (ephemeral port). */
static int plain_rp_listener(int port, int *portp)
{
	struct fam_addr a = fam_addr("127.0.0.1", port);
	int fd = fam_socket(AF_INET, 0);

	if (fd < 0)
		return -1;
	if (fam_setint(fd, SOL_SOCKET, SO_REUSEPORT, 1) ||
	    bind(fd, &a.sa, a.len) || listen(fd, 128)) {
		tap_diag("plain listener on port %d: %s", port, strerror(errno));
		close(fd);
		return -1;
	}
	if (portp)
		*portp = fam_local_port(fd);
	return fd;
}

/*
 * In a child of uid 65534: held_try() of @d0 on @ip0 and @d1 on @ip1, port
 * @port, options @rp.  Their errnos (and whether bind() passed) in r[4];
 * -1 on error.
 */
struct held_args {
	int port, rp, d0, d1;
	const char *ip0, *ip1;
};

static void held_as_nobody(void *arg, void *out)
{
	const struct held_args *a = arg;
	int *v = out;

	v[0] = v[1] = v[2] = v[3] = -1;
	if (!setresgid(65534, 65534, 65534) &&
	    !setresuid(65534, 65534, 65534)) {
		v[0] = held_try(a->d0, a->ip0, a->port, a->rp, &v[1]);
		v[2] = held_try(a->d1, a->ip1, a->port, a->rp, &v[3]);
	}
}

static int held_other_uid(int port, int rp, int d0, const char *ip0,
			  int d1, const char *ip1, int r[4])
{
	struct held_args a = { .port = port, .rp = rp, .d0 = d0, .d1 = d1,
			       .ip0 = ip0, .ip1 = ip1 };

	return fam_in_child(held_as_nobody, &a, r, 4 * sizeof(int), 20);
}

/*
 * A port that a plain AF_INET listener already holds.  Without
 * SO_REUSEPORT both families fail at bind(); another uid's SO_REUSEPORT
 * socket too.  With SO_REUSEPORT of the same uid AF_INET joins the
 * holder's reuseport group; AF_NSTCP's per-CPU listeners cannot take over
 * a group that is not theirs, so its listen() fails EADDRINUSE, with no
 * IPv6 listeners instead (they would get none of the port's IPv4
 * connections), and the holder loses no connection to the attempt.
 */
static void test_held_port(void)
{
	int x, port, rn, ri, ln, li, r[4], got = 0;

	x = plain_rp_listener(0, &port);
	rn = held_try(AF_NSTCP, "127.0.0.1", port, 0, &ln);
	ri = held_try(AF_INET, "127.0.0.1", port, 0, &li);
	FAM_OK(x >= 0 && rn == EADDRINUSE && ri == rn && !ln && !li,
	       "port held by a plain SO_REUSEPORT listener, no SO_REUSEPORT: AF_NSTCP %s at %s, AF_INET %s at %s",
	       strerror(rn), ln ? "listen" : "bind", strerror(ri),
	       li ? "listen" : "bind");
	if (held_other_uid(port, HELD_RP, AF_NSTCP, "127.0.0.1", AF_INET,
			   "127.0.0.1", r))
		r[0] = r[2] = -1;
	FAM_OK(r[0] == EADDRINUSE && r[2] == EADDRINUSE && !r[1] && !r[3],
	       "the same with SO_REUSEPORT from another uid: AF_NSTCP %s at %s, AF_INET %s at %s",
	       strerror(r[0]), r[1] ? "listen" : "bind", strerror(r[2]),
	       r[3] ? "listen" : "bind");
	rn = held_try(AF_NSTCP, "127.0.0.1", port, HELD_RP, &ln);
	ri = held_try(AF_INET, "127.0.0.1", port, HELD_RP, &li);
	FAM_OK(rn == EADDRINUSE && ln && !ri,
	       "with SO_REUSEPORT from the same uid: AF_NSTCP %s at %s (want EADDRINUSE at listen), AF_INET %s (joins the holder's group)",
	       strerror(rn), ln ? "listen" : "bind", strerror(ri));
	for (int i = 0; i < HELD_N; i++) {
		int cfd = fam_connect(AF_INET, "127.0.0.1", port);
		int afd = cfd < 0 ? -1 : fam_accept(x, NULL);

		got += afd >= 0;
		fam_close(&afd);
		fam_close(&cfd);
	}
	rn = tcp_rows(0, port, 0x0A);
	ri = tcp_rows(1, port, 0x0A);
	FAM_OK(got == HELD_N && rn == 1 && ri == 0,
	       "after the refused listen() the holder accepts %d of %d connections; listeners left: %d AF_INET (want 1), %d AF_INET6 (want 0)",
	       got, HELD_N, rn, ri);
	fam_close(&x);
}

/*
 * An exclusive IPv4 AF_NSTCP port (AF_INET listeners on 127.0.0.1) keeps
 * another uid's SO_REUSEADDR binds out, an AF_INET6 one to the v4-mapped
 * address (a cross-family bind-bucket match on 6.1) and an AF_INET one.
 */
static void test_exclusive_v4(void)
{
	int m, port, r[4] = { -1, -1, -1, -1 };

	m = listener(AF_NSTCP, "127.0.0.1", &port);
	if (m < 0 || held_other_uid(port, HELD_RA, AF_INET6, "::ffff:127.0.0.1",
				    AF_INET, "127.0.0.1", r))
		r[0] = r[2] = -1;
	FAM_OK(r[0] == EADDRINUSE && r[2] == EADDRINUSE && !r[1] && !r[3],
	       "an exclusive IPv4 port refuses another uid's SO_REUSEADDR bind(): AF_INET6 ::ffff:127.0.0.1 %s at %s, AF_INET 127.0.0.1 %s at %s",
	       strerror(r[0]), r[1] ? "listen" : "bind", strerror(r[2]),
	       r[3] ? "listen" : "bind");
	fam_close(&m);
}

/* Accept one connection from @a or @b; which in *from (0 or 1). */
static int accept_either(int a, int b, int *from)
{
	struct pollfd p[2] = { { .fd = a, .events = POLLIN },
			       { .fd = b, .events = POLLIN } };

	if (poll(p, 2, FAM_TIMEOUT_MS) < 1)
		return -1;
	*from = !(p[0].revents & POLLIN);
	return accept(p[*from].fd, NULL, NULL);
}

/*
 * A plain AF_INET SO_REUSEPORT listener of the owner's uid made after an
 * AF_NSTCP SO_REUSEPORT port joins its per-CPU listeners' reuseport
 * group: every connection is accepted by one of the two, none lost.
 */
static void test_join_after(void)
{
	int m, x, port, got[2] = { 0, 0 }, cfd, afd, from;
	struct fam_addr a;

	m = fam_socket(AF_NSTCP, 0);
	a = fam_addr("127.0.0.1", 0);
	if (m >= 0 && (fam_setint(m, SOL_SOCKET, SO_REUSEPORT, 1) ||
		       bind(m, &a.sa, a.len) || listen(m, 128)))
		fam_close(&m);
	port = m >= 0 ? fam_local_port(m) : 0;
	x = m >= 0 ? plain_rp_listener(port, NULL) : -1;
	for (int i = 0; x >= 0 && i < HELD_N; i++) {
		cfd = fam_connect(AF_INET, "127.0.0.1", port);
		afd = cfd < 0 ? -1 : accept_either(m, x, &from);
		if (afd >= 0)
			got[from]++;
		fam_close(&afd);
		fam_close(&cfd);
	}
	FAM_OK(m >= 0 && x >= 0 && got[0] + got[1] == HELD_N,
	       "a plain SO_REUSEPORT listener of the owner's uid joins port %d: %d of %d connections accepted (AF_NSTCP %d, plain %d)",
	       port, got[0] + got[1], HELD_N, got[0], got[1]);
	fam_close(&x);
	cfd = m >= 0 ? fam_connect(AF_INET, "127.0.0.1", port) : -1;
	afd = cfd >= 0 ? fam_accept(m, NULL) : -1;
	FAM_OK(afd >= 0, "after the plain one closes, AF_NSTCP accepts");
	fam_close(&afd);
	fam_close(&cfd);
	fam_close(&m);
}

/*
 * net.ipv4.tcp_fastopen 0x607: 0x400 (server Fast Open without the socket
 * option), 0x200 and 0x4 (no cookie on either side): a listener that
 * never set TCP_FASTOPEN takes data in the SYN, also after a later
 * setsockopt() (for AF_NSTCP, a live copy of the options to the per-CPU
 * listeners).  1 if the accepted socket had SYN data, 0 if not, -1 on
 * error.
 */
static int tfo_after_set(int family)
{
	struct fam_addr a;
	struct tcp_info ti;
	socklen_t tl = sizeof(ti);
	int l, c, s, port, res = -1;
	char ch = 0;

	l = listener(family, "127.0.0.1", &port);
	if (l < 0 || fam_setint(l, IPPROTO_TCP, TCP_NODELAY, 1)) {
		fam_close(&l);
		return -1;
	}
	a = fam_addr("127.0.0.1", port);
	c = fam_socket(AF_INET, 0);
	if (c >= 0 && sendto(c, "f", 1, MSG_FASTOPEN, &a.sa, a.len) == 1) {
		s = fam_accept(l, NULL);
		if (s >= 0 && !getsockopt(s, IPPROTO_TCP, TCP_INFO, &ti, &tl) &&
		    recv(s, &ch, 1, 0) == 1 && ch == 'f')
			res = !!(ti.tcpi_options & TCPI_OPT_SYN_DATA);
		fam_close(&s);
	}
	fam_close(&c);
	fam_close(&l);
	return res;
}

static void test_tfo_sysctl(void)
{
	int rn = -1, ri = -1, e;

	e = proc_sys_write("net/ipv4/tcp_fastopen", "1543");	/* 0x607 */
	if (!e) {
		rn = tfo_after_set(AF_NSTCP);
		ri = tfo_after_set(AF_INET);
	}
	proc_sys_write("net/ipv4/tcp_fastopen", "1");
	FAM_OK(!e && rn == 1 && ri == 1,
	       "tcp_fastopen 0x607, no TCP_FASTOPEN, TCP_NODELAY after listen(): SYN data taken: AF_NSTCP %d, AF_INET %d (want 1; sysctl %s)",
	       rn, ri, strerror(e));
}

int main(void)
{
	int ncpus;

	lst_private_netns();
	fam_start(NCASES, 120);
	ncpus = lst_possible_cpus();
	for (int i = 0; i < N_V4FORMS; i++)
		test_v4form(v4forms[i], ncpus);
	test_ipopts();
	test_dual_stack(ncpus);
	test_md5();
	test_held_port();
	test_exclusive_v4();
	test_join_after();
	test_tfo_sysctl();
	return fam_finish();
}
