// SPDX-License-Identifier: GPL-2.0
/*
 * Selftest: sharing an AF_NSTCP port keeps the kernel's own rules, as on
 * AF_INET.  A process of another uid (a child with uid and gid 65534 and
 * no capabilities) cannot join a port by its share key or by SO_REUSEPORT
 * (EADDRINUSE, as AF_INET's SO_REUSEPORT uid rule), and reads "*" for the
 * key in /proc/net/nstcp_listen; the same uid joins.  A privileged port
 * is EACCES for it on both families until ip_unprivileged_port_start
 * allows it.  A cgroup BPF bind hook that denies refuses AF_NSTCP binds
 * whenever it refuses AF_INET or AF_INET6 binds of the same address,
 * including joining a port made outside the cgroup.  The port's rows in
 * /proc/net/nstcp_listen are one per possible CPU with the owner's uid.
 * Runs as root in a network namespace of its own.
 */
#include <grp.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include "listen_util.h"
#include "cgroup_util.h"

#define NCASES		19
#define NOBODY		65534
#define KEY		"web01"

/* What a child reports: errnos and a line of text. */
struct res {
	int v[16];
	char text[512];
};

struct child {
	pid_t pid;
	int res[2], hold[2];
};

typedef void (*child_fn)(void *arg, struct res *r);

/*
 * Runs fn in a child: as uid NOBODY (no capabilities) when drop, in the
 * cgroup cg when set.  Its result comes back through child_result(); with
 * hold it then waits (its sockets open) until child_end().
 */
static int child_start(struct child *c, int drop, const char *cg, child_fn fn,
		       void *arg, int hold)
{
	c->hold[0] = c->hold[1] = -1;
	if (pipe(c->res) || (hold && pipe(c->hold))) {
		tap_diag("pipe: %s", strerror(errno));
		return -1;
	}
	c->pid = fork();
	if (c->pid < 0) {
		tap_diag("fork: %s", strerror(errno));
		return -1;
	}
	if (!c->pid) {
		struct res r;
		char b;

		alarm(30);
		memset(&r, 0, sizeof(r));
		close(c->res[0]);
		if (hold)
			close(c->hold[1]);
		if (cg && (r.v[15] = cg_join(cg)))
			snprintf(r.text, sizeof(r.text), "join cgroup: %s",
				 strerror(r.v[15]));
		if (drop && (setgroups(0, NULL) ||
			     setresgid(NOBODY, NOBODY, NOBODY) ||
			     setresuid(NOBODY, NOBODY, NOBODY))) {
			r.v[15] = errno;
			snprintf(r.text, sizeof(r.text), "setresuid: %s",
				 strerror(errno));
		}
		prctl(PR_SET_DUMPABLE, 1);
		if (!r.v[15])
			fn(arg, &r);
		if (write(c->res[1], &r, sizeof(r)) != sizeof(r))
			_exit(1);
		if (hold && read(c->hold[0], &b, 1) < 0)
			_exit(1);
		_exit(0);
	}
	close(c->res[1]);
	if (hold)
		close(c->hold[0]);
	return 0;
}

static int child_result(struct child *c, struct res *r)
{
	ssize_t n = read(c->res[0], r, sizeof(*r));

	close(c->res[0]);
	if (n != sizeof(*r)) {
		tap_diag("child gave no result");
		memset(r, 0, sizeof(*r));
		r->v[15] = EIO;
		return -1;
	}
	if (r->v[15])
		tap_diag("child: %s", r->text);
	return r->v[15] ? -1 : 0;
}

static void child_end(struct child *c)
{
	int st;

	if (c->hold[1] >= 0)
		close(c->hold[1]);
	c->hold[1] = -1;
	waitpid(c->pid, &st, 0);
}

/* The whole run: start, result, end. */
static int as_child(int drop, const char *cg, child_fn fn, void *arg,
		    struct res *r)
{
	struct child c;
	int ret;

	if (child_start(&c, drop, cg, fn, arg, 0)) {
		memset(r, 0, sizeof(*r));
		r->v[15] = EIO;
		return -1;
	}
	ret = child_result(&c, r);
	child_end(&c);
	return ret;
}

