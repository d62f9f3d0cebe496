/* SPDX-License-Identifier: GPL-2.0 */
/*
 * AF_NSTCP generic netlink family: what netlink.c, nlhandoff.c and
 * nlfill.c share (and the KUnit suite tests).
 */
#ifndef _NSTCP_NETLINK_H
#define _NSTCP_NETLINK_H

#include <linux/socket.h>
#include <linux/types.h>
#include <net/netlink.h>

#include "nstcp.h"

/* One CPU instance, as NSTCP_CMD_INSTANCE_GET reports it. */
struct nstcp_nl_inst {
	u32	cpu;
	u8	online;
	u32	listeners;
	u32	queued;
	u64	stolen;
	u64	stats[NSTCP_STAT_MAX];
};

/* One listening port, without its per-CPU listeners. */
struct nstcp_nl_listen {
	struct sockaddr_storage	addr;		/* the application's form */
	u8			key[NSTCP_KEY_MAX];
	u8			keylen;
	bool			key_hidden;
	bool			reuseport;
	bool			v6only;
	u32			policy;
	u32			listeners;
	u64			migrated;
	u32			owner;
	u32			ifindex;
	u32			max_conns, cps, conns, per_source;
	u64			lrefused, src_uncounted;
};

/* A port's listener on one CPU. */
struct nstcp_nl_lcpu {
	u32	cpu;
	u32	queued;
	u64	accepted;
	u64	stolen;
};

/* One pending hand-off. */
struct nstcp_nl_handoff {
	u32			giver;
	u32			taker;
	bool			taker_is_pid;
	u32			age_ms;
	u32			left_ms;
	s32			cpu;
	struct sockaddr_storage	local;		/* ss_family 0: no socket */
	struct sockaddr_storage	peer;
};

/* One queue of a device's queue map. */
struct nstcp_qent {
	u32	queue;
	u32	cpu;
};

extern const struct nla_policy nstcp_inst_policy[NSTCP_A_INST_MAX + 1];
extern const struct nla_policy nstcp_listen_policy[NSTCP_A_LISTEN_MAX + 1];
extern const struct nla_policy nstcp_lcpu_policy[NSTCP_A_LCPU_MAX + 1];
extern const struct nla_policy nstcp_queue_policy[NSTCP_A_QUEUE_MAX + 1];
extern const struct nla_policy nstcp_qent_policy[NSTCP_A_QENT_MAX + 1];

/* netlink.c */
extern struct genl_family nstcp_genl_family;
struct netlink_callback;
void *nstcp_nl_put_dump(struct sk_buff *skb, struct netlink_callback *cb,
			u8 cmd);

/* nlhandoff.c */
int nstcp_nl_handoff_dump_start(struct netlink_callback *cb);
int nstcp_nl_handoff_dump_done(struct netlink_callback *cb);
int nstcp_nl_handoff_dump(struct sk_buff *skb, struct netlink_callback *cb);

/* qmap.c */
struct genl_info;
int nstcp_nl_put_inst_queues(struct sk_buff *skb, struct nstcp_net *nn,
			     u32 cpu);
int nstcp_nl_queue_dump_start(struct netlink_callback *cb);
unsigned int nstcp_qmap_entries(struct nstcp_net *nn);
int nstcp_nl_queue_dump(struct sk_buff *skb, struct netlink_callback *cb);
int nstcp_nl_queue_set(struct sk_buff *skb, struct genl_info *info);
int nstcp_nl_queue_del(struct sk_buff *skb, struct genl_info *info);
int nstcp_qmap_init(void);
void nstcp_qmap_exit(void);

/* nlfill.c */
u16 nstcp_nl_stat_attr_of(enum nstcp_stat s);
int nstcp_nl_fill_inst(struct sk_buff *skb, const struct nstcp_nl_inst *v);
int nstcp_nl_fill_listen(struct sk_buff *skb, const struct nstcp_nl_listen *v);
int nstcp_nl_fill_lcpu(struct sk_buff *skb, const struct nstcp_nl_lcpu *v);
int nstcp_nl_fill_handoff(struct sk_buff *skb,
			  const struct nstcp_nl_handoff *v);
int nstcp_nl_fill_qmap(struct sk_buff *skb, u32 ifindex,
		       const struct nstcp_qent *ent, unsigned int n);
int nstcp_nl_parse_qmap(const struct nlattr *head, int len,
			struct nstcp_qent *ent, struct netlink_ext_ack *extack);

#endif /* _NSTCP_NETLINK_H */
