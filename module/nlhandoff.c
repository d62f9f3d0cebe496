// SPDX-License-Identifier: GPL-2.0
/*
 * AF_NSTCP generic netlink: NSTCP_CMD_HANDOFF_GET, the dump of the pending
 * hand-offs (given connections not yet taken) of the requester's network
 * namespace (Documentation/netlink.rst).
 */
#include <linux/jiffies.h>
#include <linux/pid.h>
#include <linux/pid_namespace.h>
#include <net/genetlink.h>
#include <net/inet_sock.h>
#include <net/ipv6.h>
#include <net/sock.h>
#include <linux/nstcp_netlink.h>

#include "nstcp.h"
#include "netlink.h"

static void nstcp_nl_sk_addr(const struct sock *sk, bool peer,
			     struct sockaddr_storage *ss)
{
	const struct inet_sock *inet = inet_sk(sk);
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	__be16 port = peer ? inet->inet_dport : inet->inet_sport;

	memset(ss, 0, sizeof(*ss));
#if IS_ENABLED(CONFIG_IPV6)
	if (sk->sk_family == AF_INET6) {
		const struct in6_addr *a = peer ? &sk->sk_v6_daddr :
						  &sk->sk_v6_rcv_saddr;

		if (!ipv6_addr_v4mapped(a)) {
			sin6->sin6_family = AF_INET6;
			sin6->sin6_addr = *a;
			sin6->sin6_port = port;
			return;
		}
		sin->sin_family = AF_INET;
		sin->sin_addr.s_addr = a->s6_addr32[3];
		sin->sin_port = port;
		return;
	}
#endif
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = peer ? inet->inet_daddr : inet->inet_rcv_saddr;
	sin->sin_port = port;
}

static void nstcp_nl_handoff_read(const struct nstcp_token *t,
				  unsigned long now,
				  struct pid_namespace *pidns,
				  struct user_namespace *uns,
				  struct nstcp_nl_handoff *v)
{
	unsigned long age = now - t->since;

	memset(v, 0, sizeof(*v));
	v->giver = pid_nr_ns(t->giver, pidns);
	v->taker_is_pid = !!t->taker;
	v->taker = t->taker ? pid_nr_ns(t->taker, pidns) :
			      from_kuid_munged(uns, t->uid);
	v->age_ms = jiffies_to_msecs(age);
	v->left_ms = t->timeout > age ? jiffies_to_msecs(t->timeout - age) : 0;
	v->cpu = t->cpu;
	if (t->sk) {
		nstcp_nl_sk_addr(t->sk, false, &v->local);
		nstcp_nl_sk_addr(t->sk, true, &v->peer);
	}
}

/*
 * Pids are given in the requester's pid namespace, taken when the dump
 * starts (in its sendmsg): whoever reads the later parts sees the same.
 * cb->args[4] holds it, with a reference, until the dump is done.
 */
int nstcp_nl_handoff_dump_start(struct netlink_callback *cb)
{
	cb->args[4] = (long)get_pid_ns(task_active_pid_ns(current));
	return 0;
}

int nstcp_nl_handoff_dump_done(struct netlink_callback *cb)
{
	put_pid_ns((struct pid_namespace *)cb->args[4]);
	return 0;
}

int nstcp_nl_handoff_dump(struct sk_buff *skb, struct netlink_callback *cb)
{
	struct nstcp_net *nn = nstcp_pernet(sock_net(skb->sk));
	struct user_namespace *uns = sk_user_ns(NETLINK_CB(cb->skb).sk);
	struct pid_namespace *pidns = (struct pid_namespace *)cb->args[4];
	struct nstcp_nl_handoff v;
	struct nstcp_token *t;
	unsigned long now = jiffies;
	bool full = false;
	long idx = 0;
	void *hdr;
	int bkt;

	spin_lock(&nn->tok_lock);
	cb->seq = nn->tok_gen + 1;
	hash_for_each(nn->tok_hash, bkt, t, node) {
		if (idx++ < cb->args[0])
			continue;
		nstcp_nl_handoff_read(t, now, pidns, uns, &v);
		hdr = nstcp_nl_put_dump(skb, cb, NSTCP_CMD_HANDOFF_GET);
		if (!hdr) {
			idx--;
			full = true;
			break;
		}
		if (nstcp_nl_fill_handoff(skb, &v)) {
			genlmsg_cancel(skb, hdr);
			idx--;
			full = true;
			break;
		}
		genlmsg_end(skb, hdr);
	}
	spin_unlock(&nn->tok_lock);
	cb->args[0] = idx;
	/* A message that does not fit even alone: fail, never end short. */
	return full && !skb->len ? -EMSGSIZE : skb->len;
}
