// SPDX-License-Identifier: GPL-2.0
/*
 * AF_NSTCP generic netlink: the attributes of each object, from plain
 * values (struct nstcp_nl_*) to a message and back.  No socket or
 * namespace state is read here, so the KUnit suite fills a message and
 * parses it back with the family's own policies.
 */
#include <linux/bug.h>
#include <linux/in.h>
#include <linux/in6.h>
#include <linux/socket.h>
#include <net/genetlink.h>
#include <net/netlink.h>
#include <kunit/visibility.h>
#include <linux/nstcp.h>
#include <linux/nstcp_netlink.h>

#include "nstcp.h"
#include "netlink.h"

/* The instance counters' attributes, in the order of enum nstcp_stat. */
static const u16 nstcp_nl_stat_attr[NSTCP_STAT_MAX] = {
	[NSTCP_STAT_SOCKETS]	= NSTCP_A_INST_SOCKETS,
	[NSTCP_STAT_CLOSES]	= NSTCP_A_INST_CLOSES,
	[NSTCP_STAT_ACCEPTS]	= NSTCP_A_INST_ACCEPTS,
	[NSTCP_STAT_CONNECTS]	= NSTCP_A_INST_CONNECTS,
	[NSTCP_STAT_CALLS]	= NSTCP_A_INST_CALLS,
	[NSTCP_STAT_HOPS]	= NSTCP_A_INST_HOPS,
	[NSTCP_STAT_GIVEN]	= NSTCP_A_INST_GIVEN,
	[NSTCP_STAT_TAKEN]	= NSTCP_A_INST_TAKEN,
	[NSTCP_STAT_EXPIRED]	= NSTCP_A_INST_EXPIRED,
	[NSTCP_STAT_REFUSED]	= NSTCP_A_INST_REFUSED,
	[NSTCP_STAT_REHOMED]	= NSTCP_A_INST_REHOMED,
	[NSTCP_STAT_UNSTEERED]	= NSTCP_A_INST_UNSTEERED,
	[NSTCP_STAT_LCONNECTS]	= NSTCP_A_INST_LCONNECTS,
	[NSTCP_STAT_LFALLBACKS]	= NSTCP_A_INST_LFALLBACKS,
	[NSTCP_STAT_LMISSES]	= NSTCP_A_INST_LMISSES,
};

/* The attribute of counter s. */
u16 nstcp_nl_stat_attr_of(enum nstcp_stat s)
{
	return nstcp_nl_stat_attr[s];
}
EXPORT_SYMBOL_IF_KUNIT(nstcp_nl_stat_attr_of);

/* Puts an address's family, bytes and port under the given attributes. */
static int nstcp_nl_put_addr(struct sk_buff *skb,
			     const struct sockaddr_storage *ss, int fam_attr,
			     int addr_attr, int port_attr)
{
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;
	const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;

	if (ss->ss_family == AF_INET6) {
		if ((fam_attr && nla_put_u16(skb, fam_attr, AF_INET6)) ||
		    nla_put_in6_addr(skb, addr_attr, &sin6->sin6_addr) ||
		    nla_put_u16(skb, port_attr, ntohs(sin6->sin6_port)))
			return -EMSGSIZE;
		return 0;
	}
	if ((fam_attr && nla_put_u16(skb, fam_attr, AF_INET)) ||
	    nla_put_in_addr(skb, addr_attr, sin->sin_addr.s_addr) ||
	    nla_put_u16(skb, port_attr, ntohs(sin->sin_port)))
		return -EMSGSIZE;
	return 0;
}

/**
 * nstcp_nl_fill_inst - put one instance's attributes into a message
 * @skb: the message, its header already put
 * @v: the instance's values
 *
 * Return: 0, or -EMSGSIZE when they do not fit.
 */
int nstcp_nl_fill_inst(struct sk_buff *skb, const struct nstcp_nl_inst *v)
{
	int s;

	if (nla_put_u32(skb, NSTCP_A_INST_CPU, v->cpu) ||
	    nla_put_u8(skb, NSTCP_A_INST_ONLINE, v->online) ||
	    nla_put_u32(skb, NSTCP_A_INST_LISTENERS, v->listeners) ||
	    nla_put_u32(skb, NSTCP_A_INST_QUEUED, v->queued) ||
	    nla_put_u64_64bit(skb, NSTCP_A_INST_STOLEN, v->stolen,
			      NSTCP_A_INST_PAD))
		return -EMSGSIZE;
	for (s = 0; s < NSTCP_STAT_MAX; s++)
		if (nla_put_u64_64bit(skb, nstcp_nl_stat_attr[s], v->stats[s],
				      NSTCP_A_INST_PAD))
			return -EMSGSIZE;
	return 0;
}
EXPORT_SYMBOL_IF_KUNIT(nstcp_nl_fill_inst);

