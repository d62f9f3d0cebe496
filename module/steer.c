// SPDX-License-Identifier: GPL-2.0
/*
 * AF_NSTCP receive steering: which CPU processes a flow's incoming packets.
 *
 * For a device with receive-side scaling the queue is the device's own
 * function of the 4-tuple, Toeplitz over (remote address, local address,
 * remote port, local port) with the device's key, through its indirection
 * table; the queue's CPU is learnt (from where the packets of AF_NSTCP's own
 * flows are processed), seeded from the device's XPS map (drivers give a
 * queue's interrupt and its XPS CPU together), or set explicitly
 * (nstcp_steer_set_queue_cpu, for the queue binding).  Where software RPS
 * is on for the queue, its map picks the CPU from the flow hash instead.
 *
 * The key and the table are read through the device's ethtool operations,
 * under RTNL, into a snapshot per device: at registration, on the netdevice
 * events that can change them, and, as "ethtool -X" raises no event, again
 * when a snapshot is older than a second at use or a prediction missed.
 * Readers (connect) take no lock but RCU.
 */
#define pr_fmt(fmt) "nstcp: " fmt

#include <linux/ethtool.h>
#include <linux/hashtable.h>
#include <linux/netdevice.h>
#include <linux/pm_runtime.h>
#include <linux/rtnetlink.h>
#include <linux/slab.h>
#include <linux/workqueue.h>
#include <kunit/visibility.h>

#include "nstcp.h"
#include "steer.h"

/* Devices with a cache entry, by ifindex; writers hold RTNL. */
static DEFINE_HASHTABLE(nstcp_ndevs, 5);

static void nstcp_steer_refresh_work(struct work_struct *w);
static DECLARE_WORK(nstcp_steer_work, nstcp_steer_refresh_work);

u32 nstcp_toeplitz(const u8 *key, unsigned int keylen, const u8 *in,
		   unsigned int len)
{
	u32 hash = 0, v;
	unsigned int i, b, kbit = 32;

	if (keylen < 4 || len + 4 > keylen)
		return 0;
	v = (u32)key[0] << 24 | (u32)key[1] << 16 | (u32)key[2] << 8 | key[3];
	for (i = 0; i < len; i++) {
		for (b = 0; b < 8; b++, kbit++) {
			if (in[i] & (0x80 >> b))
				hash ^= v;
			v <<= 1;
			if (key[kbit / 8] & (0x80 >> (kbit % 8)))
				v |= 1;
		}
	}
	return hash;
}
EXPORT_SYMBOL_IF_KUNIT(nstcp_toeplitz);

/*
 * The 32-bit key window of input bit @bit: what a set bit there adds to
 * the hash (Toeplitz is linear: the hash is the XOR of those of its bits).
 */
static u32 nstcp_toeplitz_window(const u8 *key, unsigned int keylen,
				 unsigned int bit)
{
	u32 v = 0;
	unsigned int i;

	for (i = 0; i < 32; i++) {
		unsigned int k = bit + i;

		v <<= 1;
		if (k / 8 < keylen && (key[k / 8] & (0x80 >> (k % 8))))
			v |= 1;
	}
	return v;
}

void nstcp_pred_init(struct nstcp_pred *p, const u8 *key, unsigned int keylen,
		     const u8 *tuple, unsigned int len, unsigned int port_off)
{
	unsigned int i;

	p->base = nstcp_toeplitz(key, keylen, tuple, len);
	for (i = 0; i < 16; i++)
		p->win[i] = nstcp_toeplitz_window(key, keylen,
						  port_off * 8 + i);
}
EXPORT_SYMBOL_IF_KUNIT(nstcp_pred_init);

/* The hash of the tuple with local port @port (the tuple had 0 there). */
u32 nstcp_pred_hash(const struct nstcp_pred *p, u16 port)
{
	u32 h = p->base;
	unsigned int i;

	for (i = 0; i < 16; i++)
		if (port & (0x8000 >> i))
			h ^= p->win[i];
	return h;
}
EXPORT_SYMBOL_IF_KUNIT(nstcp_pred_hash);

/*
 * Up to @max ports of [@low, @high] whose replies @cpu_of sends to @cpu,
 * scanning from @low + @start % the range's size round to where it began,
 * NSTCP_PORT_SCAN_MAX ports at most (a CPU that few flows reach costs a
 * bounded search, then the ordinary choice); @skip (reserved ports) leaves
 * a port out.  Returns how many it found.
 */
