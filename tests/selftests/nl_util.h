/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The selftests' one reader of the module's state: the generic netlink
 * family "nstcp" (include/uapi/linux/nstcp_netlink.h), through libmnl.
 * proc_util.h's counter readers (proc_read_stats, proc_read_listen) and
 * handoff_util.h's ho_pending go through it; netlink_*.c tests use its
 * raw requests.
 *
 * Everything is read in the calling thread's network namespace (a
 * netlink socket belongs to the namespace it is made in).  Link with
 * -lmnl.
 */
#ifndef NSTCP_SELFTEST_NL_UTIL_H
#define NSTCP_SELFTEST_NL_UTIL_H

#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include <linux/nstcp.h>
#include <linux/nstcp_netlink.h>

#define PROC_MAXCPU		256	/* instances read */

/* ---- the instances' counters ---- */

enum { PROC_SOCKETS, PROC_CLOSES, PROC_ACCEPTS, PROC_CONNECTS, PROC_CALLS,
       PROC_HOPS, PROC_GIVEN, PROC_TAKEN, PROC_EXPIRED, PROC_REFUSED,
       PROC_REHOMED, PROC_UNSTEERED, PROC_LCONNECTS, PROC_LFALLBACKS,
       PROC_LMISSES, PROC_NSTATS };

static const char *const proc_stat_names[PROC_NSTATS] = {
	"sockets", "closes", "accepts", "connects", "calls", "hops",
	"given", "taken", "expired", "refused", "rehomed", "unsteered",
	"lconnects", "lfallbacks", "lmisses",
};

/* The attribute of each counter. */
static const int nl_stat_attr[PROC_NSTATS] = {
	NSTCP_A_INST_SOCKETS, NSTCP_A_INST_CLOSES, NSTCP_A_INST_ACCEPTS,
	NSTCP_A_INST_CONNECTS, NSTCP_A_INST_CALLS, NSTCP_A_INST_HOPS,
	NSTCP_A_INST_GIVEN, NSTCP_A_INST_TAKEN, NSTCP_A_INST_EXPIRED,
	NSTCP_A_INST_REFUSED, NSTCP_A_INST_REHOMED, NSTCP_A_INST_UNSTEERED,
	NSTCP_A_INST_LCONNECTS, NSTCP_A_INST_LFALLBACKS, NSTCP_A_INST_LMISSES,
};

struct proc_cpu {
	int cpu, online;
	unsigned long v[PROC_NSTATS];	/* PROC_SOCKETS... */
	unsigned long listeners, queued, stolen;
};

struct proc_stats {
	int rows;			/* -1: unreadable or malformed */
	int online;			/* instances online */
	struct proc_cpu row[PROC_MAXCPU];	/* in CPU order */
	unsigned long sum[PROC_NSTATS];	/* over the instances */
};

/* One listening port's listener on one CPU (a row of nstcp_listen). */
struct proc_listen_row {
	char addr[80];		/* [address]:port */
	int port;
	char key[24];		/* "-": exclusive; "*": not shown to us */
	char policy[16];
	long listeners, cpu, queued, accepted, stolen, migrated;
	long owner;		/* the uid every member of the port has */
	long max_conns, cps, conns, lrefused;	/* the port's limits */
	long per_source, src_uncounted;
};

/* ---- raw requests ---- */

struct nl_sock {
	struct mnl_socket *sk;
	unsigned int portid, seq;
	int family;			/* the family's id */
};

/* The answer to one request. */
struct nl_reply {
	int err;			/* 0 or the -errno of the NLMSG_ERROR */
	char extack[160];		/* the kernel's message, if any */
	int nmsg;			/* family messages */
	int (*cb)(const struct nlmsghdr *nlh, void *data);	/* each of them */
	void *data;
};

static inline int nl_ctrl_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *a;

	mnl_attr_for_each(a, nlh, sizeof(struct genlmsghdr))
		if (mnl_attr_get_type(a) == CTRL_ATTR_FAMILY_ID)
			*(int *)data = mnl_attr_get_u16(a);
	return MNL_CB_OK;
}

/*
 * Runs one message through the socket: the answers until the ack or the
 * dump's end.  r->err is the kernel's error (or a local -errno).
 */
static inline void nl_talk(struct nl_sock *s, struct nlmsghdr *nlh,
			   struct nl_reply *r)
{
	static char buf[1 << 16];
	unsigned int seq = nlh->nlmsg_seq;
	bool done = false;

