// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit: AF_NSTCP port limits (limit.c): the accepts-per-second window,
 * the maximum of connections in service and its charge.
 */
#include <kunit/test.h>
#include <linux/jiffies.h>
#include <linux/nstcp.h>

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
	bool charged;

	KUNIT_ASSERT_NOT_NULL(test, lim);
	/* No limit, not least: nothing counted. */
	KUNIT_EXPECT_TRUE(test, nstcp_limits_admit(lim, false, &charged));
	KUNIT_EXPECT_FALSE(test, charged);
	KUNIT_EXPECT_EQ(test, atomic_read(&lim->conns), 0);
	/* The least policy counts without limiting. */
	KUNIT_EXPECT_TRUE(test, nstcp_limits_admit(lim, true, &charged));
	KUNIT_EXPECT_TRUE(test, charged);
	nstcp_limits_uncharge(lim);

	WRITE_ONCE(lim->max_conns, 2);
	KUNIT_EXPECT_TRUE(test, nstcp_limits_admit(lim, false, &charged));
	KUNIT_EXPECT_TRUE(test, charged);
	KUNIT_EXPECT_TRUE(test, nstcp_limits_admit(lim, false, &charged));
	KUNIT_EXPECT_FALSE(test, nstcp_limits_admit(lim, false, &charged));
	KUNIT_EXPECT_FALSE(test, charged);
	KUNIT_EXPECT_EQ(test, atomic_read(&lim->conns), 2);
	KUNIT_EXPECT_EQ(test, atomic_long_read(&lim->refused), 1L);
	nstcp_limits_uncharge(lim);
	KUNIT_EXPECT_TRUE(test, nstcp_limits_admit(lim, false, &charged));

	/* cps refusing undoes the charge. */
	WRITE_ONCE(lim->max_conns, 5);
	WRITE_ONCE(lim->cps, 1);
	lim->win.start = jiffies;
	lim->win.count = 1;
	KUNIT_EXPECT_FALSE(test, nstcp_limits_admit(lim, false, &charged));
	KUNIT_EXPECT_EQ(test, atomic_read(&lim->conns), 2);
	KUNIT_EXPECT_EQ(test, atomic_long_read(&lim->refused), 2L);
	nstcp_limits_put(lim);
}

static struct kunit_case limit_cases[] = {
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
