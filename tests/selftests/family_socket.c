// SPDX-License-Identifier: GPL-2.0
/*
 * Selftest: AF_NSTCP socket creation and socket options.  socket() types,
 * protocols and flags; SO_DOMAIN/SO_TYPE/SO_PROTOCOL; the SOL_NSTCP options
 * NSTCP_HOME_CPU and NSTCP_INFO with short, long and bad buffers; refused
 * and unknown options, unknown levels and short option buffers, each
 * checked against an AF_INET6 TCP socket in the same run.
 */
#include <sched.h>
#include <sys/stat.h>
#include <linux/in6.h>

#include "family_util.h"

#ifndef IPPROTO_MPTCP
#define IPPROTO_MPTCP 262
#endif
#ifndef SOCK_DCCP
#define SOCK_DCCP 6
#endif
#ifndef SOCK_PACKET
#define SOCK_PACKET 10
#endif

#define NCASES 79

static int ncpus;

/* One socket() that must fail with errno want, closing a stray success. */
static void bad_socket(int type, int proto, int want, const char *what)
{
	int fd;

	errno = 0;
	fd = socket(AF_NSTCP, type, proto);
	if (fd >= 0)
		close(fd);
	if (fd >= 0 || errno != want)
		tap_diag("socket(AF_NSTCP, %#x, %d) = %d errno %d", type, proto,
			 fd, errno);
	FAM_OK(fd < 0 && errno == want, "socket with %s fails %s", what,
	       strerror(want));
}

static int get_info(int fd, struct nstcp_info *info)
{
	socklen_t len = sizeof(*info);

	memset(info, 0xa5, sizeof(*info));
	if (getsockopt(fd, SOL_NSTCP, NSTCP_INFO, info, &len))
		return -1;
	return len == sizeof(*info) ? 0 : -1;
}