/**
 * nstcp_nl_fill_listen - put a listening port's attributes, without its
 * per-CPU nests
 * @skb: the message
 * @v: the port's values; v->addr in the application's form
 *
 * Return: 0 or -EMSGSIZE.
 */
int nstcp_nl_fill_listen(struct sk_buff *skb, const struct nstcp_nl_listen *v)
{
	if (nstcp_nl_put_addr(skb, &v->addr, NSTCP_A_LISTEN_FAMILY,
			      NSTCP_A_LISTEN_ADDR, NSTCP_A_LISTEN_PORT))
		return -EMSGSIZE;
	if (v->keylen && !v->key_hidden &&
	    nla_put(skb, NSTCP_A_LISTEN_KEY, v->keylen, v->key))
		return -EMSGSIZE;
	if (v->keylen && v->key_hidden &&
	    nla_put_flag(skb, NSTCP_A_LISTEN_KEY_HIDDEN))
		return -EMSGSIZE;
	if (nla_put_u32(skb, NSTCP_A_LISTEN_POLICY, v->policy) ||
	    nla_put_u32(skb, NSTCP_A_LISTEN_LISTENERS, v->listeners) ||
	    nla_put_u64_64bit(skb, NSTCP_A_LISTEN_MIGRATED, v->migrated,
			      NSTCP_A_LISTEN_PAD) ||
	    nla_put_u32(skb, NSTCP_A_LISTEN_OWNER, v->owner))
		return -EMSGSIZE;
	if ((v->reuseport && nla_put_flag(skb, NSTCP_A_LISTEN_REUSEPORT)) ||
	    (v->v6only && nla_put_flag(skb, NSTCP_A_LISTEN_V6ONLY)) ||
	    (v->ifindex && nla_put_u32(skb, NSTCP_A_LISTEN_IFINDEX,
				       v->ifindex)))
		return -EMSGSIZE;
	if (nla_put_u32(skb, NSTCP_A_LISTEN_MAX_CONNS, v->max_conns) ||
	    nla_put_u32(skb, NSTCP_A_LISTEN_CPS, v->cps) ||
	    nla_put_u32(skb, NSTCP_A_LISTEN_CONNS, v->conns) ||
	    nla_put_u64_64bit(skb, NSTCP_A_LISTEN_LREFUSED, v->lrefused,
			      NSTCP_A_LISTEN_PAD) ||
	    nla_put_u32(skb, NSTCP_A_LISTEN_PER_SOURCE, v->per_source) ||
	    nla_put_u64_64bit(skb, NSTCP_A_LISTEN_SRC_UNCOUNTED,
			      v->src_uncounted, NSTCP_A_LISTEN_PAD))
		return -EMSGSIZE;
	return 0;
}
EXPORT_SYMBOL_IF_KUNIT(nstcp_nl_fill_listen);

/**
 * nstcp_nl_fill_lcpu - put one nest of a port's listener on a CPU
 * @skb: the message
 * @v: its values
 *
 * Return: 0 or -EMSGSIZE (the nest is taken back).
 */
int nstcp_nl_fill_lcpu(struct sk_buff *skb, const struct nstcp_nl_lcpu *v)
{
	struct nlattr *nest = nla_nest_start(skb, NSTCP_A_LISTEN_CPU);

	if (!nest)
		return -EMSGSIZE;
	if (nla_put_u32(skb, NSTCP_A_LCPU_CPU, v->cpu) ||
	    nla_put_u32(skb, NSTCP_A_LCPU_QUEUED, v->queued) ||
	    nla_put_u64_64bit(skb, NSTCP_A_LCPU_ACCEPTED, v->accepted,
			      NSTCP_A_LCPU_PAD) ||
	    nla_put_u64_64bit(skb, NSTCP_A_LCPU_STOLEN, v->stolen,
			      NSTCP_A_LCPU_PAD)) {
		nla_nest_cancel(skb, nest);
		return -EMSGSIZE;
	}
	nla_nest_end(skb, nest);
	return 0;
}
EXPORT_SYMBOL_IF_KUNIT(nstcp_nl_fill_lcpu);

/**
 * nstcp_nl_fill_handoff - put one pending hand-off's attributes
 * @skb: the message
 * @v: its values (never the token)
 *
 * Return: 0 or -EMSGSIZE.
 */