/* ---- sockets ---- */

/*
 * A socket of family (AF_INET, AF_INET6 or AF_NSTCP) on ip:port, with key
 * (AF_NSTCP) and SO_REUSEPORT when asked, bound and listening when listen_
 * is set.  errno of bind in *be and of listen in *le (0: succeeded, -1: not
 * tried); the socket or -1.
 */
static int sock_at(int family, const char *ip, int port, const char *key,
		   int reuseport, int do_listen, int *be, int *le)
{
	struct fam_addr a = fam_addr(ip, port);
	int fd = fam_socket(family, 0);

	*be = *le = -1;
	if (fd < 0)
		return -1;
	if (key && lst_set_key(fd, key))
		tap_diag("key %s: %s", key, strerror(errno));
	if (reuseport && fam_setint(fd, SOL_SOCKET, SO_REUSEPORT, 1))
		tap_diag("SO_REUSEPORT: %s", strerror(errno));
	*be = FAM_ERR(bind(fd, &a.sa, a.len));
	if (!*be && do_listen)
		*le = FAM_ERR(listen(fd, 16));
	return fd;
}

static const char *err_at(int be, int le, char *buf, size_t len)
{
	if (be)
		snprintf(buf, len, "bind %s", be < 0 ? "not tried" : strerror(be));
	else if (le > 0)
		snprintf(buf, len, "listen %s", strerror(le));
	else
		snprintf(buf, len, "bind and listen succeed");
	return buf;
}

/* What a child tries: a socket like sock_at()'s, then closed. */
struct try_arg {
	int family, port, reuseport;
	const char *ip, *key;
};

static void try_fn(void *arg, struct res *r)
{
	struct try_arg *t = arg;
	int fd = sock_at(t->family, t->ip, t->port, t->key, t->reuseport, 1,
			 &r->v[0], &r->v[1]);

	if (fd >= 0)
		close(fd);
}

/* Did bind or listen fail with want? */
static int failed_with(const struct res *r, int want)
{
	return r->v[0] == want || (!r->v[0] && r->v[1] == want);
}

/* ---- cross-user join ---- */

static int key_port, key_fd = -1;

static void test_cross_user(void)
{
	struct res r, rin, rns;
	char b1[64], b2[64];
	struct lst_port st;
	int in_port, ns_port, in_fd, ns_fd, fd2, be, le, be2, le2;

	key_fd = lst_member(LST_IP, 0, KEY, 0, &key_port);
	as_child(1, NULL, try_fn, &(struct try_arg){ AF_NSTCP, key_port, 0,
						     LST_IP, KEY }, &r);
	lst_proc(key_port, &st);
	FAM_OK(failed_with(&r, EADDRINUSE) && st.listeners == 1,
	       "uid %d joining key " KEY " on root's port: %s (EADDRINUSE wanted); members %d",
	       NOBODY, err_at(r.v[0], r.v[1], b1, sizeof(b1)), st.listeners);

	in_fd = sock_at(AF_INET, LST_IP, 0, NULL, 1, 1, &be, &le);
	in_port = fam_local_port(in_fd);
	as_child(1, NULL, try_fn, &(struct try_arg){ AF_INET, in_port, 1,
						     LST_IP, NULL }, &rin);
	FAM_OK(!be && !le && failed_with(&rin, EADDRINUSE),
	       "AF_INET SO_REUSEPORT: uid %d beside root's listener: %s",
	       NOBODY, err_at(rin.v[0], rin.v[1], b1, sizeof(b1)));

	ns_fd = sock_at(AF_NSTCP, LST_IP, 0, NULL, 1, 1, &be, &le);
	ns_port = fam_local_port(ns_fd);
	as_child(1, NULL, try_fn, &(struct try_arg){ AF_NSTCP, ns_port, 1,
						     LST_IP, NULL }, &rns);
	FAM_OK(!be && !le && failed_with(&rns, EADDRINUSE) &&
	       rns.v[0] == rin.v[0],
	       "AF_NSTCP SO_REUSEPORT without key: uid %d beside root's listener: %s (AF_INET: %s)",
	       NOBODY, err_at(rns.v[0], rns.v[1], b1, sizeof(b1)),
	       err_at(rin.v[0], rin.v[1], b2, sizeof(b2)));

	fd2 = sock_at(AF_NSTCP, LST_IP, key_port, KEY, 0, 1, &be, &le);
	lst_proc(key_port, &st);
	FAM_OK(!be && !le && st.listeners == 2,
	       "a second root socket with key " KEY " joins: %s; members %d",
	       err_at(be, le, b1, sizeof(b1)), st.listeners);
	fam_close(&fd2);

	{
		int a = sock_at(AF_INET, LST_IP, in_port, NULL, 1, 1, &be, &le);
		int b = sock_at(AF_NSTCP, LST_IP, ns_port, NULL, 1, 1, &be2, &le2);

		lst_proc(ns_port, &st);
		FAM_OK(!be && !le && !be2 && !le2 && st.listeners == 2,
		       "same uid, SO_REUSEPORT without key: AF_NSTCP %s (members %d), AF_INET %s",
		       err_at(be2, le2, b1, sizeof(b1)), st.listeners,
		       err_at(be, le, b2, sizeof(b2)));
		close(a);
		close(b);
	}
	close(in_fd);
	close(ns_fd);
}

