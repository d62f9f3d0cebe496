// SPDX-License-Identifier: GPL-2.0
/*
 * AF_NSTCP CPU-local connect: an active open without a bound port gets a
 * source port whose reply packets are processed on the calling CPU.
 *
 * The route gives the device and the source address; the device's
 * steering (steer.c) says which CPU each candidate port's replies reach.
 * The ports that fit are then tried one at a time through the kernel's
 * own connect, with the socket's local port range (IP_LOCAL_PORT_RANGE,
 * the same field) narrowed to that one port: __inet_hash_connect() checks
 * it as it checks any port of an ordinary connect (reserved ports, bind
 * buckets, a 4-tuple in use or in TIME_WAIT), and the port stays shared
 * with other connections to other destinations as ordinary connects share
 * theirs.  When no port fits, or the path cannot be predicted, the
 * ordinary choice is made (and counted).  See Documentation/steering.rst.
 */
#define pr_fmt(fmt) "nstcp: " fmt

#include <linux/bpf-cgroup.h>
#include <linux/in.h>
#include <linux/in6.h>
#include <linux/netdevice.h>
#include <linux/random.h>
#include <net/flow_dissector.h>
#include <net/inet_common.h>
#include <net/ip.h>
#include <net/route.h>
#include <net/sock.h>
#include <kunit/visibility.h>

#include "nstcp.h"
#include "steer.h"

/* Ports tried through connect before the ordinary choice. */
#define NSTCP_LC_TRIES	8

/* One connect's view of the path: what a candidate port's CPU depends on. */
struct nstcp_lc_ctx {
	struct net			*net;
	struct net_device		*dev;
	const struct nstcp_ndev		*nd;
	const struct nstcp_rss		*rss;	/* NULL: one queue, RPS */
	unsigned int			nq;	/* the device's RX queues now */
	struct nstcp_pred		pred;	/* Toeplitz, when rss */
	struct flow_keys		keys;	/* the software flow hash's */
	bool				hw_hash; /* RPS uses the device's hash */
};

static int nstcp_lc_queue(const struct nstcp_lc_ctx *c, u16 port, u32 *hash)
{
	*hash = 0;
	if (!c->rss)
		return 0;
	*hash = nstcp_pred_hash(&c->pred, port);
	return c->rss->indir[*hash % c->rss->indir_size];
}

/* The CPU that processes the replies to local port @port; -1: unknown. */
static int nstcp_lc_cpu_of(const void *ctx, int port)
{
	const struct nstcp_lc_ctx *c = ctx;
	const struct rps_map *map = NULL;
	u32 hash;
	int q;

	q = nstcp_lc_queue(c, port, &hash);
	if (q < 0 || q >= c->nq || q >= NSTCP_QUEUES_MAX)
		return -1;
#ifdef CONFIG_RPS
	map = rcu_dereference(c->dev->_rx[q].rps_map);
#endif
	if (map && map->len) {
		if (!c->hw_hash) {
			struct flow_keys k = c->keys;

			k.ports.dst = htons(port);
			hash = flow_hash_from_keys(&k);
		}
		return map->cpus[reciprocal_scale(hash, map->len)];
	}
	return READ_ONCE(c->nd->qcpu[q]);
}

static bool nstcp_lc_reserved(const void *ctx, int port)
{
	const struct nstcp_lc_ctx *c = ctx;

	return inet_is_local_reserved_port(c->net, port);
}

/*
 * Set up @c for a flow from @saddr to @daddr:@dport over the device;
 * false when its CPU cannot be predicted: a virtual device (no parent:
 * veth, whose packets keep the sender's hash, tunnels, bridges, bonds),
 * no RSS snapshot on a multi-queue device, a device hash without its key.
 */
