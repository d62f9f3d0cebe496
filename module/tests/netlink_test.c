// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit: the generic netlink family's attributes (nlfill.c) put into a
 * message and parsed back, the request policies (netlink.c) and the
 * queue map parser, without sockets.
 */
#include <kunit/test.h>
#include <linux/in.h>
#include <linux/in6.h>
#include <linux/skbuff.h>
#include <net/netlink.h>
#include <linux/nstcp.h>
#include <linux/nstcp_netlink.h>

#include "../nstcp.h"
#include "../netlink.h"

/* A message buffer of len bytes, freed with the test. */
static struct sk_buff *nl_test_skb(struct kunit *test, unsigned int len)
{
	struct sk_buff *skb = alloc_skb(len, GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, skb);
	return skb;
}

/* Parses the attributes of skb (no policy: every type up to max). */
static void nl_test_parse(struct kunit *test, struct sk_buff *skb,
			  struct nlattr **tb, int max)
{
	KUNIT_ASSERT_EQ(test, nla_parse(tb, max, (struct nlattr *)skb->data,
					skb->len, NULL, NULL), 0);
}

static void netlink_inst_roundtrip(struct kunit *test)
{
	struct sk_buff *skb = nl_test_skb(test, NLMSG_GOODSIZE);
	struct nlattr *tb[NSTCP_A_INST_MAX + 1];
	struct nstcp_nl_inst v = {
		.cpu = 3, .online = 1, .listeners = 2, .queued = 7,
		.stolen = 11,
	};
	int s;

	for (s = 0; s < NSTCP_STAT_MAX; s++)
		v.stats[s] = 1000ULL * (s + 1) + (1ULL << 40);
	KUNIT_ASSERT_EQ(test, nstcp_nl_fill_inst(skb, &v), 0);
	nl_test_parse(test, skb, tb, NSTCP_A_INST_MAX);
	KUNIT_EXPECT_EQ(test, nla_get_u32(tb[NSTCP_A_INST_CPU]), 3U);
	KUNIT_EXPECT_EQ(test, nla_get_u8(tb[NSTCP_A_INST_ONLINE]), 1);
	KUNIT_EXPECT_EQ(test, nla_get_u32(tb[NSTCP_A_INST_LISTENERS]), 2U);
	KUNIT_EXPECT_EQ(test, nla_get_u32(tb[NSTCP_A_INST_QUEUED]), 7U);
	KUNIT_EXPECT_EQ(test, nla_get_u64(tb[NSTCP_A_INST_STOLEN]), 11ULL);
	for (s = 0; s < NSTCP_STAT_MAX; s++) {
		u16 a = nstcp_nl_stat_attr_of(s);

		KUNIT_ASSERT_NOT_NULL(test, tb[a]);
		KUNIT_EXPECT_EQ(test, nla_get_u64(tb[a]), v.stats[s]);
	}
	/* Each counter has an attribute of its own, in the ABI's order. */
	KUNIT_EXPECT_EQ(test, nstcp_nl_stat_attr_of(NSTCP_STAT_SOCKETS),
			NSTCP_A_INST_SOCKETS);
	KUNIT_EXPECT_EQ(test, nstcp_nl_stat_attr_of(NSTCP_STAT_UNSTEERED),
			NSTCP_A_INST_UNSTEERED);
	kfree_skb(skb);
}

static void netlink_inst_no_room(struct kunit *test)
{
	struct sk_buff *skb = nl_test_skb(test, NLMSG_GOODSIZE);
	struct nstcp_nl_inst v = { .cpu = 1 };

	/* 64 bytes left: the CPU and a few more, not every counter. */
	skb_put(skb, skb_tailroom(skb) - 64);
	KUNIT_EXPECT_EQ(test, nstcp_nl_fill_inst(skb, &v), -EMSGSIZE);
	kfree_skb(skb);
}

