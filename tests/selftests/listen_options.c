// SPDX-License-Identifier: GPL-2.0
/*
 * Selftest: the options of an AF_NSTCP listening socket reach its per-CPU
 * listeners.  Options a TCP listener passes on to the sockets it accepts,
 * set before and after listen(), read the same on a socket accepted from
 * AF_NSTCP as from AF_INET (over 127.0.0.1, and over ::1 against
 * AF_INET6); options that act on the listener itself (SO_BINDTODEVICE,
 * IPV6_V6ONLY, IP_FREEBIND, TCP_DEFER_ACCEPT, TCP_FASTOPEN, TCP_SAVE_SYN,
 * a socket filter, SO_RCVBUF's window scale, TCP_MD5SIG) act the same on
 * both families; SO_ATTACH_REUSEPORT_CBPF is refused on AF_NSTCP.  Each
 * case runs both families in the same run and compares them.  Runs in a
 * network namespace of its own.
 */
#include <linux/filter.h>

#include "listen_util.h"

#define N_INHERIT	21
#define NCASES		(2 * N_INHERIT + 2 + 23)
#define LST_IP6		"::1"
#define DUMMY_DEV	"nstd0"

enum { BEFORE, AFTER };

static const char *fname(int family)
{
	switch (family) {
	case AF_INET:
		return "AF_INET";
	case AF_INET6:
		return "AF_INET6";
	case AF_NSTCP:
		return "AF_NSTCP";
	}
	return "?";
}

static const char *wname(int when)
{
	return when == BEFORE ? "before listen()" : "after listen()";
}

/* An option under test: how to set it and how to show what it reads. */
enum { K_INT, K_LINGER, K_TV, K_STR };

struct opt {
	const char *name;
	int level, optname, kind, val;
	const char *str;
	int v6;			/* in the ::1 case; 2: only there */
	int same;		/* 6.1 accepted sockets do not inherit it */
};

static const struct opt opts[] = {
	{ "SO_RCVBUF", SOL_SOCKET, SO_RCVBUF, K_INT, 40000, NULL, 1, 0 },
	{ "SO_SNDBUF", SOL_SOCKET, SO_SNDBUF, K_INT, 30000, NULL, 1, 0 },
	{ "SO_KEEPALIVE", SOL_SOCKET, SO_KEEPALIVE, K_INT, 1, NULL, 1, 0 },
	{ "SO_MARK", SOL_SOCKET, SO_MARK, K_INT, 77, NULL, 1, 0 },
	{ "SO_PRIORITY", SOL_SOCKET, SO_PRIORITY, K_INT, 5, NULL, 1, 1 },
	{ "SO_LINGER", SOL_SOCKET, SO_LINGER, K_LINGER, 7, NULL, 1, 0 },
	{ "SO_RCVLOWAT", SOL_SOCKET, SO_RCVLOWAT, K_INT, 100, NULL, 1, 0 },
	{ "SO_RCVTIMEO", SOL_SOCKET, SO_RCVTIMEO, K_TV, 3500, NULL, 1, 0 },
	{ "IP_TOS", SOL_IP, IP_TOS, K_INT, 0x10, NULL, 0, 0 },
	{ "IP_TTL", SOL_IP, IP_TTL, K_INT, 33, NULL, 0, 0 },
	{ "TCP_NODELAY", SOL_TCP, TCP_NODELAY, K_INT, 1, NULL, 1, 0 },
	{ "TCP_MAXSEG", SOL_TCP, TCP_MAXSEG, K_INT, 1000, NULL, 1, 0 },
	{ "TCP_KEEPIDLE", SOL_TCP, TCP_KEEPIDLE, K_INT, 100, NULL, 1, 0 },
	{ "TCP_KEEPINTVL", SOL_TCP, TCP_KEEPINTVL, K_INT, 20, NULL, 1, 0 },
	{ "TCP_KEEPCNT", SOL_TCP, TCP_KEEPCNT, K_INT, 4, NULL, 1, 0 },
	{ "TCP_USER_TIMEOUT", SOL_TCP, TCP_USER_TIMEOUT, K_INT, 12345, NULL, 1, 0 },
	{ "TCP_NOTSENT_LOWAT", SOL_TCP, TCP_NOTSENT_LOWAT, K_INT, 16384, NULL, 1, 0 },
	{ "TCP_CONGESTION", SOL_TCP, TCP_CONGESTION, K_STR, 0, "reno", 1, 0 },
	{ "TCP_WINDOW_CLAMP", SOL_TCP, TCP_WINDOW_CLAMP, K_INT, 20000, NULL, 1, 0 },
	{ "TCP_LINGER2", SOL_TCP, TCP_LINGER2, K_INT, 30, NULL, 1, 0 },
	{ "TCP_SYNCNT", SOL_TCP, TCP_SYNCNT, K_INT, 3, NULL, 1, 0 },
	{ "IPV6_TCLASS", SOL_IPV6, IPV6_TCLASS, K_INT, 0x20, NULL, 2, 0 },
	{ "IPV6_UNICAST_HOPS", SOL_IPV6, IPV6_UNICAST_HOPS, K_INT, 44, NULL, 2, 0 },
};

