// SPDX-License-Identifier: GPL-2.0
/*
 * Selftest: cgroup BPF connect hooks act on AF_NSTCP connects as they act
 * on AF_INET and AF_INET6 ones, in the same run.  A child process in a
 * cgroup connects on each family to a port where nobody listens:
 *  - with no hook: ECONNREFUSED on every family;
 *  - with an INET4_CONNECT program that denies: EPERM for AF_INET and for
 *    AF_NSTCP to 127.0.0.1, IPv6 untouched; with an INET6_CONNECT one:
 *    EPERM for AF_INET6 and AF_NSTCP to ::1, AF_INET untouched, and
 *    AF_NSTCP to 127.0.0.1 EPERM as well (an AF_NSTCP socket is a
 *    dual-stack IPv6 socket inside: the INET6 program also sees its
 *    v4-mapped address, as for an AF_INET6 socket; Documentation/listen.rst);
 *  - with programs that rewrite the destination port to a listening
 *    port: each family connects, getpeername() names the rewritten port,
 *    and the listeners find the connections.  AF_NSTCP does not try its
 *    CPU-local port choice under such a hook (the hook would run once per
 *    port tried, and the address it picks cannot be predicted): its
 *    connects count as fallbacks, none as local.
 * Runs as root in a network namespace of its own.
 */
#include <sys/wait.h>

#include "listen_util.h"
#include "proc_util.h"
#include "cgroup_util.h"

#define NCASES		12

/* connect() on each family, then a Fast Open sendto() to 127.0.0.1 on two. */
enum { C_IN4, C_NS4, C_IN6, C_NS6, C_TIN4, C_TNS4, C_N };

static const char *const c_name[C_N] = {
	"AF_INET 127.0.0.1", "AF_NSTCP 127.0.0.1", "AF_INET6 ::1", "AF_NSTCP ::1",
	"AF_INET 127.0.0.1 sendto(MSG_FASTOPEN)",
	"AF_NSTCP 127.0.0.1 sendto(MSG_FASTOPEN)",
};

/* What the child saw: per connect, its errno and the peer's port. */
struct res {
	int err[C_N], peer[C_N], join;
};

static int port4, port6;	/* bound, not listening */

static void connects(struct res *r)
{
	for (int i = 0; i < C_N; i++) {
		int six = i == C_IN6 || i == C_NS6, tfo = i >= C_TIN4;
		int dom = i == C_NS4 || i == C_NS6 || i == C_TNS4 ? AF_NSTCP :
			  six ? AF_INET6 : AF_INET;
		struct fam_addr a = fam_addr(six ? "::1" : "127.0.0.1",
					     six ? port6 : port4);
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		int fd = fam_socket(dom, 0);

		r->peer[i] = -1;
		if (fd < 0)
			r->err[i] = errno;
		else if (tfo)
			r->err[i] = sendto(fd, "x", 1, MSG_FASTOPEN, &a.sa,
					   a.len) == 1 ? 0 : errno;
		else
			r->err[i] = FAM_ERR(connect(fd, &a.sa, a.len));
		if (!r->err[i] && !getpeername(fd, (struct sockaddr *)&ss, &len))
			r->peer[i] = fam_port((struct sockaddr *)&ss);
		/* Left open: the listeners count what reached them. */
	}
}

static void cc_connects(void *arg, void *out)
{
	const char *cg = arg;
	struct res *c = out;

	if (cg)
		c->join = cg_join(cg);
	if (!c->join)
		connects(c);
}

/* Runs connects() in a child in cgroup cg (NULL: the caller's). */
static int in_child(const char *cg, struct res *r)
{
	int st = fam_in_child(cc_connects, (void *)cg, r, sizeof(*r), 20);

	if (!st && r->join) {
		tap_diag("join cgroup: %s", strerror(r->join));
		st = -1;
	}
	return st;
}

static void diag(const char *phase, const struct res *r)
{
	char line[700] = "";

	for (int i = 0; i < C_N; i++)
		snprintf(line + strlen(line), sizeof(line) - strlen(line),
			 "%s%s: %s (peer port %d)", i ? "; " : "", c_name[i],
			 r->err[i] ? strerror(r->err[i]) : "ok", r->peer[i]);
	tap_diag("%s: %s", phase, line);
}