int nstcp_port_search(int (*cpu_of)(const void *ctx, int port),
		      bool (*skip)(const void *ctx, int port),
		      const void *ctx, int cpu, int low, int high, u32 start,
		      u16 *ports, int max)
{
	u32 n, i;
	int found = 0, port;

	if (low > high || low < 1 || high > 65535)
		return 0;
	n = high - low + 1;
	port = low + start % n;
	for (i = 0; i < n && i < NSTCP_PORT_SCAN_MAX && found < max;
	     i++, port++) {
		if (port > high)
			port = low;
		if (skip && skip(ctx, port))
			continue;
		if (cpu_of(ctx, port) == cpu)
			ports[found++] = port;
	}
	return found;
}
EXPORT_SYMBOL_IF_KUNIT(nstcp_port_search);

/* The table's key: devices of different namespaces share ifindexes. */
static u32 nstcp_ndev_key(const struct net *net, int ifindex)
{
	return net_hash_mix(net) ^ ifindex;
}

static struct nstcp_ndev *nstcp_ndev_find(int ifindex, const struct net *net)
{
	struct nstcp_ndev *nd;

	hash_for_each_possible_rcu(nstcp_ndevs, nd, node,
				   nstcp_ndev_key(net, ifindex),
				   lockdep_rtnl_is_held())
		if (nd->ifindex == ifindex && net_eq(dev_net(nd->dev), net))
			return nd;
	return NULL;
}

/* Seed unknown queues' CPUs from the XPS map: a CPU sending on one queue. */
static void nstcp_ndev_seed_xps(struct nstcp_ndev *nd, struct net_device *dev)
{
#ifdef CONFIG_XPS
	struct xps_dev_maps *maps;
	struct xps_map *map;
	int cpu;

	rcu_read_lock();
	maps = rcu_dereference(dev->xps_maps[XPS_CPUS]);
	if (maps) {
		for_each_online_cpu(cpu) {
			if (cpu >= maps->nr_ids)
				break;
			map = rcu_dereference(maps->attr_map[cpu * maps->num_tc]);
			if (!map || map->len != 1 ||
			    map->queues[0] >= NSTCP_QUEUES_MAX)
				continue;
			if (READ_ONCE(nd->qsrc[map->queues[0]]) <= NSTCP_QSRC_XPS) {
				WRITE_ONCE(nd->qcpu[map->queues[0]], cpu);
				WRITE_ONCE(nd->qsrc[map->queues[0]], NSTCP_QSRC_XPS);
			}
		}
	}
	rcu_read_unlock();
#endif
}

/*
 * The device's key, table and function through its driver, with what
 * ethtool's core does around any driver operation (the parent resumed,
 * begin/complete); -EOPNOTSUPP when the hash input is not the plain
 * 4-tuple (a symmetric transform, no ports for TCP over IPv4).
 */
static int nstcp_ndev_get_rxfh(struct net_device *dev, struct nstcp_rss *rss)
{
	const struct ethtool_ops *ops = dev->ethtool_ops;
	struct ethtool_rxnfc nfc = { .cmd = ETHTOOL_GRXFH,
				     .flow_type = TCP_V4_FLOW };
	u8 xfrm = 0;
	int err;

	if (dev->dev.parent)
		pm_runtime_get_sync(dev->dev.parent);
	err = ops->begin ? ops->begin(dev) : 0;
	if (err)
		goto out;
	err = compat_get_rxfh(dev, rss->indir, rss->key, &rss->hfunc, &xfrm);
	if (!err && xfrm)
		err = -EOPNOTSUPP;
	if (!err && ops->get_rxnfc && !ops->get_rxnfc(dev, &nfc, NULL) &&
	    (nfc.data & (RXH_L4_B_0_1 | RXH_L4_B_2_3)) !=
	    (RXH_L4_B_0_1 | RXH_L4_B_2_3))
		err = -EOPNOTSUPP;
	if (ops->complete)
		ops->complete(dev);
out:
	if (dev->dev.parent)
		pm_runtime_put(dev->dev.parent);
	return err;
}