#define NOPTS	((int)(sizeof(opts) / sizeof(opts[0])))

/* What an option reads: its bytes, and a printable form. */
struct optval {
	int err;
	socklen_t len;
	unsigned char buf[64];
	char text[64];
};

static int reno_ok;

static int opt_set(int fd, const struct opt *o)
{
	struct linger lg = { .l_onoff = 1, .l_linger = o->val };
	struct timeval tv = { .tv_sec = o->val / 1000,
			      .tv_usec = o->val % 1000 * 1000 };

	switch (o->kind) {
	case K_LINGER:
		return setsockopt(fd, o->level, o->optname, &lg, sizeof(lg));
	case K_TV:
		return setsockopt(fd, o->level, o->optname, &tv, sizeof(tv));
	case K_STR:
		return setsockopt(fd, o->level, o->optname, o->str,
				  strlen(o->str));
	}
	return setsockopt(fd, o->level, o->optname, &o->val, sizeof(o->val));
}

static void opt_get(int fd, const struct opt *o, struct optval *v)
{
	memset(v, 0, sizeof(*v));
	v->len = sizeof(v->buf);
	v->err = getsockopt(fd, o->level, o->optname, v->buf, &v->len) ?
		 errno : 0;
	if (v->err) {
		snprintf(v->text, sizeof(v->text), "error %s", strerror(v->err));
		return;
	}
	switch (o->kind) {
	case K_LINGER: {
		struct linger *lg = (void *)v->buf;

		snprintf(v->text, sizeof(v->text), "{%d, %d}", lg->l_onoff,
			 lg->l_linger);
		break;
	}
	case K_TV: {
		struct timeval *tv = (void *)v->buf;

		snprintf(v->text, sizeof(v->text), "%ld.%06ld s",
			 (long)tv->tv_sec, (long)tv->tv_usec);
		break;
	}
	case K_STR:
		snprintf(v->text, sizeof(v->text), "\"%.*s\"", (int)v->len,
			 (char *)v->buf);
		break;
	default:
		snprintf(v->text, sizeof(v->text), "%d", *(int *)v->buf);
	}
}

static int opt_same(const struct optval *a, const struct optval *b)
{
	if (a->err || b->err)
		return a->err == b->err;
	if (a->len != b->len)
		return 0;
	if (a->len == sizeof(int) || a->len == sizeof(struct linger) ||
	    a->len == sizeof(struct timeval))
		return !memcmp(a->buf, b->buf, a->len);
	return !strncmp((char *)a->buf, (char *)b->buf, a->len);
}

static int opt_used(const struct opt *o, int v6)
{
	if (o->kind == K_STR && !reno_ok)
		return 0;
	return v6 ? o->v6 >= 1 : o->v6 < 2;
}

/* A listening socket of family on ip (port 0), its port in *port. */
static int bind_listen(int fd, const char *ip, int *port)
{
	struct fam_addr a = fam_addr(ip, 0);

	if (bind(fd, &a.sa, a.len) || listen(fd, 16)) {
		tap_diag("bind/listen on %s: %s", ip, strerror(errno));
		return -1;
	}
	*port = fam_local_port(fd);
	return 0;
}

/* accept() with a bounded wait, without touching the accepted socket. */
static int accept_within(int lfd, int ms)
{
	if (!(fam_wait(lfd, POLLIN, ms) & POLLIN))
		return -1;
	return accept(lfd, NULL, NULL);
}

/*
 * A listener of family on ip with the options mask (bit per opts[] entry;
 * -1: those of the v6 case) set when; one connection; what the accepted
 * socket reads for every option into vals.  0 or -1.
 */
static int accepted_values(int family, const char *ip, unsigned long mask,
			   int when, struct optval *vals)
{
	int lfd = socket(family, SOCK_STREAM, 0), cfd = -1, afd = -1, port;
	int ret = -1;

	if (lfd < 0) {
		tap_diag("socket(%s): %s", fname(family), strerror(errno));
		return -1;
	}
	for (int i = 0; i < NOPTS && when == BEFORE; i++)
		if ((mask & (1ul << i)) && opt_set(lfd, &opts[i]))
			tap_diag("%s: set %s before listen(): %s",
				 fname(family), opts[i].name, strerror(errno));
	if (bind_listen(lfd, ip, &port))
		goto out;
	for (int i = 0; i < NOPTS && when == AFTER; i++)
		if ((mask & (1ul << i)) && opt_set(lfd, &opts[i]))
			tap_diag("%s: set %s after listen(): %s",
				 fname(family), opts[i].name, strerror(errno));
	cfd = lst_connect(ip, port, FAM_TIMEOUT_MS);
	if (cfd < 0) {
		tap_diag("%s: connect to %s port %d: %s", fname(family), ip,
			 port, strerror(errno));
		goto out;
	}
	afd = accept_within(lfd, FAM_TIMEOUT_MS);
	if (afd < 0) {
		tap_diag("%s: nothing accepted", fname(family));
		goto out;
	}
	for (int i = 0; i < NOPTS; i++)
		opt_get(afd, &opts[i], &vals[i]);
	ret = 0;
out:
	fam_close(&afd);
	fam_close(&cfd);
	fam_close(&lfd);
	return ret;
}

