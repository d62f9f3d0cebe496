// SPDX-License-Identifier: GPL-2.0
/*
 * Selftest: the cgroup BPF getpeername/getsockname programs act on
 * AF_NSTCP's names as on AF_INET's, in the same run.  A child process in
 * a cgroup makes, on AF_INET, AF_INET6 (to ::ffff:127.0.0.1, the IPv4
 * peer of a dual-stack socket) and AF_NSTCP, a listener, a connection to
 * it and the accepted socket, and reads every name: the client's
 * getpeername() and getsockname(), the address accept() returned, the
 * accepted socket's getpeername() and getsockname().
 *  - with no program: every family sees the real addresses and ports;
 *  - GETPEERNAME4 adding 256 to the port (a program that shows how often
 *    it ran): AF_INET and AF_NSTCP peers read the port plus 256, once, on
 *    both ends and from accept(); AF_INET6 the real one;
 *  - GETSOCKNAME4 setting the port, GETPEERNAME4 setting the address: the
 *    same on AF_INET and AF_NSTCP only;
 *  - GETPEERNAME6 adding 256: AF_INET6 and AF_NSTCP's client (a
 *    dual-stack IPv6 socket inside, whose v4-mapped address that program
 *    sees too), not AF_INET nor AF_NSTCP's accepted socket (an IPv4
 *    port's connections are AF_INET socks inside); with GETPEERNAME4 too,
 *    AF_NSTCP's client port plus 512, its accepted side's plus 256 (each
 *    program ran once; Documentation/listen.rst).
 * And a Fast Open sendto() under an INET4_CONNECT program that denies:
 * EPERM on a fresh socket, EISCONN on a connected one, AF_INET and
 * AF_NSTCP alike.
 * Runs as root in a network namespace of its own.
 */
#include <sys/wait.h>

#include "listen_util.h"
#include "cgroup_util.h"

#define NPHASES		6
#define NCASES		(NPHASES * 3 + 2 + 2)
#define SOCK_PORT	4343		/* what the GETSOCKNAME4 program sets */
#define PEER_IP		"10.1.2.3"	/* what the address program sets */

enum { F_IN, F_6M, F_NS, F_N };

static const char *const f_name[F_N] = {
	"AF_INET", "AF_INET6 ::ffff:127.0.0.1", "AF_NSTCP",
};
static const int f_dom[F_N] = { AF_INET, AF_INET6, AF_NSTCP };
static const char *const f_lo[F_N] = {
	"127.0.0.1", "::ffff:127.0.0.1", "127.0.0.1",
};

struct name {
	int port;
	char ip[INET6_ADDRSTRLEN];
};

/* The names one family's connection showed, and the listener's port. */
struct fres {
	int err, lport;
	struct name cpeer, cname, apeer, speer, sname;
};

struct res {
	struct fres f[F_N];
	int tfo_fresh[2], tfo_conn[2];	/* AF_INET, AF_NSTCP: errno */
	int join;
};

static void name_of(const struct fam_addr *a, struct name *n)
{
	n->port = fam_port(&a->sa);
	fam_ntop(&a->sa, n->ip, sizeof(n->ip));
}

static int get_name(int fd, int peer, struct name *n)
{
	struct fam_addr a = { .len = sizeof(a.ss) };

	if (peer ? getpeername(fd, &a.sa, &a.len) :
		   getsockname(fd, &a.sa, &a.len))
		return errno;
	name_of(&a, n);
	return 0;
}

/* One family's listener on lport, a connection, the names. */
static int one(int f, int lport, struct fres *r)
{
	struct fam_addr la = fam_addr(f == F_6M ? "::" : "127.0.0.1", lport);
	struct fam_addr ca = fam_addr(f_lo[f], lport), pa;
	int l = fam_socket(f_dom[f], 0), c = -1, s = -1, one = 1, err = 0;

	r->lport = lport;
	if (l < 0 || setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(l, &la.sa, la.len) || listen(l, 8))
		err = errno;
	if (!err) {
		c = fam_socket(f_dom[f], 0);
		if (c < 0 || connect(c, &ca.sa, ca.len))
			err = errno;
	}
	if (!err) {
		pa.len = sizeof(pa.ss);
		if (!(fam_wait(l, POLLIN, FAM_TIMEOUT_MS) & POLLIN))
			err = ETIMEDOUT;
		else if ((s = accept(l, &pa.sa, &pa.len)) < 0)
			err = errno;
		else
			name_of(&pa, &r->apeer);
	}
	if (!err)
		err = get_name(c, 1, &r->cpeer) ?: get_name(c, 0, &r->cname) ?:
		      get_name(s, 1, &r->speer) ?: get_name(s, 0, &r->sname);
	fam_close(&s);
	fam_close(&c);
	fam_close(&l);
	return err;
}

