// SPDX-License-Identifier: GPL-2.0
/*
 * Selftest of the generic netlink family "nstcp" (Documentation/
 * netlink.rst) through libmnl: every command with its answers checked
 * against the real state (CPUs from sysfs, listeners and a hand-off made
 * here), with malformed attributes (wrong size, unknown type, out of
 * range, not a nest), missing attributes, another network namespace (it
 * sees only its own ports and maps), and an unprivileged caller (uid
 * 65534: dumps allowed, another user's share key hidden as in
 * /proc/net/nstcp_listen, its own shown, the queue map commands EPERM).
 */
#include <grp.h>
#include <net/if.h>
#include <sched.h>
#include <sys/wait.h>

#include "family_util.h"
#include "nl_util.h"

#define NOBODY		65534
#define KEY_ROOT	"k9root"
#define KEY_NOBODY	"k9nob"

static char buf[8192];

/* ---- requests ---- */

static struct nl_sock nls;

/* A request: cmd, dump or not, with attributes put by the caller. */
static struct nlmsghdr *req(int cmd, bool dump)
{
	return nl_req(&nls, buf, cmd, dump);
}

static struct nl_reply run(struct nlmsghdr *nlh,
			   int (*cb)(const struct nlmsghdr *, void *), void *data)
{
	struct nl_reply r = { .cb = cb, .data = data };

	nl_talk(&nls, nlh, &r);
	if (r.err && r.extack[0])
		tap_diag("kernel: %s (%s)", strerror(-r.err), r.extack);
	return r;
}

/* The error of a request expected to fail; its message on failure. */
static int fails(struct nlmsghdr *nlh, int want, const char *what)
{
	struct nl_reply r = run(nlh, NULL, NULL);

	return tap_ok(r.err == -want, "%s: %s (got %s)", what, strerror(want),
		      r.err ? strerror(-r.err) : "success");
}

/* ---- the possible and online CPUs, from sysfs ---- */

static int ncpus_possible(void)
{
	FILE *f = fopen("/sys/devices/system/cpu/possible", "re");
	int a, b, n = 0;
	char c;

	if (!f)
		return -1;
	while (fscanf(f, "%d", &a) == 1) {
		b = a;
		if (fscanf(f, "%c", &c) == 1 && c == '-') {
			if (fscanf(f, "%d", &b) != 1)
				break;
			if (fscanf(f, "%c", &c) != 1)
				c = 0;
		}
		n += b - a + 1;
		if (c != ',')
			break;
	}
	fclose(f);
	return n;
}

