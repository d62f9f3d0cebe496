// SPDX-License-Identifier: GPL-2.0
/*
 * Selftest: the generic netlink family's dumps and replies at their
 * limits.  A LISTEN_GET dump in several parts flags NLM_F_DUMP_INTR when
 * a port comes or goes between the parts (and not when nothing changed);
 * INSTANCE_GET of a CPU that owns 512 mapped queues answers whole; a
 * HANDOFF_GET dump gives pids in the requester's pid namespace.
 */
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>

#include "family_util.h"
#include "nl_util.h"

#define NPORTS		64	/* listening ports: a dump of several parts */
#define PART_BUF	4096	/* how much of a dump one read takes */
#define BIG_QUEUES	512

static struct nl_sock nls;
static char buf[1 << 16];

struct parts {
	int parts;		/* recvfrom() calls that returned messages */
	int msgs, intr;		/* family messages; those with DUMP_INTR */
	int err;
};

/*
 * A LISTEN_GET dump read part by part; between the first part and the
 * rest, between() runs (it may change the ports).
 */
static struct parts listen_dump(void (*between)(void *), void *arg)
{
	struct parts p = { 0 };
	struct nlmsghdr *nlh;
	struct nl_sock s;
	bool done = false;
	unsigned int seq;

	/*
	 * A new socket never read with a big buffer: the kernel sizes a
	 * dump's parts by the largest buffer the socket was read with (up
	 * to 32 KiB), so they stay small.
	 */
	memset(&s, 0, sizeof(s));
	s.sk = mnl_socket_open(NETLINK_GENERIC);
	if (!s.sk || mnl_socket_bind(s.sk, 0, MNL_SOCKET_AUTOPID) < 0) {
		p.err = -errno;
		nl_close(&s);
		return p;
	}
	s.portid = mnl_socket_get_portid(s.sk);
	s.family = nls.family;
	nlh = nl_req(&s, buf, NSTCP_CMD_LISTEN_GET, true);
	seq = nlh->nlmsg_seq;
	if (mnl_socket_sendto(s.sk, nlh, nlh->nlmsg_len) < 0) {
		p.err = -errno;
		nl_close(&s);
		return p;
	}
	while (!done) {
		ssize_t n = recv(mnl_socket_get_fd(s.sk), buf, PART_BUF, 0);
		struct nlmsghdr *h = (struct nlmsghdr *)buf;
		int len = n;

		if (n < 0) {
			p.err = -errno;
			break;
		}
		p.parts++;
		for (; mnl_nlmsg_ok(h, len); h = mnl_nlmsg_next(h, &len)) {
			if (h->nlmsg_seq != seq)
				continue;
			if (h->nlmsg_type == NLMSG_DONE ||
			    h->nlmsg_type == NLMSG_ERROR) {
				/* Both carry the error first, 0 if none. */
				p.err = *(int *)mnl_nlmsg_get_payload(h);
				done = true;
				continue;
			}
			p.msgs++;
			if (h->nlmsg_flags & NLM_F_DUMP_INTR)
				p.intr++;
		}
		if (p.parts == 1 && between)
			between(arg);
	}
	nl_close(&s);
	return p;
}

static void add_port(void *arg)
{
	*(int *)arg = fam_listen(AF_NSTCP, "127.0.0.1", 0, NULL);
}

static void test_dump_intr(void)
{
	int fds[NPORTS], extra = -1, i, made = 0;
	struct parts p;

	for (i = 0; i < NPORTS; i++) {
		fds[i] = fam_listen(AF_NSTCP, "127.0.0.1", 0, NULL);
		made += fds[i] >= 0;
	}
	p = listen_dump(NULL, NULL);
	tap_ok(made == NPORTS && !p.err && p.parts > 2 && p.msgs >= NPORTS &&
	       !p.intr,
	       "LISTEN_GET over %d ports: several parts, none flagged (%d parts, %d messages, %d flagged)",
	       NPORTS, p.parts, p.msgs, p.intr);
	p = listen_dump(add_port, &extra);
	tap_ok(extra >= 0 && !p.err && p.intr > 0,
	       "a port added between two parts: NLM_F_DUMP_INTR (%d of %d messages flagged)",
	       p.intr, p.msgs);
	fam_close(&extra);
	p = listen_dump(NULL, NULL);
	tap_ok(!p.err && !p.intr,
	       "dumped again with nothing changing: none flagged (%d messages)",
	       p.msgs);
	for (i = 0; i < NPORTS; i++)
		fam_close(&fds[i]);
}

/* Counts the queue entries of an INSTANCE_GET reply. */
static int count_queues_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[NSTCP_A_INST_MAX + 1], *e;

	nl_attrs(nlh, tb, NSTCP_A_INST_MAX);
	if (tb[NSTCP_A_INST_QUEUES])
		mnl_attr_for_each_nested(e, tb[NSTCP_A_INST_QUEUES])
			(*(int *)data)++;
	return 0;
}

