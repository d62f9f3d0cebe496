// SPDX-License-Identifier: GPL-2.0
/*
 * AF_NSTCP queue maps: which device queue (an RX/TX pair) each CPU instance
 * owns, as `nstcp queue bind` records it through the generic netlink
 * family (NSTCP_CMD_QUEUE_*), per network namespace.  A device's map goes
 * with the device.
 */
#include <linux/cpumask.h>
#include <linux/netdevice.h>
#include <linux/rtnetlink.h>
#include <linux/slab.h>
#include <net/genetlink.h>
#include <linux/nstcp.h>
#include <linux/nstcp_netlink.h>

#include "nstcp.h"
#include "netlink.h"
#include "steer.h"

/* A device's queue map (nstcp_net.qmaps, under qmap_lock). */
struct nstcp_qmap {
	struct list_head	node;
	u32			ifindex;
	unsigned int		n;
	struct nstcp_qent	ent[];
};

/* Puts the queues mapped to cpu, as a nest; 0 or -EMSGSIZE. */
int nstcp_nl_put_inst_queues(struct sk_buff *skb, struct nstcp_net *nn,
			     u32 cpu)
{
	struct nlattr *nest, *ent;
	struct nstcp_qmap *m;
	unsigned int i;
	int err = 0;

	mutex_lock(&nn->qmap_lock);
	if (list_empty(&nn->qmaps))
		goto out;
	nest = nla_nest_start(skb, NSTCP_A_INST_QUEUES);
	if (!nest) {
		err = -EMSGSIZE;
		goto out;
	}
	list_for_each_entry(m, &nn->qmaps, node) {
		for (i = 0; i < m->n; i++) {
			if (m->ent[i].cpu != cpu)
				continue;
			ent = nla_nest_start(skb, NSTCP_A_QUEUE_ENTRY);
			if (!ent ||
			    nla_put_u32(skb, NSTCP_A_QENT_IFINDEX, m->ifindex) ||
			    nla_put_u32(skb, NSTCP_A_QENT_QUEUE,
					m->ent[i].queue) ||
			    nla_put_u32(skb, NSTCP_A_QENT_CPU, cpu)) {
				err = -EMSGSIZE;
				goto out;
			}
			nla_nest_end(skb, ent);
		}
	}
	/* An attribute's length is 16 bits: past that, the map cannot go. */
	if (skb_tail_pointer(skb) - (unsigned char *)nest > U16_MAX) {
		nla_nest_cancel(skb, nest);
		err = -EMSGSIZE;
		goto out;
	}
	nla_nest_end(skb, nest);
out:
	mutex_unlock(&nn->qmap_lock);
	return err;
}

/* How many queues are mapped in all, for the instance dump's size. */
unsigned int nstcp_qmap_entries(struct nstcp_net *nn)
{
	struct nstcp_qmap *m;
	unsigned int n = 0;

	mutex_lock(&nn->qmap_lock);
	list_for_each_entry(m, &nn->qmaps, node)
		n += m->n;
	mutex_unlock(&nn->qmap_lock);
	return n;
}

static struct nstcp_qmap *nstcp_qmap_find(struct nstcp_net *nn, u32 ifindex)
{
	struct nstcp_qmap *m;

	list_for_each_entry(m, &nn->qmaps, node)
		if (m->ifindex == ifindex)
			return m;
	return NULL;
}

/*
 * A device's map is one message, which must fit a dump's skb whole; the
 * first skb of a dump is made before any recvmsg() sized the socket's
 * buffer (NLMSG_GOODSIZE then), so ask for room for the largest map
 * there is now (a map set during the dump may need more: it ends the dump
 * with EMSGSIZE, to be read again).
 */
int nstcp_nl_queue_dump_start(struct netlink_callback *cb)
{
	struct nstcp_net *nn = nstcp_pernet(sock_net(cb->skb->sk));
	struct nstcp_qmap *m;
	unsigned int n = 0;

	mutex_lock(&nn->qmap_lock);
	list_for_each_entry(m, &nn->qmaps, node)
		n = max(n, m->n);
	mutex_unlock(&nn->qmap_lock);
	cb->min_dump_alloc = nlmsg_total_size(GENL_HDRLEN +
			nla_total_size(sizeof(u32)) +
			n * nla_total_size(2 * nla_total_size(sizeof(u32))));
	return 0;
}