static int cpu_online(int cpu)
{
	char path[80];
	FILE *f;
	int v = 1;	/* CPU 0 may have no online file */

	snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu%d/online", cpu);
	f = fopen(path, "re");
	if (f) {
		if (fscanf(f, "%d", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

/* ---- answers ---- */

struct insts {
	int n;
	int cpu[PROC_MAXCPU], online[PROC_MAXCPU];
	bool complete;		/* every counter attribute present */
	unsigned long queued, sockets;
	int qifindex, qqueue;	/* first NSTCP_A_INST_QUEUES entry, or -1 */
};

static int insts_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[NSTCP_A_INST_MAX + 1], *qt[NSTCP_A_QENT_MAX + 1];
	struct insts *s = data;
	const struct nlattr *e;

	nl_attrs(nlh, tb, NSTCP_A_INST_MAX);
	if (s->n == PROC_MAXCPU || !tb[NSTCP_A_INST_CPU])
		return -1;
	s->cpu[s->n] = nl_uint(tb[NSTCP_A_INST_CPU]);
	s->online[s->n] = tb[NSTCP_A_INST_ONLINE] ?
			  (int)nl_uint(tb[NSTCP_A_INST_ONLINE]) : -1;
	for (int a = NSTCP_A_INST_ONLINE; a <= NSTCP_A_INST_STOLEN; a++)
		if (!tb[a])
			s->complete = false;
	s->queued += nl_uint(tb[NSTCP_A_INST_QUEUED]);
	s->sockets += nl_uint(tb[NSTCP_A_INST_SOCKETS]);
	if (tb[NSTCP_A_INST_QUEUES] && s->qifindex < 0) {
		mnl_attr_for_each_nested(e, tb[NSTCP_A_INST_QUEUES]) {
			nl_nested(e, qt, NSTCP_A_QENT_MAX);
			s->qifindex = nl_uint(qt[NSTCP_A_QENT_IFINDEX]);
			s->qqueue = nl_uint(qt[NSTCP_A_QENT_QUEUE]);
			break;
		}
	}
	s->n++;
	return 0;
}

static struct nl_reply get_insts(struct insts *s, int cpu)
{
	struct nlmsghdr *nlh = req(NSTCP_CMD_INSTANCE_GET, cpu < 0);

	memset(s, 0, sizeof(*s));
	s->complete = true;
	s->qifindex = -1;
	if (cpu >= 0)
		mnl_attr_put_u32(nlh, NSTCP_A_INST_CPU, cpu);
	return run(nlh, insts_cb, s);
}

/* One port of a LISTEN_GET dump. */
struct lport {
	int port, ncpu, listeners, policy, owner;
	unsigned long queued;
	char key[16];		/* "" none, "*" hidden */
};

struct lports {
	int n;
	struct lport p[64];
};

static int lports_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[NSTCP_A_LISTEN_MAX + 1], *ct[NSTCP_A_LCPU_MAX + 1];
	struct lports *s = data;
	const struct nlattr *a;
	struct lport *p;

	nl_attrs(nlh, tb, NSTCP_A_LISTEN_MAX);
	if (s->n == 64 || !tb[NSTCP_A_LISTEN_PORT])
		return -1;
	p = &s->p[s->n++];
	memset(p, 0, sizeof(*p));
	p->port = nl_uint(tb[NSTCP_A_LISTEN_PORT]);
	p->listeners = nl_uint(tb[NSTCP_A_LISTEN_LISTENERS]);
	p->policy = nl_uint(tb[NSTCP_A_LISTEN_POLICY]);
	p->owner = nl_uint(tb[NSTCP_A_LISTEN_OWNER]);
	if (tb[NSTCP_A_LISTEN_KEY] && tb[NSTCP_A_LISTEN_KEY_HIDDEN])
		snprintf(p->key, sizeof(p->key), "both?");
	else if (tb[NSTCP_A_LISTEN_KEY])
		snprintf(p->key, sizeof(p->key), "%.*s",
			 (int)mnl_attr_get_payload_len(tb[NSTCP_A_LISTEN_KEY]),
			 (const char *)mnl_attr_get_payload(tb[NSTCP_A_LISTEN_KEY]));
	else if (tb[NSTCP_A_LISTEN_KEY_HIDDEN])
		snprintf(p->key, sizeof(p->key), "*");
	mnl_attr_for_each(a, nlh, sizeof(struct genlmsghdr)) {
		if (mnl_attr_get_type(a) != NSTCP_A_LISTEN_CPU)
			continue;
		nl_nested(a, ct, NSTCP_A_LCPU_MAX);
		p->ncpu++;
		p->queued += nl_uint(ct[NSTCP_A_LCPU_QUEUED]);
	}
	return 0;
}

static struct nl_reply get_ports(struct lports *s, int port)
{
	struct nlmsghdr *nlh = req(NSTCP_CMD_LISTEN_GET, true);

	memset(s, 0, sizeof(*s));
	if (port)
		mnl_attr_put_u16(nlh, NSTCP_A_LISTEN_PORT, port);
	return run(nlh, lports_cb, s);
}

static const struct lport *find_port(const struct lports *s, int port)
{
	for (int i = 0; i < s->n; i++)
		if (s->p[i].port == port)
			return &s->p[i];
	return NULL;
}

struct qmaps {
	int n, ifindex, nent, queue, cpu;
};

static int qmaps_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[NSTCP_A_QUEUE_MAX + 1], *et[NSTCP_A_QENT_MAX + 1];
	struct qmaps *q = data;
	const struct nlattr *a;

	nl_attrs(nlh, tb, NSTCP_A_QUEUE_MAX);
	q->n++;
	q->ifindex = nl_uint(tb[NSTCP_A_QUEUE_IFINDEX]);
	mnl_attr_for_each(a, nlh, sizeof(struct genlmsghdr)) {
		if (mnl_attr_get_type(a) != NSTCP_A_QUEUE_ENTRY)
			continue;
		nl_nested(a, et, NSTCP_A_QENT_MAX);
		q->nent++;
		q->queue = nl_uint(et[NSTCP_A_QENT_QUEUE]);
		q->cpu = nl_uint(et[NSTCP_A_QENT_CPU]);
	}
	return 0;
}

static struct nl_reply get_qmaps(struct qmaps *q)
{
	memset(q, 0, sizeof(*q));
	return run(req(NSTCP_CMD_QUEUE_GET, true), qmaps_cb, q);
}

/* A QUEUE_SET of ifindex with one entry (queue < 0: none; cpu < 0: no CPU). */
static struct nlmsghdr *qset(int ifindex, int queue, int cpu)
{
	struct nlmsghdr *nlh = req(NSTCP_CMD_QUEUE_SET, false);
	struct nlattr *nest;

	if (ifindex)
		mnl_attr_put_u32(nlh, NSTCP_A_QUEUE_IFINDEX, ifindex);
	if (queue >= 0) {
		nest = mnl_attr_nest_start(nlh, NSTCP_A_QUEUE_ENTRY);
		mnl_attr_put_u32(nlh, NSTCP_A_QENT_QUEUE, queue);
		if (cpu >= 0)
			mnl_attr_put_u32(nlh, NSTCP_A_QENT_CPU, cpu);
		mnl_attr_nest_end(nlh, nest);
	}
	return nlh;
}

static struct nlmsghdr *qdel(int ifindex)
{
	struct nlmsghdr *nlh = req(NSTCP_CMD_QUEUE_DEL, false);

	mnl_attr_put_u32(nlh, NSTCP_A_QUEUE_IFINDEX, ifindex);
	return nlh;
}

/* An AF_NSTCP listener on 127.0.0.1, keyed when key; its port in *port. */
static int keyed_listener(const char *key, int *port)
{
	struct sockaddr_in a = fam_sin("127.0.0.1", 0);
	int fd = fam_socket(AF_NSTCP, 0);

	if (fd < 0)
		return -1;
	if ((key && setsockopt(fd, SOL_NSTCP, NSTCP_SHARE_KEY, key, strlen(key))) ||
	    bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 16)) {
		tap_diag("keyed listener: %s", strerror(errno));
		close(fd);
		return -1;
	}
	*port = fam_local_port(fd);
	return fd;
}