/*
 * Fast Open sendto()s to a listener on lport under an INET4_CONNECT
 * program that denies, attached (to cgroup fd cgfd) after the connected
 * sockets connected: on a fresh socket and on a connected one.
 */
static void tfo(int cgfd, int prog, int lport, struct res *r)
{
	struct fam_addr a = fam_addr("127.0.0.1", lport);
	int l = fam_listen(AF_INET, "127.0.0.1", lport, NULL), fd[2], c[2];

	for (int i = 0; i < 2; i++) {
		fd[i] = fam_socket(i ? AF_NSTCP : AF_INET, 0);
		c[i] = fam_connect(i ? AF_NSTCP : AF_INET, "127.0.0.1", lport);
	}
	if (l < 0 || c[0] < 0 || c[1] < 0 ||
	    cg_attach(cgfd, prog, BPF_CGROUP_INET4_CONNECT)) {
		r->tfo_fresh[0] = r->tfo_conn[0] = -1;
	} else {
		for (int i = 0; i < 2; i++) {
			r->tfo_fresh[i] = sendto(fd[i], "x", 1, MSG_FASTOPEN,
						 &a.sa, a.len) < 0 ? errno : 0;
			r->tfo_conn[i] = sendto(c[i], "x", 1, MSG_FASTOPEN,
						&a.sa, a.len) < 0 ? errno : 0;
		}
	}
	for (int i = 0; i < 2; i++) {
		fam_close(&fd[i]);
		fam_close(&c[i]);
	}
	fam_close(&l);
}

/*
 * In a child in cgroup c: each family's names, with
 * listeners on base + family; with tfo_prog >= 0, the Fast Open cases.
 */
struct gn_child {
	const struct cg *c;
	int base, tfo_prog, dom, lport;
};

static void gn_names(void *arg, void *out)
{
	const struct gn_child *a = arg;
	struct res *x = out;

	x->join = cg_join(a->c->path);
	for (int f = 0; !x->join && a->tfo_prog < 0 && f < F_N; f++)
		x->f[f].err = one(f, a->base + f, &x->f[f]);
	if (!x->join && a->tfo_prog >= 0)
		tfo(a->c->fd, a->tfo_prog, a->base, x);
}

static int in_child(const struct cg *c, int base, int tfo_prog, struct res *r)
{
	struct gn_child a = { .c = c, .base = base, .tfo_prog = tfo_prog };
	int st = fam_in_child(gn_names, &a, r, sizeof(*r), 20);

	if (!st && r->join) {
		tap_diag("join cgroup: %s", strerror(r->join));
		st = -1;
	}
	return st;
}

/*
 * In a child in cgroup c, whose GETSOCKNAME6 program sets the port
 * SOCK_PORT: a listener of domain dom on ::1 lport takes an IPv6 client's
 * connection to lport (what the port is listened on is the sock's, not
 * what getsockname() shows), and getsockname() shows the program's port.
 * 0, or what failed.
 */
static void gn_listen6(void *arg, void *out)
{
	const struct gn_child *a = arg;
	int l = -1, cl = -1, s = -1, *x = out;
	struct fam_addr n;

	if (cg_join(a->c->path))
		*x = 2;
	else if ((l = fam_listen(a->dom, "::1", a->lport, NULL)) < 0)
		*x = 3;
	else if ((cl = fam_connect(AF_INET6, "::1", a->lport)) < 0 ||
		 (s = fam_accept(l, NULL)) < 0)
		*x = 4;
	else if (n = fam_name(l, 0), fam_port(&n.sa) != SOCK_PORT)
		*x = 5;
	fam_close(&s);
	fam_close(&cl);
	fam_close(&l);
}