	r->err = 0;
	r->extack[0] = 0;
	r->nmsg = 0;
	if (mnl_socket_sendto(s->sk, nlh, nlh->nlmsg_len) < 0) {
		r->err = -errno;
		return;
	}
	while (!done) {
		ssize_t n = mnl_socket_recvfrom(s->sk, buf, sizeof(buf));
		struct nlmsghdr *h = (struct nlmsghdr *)buf;
		int len = n;

		if (n < 0) {
			r->err = -errno;
			return;
		}
		for (; mnl_nlmsg_ok(h, len); h = mnl_nlmsg_next(h, &len)) {
			if (h->nlmsg_seq != seq)
				continue;
			if (h->nlmsg_type == NLMSG_DONE) {
				const int *e = mnl_nlmsg_get_payload(h);

				if (h->nlmsg_len >= MNL_NLMSG_HDRLEN + sizeof(int))
					r->err = *e;
				done = true;
			} else if (h->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = mnl_nlmsg_get_payload(h);
				const struct nlattr *attr;
				unsigned int off = sizeof(*e);

				r->err = e->error;
				done = true;
				if (!(h->nlmsg_flags & NLM_F_ACK_TLVS))
					continue;
				if (!(h->nlmsg_flags & NLM_F_CAPPED))
					off += e->msg.nlmsg_len - sizeof(e->msg);
				attr = (const void *)((const char *)e + off);
				for (int left = h->nlmsg_len - MNL_NLMSG_HDRLEN - off;
				     mnl_attr_ok(attr, left);
				     attr = mnl_attr_next(attr)) {
					left -= MNL_ALIGN(attr->nla_len);
					if (mnl_attr_get_type(attr) == NLMSGERR_ATTR_MSG)
						snprintf(r->extack, sizeof(r->extack),
							 "%s", mnl_attr_get_str(attr));
				}
			} else if (h->nlmsg_type == s->family ||
				   h->nlmsg_type == GENL_ID_CTRL) {
				r->nmsg++;
				if (r->cb && r->cb(h, r->data) < 0 && !r->err)
					r->err = -EBADMSG;
			}
		}
	}
}

/* A request header of the family's cmd in buf; NLM_F_DUMP with dump. */
static inline struct nlmsghdr *nl_req(struct nl_sock *s, char *buf, int cmd,
				      bool dump)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct genlmsghdr *g;

	nlh->nlmsg_type = s->family;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | (dump ? NLM_F_DUMP : 0);
	nlh->nlmsg_seq = ++s->seq;
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->cmd = cmd;
	g->version = NSTCP_GENL_VERSION;
	return nlh;
}

/*
 * A QUEUE_SET request in buf (large enough: 28 bytes a queue) mapping
 * queues 0 to n - 1 of ifindex all to cpu.
 */
static inline struct nlmsghdr *nl_qset_all(struct nl_sock *s, char *buf,
					   int ifindex, int n, int cpu)
{
	struct nlmsghdr *nlh = nl_req(s, buf, NSTCP_CMD_QUEUE_SET, false);
	struct nlattr *nest;

	mnl_attr_put_u32(nlh, NSTCP_A_QUEUE_IFINDEX, ifindex);
	for (int i = 0; i < n; i++) {
		nest = mnl_attr_nest_start(nlh, NSTCP_A_QUEUE_ENTRY);
		mnl_attr_put_u32(nlh, NSTCP_A_QENT_QUEUE, i);
		mnl_attr_put_u32(nlh, NSTCP_A_QENT_CPU, cpu);
		mnl_attr_nest_end(nlh, nest);
	}
	return nlh;
}

/*
 * Opens a generic netlink socket in the calling thread's namespace and
 * finds the family; 0, or -errno (-ENOENT: the module is not loaded).
 */
static inline int nl_open(struct nl_sock *s)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nl_reply r = { .cb = nl_ctrl_cb };
	struct nlmsghdr *nlh;
	struct genlmsghdr *g;
	int one = 1;

	memset(s, 0, sizeof(*s));
	s->sk = mnl_socket_open(NETLINK_GENERIC);
	if (!s->sk)
		return -errno;
	if (mnl_socket_bind(s->sk, 0, MNL_SOCKET_AUTOPID) < 0) {
		int err = -errno;

		mnl_socket_close(s->sk);
		return err;
	}
	mnl_socket_setsockopt(s->sk, NETLINK_EXT_ACK, &one, sizeof(one));
	s->portid = mnl_socket_get_portid(s->sk);
	s->seq = time(NULL);
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = GENL_ID_CTRL;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = ++s->seq;
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->cmd = CTRL_CMD_GETFAMILY;
	g->version = 1;
	mnl_attr_put_strz(nlh, CTRL_ATTR_FAMILY_NAME, NSTCP_GENL_NAME);
	r.data = &s->family;
	s->family = 0;
	nl_talk(s, nlh, &r);
	if (r.err || !s->family) {
		mnl_socket_close(s->sk);
		s->sk = NULL;
		return r.err ? r.err : -ENOENT;
	}
	return 0;
}