int nstcp_nl_queue_dump(struct sk_buff *skb, struct netlink_callback *cb)
{
	struct nlattr **attrs = nstcp_genl_dump_attrs(cb);
	struct nstcp_net *nn = nstcp_pernet(sock_net(skb->sk));
	struct nstcp_qmap *m;
	u32 ifindex = 0;
	bool full = false;
	long idx = 0;
	void *hdr;

	if (attrs && attrs[NSTCP_A_QUEUE_IFINDEX])
		ifindex = nla_get_u32(attrs[NSTCP_A_QUEUE_IFINDEX]);
	mutex_lock(&nn->qmap_lock);
	cb->seq = nn->qmap_gen + 1;
	list_for_each_entry(m, &nn->qmaps, node) {
		if (idx++ < cb->args[0])
			continue;
		if (ifindex && m->ifindex != ifindex)
			continue;
		hdr = nstcp_nl_put_dump(skb, cb, NSTCP_CMD_QUEUE_GET);
		if (!hdr) {
			idx--;
			full = true;
			break;
		}
		if (nstcp_nl_fill_qmap(skb, m->ifindex, m->ent, m->n)) {
			genlmsg_cancel(skb, hdr);
			idx--;
			full = true;
			break;
		}
		genlmsg_end(skb, hdr);
	}
	mutex_unlock(&nn->qmap_lock);
	cb->args[0] = idx;
	/* A message that does not fit even alone: fail, never end short. */
	return full && !skb->len ? -EMSGSIZE : skb->len;
}

/*
 * The device of a request, which must exist in the namespace.  Under RTNL,
 * so that it cannot be unregistered (its map removed by the notifier)
 * before its new map is on the list.
 */
static struct net_device *nstcp_nl_queue_dev(struct genl_info *info)
{
	struct nlattr *a = info->attrs[NSTCP_A_QUEUE_IFINDEX];
	struct net_device *dev;

	ASSERT_RTNL();
	dev = __dev_get_by_index(genl_info_net(info), nla_get_u32(a));
	if (!dev)
		NL_SET_ERR_MSG_ATTR(info->extack, a, "no such device");
	return dev;
}

/*
 * The steering's explicit queue map (steer.c) follows the device's map:
 * a local connect then picks ports by it.  @m NULL clears it.  Devices
 * the steering keeps nothing for (virtual ones) have none.  Under RTNL.
 */
static void nstcp_qmap_steer(struct net *net, int ifindex,
			     const struct nstcp_qmap *m)
{
	unsigned int i;
	int *cpus;

	ASSERT_RTNL();
	if (!m) {
		nstcp_steer_bind_queues(net, ifindex, NULL, 0);
		return;
	}
	cpus = kmalloc_array(NSTCP_QUEUES_MAX, sizeof(*cpus), GFP_KERNEL);
	if (!cpus)
		return;
	for (i = 0; i < NSTCP_QUEUES_MAX; i++)
		cpus[i] = -1;
	for (i = 0; i < m->n; i++)
		if (m->ent[i].queue < NSTCP_QUEUES_MAX)
			cpus[m->ent[i].queue] = m->ent[i].cpu;
	nstcp_steer_bind_queues(net, ifindex, cpus, NSTCP_QUEUES_MAX);
	kfree(cpus);
}