static void test_big_instance(void)
{
	struct nlmsghdr *nlh, *q;
	struct nl_reply r;
	int ifindex, n = 0;

	if (system("ip link add nstcpq4 numtxqueues 512 numrxqueues 512 type veth peer name nstcpq5")) {
		tap_ok(0, "ip link add nstcpq4 (%d queues) type veth", BIG_QUEUES);
		tap_ok(0, "(no device, no INSTANCE_GET)");
		return;
	}
	ifindex = if_nametoindex("nstcpq4");
	q = nl_qset_all(&nls, buf, ifindex, BIG_QUEUES, 0);
	r = (struct nl_reply){ 0 };
	nl_talk(&nls, q, &r);
	tap_ok(!r.err, "QUEUE_SET: nstcpq4's %d queues all on CPU 0 (%s)",
	       BIG_QUEUES, strerror(-r.err));
	nlh = nl_req(&nls, buf, NSTCP_CMD_INSTANCE_GET, false);
	mnl_attr_put_u32(nlh, NSTCP_A_INST_CPU, 0);
	r = (struct nl_reply){ .cb = count_queues_cb, .data = &n };
	nl_talk(&nls, nlh, &r);
	tap_ok(!r.err && n == BIG_QUEUES,
	       "INSTANCE_GET of CPU 0: one reply with its %d queues (%s, %d)",
	       BIG_QUEUES, strerror(-r.err), n);
	if (system("ip link del nstcpq4"))
		tap_diag("ip link del nstcpq4 failed");
}

/* Our one pending hand-off's giver pid in a HANDOFF_GET dump, or -1. */
static int ho_giver_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[NSTCP_A_HANDOFF_MAX + 1];

	nl_attrs(nlh, tb, NSTCP_A_HANDOFF_MAX);
	*(int *)data = tb[NSTCP_A_HANDOFF_GIVER] ?
		       (int)nl_uint(tb[NSTCP_A_HANDOFF_GIVER]) : -1;
	return 0;
}

static int dump_giver(struct nl_sock *s)
{
	struct nlmsghdr *nlh = nl_req(s, buf, NSTCP_CMD_HANDOFF_GET, true);
	struct nl_reply r = { .cb = ho_giver_cb };
	int giver = -1;

	r.data = &giver;
	nl_talk(s, nlh, &r);
	return r.err ? -1 : giver;
}

/*
 * pid 1 of a new pid namespace gives a connection to itself: it sees
 * itself as the giver, pid 1; we see its pid in ours.
 */
static void test_pidns(void)
{
	int up[2], go[2], st = 0, seen_child = -1, seen_parent = -1;
	char c = 0;
	pid_t pid;

	if (pipe(up) || pipe(go) || unshare(CLONE_NEWPID)) {
		tap_ok(0, "a new pid namespace (%s)", strerror(errno));
		tap_ok(0, "(no pid namespace)");
		return;
	}
	fflush(stdout);
	pid = fork();
	if (!pid) {
		struct nstcp_give g = { .ng_flags = NSTCP_GIVE_PID,
					.ng_id = getpid() };
		socklen_t len = sizeof(g);
		struct nl_sock s;
		int cfd = -1, sfd = -1, seen = -1;

		if (!nl_open(&s) && !fam_pair("127.0.0.1", &cfd, &sfd) &&
		    !getsockopt(sfd, SOL_NSTCP, NSTCP_GIVE, &g, &len))
			seen = dump_giver(&s);
		if (write(up[1], &seen, sizeof(seen)) != sizeof(seen) ||
		    read(go[0], &c, 1) != 1)
			_exit(1);
		/* Taken back, so nothing waits for the token's expiry. */
		if (seen >= 0) {
			int tfd = socket(AF_NSTCP, SOCK_STREAM, 0);

			if (setsockopt(tfd, SOL_NSTCP, NSTCP_TAKE, &g.ng_token,
				       sizeof(g.ng_token)))
				_exit(1);
			close(tfd);
			close(sfd);
			close(cfd);
		}
		_exit(0);
	}
	if (pid < 0 || read(up[0], &seen_child, sizeof(seen_child)) !=
	    sizeof(seen_child))
		seen_child = -2;
	seen_parent = dump_giver(&nls);
	if (pid > 0) {
		if (write(go[1], &c, 1) != 1)
			kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
	}
	tap_ok(pid > 0 && WIFEXITED(st) && !WEXITSTATUS(st),
	       "the child took its connection back and exited (%#x)", st);
	close(up[0]);
	close(up[1]);
	close(go[0]);
	close(go[1]);
	tap_ok(seen_child == 1,
	       "HANDOFF_GET from pid 1 of a new pid namespace: giver 1 (%d)",
	       seen_child);
	tap_ok(seen_parent == pid,
	       "the same dump from the parent's namespace: giver %d (%d)",
	       pid, seen_parent);
}

int main(void)
{
	int err;

	fam_start(9, 120);
	err = nl_open(&nls);
	if (!tap_ok(!err, "the family \"%s\" is there (%s)", NSTCP_GENL_NAME,
		    strerror(-err)))
		return tap_done();
	test_dump_intr();
	test_big_instance();
	test_pidns();
	nl_close(&nls);
	return fam_finish();
}