/* ---- key visibility ---- */

static void read_rows_fn(void *arg, struct res *r)
{
	int port = *(int *)arg;
	struct lst_port st;
	char line[512];
	FILE *f;

	lst_proc(port, &st);
	r->v[0] = st.rows;
	snprintf(r->text, sizeof(r->text), "%s", st.key);
	f = fopen("/proc/thread-self/net/nstcp_listen", "r");
	if (!f) {
		r->v[1] = errno;
		return;
	}
	while (fgets(line, sizeof(line), f))
		if (strstr(line, KEY))
			r->v[2]++;
	fclose(f);
}

/* A child's own keyed AF_NSTCP port and SO_REUSEPORT AF_INET port. */
static int own_ns_port, own_in_port;

static void own_port_fn(void *arg, struct res *r)
{
	struct lst_port st;
	int be, le, fd, fd2;

	(void)arg;
	fd = sock_at(AF_NSTCP, LST_IP, 0, "nobody1", 0, 1, &be, &le);
	r->v[0] = be ? be : le > 0 ? le : 0;
	r->v[1] = fam_local_port(fd);
	lst_proc(r->v[1], &st);
	r->v[2] = st.rows;
	r->v[3] = st.owner;
	snprintf(r->text, sizeof(r->text), "%s", st.key);
	fd2 = sock_at(AF_INET, LST_IP, 0, NULL, 1, 1, &be, &le);
	r->v[4] = be ? be : le > 0 ? le : 0;
	r->v[5] = fam_local_port(fd2);
	/* Both stay open until the parent ends the child. */
}