int nstcp_nl_queue_set(struct sk_buff *skb, struct genl_info *info)
{
	struct nstcp_net *nn = nstcp_pernet(genl_info_net(info));
	struct nstcp_qmap *m, *old;
	struct nstcp_qent *ent;
	struct net_device *dev;
	unsigned int nq;
	int i, n, err;

	if (GENL_REQ_ATTR_CHECK(info, NSTCP_A_QUEUE_IFINDEX))
		return -EINVAL;
	rtnl_lock();
	dev = nstcp_nl_queue_dev(info);
	err = -ENODEV;
	if (!dev)
		goto out_unlock;
	nq = max(dev->real_num_rx_queues, dev->real_num_tx_queues);
	ent = kcalloc(NSTCP_QUEUE_MAP_MAX, sizeof(*ent), GFP_KERNEL);
	err = -ENOMEM;
	if (!ent)
		goto out_unlock;
	n = nstcp_nl_parse_qmap(genlmsg_data(info->genlhdr),
				genlmsg_len(info->genlhdr), ent, info->extack);
	err = n;
	if (n < 0)
		goto out_free;
	err = -EINVAL;
	if (!n) {
		NL_SET_ERR_MSG(info->extack, "no queue entry");
		goto out_free;
	}
	for (i = 0; i < n; i++) {
		if (ent[i].queue >= nq) {
			NL_SET_ERR_MSG(info->extack, "no such queue on the device");
			goto out_free;
		}
		if (ent[i].cpu >= nr_cpu_ids || !cpu_possible(ent[i].cpu)) {
			NL_SET_ERR_MSG(info->extack, "no such CPU");
			goto out_free;
		}
	}
	/* Kept as long as the device: its own size, charged to the caller. */
	m = kzalloc(struct_size(m, ent, n), GFP_KERNEL_ACCOUNT);
	err = -ENOMEM;
	if (!m)
		goto out_free;
	memcpy(m->ent, ent, array_size(n, sizeof(*ent)));
	m->ifindex = dev->ifindex;
	m->n = n;
	mutex_lock(&nn->qmap_lock);
	old = nstcp_qmap_find(nn, m->ifindex);
	if (old)
		list_replace(&old->node, &m->node);
	else
		list_add_tail(&m->node, &nn->qmaps);
	nn->qmap_gen++;
	mutex_unlock(&nn->qmap_lock);
	nstcp_qmap_steer(genl_info_net(info), m->ifindex, m);
	rtnl_unlock();
	kfree(old);
	kfree(ent);
	return 0;

out_free:
	kfree(ent);
out_unlock:
	rtnl_unlock();
	return err;
}

int nstcp_nl_queue_del(struct sk_buff *skb, struct genl_info *info)
{
	struct nstcp_net *nn = nstcp_pernet(genl_info_net(info));
	struct nlattr *a = info->attrs[NSTCP_A_QUEUE_IFINDEX];
	struct nstcp_qmap *m;

	if (GENL_REQ_ATTR_CHECK(info, NSTCP_A_QUEUE_IFINDEX))
		return -EINVAL;
	rtnl_lock();
	mutex_lock(&nn->qmap_lock);
	m = nstcp_qmap_find(nn, nla_get_u32(a));
	if (m) {
		list_del(&m->node);
		nn->qmap_gen++;
	}
	mutex_unlock(&nn->qmap_lock);
	if (m)
		nstcp_qmap_steer(genl_info_net(info), m->ifindex, NULL);
	rtnl_unlock();
	if (!m) {
		NL_SET_ERR_MSG_ATTR(info->extack, a, "no map for this device");
		return -ENOENT;
	}
	kfree(m);
	return 0;
}

/* A device leaving the namespace takes its map with it. */
static int nstcp_nl_netdev_event(struct notifier_block *nb,
				 unsigned long event, void *ptr)
{
	struct net_device *dev = netdev_notifier_info_to_dev(ptr);
	struct nstcp_net *nn;
	struct nstcp_qmap *m;

	if (event != NETDEV_UNREGISTER)
		return NOTIFY_DONE;
	nn = nstcp_pernet(dev_net(dev));
	mutex_lock(&nn->qmap_lock);
	m = nstcp_qmap_find(nn, dev->ifindex);
	if (m) {
		list_del(&m->node);
		nn->qmap_gen++;
	}
	mutex_unlock(&nn->qmap_lock);
	kfree(m);
	return NOTIFY_DONE;
}

static struct notifier_block nstcp_nl_netdev_nb = {
	.notifier_call = nstcp_nl_netdev_event,
};

void nstcp_qmap_net_init(struct nstcp_net *nn)
{
	mutex_init(&nn->qmap_lock);
	INIT_LIST_HEAD(&nn->qmaps);
}

void nstcp_qmap_net_exit(struct nstcp_net *nn)
{
	struct nstcp_qmap *m, *tmp;

	list_for_each_entry_safe(m, tmp, &nn->qmaps, node) {
		list_del(&m->node);
		kfree(m);
	}
}

int nstcp_qmap_init(void)
{
	return register_netdevice_notifier(&nstcp_nl_netdev_nb);
}

void nstcp_qmap_exit(void)
{
	unregister_netdevice_notifier(&nstcp_nl_netdev_nb);
}