/* The key column of port's rows in /proc/net/nstcp_listen, "" if none. */
static void proc_key(int port, char *key, size_t len)
{
	char line[PROC_LINE], addr[80], k[32];
	FILE *f = fopen(PROC_NSTCP_LISTEN, "re");
	char *colon;

	key[0] = 0;
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%79s %31s", addr, k) != 2)
			continue;
		colon = strrchr(addr, ':');
		if (colon && atoi(colon + 1) == port) {
			snprintf(key, len, "%s", k);
			break;
		}
	}
	fclose(f);
}

/* ---- children: results through a pipe ---- */

#define NCHILD	8

/* Runs fn in a child, which fills res[]; 0, or -1 if it died. */
static int in_child(void (*fn)(int *res, void *arg), void *arg, int *res)
{
	int p[2], st;
	pid_t pid;

	memset(res, 0, sizeof(int) * NCHILD);
	if (pipe(p))
		return -1;
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		return -1;
	if (!pid) {
		close(p[0]);
		fn(res, arg);
		if (write(p[1], res, sizeof(int) * NCHILD) < 0)
			_exit(1);
		_exit(0);
	}
	close(p[1]);
	st = read(p[0], res, sizeof(int) * NCHILD) == sizeof(int) * NCHILD;
	close(p[0]);
	waitpid(pid, NULL, 0);
	return st ? 0 : -1;
}

struct ns_arg {
	int parent_port;	/* a port the initial namespace listens on */
	int sync[2];		/* the child's port goes up here */
	int go[2];		/* ... and it waits for a byte here */
};