static const char *listen6(const struct cg *c, int dom, int lport)
{
	struct gn_child a = { .c = c, .dom = dom, .lport = lport };
	int st;

	if (fam_in_child(gn_listen6, &a, &st, sizeof(st), 20))
		st = 1;
	switch (st) {
	case 0: return NULL;
	case 2: return "cannot join the cgroup";
	case 3: return "listen failed";
	case 4: return "no connection accepted on the real port";
	case 5: return "getsockname() did not show the program's port";
	default: return "child failed";
	}
}

/* What a phase's programs do to a family's names. */
struct want {
	int dpeer[F_N];		/* added to the client's peer port */
	int speer[F_N];		/* added to the accepted side's peer port */
	int sock[F_N];		/* the local port set (0: not) */
	int ip[F_N];		/* the peer's address set to PEER_IP */
};

static int name_is(const struct name *n, const char *ip, int port)
{
	return n->port == port && !strcmp(n->ip, ip);
}

/* One family's names against what the programs should have made of them. */
static int check(int f, const struct fres *r, const struct want *w)
{
	const char *pip = w->ip[f] ? PEER_IP : f_lo[f];
	int cport, sport;

	/* The client's real port: where no program changes what shows it. */
	cport = w->sock[f] ? r->speer.port - w->speer[f] : r->cname.port;
	sport = w->sock[f] ? w->sock[f] : r->lport;
	return !r->err && cport > 0 && cport != SOCK_PORT &&
	       name_is(&r->cpeer, pip, r->lport + w->dpeer[f]) &&
	       name_is(&r->cname, f_lo[f], w->sock[f] ? w->sock[f] : cport) &&
	       name_is(&r->apeer, pip, cport + w->speer[f]) &&
	       name_is(&r->speer, pip, cport + w->speer[f]) &&
	       name_is(&r->sname, f_lo[f], sport);
}

static void diag(const char *phase, int f, const struct fres *r)
{
	tap_diag("%s: %s: %s; listener port %d; client peer %s:%d, name %s:%d; accept() %s:%d; accepted peer %s:%d, name %s:%d",
		 phase, f_name[f], r->err ? strerror(r->err) : "ok", r->lport,
		 r->cpeer.ip, r->cpeer.port, r->cname.ip, r->cname.port,
		 r->apeer.ip, r->apeer.port, r->speer.ip, r->speer.port,
		 r->sname.ip, r->sname.port);
}

struct phase {
	const char *name, *what;
	int type[2];
	struct want w;
};

/* The program a phase attaches as type. */
static int load(const struct phase *p, int type)
{
	if (type == BPF_CGROUP_INET4_GETSOCKNAME)
		return cg_port_prog(type, SOCK_PORT);
	if (p->w.ip[F_IN])
		return cg_ip4_prog(type, PEER_IP);
	return cg_port_add_prog(type);
}