/* Read the device's key and table into a new snapshot; under RTNL. */
static void nstcp_ndev_read(struct nstcp_ndev *nd, struct net_device *dev)
{
	const struct ethtool_ops *ops = dev->ethtool_ops;
	struct nstcp_rss *rss = NULL, *old;
	u32 isize, ksize;

	ASSERT_RTNL();
	WRITE_ONCE(nd->stamp, jiffies);
	WRITE_ONCE(nd->stale, false);
	if (!ops || !ops->get_rxfh || !ops->get_rxfh_indir_size ||
	    !ops->get_rxfh_key_size || dev->real_num_rx_queues < 2 ||
	    !(dev->flags & IFF_UP) || !netif_device_present(dev))
		goto publish;
	isize = ops->get_rxfh_indir_size(dev);
	ksize = ops->get_rxfh_key_size(dev);
	if (!isize || isize > NSTCP_RSS_INDIR_MAX || ksize < 16 ||
	    ksize > NSTCP_RSS_KEY_MAX)
		goto publish;
	rss = kzalloc(struct_size(rss, indir, isize), GFP_KERNEL);
	if (!rss)
		goto publish;
	rss->indir_size = isize;
	rss->key_size = ksize;
	if (nstcp_ndev_get_rxfh(dev, rss) ||
	    (rss->hfunc && rss->hfunc != ETH_RSS_HASH_TOP) ||
	    !memchr_inv(rss->key, 0, ksize)) {
		kfree(rss);
		rss = NULL;
	}
publish:
	WRITE_ONCE(nd->nq, dev->real_num_rx_queues);
	nstcp_ndev_seed_xps(nd, dev);
	old = rcu_replace_pointer(nd->rss, rss, lockdep_rtnl_is_held());
	if (old)
		kfree_rcu(old, rcu);
}

static void nstcp_ndev_add(struct net_device *dev)
{
	struct nstcp_ndev *nd;
	int q;

	ASSERT_RTNL();
	/* Virtual devices (no parent) are never predicted: not kept. */
	if ((dev->flags & IFF_LOOPBACK) || !dev->dev.parent)
		return;
	nd = nstcp_ndev_find(dev->ifindex, dev_net(dev));
	if (!nd) {
		nd = kzalloc(sizeof(*nd), GFP_KERNEL_ACCOUNT);
		if (!nd)
			return;
		nd->dev = dev;
		nd->ifindex = dev->ifindex;
		for (q = 0; q < NSTCP_QUEUES_MAX; q++)
			nd->qcpu[q] = -1;
		hash_add_rcu(nstcp_ndevs, &nd->node,
			     nstcp_ndev_key(dev_net(dev), nd->ifindex));
	}
	nstcp_ndev_read(nd, dev);
}

static void nstcp_ndev_free(struct rcu_head *head)
{
	struct nstcp_ndev *nd = container_of(head, struct nstcp_ndev, rcu);

	kfree(rcu_dereference_protected(nd->rss, true));
	kfree(nd);
}

static void nstcp_ndev_del(struct nstcp_ndev *nd)
{
	hash_del_rcu(&nd->node);
	call_rcu(&nd->rcu, nstcp_ndev_free);
}

static void nstcp_steer_refresh_work(struct work_struct *w)
{
	struct nstcp_ndev *nd;
	int bkt;

	rtnl_lock();
	hash_for_each(nstcp_ndevs, bkt, nd, node)
		if (READ_ONCE(nd->stale))
			nstcp_ndev_read(nd, nd->dev);
	rtnl_unlock();
}

static int nstcp_steer_event(struct notifier_block *nb, unsigned long event,
			     void *ptr)
{
	struct net_device *dev = netdev_notifier_info_to_dev(ptr);
	struct nstcp_ndev *nd;

	switch (event) {
	case NETDEV_REGISTER:
	case NETDEV_UP:
	case NETDEV_CHANGE:
	case NETDEV_FEAT_CHANGE:
	case NETDEV_CHANGENAME:
		nstcp_ndev_add(dev);
		break;
	case NETDEV_UNREGISTER:
		nd = nstcp_ndev_find(dev->ifindex, dev_net(dev));
		if (nd && nd->dev == dev)
			nstcp_ndev_del(nd);
		break;
	}
	return NOTIFY_DONE;
}

static struct notifier_block nstcp_steer_nb = {
	.notifier_call = nstcp_steer_event,
};

/* Ask for a new read of the device's key and table (any context). */
static void nstcp_ndev_stale(struct nstcp_ndev *nd)
{
	if (!READ_ONCE(nd->stale)) {
		WRITE_ONCE(nd->stale, true);
		schedule_work(&nstcp_steer_work);
	}
}

/*
 * The device entry of @dev under RCU, asking for a new read when it is
 * older than a second.  NULL when it has none (loopback, no memory).
 */
struct nstcp_ndev *nstcp_steer_dev(const struct net_device *dev)
{
	struct nstcp_ndev *nd = nstcp_ndev_find(dev->ifindex, dev_net(dev));

	if (nd && nd->dev != dev)
		return NULL;
	return nd;
}