static void test_inherited(void)
{
	static struct optval def[NOPTS], in[NOPTS], ns[NOPTS];
	int differ = 1, got_def;
	char bad[256] = "";

	got_def = !accepted_values(AF_INET, LST_IP, 0, BEFORE, def);
	for (int when = BEFORE; when <= AFTER; when++) {
		for (int i = 0; i < NOPTS; i++) {
			const struct opt *o = &opts[i];
			int a, b, ok;

			if (o->v6 == 2)
				continue;
			if (!opt_used(o, 0)) {
				tap_skip("reno is not in tcp_available_congestion_control",
					 "%s %s: inherited alike", o->name,
					 wname(when));
				continue;
			}
			a = accepted_values(AF_INET, LST_IP, 1ul << i, when, in);
			b = accepted_values(AF_NSTCP, LST_IP, 1ul << i, when, ns);
			ok = !a && !b && !in[i].err && opt_same(&in[i], &ns[i]);
			if (got_def && !in[i].err && opt_same(&in[i], &def[i]) &&
			    !o->same) {
				differ = 0;
				snprintf(bad + strlen(bad), sizeof(bad) - strlen(bad),
					 " %s(%s)", o->name, wname(when));
			}
			FAM_OK(ok, "%s %s: accepted AF_NSTCP socket reads %s, AF_INET %s (default %s)",
			       o->name, wname(when), ns[i].text, in[i].text,
			       def[i].text);
		}
	}
	FAM_OK(got_def && differ,
	       "every option set on an AF_INET listener changed what its accepted socket reads (SO_PRIORITY is not passed on)%s",
	       bad);

	/* IPv6: all at once over ::1, against AF_INET6. */
	{
		unsigned long mask = 0;
		int a, b, ok;

		for (int i = 0; i < NOPTS; i++)
			if (opt_used(&opts[i], 1))
				mask |= 1ul << i;
		a = accepted_values(AF_INET6, LST_IP6, mask, BEFORE, in);
		b = accepted_values(AF_NSTCP, LST_IP6, mask, BEFORE, ns);
		ok = !a && !b;
		for (int i = 0; i < NOPTS && ok; i++) {
			if (!(mask & (1ul << i)))
				continue;
			if (in[i].err || !opt_same(&in[i], &ns[i])) {
				tap_diag("::1: %s reads %s on AF_NSTCP, %s on AF_INET6",
					 opts[i].name, ns[i].text, in[i].text);
				ok = 0;
			}
		}
		FAM_OK(ok, "::1: every option set before listen() reads the same on accepted AF_NSTCP and AF_INET6 sockets");
	}
}

/* -------- listener-scope options -------- */

/*
 * A nonblocking connect from a new socket (AF_INET or AF_INET6 by ip),
 * optionally with an MD5 key for the peer: the connected fd within ms, or
 * -1 with *err the connect error (ETIMEDOUT: not connected in time).
 */
static int connect_within(const char *ip, int port, int ms, const char *md5,
			  int *err)
{
	struct fam_addr a = fam_addr(ip, port);
	int fd = socket(a.sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK, 0), e = 0;
	socklen_t len = sizeof(e);

	*err = 0;
	if (fd < 0) {
		*err = errno;
		return -1;
	}
	if (md5) {
		struct tcp_md5sig sig = { .tcpm_keylen = strlen(md5) };

		memcpy(&sig.tcpm_addr, &a.ss, a.len);
		memcpy(sig.tcpm_key, md5, strlen(md5));
		if (setsockopt(fd, SOL_TCP, TCP_MD5SIG, &sig, sizeof(sig))) {
			*err = errno;
			close(fd);
			return -1;
		}
	}
	if (connect(fd, &a.sa, a.len) && errno != EINPROGRESS) {
		*err = errno;
		close(fd);
		return -1;
	}
	if (!(fam_wait(fd, POLLOUT, ms) & (POLLOUT | POLLERR | POLLHUP))) {
		*err = ETIMEDOUT;
		close(fd);
		return -1;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len) || e) {
		*err = e ? e : errno;
		close(fd);
		return -1;
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	fam_timeouts(fd, FAM_TIMEOUT_MS);
	return fd;
}