static inline void nl_close(struct nl_sock *s)
{
	if (s->sk)
		mnl_socket_close(s->sk);
	s->sk = NULL;
}

/* The family's attributes of a message, by type (the last of repeats). */
static inline void nl_attrs(const struct nlmsghdr *nlh,
			    const struct nlattr **tb, int max)
{
	const struct nlattr *a;

	memset(tb, 0, sizeof(*tb) * (max + 1));
	mnl_attr_for_each(a, nlh, sizeof(struct genlmsghdr))
		if (mnl_attr_get_type(a) <= max)
			tb[mnl_attr_get_type(a)] = a;
}

static inline void nl_nested(const struct nlattr *nest,
			     const struct nlattr **tb, int max)
{
	const struct nlattr *a;

	memset(tb, 0, sizeof(*tb) * (max + 1));
	mnl_attr_for_each_nested(a, nest)
		if (mnl_attr_get_type(a) <= max)
			tb[mnl_attr_get_type(a)] = a;
}

static inline unsigned long nl_uint(const struct nlattr *a)
{
	if (!a)
		return 0;
	switch (mnl_attr_get_payload_len(a)) {
	case 1: return mnl_attr_get_u8(a);
	case 2: return mnl_attr_get_u16(a);
	case 4: return mnl_attr_get_u32(a);
	case 8: return mnl_attr_get_u64(a);
	}
	return 0;
}

/* ---- readers ---- */

static inline int nl_stats_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[NSTCP_A_INST_MAX + 1];
	struct proc_stats *st = data;
	struct proc_cpu *r;

	nl_attrs(nlh, tb, NSTCP_A_INST_MAX);
	if (!tb[NSTCP_A_INST_CPU] || !tb[NSTCP_A_INST_ONLINE] ||
	    st->rows == PROC_MAXCPU)
		return -1;
	r = &st->row[st->rows++];
	r->cpu = nl_uint(tb[NSTCP_A_INST_CPU]);
	r->online = nl_uint(tb[NSTCP_A_INST_ONLINE]);
	r->listeners = nl_uint(tb[NSTCP_A_INST_LISTENERS]);
	r->queued = nl_uint(tb[NSTCP_A_INST_QUEUED]);
	r->stolen = nl_uint(tb[NSTCP_A_INST_STOLEN]);
	for (int i = 0; i < PROC_NSTATS; i++) {
		if (!tb[nl_stat_attr[i]])
			return -1;
		r->v[i] = nl_uint(tb[nl_stat_attr[i]]);
		st->sum[i] += r->v[i];
	}
	st->online += r->online == 1;
	return 0;
}

/*
 * The instances of the calling thread's namespace into st (NSTCP_CMD_
 * INSTANCE_GET dump); st->rows, or -1 (message on stderr).
 */
static inline int nl_read_stats(struct proc_stats *st)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nl_reply r = { .cb = nl_stats_cb, .data = st };
	struct nl_sock s;
	int err;

	memset(st, 0, sizeof(*st));
	err = nl_open(&s);
	if (!err) {
		nl_talk(&s, nl_req(&s, buf, NSTCP_CMD_INSTANCE_GET, true), &r);
		err = r.err;
		nl_close(&s);
	}
	if (err) {
		fprintf(stderr, "nl_read_stats: %s\n", strerror(-err));
		memset(st, 0, sizeof(*st));
		st->rows = -1;
	}
	return st->rows;
}

struct nl_listen_ctx {
	struct proc_listen_row *rows;
	int max, n;
};