static bool nstcp_lc_ctx_init(struct nstcp_lc_ctx *c, struct net_device *dev,
			      __be32 saddr, __be32 daddr, __be16 dport)
{
	struct nstcp_ndev *nd;
	u8 tuple[12];

	memset(c, 0, sizeof(*c));
	c->net = dev_net(dev);
	c->dev = dev;
	if (!dev->dev.parent || (dev->flags & IFF_LOOPBACK))
		return false;
	nd = nstcp_steer_dev(dev);
	if (!nd)
		return false;
	c->nd = nd;
	/*
	 * A device reduced to one queue (ethtool -L) is RPS's alone, whatever
	 * table the snapshot from before still holds.
	 */
	c->nq = nstcp_steer_nq(nd);
	c->rss = c->nq > 1 ? rcu_dereference(nd->rss) : NULL;
	c->hw_hash = !!(dev->features & NETIF_F_RXHASH);
	if (c->rss) {
		/* The reply as the device sees it: from the peer to us. */
		memcpy(tuple, &daddr, 4);
		memcpy(tuple + 4, &saddr, 4);
		memcpy(tuple + 8, &dport, 2);
		memset(tuple + 10, 0, 2);
		nstcp_pred_init(&c->pred, c->rss->key, c->rss->key_size,
				tuple, sizeof(tuple), 10);
	} else if (c->nq != 1 || c->hw_hash) {
		return false;
	}
	c->keys.control.addr_type = FLOW_DISSECTOR_KEY_IPV4_ADDRS;
	c->keys.basic.n_proto = htons(ETH_P_IP);
	c->keys.basic.ip_proto = IPPROTO_TCP;
	c->keys.addrs.v4addrs.src = daddr;
	c->keys.addrs.v4addrs.dst = saddr;
	c->keys.ports.src = dport;
	return true;
}

/* The IPv4 destination of a connect: sockaddr_in or v4-mapped. */
static bool nstcp_lc_dest(const struct sockaddr *addr, int len, __be32 *daddr,
			  __be16 *dport)
{
	const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)addr;
	const struct sockaddr_in *a4 = (const struct sockaddr_in *)addr;

	if (addr->sa_family == AF_INET && len >= (int)sizeof(*a4)) {
		*daddr = a4->sin_addr.s_addr;
		*dport = a4->sin_port;
		return true;
	}
	if (addr->sa_family == AF_INET6 && len >= SIN6_LEN_RFC2133 &&
	    ipv6_addr_v4mapped(&a6->sin6_addr)) {
		*daddr = a6->sin6_addr.s6_addr32[3];
		*dport = a6->sin6_port;
		return true;
	}
	return false;
}

/*
 * The candidate ports of a connect from the calling CPU: how many, 0 when
 * none fits or the path is not predictable, -1 when there is no unicast
 * route (the connect itself will fail as AF_INET's does).
 */
static int nstcp_lc_ports(struct sock *sk, __be32 daddr, __be16 dport,
			  int cpu, u16 *ports, int *ifindex)
{
	struct net *net = sock_net(sk);
	struct nstcp_lc_ctx c;
	struct flowi4 fl4;
	struct rtable *rt;
	int low, high, n = 0;

	if (ipv4_is_multicast(daddr) || ipv4_is_lbcast(daddr) || !dport)
		return -1;
	rt = ip_route_output_ports(net, &fl4, sk, daddr,
				   inet_sk(sk)->inet_saddr, dport, 0,
				   IPPROTO_TCP, compat_rt_conn_tos(sk),
				   sk->sk_bound_dev_if);
	if (IS_ERR(rt))
		return -1;
	if (rt->rt_type != RTN_UNICAST)	/* local: loopback */
		goto out;
	compat_sk_port_range(sk, &low, &high);
	rcu_read_lock();
	if (nstcp_lc_ctx_init(&c, rt->dst.dev, fl4.saddr, daddr, dport)) {
		n = nstcp_port_search(nstcp_lc_cpu_of, nstcp_lc_reserved, &c,
				      cpu, low, high, get_random_u32(), ports,
				      NSTCP_LC_TRIES);
		*ifindex = rt->dst.dev->ifindex;
	}
	rcu_read_unlock();
out:
	ip_rt_put(rt);
	return n;
}