/* The outcome of one connection to a listener. */
struct conn {
	int err;		/* connect's error, 0 if connected */
	int accepted;		/* accept() gave a socket */
};

static const char *conn_text(const struct conn *c, char *buf, size_t len)
{
	if (c->err)
		snprintf(buf, len, "connect %s", strerror(c->err));
	else
		snprintf(buf, len, "connected, %s",
			 c->accepted ? "accepted" : "not accepted");
	return buf;
}

static int conn_same(const struct conn *a, const struct conn *b)
{
	return a->err == b->err && a->accepted == b->accepted;
}

/* A connection to lfd's port at ip: connect within ms, then accept. */
static struct conn try_conn(int lfd, const char *ip, int port, int ms)
{
	struct conn c = { 0 };
	int cfd = connect_within(ip, port, ms, NULL, &c.err), afd;

	if (cfd >= 0) {
		afd = accept_within(lfd, FAM_TIMEOUT_MS);
		c.accepted = afd >= 0;
		if (afd >= 0)
			close(afd);
		close(cfd);
	}
	return c;
}

static int dummy_ok;

static void test_bindtodevice(void)
{
	static const struct { const char *dev; int when; } v[] = {
		{ "lo", BEFORE }, { DUMMY_DEV, BEFORE }, { DUMMY_DEV, AFTER },
	};
	static const int fams[] = { AF_INET, AF_NSTCP };

	for (unsigned int k = 0; k < sizeof(v) / sizeof(v[0]); k++) {
		struct conn c[2] = { { 0 } };
		char t0[64], t1[64];
		int ok = 1;

		if (!dummy_ok && strcmp(v[k].dev, "lo")) {
			tap_skip("no dummy device (ip link add ... type dummy failed)",
				 "SO_BINDTODEVICE %s", v[k].dev);
			continue;
		}
		for (int f = 0; f < 2; f++) {
			int lfd = socket(fams[f], SOCK_STREAM, 0), port = 0;
			int len = strlen(v[k].dev) + 1, e = 0;

			if (v[k].when == BEFORE)
				e = setsockopt(lfd, SOL_SOCKET, SO_BINDTODEVICE,
					       v[k].dev, len);
			if (!e)
				e = bind_listen(lfd, LST_IP, &port);
			if (!e && v[k].when == AFTER)
				e = setsockopt(lfd, SOL_SOCKET, SO_BINDTODEVICE,
					       v[k].dev, len);
			if (e) {
				tap_diag("%s: SO_BINDTODEVICE %s: %s",
					 fname(fams[f]), v[k].dev, strerror(errno));
				ok = 0;
			} else {
				c[f] = try_conn(lfd, LST_IP, port, 1000);
			}
			close(lfd);
		}
		if (!strcmp(v[k].dev, "lo"))
			ok &= !c[0].err && c[0].accepted;
		else
			ok &= c[0].err != 0;	/* AF_INET refuses: can fail */
		FAM_OK(ok && conn_same(&c[0], &c[1]),
		       "SO_BINDTODEVICE %s %s, 127.0.0.1 client: AF_NSTCP %s, AF_INET %s",
		       v[k].dev, wname(v[k].when), conn_text(&c[1], t1, sizeof(t1)),
		       conn_text(&c[0], t0, sizeof(t0)));
	}
}

static void test_v6only(void)
{
	static const int fams[] = { AF_INET6, AF_NSTCP };

	for (int only = 1; only >= 0; only--) {
		struct conn c4[2] = { { 0 } }, c6[2] = { { 0 } };
		char a[64], b[64], x[64], y[64];
		int ok = 1;

		for (int f = 0; f < 2; f++) {
			int lfd = socket(fams[f], SOCK_STREAM, 0), port;

			if (fam_setint(lfd, SOL_IPV6, IPV6_V6ONLY, only) ||
			    bind_listen(lfd, "::", &port)) {
				tap_diag("%s: V6ONLY listener: %s", fname(fams[f]),
					 strerror(errno));
				ok = 0;
			} else {
				c4[f] = try_conn(lfd, LST_IP, port, 1000);
				c6[f] = try_conn(lfd, LST_IP6, port, 1000);
			}
			close(lfd);
		}
		ok &= only ? c4[0].err == ECONNREFUSED : c4[0].accepted;
		ok &= c6[0].accepted;
		FAM_OK(ok && conn_same(&c4[0], &c4[1]) && conn_same(&c6[0], &c6[1]),
		       "IPV6_V6ONLY=%d on [::]: 127.0.0.1 AF_NSTCP %s, AF_INET6 %s; ::1 AF_NSTCP %s, AF_INET6 %s",
		       only, conn_text(&c4[1], a, sizeof(a)),
		       conn_text(&c4[0], b, sizeof(b)),
		       conn_text(&c6[1], x, sizeof(x)),
		       conn_text(&c6[0], y, sizeof(y)));
	}
}

