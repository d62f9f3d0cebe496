// SPDX-License-Identifier: GPL-2.0
/*
 * AF_NSTCP socket options: keeping a listening port's per-CPU listeners in
 * step with the options of its members (the SOL_NSTCP options are
 * solnstcp.c's).
 *
 * A TCP listener passes most of its options on to the connections it
 * accepts (they are copied with the sock), and some act on the listener
 * itself (SO_BINDTODEVICE, IP_FREEBIND, TCP_DEFER_ACCEPT, TCP_FASTOPEN, a
 * socket filter, ...).  The per-CPU listeners are made with the owner's
 * options, and every option later set on a member is copied to them, so
 * accepted sockets see what an AF_INET listener would have passed on.
 * Options that live in lists (TCP_MD5SIG keys, TCP_FASTOPEN_KEY) are
 * replayed instead: a socket that is not connected records them.
 */
#include <linux/filter.h>
#include <linux/nstcp.h>
#include <linux/slab.h>
#include <linux/tcp.h>
#include <net/inet_connection_sock.h>
#include <net/ipv6.h>
#include <net/sock.h>
#include <net/tcp.h>

#include "nstcp.h"

/* Most records a socket keeps for its listeners to replay. */
#define NSTCP_REPLAY_MAX	64

struct nstcp_replay {
	struct list_head	node;
	int			level;
	int			optname;
	unsigned int		len;
	u8			val[];
};

static const enum sock_flags nstcp_sync_flags[] = {
	SOCK_KEEPOPEN, SOCK_LINGER, SOCK_URGINLINE, SOCK_RCVTSTAMP,
	SOCK_RCVTSTAMPNS, SOCK_TSTAMP_NEW, SOCK_ZEROCOPY, SOCK_RXQ_OVFL,
	SOCK_SELECT_ERR_QUEUE, SOCK_FILTER_LOCKED,
};

static void nstcp_sync_sock(const struct sock *from, struct sock *to,
			    bool fresh)
{
	unsigned int i;
	u8 locks = SOCK_SNDBUF_LOCK | SOCK_RCVBUF_LOCK;

	to->sk_userlocks = (to->sk_userlocks & ~locks) |
			   (from->sk_userlocks & locks);
	WRITE_ONCE(to->sk_sndbuf, READ_ONCE(from->sk_sndbuf));
	WRITE_ONCE(to->sk_rcvbuf, READ_ONCE(from->sk_rcvbuf));
	for (i = 0; i < ARRAY_SIZE(nstcp_sync_flags); i++)
		sock_valbool_flag(to, nstcp_sync_flags[i],
				  sock_flag(from, nstcp_sync_flags[i]));
	WRITE_ONCE(to->sk_lingertime, READ_ONCE(from->sk_lingertime));
	WRITE_ONCE(to->sk_rcvlowat, READ_ONCE(from->sk_rcvlowat));
	WRITE_ONCE(to->sk_rcvtimeo, READ_ONCE(from->sk_rcvtimeo));
	WRITE_ONCE(to->sk_sndtimeo, READ_ONCE(from->sk_sndtimeo));
	WRITE_ONCE(to->sk_mark, READ_ONCE(from->sk_mark));
	WRITE_ONCE(to->sk_priority, READ_ONCE(from->sk_priority));
	WRITE_ONCE(to->sk_max_pacing_rate, READ_ONCE(from->sk_max_pacing_rate));
	WRITE_ONCE(to->sk_tsflags, READ_ONCE(from->sk_tsflags));
#ifdef CONFIG_NET_RX_BUSY_POLL
	WRITE_ONCE(to->sk_ll_usec, READ_ONCE(from->sk_ll_usec));
#endif
	if (to->sk_bound_dev_if != READ_ONCE(from->sk_bound_dev_if)) {
		WRITE_ONCE(to->sk_bound_dev_if, READ_ONCE(from->sk_bound_dev_if));
		sk_dst_reset(to);
	}
	if (fresh && from->sk_family == AF_INET6 && to->sk_family == AF_INET6)
		to->sk_ipv6only = from->sk_ipv6only;
}

/*
 * The IPv4 options live in the inet sock of either family: a dual-stack
 * member's reach an AF_INET listener of an IPv4 port as they are.  The
 * IPv6 ones only pass between IPv6 socks.
 */