static void netlink_listen_keys(struct kunit *test)
{
	struct nlattr *tb[NSTCP_A_LISTEN_MAX + 1];
	struct nstcp_nl_listen v = {
		.keylen = 3, .policy = NSTCP_POLICY_LEAST, .listeners = 4,
		.migrated = 9, .owner = 1000, .reuseport = false,
		.v6only = true, .ifindex = 5,
		.max_conns = 7, .cps = 3, .conns = 2, .lrefused = 11,
	};
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&v.addr;
	struct sk_buff *skb;

	memcpy(v.key, "abc", 3);
	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons(8080);
	sin6->sin6_addr.s6_addr[15] = 1;

	/* Shown: the key's bytes, no KEY_HIDDEN. */
	skb = nl_test_skb(test, NLMSG_GOODSIZE);
	KUNIT_ASSERT_EQ(test, nstcp_nl_fill_listen(skb, &v), 0);
	nl_test_parse(test, skb, tb, NSTCP_A_LISTEN_MAX);
	KUNIT_EXPECT_EQ(test, nla_get_u16(tb[NSTCP_A_LISTEN_FAMILY]), AF_INET6);
	KUNIT_EXPECT_EQ(test, nla_len(tb[NSTCP_A_LISTEN_ADDR]), 16);
	KUNIT_EXPECT_EQ(test, ((u8 *)nla_data(tb[NSTCP_A_LISTEN_ADDR]))[15], 1);
	KUNIT_EXPECT_EQ(test, nla_get_u16(tb[NSTCP_A_LISTEN_PORT]), 8080);
	KUNIT_ASSERT_NOT_NULL(test, tb[NSTCP_A_LISTEN_KEY]);
	KUNIT_EXPECT_EQ(test, nla_len(tb[NSTCP_A_LISTEN_KEY]), 3);
	KUNIT_EXPECT_EQ(test, memcmp(nla_data(tb[NSTCP_A_LISTEN_KEY]), "abc", 3), 0);
	KUNIT_EXPECT_NULL(test, tb[NSTCP_A_LISTEN_KEY_HIDDEN]);
	KUNIT_EXPECT_EQ(test, nla_get_u32(tb[NSTCP_A_LISTEN_POLICY]),
			(u32)NSTCP_POLICY_LEAST);
	KUNIT_EXPECT_EQ(test, nla_get_u32(tb[NSTCP_A_LISTEN_OWNER]), 1000U);
	KUNIT_EXPECT_EQ(test, nla_get_u64(tb[NSTCP_A_LISTEN_MIGRATED]), 9ULL);
	KUNIT_EXPECT_NULL(test, tb[NSTCP_A_LISTEN_REUSEPORT]);
	KUNIT_EXPECT_NOT_NULL(test, tb[NSTCP_A_LISTEN_V6ONLY]);
	KUNIT_EXPECT_EQ(test, nla_get_u32(tb[NSTCP_A_LISTEN_IFINDEX]), 5U);
	KUNIT_EXPECT_EQ(test, nla_get_u32(tb[NSTCP_A_LISTEN_MAX_CONNS]), 7U);
	KUNIT_EXPECT_EQ(test, nla_get_u32(tb[NSTCP_A_LISTEN_CPS]), 3U);
	KUNIT_EXPECT_EQ(test, nla_get_u32(tb[NSTCP_A_LISTEN_CONNS]), 2U);
	KUNIT_EXPECT_EQ(test, nla_get_u64(tb[NSTCP_A_LISTEN_LREFUSED]), 11ULL);
	kfree_skb(skb);

	/* Hidden: only the flag. */
	v.key_hidden = true;
	skb = nl_test_skb(test, NLMSG_GOODSIZE);
	KUNIT_ASSERT_EQ(test, nstcp_nl_fill_listen(skb, &v), 0);
	nl_test_parse(test, skb, tb, NSTCP_A_LISTEN_MAX);
	KUNIT_EXPECT_NULL(test, tb[NSTCP_A_LISTEN_KEY]);
	KUNIT_EXPECT_NOT_NULL(test, tb[NSTCP_A_LISTEN_KEY_HIDDEN]);
	kfree_skb(skb);

	/* No key: neither. */
	v.keylen = 0;
	v.ifindex = 0;
	skb = nl_test_skb(test, NLMSG_GOODSIZE);
	KUNIT_ASSERT_EQ(test, nstcp_nl_fill_listen(skb, &v), 0);
	nl_test_parse(test, skb, tb, NSTCP_A_LISTEN_MAX);
	KUNIT_EXPECT_NULL(test, tb[NSTCP_A_LISTEN_KEY]);
	KUNIT_EXPECT_NULL(test, tb[NSTCP_A_LISTEN_KEY_HIDDEN]);
	KUNIT_EXPECT_NULL(test, tb[NSTCP_A_LISTEN_IFINDEX]);
	kfree_skb(skb);
}