/* The receive queue the device's RSS sends the socket's replies to. */
static int nstcp_lc_pred_queue(const struct sock *sk, int ifindex)
{
	struct net_device *dev;
	struct nstcp_lc_ctx c;
	u32 hash;
	int q = -1;

	rcu_read_lock();
	dev = dev_get_by_index_rcu(sock_net(sk), ifindex);
	if (dev && nstcp_lc_ctx_init(&c, dev, sk->sk_rcv_saddr, sk->sk_daddr,
				     sk->sk_dport))
		q = nstcp_lc_queue(&c, ntohs(inet_sk(sk)->inet_sport), &hash);
	rcu_read_unlock();
	return q;
}

/*
 * Compare what the kernel did with the first packets of a predicted
 * connection (its processing CPU, its receive queue) with the prediction:
 * count a miss, and teach the device's queue map.  Once per connection;
 * false while there is nothing to compare yet.
 */
static bool nstcp_lc_verify(struct sock *sk, int cpu, int ifindex)
{
	struct nstcp_net *nn = nstcp_pernet(sock_net(sk));
	int got = READ_ONCE(sk->sk_incoming_cpu);
	int q = sk_rx_queue_get(sk);
	struct net_device *dev;
	struct nstcp_ndev *nd;

	if (got < 0)
		return false;
	if (got != cpu)
		nstcp_stat_inc_cpu(nn, cpu, NSTCP_STAT_LMISSES);
	if (q < 0)
		return true;
	rcu_read_lock();
	dev = dev_get_by_index_rcu(sock_net(sk), ifindex);
	nd = dev ? nstcp_steer_dev(dev) : NULL;
	if (nd)
		nstcp_steer_learn(nd, nstcp_lc_pred_queue(sk, ifindex), q, got);
	rcu_read_unlock();
	return true;
}

/*
 * An accepted connection's first packets teach its device's queue map too
 * (the queue they came in on, the CPU that processed them).
 */
void nstcp_steer_learn_sk(const struct sock *sk)
{
	int q = sk_rx_queue_get(sk), cpu = READ_ONCE(sk->sk_incoming_cpu);
	struct net_device *dev;
	struct nstcp_ndev *nd;

	if (q < 0 || cpu < 0)
		return;
	rcu_read_lock();
	dev = dev_get_by_index_rcu(sock_net(sk), READ_ONCE(sk->sk_rx_dst_ifindex));
	nd = dev ? nstcp_steer_dev(dev) : NULL;
	if (nd)
		nstcp_steer_learn(nd, -1, q, cpu);
	rcu_read_unlock();
}

/* A non-blocking local connect's check, at a later call on the socket. */
void nstcp_local_check(struct sock *sk)
{
	struct nstcp_sk *ns = nstcp_sk_get(sk);

	if (likely(!ns || !READ_ONCE(ns->lc_pending)))
		return;
	if ((1 << READ_ONCE(sk->sk_state)) & (TCPF_SYN_SENT | TCPF_SYN_RECV))
		return;
	if (xchg(&ns->lc_pending, false) &&
	    !nstcp_lc_verify(sk, READ_ONCE(ns->lc_cpu),
			     READ_ONCE(ns->lc_ifindex)) &&
	    READ_ONCE(sk->sk_state) == TCP_ESTABLISHED)
		WRITE_ONCE(ns->lc_pending, true);
}

/*
 * connect() of an AF_NSTCP socket to @addr (already in the TCP sock's
 * form).  *@done false: not for us (a bound port, the sysctl off, not
 * IPv4) or nothing fits: the caller makes the ordinary connect.
 */
