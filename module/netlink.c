// SPDX-License-Identifier: GPL-2.0
/*
 * AF_NSTCP generic netlink family "nstcp" (Documentation/netlink.rst):
 * dumps of the CPU instances, the listening ports and the pending
 * hand-offs (nlhandoff.c) of the requester's network namespace, and the
 * queue <-> instance maps that `nstcp queue bind` records.  The messages'
 * attributes are put by nlfill.c.
 */
#include <linux/cpumask.h>
#include <linux/cred.h>
#include <linux/netdevice.h>
#include <linux/slab.h>
#include <net/genetlink.h>
#include <net/ipv6.h>
#include <net/sock.h>
#include <kunit/visibility.h>
#include <linux/nstcp.h>
#include <linux/nstcp_netlink.h>

#include "nstcp.h"
#include "netlink.h"

/* The largest reply a doit builds (grown from a page, times 4). */
#define NSTCP_NL_MSG_MAX	(256 * 1024)

/* Request policies: only what a request may carry; the rest is refused. */
const struct nla_policy nstcp_inst_policy[NSTCP_A_INST_MAX + 1] = {
	[NSTCP_A_INST_CPU]	= { .type = NLA_U32 },
};
EXPORT_SYMBOL_IF_KUNIT(nstcp_inst_policy);

const struct nla_policy nstcp_listen_policy[NSTCP_A_LISTEN_MAX + 1] = {
	[NSTCP_A_LISTEN_PORT]	= NLA_POLICY_MIN(NLA_U16, 1),
};
EXPORT_SYMBOL_IF_KUNIT(nstcp_listen_policy);

const struct nla_policy nstcp_qent_policy[NSTCP_A_QENT_MAX + 1] = {
	[NSTCP_A_QENT_QUEUE]	= { .type = NLA_U32 },
	[NSTCP_A_QENT_CPU]	= { .type = NLA_U32 },
};
EXPORT_SYMBOL_IF_KUNIT(nstcp_qent_policy);

const struct nla_policy nstcp_queue_policy[NSTCP_A_QUEUE_MAX + 1] = {
	[NSTCP_A_QUEUE_IFINDEX]	= NLA_POLICY_MIN(NLA_U32, 1),
	[NSTCP_A_QUEUE_ENTRY]	= NLA_POLICY_NESTED(nstcp_qent_policy),
};
EXPORT_SYMBOL_IF_KUNIT(nstcp_queue_policy);

/*
 * A dump's next message.  A dump over a list sets cb->seq to the list's
 * generation (plus one, never 0) under the list's lock: when the list
 * changed between two parts of the dump, the message carries
 * NLM_F_DUMP_INTR and the reader knows to dump again.
 */
void *nstcp_nl_put_dump(struct sk_buff *skb, struct netlink_callback *cb,
			u8 cmd)
{
	void *hdr = genlmsg_put(skb, NETLINK_CB(cb->skb).portid,
				cb->nlh->nlmsg_seq, &nstcp_genl_family,
				NLM_F_MULTI, cmd);

	if (hdr)
		genl_dump_check_consistent(cb, hdr);
	return hdr;
}

/* ---- instances ---- */

/* The values of CPU cpu's instance. */
static void nstcp_nl_inst_read(struct nstcp_net *nn, u32 cpu,
			       struct nstcp_nl_inst *v)
{
	struct nstcp_lgroup *g;
	int s;

	memset(v, 0, sizeof(*v));
	v->cpu = cpu;
	v->online = READ_ONCE(per_cpu_ptr(nn->inst, cpu)->online);
	for (s = 0; s < NSTCP_STAT_MAX; s++)
		v->stats[s] = nstcp_stat_read(nn, cpu, s);
	mutex_lock(&nn->lg_lock);
	list_for_each_entry(g, &nn->lgroups, node) {
		if (READ_ONCE(g->dead) || cpu >= g->nr)
			continue;
		v->listeners++;
		v->queued += nstcp_qlen(&g->q[cpu]);
		v->stolen += atomic_long_read(&g->q[cpu].stolen);
	}
	mutex_unlock(&nn->lg_lock);
}