/* In a new network namespace: what it sees. */
static void ns_child(int *res, void *varg)
{
	struct ns_arg *arg = varg;
	struct lports ports;
	struct insts in;
	struct qmaps q;
	struct nl_reply r;
	int fd, port = 0;
	char c;

	close(arg->sync[0]);
	close(arg->go[1]);
	if (unshare(CLONE_NEWNET) || system("ip link set lo up") != 0 ||
	    nl_open(&nls)) {
		res[0] = -1;
		if (write(arg->sync[1], &port, sizeof(port)) < 0)
			_exit(1);
		return;
	}
	r = get_insts(&in, -1);
	res[0] = !r.err && in.n > 0 && in.sockets == 0;
	r = get_ports(&ports, 0);
	res[1] = !r.err && ports.n == 0;
	fd = keyed_listener(NULL, &port);
	r = get_ports(&ports, 0);
	res[2] = fd >= 0 && !r.err && ports.n == 1 && ports.p[0].port == port;
	r = get_ports(&ports, arg->parent_port);
	res[3] = !r.err && (port == arg->parent_port || ports.n == 0);
	r = get_qmaps(&q);
	res[4] = !r.err && q.n == 0;
	if (write(arg->sync[1], &port, sizeof(port)) < 0 ||
	    read(arg->go[0], &c, 1) < 0)
		res[5] = -1;
	if (fd >= 0)
		close(fd);
	nl_close(&nls);
}

struct nobody_arg {
	int root_port;		/* root's keyed port */
};

/* As uid 65534: what it may see and do. */
static void nobody_child(int *res, void *varg)
{
	struct nobody_arg *arg = varg;
	struct lports ports;
	const struct lport *p;
	struct insts in;
	struct nl_reply r;
	char key[32];
	int fd, port = 0;

	if (setgroups(0, NULL) || setgid(NOBODY) || setuid(NOBODY) ||
	    nl_open(&nls)) {
		res[0] = -1;
		return;
	}
	r = get_insts(&in, -1);
	res[0] = !r.err && in.n > 0;
	r = get_ports(&ports, arg->root_port);
	p = find_port(&ports, arg->root_port);
	res[1] = !r.err && p && !strcmp(p->key, "*");
	proc_key(arg->root_port, key, sizeof(key));
	res[2] = !strcmp(key, "*");
	fd = keyed_listener(KEY_NOBODY, &port);
	r = get_ports(&ports, port);
	p = find_port(&ports, port);
	res[3] = fd >= 0 && !r.err && p && !strcmp(p->key, KEY_NOBODY) &&
		 p->owner == NOBODY;
	if (fd >= 0)
		close(fd);
	r = run(qset(1, 0, 0), NULL, NULL);
	res[4] = r.err == -EPERM;
	r = run(qdel(1), NULL, NULL);
	res[5] = r.err == -EPERM;
	r = run(req(NSTCP_CMD_HANDOFF_GET, true), NULL, NULL);
	res[6] = !r.err;
	nl_close(&nls);
}

/* ---- the test ---- */

static void test_instances(void)
{
	int possible = ncpus_possible(), ok = 1;
	struct nlmsghdr *nlh;
	struct insts in;
	struct nl_reply r;

	r = get_insts(&in, -1);
	tap_ok(!r.err && in.n == possible && in.complete,
	       "INSTANCE_GET dump: one message per possible CPU (%d, %d possible), every counter",
	       in.n, possible);
	for (int i = 0; i < in.n; i++) {
		if (in.cpu[i] != i || in.online[i] != cpu_online(i)) {
			tap_diag("instance %d: cpu %d online %d, sysfs %d", i,
				 in.cpu[i], in.online[i], cpu_online(i));
			ok = 0;
		}
	}
	tap_ok(ok && in.n > 0, "the instances are CPUs 0..%d in order, online as in sysfs",
	       in.n - 1);
	r = get_insts(&in, possible - 1);
	tap_ok(!r.err && in.n == 1 && in.cpu[0] == possible - 1 && in.complete,
	       "INSTANCE_GET cpu %d: that instance alone", possible - 1);
	fails(req(NSTCP_CMD_INSTANCE_GET, false), EINVAL,
	      "INSTANCE_GET without NSTCP_A_INST_CPU");
	nlh = req(NSTCP_CMD_INSTANCE_GET, false);
	mnl_attr_put_u32(nlh, NSTCP_A_INST_CPU, possible + 1000);
	fails(nlh, ENOENT, "INSTANCE_GET of a CPU that is not possible");
	nlh = req(NSTCP_CMD_INSTANCE_GET, false);
	mnl_attr_put_u16(nlh, NSTCP_A_INST_CPU, 0);
	fails(nlh, EINVAL, "INSTANCE_GET with a 2-byte CPU");
	nlh = req(NSTCP_CMD_INSTANCE_GET, false);
	mnl_attr_put_u32(nlh, NSTCP_A_INST_CPU, 0);
	mnl_attr_put_u64(nlh, NSTCP_A_INST_HOPS, 1);
	fails(nlh, EINVAL, "INSTANCE_GET with a reply-only attribute (HOPS)");
	nlh = req(NSTCP_CMD_INSTANCE_GET, true);
	mnl_attr_put_u32(nlh, NSTCP_A_INST_MAX + 5, 0);
	fails(nlh, EINVAL, "INSTANCE_GET dump with an unknown attribute type");
	nlh = req(NSTCP_CMD_MAX + 1, true);
	fails(nlh, EOPNOTSUPP, "an unknown command");
}