static void test_key_view(void)
{
	struct res r, own;
	struct lst_port st;
	struct child c;
	char b1[64], b2[64];
	int be, le, be2, le2, fd, fd2;

	as_child(1, NULL, read_rows_fn, &key_port, &r);
	FAM_OK(r.v[0] > 0 && !strcmp(r.text, "*") && r.v[2] == 0 && !r.v[1],
	       "uid %d reads key \"%s\" for root's keyed port (%d rows; \"" KEY "\" in %d lines)",
	       NOBODY, r.text, r.v[0], r.v[2]);
	lst_proc(key_port, &st);
	FAM_OK(st.rows > 0 && !strcmp(st.key, KEY) && st.owner == 0,
	       "root reads key \"%s\", owner %ld", st.key, st.owner);

	if (child_start(&c, 1, NULL, own_port_fn, NULL, 1)) {
		tap_ok(0, "uid %d's own keyed port", NOBODY);
		tap_ok(0, "root reads uid %d's port", NOBODY);
		tap_ok(0, "root cannot join uid %d's port", NOBODY);
		return;
	}
	child_result(&c, &own);
	own_ns_port = own.v[1];
	own_in_port = own.v[5];
	FAM_OK(!own.v[0] && own.v[2] > 0 && !strcmp(own.text, "nobody1") &&
	       own.v[3] == NOBODY,
	       "uid %d makes a keyed port (%s) and reads its own key \"%s\", owner %d",
	       NOBODY, strerror(own.v[0]), own.text, own.v[3]);
	lst_proc(own_ns_port, &st);
	FAM_OK(st.rows > 0 && !strcmp(st.key, "nobody1") && st.owner == NOBODY,
	       "root (CAP_NET_ADMIN) reads its key \"%s\", owner %ld", st.key,
	       st.owner);
	/* SO_REUSEPORT's uid rule holds for root too. */
	fd = sock_at(AF_NSTCP, LST_IP, own_ns_port, "nobody1", 0, 1, &be, &le);
	fd2 = sock_at(AF_INET, LST_IP, own_in_port, NULL, 1, 1, &be2, &le2);
	FAM_OK(!own.v[4] && (be == EADDRINUSE || (!be && le == EADDRINUSE)) &&
	       be2 == EADDRINUSE,
	       "root joining uid %d's ports: AF_NSTCP key: %s; AF_INET SO_REUSEPORT: %s",
	       NOBODY, err_at(be, le, b1, sizeof(b1)),
	       err_at(be2, le2, b2, sizeof(b2)));
	fam_close(&fd);
	fam_close(&fd2);
	child_end(&c);
}

/* ---- privileged port ---- */

static void priv_fn(void *arg, struct res *r)
{
	static const struct { int family; const char *key; } t[] = {
		{ AF_INET, NULL }, { AF_NSTCP, NULL }, { AF_NSTCP, "priv" },
	};

	(void)arg;
	for (int i = 0; i < 3; i++) {
		int fd = sock_at(t[i].family, LST_IP, 443, t[i].key, 0, 1,
				 &r->v[2 * i], &r->v[2 * i + 1]);

		if (fd >= 0)
			close(fd);
	}
}

static void test_privileged_port(void)
{
	char b[3][64], buf[32];
	struct res r;
	int e;

	as_child(1, NULL, priv_fn, NULL, &r);
	FAM_OK(r.v[0] == EACCES && r.v[2] == EACCES && r.v[4] == EACCES,
	       "uid %d binding port 443: AF_INET %s, AF_NSTCP %s, AF_NSTCP with a key %s",
	       NOBODY, err_at(r.v[0], r.v[1], b[0], 64),
	       err_at(r.v[2], r.v[3], b[1], 64), err_at(r.v[4], r.v[5], b[2], 64));

	e = proc_sys_write("net/ipv4/ip_unprivileged_port_start", "0");
	as_child(1, NULL, priv_fn, NULL, &r);
	proc_sys_write("net/ipv4/ip_unprivileged_port_start", "1024");
	{
		int fd = open("/proc/sys/net/ipv4/ip_unprivileged_port_start",
			      O_RDONLY);
		ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;

		buf[n > 0 ? n : 0] = 0;
		if (fd >= 0)
			close(fd);
	}
	FAM_OK(!e && !r.v[0] && !r.v[1] && !r.v[2] && !r.v[3] && !r.v[4] &&
	       !r.v[5] && atoi(buf) == 1024,
	       "with ip_unprivileged_port_start=0 (%s): AF_INET %s, AF_NSTCP %s, AF_NSTCP with a key %s (restored to %d)",
	       strerror(e), err_at(r.v[0], r.v[1], b[0], 64),
	       err_at(r.v[2], r.v[3], b[1], 64), err_at(r.v[4], r.v[5], b[2], 64),
	       atoi(buf));
}

/* ---- cgroup BPF bind hooks ---- */

/* Ports made outside the cgroups, for joining from inside. */
struct cg_ports {
	int ns4, ns6, in4, in6;
};

enum { B_IN4, B_NS4, B_IN6, B_NS6, B_IN6MAPPED, B_NSJOIN4, B_NSJOIN6,
       B_INJOIN4, B_INJOIN6, B_N };

