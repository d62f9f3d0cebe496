// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit: AF_NSTCP listen policies (policy.c): which CPU instance's queue an
 * acceptor takes from, stealing, least-loaded choice, policy names.
 */
#include <kunit/test.h>
#include <linux/nstcp.h>

#include "../nstcp.h"

static unsigned int array_qlen(const void *ctx, unsigned int i)
{
	return ((const unsigned int *)ctx)[i];
}

static int pick(const unsigned int *q, unsigned int n, unsigned int cpu,
		bool steal)
{
	return nstcp_pick_queue(array_qlen, q, n, cpu, steal);
}

static void policy_local_first(struct kunit *test)
{
	unsigned int q[4] = { 5, 1, 9, 0 };

	KUNIT_EXPECT_EQ(test, pick(q, 4, 1, true), 1);
	KUNIT_EXPECT_EQ(test, pick(q, 4, 1, false), 1);
	KUNIT_EXPECT_EQ(test, pick(q, 4, 0, true), 0);
}

static void policy_steal_busiest(struct kunit *test)
{
	unsigned int q[4] = { 5, 1, 9, 0 };

	/* CPU 3 has nothing: the busiest other instance, CPU 2. */
	KUNIT_EXPECT_EQ(test, pick(q, 4, 3, true), 2);
	/* Without stealing it waits for a local one. */
	KUNIT_EXPECT_EQ(test, pick(q, 4, 3, false), -1);
}

static void policy_steal_tie_nearest(struct kunit *test)
{
	unsigned int q[6] = { 2, 0, 0, 0, 2, 0 };

	KUNIT_EXPECT_EQ(test, pick(q, 6, 5, true), 4);
	KUNIT_EXPECT_EQ(test, pick(q, 6, 1, true), 0);
}

static void policy_nothing_queued(struct kunit *test)
{
	unsigned int q[3] = { 0, 0, 0 };

	KUNIT_EXPECT_EQ(test, pick(q, 3, 0, true), -1);
	/* An acceptor on a CPU beyond the instances can still steal. */
	q[2] = 1;
	KUNIT_EXPECT_EQ(test, pick(q, 3, 7, true), 2);
	KUNIT_EXPECT_EQ(test, pick(q, 3, 7, false), -1);
}

static unsigned int array_load(const void *ctx, unsigned int i)
{
	return ((const unsigned int *)ctx)[i];
}

static int turn(const unsigned int *load, unsigned int n, unsigned int rr,
		bool least)
{
	return nstcp_pick_turn(array_load, load, n, rr, least);
}

static void policy_least(struct kunit *test)
{
	unsigned int load[4] = { 3, 1, 4, 1 };

	KUNIT_EXPECT_EQ(test, turn(load, 4, 0, true), 1);
	/* Ties rotate with the starting point. */
	KUNIT_EXPECT_EQ(test, turn(load, 4, 2, true), 3);
	KUNIT_EXPECT_EQ(test, turn(load, 4, 7, true), 3);
	KUNIT_EXPECT_EQ(test, turn(load, 1, 5, true), 0);
}

static void policy_least_spreads_evenly(struct kunit *test)
{
	unsigned int load[3] = { 0, 0, 0 }, i;

	/* Assigning by least load with rotation fills the listeners evenly. */
	for (i = 0; i < 30; i++)
		load[turn(load, 3, i, true)]++;
	KUNIT_EXPECT_EQ(test, load[0], 10U);
	KUNIT_EXPECT_EQ(test, load[1], 10U);
	KUNIT_EXPECT_EQ(test, load[2], 10U);
}

static void policy_least_many(struct kunit *test)
{
	unsigned int *load, i, n = 100;

	/* Any number of listeners: the least-loaded one is found past 32. */
	load = kunit_kcalloc(test, n, sizeof(*load), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, load);
	for (i = 0; i < n; i++)
		load[i] = 5;
	load[77] = 2;
	KUNIT_EXPECT_EQ(test, turn(load, n, 0, true), 77);
	KUNIT_EXPECT_EQ(test, turn(load, n, 90, true), 77);
	load[77] = UINT_MAX;
	KUNIT_EXPECT_EQ(test, turn(load, n, 76, true), 76);
	KUNIT_EXPECT_EQ(test, turn(load, n, 77, true), 78);
}

static void policy_roundrobin_skips_shut(struct kunit *test)
{
	unsigned int load[4] = { 0, UINT_MAX, 9, UINT_MAX }, i, got[4] = {};

	KUNIT_EXPECT_EQ(test, turn(load, 4, 0, false), 0);
	/* A shut listener's turn passes to the next open one. */
	KUNIT_EXPECT_EQ(test, turn(load, 4, 1, false), 2);
	KUNIT_EXPECT_EQ(test, turn(load, 4, 3, false), 0);
	/* Loads do not matter to round robin: turns alternate exactly. */
	for (i = 0; i < 20; i++)
		got[turn(load, 4, 2 * i, false)]++;
	KUNIT_EXPECT_EQ(test, got[0], 10U);
	KUNIT_EXPECT_EQ(test, got[2], 10U);
}

static void policy_turn_none_open(struct kunit *test)
{
	unsigned int load[2] = { UINT_MAX, UINT_MAX };

	KUNIT_EXPECT_EQ(test, turn(load, 2, 0, false), -1);
	KUNIT_EXPECT_EQ(test, turn(load, 2, 1, true), -1);
	KUNIT_EXPECT_EQ(test, turn(load, 0, 1, true), -1);
}

static void policy_names(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, nstcp_policy_parse("cpu"), NSTCP_POLICY_CPU);
	KUNIT_EXPECT_EQ(test, nstcp_policy_parse("roundrobin\n"),
			NSTCP_POLICY_ROUNDROBIN);
	KUNIT_EXPECT_EQ(test, nstcp_policy_parse("least"), NSTCP_POLICY_LEAST);
	KUNIT_EXPECT_EQ(test, nstcp_policy_parse("random"), -EINVAL);
	KUNIT_EXPECT_EQ(test, nstcp_policy_parse(""), -EINVAL);
	KUNIT_EXPECT_STREQ(test, nstcp_policy_name(NSTCP_POLICY_LEAST), "least");
	KUNIT_EXPECT_STREQ(test, nstcp_policy_name(0), "?");
}

static struct kunit_case policy_cases[] = {
	KUNIT_CASE(policy_local_first),
	KUNIT_CASE(policy_steal_busiest),
	KUNIT_CASE(policy_steal_tie_nearest),
	KUNIT_CASE(policy_nothing_queued),
	KUNIT_CASE(policy_least),
	KUNIT_CASE(policy_least_spreads_evenly),
	KUNIT_CASE(policy_least_many),
	KUNIT_CASE(policy_roundrobin_skips_shut),
	KUNIT_CASE(policy_turn_none_open),
	KUNIT_CASE(policy_names),
	{}
};

static struct kunit_suite policy_suite = {
	.name = "nstcp_policy",
	.test_cases = policy_cases,
};

kunit_test_suite(policy_suite);