/*
 * The device's receive queues now.  "ethtool -L" raises no netdevice
 * event: a count that differs from the snapshot's asks for a new read,
 * and until then the caller goes by the live count (the snapshot's table
 * may name queues the device no longer has).
 */
unsigned int nstcp_steer_nq(struct nstcp_ndev *nd)
{
	unsigned int nq = READ_ONCE(nd->dev->real_num_rx_queues);

	if (nq != READ_ONCE(nd->nq))
		nstcp_ndev_stale(nd);
	return nq;
}
EXPORT_SYMBOL_IF_KUNIT(nstcp_steer_nq);

/*
 * The queue <-> CPU map: @src says how it is known.  An explicit entry
 * (the queue binding) is only replaced by another explicit one; -1 clears.
 */
void nstcp_steer_set_queue_cpu(struct nstcp_ndev *nd, unsigned int q, int cpu,
			       int src)
{
	if (q >= NSTCP_QUEUES_MAX || cpu >= (int)nr_cpu_ids ||
	    (cpu >= 0 && !cpu_possible(cpu)))
		return;
	if (READ_ONCE(nd->qsrc[q]) > src)
		return;
	if (cpu < 0)
		src = NSTCP_QSRC_NONE;
	/* Shared lines, written from every CPU: only when they change. */
	if (READ_ONCE(nd->qcpu[q]) != cpu)
		WRITE_ONCE(nd->qcpu[q], cpu);
	if (READ_ONCE(nd->qsrc[q]) != src)
		WRITE_ONCE(nd->qsrc[q], src);
}

/*
 * Explicit queue map of a device, by ifindex (for the queue binding):
 * cpus[q] for q < n, -1 for none.  Under RTNL.
 */
int nstcp_steer_bind_queues(struct net *net, int ifindex, const int *cpus,
			    unsigned int n)
{
	struct nstcp_ndev *nd;
	unsigned int q;

	ASSERT_RTNL();
	nd = nstcp_ndev_find(ifindex, net);
	if (!nd)
		return -ENODEV;
	if (n > NSTCP_QUEUES_MAX)
		n = NSTCP_QUEUES_MAX;	/* the rest are not cached */
	for (q = 0; q < NSTCP_QUEUES_MAX; q++) {
		if (READ_ONCE(nd->qsrc[q]) == NSTCP_QSRC_EXPLICIT)
			nstcp_steer_set_queue_cpu(nd, q, -1,
						  NSTCP_QSRC_EXPLICIT);
		if (q < n && cpus[q] >= 0)
			nstcp_steer_set_queue_cpu(nd, q, cpus[q],
						  NSTCP_QSRC_EXPLICIT);
	}
	nstcp_ndev_stale(nd);
	return 0;
}

/*
 * What the kernel did with a flow whose reply queue and CPU were
 * predicted: a queue right but a CPU wrong teaches the queue's CPU; a
 * queue wrong means the key or table changed under us.
 */
void nstcp_steer_learn(struct nstcp_ndev *nd, int pred_q, int q, int cpu)
{
	const struct rps_map *map = NULL;

	if (q < 0 || q >= NSTCP_QUEUES_MAX || cpu < 0 ||
	    q >= READ_ONCE(nd->nq))
		return;
	/* At most one new read a second, however many flows missed. */
	if (q != pred_q && pred_q >= 0 &&
	    time_after(jiffies, READ_ONCE(nd->stamp) + HZ))
		nstcp_ndev_stale(nd);
#ifdef CONFIG_RPS
	map = rcu_dereference(nd->dev->_rx[q].rps_map);
	/* Under RFS the CPU is the application's: it says nothing. */
	if (rcu_access_pointer(nd->dev->_rx[q].rps_flow_table))
		return;
#endif
	/* Under RPS the CPU is the map's choice, not the queue's. */
	if (!map || !map->len)
		nstcp_steer_set_queue_cpu(nd, q, cpu, NSTCP_QSRC_LEARNT);
}

int nstcp_steer_init(void)
{
	return register_netdevice_notifier(&nstcp_steer_nb);
}

void nstcp_steer_exit(void)
{
	struct hlist_node *tmp;
	struct nstcp_ndev *nd;
	int bkt;

	unregister_netdevice_notifier(&nstcp_steer_nb);
	cancel_work_sync(&nstcp_steer_work);
	rtnl_lock();
	hash_for_each_safe(nstcp_ndevs, bkt, tmp, nd, node)
		nstcp_ndev_del(nd);
	rtnl_unlock();
	rcu_barrier();
}