static const char *const b_name[B_N] = {
	"AF_INET 127.0.0.1", "AF_NSTCP 127.0.0.1", "AF_INET6 ::1",
	"AF_NSTCP ::1", "AF_INET6 ::ffff:127.0.0.1",
	"AF_NSTCP joining keyed 127.0.0.1 port",
	"AF_NSTCP joining keyed [::1] port",
	"AF_INET joining SO_REUSEPORT 127.0.0.1 port",
	"AF_INET6 joining SO_REUSEPORT [::1] port",
};

/* In the cgroup: every bind, its errno in v[]. */
static void binds_fn(void *arg, struct res *r)
{
	const struct cg_ports *p = arg;
	const struct try_arg t[B_N] = {
		[B_IN4] = { AF_INET, 0, 0, LST_IP, NULL },
		[B_NS4] = { AF_NSTCP, 0, 0, LST_IP, NULL },
		[B_IN6] = { AF_INET6, 0, 0, "::1", NULL },
		[B_NS6] = { AF_NSTCP, 0, 0, "::1", NULL },
		[B_IN6MAPPED] = { AF_INET6, 0, 0, "::ffff:127.0.0.1", NULL },
		[B_NSJOIN4] = { AF_NSTCP, p->ns4, 0, LST_IP, "cgk" },
		[B_NSJOIN6] = { AF_NSTCP, p->ns6, 0, "::1", "cgk" },
		[B_INJOIN4] = { AF_INET, p->in4, 1, LST_IP, NULL },
		[B_INJOIN6] = { AF_INET6, p->in6, 1, "::1", NULL },
	};

	for (int i = 0; i < B_N; i++) {
		int be, le, fd = sock_at(t[i].family, t[i].ip, t[i].port,
					 t[i].key, t[i].reuseport, 1, &be, &le);

		r->v[i] = be ? be : le > 0 ? le : 0;
		if (fd >= 0)
			close(fd);
	}
}

static void binds_diag(const char *phase, const struct res *r)
{
	char line[600] = "";

	for (int i = 0; i < B_N; i++)
		snprintf(line + strlen(line), sizeof(line) - strlen(line),
			 "%s%s: %s", i ? "; " : "", b_name[i],
			 r->v[i] ? strerror(r->v[i]) : "ok");
	tap_diag("%s: %s", phase, line);
}