static bool all_err(const struct res *r, int from, int to, int e)
{
	for (int i = from; i < to; i++)
		if (r->err[i] != e)
			return false;
	return true;
}

/* Connections waiting on listener l, accepted and closed. */
static int drain(int l)
{
	int n = 0, s;

	while (fam_wait(l, POLLIN, 2000) > 0 && (s = accept(l, NULL, NULL)) >= 0) {
		close(s);
		n++;
		if (n == 4)
			break;
	}
	return n;
}

static long stat_sum(int i)
{
	struct proc_stats st;

	if (proc_read_stats(&st) < 0)
		return -1;
	return st.sum[i];
}

/* The connects from a new cgroup with prog attached as type; 0 or -1. */
static int phase(const char *name, int prog, int type, struct res *r)
{
	const int progs[2] = { prog, -1 }, types[2] = { type, -1 };
	char why[256] = "";
	struct cg c;
	int err;

	memset(r, 0, sizeof(*r));
	err = cg_make_with(&c, name, progs, types, why, sizeof(why)) ||
	      in_child(c.path, r);
	cg_free(&c);
	if (why[0])
		tap_diag("%s: %s", name, why);
	diag(name, r);
	return err ? -1 : 0;
}

int main(void)
{
	int h4, h6, l4, l6, q4, q6, prog[1], ok;
	long fb0, lc0;
	char why[256] = "";
	struct res r;

	if (getuid() != 0) {
		printf("1..0 # SKIP needs root\n");
		return 0;
	}
	lst_private_netns();
	fam_start(NCASES, 60);
	h4 = fam_socket(AF_INET, 0);
	h6 = fam_socket(AF_INET6, 0);
	{
		struct fam_addr a4 = fam_addr("127.0.0.1", 0), a6 = fam_addr("::1", 0);

		if (bind(h4, &a4.sa, a4.len) || bind(h6, &a6.sa, a6.len)) {
			printf("Bail out! bind: %s\n", strerror(errno));
			return 1;
		}
	}
	port4 = fam_local_port(h4);
	port6 = fam_local_port(h6);
	l4 = fam_listen(AF_INET, "127.0.0.1", 0, &q4);
	l6 = fam_listen(AF_INET6, "::1", 0, &q6);

	/* No hook: the port refuses, on every family. */
	ok = !in_child(NULL, &r);
	diag("no hook", &r);
	FAM_OK(ok && all_err(&r, 0, C_N, ECONNREFUSED),
	       "no connect hook: every family ECONNREFUSED");

	prog[0] = cg_deny_prog(BPF_CGROUP_INET4_CONNECT, NULL, 0);
	if (prog[0] < 0 || !cg_root_get()) {
		snprintf(why, sizeof(why), "no cgroup BPF connect hooks or no cgroup2 (%s)",
			 strerror(errno));
		fam_close(&prog[0]);
		for (int i = 1; i < NCASES; i++)
			tap_skip(why, "connect hook case %d", i);
		return fam_finish();
	}

	/* Hooks that deny, one family at a time. */
	ok = !phase("nstcp-cdeny4", prog[0], BPF_CGROUP_INET4_CONNECT, &r);
	FAM_OK(ok && all_err(&r, C_IN4, C_IN6, EPERM),
	       "INET4_CONNECT denies: 127.0.0.1: AF_NSTCP %s, AF_INET %s",
	       strerror(r.err[C_NS4]), strerror(r.err[C_IN4]));
	FAM_OK(ok && all_err(&r, C_IN6, C_TIN4, ECONNREFUSED),
	       "INET4_CONNECT denies: ::1 untouched: AF_NSTCP %s, AF_INET6 %s",
	       strerror(r.err[C_NS6]), strerror(r.err[C_IN6]));
	FAM_OK(ok && all_err(&r, C_TIN4, C_N, EPERM),
	       "INET4_CONNECT denies: a Fast Open sendto() to 127.0.0.1: AF_NSTCP %s, AF_INET %s",
	       strerror(r.err[C_TNS4]), strerror(r.err[C_TIN4]));
	ok = !phase("nstcp-cdeny6", cg_deny_prog(BPF_CGROUP_INET6_CONNECT, NULL, 0),
		    BPF_CGROUP_INET6_CONNECT, &r);
	FAM_OK(ok && all_err(&r, C_IN6, C_TIN4, EPERM),
	       "INET6_CONNECT denies: ::1: AF_NSTCP %s, AF_INET6 %s",
	       strerror(r.err[C_NS6]), strerror(r.err[C_IN6]));
	FAM_OK(ok && r.err[C_IN4] == ECONNREFUSED && r.err[C_NS4] == EPERM,
	       "INET6_CONNECT denies: 127.0.0.1: AF_INET untouched (%s), AF_NSTCP's v4-mapped address denied (%s)",
	       strerror(r.err[C_IN4]), strerror(r.err[C_NS4]));

	/* Both kinds at once: every connect denied. */
	{
		const int types[2] = { BPF_CGROUP_INET4_CONNECT,
				       BPF_CGROUP_INET6_CONNECT };
		const int progs[2] = {
			cg_deny_prog(BPF_CGROUP_INET4_CONNECT, NULL, 0),
			cg_deny_prog(BPF_CGROUP_INET6_CONNECT, NULL, 0) };
		struct cg c;

		why[0] = 0;
		memset(&r, 0, sizeof(r));
		ok = !cg_make_with(&c, "nstcp-cdeny46", progs, types, why,
				   sizeof(why)) && !in_child(c.path, &r);
		cg_free(&c);
		if (why[0])
			tap_diag("%s", why);
		diag("nstcp-cdeny46", &r);
		FAM_OK(ok && all_err(&r, 0, C_N, EPERM),
		       "INET4_CONNECT and INET6_CONNECT deny: every family, connect() and Fast Open, EPERM");
	}

	/* Hooks that send the connects to the listening ports. */
	fb0 = stat_sum(PROC_LFALLBACKS);
	lc0 = stat_sum(PROC_LCONNECTS);
	ok = !phase("nstcp-crw4", cg_port_prog(BPF_CGROUP_INET4_CONNECT, q4),
		    BPF_CGROUP_INET4_CONNECT, &r);
	FAM_OK(ok && all_err(&r, C_IN4, C_IN6, 0) && r.peer[C_IN4] == q4 &&
	       r.peer[C_NS4] == q4,
	       "INET4_CONNECT rewrites the port %d to %d: AF_NSTCP peer %d, AF_INET peer %d",
	       port4, q4, r.peer[C_NS4], r.peer[C_IN4]);
	FAM_OK(ok && all_err(&r, C_TIN4, C_N, 0) && r.peer[C_TIN4] == q4 &&
	       r.peer[C_TNS4] == q4,
	       "INET4_CONNECT rewrites a Fast Open sendto()'s port %d to %d: AF_NSTCP peer %d, AF_INET peer %d",
	       port4, q4, r.peer[C_TNS4], r.peer[C_TIN4]);
	ok = !phase("nstcp-crw6", cg_port_prog(BPF_CGROUP_INET6_CONNECT, q6),
		    BPF_CGROUP_INET6_CONNECT, &r);
	FAM_OK(ok && all_err(&r, C_IN6, C_TIN4, 0) && r.peer[C_IN6] == q6 &&
	       r.peer[C_NS6] == q6,
	       "INET6_CONNECT rewrites the port %d to %d: AF_NSTCP peer %d, AF_INET6 peer %d",
	       port6, q6, r.peer[C_NS6], r.peer[C_IN6]);
	{
		int n4 = drain(l4), n6 = drain(l6);

		FAM_OK(n4 == 4 && n6 == 2,
		       "the rewritten connects reached the listeners: 127.0.0.1:%d %d of 4, [::1]:%d %d of 2",
		       q4, n4, q6, n6);
	}
	FAM_OK(stat_sum(PROC_LFALLBACKS) - fb0 == 4 &&
	       stat_sum(PROC_LCONNECTS) == lc0,
	       "AF_NSTCP's connects under the hooks: 4 counted as fallbacks (%ld), none made local (%ld)",
	       stat_sum(PROC_LFALLBACKS) - fb0, stat_sum(PROC_LCONNECTS) - lc0);
	cg_root_release();
	fam_close(&l4);
	fam_close(&l6);
	fam_close(&h4);
	fam_close(&h6);
	return fam_finish();
}
