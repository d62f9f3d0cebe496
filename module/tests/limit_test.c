// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit: AF_NSTCP port limits (limit.c, srclimit.c): the accepts-per-second
 * window, the maximum of connections in service and its charge, the
 * per-source key (IPv4, v4-mapped, IPv6 /64) and its bounded table.
 */
#include <kunit/test.h>
#include <linux/jiffies.h>
#include <linux/inet.h>
#include <linux/nstcp.h>
#include <linux/slab.h>

#include "../nstcp.h"

static void limit_cps_window(struct kunit *test)
{
	struct nstcp_cps_window w = { .start = 1000 };
	unsigned int i;

	for (i = 0; i < 3; i++)
		KUNIT_EXPECT_TRUE(test, nstcp_cps_admit(&w, 1000 + i, 3));
	/* A fourth within the second: refused, and not counted. */
	KUNIT_EXPECT_FALSE(test, nstcp_cps_admit(&w, 1000 + HZ - 1, 3));
	KUNIT_EXPECT_EQ(test, w.count, 3U);
	/* The window ends a second after it began: a new one. */
	KUNIT_EXPECT_TRUE(test, nstcp_cps_admit(&w, 1000 + HZ, 3));
	KUNIT_EXPECT_EQ(test, w.start, 1000UL + HZ);
	KUNIT_EXPECT_EQ(test, w.count, 1U);
}

static void limit_cps_wrap(struct kunit *test)
{
	/* jiffies wrapping inside a window changes nothing. */
	struct nstcp_cps_window w = { .start = ULONG_MAX - 2 };

	KUNIT_EXPECT_TRUE(test, nstcp_cps_admit(&w, ULONG_MAX, 1));
	KUNIT_EXPECT_FALSE(test, nstcp_cps_admit(&w, 5, 1));
	KUNIT_EXPECT_TRUE(test, nstcp_cps_admit(&w, ULONG_MAX - 2 + HZ, 1));
}

static void limit_max_conns(struct kunit *test)
{
	struct nstcp_limits *lim = nstcp_limits_alloc();
	struct nstcp_src_key key;
	bool charged, src;

	KUNIT_ASSERT_NOT_NULL(test, lim);
	/* No limit, not least: nothing counted. */
	KUNIT_EXPECT_TRUE(test, nstcp_limits_admit(lim, NULL, false, &charged, &src, &key));
	KUNIT_EXPECT_FALSE(test, charged);
	KUNIT_EXPECT_EQ(test, atomic_read(&lim->conns), 0);
	/* The least policy counts without limiting. */
	KUNIT_EXPECT_TRUE(test, nstcp_limits_admit(lim, NULL, true, &charged, &src, &key));
	KUNIT_EXPECT_TRUE(test, charged);
	nstcp_limits_uncharge(lim);

	WRITE_ONCE(lim->max_conns, 2);
	KUNIT_EXPECT_TRUE(test, nstcp_limits_admit(lim, NULL, false, &charged, &src, &key));
	KUNIT_EXPECT_TRUE(test, charged);
	KUNIT_EXPECT_TRUE(test, nstcp_limits_admit(lim, NULL, false, &charged, &src, &key));
	KUNIT_EXPECT_FALSE(test, nstcp_limits_admit(lim, NULL, false, &charged, &src, &key));
	KUNIT_EXPECT_FALSE(test, charged);
	KUNIT_EXPECT_EQ(test, atomic_read(&lim->conns), 2);
	KUNIT_EXPECT_EQ(test, atomic_long_read(&lim->refused), 1L);
	nstcp_limits_uncharge(lim);
	KUNIT_EXPECT_TRUE(test, nstcp_limits_admit(lim, NULL, false, &charged, &src, &key));

	/* cps refusing undoes the charge. */
	WRITE_ONCE(lim->max_conns, 5);
	WRITE_ONCE(lim->cps, 1);
	lim->win.start = jiffies;
	lim->win.count = 1;
	KUNIT_EXPECT_FALSE(test, nstcp_limits_admit(lim, NULL, false, &charged, &src, &key));
	KUNIT_EXPECT_EQ(test, atomic_read(&lim->conns), 2);
	KUNIT_EXPECT_EQ(test, atomic_long_read(&lim->refused), 2L);
	nstcp_limits_put(lim);
}

static struct in6_addr v6(const char *s)
{
	struct in6_addr a = {};

	in6_pton(s, -1, a.s6_addr, -1, NULL);
	return a;
}

static bool same(const struct nstcp_src_key *a, const struct nstcp_src_key *b)
{
	return !memcmp(a, b, sizeof(*a));
}