static void test_listen(int *lport, int *kport, int *lfd, int *kfd)
{
	int possible = ncpus_possible(), c[2] = { -1, -1 };
	const struct lport *p;
	struct nlmsghdr *nlh;
	struct lports ports;
	struct insts in;
	struct nl_reply r;
	bool ok;

	*lfd = fam_listen(AF_NSTCP, "127.0.0.1", 0, lport);
	r = get_ports(&ports, 0);
	p = find_port(&ports, *lport);
	tap_ok(*lfd >= 0 && !r.err && p && p->listeners == 1 &&
	       p->policy == NSTCP_POLICY_CPU && p->ncpu == possible &&
	       !p->key[0] && p->owner == 0,
	       "LISTEN_GET dump: port %d, 1 listener, policy cpu, %d CPU nests, no key, owner 0",
	       *lport, possible);
	*kfd = keyed_listener(KEY_ROOT, kport);
	r = get_ports(&ports, *lport);
	tap_ok(*kfd >= 0 && !r.err && ports.n == 1 && ports.p[0].port == *lport,
	       "LISTEN_GET with NSTCP_A_LISTEN_PORT %d: that port alone (%d messages)",
	       *lport, ports.n);
	r = get_ports(&ports, *kport);
	p = find_port(&ports, *kport);
	tap_ok(!r.err && p && !strcmp(p->key, KEY_ROOT),
	       "root sees its keyed port's key \"%s\" (got \"%s\")", KEY_ROOT,
	       p ? p->key : "no port");
	nlh = req(NSTCP_CMD_LISTEN_GET, true);
	mnl_attr_put_u16(nlh, NSTCP_A_LISTEN_PORT, 0);
	fails(nlh, ERANGE, "LISTEN_GET with port 0");
	nlh = req(NSTCP_CMD_LISTEN_GET, true);
	mnl_attr_put_u32(nlh, NSTCP_A_LISTEN_PORT, *lport);
	fails(nlh, EINVAL, "LISTEN_GET with a 4-byte port");
	nlh = req(NSTCP_CMD_LISTEN_GET, true);
	mnl_attr_put_u32(nlh, NSTCP_A_LISTEN_OWNER, 0);
	fails(nlh, EINVAL, "LISTEN_GET with a reply-only attribute (OWNER)");

	/* Two connections left in the queues: per port and per instance. */
	c[0] = fam_connect(AF_INET, "127.0.0.1", *lport);
	c[1] = fam_connect(AF_INET, "127.0.0.1", *lport);
	ok = false;
	for (int i = 0; i < 100 && !ok; i++) {
		r = get_ports(&ports, *lport);
		p = find_port(&ports, *lport);
		get_insts(&in, -1);
		ok = !r.err && p && p->queued == 2 && in.queued == 2;
		if (!ok)
			usleep(20000);
	}
	tap_ok(c[0] >= 0 && c[1] >= 0 && ok,
	       "2 connections not accepted: queued 2 on the port (%lu) and over the instances (%lu)",
	       p ? p->queued : 0, in.queued);
	fam_close(&c[0]);
	fam_close(&c[1]);
}

struct ho {
	int n, giver, taker, lport;
};

static int ho_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[NSTCP_A_HANDOFF_MAX + 1];
	struct ho *h = data;

	nl_attrs(nlh, tb, NSTCP_A_HANDOFF_MAX);
	h->n++;
	h->giver = nl_uint(tb[NSTCP_A_HANDOFF_GIVER]);
	h->taker = tb[NSTCP_A_HANDOFF_TAKER_PID] ?
		   (int)nl_uint(tb[NSTCP_A_HANDOFF_TAKER_PID]) : -1;
	h->lport = nl_uint(tb[NSTCP_A_HANDOFF_LOCAL_PORT]);
	return 0;
}