static void nstcp_sync_ip(const struct sock *from, struct sock *to)
{
	const struct inet_sock *fi = inet_sk(from);
	struct inet_sock *ti = inet_sk(to);

	inet_assign_bit(FREEBIND, to, inet_test_bit(FREEBIND, from));
	inet_assign_bit(TRANSPARENT, to, inet_test_bit(TRANSPARENT, from));
	WRITE_ONCE(ti->tos, READ_ONCE(fi->tos));
	WRITE_ONCE(ti->uc_ttl, READ_ONCE(fi->uc_ttl));
	WRITE_ONCE(ti->min_ttl, READ_ONCE(fi->min_ttl));
	WRITE_ONCE(ti->pmtudisc, READ_ONCE(fi->pmtudisc));
#if IS_ENABLED(CONFIG_IPV6)
	if (from->sk_family == AF_INET6 && to->sk_family == AF_INET6) {
		WRITE_ONCE(inet6_sk(to)->tclass, READ_ONCE(inet6_sk(from)->tclass));
		inet6_sk(to)->hop_limit = inet6_sk(from)->hop_limit;
	}
#endif
}

static void nstcp_sync_tcp(const struct sock *from, struct sock *to)
{
	const struct inet_connection_sock *ficsk = inet_csk(from);
	struct inet_connection_sock *ticsk = inet_csk(to);
	const struct tcp_sock *ftp = tcp_sk(from);
	struct tcp_sock *ttp = tcp_sk(to);

	ttp->nonagle = ftp->nonagle;
	WRITE_ONCE(ttp->rx_opt.user_mss, READ_ONCE(ftp->rx_opt.user_mss));
	WRITE_ONCE(ttp->keepalive_time, READ_ONCE(ftp->keepalive_time));
	WRITE_ONCE(ttp->keepalive_intvl, READ_ONCE(ftp->keepalive_intvl));
	WRITE_ONCE(ttp->keepalive_probes, READ_ONCE(ftp->keepalive_probes));
	WRITE_ONCE(ticsk->icsk_user_timeout, READ_ONCE(ficsk->icsk_user_timeout));
	WRITE_ONCE(ticsk->icsk_syn_retries, READ_ONCE(ficsk->icsk_syn_retries));
	WRITE_ONCE(ttp->notsent_lowat, READ_ONCE(ftp->notsent_lowat));
	WRITE_ONCE(ttp->linger2, READ_ONCE(ftp->linger2));
	WRITE_ONCE(ttp->window_clamp, READ_ONCE(ftp->window_clamp));
	ttp->save_syn = ftp->save_syn;
	WRITE_ONCE(ticsk->icsk_accept_queue.rskq_defer_accept,
		   READ_ONCE(ficsk->icsk_accept_queue.rskq_defer_accept));
}

static void nstcp_optsnap(const struct sock *sk, struct nstcp_optsnap *s)
{
	unsigned int i;

	memset(s, 0, sizeof(*s));
	for (i = 0; i < ARRAY_SIZE(nstcp_sync_flags); i++)
		if (sock_flag(sk, nstcp_sync_flags[i]))
			s->flags |= 1UL << nstcp_sync_flags[i];
	s->rcvtimeo = READ_ONCE(sk->sk_rcvtimeo);
	s->sndtimeo = READ_ONCE(sk->sk_sndtimeo);
	s->lingertime = READ_ONCE(sk->sk_lingertime);
	s->pacing = READ_ONCE(sk->sk_max_pacing_rate);
	s->filter = rcu_access_pointer(sk->sk_filter);
	s->sndbuf = READ_ONCE(sk->sk_sndbuf);
	s->rcvbuf = READ_ONCE(sk->sk_rcvbuf);
	s->rcvlowat = READ_ONCE(sk->sk_rcvlowat);
	s->bound_dev_if = READ_ONCE(sk->sk_bound_dev_if);
	s->mark = READ_ONCE(sk->sk_mark);
	s->priority = READ_ONCE(sk->sk_priority);
	s->tsflags = READ_ONCE(sk->sk_tsflags);
#ifdef CONFIG_NET_RX_BUSY_POLL
	s->ll_usec = READ_ONCE(sk->sk_ll_usec);
#endif
	s->userlocks = sk->sk_userlocks;
}