static void test_freebind(void)
{
	static const int fams[] = { AF_INET, AF_NSTCP };
	int e[2][2];		/* [freebind][family]: bind errno */
	int le[2] = { -1, -1 };	/* listen errno with freebind */

	for (int fb = 0; fb <= 1; fb++) {
		for (int f = 0; f < 2; f++) {
			struct fam_addr a = fam_addr("198.18.7.1", 0);
			int fd = socket(fams[f], SOCK_STREAM, 0);

			if (fb && fam_setint(fd, SOL_IP, IP_FREEBIND, 1))
				tap_diag("%s: IP_FREEBIND: %s", fname(fams[f]),
					 strerror(errno));
			e[fb][f] = FAM_ERR(bind(fd, &a.sa, a.len));
			if (fb && !e[fb][f])
				le[f] = FAM_ERR(listen(fd, 16));
			close(fd);
		}
	}
	FAM_OK(e[0][0] == EADDRNOTAVAIL && e[0][1] == EADDRNOTAVAIL,
	       "bind to non-local 198.18.7.1 without IP_FREEBIND: AF_NSTCP %s, AF_INET %s",
	       strerror(e[0][1]), strerror(e[0][0]));
	FAM_OK(!e[1][0] && !e[1][1] && !le[0] && !le[1],
	       "with IP_FREEBIND bind and listen succeed: AF_NSTCP %s/%s, AF_INET %s/%s",
	       strerror(e[1][1]), strerror(le[1]), strerror(e[1][0]),
	       strerror(le[0]));
}

static void test_defer_accept(void)
{
	static const int fams[] = { AF_INET, AF_NSTCP };

	for (int when = BEFORE; when <= AFTER; when++) {
		int early[2] = { -1, -1 }, late[2] = { -1, -1 };

		for (int f = 0; f < 2; f++) {
			int lfd = socket(fams[f], SOCK_STREAM, 0), port, cfd, afd;
			int e = 0;

			if (when == BEFORE)
				e = fam_setint(lfd, SOL_TCP, TCP_DEFER_ACCEPT, 3);
			if (!e)
				e = bind_listen(lfd, LST_IP, &port);
			if (!e && when == AFTER)
				e = fam_setint(lfd, SOL_TCP, TCP_DEFER_ACCEPT, 3);
			cfd = e ? -1 : lst_connect(LST_IP, port, FAM_TIMEOUT_MS);
			if (cfd >= 0) {
				early[f] = !!(fam_wait(lfd, POLLIN, 500) & POLLIN);
				if (lst_request(cfd))
					tap_diag("send: %s", strerror(errno));
				afd = accept_within(lfd, 2000);
				late[f] = afd >= 0;
				if (afd >= 0)
					close(afd);
				close(cfd);
			} else {
				tap_diag("%s: TCP_DEFER_ACCEPT listener/connect: %s",
					 fname(fams[f]), strerror(errno));
			}
			close(lfd);
		}
		FAM_OK(early[0] == 0 && early[1] == 0,
		       "TCP_DEFER_ACCEPT %s: nothing to accept 500 ms after a silent connect (AF_NSTCP %d, AF_INET %d)",
		       wname(when), early[1], early[0]);
		FAM_OK(late[0] == 1 && late[1] == 1,
		       "TCP_DEFER_ACCEPT %s: accepted once data came (AF_NSTCP %d, AF_INET %d)",
		       wname(when), late[1], late[0]);
	}
}

/* TcpExt counter from /proc/net/netstat of this namespace; -1 if absent. */
static long netstat_get(const char *name)
{
	char hdr[4096], val[4096], *hs, *vs, *h, *v;
	FILE *f = fopen("/proc/thread-self/net/netstat", "r");
	long ret = -1;

	if (!f)
		return -1;
	while (fgets(hdr, sizeof(hdr), f) && fgets(val, sizeof(val), f)) {
		if (strncmp(hdr, "TcpExt:", 7))
			continue;
		h = strtok_r(hdr + 7, " \n", &hs);
		v = strtok_r(val + 7, " \n", &vs);
		while (h && v) {
			if (!strcmp(h, name)) {
				ret = atol(v);
				break;
			}
			h = strtok_r(NULL, " \n", &hs);
			v = strtok_r(NULL, " \n", &vs);
		}
	}
	fclose(f);
	return ret;
}