static void test_create(void)
{
	int fd, fd2, fl, fdfl;
	struct stat st;

	fd = socket(AF_NSTCP, SOCK_STREAM, 0);
	FAM_OK(fd >= 0 && !fstat(fd, &st) && S_ISSOCK(st.st_mode),
	       "socket(AF_NSTCP, SOCK_STREAM, 0) gives a socket");
	fd2 = socket(AF_NSTCP, SOCK_STREAM, IPPROTO_TCP);
	FAM_OK(fd2 >= 0, "socket(AF_NSTCP, SOCK_STREAM, IPPROTO_TCP) succeeds");
	fl = fcntl(fd, F_GETFL);
	fdfl = fcntl(fd, F_GETFD);
	FAM_OK(fl >= 0 && !(fl & O_NONBLOCK) && fdfl >= 0 &&
	       !(fdfl & FD_CLOEXEC) && (fl & O_ACCMODE) == O_RDWR,
	       "plain socket is blocking, O_RDWR and not close-on-exec");
	fam_close(&fd);
	fam_close(&fd2);

	fd = socket(AF_NSTCP, SOCK_STREAM | SOCK_NONBLOCK, 0);
	fl = fd >= 0 ? fcntl(fd, F_GETFL) : -1;
	fdfl = fd >= 0 ? fcntl(fd, F_GETFD) : -1;
	FAM_OK(fl >= 0 && (fl & O_NONBLOCK) && !(fdfl & FD_CLOEXEC),
	       "SOCK_NONBLOCK at socket() sets O_NONBLOCK only");
	fam_close(&fd);
	fd = socket(AF_NSTCP, SOCK_STREAM | SOCK_CLOEXEC, 0);
	fl = fd >= 0 ? fcntl(fd, F_GETFL) : -1;
	fdfl = fd >= 0 ? fcntl(fd, F_GETFD) : -1;
	FAM_OK(fl >= 0 && !(fl & O_NONBLOCK) && fdfl >= 0 &&
	       (fdfl & FD_CLOEXEC), "SOCK_CLOEXEC at socket() sets FD_CLOEXEC only");
	fam_close(&fd);
	fd = socket(AF_NSTCP, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	fl = fd >= 0 ? fcntl(fd, F_GETFL) : -1;
	fdfl = fd >= 0 ? fcntl(fd, F_GETFD) : -1;
	FAM_OK(fl >= 0 && (fl & O_NONBLOCK) && fdfl >= 0 && (fdfl & FD_CLOEXEC),
	       "SOCK_NONBLOCK | SOCK_CLOEXEC sets both");
	fam_close(&fd);

	bad_socket(SOCK_DGRAM, 0, ESOCKTNOSUPPORT, "SOCK_DGRAM");
	bad_socket(SOCK_RAW, 0, ESOCKTNOSUPPORT, "SOCK_RAW");
	bad_socket(SOCK_SEQPACKET, 0, ESOCKTNOSUPPORT, "SOCK_SEQPACKET");
	bad_socket(SOCK_RDM, 0, ESOCKTNOSUPPORT, "SOCK_RDM");
	bad_socket(SOCK_DCCP, 0, ESOCKTNOSUPPORT, "SOCK_DCCP");
	bad_socket(SOCK_PACKET, 0, ESOCKTNOSUPPORT, "SOCK_PACKET");
	bad_socket(SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_UDP,
		   ESOCKTNOSUPPORT, "SOCK_DGRAM|SOCK_NONBLOCK|SOCK_CLOEXEC, UDP");
	bad_socket(SOCK_STREAM, IPPROTO_UDP, EPROTONOSUPPORT, "IPPROTO_UDP");
	bad_socket(SOCK_STREAM, IPPROTO_SCTP, EPROTONOSUPPORT, "IPPROTO_SCTP");
	bad_socket(SOCK_STREAM, IPPROTO_MPTCP, EPROTONOSUPPORT, "IPPROTO_MPTCP");
	bad_socket(SOCK_STREAM, IPPROTO_RAW, EPROTONOSUPPORT, "IPPROTO_RAW");
	bad_socket(SOCK_STREAM, -1, EPROTONOSUPPORT, "protocol -1");

	errno = 0;
	{
		int sv[2] = { -1, -1 };
		int r = socketpair(AF_NSTCP, SOCK_STREAM, 0, sv);
		int e = errno;

		if (!r) {
			close(sv[0]);
			close(sv[1]);
		}
		FAM_OK(r == -1 && e == EOPNOTSUPP,
		       "socketpair(AF_NSTCP) fails EOPNOTSUPP, as for AF_INET6 (errno %d)",
		       e);
	}
}

static void test_identity(void)
{
	int fd = fam_socket(AF_NSTCP, 0), v6 = fam_socket(AF_INET6, 0);
	int dom, type, proto, acc, dom6;

	FAM_OK(!fam_getint(fd, SOL_SOCKET, SO_TYPE, &type) && type == SOCK_STREAM,
	       "SO_TYPE is SOCK_STREAM (%d)", type);
	FAM_OK(!fam_getint(fd, SOL_SOCKET, SO_PROTOCOL, &proto) &&
	       proto == IPPROTO_TCP, "SO_PROTOCOL is IPPROTO_TCP (%d)", proto);
	/*
	 * SOL_SOCKET options never reach the family's getsockopt: SO_DOMAIN
	 * is the family of the TCP sock underneath, as on an AF_INET6 socket.
	 */
	FAM_OK(!fam_getint(fd, SOL_SOCKET, SO_DOMAIN, &dom) &&
	       !fam_getint(v6, SOL_SOCKET, SO_DOMAIN, &dom6) && dom == AF_INET6 &&
	       dom6 == AF_INET6,
	       "SO_DOMAIN is the TCP sock's family, AF_INET6 (%d)", dom);
	FAM_OK(!fam_getint(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc) && acc == 0,
	       "SO_ACCEPTCONN is 0 before listen (%d)", acc);
	FAM_OK(!listen(fd, 1) && !fam_getint(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc) &&
	       acc == 1, "SO_ACCEPTCONN is 1 after listen (%d)", acc);
	fam_close(&fd);
	fam_close(&v6);
}

static void test_home_cpu(void)
{
	int fd = fam_socket(AF_NSTCP, 0), c, s, v = 0;
	char buf[16];
	socklen_t len;
	struct nstcp_info info;

	len = sizeof(v);
	FAM_OK(!getsockopt(fd, SOL_NSTCP, NSTCP_HOME_CPU, &v, &len) &&
	       len == sizeof(int) && v == -1,
	       "NSTCP_HOME_CPU of a fresh socket is -1 (%d, len %u)", v,
	       (unsigned int)len);
	len = 3;
	TAP_ERRNO(getsockopt(fd, SOL_NSTCP, NSTCP_HOME_CPU, &v, &len), EINVAL,
		  "NSTCP_HOME_CPU with optlen 3 fails EINVAL");
	len = 0;
	TAP_ERRNO(getsockopt(fd, SOL_NSTCP, NSTCP_HOME_CPU, &v, &len), EINVAL,
		  "NSTCP_HOME_CPU with optlen 0 fails EINVAL");
	len = (socklen_t)-1;
	TAP_ERRNO(getsockopt(fd, SOL_NSTCP, NSTCP_HOME_CPU, &v, &len), EINVAL,
		  "NSTCP_HOME_CPU with optlen -1 fails EINVAL");
	len = sizeof(buf);
	memset(buf, 0x5a, sizeof(buf));
	FAM_OK(!getsockopt(fd, SOL_NSTCP, NSTCP_HOME_CPU, buf, &len) &&
	       len == sizeof(int) && !memcmp(buf, &(int){ -1 }, 4) &&
	       buf[4] == 0x5a && buf[15] == 0x5a,
	       "NSTCP_HOME_CPU into 16 bytes writes 4, optlen 4 (%u)",
	       (unsigned int)len);
	len = sizeof(v);
	TAP_ERRNO(getsockopt(fd, SOL_NSTCP, NSTCP_HOME_CPU, NULL, &len), EFAULT,
		  "NSTCP_HOME_CPU into NULL fails EFAULT");
	TAP_ERRNO(getsockopt(fd, SOL_NSTCP, NSTCP_HOME_CPU, (void *)8, &len),
		  EFAULT, "NSTCP_HOME_CPU into a bad pointer fails EFAULT");
	TAP_ERRNO(getsockopt(fd, SOL_NSTCP, NSTCP_HOME_CPU, &v, NULL), EFAULT,
		  "NSTCP_HOME_CPU with a NULL optlen fails EFAULT");
	fam_close(&fd);

	if (fam_pair("127.0.0.1", &c, &s)) {
		FAM_OK(0, "connected pair for NSTCP_HOME_CPU");
		return;
	}
	/* The client learns its home from the SYN-ACK, the child from the SYN. */
	len = sizeof(v);
	v = -2;
	FAM_OK(!getsockopt(c, SOL_NSTCP, NSTCP_HOME_CPU, &v, &len) && v >= 0 &&
	       v < ncpus && !get_info(c, &info) && info.nsi_home_cpu == v,
	       "connected client's NSTCP_HOME_CPU is a CPU, as in NSTCP_INFO (%d, %d)",
	       v, info.nsi_home_cpu);
	v = -2;
	FAM_OK(!getsockopt(s, SOL_NSTCP, NSTCP_HOME_CPU, &v, &len) && v >= 0 &&
	       v < ncpus, "accepted socket's NSTCP_HOME_CPU is a CPU (%d)", v);
	fam_close(&c);
	fam_close(&s);
}

static void test_info(void)
{
	int fd = fam_socket(AF_NSTCP, 0), l, c, s, bad = 0;
	unsigned char buf[64];
	struct nstcp_info info;
	socklen_t len;
	cpu_set_t old, one;

	FAM_OK(!get_info(fd, &info) && info.nsi_home_cpu == -1 &&
	       info.nsi_call_cpu >= 0 && info.nsi_call_cpu < ncpus &&
	       info.nsi_family == AF_INET6 && info.nsi_flags == 0,
	       "NSTCP_INFO of a fresh socket: home -1, calling CPU, AF_INET6, no flags (%d %d %u %#x)",
	       info.nsi_home_cpu, info.nsi_call_cpu, info.nsi_family,
	       info.nsi_flags);

	memset(buf, 0x5a, sizeof(buf));
	len = 4;
	FAM_OK(!getsockopt(fd, SOL_NSTCP, NSTCP_INFO, buf, &len) && len == 4 &&
	       !memcmp(buf, &(int){ -1 }, 4) && buf[4] == 0x5a,
	       "NSTCP_INFO into 4 bytes gives nsi_home_cpu only, optlen 4 (%u)",
	       (unsigned int)len);
	memset(buf, 0x5a, sizeof(buf));
	len = 0;
	FAM_OK(!getsockopt(fd, SOL_NSTCP, NSTCP_INFO, buf, &len) && len == 0 &&
	       buf[0] == 0x5a, "NSTCP_INFO with optlen 0 succeeds writing nothing");
	memset(buf, 0x5a, sizeof(buf));
	len = sizeof(buf);
	FAM_OK(!getsockopt(fd, SOL_NSTCP, NSTCP_INFO, buf, &len) &&
	       len == sizeof(struct nstcp_info) &&
	       buf[sizeof(struct nstcp_info)] == 0x5a && buf[63] == 0x5a,
	       "NSTCP_INFO into 64 bytes writes the struct, optlen %zu (%u)",
	       sizeof(struct nstcp_info), (unsigned int)len);
	len = (socklen_t)-1;
	TAP_ERRNO(getsockopt(fd, SOL_NSTCP, NSTCP_INFO, buf, &len), EINVAL,
		  "NSTCP_INFO with optlen -1 fails EINVAL");
	len = sizeof(info);
	TAP_ERRNO(getsockopt(fd, SOL_NSTCP, NSTCP_INFO, NULL, &len), EFAULT,
		  "NSTCP_INFO into NULL fails EFAULT");
	TAP_ERRNO(getsockopt(fd, SOL_NSTCP, NSTCP_INFO, (void *)8, &len), EFAULT,
		  "NSTCP_INFO into a bad pointer fails EFAULT");
	TAP_ERRNO(getsockopt(fd, SOL_NSTCP, NSTCP_INFO, &info, (void *)8),
		  EFAULT, "NSTCP_INFO with a bad optlen pointer fails EFAULT");

	/* nsi_call_cpu is the CPU the call ran on. */
	sched_getaffinity(0, sizeof(old), &old);
	for (int cpu = 0; cpu < ncpus; cpu++) {
		if (!CPU_ISSET(cpu, &old))
			continue;
		CPU_ZERO(&one);
		CPU_SET(cpu, &one);
		if (sched_setaffinity(0, sizeof(one), &one) ||
		    get_info(fd, &info) || info.nsi_call_cpu != cpu) {
			tap_diag("pinned to CPU %d, nsi_call_cpu %d", cpu,
				 info.nsi_call_cpu);
			bad++;
		}
	}
	sched_setaffinity(0, sizeof(old), &old);
	FAM_OK(!bad, "nsi_call_cpu is the CPU the caller is pinned to, on every CPU");

	FAM_OK(!fam_setint(fd, SOL_IPV6, IPV6_V6ONLY, 1) && !get_info(fd, &info) &&
	       info.nsi_flags == NSTCP_INFO_V6ONLY,
	       "NSTCP_INFO flags NSTCP_INFO_V6ONLY after IPV6_V6ONLY (%#x)",
	       info.nsi_flags);
	FAM_OK(!listen(fd, 1) && !get_info(fd, &info) &&
	       info.nsi_flags == (NSTCP_INFO_V6ONLY | NSTCP_INFO_LISTENING),
	       "NSTCP_INFO flags NSTCP_INFO_LISTENING after listen (%#x)",
	       info.nsi_flags);
	fam_close(&fd);

	l = fam_listen(AF_NSTCP, "127.0.0.1", 0, NULL);
	FAM_OK(l >= 0 && !get_info(l, &info) && info.nsi_family == AF_INET &&
	       info.nsi_flags == NSTCP_INFO_LISTENING,
	       "NSTCP_INFO of a listener on 127.0.0.1: AF_INET, listening (%u %#x)",
	       info.nsi_family, info.nsi_flags);
	fam_close(&l);

	if (fam_pair("127.0.0.1", &c, &s)) {
		FAM_OK(0, "IPv4 pair for NSTCP_INFO");
	} else {
		FAM_OK(!get_info(c, &info) && info.nsi_family == AF_INET &&
		       info.nsi_flags == 0 && info.nsi_home_cpu >= 0 &&
		       info.nsi_home_cpu < ncpus && !get_info(s, &info) &&
		       info.nsi_family == AF_INET && info.nsi_home_cpu >= 0,
		       "NSTCP_INFO of an IPv4 connection: wire family AF_INET, home set");
	}
	fam_close(&c);
	fam_close(&s);
	if (fam_pair("::1", &c, &s)) {
		FAM_OK(0, "IPv6 pair for NSTCP_INFO");
	} else {
		FAM_OK(!get_info(c, &info) && info.nsi_family == AF_INET6 &&
		       info.nsi_flags == 0 && !get_info(s, &info) &&
		       info.nsi_family == AF_INET6,
		       "NSTCP_INFO of an IPv6 connection: wire family AF_INET6 (%u)",
		       info.nsi_family);
	}
	fam_close(&c);
	fam_close(&s);
}

static void test_refused_options(void)
{
	int fd = fam_socket(AF_NSTCP, 0), v6 = fam_socket(AF_INET6, 0);
	int v = 0, c, s, n = 0;
	socklen_t len = sizeof(v);
	char ulp[16];

	TAP_ERRNO(getsockopt(fd, SOL_NSTCP, 0, &v, &len), ENOPROTOOPT,
		  "getsockopt(SOL_NSTCP, 0) fails ENOPROTOOPT");
	len = sizeof(v);
	TAP_ERRNO(getsockopt(fd, SOL_NSTCP, 99, &v, &len), ENOPROTOOPT,
		  "getsockopt(SOL_NSTCP, 99) fails ENOPROTOOPT");
	len = sizeof(v);
	TAP_ERRNO(getsockopt(fd, SOL_NSTCP, -1, &v, &len), ENOPROTOOPT,
		  "getsockopt(SOL_NSTCP, -1) fails ENOPROTOOPT");
	TAP_ERRNO(setsockopt(fd, SOL_NSTCP, NSTCP_HOME_CPU, &v, sizeof(v)),
		  ENOPROTOOPT, "setsockopt(SOL_NSTCP, NSTCP_HOME_CPU) fails ENOPROTOOPT");
	TAP_ERRNO(setsockopt(fd, SOL_NSTCP, NSTCP_INFO, &v, sizeof(v)),
		  ENOPROTOOPT, "setsockopt(SOL_NSTCP, NSTCP_INFO) fails ENOPROTOOPT");
	TAP_ERRNO(setsockopt(fd, SOL_NSTCP, 99, NULL, 0), ENOPROTOOPT,
		  "setsockopt(SOL_NSTCP, 99, NULL, 0) fails ENOPROTOOPT");

	TAP_ERRNO(setsockopt(fd, SOL_TCP, TCP_ULP, "tls", 3), EOPNOTSUPP,
		  "setsockopt(SOL_TCP, TCP_ULP, \"tls\") fails EOPNOTSUPP");
	len = sizeof(ulp);
	memset(ulp, 'x', sizeof(ulp));
	FAM_OK(!getsockopt(fd, SOL_TCP, TCP_ULP, ulp, &len) && len == 0 &&
	       ulp[0] == 'x', "getsockopt(SOL_TCP, TCP_ULP) reports no ULP (len %u)",
	       (unsigned int)len);

	/* Unknown levels and names behave as on AF_INET6. */
	LIKE_INET6(ENOPROTOOPT, fd, v6,
		   getsockopt(FD, 0x7777, 1, &v, &(socklen_t){ sizeof(v) }),
		   "getsockopt at an unknown level fails ENOPROTOOPT, as AF_INET6");
	LIKE_INET6(ENOPROTOOPT, fd, v6, setsockopt(FD, 0x7777, 1, &v, sizeof(v)),
		   "setsockopt at an unknown level fails ENOPROTOOPT, as AF_INET6");
	LIKE_INET6(ENOPROTOOPT, fd, v6,
		   getsockopt(FD, SOL_TCP, 9999, &v, &(socklen_t){ sizeof(v) }),
		   "unknown SOL_TCP getsockopt fails ENOPROTOOPT, as AF_INET6");
	LIKE_INET6(ENOPROTOOPT, fd, v6, setsockopt(FD, SOL_TCP, 9999, &v, sizeof(v)),
		   "unknown SOL_TCP setsockopt fails ENOPROTOOPT, as AF_INET6");
	LIKE_INET6(ENOPROTOOPT, fd, v6,
		   getsockopt(FD, SOL_SOCKET, 9999, &v, &(socklen_t){ sizeof(v) }),
		   "unknown SOL_SOCKET getsockopt fails ENOPROTOOPT, as AF_INET6");
	LIKE_INET6(ENOPROTOOPT, fd, v6,
		   getsockopt(FD, SOL_IPV6, 9999, &v, &(socklen_t){ sizeof(v) }),
		   "unknown SOL_IPV6 getsockopt fails ENOPROTOOPT, as AF_INET6");

	/* Short and bad option buffers. */
	LIKE_INET6(EINVAL, fd, v6, setsockopt(FD, SOL_SOCKET, SO_KEEPALIVE, &v, 2),
		   "SO_KEEPALIVE with optlen 2 fails EINVAL, as AF_INET6");
	LIKE_INET6(EINVAL, fd, v6, setsockopt(FD, SOL_TCP, TCP_NODELAY, &v, 2),
		   "TCP_NODELAY with optlen 2 fails EINVAL, as AF_INET6");
	LIKE_INET6(EINVAL, fd, v6, setsockopt(FD, SOL_IPV6, IPV6_V6ONLY, &v, 2),
		   "IPV6_V6ONLY with optlen 2 fails EINVAL, as AF_INET6");
	LIKE_INET6(EINVAL, fd, v6,
		   getsockopt(FD, SOL_SOCKET, SO_TYPE, &v, &(socklen_t){ -1 }),
		   "getsockopt(SO_TYPE) with optlen -1 fails EINVAL, as AF_INET6");
	LIKE_INET6(EINVAL, fd, v6,
		   getsockopt(FD, SOL_TCP, TCP_NODELAY, &v, &(socklen_t){ -1 }),
		   "getsockopt(TCP_NODELAY) with optlen -1 fails EINVAL, as AF_INET6");
	LIKE_INET6(EFAULT, fd, v6,
		   getsockopt(FD, SOL_SOCKET, SO_TYPE, (void *)8,
			      &(socklen_t){ sizeof(v) }),
		   "getsockopt(SO_TYPE) into a bad pointer fails EFAULT, as AF_INET6");
	LIKE_INET6(EFAULT, fd, v6, setsockopt(FD, SOL_TCP, TCP_NODELAY, NULL, 4),
		   "setsockopt(TCP_NODELAY) from NULL fails EFAULT, as AF_INET6");
	LIKE_INET6(EFAULT, fd, v6,
		   getsockopt(FD, SOL_TCP, TCP_INFO, &v, NULL),
		   "getsockopt(TCP_INFO) with a NULL optlen fails EFAULT, as AF_INET6");
	{
		struct tcp_info ti;

		memset(&ti, 0xff, sizeof(ti));
		len = 1;
		FAM_OK(!getsockopt(fd, SOL_TCP, TCP_INFO, &ti, &len) && len == 1 &&
		       ti.tcpi_state == TCP_CLOSE && ti.tcpi_ca_state == 0xff,
		       "TCP_INFO into 1 byte gives tcpi_state only (len %u, state %u)",
		       (unsigned int)len, ti.tcpi_state);
	}
	len = 0;
	v = 77;
	FAM_OK(!getsockopt(fd, SOL_SOCKET, SO_TYPE, &v, &len) && len == 0 && v == 77,
	       "getsockopt(SO_TYPE) with optlen 0 succeeds writing nothing");

	/*
	 * IPV6_ADDRFORM would turn the socket into a plain AF_INET one,
	 * replacing the family's proto_ops: refused like TCP_ULP.
	 */
	if (fam_pair("127.0.0.1", &c, &s)) {
		FAM_OK(0, "IPv4 pair for IPV6_ADDRFORM");
		FAM_OK(0, "IPv4 pair for TCP_ULP");
	} else {
		int af = AF_INET;
		char b = 0;

		TAP_ERRNO(setsockopt(c, SOL_IPV6, IPV6_ADDRFORM, &af, sizeof(af)),
			  EOPNOTSUPP,
			  "IPV6_ADDRFORM on a connected IPv4 socket fails EOPNOTSUPP");
		n = TAP_ERRNO(setsockopt(s, SOL_TCP, TCP_ULP, "tls", 3), EOPNOTSUPP,
			      "TCP_ULP \"tls\" on a connected socket fails EOPNOTSUPP");
		/* The connection still works after the refusals. */
		if (n)
			FAM_OK(send(c, "z", 1, 0) == 1 && recv(s, &b, 1, 0) == 1 &&
			       b == 'z', "connection works after refused options");
		else
			FAM_OK(0, "connection works after refused options");
	}
	fam_close(&c);
	fam_close(&s);

	/* Unconnected data calls behave as on AF_INET6. */
	LIKE_INET6(ENOTCONN, fd, v6, recv(FD, &v, 1, MSG_DONTWAIT),
		   "recv on an unconnected socket fails ENOTCONN, as AF_INET6");
	LIKE_INET6(EPIPE, fd, v6, send(FD, &v, 1, MSG_NOSIGNAL),
		   "send on an unconnected socket fails EPIPE, as AF_INET6");
	LIKE_INET6(ENOTCONN, fd, v6, shutdown(FD, SHUT_RDWR),
		   "shutdown on an unconnected socket fails ENOTCONN, as AF_INET6");
	fam_close(&fd);
	fam_close(&v6);
}

/* Many sockets in a row, half of them listening; all counted and released. */
static void test_churn(void)
{
	int bad = 0;

	for (int i = 0; i < 200; i++) {
		int fd = socket(AF_NSTCP, SOCK_STREAM, 0);

		if (fd < 0 || (i & 1 && listen(fd, 4)))
			bad++;
		if (fd >= 0)
			close(fd);
	}
	FAM_OK(!bad, "200 sockets created and closed (%d failed)", bad);
}

int main(void)
{
	ncpus = sysconf(_SC_NPROCESSORS_CONF);
	fam_start(NCASES, 50);
	test_create();
	test_identity();
	test_home_cpu();
	test_info();
	test_refused_options();
	test_churn();
	return fam_finish();
}