static void limit_src_key(struct kunit *test)
{
	struct nstcp_src_key a, b;
	struct in6_addr x;

	/* An IPv4 address, and the same as v4-mapped IPv6: one source. */
	nstcp_src_key_v4(htonl(0x7f000001), &a);
	x = v6("::ffff:127.0.0.1");
	nstcp_src_key_v6(&x, &b);
	KUNIT_EXPECT_TRUE(test, same(&a, &b));
	nstcp_src_key_v4(htonl(0x7f000002), &b);
	KUNIT_EXPECT_FALSE(test, same(&a, &b));

	/* IPv6: the /64, whatever the interface identifier. */
	x = v6("2001:db8:1:2::1");
	nstcp_src_key_v6(&x, &a);
	x = v6("2001:db8:1:2:ffff:eeee:dddd:cccc");
	nstcp_src_key_v6(&x, &b);
	KUNIT_EXPECT_TRUE(test, same(&a, &b));
	x = v6("2001:db8:1:3::1");
	nstcp_src_key_v6(&x, &b);
	KUNIT_EXPECT_FALSE(test, same(&a, &b));

	/* ::/64 and an IPv4 address never meet. */
	x = v6("::1");
	nstcp_src_key_v6(&x, &a);
	nstcp_src_key_v4(0, &b);
	KUNIT_EXPECT_FALSE(test, same(&a, &b));
}

static void limit_src_table(struct kunit *test)
{
	struct nstcp_srctab *t = kunit_kzalloc(test, sizeof(*t), GFP_KERNEL);
	struct nstcp_src_key k, k2;
	unsigned int i;

	KUNIT_ASSERT_NOT_NULL(test, t);
	nstcp_srctab_init(t);
	nstcp_src_key_v4(htonl(0x0a000001), &k);
	KUNIT_EXPECT_EQ(test, nstcp_src_charge(t, &k, 2), NSTCP_SRC_OK);
	KUNIT_EXPECT_EQ(test, nstcp_src_charge(t, &k, 2), NSTCP_SRC_OK);
	KUNIT_EXPECT_EQ(test, nstcp_src_charge(t, &k, 2), NSTCP_SRC_OVER);
	KUNIT_EXPECT_EQ(test, t->nsrc, 1U);
	nstcp_src_uncharge(t, &k);
	KUNIT_EXPECT_EQ(test, nstcp_src_charge(t, &k, 2), NSTCP_SRC_OK);
	nstcp_src_uncharge(t, &k);
	nstcp_src_uncharge(t, &k);
	KUNIT_EXPECT_EQ(test, t->nsrc, 0U);
	/* An uncharge with no row (an uncounted one's) changes nothing. */
	nstcp_src_uncharge(t, &k);
	KUNIT_EXPECT_EQ(test, t->nsrc, 0U);

	/* Full: a new source goes through uncounted; known ones still count. */
	for (i = 0; i < NSTCP_SRC_MAX; i++) {
		nstcp_src_key_v4(htonl(0x0b000000 + i), &k);
		KUNIT_ASSERT_EQ(test, nstcp_src_charge(t, &k, 1), NSTCP_SRC_OK);
	}
	KUNIT_EXPECT_EQ(test, t->nsrc, (unsigned int)NSTCP_SRC_MAX);
	nstcp_src_key_v4(htonl(0x0c000001), &k2);
	KUNIT_EXPECT_EQ(test, nstcp_src_charge(t, &k2, 1), NSTCP_SRC_UNCOUNTED);
	KUNIT_EXPECT_EQ(test, nstcp_src_charge(t, &k2, 1), NSTCP_SRC_UNCOUNTED);
	nstcp_src_key_v4(htonl(0x0b000000), &k);
	KUNIT_EXPECT_EQ(test, nstcp_src_charge(t, &k, 1), NSTCP_SRC_OVER);
	/* A row freed: the new source is counted again. */
	nstcp_src_uncharge(t, &k);
	KUNIT_EXPECT_EQ(test, nstcp_src_charge(t, &k2, 1), NSTCP_SRC_OK);
	nstcp_srctab_free(t);
	KUNIT_EXPECT_EQ(test, t->nsrc, 0U);
}

static struct kunit_case limit_cases[] = {
	KUNIT_CASE(limit_src_key),
	KUNIT_CASE(limit_src_table),
	KUNIT_CASE(limit_cps_window),
	KUNIT_CASE(limit_cps_wrap),
	KUNIT_CASE(limit_max_conns),
	{}
};

static struct kunit_suite limit_suite = {
	.name = "nstcp_limit",
	.test_cases = limit_cases,
};

kunit_test_suite(limit_suite);