static void test_cgroup_bpf(void)
{
	static const struct {
		const char *name;
		int t0, t1;
	} ph[] = {
		{ "nstcp-b4", BPF_CGROUP_INET4_BIND, -1 },
		{ "nstcp-b6", BPF_CGROUP_INET6_BIND, -1 },
		{ "nstcp-b46", BPF_CGROUP_INET4_BIND, BPF_CGROUP_INET6_BIND },
	};
	struct res r[3];
	struct cg_ports p;
	int fds[4], be, le, ok[3] = { 0 };
	char why[256] = "", log[256];
	int prog = cg_deny_prog(BPF_CGROUP_INET4_BIND, log, sizeof(log));

	if (prog < 0) {
		snprintf(why, sizeof(why), "no cgroup BPF bind hooks (BPF_PROG_LOAD: %s)",
			 strerror(errno));
	} else if (!cg_root_get()) {
		snprintf(why, sizeof(why), "no cgroup2 hierarchy");
	}
	fam_close(&prog);
	if (why[0]) {
		for (int i = 0; i < 6; i++)
			tap_skip(why, "cgroup BPF bind hook case %d", i + 1);
		return;
	}

	fds[0] = sock_at(AF_NSTCP, LST_IP, 0, "cgk", 0, 1, &be, &le);
	p.ns4 = fam_local_port(fds[0]);
	fds[1] = sock_at(AF_NSTCP, "::1", 0, "cgk", 0, 1, &be, &le);
	p.ns6 = fam_local_port(fds[1]);
	fds[2] = sock_at(AF_INET, LST_IP, 0, NULL, 1, 1, &be, &le);
	p.in4 = fam_local_port(fds[2]);
	fds[3] = sock_at(AF_INET6, "::1", 0, NULL, 1, 1, &be, &le);
	p.in6 = fam_local_port(fds[3]);

	for (int i = 0; i < 3; i++) {
		struct cg c;

		memset(&r[i], 0, sizeof(r[i]));
		if (cg_make(&c, ph[i].name, ph[i].t0, ph[i].t1, why, sizeof(why))) {
			tap_diag("%s: %s", ph[i].name, why);
		} else {
			ok[i] = !as_child(0, c.path, binds_fn, &p, &r[i]);
			binds_diag(ph[i].name, &r[i]);
		}
		cg_free(&c);
	}

	/* INET4_BIND denies: AF_INET refused, so AF_NSTCP's IPv4 must be. */
	FAM_OK(ok[0] && r[0].v[B_IN4] == EPERM && r[0].v[B_NS4] == EPERM,
	       "INET4_BIND hook denies: bind to 127.0.0.1: AF_NSTCP %s, AF_INET %s",
	       strerror(r[0].v[B_NS4]), strerror(r[0].v[B_IN4]));
	FAM_OK(ok[0] && r[0].v[B_INJOIN4] == EPERM && r[0].v[B_NSJOIN4] == EPERM,
	       "INET4_BIND hook denies: joining a 127.0.0.1 port made outside: AF_NSTCP key %s, AF_INET SO_REUSEPORT %s",
	       strerror(r[0].v[B_NSJOIN4]), strerror(r[0].v[B_INJOIN4]));
	FAM_OK(ok[0] && r[0].v[B_NS6] == r[0].v[B_IN6],
	       "INET4_BIND hook denies: bind to ::1: AF_NSTCP %s, AF_INET6 %s",
	       strerror(r[0].v[B_NS6]), strerror(r[0].v[B_IN6]));
	/* INET6_BIND denies. */
	FAM_OK(ok[1] && r[1].v[B_IN6] == EPERM && r[1].v[B_NS6] == EPERM &&
	       r[1].v[B_INJOIN6] == EPERM && r[1].v[B_NSJOIN6] == EPERM,
	       "INET6_BIND hook denies: ::1: AF_NSTCP %s, AF_INET6 %s; joining a [::1] port: AF_NSTCP key %s, AF_INET6 SO_REUSEPORT %s",
	       strerror(r[1].v[B_NS6]), strerror(r[1].v[B_IN6]),
	       strerror(r[1].v[B_NSJOIN6]), strerror(r[1].v[B_INJOIN6]));
	FAM_OK(ok[1] && (r[1].v[B_IN4] != EPERM || r[1].v[B_NS4] == EPERM),
	       "INET6_BIND hook denies: bind to 127.0.0.1: AF_NSTCP %s, AF_INET %s (AF_INET6 ::ffff:127.0.0.1: %s)",
	       strerror(r[1].v[B_NS4]), strerror(r[1].v[B_IN4]),
	       strerror(r[1].v[B_IN6MAPPED]));
	{
		int all = ok[2];

		for (int i = 0; i < B_N; i++)
			all &= r[2].v[i] == EPERM;
		FAM_OK(all, "INET4_BIND and INET6_BIND hooks deny: every bind and join fails with EPERM on every family");
	}
	for (int i = 0; i < 4; i++)
		fam_close(&fds[i]);
	cg_root_release();
}

/* ---- resource view ---- */

static void test_rows(void)
{
	struct lst_port st;
	int n = lst_possible_cpus();

	lst_proc(key_port, &st);
	FAM_OK(n > 0 && st.rows == n && st.owner == 0,
	       "root's keyed port has %d rows in /proc/net/nstcp_listen (%d possible CPUs), owner %ld on every row",
	       st.rows, n, st.owner);
}

int main(void)
{
	if (getuid() != 0) {
		printf("1..0 # SKIP needs root\n");
		return 0;
	}
	lst_private_netns();
	fam_start(NCASES, 55);
	test_cross_user();
	test_key_view();
	test_privileged_port();
	test_rows();
	test_cgroup_bpf();
	fam_close(&key_fd);
	return fam_finish();
}