static void netlink_lcpu_nests(struct kunit *test)
{
	struct sk_buff *skb = nl_test_skb(test, NLMSG_GOODSIZE);
	struct nlattr *tb[NSTCP_A_LCPU_MAX + 1];
	struct nstcp_nl_lcpu c;
	struct nlattr *a;
	int rem, n = 0;

	for (c.cpu = 0; c.cpu < 3; c.cpu++) {
		c.queued = c.cpu + 10;
		c.accepted = c.cpu + 20;
		c.stolen = c.cpu + 30;
		KUNIT_ASSERT_EQ(test, nstcp_nl_fill_lcpu(skb, &c), 0);
	}
	nla_for_each_attr(a, (struct nlattr *)skb->data, skb->len, rem) {
		KUNIT_EXPECT_EQ(test, nla_type(a), NSTCP_A_LISTEN_CPU);
		KUNIT_ASSERT_EQ(test, nla_parse_nested(tb, NSTCP_A_LCPU_MAX, a,
						       NULL, NULL), 0);
		KUNIT_EXPECT_EQ(test, nla_get_u32(tb[NSTCP_A_LCPU_CPU]), (u32)n);
		KUNIT_EXPECT_EQ(test, nla_get_u32(tb[NSTCP_A_LCPU_QUEUED]),
				(u32)n + 10);
		KUNIT_EXPECT_EQ(test, nla_get_u64(tb[NSTCP_A_LCPU_ACCEPTED]),
				(u64)n + 20);
		KUNIT_EXPECT_EQ(test, nla_get_u64(tb[NSTCP_A_LCPU_STOLEN]),
				(u64)n + 30);
		n++;
	}
	KUNIT_EXPECT_EQ(test, n, 3);
	kfree_skb(skb);
}

static void netlink_handoff_fill(struct kunit *test)
{
	struct nlattr *tb[NSTCP_A_HANDOFF_MAX + 1];
	struct nstcp_nl_handoff v = {
		.giver = 42, .taker = 1000, .taker_is_pid = false,
		.age_ms = 5, .left_ms = 95, .cpu = -1,
	};
	struct sockaddr_in *l = (struct sockaddr_in *)&v.local;
	struct sockaddr_in *p = (struct sockaddr_in *)&v.peer;
	struct sk_buff *skb;

	/* No socket: no addresses; a uid taker. */
	skb = nl_test_skb(test, NLMSG_GOODSIZE);
	KUNIT_ASSERT_EQ(test, nstcp_nl_fill_handoff(skb, &v), 0);
	nl_test_parse(test, skb, tb, NSTCP_A_HANDOFF_MAX);
	KUNIT_EXPECT_EQ(test, nla_get_u32(tb[NSTCP_A_HANDOFF_GIVER]), 42U);
	KUNIT_EXPECT_NULL(test, tb[NSTCP_A_HANDOFF_TAKER_PID]);
	KUNIT_EXPECT_EQ(test, nla_get_u32(tb[NSTCP_A_HANDOFF_TAKER_UID]), 1000U);
	KUNIT_EXPECT_EQ(test, nla_get_s32(tb[NSTCP_A_HANDOFF_CPU]), -1);
	KUNIT_EXPECT_NULL(test, tb[NSTCP_A_HANDOFF_LOCAL_ADDR]);
	kfree_skb(skb);

	v.taker_is_pid = true;
	v.taker = 77;
	l->sin_family = AF_INET;
	l->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	l->sin_port = htons(1234);
	p->sin_family = AF_INET;
	p->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	p->sin_port = htons(5678);
	skb = nl_test_skb(test, NLMSG_GOODSIZE);
	KUNIT_ASSERT_EQ(test, nstcp_nl_fill_handoff(skb, &v), 0);
	nl_test_parse(test, skb, tb, NSTCP_A_HANDOFF_MAX);
	KUNIT_EXPECT_EQ(test, nla_get_u32(tb[NSTCP_A_HANDOFF_TAKER_PID]), 77U);
	KUNIT_EXPECT_NULL(test, tb[NSTCP_A_HANDOFF_TAKER_UID]);
	KUNIT_EXPECT_EQ(test, nla_get_u16(tb[NSTCP_A_HANDOFF_FAMILY]), AF_INET);
	KUNIT_EXPECT_EQ(test, ntohl(nla_get_in_addr(tb[NSTCP_A_HANDOFF_LOCAL_ADDR])),
			INADDR_LOOPBACK);
	KUNIT_EXPECT_EQ(test, nla_get_u16(tb[NSTCP_A_HANDOFF_LOCAL_PORT]), 1234);
	KUNIT_EXPECT_EQ(test, nla_get_u16(tb[NSTCP_A_HANDOFF_PEER_PORT]), 5678);
	kfree_skb(skb);
}

/* Puts one queue map entry; queue or cpu < 0 leaves it out. */
static void put_entry(struct sk_buff *skb, int queue, int cpu)
{
	struct nlattr *nest = nla_nest_start(skb, NSTCP_A_QUEUE_ENTRY);

	if (queue >= 0)
		nla_put_u32(skb, NSTCP_A_QENT_QUEUE, queue);
	if (cpu >= 0)
		nla_put_u32(skb, NSTCP_A_QENT_CPU, cpu);
	nla_nest_end(skb, nest);
}

