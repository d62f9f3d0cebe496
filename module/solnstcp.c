// SPDX-License-Identifier: GPL-2.0
/*
 * The SOL_NSTCP socket options (include/uapi/linux/nstcp.h): a port's
 * share key and listening policy set and read, a socket's home CPU and
 * NSTCP_INFO read.  The per-port limits are limit.c's, the hand-off's
 * options handoff.c's and takefd.c's; the TCP sock's own options, passed
 * on by listening members to their per-CPU listeners, sockopt.c's.
 */
#include <linux/nstcp.h>
#include <linux/tcp.h>
#include <net/ipv6.h>
#include <net/sock.h>
#include <net/tcp.h>

#include "nstcp.h"

static int nstcp_set_key(struct sock *sk, sockptr_t optval,
			 unsigned int optlen)
{
	u8 key[NSTCP_KEY_MAX];
	struct nstcp_sk *ns;
	unsigned int i;
	int err = -EINVAL;

	if (optlen < 1 || optlen > NSTCP_KEY_MAX)
		return -EINVAL;
	if (copy_from_sockptr(key, optval, optlen))
		return -EFAULT;
	for (i = 0; i < optlen; i++)
		if (!isascii(key[i]) || !isalnum(key[i]))
			return -EINVAL;
	lock_sock(sk);
	if (inet_sk(sk)->inet_num || sk->sk_state != TCP_CLOSE)
		goto out;
	ns = nstcp_sk_alloc(sk);
	err = PTR_ERR_OR_ZERO(ns);
	if (err)
		goto out;
	memcpy(ns->key, key, optlen);
	ns->keylen = optlen;
	/* A shared port is SO_REUSEPORT's uid rule, and its bind. */
	sk->sk_reuseport = 1;
out:
	release_sock(sk);
	return err;
}

/* A live port changes policy: reassign what is queued.  Under lg_lock. */
static void nstcp_repolicy(struct nstcp_lgroup *g, int p)
{
	long n;
	unsigned int i;

	spin_lock_bh(&g->lock);
	if (READ_ONCE(g->policy) != p) {
		WRITE_ONCE(g->policy, p);
		for (i = 0; i < g->nmembers; i++)
			atomic_set(&g->marr[i]->credits, 0);
		g->prepaid = 0;
		n = nstcp_unassigned(g);
		if (p != NSTCP_POLICY_CPU && n > 0)
			nstcp_hand_on(g, n, false);
	}
	spin_unlock_bh(&g->lock);
}

static int nstcp_set_policy(struct sock *sk, sockptr_t optval,
			    unsigned int optlen)
{
	struct nstcp_net *nn = nstcp_pernet(sock_net(sk));
	struct nstcp_sk *ns;
	int p, err = -EINVAL;

	if (optlen < sizeof(int))
		return -EINVAL;
	if (copy_from_sockptr(&p, optval, sizeof(p)))
		return -EFAULT;
	if (p < NSTCP_POLICY_CPU || p > NSTCP_POLICY_LEAST)
		return -EINVAL;
	lock_sock(sk);
	ns = nstcp_sk_get(sk);
	if (!(ns && ns->member) && sk->sk_state != TCP_CLOSE)
		goto out;
	ns = nstcp_sk_alloc(sk);
	err = PTR_ERR_OR_ZERO(ns);
	if (err)
		goto out;
	ns->policy = p;
	if (ns->member) {
		mutex_lock(&nn->lg_lock);
		nstcp_repolicy(ns->member->group, p);
		mutex_unlock(&nn->lg_lock);
	}
out:
	release_sock(sk);
	return err;
}

int nstcp_setsockopt_nstcp(struct sock *sk, int optname, sockptr_t optval,
			   unsigned int optlen)
{
	switch (optname) {
	case NSTCP_SHARE_KEY:
		return nstcp_set_key(sk, optval, optlen);
	case NSTCP_POLICY:
		return nstcp_set_policy(sk, optval, optlen);
	case NSTCP_MAX_CONNS:
	case NSTCP_CPS:
	case NSTCP_PER_SOURCE:
		return nstcp_limit_set(sk, optname, optval, optlen);
	default:
		return -ENOPROTOOPT;	/* unknown, or read-only */
	}
}