static inline int nl_listen_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[NSTCP_A_LISTEN_MAX + 1], *ct[NSTCP_A_LCPU_MAX + 1];
	struct nl_listen_ctx *c = data;
	struct proc_listen_row base;
	char a[INET6_ADDRSTRLEN];
	const struct nlattr *at;
	int fam;

	nl_attrs(nlh, tb, NSTCP_A_LISTEN_MAX);
	if (!tb[NSTCP_A_LISTEN_FAMILY] || !tb[NSTCP_A_LISTEN_ADDR] ||
	    !tb[NSTCP_A_LISTEN_PORT] || !tb[NSTCP_A_LISTEN_POLICY])
		return -1;
	memset(&base, 0, sizeof(base));
	fam = nl_uint(tb[NSTCP_A_LISTEN_FAMILY]);
	if (!inet_ntop(fam, mnl_attr_get_payload(tb[NSTCP_A_LISTEN_ADDR]), a,
		       sizeof(a)))
		return -1;
	base.port = nl_uint(tb[NSTCP_A_LISTEN_PORT]);
	snprintf(base.addr, sizeof(base.addr), fam == AF_INET6 ? "[%s]:%d" :
		 "%s:%d", a, base.port);
	if (tb[NSTCP_A_LISTEN_KEY])
		snprintf(base.key, sizeof(base.key), "%.*s",
			 (int)mnl_attr_get_payload_len(tb[NSTCP_A_LISTEN_KEY]),
			 (const char *)mnl_attr_get_payload(tb[NSTCP_A_LISTEN_KEY]));
	else
		snprintf(base.key, sizeof(base.key), "%s",
			 tb[NSTCP_A_LISTEN_KEY_HIDDEN] ? "*" : "-");
	switch (nl_uint(tb[NSTCP_A_LISTEN_POLICY])) {
	case NSTCP_POLICY_CPU:
		snprintf(base.policy, sizeof(base.policy), "cpu");
		break;
	case NSTCP_POLICY_ROUNDROBIN:
		snprintf(base.policy, sizeof(base.policy), "roundrobin");
		break;
	case NSTCP_POLICY_LEAST:
		snprintf(base.policy, sizeof(base.policy), "least");
		break;
	default:
		snprintf(base.policy, sizeof(base.policy), "?");
	}
	base.listeners = nl_uint(tb[NSTCP_A_LISTEN_LISTENERS]);
	base.migrated = nl_uint(tb[NSTCP_A_LISTEN_MIGRATED]);
	base.owner = nl_uint(tb[NSTCP_A_LISTEN_OWNER]);
	base.max_conns = nl_uint(tb[NSTCP_A_LISTEN_MAX_CONNS]);
	base.cps = nl_uint(tb[NSTCP_A_LISTEN_CPS]);
	base.conns = nl_uint(tb[NSTCP_A_LISTEN_CONNS]);
	base.lrefused = nl_uint(tb[NSTCP_A_LISTEN_LREFUSED]);
	base.per_source = nl_uint(tb[NSTCP_A_LISTEN_PER_SOURCE]);
	base.src_uncounted = nl_uint(tb[NSTCP_A_LISTEN_SRC_UNCOUNTED]);
	mnl_attr_for_each(at, nlh, sizeof(struct genlmsghdr)) {
		struct proc_listen_row *row;

		if (mnl_attr_get_type(at) != NSTCP_A_LISTEN_CPU)
			continue;
		if (c->n == c->max)
			return -1;
		nl_nested(at, ct, NSTCP_A_LCPU_MAX);
		if (!ct[NSTCP_A_LCPU_CPU])
			return -1;
		row = &c->rows[c->n++];
		*row = base;
		row->cpu = nl_uint(ct[NSTCP_A_LCPU_CPU]);
		row->queued = nl_uint(ct[NSTCP_A_LCPU_QUEUED]);
		row->accepted = nl_uint(ct[NSTCP_A_LCPU_ACCEPTED]);
		row->stolen = nl_uint(ct[NSTCP_A_LCPU_STOLEN]);
	}
	return 0;
}

/*
 * The listening ports (port < 0: all; else that port's only, filtered by
 * the kernel) as rows of one port and CPU into rows[0..max-1]; how many,
 * or -1 (unreadable, or more than max).
 */
static inline int nl_read_listen(int port, struct proc_listen_row *rows,
				 int max)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nl_listen_ctx c = { rows, max, 0 };
	struct nl_reply r = { .cb = nl_listen_cb, .data = &c };
	struct nlmsghdr *nlh;
	struct nl_sock s;
	int err;

	if (port == 0)
		return 0;	/* nothing listens on port 0 */
	err = nl_open(&s);
	if (!err) {
		nlh = nl_req(&s, buf, NSTCP_CMD_LISTEN_GET, true);
		if (port > 0)
			mnl_attr_put_u16(nlh, NSTCP_A_LISTEN_PORT, port);
		nl_talk(&s, nlh, &r);
		err = r.err;
		nl_close(&s);
	}
	if (err) {
		fprintf(stderr, "nl_read_listen: %s\n", strerror(-err));
		return -1;
	}
	return c.n;
}

/* Pending hand-offs in the namespace (NSTCP_CMD_HANDOFF_GET), or -1. */
static inline int nl_handoffs_pending(void)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nl_reply r = { 0 };
	struct nl_sock s;

	if (nl_open(&s))
		return -1;
	nl_talk(&s, nl_req(&s, buf, NSTCP_CMD_HANDOFF_GET, true), &r);
	nl_close(&s);
	return r.err ? -1 : r.nmsg;
}

#endif