/* A Fast Open client: data sent with MSG_FASTOPEN; the connected fd. */
static int tfo_client(int port)
{
	struct fam_addr a = fam_addr(LST_IP, port);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	char c = LST_REQ;

	if (fd < 0)
		return -1;
	fam_timeouts(fd, FAM_TIMEOUT_MS);
	if (sendto(fd, &c, 1, MSG_FASTOPEN, &a.sa, a.len) != 1) {
		tap_diag("sendto(MSG_FASTOPEN): %s", strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static void test_fastopen(void)
{
	static const int fams[] = { AF_INET, AF_NSTCP };
	int syndata[2] = { -1, -1 };
	long passive[2] = { -1, -1 };
	int e = proc_sys_write("net/ipv4/tcp_fastopen", "3");

	if (e)
		tap_diag("net.ipv4.tcp_fastopen=3: %s", strerror(e));
	for (int f = 0; f < 2; f++) {
		int lfd = socket(fams[f], SOCK_STREAM, 0), port, ok = 1;

		if (fam_setint(lfd, SOL_TCP, TCP_FASTOPEN, 16) ||
		    bind_listen(lfd, LST_IP, &port)) {
			tap_diag("%s: TCP_FASTOPEN listener: %s", fname(fams[f]),
				 strerror(errno));
			ok = 0;
		}
		for (int i = 0; ok && i < 2; i++) {
			long before = netstat_get("TCPFastOpenPassive");
			int cfd = tfo_client(port), afd = -1;
			struct tcp_info ti;
			socklen_t len = sizeof(ti);
			char c = 0;

			if (cfd >= 0)
				afd = accept_within(lfd, FAM_TIMEOUT_MS);
			if (afd >= 0 && i == 1) {
				memset(&ti, 0, sizeof(ti));
				syndata[f] = !getsockopt(afd, SOL_TCP, TCP_INFO,
							 &ti, &len) &&
					     (ti.tcpi_options & TCPI_OPT_SYN_DATA);
				passive[f] = netstat_get("TCPFastOpenPassive") - before;
			}
			if (afd >= 0) {
				fam_timeouts(afd, FAM_TIMEOUT_MS);
				if (recv(afd, &c, 1, 0) != 1 || c != LST_REQ) {
					tap_diag("%s: Fast Open data did not arrive",
						 fname(fams[f]));
					syndata[f] = -1;
				}
			} else {
				tap_diag("%s: Fast Open connection %d not accepted",
					 fname(fams[f]), i);
			}
			fam_close(&afd);
			fam_close(&cfd);
		}
		close(lfd);
	}
	FAM_OK(syndata[0] == 1 && syndata[1] == 1 && passive[0] == 1 &&
	       passive[1] == 1,
	       "TCP_FASTOPEN=16: the second connection's data came in its SYN (TCPI_OPT_SYN_DATA AF_NSTCP %d, AF_INET %d; TCPFastOpenPassive +%ld, +%ld)",
	       syndata[1], syndata[0], passive[1], passive[0]);
}

static void test_save_syn(void)
{
	static const int fams[] = { AF_INET, AF_NSTCP };
	int n[2] = { -1, -1 };

	for (int f = 0; f < 2; f++) {
		int lfd = socket(fams[f], SOCK_STREAM, 0), port, cfd = -1, afd = -1;
		unsigned char buf[512];
		socklen_t len = sizeof(buf);

		if (fam_setint(lfd, SOL_TCP, TCP_SAVE_SYN, 1) ||
		    bind_listen(lfd, LST_IP, &port))
			tap_diag("%s: TCP_SAVE_SYN: %s", fname(fams[f]),
				 strerror(errno));
		else
			cfd = lst_connect(LST_IP, port, FAM_TIMEOUT_MS);
		if (cfd >= 0)
			afd = accept_within(lfd, FAM_TIMEOUT_MS);
		if (afd >= 0 && !getsockopt(afd, SOL_TCP, TCP_SAVED_SYN, buf, &len))
			n[f] = len;
		else
			tap_diag("%s: TCP_SAVED_SYN: %s", fname(fams[f]),
				 strerror(errno));
		fam_close(&afd);
		fam_close(&cfd);
		close(lfd);
	}
	FAM_OK(n[0] > 20 && n[0] == n[1],
	       "TCP_SAVE_SYN: TCP_SAVED_SYN on the accepted socket has %d bytes on AF_NSTCP, %d on AF_INET",
	       n[1], n[0]);
}

static int attach_filter(int fd, unsigned int ret)
{
	struct sock_filter insn = BPF_STMT(BPF_RET | BPF_K, ret);
	struct sock_fprog prog = { .len = 1, .filter = &insn };

	return setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog));
}

static void test_filter(void)
{
	static const int fams[] = { AF_INET, AF_NSTCP };

	for (int when = BEFORE; when <= AFTER; when++) {
		struct conn c[2] = { { 0 } };
		char a[64], b[64];

		for (int f = 0; f < 2; f++) {
			int lfd = socket(fams[f], SOCK_STREAM, 0), port, e = 0;

			if (when == BEFORE)
				e = attach_filter(lfd, 0);
			if (!e)
				e = bind_listen(lfd, LST_IP, &port);
			if (!e && when == AFTER)
				e = attach_filter(lfd, 0);
			if (e)
				tap_diag("%s: filter: %s", fname(fams[f]),
					 strerror(errno));
			else
				c[f] = try_conn(lfd, LST_IP, port, 500);
			close(lfd);
		}
		FAM_OK(c[0].err == ETIMEDOUT && conn_same(&c[0], &c[1]),
		       "SO_ATTACH_FILTER \"ret #0\" %s: AF_NSTCP %s, AF_INET %s (within 500 ms)",
		       wname(when), conn_text(&c[1], a, sizeof(a)),
		       conn_text(&c[0], b, sizeof(b)));
	}

	{
		int flen[2] = { -1, -1 };
		struct conn c[2] = { { 0 } };

		for (int f = 0; f < 2; f++) {
			int lfd = socket(fams[f], SOCK_STREAM, 0), port;
			int cfd = -1, afd = -1;
			socklen_t len = 0;

			if (attach_filter(lfd, 0xffffffff) ||
			    bind_listen(lfd, LST_IP, &port))
				tap_diag("%s: filter: %s", fname(fams[f]),
					 strerror(errno));
			else
				cfd = connect_within(LST_IP, port, 2000, NULL,
						     &c[f].err);
			if (cfd >= 0)
				afd = accept_within(lfd, FAM_TIMEOUT_MS);
			c[f].accepted = afd >= 0;
			if (afd >= 0 &&
			    !getsockopt(afd, SOL_SOCKET, SO_GET_FILTER, NULL, &len))
				flen[f] = len;
			fam_close(&afd);
			fam_close(&cfd);
			close(lfd);
		}
		FAM_OK(c[0].accepted && c[1].accepted && flen[0] == 1 &&
		       flen[1] == 1,
		       "SO_ATTACH_FILTER \"ret #-1\": accepted on both (AF_NSTCP %d, AF_INET %d); SO_GET_FILTER on the accepted socket: %d, %d instructions",
		       c[1].accepted, c[0].accepted, flen[1], flen[0]);
	}
}

static int rcv_wscale(int family, int rcvbuf)
{
	int lfd = socket(family, SOCK_STREAM, 0), port, cfd = -1, afd = -1;
	int ws = -1;
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	if ((rcvbuf && fam_setint(lfd, SOL_SOCKET, SO_RCVBUF, rcvbuf)) ||
	    bind_listen(lfd, LST_IP, &port))
		tap_diag("%s: SO_RCVBUF listener: %s", fname(family),
			 strerror(errno));
	else
		cfd = lst_connect(LST_IP, port, FAM_TIMEOUT_MS);
	if (cfd >= 0)
		afd = accept_within(lfd, FAM_TIMEOUT_MS);
	if (afd >= 0 && !getsockopt(afd, SOL_TCP, TCP_INFO, &ti, &len))
		ws = ti.tcpi_rcv_wscale;
	fam_close(&afd);
	fam_close(&cfd);
	close(lfd);
	return ws;
}

static void test_rcvbuf_wscale(void)
{
	int def = rcv_wscale(AF_INET, 0);
	int in = rcv_wscale(AF_INET, 4096), ns = rcv_wscale(AF_NSTCP, 4096);

	FAM_OK(in >= 0 && in == ns && in != def,
	       "SO_RCVBUF 4096 before listen(): accepted tcpi_rcv_wscale AF_NSTCP %d, AF_INET %d (default listener %d)",
	       ns, in, def);
}

#define MD5_KEY	"nstcp-md5-key"

static int set_md5(int fd, const char *ip)
{
	struct tcp_md5sig sig = { .tcpm_keylen = strlen(MD5_KEY) };
	struct fam_addr a = fam_addr(ip, 0);

	memcpy(&sig.tcpm_addr, &a.ss, a.len);
	memcpy(sig.tcpm_key, MD5_KEY, strlen(MD5_KEY));
	return setsockopt(fd, SOL_TCP, TCP_MD5SIG, &sig, sizeof(sig));
}

/*
 * The listener's key for peer 127.0.0.1 as a sockaddr_in; the errno.  When
 * AF_NSTCP refuses that form, the key goes in as ::ffff:127.0.0.1 so that
 * the connection checks still test the listeners.
 */
static int md5_listener(int lfd, int family)
{
	int e = FAM_ERR(set_md5(lfd, LST_IP));

	if (e && family == AF_NSTCP) {
		int e6 = FAM_ERR(set_md5(lfd, "::ffff:127.0.0.1"));

		tap_diag("AF_NSTCP: TCP_MD5SIG with sockaddr_in: %s; with ::ffff:127.0.0.1: %s",
			 strerror(e), strerror(e6));
	}
	return e;
}

static void test_md5(void)
{
	static const int fams[] = { AF_INET, AF_NSTCP };
	int probe = socket(AF_INET, SOCK_STREAM, 0), e;

	e = FAM_ERR(set_md5(probe, LST_IP));
	close(probe);
	if (e == ENOPROTOOPT) {
		for (int i = 0; i < 5; i++)
			tap_skip("the kernel has no CONFIG_TCP_MD5SIG",
				 "TCP_MD5SIG case %d", i + 1);
		return;
	}
	for (int when = BEFORE; when <= AFTER; when++) {
		int se[2] = { -1, -1 };
		struct conn keyed[2] = { { 0 } }, plain[2] = { { 0 } };
		char a[64], b[64], x[64], y[64];

		for (int f = 0; f < 2; f++) {
			int lfd = socket(fams[f], SOCK_STREAM, 0), port;
			int cfd, afd;

			if (when == BEFORE)
				se[f] = md5_listener(lfd, fams[f]);
			if (bind_listen(lfd, LST_IP, &port)) {
				close(lfd);
				continue;
			}
			if (when == AFTER)
				se[f] = md5_listener(lfd, fams[f]);
			cfd = when == AFTER ? -1 :
			      connect_within(LST_IP, port, 1000, NULL,
					     &plain[f].err);
			if (cfd >= 0) {
				afd = accept_within(lfd, 200);
				plain[f].accepted = afd >= 0;
				if (afd >= 0)
					close(afd);
				close(cfd);
			}
			cfd = connect_within(LST_IP, port, 2000, MD5_KEY,
					     &keyed[f].err);
			if (cfd >= 0) {
				afd = accept_within(lfd, FAM_TIMEOUT_MS);
				keyed[f].accepted = afd >= 0;
				if (afd >= 0)
					close(afd);
				close(cfd);
			}
			close(lfd);
		}
		FAM_OK(se[0] == 0 && se[1] == 0,
		       "TCP_MD5SIG %s for peer 127.0.0.1 (sockaddr_in): AF_NSTCP %s, AF_INET %s",
		       wname(when), strerror(se[1]), strerror(se[0]));
		FAM_OK(keyed[0].accepted && conn_same(&keyed[0], &keyed[1]),
		       "TCP_MD5SIG %s: a client with the key: AF_NSTCP %s, AF_INET %s",
		       wname(when), conn_text(&keyed[1], a, sizeof(a)),
		       conn_text(&keyed[0], b, sizeof(b)));
		if (when == BEFORE)
			FAM_OK(plain[0].err == ETIMEDOUT &&
			       conn_same(&plain[0], &plain[1]),
			       "TCP_MD5SIG %s: a client without the key, within 1 s: AF_NSTCP %s, AF_INET %s",
			       wname(when), conn_text(&plain[1], x, sizeof(x)),
			       conn_text(&plain[0], y, sizeof(y)));
	}
}

static void test_reuseport_cbpf(void)
{
	struct sock_filter insn = BPF_STMT(BPF_RET | BPF_K, 0);
	struct sock_fprog prog = { .len = 1, .filter = &insn };
	int in = socket(AF_INET, SOCK_STREAM, 0), ns = fam_socket(AF_NSTCP, 0);
	int one = 1, ein, ens;

	setsockopt(in, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	setsockopt(ns, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	struct fam_addr a = fam_addr(LST_IP, 0);
	int elisten = 0;

	ein = FAM_ERR(setsockopt(in, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF,
				 &prog, sizeof(prog)));
	ens = FAM_ERR(setsockopt(ns, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF,
				 &prog, sizeof(prog)));
	/*
	 * Where the kernel passes SOL_SOCKET options to the family (6.6 on),
	 * setsockopt() refuses it; on 6.1 it cannot, and listen() does.
	 */
	if (!ens)
		elisten = bind(ns, &a.sa, a.len) ? errno :
			  FAM_ERR(listen(ns, 8));
	FAM_OK(ens == EOPNOTSUPP || (!ens && elisten == EOPNOTSUPP),
	       "SO_ATTACH_REUSEPORT_CBPF on AF_NSTCP is refused EOPNOTSUPP (setsockopt: %s, listen: %s; AF_INET: %s)",
	       strerror(ens), strerror(elisten), strerror(ein));
	close(in);
	close(ns);
}

static int has_reno(void)
{
	char buf[512] = "";
	int fd = open("/proc/sys/net/ipv4/tcp_available_congestion_control",
		      O_RDONLY);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;

	if (fd >= 0)
		close(fd);
	buf[n > 0 ? n : 0] = 0;
	return strstr(buf, "reno") != NULL;
}

int main(void)
{
	lst_private_netns();
	dummy_ok = !system("ip link add " DUMMY_DEV " type dummy 2>/dev/null && ip link set " DUMMY_DEV " up");
	reno_ok = has_reno();
	fam_start(NCASES, 55);
	test_inherited();
	test_bindtodevice();
	test_v6only();
	test_freebind();
	test_defer_accept();
	test_fastopen();
	test_save_syn();
	test_filter();
	test_rcvbuf_wscale();
	test_md5();
	test_reuseport_cbpf();
	return fam_finish();
}