/* A socket filter is shared, charged to each listener as sk_clone does. */
static void nstcp_sync_filter(const struct sock *from, struct sock *to)
{
	struct sk_filter *fp, *old;

	fp = rcu_dereference_protected(from->sk_filter, true);
	old = rcu_dereference_protected(to->sk_filter, lockdep_sock_is_held(to));
	if (fp == old)
		return;
	if (old) {
		/* @from's lock flag comes after: this replaces, not detaches. */
		sock_reset_flag(to, SOCK_FILTER_LOCKED);
		sk_detach_filter(to);
	}
	if (fp && refcount_inc_not_zero(&fp->refcnt)) {
		atomic_add(bpf_prog_size(fp->prog->len), &to->sk_omem_alloc);
		rcu_assign_pointer(to->sk_filter, fp);
	}
}

static int nstcp_tcp_set(struct socket *to, int optname, const void *val,
			 unsigned int len)
{
	return to->ops->setsockopt(to, SOL_TCP, optname,
				   KERNEL_SOCKPTR((void *)val), len);
}

/*
 * Set a recorded option on the listener @l.  A TCP_MD5SIG key recorded on
 * a dual-stack sock names an IPv4 peer v4-mapped: an AF_INET listener (of
 * an IPv4 port) takes it as a sockaddr_in, and has no use for a key of an
 * IPv6 peer, which it would misread.
 */
static int nstcp_replay_set(struct socket *l, const struct nstcp_replay *r)
{
	const struct tcp_md5sig *cmd = (const struct tcp_md5sig *)r->val;
	struct sockaddr_storage a;
	struct tcp_md5sig *v4;
	int err, alen;

	if ((r->optname != TCP_MD5SIG && r->optname != TCP_MD5SIG_EXT) ||
	    r->len < sizeof(*cmd) || l->sk->sk_family != AF_INET ||
	    cmd->tcpm_addr.ss_family != AF_INET6)
		return nstcp_tcp_set(l, r->optname, r->val, r->len);
	if (nstcp_addr_in((const struct sockaddr *)&cmd->tcpm_addr,
			  sizeof(struct sockaddr_in6), false, &a, &alen))
		return 0;
	v4 = kmemdup(r->val, r->len, GFP_KERNEL);
	if (!v4)
		return -ENOMEM;
	memset(&v4->tcpm_addr, 0, sizeof(v4->tcpm_addr));
	memcpy(&v4->tcpm_addr, &a, alen);
	err = nstcp_tcp_set(l, r->optname, v4, r->len);
	kfree(v4);
	return err;
}

/*
 * Whether listener @l's Fast Open queue is to become @qlen, the owner's.
 * With TFO_SERVER_WO_SOCKOPT1, inet_listen() gave a listener whose queue
 * was 0 one of its backlog: an owner that never set TCP_FASTOPEN (0)
 * leaves that as it is, as AF_INET's listener keeps it.
 */
static bool nstcp_sync_tfo(const struct sock *l, int qlen)
{
	int tfo = READ_ONCE(sock_net(l)->ipv4.sysctl_tcp_fastopen);
	int now = READ_ONCE(inet_csk(l)->icsk_accept_queue.fastopenq.max_qlen);

	if (now == qlen)
		return false;
	return qlen || !(tfo & TFO_SERVER_ENABLE) ||
	       !(tfo & TFO_SERVER_WO_SOCKOPT1);
}

/*
 * Copy @from's options to the per-CPU listener @to: @fresh before its
 * bind, else a live listener.  Caller holds lock_sock(from).
 */
int nstcp_sockopt_sync(struct sock *from, struct socket *to, bool fresh)
{
	const struct tcp_congestion_ops *ca = inet_csk(from)->icsk_ca_ops;
	int qlen = inet_csk(from)->icsk_accept_queue.fastopenq.max_qlen;
	struct nstcp_sk *ns = nstcp_sk_get(from);
	struct nstcp_replay *r;
	struct sock *sk = to->sk;
	int err = 0;

	lock_sock(sk);
	/* The member's release_cb writes the same fields under the slock. */
	spin_lock_bh(&sk->sk_lock.slock);
	nstcp_sync_filter(from, sk);
	nstcp_sync_sock(from, sk, fresh);
	spin_unlock_bh(&sk->sk_lock.slock);
	nstcp_sync_ip(from, sk);
	nstcp_sync_tcp(from, sk);
	release_sock(sk);

	if (ca && inet_csk(sk)->icsk_ca_ops != ca)
		err = nstcp_tcp_set(to, TCP_CONGESTION, ca->name,
				    strlen(ca->name));
	if (!err && nstcp_sync_tfo(sk, qlen))
		err = nstcp_tcp_set(to, TCP_FASTOPEN, &qlen, sizeof(qlen));
	if (fresh && ns)
		list_for_each_entry(r, &ns->replay, node)
			if (!err)
				err = nstcp_replay_set(to, r);
	return err;
}