static int nstcp_nl_inst_msg(struct sk_buff *skb, struct nstcp_net *nn,
			     u32 cpu)
{
	struct nstcp_nl_inst v;

	nstcp_nl_inst_read(nn, cpu, &v);
	if (nstcp_nl_fill_inst(skb, &v))
		return -EMSGSIZE;
	return nstcp_nl_put_inst_queues(skb, nn, cpu);
}

/*
 * Room for one message whole in every part of a dump, the first included
 * (made before any recvmsg() sized the reader's buffer, so a page only):
 * an instance with every mapped queue, a port with a nest per CPU.
 */
#define NSTCP_NL_OBJ_BASE	512	/* the fixed attributes, generously */
#define NSTCP_NL_QENT_SIZE	nla_total_size(3 * nla_total_size(sizeof(u32)))
#define NSTCP_NL_LCPU_SIZE	nla_total_size(2 * nla_total_size(sizeof(u32)) + \
					       2 * nla_total_size_64bit(sizeof(u64)))

static int nstcp_nl_dump_room(struct netlink_callback *cb, size_t payload)
{
	cb->min_dump_alloc = nlmsg_total_size(GENL_HDRLEN + NSTCP_NL_OBJ_BASE +
			min_t(size_t, payload, NSTCP_NL_MSG_MAX));
	return 0;
}

static int nstcp_nl_inst_dump_start(struct netlink_callback *cb)
{
	struct nstcp_net *nn = nstcp_pernet(sock_net(cb->skb->sk));

	return nstcp_nl_dump_room(cb, (size_t)nstcp_qmap_entries(nn) *
				  NSTCP_NL_QENT_SIZE);
}

static int nstcp_nl_listen_dump_start(struct netlink_callback *cb)
{
	return nstcp_nl_dump_room(cb, (size_t)nr_cpu_ids * NSTCP_NL_LCPU_SIZE);
}

static int nstcp_nl_inst_dump(struct sk_buff *skb, struct netlink_callback *cb)
{
	struct nstcp_net *nn = nstcp_pernet(sock_net(skb->sk));
	unsigned int cpu;
	void *hdr;

	for (cpu = cb->args[0]; cpu < nr_cpu_ids; cpu++) {
		if (!cpu_possible(cpu))
			continue;
		hdr = nstcp_nl_put_dump(skb, cb, NSTCP_CMD_INSTANCE_GET);
		if (!hdr)
			break;
		if (nstcp_nl_inst_msg(skb, nn, cpu)) {
			genlmsg_cancel(skb, hdr);
			break;
		}
		genlmsg_end(skb, hdr);
	}
	cb->args[0] = cpu;
	return cpu < nr_cpu_ids && !skb->len ? -EMSGSIZE : skb->len;
}

static int nstcp_nl_inst_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct nstcp_net *nn = nstcp_pernet(genl_info_net(info));
	struct sk_buff *msg;
	size_t size;
	void *hdr;
	u32 cpu;
	int err;

	if (GENL_REQ_ATTR_CHECK(info, NSTCP_A_INST_CPU))
		return -EINVAL;
	cpu = nla_get_u32(info->attrs[NSTCP_A_INST_CPU]);
	if (cpu >= nr_cpu_ids || !cpu_possible(cpu)) {
		NL_SET_ERR_MSG_ATTR(info->extack, info->attrs[NSTCP_A_INST_CPU],
				    "no such CPU");
		return -ENOENT;
	}
	/* Many mapped queues need more than a page: grow until it fits. */
	size = NLMSG_DEFAULT_SIZE;
	for (;;) {
		msg = genlmsg_new(size, GFP_KERNEL);
		if (!msg)
			return -ENOMEM;
		hdr = genlmsg_put_reply(msg, info, &nstcp_genl_family, 0,
					NSTCP_CMD_INSTANCE_GET);
		err = hdr ? nstcp_nl_inst_msg(msg, nn, cpu) : -EMSGSIZE;
		if (!err)
			break;
		nlmsg_free(msg);
		if (err != -EMSGSIZE || size >= NSTCP_NL_MSG_MAX)
			return err;
		size = min_t(size_t, size * 4, NSTCP_NL_MSG_MAX);
	}
	genlmsg_end(msg, hdr);
	return genlmsg_reply(msg, info);
}