int nstcp_nl_fill_handoff(struct sk_buff *skb,
			  const struct nstcp_nl_handoff *v)
{
	if (nla_put_u32(skb, NSTCP_A_HANDOFF_GIVER, v->giver) ||
	    nla_put_u32(skb, v->taker_is_pid ? NSTCP_A_HANDOFF_TAKER_PID :
			NSTCP_A_HANDOFF_TAKER_UID, v->taker) ||
	    nla_put_u32(skb, NSTCP_A_HANDOFF_AGE_MS, v->age_ms) ||
	    nla_put_u32(skb, NSTCP_A_HANDOFF_LEFT_MS, v->left_ms) ||
	    nla_put_s32(skb, NSTCP_A_HANDOFF_CPU, v->cpu))
		return -EMSGSIZE;
	if (!v->local.ss_family)
		return 0;
	if (nstcp_nl_put_addr(skb, &v->local, NSTCP_A_HANDOFF_FAMILY,
			      NSTCP_A_HANDOFF_LOCAL_ADDR,
			      NSTCP_A_HANDOFF_LOCAL_PORT) ||
	    nstcp_nl_put_addr(skb, &v->peer, 0, NSTCP_A_HANDOFF_PEER_ADDR,
			      NSTCP_A_HANDOFF_PEER_PORT))
		return -EMSGSIZE;
	return 0;
}
EXPORT_SYMBOL_IF_KUNIT(nstcp_nl_fill_handoff);

/**
 * nstcp_nl_fill_qmap - put a device's queue map
 * @skb: the message
 * @ifindex: the device
 * @ent: its entries
 * @n: how many
 *
 * Return: 0 or -EMSGSIZE.
 */
int nstcp_nl_fill_qmap(struct sk_buff *skb, u32 ifindex,
		       const struct nstcp_qent *ent, unsigned int n)
{
	struct nlattr *nest;
	unsigned int i;

	if (nla_put_u32(skb, NSTCP_A_QUEUE_IFINDEX, ifindex))
		return -EMSGSIZE;
	for (i = 0; i < n; i++) {
		nest = nla_nest_start(skb, NSTCP_A_QUEUE_ENTRY);
		if (!nest)
			return -EMSGSIZE;
		if (nla_put_u32(skb, NSTCP_A_QENT_QUEUE, ent[i].queue) ||
		    nla_put_u32(skb, NSTCP_A_QENT_CPU, ent[i].cpu)) {
			nla_nest_cancel(skb, nest);
			return -EMSGSIZE;
		}
		nla_nest_end(skb, nest);
	}
	return 0;
}
EXPORT_SYMBOL_IF_KUNIT(nstcp_nl_fill_qmap);

/**
 * nstcp_nl_parse_qmap - read a QUEUE_SET request's entries
 * @head: the request's attributes (genlmsg_data)
 * @len: their length
 * @ent: where to put them, room for NSTCP_QUEUE_MAP_MAX
 * @extack: for the reason of a refusal
 *
 * Every entry needs a queue and a CPU, a queue may appear once; the CPU
 * is the caller's to check.  The entries come out in the request's order.
 *
 * Return: the number of entries, or -EINVAL.
 */
int nstcp_nl_parse_qmap(const struct nlattr *head, int len,
			struct nstcp_qent *ent, struct netlink_ext_ack *extack)
{
	struct nlattr *tb[NSTCP_A_QENT_MAX + 1];
	const struct nlattr *a;
	int rem, n = 0, i, err;

	nla_for_each_attr(a, head, len, rem) {
		if (nla_type(a) != NSTCP_A_QUEUE_ENTRY)
			continue;
		if (n == NSTCP_QUEUE_MAP_MAX) {
			NL_SET_ERR_MSG_ATTR(extack, a, "too many queues");
			return -EINVAL;
		}
		err = nla_parse_nested(tb, NSTCP_A_QENT_MAX, a,
				       nstcp_qent_policy, extack);
		if (err)
			return err;
		if (!tb[NSTCP_A_QENT_QUEUE] || !tb[NSTCP_A_QENT_CPU]) {
			NL_SET_ERR_MSG_ATTR(extack, a,
					    "an entry needs a queue and a CPU");
			return -EINVAL;
		}
		ent[n].queue = nla_get_u32(tb[NSTCP_A_QENT_QUEUE]);
		ent[n].cpu = nla_get_u32(tb[NSTCP_A_QENT_CPU]);
		for (i = 0; i < n; i++) {
			if (ent[i].queue == ent[n].queue) {
				NL_SET_ERR_MSG_ATTR(extack, a,
						    "a queue appears twice");
				return -EINVAL;
			}
		}
		n++;
	}
	return n;
}
EXPORT_SYMBOL_IF_KUNIT(nstcp_nl_parse_qmap);