static void test_handoff(void)
{
	struct nstcp_give g = { .ng_flags = NSTCP_GIVE_PID, .ng_id = getpid() };
	socklen_t len = sizeof(g);
	struct nlmsghdr *nlh;
	struct nl_reply r;
	struct ho h = { 0 };
	int cfd, sfd, tfd = -1, ok, port = -1;

	r = run(req(NSTCP_CMD_HANDOFF_GET, true), ho_cb, &h);
	tap_ok(!r.err && h.n == 0, "HANDOFF_GET dump: none pending (%d)", h.n);
	nlh = req(NSTCP_CMD_HANDOFF_GET, true);
	mnl_attr_put_u32(nlh, NSTCP_A_HANDOFF_CPU, 0);
	fails(nlh, EINVAL, "HANDOFF_GET with an attribute (it takes none)");
	/* The local port before the give: a given socket answers EBADFD. */
	ok = !fam_pair("127.0.0.1", &cfd, &sfd) &&
	     (port = fam_local_port(sfd)) > 0 &&
	     !getsockopt(sfd, SOL_NSTCP, NSTCP_GIVE, &g, &len);
	memset(&h, 0, sizeof(h));
	r = run(req(NSTCP_CMD_HANDOFF_GET, true), ho_cb, &h);
	tap_ok(ok && !r.err && h.n == 1 && h.giver == getpid() &&
	       h.taker == getpid() && h.lport == port,
	       "a connection given to ourselves: 1 hand-off, giver and taker pid %d, local port %d (got %d, %d, %d, %d)",
	       getpid(), port, h.n, h.giver, h.taker, h.lport);
	if (ok) {
		tfd = socket(AF_NSTCP, SOCK_STREAM, 0);
		if (setsockopt(tfd, SOL_NSTCP, NSTCP_TAKE, &g.ng_token,
			       sizeof(g.ng_token)))
			tap_diag("take: %s", strerror(errno));
	}
	memset(&h, 0, sizeof(h));
	r = run(req(NSTCP_CMD_HANDOFF_GET, true), ho_cb, &h);
	tap_ok(!r.err && h.n == 0, "taken: none pending (%d)", h.n);
	fam_close(&tfd);
	fam_close(&sfd);
	fam_close(&cfd);
}

static void test_queues(void)
{
	struct nlmsghdr *nlh;
	struct nlattr *nest;
	struct insts in;
	struct qmaps q;
	struct nl_reply r;

	r = run(qset(1, 0, 0), NULL, NULL);
	tap_ok(!r.err, "QUEUE_SET lo queue 0 -> CPU 0 (%s)", strerror(-r.err));
	r = get_qmaps(&q);
	tap_ok(!r.err && q.n == 1 && q.ifindex == 1 && q.nent == 1 &&
	       q.queue == 0 && q.cpu == 0,
	       "QUEUE_GET: lo's map, queue 0 on CPU 0 (%d maps)", q.n);
	r = get_insts(&in, 0);
	tap_ok(!r.err && in.qifindex == 1 && in.qqueue == 0,
	       "INSTANCE_GET cpu 0 lists lo's queue 0 (ifindex %d)", in.qifindex);
	fails(qset(0, 0, 0), EINVAL, "QUEUE_SET without NSTCP_A_QUEUE_IFINDEX");
	fails(qset(1, 0, -1), EINVAL, "QUEUE_SET with an entry without a CPU");
	fails(qset(1, 1, 0), EINVAL, "QUEUE_SET of a queue lo does not have");
	fails(qset(1, 0, 100000), EINVAL, "QUEUE_SET to a CPU that is not possible");
	fails(qset(999999, 0, 0), ENODEV, "QUEUE_SET of a device that does not exist");
	fails(qset(1, -1, 0), EINVAL, "QUEUE_SET without entries");
	nlh = qset(1, 0, 0);
	nest = mnl_attr_nest_start(nlh, NSTCP_A_QUEUE_ENTRY);
	mnl_attr_put_u32(nlh, NSTCP_A_QENT_QUEUE, 0);
	mnl_attr_put_u32(nlh, NSTCP_A_QENT_CPU, 0);
	mnl_attr_nest_end(nlh, nest);
	fails(nlh, EINVAL, "QUEUE_SET with queue 0 twice");
	nlh = req(NSTCP_CMD_QUEUE_SET, false);
	mnl_attr_put_u32(nlh, NSTCP_A_QUEUE_IFINDEX, 1);
	mnl_attr_put_u32(nlh, NSTCP_A_QUEUE_ENTRY, 0);
	fails(nlh, EINVAL, "QUEUE_SET with an entry that is not a nest");
	fails(req(NSTCP_CMD_QUEUE_SET, true), EOPNOTSUPP, "QUEUE_SET as a dump");
	fails(req(NSTCP_CMD_QUEUE_DEL, false), EINVAL,
	      "QUEUE_DEL without NSTCP_A_QUEUE_IFINDEX");
	nlh = req(NSTCP_CMD_QUEUE_DEL, false);
	mnl_attr_put_u16(nlh, NSTCP_A_QUEUE_IFINDEX, 1);
	fails(nlh, EINVAL, "QUEUE_DEL with a 2-byte ifindex");
	nlh = req(NSTCP_CMD_QUEUE_GET, true);
	mnl_attr_put_u32(nlh, NSTCP_A_QUEUE_IFINDEX, 0);
	fails(nlh, ERANGE, "QUEUE_GET with ifindex 0");
}