/* ---- listening ports ---- */

/*
 * The requester, once per dump (the first call runs in its sendmsg): its
 * euid, as the opener of the netlink socket, and whether it has
 * CAP_NET_ADMIN in the namespace.  cb->args[1] is 1 once set, args[2] the
 * admin flag, args[3] the kuid.
 */
static void nstcp_nl_requester(struct sk_buff *skb, struct netlink_callback *cb)
{
	const struct sock *nlsk = NETLINK_CB(cb->skb).sk;
	struct net *net = sock_net(skb->sk);
	const struct cred *cred = current_cred();

	if (cb->args[1])
		return;
	if (nlsk && nlsk->sk_socket && nlsk->sk_socket->file)
		cred = nlsk->sk_socket->file->f_cred;
	cb->args[1] = 1;
	cb->args[2] = netlink_ns_capable(cb->skb, net->user_ns, CAP_NET_ADMIN);
	cb->args[3] = __kuid_val(cred->euid);
}

static void nstcp_nl_listen_read(struct nstcp_lgroup *g,
				 struct netlink_callback *cb,
				 struct user_namespace *uns,
				 struct nstcp_nl_listen *v)
{
	memset(v, 0, sizeof(*v));
	memcpy(&v->addr, &g->addr, g->addrlen);
	nstcp_addr_out(&v->addr, g->addrlen);
	v->keylen = g->keylen;
	memcpy(v->key, g->key, g->keylen);
	v->key_hidden = g->keylen && !cb->args[2] &&
			!uid_eq(KUIDT_INIT(cb->args[3]), g->owner);
	if (v->key_hidden)
		memset(v->key, 0, sizeof(v->key));
	v->reuseport = g->reuseport;
	v->v6only = g->v6only;
	v->policy = READ_ONCE(g->policy);
	v->listeners = g->nmembers;
	v->migrated = atomic_long_read(&g->migrated);
	v->owner = from_kuid_munged(uns, g->owner);
	v->ifindex = g->bound_dev_if;
	v->max_conns = READ_ONCE(g->lim->max_conns);
	v->cps = READ_ONCE(g->lim->cps);
	v->conns = max(atomic_read(&g->lim->conns), 0);
	v->lrefused = atomic_long_read(&g->lim->refused);
	v->per_source = READ_ONCE(g->lim->per_source);
	v->src_uncounted = atomic_long_read(&g->lim->src_uncounted);
}

static int nstcp_nl_listen_msg(struct sk_buff *skb, struct nstcp_lgroup *g,
			       struct netlink_callback *cb,
			       struct user_namespace *uns)
{
	struct nstcp_nl_listen v;
	struct nstcp_nl_lcpu c;
	unsigned int i;

	nstcp_nl_listen_read(g, cb, uns, &v);
	if (nstcp_nl_fill_listen(skb, &v))
		return -EMSGSIZE;
	for (i = 0; i < g->nr; i++) {
		c.cpu = i;
		c.queued = nstcp_qlen(&g->q[i]);
		c.accepted = atomic_long_read(&g->q[i].accepted);
		c.stolen = atomic_long_read(&g->q[i].stolen);
		if (nstcp_nl_fill_lcpu(skb, &c))
			return -EMSGSIZE;
	}
	return 0;
}

/* The port of a group, in host order. */
static u16 nstcp_nl_group_port(const struct nstcp_lgroup *g)
{
	const struct sockaddr_in *sin = (const struct sockaddr_in *)&g->addr;
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&g->addr;

	return ntohs(g->addr.ss_family == AF_INET6 ? sin6->sin6_port :
		     sin->sin_port);
}

static int nstcp_nl_listen_dump(struct sk_buff *skb,
				struct netlink_callback *cb)
{
	struct nlattr **attrs = nstcp_genl_dump_attrs(cb);
	struct nstcp_net *nn = nstcp_pernet(sock_net(skb->sk));
	struct user_namespace *uns = sk_user_ns(NETLINK_CB(cb->skb).sk);
	struct nstcp_lgroup *g;
	bool full = false;
	long idx = 0;
	int port = 0;
	void *hdr;

