// SPDX-License-Identifier: GPL-2.0
/*
 * Selftest: AF_NSTCP connection set-up.  bind (addresses in and out, port 0,
 * SO_REUSEADDR, IPv4-only and V6ONLY binds, bad addresses), listen,
 * accept/accept4, blocking and non-blocking connect, refused connections,
 * getsockname/getpeername for IPv4, IPv6 and v4-mapped addresses, and the
 * state errors, compared with AF_INET6 where the rule is "as AF_INET6".
 */
#include <sys/un.h>

#include "family_util.h"

#define NCASES 79

/* The sockaddr_in6 of RFC 2133, without sin6_scope_id. */
#define SIN6_LEN_RFC2133 24

static const char *show(const struct fam_addr *a)
{
	static char buf[4][80];
	static int i;
	char ip[INET6_ADDRSTRLEN];
	char *b = buf[i++ & 3];

	snprintf(b, sizeof(buf[0]), "%s port %d len %u",
		 fam_ntop(&a->sa, ip, sizeof(ip)), fam_port(&a->sa),
		 (unsigned int)a->len);
	return b;
}

/*
 * Connect to listener @l's @port at @to and accept: the client's peer (@a)
 * and own (@me) names must be @want's, the accepted peer goes to @peer.
 */
static int names_are(int l, int port, const char *to, const char *want,
		     struct fam_addr *peer, struct fam_addr *a,
		     struct fam_addr *me)
{
	int c = fam_connect(AF_NSTCP, to, port);
	int s = fam_accept(l, peer);
	int ok;

	*a = fam_name(c, 1);
	*me = fam_name(c, 0);
	ok = c >= 0 && s >= 0 && fam_addr_is(&a->sa, a->len, want, port) &&
	     fam_addr_is(&me->sa, me->len, want, fam_port(&peer->sa));
	fam_close(&c);
	fam_close(&s);
	return ok;
}

/* A socket bound to ip, port 0 unless given; -1 if the bind fails. */
static int bound(const char *ip, int port)
{
	struct fam_addr a = fam_addr(ip, port);
	int fd = fam_socket(AF_NSTCP, 0);

	if (fd >= 0 && bind(fd, &a.sa, a.len)) {
		close(fd);
		return -1;
	}
	return fd;
}