/*
 * Whether a dual-stack sock carries IPv4: connected to a v4-mapped peer, or
 * unconnected and bound to a v4-mapped (IPv4-only) local address.
 */
static bool nstcp_wire_v4(const struct sock *sk)
{
	if (sk->sk_family != AF_INET6)
		return false;
	if (!ipv6_addr_any(&sk->sk_v6_daddr))
		return ipv6_addr_v4mapped(&sk->sk_v6_daddr);
	return ipv6_addr_v4mapped(&sk->sk_v6_rcv_saddr);
}

static int nstcp_put_int(int val, char __user *optval, int __user *optlen,
			 int len)
{
	if (len < (int)sizeof(int))
		return -EINVAL;
	len = sizeof(int);
	if (put_user(len, optlen) || copy_to_user(optval, &val, len))
		return -EFAULT;
	return 0;
}

int nstcp_getsockopt_nstcp(struct sock *sk, int optname,
			   char __user *optval, int __user *optlen)
{
	struct nstcp_net *nn = nstcp_pernet(sock_net(sk));
	struct nstcp_info info = {};
	u8 key[NSTCP_KEY_MAX];
	struct nstcp_sk *ns;
	int len, p;

	if (get_user(len, optlen))
		return -EFAULT;
	if (len < 0)
		return -EINVAL;

	switch (optname) {
	case NSTCP_HOME_CPU:
		return nstcp_put_int(READ_ONCE(sk->sk_incoming_cpu), optval,
				     optlen, len);
	case NSTCP_INFO:
		info.nsi_home_cpu = READ_ONCE(sk->sk_incoming_cpu);
		info.nsi_call_cpu = raw_smp_processor_id();
		info.nsi_family = nstcp_wire_v4(sk) ? AF_INET : sk->sk_family;
		if (READ_ONCE(sk->sk_state) == TCP_LISTEN)
			info.nsi_flags |= NSTCP_INFO_LISTENING;
		if (sk->sk_family == AF_INET6 && sk->sk_ipv6only)
			info.nsi_flags |= NSTCP_INFO_V6ONLY;
		ns = nstcp_sk_get(sk);
		if (ns && READ_ONCE(ns->token))
			info.nsi_flags |= NSTCP_INFO_GIVEN;
		if (ns && READ_ONCE(ns->detached))
			info.nsi_flags |= NSTCP_INFO_DETACHED;
		if (ns && READ_ONCE(ns->inbox))
			info.nsi_flags |= NSTCP_INFO_INBOX;
		len = min_t(int, len, sizeof(info));
		if (put_user(len, optlen) || copy_to_user(optval, &info, len))
			return -EFAULT;
		return 0;
	case NSTCP_SHARE_KEY:
		lock_sock(sk);
		ns = nstcp_sk_get(sk);
		len = min_t(int, len, ns ? ns->keylen : 0);
		memcpy(key, ns ? ns->key : key, len);
		release_sock(sk);
		if (put_user(len, optlen) || copy_to_user(optval, key, len))
			return -EFAULT;
		return 0;
	case NSTCP_POLICY:
		lock_sock(sk);
		ns = nstcp_sk_get(sk);
		if (ns && ns->member)
			p = READ_ONCE(ns->member->group->policy);
		else if (ns && ns->policy)
			p = ns->policy;
		else
			p = READ_ONCE(nn->listen_policy);
		release_sock(sk);
		return nstcp_put_int(p, optval, optlen, len);
	case NSTCP_MAX_CONNS:
	case NSTCP_CPS:
	case NSTCP_PER_SOURCE:
		return nstcp_limit_get(sk, optname, optval, optlen, len);
	default:
		return -ENOPROTOOPT;
	}
}
