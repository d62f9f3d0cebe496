// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit: AF_NSTCP inboxes (inbox.c): the id table (unique, never 0, drawn
 * again on 0 or a collision, lookups by id only, gone once unhashed), slot
 * reservation (full, released, a closed inbox), queue order across the
 * ring's wrap, and the counts (given == accepted + dropped + queued), a
 * closed inbox's queue drained as dropped.  The queued "socks" are never
 * dereferenced.
 */
#include <kunit/test.h>
#include <linux/slab.h>

#include "../nstcp.h"
#include "../inbox.h"

static int inbox_test_init(struct kunit *test)
{
	struct nstcp_net *nn = kunit_kzalloc(test, sizeof(*nn), GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, nn);
	nstcp_inboxes_init(nn);
	test->priv = nn;
	return 0;
}

static void inbox_test_exit(struct kunit *test)
{
	nstcp_inboxes_exit(test->priv);
}

/* A fake connection: a distinct pointer, never used as a sock. */
static struct sock *inbox_fake(unsigned long i)
{
	return (struct sock *)(0x1000UL + 0x40UL * i);
}

static struct nstcp_inbox *inbox_new(struct kunit *test, unsigned int n)
{
	struct nstcp_inbox *ib = nstcp_inbox_alloc(n);

	KUNIT_ASSERT_NOT_NULL(test, ib);
	nstcp_inbox_insert(test->priv, ib);
	KUNIT_EXPECT_NE(test, ib->id, 0ULL);
	return ib;
}

static void inbox_gone(struct nstcp_inbox *ib)
{
	nstcp_inbox_unhash(ib);
	nstcp_inbox_stop(ib, true);
	while (nstcp_inbox_pop(ib, true))
		;
	nstcp_inbox_put(ib);
}

static void inbox_table(struct kunit *test)
{
	struct nstcp_net *nn = test->priv;
	struct nstcp_inbox *ib[8], *f;
	unsigned int i, j;

	for (i = 0; i < ARRAY_SIZE(ib); i++)
		ib[i] = inbox_new(test, 1);
	KUNIT_EXPECT_EQ(test, nn->ninboxes, 8U);
	for (i = 0; i < ARRAY_SIZE(ib); i++)
		for (j = 0; j < i; j++)
			KUNIT_EXPECT_NE(test, ib[i]->id, ib[j]->id);
	for (i = 0; i < ARRAY_SIZE(ib); i++) {
		f = nstcp_inbox_lookup(nn, ib[i]->id);
		KUNIT_EXPECT_PTR_EQ(test, f, ib[i]);
		if (f)
			nstcp_inbox_put(f);
	}
	KUNIT_EXPECT_NULL(test, nstcp_inbox_lookup(nn, 0));
	KUNIT_EXPECT_NULL(test, nstcp_inbox_lookup(nn, ib[0]->id ^ 1));
	nstcp_inbox_unhash(ib[0]);
	KUNIT_EXPECT_NULL(test, nstcp_inbox_lookup(nn, ib[0]->id));
	KUNIT_EXPECT_EQ(test, nn->ninboxes, 7U);
	for (i = 0; i < ARRAY_SIZE(ib); i++)
		inbox_gone(ib[i]);
	KUNIT_EXPECT_EQ(test, nn->ninboxes, 0U);
	KUNIT_EXPECT_NULL(test, nstcp_inbox_alloc(0));
	KUNIT_EXPECT_NULL(test, nstcp_inbox_alloc(NSTCP_INBOX_MAX + 1));
}

/* Ids in turn from a list: what get_random_u64() would rarely give. */
struct inbox_ids {
	const u64 *v;
	unsigned int n, calls;
};

static u64 inbox_next_id(void *arg)
{
	struct inbox_ids *ids = arg;

	return ids->v[min(ids->calls++, ids->n - 1)];
}

/* An id of 0 or one taken is drawn again, until a free one comes. */
static void inbox_id_collision(struct kunit *test)
{
	struct nstcp_net *nn = test->priv;
	struct nstcp_inbox *a = inbox_new(test, 1), *b, *f;
	u64 v[] = { 0, a->id, 0, a->id, a->id + 1 };
	struct inbox_ids ids = { .v = v, .n = ARRAY_SIZE(v) };

	if (!v[4])		/* a->id was ~0: its successor is 0 */
		v[4] = 1;
	b = nstcp_inbox_alloc(1);
	KUNIT_ASSERT_NOT_NULL(test, b);
	nstcp_inbox_insert_gen(nn, b, inbox_next_id, &ids);
	KUNIT_EXPECT_EQ(test, ids.calls, 5U);
	KUNIT_EXPECT_EQ(test, b->id, v[4]);
	KUNIT_EXPECT_NE(test, b->id, a->id);
	f = nstcp_inbox_lookup(nn, a->id);
	KUNIT_EXPECT_PTR_EQ(test, f, a);
	if (f)
		nstcp_inbox_put(f);
	KUNIT_EXPECT_EQ(test, nn->ninboxes, 2U);
	inbox_gone(a);
	inbox_gone(b);
}