/* A device's map goes with the device (the netdevice notifier). */
static void test_queue_dev_gone(void)
{
	struct nlmsghdr *nlh;
	struct nl_reply r;
	struct qmaps q;
	int ifindex;

	if (system("ip link add nstcpq0 type veth peer name nstcpq1") != 0) {
		tap_ok(0, "ip link add nstcpq0 type veth");
		tap_ok(0, "(no device, no map to remove)");
		return;
	}
	ifindex = if_nametoindex("nstcpq0");
	r = run(qset(ifindex, 0, 0), NULL, NULL);
	memset(&q, 0, sizeof(q));
	nlh = req(NSTCP_CMD_QUEUE_GET, true);
	mnl_attr_put_u32(nlh, NSTCP_A_QUEUE_IFINDEX, ifindex);
	run(nlh, qmaps_cb, &q);
	tap_ok(ifindex > 0 && !r.err && q.n == 1 && q.ifindex == ifindex,
	       "QUEUE_SET of veth nstcpq0 (ifindex %d): its map there (%s)",
	       ifindex, strerror(-r.err));
	if (system("ip link del nstcpq0") != 0)
		tap_diag("ip link del nstcpq0 failed");
	memset(&q, 0, sizeof(q));
	nlh = req(NSTCP_CMD_QUEUE_GET, true);
	mnl_attr_put_u32(nlh, NSTCP_A_QUEUE_IFINDEX, ifindex);
	r = run(nlh, qmaps_cb, &q);
	tap_ok(!r.err && q.n == 0 && if_nametoindex("nstcpq0") == 0,
	       "nstcpq0 deleted: its map went with it (%d left)", q.n);
}

/*
 * A map bigger than a dump's first skb would be without room asked for
 * (NLMSG_GOODSIZE): dumped as the first request of a socket that never
 * received (so its buffer size is not known yet).
 */
#define BIG_MAP 512

static void test_queue_big_map(void)
{
	static char big[1 << 16];
	struct nl_sock fresh = { 0 };
	struct nl_reply r = { 0 };
	struct nlmsghdr *nlh;
	struct qmaps q = { 0 };
	int ifindex;

	if (system("ip link add nstcpq2 numtxqueues 512 numrxqueues 512 type veth peer name nstcpq3") != 0) {
		tap_ok(0, "ip link add nstcpq2 (512 queues) type veth");
		tap_ok(0, "(no device, no big map)");
		return;
	}
	ifindex = if_nametoindex("nstcpq2");
	nlh = nl_qset_all(&nls, big, ifindex, BIG_MAP, 0);
	r = run(nlh, NULL, NULL);
	tap_ok(!r.err, "QUEUE_SET of nstcpq2's %d queues (%s)", BIG_MAP,
	       strerror(-r.err));
	fresh.sk = mnl_socket_open(NETLINK_GENERIC);
	if (fresh.sk && mnl_socket_bind(fresh.sk, 0, MNL_SOCKET_AUTOPID) == 0) {
		fresh.portid = mnl_socket_get_portid(fresh.sk);
		fresh.family = nls.family;
		nlh = nl_req(&fresh, big, NSTCP_CMD_QUEUE_GET, true);
		mnl_attr_put_u32(nlh, NSTCP_A_QUEUE_IFINDEX, ifindex);
		r = (struct nl_reply){ .cb = qmaps_cb, .data = &q };
		nl_talk(&fresh, nlh, &r);
	} else {
		r.err = -errno;
	}
	tap_ok(!r.err && q.n == 1 && q.nent == BIG_MAP,
	       "QUEUE_GET of the %d-queue map, a new socket's first request (%s, %d entries)",
	       BIG_MAP, strerror(-r.err), q.nent);
	if (fresh.sk)
		mnl_socket_close(fresh.sk);
	if (system("ip link del nstcpq2") != 0)
		tap_diag("ip link del nstcpq2 failed");
}