static void test_bind(void)
{
	struct fam_addr a, b;
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	int fd, fd2, v6, one = 1;

	fd = bound("127.0.0.1", 0);
	a = fam_name(fd, 0);
	FAM_OK(fd >= 0 && fam_addr_is(&a.sa, a.len, "127.0.0.1", -1) &&
	       fam_port(&a.sa) > 0,
	       "bind 127.0.0.1 port 0: getsockname gives sockaddr_in, a port (%s)",
	       show(&a));
	fam_close(&fd);
	fd = bound("::1", 0);
	a = fam_name(fd, 0);
	FAM_OK(fd >= 0 && fam_addr_is(&a.sa, a.len, "::1", -1) &&
	       fam_port(&a.sa) > 0,
	       "bind ::1 port 0: getsockname gives sockaddr_in6 (%s)", show(&a));
	fam_close(&fd);
	fd = bound("::", 0);
	a = fam_name(fd, 0);
	FAM_OK(fd >= 0 && fam_addr_is(&a.sa, a.len, "::", -1) && fam_port(&a.sa) > 0,
	       "bind in6addr_any: getsockname gives sockaddr_in6 :: (%s)", show(&a));
	fam_close(&fd);
	fd = bound("0.0.0.0", 0);
	a = fam_name(fd, 0);
	FAM_OK(fd >= 0 && fam_addr_is(&a.sa, a.len, "0.0.0.0", -1) &&
	       fam_port(&a.sa) > 0,
	       "bind INADDR_ANY: getsockname gives sockaddr_in 0.0.0.0 (%s)",
	       show(&a));
	fam_close(&fd);
	fd = bound("::ffff:127.0.0.1", 0);
	a = fam_name(fd, 0);
	FAM_OK(fd >= 0 && fam_addr_is(&a.sa, a.len, "127.0.0.1", -1),
	       "bind ::ffff:127.0.0.1: getsockname gives sockaddr_in 127.0.0.1 (%s)",
	       show(&a));
	fam_close(&fd);

	fd = fam_socket(AF_NSTCP, 0);
	a = fam_addr("::1", 0);
	FAM_OK(!bind(fd, &a.sa, SIN6_LEN_RFC2133),
	       "bind with a 24-byte (RFC 2133) sockaddr_in6 succeeds");
	fam_close(&fd);

	/* A second bind, as on AF_INET6. */
	fd = bound("127.0.0.1", 0);
	v6 = fam_socket(AF_INET6, 0);
	a = fam_addr("::1", 0);
	bind(v6, &a.sa, a.len);
	LIKE_INET6(EINVAL, fd, v6, bind(FD, &a.sa, a.len),
		   "a second bind fails EINVAL, as AF_INET6");
	fam_close(&fd);
	fam_close(&v6);

	fd = fam_socket(AF_NSTCP, 0);
	TAP_ERRNO(bind(fd, (struct sockaddr *)&un, sizeof(un)), EAFNOSUPPORT,
		  "bind with an AF_UNIX address fails EAFNOSUPPORT");
	a = fam_addr("127.0.0.1", 0);
	a.sa.sa_family = 99;
	TAP_ERRNO(bind(fd, &a.sa, sizeof(a.sin6)), EAFNOSUPPORT,
		  "bind with address family 99 fails EAFNOSUPPORT");
	a = fam_addr("127.0.0.1", 0);
	TAP_ERRNO(bind(fd, &a.sa, sizeof(a.sin) - 1), EINVAL,
		  "bind with a 15-byte sockaddr_in fails EINVAL");
	TAP_ERRNO(bind(fd, &a.sa, 1), EINVAL, "bind with a 1-byte address fails EINVAL");
	TAP_ERRNO(bind(fd, &a.sa, 0), EINVAL, "bind with a 0-byte address fails EINVAL");
	a = fam_addr("::1", 0);
	TAP_ERRNO(bind(fd, &a.sa, SIN6_LEN_RFC2133 - 1), EINVAL,
		  "bind with a 23-byte sockaddr_in6 fails EINVAL");
	TAP_ERRNO(bind(fd, NULL, sizeof(struct sockaddr_in)), EFAULT,
		  "bind with a NULL address fails EFAULT");
	TAP_ERRNO(bind(fd, (struct sockaddr *)8, sizeof(struct sockaddr_in)),
		  EFAULT, "bind with a bad address pointer fails EFAULT");
	a = fam_addr("192.0.2.1", 0);
	TAP_ERRNO(bind(fd, &a.sa, a.len), EADDRNOTAVAIL,
		  "bind to a foreign IPv4 address fails EADDRNOTAVAIL");
	a = fam_addr("2001:db8::1", 0);
	TAP_ERRNO(bind(fd, &a.sa, a.len), EADDRNOTAVAIL,
		  "bind to a foreign IPv6 address fails EADDRNOTAVAIL");
	/* After all the failures the socket still binds. */
	a = fam_addr("127.0.0.1", 0);
	FAM_OK(!bind(fd, &a.sa, a.len), "bind succeeds after the failed ones");
	fam_close(&fd);

	/* A port held by a listener is in use, SO_REUSEADDR or not. */
	{
		int port, l = fam_listen(AF_NSTCP, "127.0.0.1", 0, &port);

		fd = fam_socket(AF_NSTCP, 0);
		a = fam_addr("127.0.0.1", port);
		TAP_ERRNO(bind(fd, &a.sa, a.len), EADDRINUSE,
			  "bind to a listener's port fails EADDRINUSE");
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		TAP_ERRNO(bind(fd, &a.sa, a.len), EADDRINUSE,
			  "... with SO_REUSEADDR too");
		fam_close(&fd);
		fam_close(&l);
	}

	/*
	 * SO_REUSEADDR: a server's port, held by its actively closed
	 * connection, can be bound again with the option and not without.
	 */
	{
		int port, l = fam_listen(AF_NSTCP, "127.0.0.1", 0, &port);
		int c = fam_connect(AF_NSTCP, "127.0.0.1", port);
		int s = fam_accept(l, NULL);
		char x;

		fam_close(&l);
		fam_close(&s);		/* the server closes first */
		if (c >= 0)
			recv(c, &x, 1, 0);	/* its FIN */
		fam_close(&c);
		fd = fam_socket(AF_NSTCP, 0);
		fd2 = fam_socket(AF_NSTCP, 0);
		a = fam_addr("127.0.0.1", port);
		TAP_ERRNO(bind(fd, &a.sa, a.len), EADDRINUSE,
			  "rebinding a closed server's port without SO_REUSEADDR fails EADDRINUSE");
		setsockopt(fd2, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		b = fam_name(fd2, 0);
		FAM_OK(!bind(fd2, &a.sa, a.len) && !listen(fd2, 1) &&
		       (b = fam_name(fd2, 0)).len &&
		       fam_addr_is(&b.sa, b.len, "127.0.0.1", port),
		       "with SO_REUSEADDR it binds and listens (%s)", show(&b));
		fam_close(&fd);
		fam_close(&fd2);
	}
}

/* IPv4-only (AF_INET bind) and IPv6-only (IPV6_V6ONLY) sockets. */
static void test_v4only_v6only(void)
{
	struct fam_addr a;
	int l4, l6, port, c, s, v6;
	struct fam_addr p;

	/* A wildcard AF_INET bind takes only the IPv4 side of the port. */
	l4 = fam_listen(AF_NSTCP, "0.0.0.0", 0, &port);
	a = fam_addr("::", port);
	l6 = fam_socket(AF_NSTCP, 0);
	TAP_ERRNO(bind(l6, &a.sa, a.len), EADDRINUSE,
		  "dual-stack bind to an IPv4 listener's port fails EADDRINUSE");
	fam_close(&l6);
	c = fam_socket(AF_NSTCP, 0);
	a = fam_addr("::1", port);
	TAP_ERRNO(connect(c, &a.sa, a.len), ECONNREFUSED,
		  "connect over IPv6 to an INADDR_ANY (IPv4-only) listener is refused");
	fam_close(&c);
	l6 = fam_socket(AF_NSTCP, 0);
	a = fam_addr("::", port);
	FAM_OK(!fam_setint(l6, SOL_IPV6, IPV6_V6ONLY, 1) && !bind(l6, &a.sa, a.len) &&
	       !listen(l6, 4), "an IPV6_V6ONLY socket binds the IPv6 side of that port");
	c = fam_connect(AF_NSTCP, "::1", port);
	s = fam_accept(l6, &p);
	FAM_OK(c >= 0 && s >= 0 && fam_addr_is(&p.sa, p.len, "::1", -1),
	       "an IPv6 client reaches the IPV6_V6ONLY listener (%s)", show(&p));
	fam_close(&c);
	fam_close(&s);
	c = fam_connect(AF_NSTCP, "127.0.0.1", port);
	s = fam_accept(l4, &p);
	FAM_OK(c >= 0 && s >= 0 && fam_addr_is(&p.sa, p.len, "127.0.0.1", -1),
	       "an IPv4 client reaches the INADDR_ANY listener (%s)", show(&p));
	fam_close(&c);
	fam_close(&s);
	fam_close(&l4);

	/* V6ONLY refuses IPv4 addresses, as AF_INET6 refuses v4-mapped. */
	c = fam_socket(AF_NSTCP, 0);
	v6 = fam_socket(AF_INET6, 0);
	fam_setint(c, SOL_IPV6, IPV6_V6ONLY, 1);
	fam_setint(v6, SOL_IPV6, IPV6_V6ONLY, 1);
	{
		struct fam_addr a4 = fam_addr("127.0.0.1", port);
		struct fam_addr m = fam_addr("::ffff:127.0.0.1", port);
		int en = FAM_ERR(connect(c, &a4.sa, a4.len));
		int ei = FAM_ERR(connect(v6, &m.sa, m.len));

		FAM_OK(en == ENETUNREACH && ei == ENETUNREACH,
		       "IPV6_V6ONLY connect to an IPv4 address fails ENETUNREACH, as AF_INET6 (%d %d)",
		       en, ei);
		m.sin6.sin6_port = 0;
		a4.sin.sin_port = 0;
		en = FAM_ERR(bind(c, &a4.sa, a4.len));
		ei = FAM_ERR(bind(v6, &m.sa, m.len));
		FAM_OK(en == EINVAL && ei == EINVAL,
		       "IPV6_V6ONLY bind to an IPv4 address fails EINVAL, as AF_INET6 (%d %d)",
		       en, ei);
	}
	fam_close(&c);
	fam_close(&v6);
	fam_close(&l6);
}

static void test_listen_accept(void)
{
	int l, port, c, s, fl, fdfl, v6, l6;
	struct fam_addr p, a;
	socklen_t len;

	/* listen without bind picks a dual-stack wildcard port. */
	l = fam_socket(AF_NSTCP, 0);
	a = fam_name(l, 0);
	FAM_OK(!listen(l, 0) && (a = fam_name(l, 0)).len &&
	       fam_addr_is(&a.sa, a.len, "::", -1) && fam_port(&a.sa) > 0,
	       "listen on an unbound socket binds :: and a port (%s)", show(&a));
	port = fam_port(&a.sa);
	c = fam_connect(AF_NSTCP, "127.0.0.1", port);
	s = fam_accept(l, NULL);
	FAM_OK(c >= 0 && s >= 0, "... which takes IPv4 connections");
	fam_close(&c);
	fam_close(&s);
	FAM_OK(!listen(l, 16), "listen again on a listener succeeds (new backlog)");
	fam_close(&l);

	l = fam_listen(AF_NSTCP, "127.0.0.1", 0, &port);
	fl = fcntl(l, F_GETFL);
	fcntl(l, F_SETFL, fl | O_NONBLOCK);
	TAP_ERRNO(accept(l, NULL, NULL), EAGAIN,
		  "accept on an empty non-blocking listener fails EAGAIN");
	fcntl(l, F_SETFL, fl);

	c = fam_connect(AF_NSTCP, "127.0.0.1", port);
	a = fam_name(c, 0);
	s = fam_accept(l, &p);
	FAM_OK(s >= 0 && fam_addr_is(&p.sa, p.len, "127.0.0.1", fam_port(&a.sa)),
	       "accept gives the IPv4 client's sockaddr_in (%s, client %s)",
	       show(&p), show(&a));
	fl = fcntl(s, F_GETFL);
	fdfl = fcntl(s, F_GETFD);
	FAM_OK(fl >= 0 && !(fl & O_NONBLOCK) && !(fdfl & FD_CLOEXEC),
	       "plain accept gives a blocking, inheritable socket");
	fam_close(&c);
	fam_close(&s);

	c = fam_connect(AF_NSTCP, "127.0.0.1", port);
	fam_wait(l, POLLIN, FAM_TIMEOUT_MS);
	s = accept4(l, NULL, NULL, SOCK_NONBLOCK);
	fl = fcntl(s, F_GETFL);
	fdfl = fcntl(s, F_GETFD);
	FAM_OK(s >= 0 && (fl & O_NONBLOCK) && !(fdfl & FD_CLOEXEC),
	       "accept4(SOCK_NONBLOCK), NULL address: O_NONBLOCK only");
	TAP_ERRNO(recv(s, &fl, 1, 0), EAGAIN,
		  "... and recv on it fails EAGAIN at once");
	fam_close(&c);
	fam_close(&s);

	c = fam_connect(AF_NSTCP, "127.0.0.1", port);
	fam_wait(l, POLLIN, FAM_TIMEOUT_MS);
	len = sizeof(p.ss);
	s = accept4(l, &p.sa, &len, SOCK_CLOEXEC);
	fl = fcntl(s, F_GETFL);
	fdfl = fcntl(s, F_GETFD);
	FAM_OK(s >= 0 && !(fl & O_NONBLOCK) && (fdfl & FD_CLOEXEC) &&
	       len == sizeof(struct sockaddr_in),
	       "accept4(SOCK_CLOEXEC): FD_CLOEXEC only, sockaddr_in (len %u)",
	       (unsigned int)len);
	TAP_ERRNO(accept4(l, NULL, NULL, 0x1), EINVAL,
		  "accept4 with an unknown flag fails EINVAL");

	/* State errors, as on AF_INET6. */
	l6 = fam_listen(AF_INET6, "::1", 0, NULL);
	v6 = fam_connect(AF_INET6, "::1", fam_local_port(l6));
	LIKE_INET6(EINVAL, c, v6, listen(FD, 4),
		   "listen on a connected socket fails EINVAL, as AF_INET6");
	a = fam_addr("127.0.0.1", port);
	{
		struct fam_addr a6 = fam_addr("::1", fam_local_port(l6));
		int en = FAM_ERR(connect(l, &a.sa, a.len));
		int ei = FAM_ERR(connect(l6, &a6.sa, a6.len));

		FAM_OK(en == EISCONN && ei == EISCONN,
		       "connect on a listener fails EISCONN, as AF_INET6 (%d %d)",
		       en, ei);
		en = FAM_ERR(connect(c, &a.sa, a.len));
		ei = FAM_ERR(connect(v6, &a6.sa, a6.len));
		FAM_OK(en == EISCONN && ei == EISCONN,
		       "connect on a connected socket fails EISCONN, as AF_INET6 (%d %d)",
		       en, ei);
		a.sin.sin_port = 0;
		a6.sin6.sin6_port = 0;
		en = FAM_ERR(bind(c, &a.sa, a.len));
		ei = FAM_ERR(bind(v6, &a6.sa, a6.len));
		FAM_OK(en == EINVAL && ei == EINVAL,
		       "bind on a connected socket fails EINVAL, as AF_INET6 (%d %d)",
		       en, ei);
	}
	LIKE_INET6(EINVAL, c, v6, accept(FD, NULL, NULL),
		   "accept on a connected socket fails EINVAL, as AF_INET6");
	fam_close(&v6);
	fam_close(&l6);
	fam_close(&c);
	fam_close(&s);
	fam_close(&l);
	{
		int n = fam_socket(AF_NSTCP, 0), i = fam_socket(AF_INET6, 0);

		LIKE_INET6(EINVAL, n, i, accept(FD, NULL, NULL),
			   "accept on a fresh socket fails EINVAL, as AF_INET6");
		fam_close(&n);
		fam_close(&i);
	}
}

static void test_connect(void)
{
	int l, port, c, s, err, rev;
	struct fam_addr a, p, me;
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	socklen_t len;
	unsigned char small[16];

	/* IPv4. */
	l = fam_listen(AF_NSTCP, "127.0.0.1", 0, &port);
	c = fam_connect(AF_NSTCP, "127.0.0.1", port);
	s = fam_accept(l, &p);
	a = fam_name(c, 1);
	me = fam_name(c, 0);
	FAM_OK(c >= 0 && fam_addr_is(&a.sa, a.len, "127.0.0.1", port),
	       "blocking IPv4 connect; getpeername gives sockaddr_in (%s)", show(&a));
	FAM_OK(fam_addr_is(&me.sa, me.len, "127.0.0.1", fam_port(&p.sa)) &&
	       fam_port(&me.sa) > 0,
	       "getsockname gives sockaddr_in, the port the server saw (%s)",
	       show(&me));
	a = fam_name(s, 0);
	p = fam_name(s, 1);
	FAM_OK(s >= 0 && fam_addr_is(&a.sa, a.len, "127.0.0.1", port) &&
	       fam_addr_is(&p.sa, p.len, "127.0.0.1", fam_port(&me.sa)),
	       "accepted socket's getsockname/getpeername are sockaddr_in (%s, %s)",
	       show(&a), show(&p));
	len = 4;
	memset(small, 0x5a, sizeof(small));
	FAM_OK(!getpeername(c, (struct sockaddr *)small, &len) &&
	       len == sizeof(struct sockaddr_in) && small[4] == 0x5a &&
	       ((struct sockaddr *)small)->sa_family == AF_INET,
	       "getpeername into 4 bytes truncates and reports 16 (%u)",
	       (unsigned int)len);
	/* SO_PEERNAME wants optlen no longer than the name. */
	len = sizeof(p.sin);
	memset(&p, 0, sizeof(p));
	FAM_OK(!getsockopt(c, SOL_SOCKET, SO_PEERNAME, &p.ss, &len) &&
	       fam_addr_is(&p.sa, len, "127.0.0.1", port),
	       "SO_PEERNAME gives sockaddr_in (len %u)", (unsigned int)len);
	TAP_ERRNO(getsockopt(c, SOL_SOCKET, SO_PEERNAME, &p.ss,
			     &(socklen_t){ sizeof(p.sin6) }), EINVAL,
		  "SO_PEERNAME wanting a sockaddr_in6 fails EINVAL: the name is 16 bytes");
	TAP_ERRNO(getpeername(l, &p.sa, &(socklen_t){ sizeof(p.ss) }), ENOTCONN,
		  "getpeername on a listener fails ENOTCONN");

	/* connect(AF_UNSPEC) disconnects. */
	{
		struct sockaddr un_spec = { .sa_family = AF_UNSPEC };

		FAM_OK(!connect(s, &un_spec, sizeof(un_spec)),
		       "connect(AF_UNSPEC) on a connected socket succeeds");
		TAP_ERRNO(getpeername(s, &p.sa, &(socklen_t){ sizeof(p.ss) }),
			  ENOTCONN, "... and the socket is disconnected (ENOTCONN)");
	}
	fam_close(&c);
	fam_close(&s);
	fam_close(&l);

	/* IPv6. */
	l = fam_listen(AF_NSTCP, "::1", 0, &port);
	FAM_OK(names_are(l, port, "::1", "::1", &p, &a, &me),
	       "blocking IPv6 connect; getpeername/getsockname give sockaddr_in6 (%s, %s)",
	       show(&a), show(&me));
	FAM_OK(fam_addr_is(&p.sa, p.len, "::1", fam_port(&me.sa)),
	       "accept gives the IPv6 client's sockaddr_in6 (%s)", show(&p));
	fam_close(&l);

	/* v4-mapped in, sockaddr_in out. */
	l = fam_listen(AF_NSTCP, "0.0.0.0", 0, &port);
	FAM_OK(names_are(l, port, "::ffff:127.0.0.1", "127.0.0.1", &p, &a, &me),
	       "connect to ::ffff:127.0.0.1: the names come out as sockaddr_in (%s, %s)",
	       show(&a), show(&me));

	/* Non-blocking connect. */
	c = fam_socket(AF_NSTCP, SOCK_NONBLOCK);
	a = fam_addr("127.0.0.1", port);
	TAP_ERRNO(connect(c, &a.sa, a.len), EINPROGRESS,
		  "non-blocking connect fails EINPROGRESS");
	rev = fam_wait(c, POLLOUT, FAM_TIMEOUT_MS);
	FAM_OK(rev == POLLOUT && !fam_getint(c, SOL_SOCKET, SO_ERROR, &err) && !err,
	       "poll gives POLLOUT and SO_ERROR is 0 (revents %#x, error %d)",
	       rev, err);
	/* As on AF_INET6, the next connect() reports the completion... */
	err = FAM_ERR(connect(c, &a.sa, a.len));
	FAM_OK(err == 0, "connect again after completion returns 0 (errno %d)",
	       err);
	TAP_ERRNO(connect(c, &a.sa, a.len), EISCONN,
		  "... and the one after fails EISCONN");
	s = fam_accept(l, NULL);
	FAM_OK(s >= 0 && send(c, "x", 1, 0) == 1 && recv(s, &err, 1, 0) == 1,
	       "the non-blocking connection carries data");
	fam_close(&c);
	fam_close(&s);
	fam_close(&l);

	/* Refused: the port is held by a bound socket that does not listen. */
	l = fam_socket(AF_NSTCP, 0);
	a = fam_addr("127.0.0.1", 0);
	bind(l, &a.sa, a.len);
	port = fam_local_port(l);
	fam_set_port(&a, port);
	c = fam_socket(AF_NSTCP, 0);
	TAP_ERRNO(connect(c, &a.sa, a.len), ECONNREFUSED,
		  "blocking connect to a closed IPv4 port fails ECONNREFUSED");
	fam_close(&c);
	c = fam_socket(AF_NSTCP, 0);
	a = fam_addr("::1", port);
	TAP_ERRNO(connect(c, &a.sa, a.len), ECONNREFUSED,
		  "blocking connect to a closed IPv6 port fails ECONNREFUSED");
	fam_close(&c);
	c = fam_socket(AF_NSTCP, SOCK_NONBLOCK);
	a = fam_addr("127.0.0.1", port);
	err = FAM_ERR(connect(c, &a.sa, a.len));
	rev = fam_wait(c, POLLOUT, FAM_TIMEOUT_MS);
	{
		int e1 = -1, e2 = -1;

		fam_getint(c, SOL_SOCKET, SO_ERROR, &e1);
		fam_getint(c, SOL_SOCKET, SO_ERROR, &e2);
		FAM_OK((err == EINPROGRESS || err == ECONNREFUSED) &&
		       (rev & (POLLERR | POLLHUP)) == (POLLERR | POLLHUP) &&
		       (err == ECONNREFUSED || e1 == ECONNREFUSED) && e2 == 0,
		       "non-blocking refused connect: POLLERR|POLLHUP, SO_ERROR ECONNREFUSED once (%d %#x %d %d)",
		       err, rev, e1, e2);
	}
	fam_close(&c);
	fam_close(&l);

	/* Bad addresses. */
	c = fam_socket(AF_NSTCP, 0);
	TAP_ERRNO(connect(c, (struct sockaddr *)&un, sizeof(un)), EAFNOSUPPORT,
		  "connect to an AF_UNIX address fails EAFNOSUPPORT");
	a = fam_addr("127.0.0.1", port);
	TAP_ERRNO(connect(c, &a.sa, 8), EINVAL,
		  "connect with an 8-byte sockaddr_in fails EINVAL");
	a = fam_addr("::1", port);
	TAP_ERRNO(connect(c, &a.sa, 20), EINVAL,
		  "connect with a 20-byte sockaddr_in6 fails EINVAL");
	TAP_ERRNO(connect(c, NULL, sizeof(struct sockaddr_in)), EFAULT,
		  "connect to a NULL address fails EFAULT");
	TAP_ERRNO(getpeername(c, &p.sa, &(socklen_t){ sizeof(p.ss) }), ENOTCONN,
		  "getpeername on a never-connected socket fails ENOTCONN");
	TAP_ERRNO(getsockname(c, &p.sa, NULL), EFAULT,
		  "getsockname with a NULL length fails EFAULT");
	fam_close(&c);
}

static int tfo_client_enabled(void)
{
	FILE *f = fopen("/proc/sys/net/ipv4/tcp_fastopen", "r");
	int v = 0;

	if (f) {
		if (fscanf(f, "%d", &v) != 1)
			v = 0;
		fclose(f);
	}
	return v & 1;
}

/* TCP Fast Open: sendto(MSG_FASTOPEN) takes the destination, converted. */
static void test_fastopen(void)
{
	static const char *const ips[2] = { "127.0.0.1", "::1" };
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	struct fam_stats before, after;
	struct fam_addr a, p;
	int l, port, c, s, v6;
	char buf[8];
	ssize_t n;

	if (!tfo_client_enabled()) {
		for (int i = 0; i < 7; i++)
			tap_skip("net.ipv4.tcp_fastopen client bit off", "fast open");
		return;
	}
	for (int i = 0; i < 2; i++) {
		l = fam_listen(AF_NSTCP, ips[i], 0, &port);
		c = fam_socket(AF_NSTCP, 0);
		a = fam_addr(ips[i], port);
		fam_read_stats(&before);
		n = sendto(c, "tfo", 3, MSG_FASTOPEN, &a.sa, a.len);
		fam_read_stats(&after);
		s = fam_accept(l, NULL);
		p = fam_name(c, 1);
		FAM_OK(n == 3 && s >= 0 && fam_recv_all(s, buf, 3) == 3 &&
		       !memcmp(buf, "tfo", 3) &&
		       fam_addr_is(&p.sa, p.len, ips[i], port),
		       "sendto(MSG_FASTOPEN) to %s connects and delivers (%zd, peer %s)",
		       ips[i], n, show(&p));
		FAM_OK(after.v[FAM_CONNECTS] - before.v[FAM_CONNECTS] >= 1,
		       "... counted as a connect (+%lu)",
		       after.v[FAM_CONNECTS] - before.v[FAM_CONNECTS]);
		fam_close(&c);
		fam_close(&s);
		fam_close(&l);
	}
	c = fam_socket(AF_NSTCP, 0);
	v6 = fam_socket(AF_INET6, 0);
	LIKE_INET6(EAFNOSUPPORT, c, v6,
		   sendto(FD, "x", 1, MSG_FASTOPEN, (struct sockaddr *)&un,
			  sizeof(un)),
		   "sendto(MSG_FASTOPEN) to an AF_UNIX address fails EAFNOSUPPORT, as AF_INET6");
	a = fam_addr("127.0.0.1", port);
	TAP_ERRNO(sendto(c, "x", 1, MSG_FASTOPEN, &a.sa, 8), EINVAL,
		  "sendto(MSG_FASTOPEN) with an 8-byte sockaddr_in fails EINVAL");
	a = fam_addr("::1", port);
	LIKE_INET6(EINVAL, c, v6, sendto(FD, "x", 1, MSG_FASTOPEN, &a.sa, 20),
		   "sendto(MSG_FASTOPEN) with a 20-byte sockaddr_in6 fails EINVAL, as AF_INET6");
	/* The port is closed now. */
	a = fam_addr("127.0.0.1", port);
	TAP_ERRNO(sendto(c, "x", 1, MSG_FASTOPEN | MSG_NOSIGNAL, &a.sa, a.len),
		  ECONNREFUSED, "sendto(MSG_FASTOPEN) to a closed port fails ECONNREFUSED");
	fam_close(&c);
	fam_close(&v6);
}

int main(void)
{
	fam_start(NCASES, 50);
	test_bind();
	test_v4only_v6only();
	test_listen_accept();
	test_connect();
	test_fastopen();
	return fam_finish();
}