static void inbox_reserve_full(struct kunit *test)
{
	struct nstcp_inbox *ib = inbox_new(test, 2);
	struct nstcp_inbox_resv r[3];

	KUNIT_EXPECT_EQ(test, nstcp_inbox_reserve(ib, &r[0]), 0);
	KUNIT_EXPECT_EQ(test, nstcp_inbox_reserve(ib, &r[1]), 0);
	KUNIT_EXPECT_EQ(test, nstcp_inbox_reserve(ib, &r[2]), -ENOBUFS);
	/* A failed accept gives its slot back. */
	nstcp_inbox_unreserve(ib, &r[0]);
	KUNIT_EXPECT_EQ(test, ib->reserved, 1U);
	KUNIT_EXPECT_EQ(test, nstcp_inbox_reserve(ib, &r[2]), 0);
	KUNIT_EXPECT_EQ(test, nstcp_inbox_push(ib, &r[1], inbox_fake(1)), 0);
	KUNIT_EXPECT_EQ(test, nstcp_inbox_push(ib, &r[2], inbox_fake(2)), 0);
	KUNIT_EXPECT_EQ(test, ib->queued, 2U);
	KUNIT_EXPECT_EQ(test, ib->reserved, 0U);
	/* Queued ones hold their slots until accepted. */
	KUNIT_EXPECT_EQ(test, nstcp_inbox_reserve(ib, &r[0]), -ENOBUFS);
	KUNIT_EXPECT_PTR_EQ(test, nstcp_inbox_pop(ib, false), inbox_fake(1));
	KUNIT_EXPECT_EQ(test, nstcp_inbox_reserve(ib, &r[0]), 0);
	nstcp_inbox_unreserve(ib, &r[0]);
	inbox_gone(ib);
}

static void inbox_order(struct kunit *test)
{
	struct nstcp_inbox *ib = inbox_new(test, 3);
	struct nstcp_inbox_resv r;
	unsigned long in = 0, out = 0;
	unsigned int round, k;

	/* 1, 2, then 3 at a time: the ring wraps at every offset. */
	for (round = 0; round < 12; round++) {
		for (k = 0; k <= round % 3; k++) {
			KUNIT_ASSERT_EQ(test, nstcp_inbox_reserve(ib, &r), 0);
			KUNIT_ASSERT_EQ(test,
					nstcp_inbox_push(ib, &r, inbox_fake(in)),
					0);
			in++;
		}
		while (out < in) {
			KUNIT_EXPECT_PTR_EQ(test, nstcp_inbox_pop(ib, false),
					    inbox_fake(out));
			out++;
		}
		KUNIT_EXPECT_NULL(test, nstcp_inbox_pop(ib, false));
	}
	KUNIT_EXPECT_EQ(test, atomic_long_read(&ib->given), (long)in);
	KUNIT_EXPECT_EQ(test, atomic_long_read(&ib->accepted), (long)in);
	inbox_gone(ib);
}

static void inbox_closed(struct kunit *test)
{
	struct nstcp_net *nn = test->priv;
	struct nstcp_inbox *ib = inbox_new(test, 4);
	struct nstcp_inbox_resv r[3];
	long given, acc, drop;

	KUNIT_EXPECT_EQ(test, nstcp_inbox_reserve(ib, &r[0]), 0);
	KUNIT_EXPECT_EQ(test, nstcp_inbox_push(ib, &r[0], inbox_fake(0)), 0);
	KUNIT_EXPECT_EQ(test, nstcp_inbox_reserve(ib, &r[0]), 0);
	KUNIT_EXPECT_EQ(test, nstcp_inbox_push(ib, &r[0], inbox_fake(1)), 0);
	KUNIT_EXPECT_EQ(test, nstcp_inbox_reserve(ib, &r[1]), 0);
	KUNIT_EXPECT_EQ(test, nstcp_inbox_reserve(ib, &r[2]), 0);
	KUNIT_EXPECT_PTR_EQ(test, nstcp_inbox_pop(ib, false), inbox_fake(0));
	nstcp_inbox_unhash(ib);
	nstcp_inbox_stop(ib, true);
	KUNIT_EXPECT_EQ(test, nstcp_inbox_reserve(ib, &r[0]), -ENOENT);
	/* One accepted meanwhile is refused, counted given and dropped. */
	KUNIT_EXPECT_EQ(test, nstcp_inbox_push(ib, &r[1], inbox_fake(2)),
			-ENOENT);
	nstcp_inbox_unreserve(ib, &r[2]);
	KUNIT_EXPECT_EQ(test, ib->reserved, 0U);
	KUNIT_EXPECT_PTR_EQ(test, nstcp_inbox_pop(ib, true), inbox_fake(1));
	KUNIT_EXPECT_NULL(test, nstcp_inbox_pop(ib, true));
	given = atomic_long_read(&nn->ib_given);
	acc = atomic_long_read(&nn->ib_accepted);
	drop = atomic_long_read(&nn->ib_dropped);
	KUNIT_EXPECT_EQ(test, given, 3L);
	KUNIT_EXPECT_EQ(test, acc, 1L);
	KUNIT_EXPECT_EQ(test, drop, 2L);
	KUNIT_EXPECT_EQ(test, given, acc + drop + (long)ib->queued);
	nstcp_inbox_put(ib);
}

static struct kunit_case inbox_cases[] = {
	KUNIT_CASE(inbox_table),
	KUNIT_CASE(inbox_id_collision),
	KUNIT_CASE(inbox_reserve_full),
	KUNIT_CASE(inbox_order),
	KUNIT_CASE(inbox_closed),
	{}
};

static struct kunit_suite inbox_suite = {
	.name = "nstcp_inbox",
	.init = inbox_test_init,
	.exit = inbox_test_exit,
	.test_cases = inbox_cases,
};

kunit_test_suite(inbox_suite);