int main(void)
{
	static const struct phase ph[NPHASES] = {
		{ "nstcp-gn-none", "no program", { -1, -1 }, { .dpeer = { 0 } } },
		{ "nstcp-gn-peer4", "GETPEERNAME4 adds 256 to the port",
		  { BPF_CGROUP_INET4_GETPEERNAME, -1 },
		  { .dpeer = { 256, 0, 256 }, .speer = { 256, 0, 256 } } },
		{ "nstcp-gn-ip4", "GETPEERNAME4 sets the address " PEER_IP,
		  { BPF_CGROUP_INET4_GETPEERNAME, -1 },
		  { .ip = { 1, 0, 1 } } },
		{ "nstcp-gn-sock4", "GETSOCKNAME4 sets the port 4343",
		  { BPF_CGROUP_INET4_GETSOCKNAME, -1 },
		  { .sock = { SOCK_PORT, 0, SOCK_PORT } } },
		{ "nstcp-gn-peer6", "GETPEERNAME6 adds 256 to the port",
		  { BPF_CGROUP_INET6_GETPEERNAME, -1 },
		  { .dpeer = { 0, 256, 256 }, .speer = { 0, 256, 0 } } },
		{ "nstcp-gn-peer46", "GETPEERNAME6 and GETPEERNAME4 add 256 each",
		  { BPF_CGROUP_INET6_GETPEERNAME, BPF_CGROUP_INET4_GETPEERNAME },
		  { .dpeer = { 256, 256, 512 }, .speer = { 256, 256, 256 } } },
	};
	char why[256] = "";
	struct res r;
	int probe;

	if (getuid() != 0) {
		printf("1..0 # SKIP needs root\n");
		return 0;
	}
	lst_private_netns();
	fam_start(NCASES, 120);
	probe = cg_port_add_prog(BPF_CGROUP_INET4_GETPEERNAME);
	if (probe < 0 || !cg_root_get()) {
		snprintf(why, sizeof(why), "no cgroup BPF getname hooks or no cgroup2 (%s)",
			 strerror(errno));
		fam_close(&probe);
		for (int i = 0; i < NCASES; i++)
			tap_skip(why, "getname hook case %d", i);
		return fam_finish();
	}
	fam_close(&probe);

	for (int i = 0; i < NPHASES; i++) {
		const struct phase *p = &ph[i];
		int prog[2], ok;
		struct cg c;

		for (int j = 0; j < 2; j++)
			prog[j] = p->type[j] < 0 ? -1 : load(p, p->type[j]);
		why[0] = 0;
		ok = !cg_make_with(&c, p->name, prog, p->type, why, sizeof(why)) &&
		     !in_child(&c, 20000 + 10 * i, -1, &r);
		cg_free(&c);
		if (why[0])
			tap_diag("%s: %s", p->name, why);
		for (int f = 0; f < F_N; f++) {
			int good = ok && check(f, &r.f[f], &p->w);

			if (!good)
				diag(p->name, f, &r.f[f]);
			FAM_OK(good, "%s: %s: %s", p->what, f_name[f],
			       p->w.dpeer[f] || p->w.sock[f] || p->w.ip[f] ?
			       "the names as the programs made them" :
			       "the real names");
		}
	}

	/* Fast Open under a connect program that denies. */
	{
		const int prog[2] = { cg_deny_prog(BPF_CGROUP_INET4_CONNECT,
						   NULL, 0), -1 };
		const int type[2] = { -1, -1 };
		struct cg c;
		int ok;

		why[0] = 0;
		ok = !cg_make_with(&c, "nstcp-gn-tfo", prog, type, why,
				   sizeof(why)) && prog[0] >= 0 &&
		     !in_child(&c, 20100, prog[0], &r);
		cg_free(&c);
		if (why[0])
			tap_diag("nstcp-gn-tfo: %s", why);
		FAM_OK(ok && r.tfo_fresh[0] == EPERM && r.tfo_fresh[1] == EPERM,
		       "INET4_CONNECT denies: Fast Open sendto() on a fresh socket: AF_NSTCP %s, AF_INET %s",
		       strerror(r.tfo_fresh[1]), strerror(r.tfo_fresh[0]));
		FAM_OK(ok && r.tfo_conn[0] == EISCONN && r.tfo_conn[1] == EISCONN,
		       "INET4_CONNECT denies: Fast Open sendto() on a connected socket: AF_NSTCP %s, AF_INET %s",
		       strerror(r.tfo_conn[1]), strerror(r.tfo_conn[0]));
	}
	/* A listener under a GETSOCKNAME6 program that rewrites the port. */
	{
		const int prog[2] = { cg_port_prog(BPF_CGROUP_INET6_GETSOCKNAME,
						   SOCK_PORT), -1 };
		const int type[2] = { BPF_CGROUP_INET6_GETSOCKNAME, -1 };
		const char *bad[2] = { "no cgroup", "no cgroup" };
		struct cg c;

		why[0] = 0;
		if (!cg_make_with(&c, "nstcp-gn-listen6", prog, type, why,
				  sizeof(why)))
			for (int i = 0; i < 2; i++)
				bad[i] = listen6(&c, i ? AF_NSTCP : AF_INET6,
						 20200 + i);
		cg_free(&c);
		if (why[0])
			tap_diag("nstcp-gn-listen6: %s", why);
		for (int i = 0; i < 2; i++)
			FAM_OK(!bad[i], "GETSOCKNAME6 sets the port: %s listener on ::1 takes connections on its real port, getsockname() shows 4343 (%s)",
			       i ? "AF_NSTCP" : "AF_INET6", bad[i] ?: "ok");
	}
	cg_root_release();
	return fam_finish();
}