static void test_queues_end(void)
{
	struct qmaps q;
	struct nl_reply r;

	r = run(qdel(1), NULL, NULL);
	get_qmaps(&q);
	tap_ok(!r.err && q.n == 0, "QUEUE_DEL lo: no map left (%d)", q.n);
	fails(qdel(1), ENOENT, "QUEUE_DEL of a device without a map");
}

int main(void)
{
	struct nobody_arg na;
	struct ns_arg nsa;
	struct lports ports;
	int lport, kport, lfd, kfd, res[NCHILD], port = 0, err;
	char c = 'x';

	fam_start(55, 120);
	err = nl_open(&nls);
	if (!tap_ok(!err, "the family \"%s\" is there (%s)", NSTCP_GENL_NAME,
		    strerror(-err)))
		return tap_done();
	test_instances();
	test_listen(&lport, &kport, &lfd, &kfd);
	test_handoff();
	test_queues();
	test_queue_dev_gone();
	test_queue_big_map();

	/* Another namespace: its own instances, ports and maps only. */
	nsa.parent_port = lport;
	if (pipe(nsa.sync) || pipe(nsa.go))
		return tap_done();
	fflush(stdout);
	{
		pid_t pid = fork();

		if (!pid) {
			ns_child(res, &nsa);
			if (write(nsa.sync[1], res, sizeof(res)) < 0)
				_exit(1);
			_exit(0);
		}
		close(nsa.sync[1]);
		close(nsa.go[0]);
		if (read(nsa.sync[0], &port, sizeof(port)) != sizeof(port))
			port = 0;
		get_ports(&ports, 0);
		tap_ok(port > 0 && !find_port(&ports, port) && find_port(&ports, lport),
		       "the initial namespace does not see the new one's port %d",
		       port);
		if (write(nsa.go[1], &c, 1) < 0 ||
		    read(nsa.sync[0], res, sizeof(res)) != sizeof(res))
			memset(res, 0, sizeof(res));
		close(nsa.go[1]);
		close(nsa.sync[0]);
		waitpid(pid, NULL, 0);
	}
	tap_ok(res[0] == 1, "new namespace: its own instances, no socket counted yet");
	tap_ok(res[1] == 1, "new namespace: no listening port of the initial one");
	tap_ok(res[2] == 1, "new namespace: its own listener alone");
	tap_ok(res[3] == 1, "new namespace: port %d of the initial one not there", lport);
	tap_ok(res[4] == 1, "new namespace: no queue map (the initial one has lo's)");

	/* Unprivileged. */
	na.root_port = kport;
	if (in_child(nobody_child, &na, res))
		memset(res, 0, sizeof(res));
	tap_ok(res[0] == 1, "uid %d: INSTANCE_GET dump allowed", NOBODY);
	tap_ok(res[1] == 1, "uid %d: root's share key hidden (KEY_HIDDEN, no KEY)", NOBODY);
	tap_ok(res[2] == 1, "uid %d: /proc/net/nstcp_listen hides it too (\"*\")", NOBODY);
	tap_ok(res[3] == 1, "uid %d: its own port's key shown, owner %d", NOBODY, NOBODY);
	tap_ok(res[4] == 1, "uid %d: QUEUE_SET is EPERM", NOBODY);
	tap_ok(res[5] == 1, "uid %d: QUEUE_DEL is EPERM", NOBODY);
	tap_ok(res[6] == 1, "uid %d: HANDOFF_GET dump allowed", NOBODY);
	test_queues_end();
	fam_close(&lfd);
	fam_close(&kfd);
	nl_close(&nls);
	return fam_finish();
}
