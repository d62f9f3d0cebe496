// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit: AF_NSTCP per-CPU poll heads (pollwq.c): a wake reaches the
 * entries registered on its CPU alone, with the poll bits of a readable
 * listener, one exclusive waiter at a time.
 */
#include <kunit/test.h>
#include <linux/poll.h>
#include <linux/wait.h>

#include "../nstcp.h"

struct probe {
	struct wait_queue_entry	wait;
	int			woken;
	void			*key;
	int			ret;	/* what the wake function answers */
};

static int probe_wake(struct wait_queue_entry *wait, unsigned int mode,
		      int sync, void *key)
{
	struct probe *p = container_of(wait, struct probe, wait);

	p->woken++;
	p->key = key;
	return p->ret;
}

static void probe_add(struct nstcp_pollwq *pw, unsigned int cpu,
		      struct probe *p, bool exclusive)
{
	init_waitqueue_func_entry(&p->wait, probe_wake);
	p->ret = 1;
	if (exclusive)
		add_wait_queue_exclusive(&pw->head[cpu], &p->wait);
	else
		add_wait_queue(&pw->head[cpu], &p->wait);
}

static void pollwq_wakes_its_cpu_only(struct kunit *test)
{
	struct nstcp_pollwq *pw = nstcp_pollwq_alloc(4);
	struct probe a = {}, b = {};

	KUNIT_ASSERT_NOT_NULL(test, pw);
	KUNIT_EXPECT_EQ(test, pw->nr, 4U);
	KUNIT_EXPECT_FALSE(test, nstcp_pollwq_active(pw, 1));
	probe_add(pw, 1, &a, false);
	probe_add(pw, 3, &b, false);
	KUNIT_EXPECT_TRUE(test, nstcp_pollwq_active(pw, 1));
	KUNIT_EXPECT_FALSE(test, nstcp_pollwq_active(pw, 2));
	nstcp_pollwq_wake(pw, 1);
	KUNIT_EXPECT_EQ(test, a.woken, 1);
	KUNIT_EXPECT_EQ(test, b.woken, 0);
	KUNIT_EXPECT_PTR_EQ(test, a.key, poll_to_key(EPOLLIN | EPOLLRDNORM));
	nstcp_pollwq_wake(pw, 3);
	KUNIT_EXPECT_EQ(test, a.woken, 1);
	KUNIT_EXPECT_EQ(test, b.woken, 1);
	remove_wait_queue(&pw->head[1], &a.wait);
	remove_wait_queue(&pw->head[3], &b.wait);
	KUNIT_EXPECT_FALSE(test, nstcp_pollwq_active(pw, 1));
	nstcp_pollwq_free(pw);
}

static void pollwq_exclusive_one(struct kunit *test)
{
	struct nstcp_pollwq *pw = nstcp_pollwq_alloc(2);
	struct probe a = {}, b = {};

	KUNIT_ASSERT_NOT_NULL(test, pw);
	probe_add(pw, 0, &a, true);
	probe_add(pw, 0, &b, true);
	/* One exclusive waiter takes the wake-up. */
	nstcp_pollwq_wake(pw, 0);
	KUNIT_EXPECT_EQ(test, a.woken + b.woken, 1);
	/* One that was not waiting (epoll: not in epoll_wait) passes it on. */
	a.ret = 0;
	b.ret = 0;
	a.woken = 0;
	b.woken = 0;
	nstcp_pollwq_wake(pw, 0);
	KUNIT_EXPECT_EQ(test, a.woken, 1);
	KUNIT_EXPECT_EQ(test, b.woken, 1);
	remove_wait_queue(&pw->head[0], &a.wait);
	remove_wait_queue(&pw->head[0], &b.wait);
	nstcp_pollwq_free(pw);
}

static void pollwq_bounds(struct kunit *test)
{
	struct nstcp_pollwq *pw = nstcp_pollwq_alloc(2);

	KUNIT_ASSERT_NOT_NULL(test, pw);
	/* No heads, or a CPU beyond them: nobody polls there. */
	KUNIT_EXPECT_FALSE(test, nstcp_pollwq_active(NULL, 0));
	KUNIT_EXPECT_FALSE(test, nstcp_pollwq_active(pw, 2));
	KUNIT_EXPECT_FALSE(test, nstcp_pollwq_active(pw, UINT_MAX));
	nstcp_pollwq_free(pw);
	nstcp_pollwq_free(NULL);
}

static struct kunit_case pollwq_cases[] = {
	KUNIT_CASE(pollwq_wakes_its_cpu_only),
	KUNIT_CASE(pollwq_exclusive_one),
	KUNIT_CASE(pollwq_bounds),
	{}
};

static struct kunit_suite pollwq_suite = {
	.name = "nstcp_pollwq",
	.test_cases = pollwq_cases,
};

kunit_test_suite(pollwq_suite);