/* Apply @fn to every per-CPU listener of @sk's port.  Caller locks @sk. */
static int nstcp_for_listeners(struct sock *sk,
			       int (*fn)(struct sock *sk, struct socket *l,
					 const void *arg),
			       const void *arg)
{
	struct nstcp_member *m = nstcp_member(sk);
	unsigned int i;
	int err = 0;

	if (!m)
		return 0;
	for (i = 0; i < m->group->nr && !err; i++)
		err = fn(sk, m->group->q[i].sock, arg);
	return err;
}

static int nstcp_sync_one(struct sock *sk, struct socket *l, const void *arg)
{
	return nstcp_sockopt_sync(sk, l, false);
}

/* An option was set on @sk: a listener passes it on to its listeners. */
void nstcp_sockopt_after_set(struct sock *sk)
{
	struct nstcp_sk *ns = nstcp_sk_get(sk);

	if (!nstcp_member(sk))
		return;
	lock_sock(sk);
	/* What release_cb compares with: this copy leaves nothing for it. */
	nstcp_optsnap(sk, &ns->snap);
	/* The socket's own call succeeded; so does the copy, or it is logged. */
	if (nstcp_for_listeners(sk, nstcp_sync_one, NULL))
		net_warn_ratelimited("nstcp: an option did not reach every per-CPU listener\n");
	release_sock(sk);
}

/*
 * SOL_SOCKET options never reach proto_ops->setsockopt on 6.1:
 * __sys_setsockopt() calls sock_setsockopt() itself.  So a member's sock
 * runs on a copy of its TCP proto whose release_cb, run at the end of
 * every call that locked the socket (sock_setsockopt() among them), copies
 * the socket-level options that changed to the listeners.  It runs under
 * the member's sk_lock.slock with BHs off: it takes each listener's slock,
 * not its socket lock (what it writes needs no more).
 */
static struct proto nstcp_member_prots[2];
static const struct proto *nstcp_member_bases[2];

static void nstcp_member_release_cb(struct sock *sk)
{
	struct nstcp_sk *ns = nstcp_sk_get(sk);
	struct nstcp_member *m = ns ? ns->member : NULL;
	struct nstcp_optsnap now;
	unsigned int i;

	if (sk->sk_prot_creator->release_cb)
		sk->sk_prot_creator->release_cb(sk);
	if (!m)
		return;
	if (rcu_access_pointer(sk->sk_reuseport_cb))
		pr_warn_once("nstcp: a reuseport program on an AF_NSTCP listener has no effect (this kernel cannot refuse it)\n");
	nstcp_optsnap(sk, &now);
	if (!memcmp(&now, &ns->snap, sizeof(now)))
		return;
	ns->snap = now;
	/* The group has listeners while it has @m: they cannot go. */
	for (i = 0; i < m->group->nr; i++) {
		struct socket *l = m->group->q[i].sock;

		if (!l)
			continue;
		bh_lock_sock(l->sk);
		nstcp_sync_filter(sk, l->sk);
		nstcp_sync_sock(sk, l->sk, false);
		bh_unlock_sock(l->sk);
	}
}

void nstcp_sockopt_prot_init(const struct proto *base)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(nstcp_member_bases); i++) {
		if (nstcp_member_bases[i] == base)
			return;
		if (!nstcp_member_bases[i]) {
			nstcp_member_prots[i] = *base;
			nstcp_member_prots[i].release_cb = nstcp_member_release_cb;
#ifdef CONFIG_BPF_SYSCALL
			/*
			 * No sockmap on a listening member: it would rebuild
			 * the kernel's sockmap protos from this copy.
			 */
			nstcp_member_prots[i].psock_update_sk_prot = NULL;
#endif
			nstcp_member_bases[i] = base;
			return;
		}
	}
}

/*
 * @sk becomes a member (@on) or stops being one: its proto.  Options it
 * had before are not pushed to the listeners: only later changes are.
 * Caller holds lock_sock(sk).
 */
