// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit: AF_NSTCP per-CPU instances and their counters (instance.c,
 * stats.c).
 */
#include <kunit/test.h>
#include <linux/cpumask.h>
#include <linux/module.h>

#include "../nstcp.h"

static int instance_test_init(struct kunit *test)
{
	struct nstcp_net *nn = kunit_kzalloc(test, sizeof(*nn), GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, nn);
	KUNIT_ASSERT_EQ(test, 0, nstcp_instances_init(nn));
	test->priv = nn;
	return 0;
}

static void instance_test_exit(struct kunit *test)
{
	nstcp_instances_exit(test->priv);
}

static void instance_one_per_online_cpu(struct kunit *test)
{
	struct nstcp_net *nn = test->priv;
	int cpu;

	KUNIT_EXPECT_EQ(test, nstcp_instances_online(nn), num_online_cpus());
	for_each_possible_cpu(cpu) {
		struct nstcp_instance *in = per_cpu_ptr(nn->inst, cpu);

		KUNIT_EXPECT_EQ(test, in->cpu, cpu);
		KUNIT_EXPECT_EQ(test, in->online, cpu_online(cpu));
	}
}

static void instance_offline_online(struct kunit *test)
{
	struct nstcp_net *nn = test->priv;
	unsigned int n = nstcp_instances_online(nn);

	nstcp_instance_set_online(nn, 0, false);
	KUNIT_EXPECT_EQ(test, nstcp_instances_online(nn), n - 1);
	nstcp_instance_set_online(nn, 0, false);
	KUNIT_EXPECT_EQ(test, nstcp_instances_online(nn), n - 1);
	nstcp_instance_set_online(nn, 0, true);
	KUNIT_EXPECT_EQ(test, nstcp_instances_online(nn), n);
}

static void instance_counters_per_cpu(struct kunit *test)
{
	struct nstcp_net *nn = test->priv;
	int cpu, last = -1, i;

	for_each_possible_cpu(cpu) {
		KUNIT_EXPECT_EQ(test, 0UL, nstcp_stat_read(nn, cpu, NSTCP_STAT_HOPS));
		last = cpu;
	}
	for (i = 0; i < 3; i++)
		nstcp_stat_inc_cpu(nn, last, NSTCP_STAT_HOPS);
	nstcp_stat_inc_cpu(nn, 0, NSTCP_STAT_HOPS);
	nstcp_stat_inc_cpu(nn, 0, NSTCP_STAT_ACCEPTS);

	KUNIT_EXPECT_EQ(test, nstcp_stat_read(nn, last, NSTCP_STAT_HOPS),
			last == 0 ? 4UL : 3UL);
	KUNIT_EXPECT_EQ(test, nstcp_stat_sum(nn, NSTCP_STAT_HOPS), 4UL);
	KUNIT_EXPECT_EQ(test, nstcp_stat_sum(nn, NSTCP_STAT_ACCEPTS), 1UL);
	KUNIT_EXPECT_EQ(test, nstcp_stat_sum(nn, NSTCP_STAT_CALLS), 0UL);
}

static void instance_local_inc(struct kunit *test)
{
	struct nstcp_net *nn = test->priv;
	int cpu;

	cpu = get_cpu();
	nstcp_stat_inc(nn, NSTCP_STAT_CONNECTS);
	KUNIT_EXPECT_EQ(test, nstcp_stat_read(nn, cpu, NSTCP_STAT_CONNECTS), 1UL);
	put_cpu();
	KUNIT_EXPECT_EQ(test, nstcp_stat_sum(nn, NSTCP_STAT_CONNECTS), 1UL);
}

static struct kunit_case instance_cases[] = {
	KUNIT_CASE(instance_one_per_online_cpu),
	KUNIT_CASE(instance_offline_online),
	KUNIT_CASE(instance_counters_per_cpu),
	KUNIT_CASE(instance_local_inc),
	{}
};

static struct kunit_suite instance_suite = {
	.name = "nstcp_instance",
	.init = instance_test_init,
	.exit = instance_test_exit,
	.test_cases = instance_cases,
};

kunit_test_suite(instance_suite);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("KUnit tests for AF_NSTCP");
MODULE_IMPORT_NS(EXPORTED_FOR_KUNIT_TESTING);