static void netlink_qmap_parse(struct kunit *test)
{
	struct nstcp_qent *ent;
	struct sk_buff *skb;

	ent = kunit_kcalloc(test, NSTCP_QUEUE_MAP_MAX, sizeof(*ent), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, ent);

	skb = nl_test_skb(test, NLMSG_GOODSIZE);
	nla_put_u32(skb, NSTCP_A_QUEUE_IFINDEX, 2);
	put_entry(skb, 1, 3);
	put_entry(skb, 0, 2);
	KUNIT_ASSERT_EQ(test, nstcp_nl_parse_qmap((struct nlattr *)skb->data,
						  skb->len, ent, NULL), 2);
	KUNIT_EXPECT_EQ(test, ent[0].queue, 1U);
	KUNIT_EXPECT_EQ(test, ent[0].cpu, 3U);
	KUNIT_EXPECT_EQ(test, ent[1].queue, 0U);
	KUNIT_EXPECT_EQ(test, ent[1].cpu, 2U);
	kfree_skb(skb);

	/* A queue twice. */
	skb = nl_test_skb(test, NLMSG_GOODSIZE);
	put_entry(skb, 1, 3);
	put_entry(skb, 1, 2);
	KUNIT_EXPECT_EQ(test, nstcp_nl_parse_qmap((struct nlattr *)skb->data,
						  skb->len, ent, NULL), -EINVAL);
	kfree_skb(skb);

	/* An entry without its CPU. */
	skb = nl_test_skb(test, NLMSG_GOODSIZE);
	put_entry(skb, 1, -1);
	KUNIT_EXPECT_EQ(test, nstcp_nl_parse_qmap((struct nlattr *)skb->data,
						  skb->len, ent, NULL), -EINVAL);
	kfree_skb(skb);

	/* No entry: zero, for the caller to refuse. */
	skb = nl_test_skb(test, NLMSG_GOODSIZE);
	nla_put_u32(skb, NSTCP_A_QUEUE_IFINDEX, 2);
	KUNIT_EXPECT_EQ(test, nstcp_nl_parse_qmap((struct nlattr *)skb->data,
						  skb->len, ent, NULL), 0);
	kfree_skb(skb);
}

/* Request policies: reply-only attributes and bad values are refused. */
static void netlink_policies(struct kunit *test)
{
	struct sk_buff *skb;

	skb = nl_test_skb(test, NLMSG_GOODSIZE);
	nla_put_u32(skb, NSTCP_A_INST_CPU, 1);
	KUNIT_EXPECT_EQ(test, nla_validate((struct nlattr *)skb->data, skb->len,
					   NSTCP_A_INST_MAX, nstcp_inst_policy,
					   NULL), 0);
	nla_put_u64_64bit(skb, NSTCP_A_INST_HOPS, 1, NSTCP_A_INST_PAD);
	KUNIT_EXPECT_EQ(test, nla_validate((struct nlattr *)skb->data, skb->len,
					   NSTCP_A_INST_MAX, nstcp_inst_policy,
					   NULL), -EINVAL);
	kfree_skb(skb);

	skb = nl_test_skb(test, NLMSG_GOODSIZE);
	nla_put_u16(skb, NSTCP_A_LISTEN_PORT, 0);
	KUNIT_EXPECT_EQ(test, nla_validate((struct nlattr *)skb->data, skb->len,
					   NSTCP_A_LISTEN_MAX, nstcp_listen_policy,
					   NULL), -ERANGE);
	kfree_skb(skb);

	skb = nl_test_skb(test, NLMSG_GOODSIZE);
	nla_put_u32(skb, NSTCP_A_QUEUE_IFINDEX, 0);
	KUNIT_EXPECT_EQ(test, nla_validate((struct nlattr *)skb->data, skb->len,
					   NSTCP_A_QUEUE_MAX, nstcp_queue_policy,
					   NULL), -ERANGE);
	kfree_skb(skb);
}

static struct kunit_case netlink_cases[] = {
	KUNIT_CASE(netlink_inst_roundtrip),
	KUNIT_CASE(netlink_inst_no_room),
	KUNIT_CASE(netlink_listen_keys),
	KUNIT_CASE(netlink_lcpu_nests),
	KUNIT_CASE(netlink_handoff_fill),
	KUNIT_CASE(netlink_qmap_parse),
	KUNIT_CASE(netlink_policies),
	{}
};

static struct kunit_suite netlink_suite = {
	.name = "nstcp_netlink",
	.test_cases = netlink_cases,
};

kunit_test_suite(netlink_suite);