void nstcp_sockopt_member_prot(struct sock *sk, bool on)
{
	struct nstcp_sk *ns = nstcp_sk_get(sk);
	unsigned int i;

	/* SOL_SOCKET options reach nstcp_setsockopt() there: no copy needed. */
	if (compat_family_sees_sol_socket())
		return;

	for (i = 0; i < ARRAY_SIZE(nstcp_member_bases); i++) {
		if (!nstcp_member_bases[i] ||
		    sk->sk_prot_creator != nstcp_member_bases[i])
			continue;
		if (on && ns && sk->sk_prot == nstcp_member_bases[i]) {
			nstcp_optsnap(sk, &ns->snap);
			WRITE_ONCE(sk->sk_prot, &nstcp_member_prots[i]);
		} else if (!on && sk->sk_prot == &nstcp_member_prots[i]) {
			WRITE_ONCE(sk->sk_prot, sk->sk_prot_creator);
		}
	}
}

/* Options kept as records and replayed on the listeners. */
bool nstcp_sockopt_replayed(int level, int optname)
{
	return level == SOL_TCP &&
	       (optname == TCP_MD5SIG || optname == TCP_MD5SIG_EXT ||
		optname == TCP_FASTOPEN_KEY);
}

static int nstcp_replay_one(struct sock *sk, struct socket *l, const void *arg)
{
	return nstcp_replay_set(l, arg);
}

/*
 * A TCP_MD5SIG key's peer comes as a sockaddr_in or sockaddr_in6, as the
 * family's other addresses do: a dual-stack sock takes an IPv4 peer as
 * v4-mapped (its md5_parse refuses AF_INET).
 */
static void nstcp_md5_addr_in(const struct sock *sk, struct nstcp_replay *r)
{
	struct tcp_md5sig *cmd = (struct tcp_md5sig *)r->val;
	struct sockaddr_storage a;
	int alen;

	if ((r->optname != TCP_MD5SIG && r->optname != TCP_MD5SIG_EXT) ||
	    r->len < sizeof(*cmd) || sk->sk_family != AF_INET6 ||
	    cmd->tcpm_addr.ss_family != AF_INET)
		return;
	if (!nstcp_addr_in((struct sockaddr *)&cmd->tcpm_addr,
			   sizeof(struct sockaddr_in), true, &a, &alen))
		memcpy(&cmd->tcpm_addr, &a, alen);
}

/*
 * setsockopt() of a replayed option: set on the socket itself, then, on a
 * socket that is not connected, recorded and set on its listeners.
 */
int nstcp_sockopt_set_replayed(struct socket *sock, int level, int optname,
			       sockptr_t optval, unsigned int optlen)
{
	struct sock *sk = sock->sk;
	struct nstcp_replay *r;
	struct nstcp_sk *ns;
	int err, n = 0;

	if (optlen > 512)
		optlen = 512;	/* larger than any of them: the rest is unused */
	r = kmalloc(struct_size(r, val, optlen), GFP_KERNEL);
	if (!r)
		return -ENOMEM;
	r->level = level;
	r->optname = optname;
	r->len = optlen;
	if (copy_from_sockptr(r->val, optval, optlen)) {
		kfree(r);
		return -EFAULT;
	}
	nstcp_md5_addr_in(sk, r);
	err = sock_common_setsockopt(sock, level, optname,
				     KERNEL_SOCKPTR(r->val), optlen);
	if (err)
		goto out_free;
	lock_sock(sk);
	if ((1 << sk->sk_state) & ~(TCPF_CLOSE | TCPF_LISTEN)) {
		release_sock(sk);
		goto out_free;
	}
	ns = nstcp_sk_alloc(sk);
	err = PTR_ERR_OR_ZERO(ns);
	if (!err) {
		struct nstcp_replay *p;

		list_for_each_entry(p, &ns->replay, node)
			n++;
		err = n < NSTCP_REPLAY_MAX ? 0 : -ENOBUFS;
	}
	if (!err) {
		list_add_tail(&r->node, &ns->replay);
		r = NULL;
		err = nstcp_for_listeners(sk, nstcp_replay_one,
					  list_last_entry(&ns->replay,
							  struct nstcp_replay,
							  node));
	}
	release_sock(sk);
out_free:
	kfree(r);
	return err;
}

void nstcp_sockopt_free(struct nstcp_sk *ns)
{
	struct nstcp_replay *r, *tmp;

	list_for_each_entry_safe(r, tmp, &ns->replay, node)
		kfree(r);
}