int nstcp_local_connect(struct socket *sock, struct sockaddr *addr, int len,
			int flags, bool *done)
{
	struct sock *sk = sock->sk;
	struct nstcp_net *nn = nstcp_pernet(sock_net(sk));
	u16 ports[NSTCP_LC_TRIES];
	int cpu, i, n, err = 0, ifindex = 0;
	__be32 daddr;
	__be16 dport;
	u32 saved;

	*done = false;
	if (!READ_ONCE(nn->local_connect) || sk->sk_protocol != IPPROTO_TCP)
		return 0;
	/* A bound port is the user's choice (checked again under the lock). */
	if (READ_ONCE(inet_sk(sk)->inet_num) ||
	    (sk->sk_userlocks & SOCK_BINDPORT_LOCK))
		return 0;
	cpu = raw_smp_processor_id();
	/*
	 * A cgroup connect hook may rewrite the destination, once per
	 * connect(): the ports cannot be predicted for the address it picks,
	 * and trying several would run it several times.
	 */
	if (BPF_CGROUP_PRE_CONNECT_ENABLED(sk)) {
		nstcp_stat_inc_cpu(nn, cpu, NSTCP_STAT_LFALLBACKS);
		return 0;
	}
	if (!nstcp_lc_dest(addr, len, &daddr, &dport)) {
		if (addr->sa_family == AF_INET6)
			nstcp_stat_inc_cpu(nn, cpu, NSTCP_STAT_LFALLBACKS);
		return 0;
	}
	n = nstcp_lc_ports(sk, daddr, dport, cpu, ports, &ifindex);
	if (n < 0)
		return 0;
	if (!n) {
		nstcp_stat_inc_cpu(nn, cpu, NSTCP_STAT_LFALLBACKS);
		return 0;
	}

	lock_sock(sk);
	if (inet_sk(sk)->inet_num || sock->state != SS_UNCONNECTED ||
	    sk->sk_state != TCP_CLOSE) {
		release_sock(sk);
		return 0;	/* another thread's connect or bind won */
	}
	saved = compat_sk_port_range_get(sk);
	err = -EADDRNOTAVAIL;
	for (i = 0; i < n && err == -EADDRNOTAVAIL; i++) {
		compat_sk_port_range_set(sk, ports[i], ports[i]);
		/* Non-blocking: the range is the user's again for the wait. */
		err = __inet_stream_connect(sock, addr, len, flags | O_NONBLOCK,
					    0);
	}
	compat_sk_port_range_put(sk, saved);
	if (err == -EADDRNOTAVAIL) {
		release_sock(sk);
		nstcp_stat_inc_cpu(nn, cpu, NSTCP_STAT_LFALLBACKS);
		return 0;
	}
	*done = true;
	if (err && err != -EINPROGRESS) {
		release_sock(sk);
		return err;
	}
	/*
	 * The port taken is the one tried, unless another thread changed the
	 * range meanwhile (6.8 reads it without the socket lock): then it is
	 * the ordinary choice.
	 */
	if (ntohs(inet_sk(sk)->inet_sport) != ports[i - 1]) {
		nstcp_stat_inc_cpu(nn, cpu, NSTCP_STAT_LFALLBACKS);
		ifindex = 0;
	} else {
		nstcp_stat_inc_cpu(nn, cpu, NSTCP_STAT_LCONNECTS);
	}
	if (err == -EINPROGRESS && !(flags & O_NONBLOCK)) {
		err = __inet_stream_connect(sock, addr, len, flags, 0);
		/*
		 * It started in SS_CONNECTING: a send timeout says EALREADY
		 * where AF_INET's one call says EINPROGRESS.
		 */
		if (err == -EALREADY)
			err = -EINPROGRESS;
	}
	if (ifindex && (err == 0 || err == -EINPROGRESS) &&
	    (err || !nstcp_lc_verify(sk, cpu, ifindex))) {
		struct nstcp_sk *ns = nstcp_sk_alloc(sk);

		if (!IS_ERR(ns)) {
			WRITE_ONCE(ns->lc_cpu, cpu);
			WRITE_ONCE(ns->lc_ifindex, ifindex);
			/* Read after the xchg() in nstcp_local_check(). */
			smp_store_release(&ns->lc_pending, true);
		}
	}
	release_sock(sk);
	return err;
}