	nstcp_nl_requester(skb, cb);
	if (attrs && attrs[NSTCP_A_LISTEN_PORT])
		port = nla_get_u16(attrs[NSTCP_A_LISTEN_PORT]);
	mutex_lock(&nn->lg_lock);
	cb->seq = nn->lg_gen + 1;
	list_for_each_entry(g, &nn->lgroups, node) {
		if (idx++ < cb->args[0])
			continue;
		if (port && nstcp_nl_group_port(g) != port)
			continue;
		hdr = nstcp_nl_put_dump(skb, cb, NSTCP_CMD_LISTEN_GET);
		if (!hdr) {
			idx--;
			full = true;
			break;
		}
		if (nstcp_nl_listen_msg(skb, g, cb, uns)) {
			genlmsg_cancel(skb, hdr);
			idx--;
			full = true;
			break;
		}
		genlmsg_end(skb, hdr);
	}
	mutex_unlock(&nn->lg_lock);
	cb->args[0] = idx;
	/* A message that does not fit even alone: fail, never end short. */
	return full && !skb->len ? -EMSGSIZE : skb->len;
}

/* ---- the family ---- */

static const struct genl_ops nstcp_genl_ops[] = {
	{
		.cmd	= NSTCP_CMD_INSTANCE_GET,
		.doit	= nstcp_nl_inst_doit,
		.start	= nstcp_nl_inst_dump_start,
		.dumpit	= nstcp_nl_inst_dump,
		.policy	= nstcp_inst_policy,
		.maxattr = NSTCP_A_INST_MAX,
	},
	{
		.cmd	= NSTCP_CMD_LISTEN_GET,
		.start	= nstcp_nl_listen_dump_start,
		.dumpit	= nstcp_nl_listen_dump,
		.policy	= nstcp_listen_policy,
		.maxattr = NSTCP_A_LISTEN_MAX,
	},
	{
		.cmd	= NSTCP_CMD_HANDOFF_GET,
		.start	= nstcp_nl_handoff_dump_start,
		.dumpit	= nstcp_nl_handoff_dump,
		.done	= nstcp_nl_handoff_dump_done,
	},
	{
		.cmd	= NSTCP_CMD_QUEUE_GET,
		.start	= nstcp_nl_queue_dump_start,
		.dumpit	= nstcp_nl_queue_dump,
		.policy	= nstcp_queue_policy,
		.maxattr = NSTCP_A_QUEUE_MAX,
	},
	{
		.cmd	= NSTCP_CMD_QUEUE_SET,
		.doit	= nstcp_nl_queue_set,
		.policy	= nstcp_queue_policy,
		.maxattr = NSTCP_A_QUEUE_MAX,
		.flags	= GENL_UNS_ADMIN_PERM,
	},
	{
		.cmd	= NSTCP_CMD_QUEUE_DEL,
		.doit	= nstcp_nl_queue_del,
		.policy	= nstcp_queue_policy,
		.maxattr = NSTCP_A_QUEUE_MAX,
		.flags	= GENL_UNS_ADMIN_PERM,
	},
};

struct genl_family nstcp_genl_family __ro_after_init = {
	.name		= NSTCP_GENL_NAME,
	.version	= NSTCP_GENL_VERSION,
	.netnsok	= true,
	.parallel_ops	= true,
	.module		= THIS_MODULE,
	.ops		= nstcp_genl_ops,
	.n_ops		= ARRAY_SIZE(nstcp_genl_ops),
	.resv_start_op	= 0,	/* every command validated strictly */
};

int nstcp_netlink_init(void)
{
	int err;

	err = nstcp_qmap_init();
	if (err)
		return err;
	err = genl_register_family(&nstcp_genl_family);
	if (err)
		goto err_family;
	return 0;

err_family:
	nstcp_qmap_exit();
	return err;
}

void nstcp_netlink_exit(void)
{
	genl_unregister_family(&nstcp_genl_family);
	nstcp_qmap_exit();
}
