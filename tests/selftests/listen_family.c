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
 * clients.  Runs in a network namespace of its own.
 */
#include "listen_util.h"

#define N_V4FORMS	3
#define PER_V4FORM	5
#define N_IPOPTS	2
#define NCASES		(N_V4FORMS * PER_V4FORM + 2 * N_IPOPTS + 6 + 3)

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
	return fam_finish();
}
