// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit: the AF_NSTCP hand-off token table (token.c): one-time claims,
 * a take-fd's claim of a token with a file, unknown tokens, uniqueness,
 * the limit, expiry driven directly, named takers, a namespace's exit
 * with tokens pending, and a token put back after a failed take (same
 * number, what was left of its time; taken or expired at once, a full
 * table).
 */
#include <kunit/test.h>
#include <linux/cred.h>
#include <linux/pid.h>
#include <linux/sched.h>
#include <linux/sort.h>

#include "../nstcp.h"

static int handoff_test_init(struct kunit *test)
{
	struct nstcp_net *nn = kunit_kzalloc(test, sizeof(*nn), GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, nn);
	KUNIT_ASSERT_EQ(test, 0, nstcp_instances_init(nn));
	nstcp_tokens_init(nn);
	test->priv = nn;
	return 0;
}

static void handoff_test_exit(struct kunit *test)
{
	struct nstcp_net *nn = test->priv;

	nstcp_tokens_exit(nn);
	nstcp_instances_exit(nn);
}

/* A token for the calling thread group, in the table. */
static struct nstcp_token *handoff_token(struct kunit *test, bool mine)
{
	struct nstcp_token *t = nstcp_token_alloc();

	KUNIT_ASSERT_NOT_NULL(test, t);
	if (mine)
		t->taker = get_pid(task_tgid(current));
	else
		t->uid = current_euid();
	KUNIT_ASSERT_EQ(test, 0, nstcp_token_insert(test->priv, t));
	KUNIT_EXPECT_NE(test, t->id, 0ULL);
	return t;
}

static void handoff_claim_once(struct kunit *test)
{
	struct nstcp_net *nn = test->priv;
	struct nstcp_token *t = handoff_token(test, true);
	u64 id = t->id;

	KUNIT_EXPECT_EQ(test, nn->ntokens, 1U);
	KUNIT_EXPECT_PTR_EQ(test, nstcp_token_claim(nn, id), t);
	KUNIT_EXPECT_EQ(test, nn->ntokens, 0U);
	KUNIT_EXPECT_EQ(test, PTR_ERR(nstcp_token_claim(nn, id)), -ENOENT);
	nstcp_token_put(t);
	KUNIT_EXPECT_EQ(test, PTR_ERR(nstcp_token_claim(nn, id)), -ENOENT);
}

static void handoff_unknown(struct kunit *test)
{
	struct nstcp_net *nn = test->priv;
	struct nstcp_token *t = handoff_token(test, true);

	KUNIT_EXPECT_EQ(test, PTR_ERR(nstcp_token_claim(nn, 0)), -ENOENT);
	KUNIT_EXPECT_EQ(test, PTR_ERR(nstcp_token_claim(nn, t->id ^ 1)),
			-ENOENT);
	KUNIT_EXPECT_EQ(test, PTR_ERR(nstcp_token_claim(nn, t->id + 1)),
			-ENOENT);
	KUNIT_EXPECT_EQ(test, nn->ntokens, 1U);
	KUNIT_EXPECT_PTR_EQ(test, nstcp_token_claim(nn, t->id), t);
	nstcp_token_put(t);
}

/*
 * A take-fd's single look: a token without a file is left for the take to
 * prepare for (NULL), one with a file claimed at once, and only by its
 * taker.  The file is a stand-in: the table never touches it.
 */
static void handoff_claim_file(struct kunit *test)
{
	struct nstcp_net *nn = test->priv;
	struct nstcp_token *t = handoff_token(test, true);
	struct nstcp_token *u = handoff_token(test, false);
	kuid_t other = KUIDT_INIT(__kuid_val(current_euid()) + 1);

	KUNIT_EXPECT_NULL(test, nstcp_token_claim_file(nn, t->id));
	KUNIT_EXPECT_EQ(test, nn->ntokens, 2U);
	KUNIT_EXPECT_EQ(test, PTR_ERR(nstcp_token_claim_file(nn, 0)), -ENOENT);
	KUNIT_EXPECT_EQ(test, PTR_ERR(nstcp_token_claim_file(nn, t->id ^ 1)),
			-ENOENT);
	t->file = (struct file *)t;
	u->file = (struct file *)u;
	u->uid = other;
	KUNIT_EXPECT_EQ(test, PTR_ERR(nstcp_token_claim_file(nn, u->id)),
			-EPERM);
	KUNIT_EXPECT_EQ(test, nn->ntokens, 2U);
	KUNIT_EXPECT_PTR_EQ(test, nstcp_token_claim_file(nn, t->id), t);
	KUNIT_EXPECT_EQ(test, nn->ntokens, 1U);
	KUNIT_EXPECT_EQ(test, PTR_ERR(nstcp_token_claim_file(nn, t->id)),
			-ENOENT);
	t->file = NULL;
	nstcp_token_put(t);
	u->uid = current_euid();
	KUNIT_EXPECT_PTR_EQ(test, nstcp_token_claim_file(nn, u->id), u);
	u->file = NULL;
	nstcp_token_put(u);
}

static int handoff_cmp(const void *a, const void *b)
{
	u64 x = *(const u64 *)a, y = *(const u64 *)b;

	return x < y ? -1 : x > y;
}

/* Every token of a full table differs from the others; one more is refused. */
static void handoff_unique_and_limit(struct kunit *test)
{
	struct nstcp_net *nn = test->priv;
	struct nstcp_token **t, *extra;
	u64 *ids;
	int i, dup = 0;

	t = kunit_kcalloc(test, NSTCP_TOKENS_MAX, sizeof(*t), GFP_KERNEL);
	ids = kunit_kcalloc(test, NSTCP_TOKENS_MAX, sizeof(*ids), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, t);
	KUNIT_ASSERT_NOT_NULL(test, ids);
	for (i = 0; i < NSTCP_TOKENS_MAX; i++) {
		t[i] = handoff_token(test, false);
		ids[i] = t[i]->id;
	}
	extra = nstcp_token_alloc();
	KUNIT_ASSERT_NOT_NULL(test, extra);
	KUNIT_EXPECT_EQ(test, nstcp_token_insert(nn, extra), -ENOBUFS);
	nstcp_token_put(extra);

	sort(ids, NSTCP_TOKENS_MAX, sizeof(*ids), handoff_cmp, NULL);
	for (i = 1; i < NSTCP_TOKENS_MAX; i++)
		dup += ids[i] == ids[i - 1];
	KUNIT_EXPECT_EQ(test, dup, 0);
	KUNIT_EXPECT_NE(test, ids[0], 0ULL);
	for (i = 0; i < NSTCP_TOKENS_MAX; i++) {
		KUNIT_EXPECT_PTR_EQ(test, nstcp_token_claim(nn, t[i]->id), t[i]);
		nstcp_token_put(t[i]);
	}
	KUNIT_EXPECT_EQ(test, nn->ntokens, 0U);
}

static void handoff_expiry(struct kunit *test)
{
	struct nstcp_net *nn = test->priv;
	struct nstcp_token *t = handoff_token(test, true);
	u64 id = t->id;

	refcount_inc(&t->ref);	/* look at it after the table lets go */
	nstcp_token_expire_now(t);
	KUNIT_EXPECT_EQ(test, nstcp_stat_sum(nn, NSTCP_STAT_EXPIRED), 1UL);
	KUNIT_EXPECT_EQ(test, nn->ntokens, 0U);
	KUNIT_EXPECT_EQ(test, PTR_ERR(nstcp_token_claim(nn, id)), -ENOENT);
	/* A second expiry, or one after a take, does nothing. */
	nstcp_token_expire_now(t);
	KUNIT_EXPECT_EQ(test, nstcp_stat_sum(nn, NSTCP_STAT_EXPIRED), 1UL);
	KUNIT_EXPECT_EQ(test, refcount_read(&t->ref), 1U);
	nstcp_token_put(t);

	t = handoff_token(test, true);
	KUNIT_EXPECT_PTR_EQ(test, nstcp_token_claim(nn, t->id), t);
	refcount_inc(&t->ref);
	nstcp_token_expire_now(t);	/* lost to the take */
	KUNIT_EXPECT_EQ(test, nstcp_stat_sum(nn, NSTCP_STAT_EXPIRED), 1UL);
	nstcp_token_put(t);
	nstcp_token_put(t);
}

static void handoff_republish(struct kunit *test)
{
	struct nstcp_net *nn = test->priv;
	struct nstcp_token *t = handoff_token(test, true);
	u64 id = t->id;

	t->since = jiffies;
	t->timeout = 60 * HZ;
	KUNIT_ASSERT_PTR_EQ(test, nstcp_token_claim(nn, id), t);
	KUNIT_EXPECT_EQ(test, nn->ntokens, 0U);
	nstcp_token_republish(nn, t);	/* the claim's reference back */
	KUNIT_EXPECT_EQ(test, nn->ntokens, 1U);
	KUNIT_EXPECT_TRUE(test, delayed_work_pending(&t->expire));
	KUNIT_EXPECT_EQ(test, refcount_read(&t->ref), 2U);
	/* The same number takes it again; the claim cancels its expiry. */
	KUNIT_ASSERT_PTR_EQ(test, nstcp_token_claim(nn, id), t);
	KUNIT_EXPECT_FALSE(test, delayed_work_pending(&t->expire));
	KUNIT_EXPECT_EQ(test, refcount_read(&t->ref), 1U);

	/* Its time ran out meanwhile: it expires at once. */
	t->since = jiffies - 2 * HZ;
	t->timeout = HZ;
	refcount_inc(&t->ref);	/* look at it after */
	nstcp_token_republish(nn, t);
	flush_delayed_work(&t->expire);
	KUNIT_EXPECT_EQ(test, nn->ntokens, 0U);
	KUNIT_EXPECT_EQ(test, nstcp_stat_sum(nn, NSTCP_STAT_EXPIRED), 1UL);
	KUNIT_EXPECT_EQ(test, PTR_ERR(nstcp_token_claim(nn, id)), -ENOENT);
	KUNIT_EXPECT_EQ(test, refcount_read(&t->ref), 1U);
	nstcp_token_put(t);
}

/*
 * A put-back token is taken by another taker in the window between its
 * return to the table and the queueing of its expiry (emulated: the
 * queued expiry cancelled, its reference left as the window has it).
 * The taker drops the table's reference; the expiry's, taken before the
 * token went back, keeps it.  And an expiry that was already running
 * when the failed take claimed it (its cancel lost): it removes the
 * put-back token, and the requeued expiry still holds its own reference.
 */
static void handoff_republish_raced(struct kunit *test)
{
	struct nstcp_net *nn = test->priv;
	struct nstcp_token *t = handoff_token(test, false);
	u64 id = t->id;

	t->since = jiffies;
	t->timeout = 60 * HZ;
	refcount_inc(&t->ref);	/* look at it after */
	KUNIT_ASSERT_PTR_EQ(test, nstcp_token_claim(nn, id), t);
	nstcp_token_republish(nn, t);
	KUNIT_EXPECT_EQ(test, refcount_read(&t->ref), 3U);
	KUNIT_EXPECT_TRUE(test, cancel_delayed_work(&t->expire));
	/* Another taker: claims (no expiry to cancel), finishes. */
	KUNIT_ASSERT_PTR_EQ(test, nstcp_token_claim(nn, id), t);
	nstcp_token_put(t);
	KUNIT_EXPECT_EQ(test, refcount_read(&t->ref), 2U);
	KUNIT_EXPECT_EQ(test, nn->ntokens, 0U);
	nstcp_token_put(t);	/* what the expiry would drop */
	KUNIT_EXPECT_EQ(test, refcount_read(&t->ref), 1U);
	nstcp_token_put(t);

	/* Running expiry: its reference, kept since its cancel lost. */
	t = handoff_token(test, false);
	id = t->id;
	t->since = jiffies;
	t->timeout = 60 * HZ;
	refcount_inc(&t->ref);	/* look at it after */
	KUNIT_ASSERT_PTR_EQ(test, nstcp_token_claim(nn, id), t);
	refcount_inc(&t->ref);	/* the running expiry's */
	nstcp_token_republish(nn, t);
	KUNIT_EXPECT_EQ(test, refcount_read(&t->ref), 4U);
	nstcp_token_expire_now(t);	/* the running expiry goes on */
	nstcp_token_put(t);		/* and ends */
	KUNIT_EXPECT_EQ(test, nn->ntokens, 0U);
	KUNIT_EXPECT_EQ(test, nstcp_stat_sum(nn, NSTCP_STAT_EXPIRED), 1UL);
	KUNIT_EXPECT_EQ(test, refcount_read(&t->ref), 2U);
	flush_delayed_work(&t->expire);	/* the requeued one */
	KUNIT_EXPECT_EQ(test, nstcp_stat_sum(nn, NSTCP_STAT_EXPIRED), 1UL);
	KUNIT_EXPECT_EQ(test, refcount_read(&t->ref), 1U);
	nstcp_token_put(t);
}

/* A token cannot go back into a table filled meanwhile: it expires. */
static void handoff_republish_full(struct kunit *test)
{
	struct nstcp_net *nn = test->priv;
	struct nstcp_token *t, *fill;
	int i;

	t = handoff_token(test, false);
	for (i = 1; i < NSTCP_TOKENS_MAX; i++)
		handoff_token(test, false);
	refcount_inc(&t->ref);	/* look at it after */
	KUNIT_ASSERT_PTR_EQ(test, nstcp_token_claim(nn, t->id), t);
	fill = handoff_token(test, false);	/* the freed place */
	KUNIT_EXPECT_EQ(test, nn->ntokens, (unsigned int)NSTCP_TOKENS_MAX);
	nstcp_token_republish(nn, t);
	KUNIT_EXPECT_EQ(test, nn->ntokens, (unsigned int)NSTCP_TOKENS_MAX);
	KUNIT_EXPECT_EQ(test, nstcp_stat_sum(nn, NSTCP_STAT_EXPIRED), 1UL);
	KUNIT_EXPECT_FALSE(test, delayed_work_pending(&t->expire));
	KUNIT_EXPECT_EQ(test, refcount_read(&t->ref), 1U);
	KUNIT_EXPECT_EQ(test, PTR_ERR(nstcp_token_claim(nn, t->id)), -ENOENT);
	KUNIT_EXPECT_PTR_EQ(test, nstcp_token_claim(nn, fill->id), fill);
	nstcp_token_put(fill);
	nstcp_token_put(t);
}

static void handoff_named_taker(struct kunit *test)
{
	struct nstcp_net *nn = test->priv;
	struct nstcp_token *t = nstcp_token_alloc(), *got;
	struct pid *other;

	KUNIT_ASSERT_NOT_NULL(test, t);
	/* kthreadd (pid 2 in the initial namespace) is never the caller. */
	other = find_get_pid(2);
	KUNIT_ASSERT_NOT_NULL(test, other);
	KUNIT_ASSERT_TRUE(test, other != task_tgid(current));
	t->taker = other;
	KUNIT_EXPECT_FALSE(test, nstcp_token_may_take(t));
	KUNIT_ASSERT_EQ(test, 0, nstcp_token_insert(nn, t));
	KUNIT_EXPECT_EQ(test, PTR_ERR(nstcp_token_claim(nn, t->id)), -EPERM);
	KUNIT_EXPECT_EQ(test, PTR_ERR(nstcp_token_claim(nn, t->id)), -EPERM);
	KUNIT_EXPECT_EQ(test, nstcp_stat_sum(nn, NSTCP_STAT_REFUSED), 2UL);
	KUNIT_EXPECT_EQ(test, nn->ntokens, 1U);	/* refusals leave it */

	t = handoff_token(test, true);
	KUNIT_EXPECT_TRUE(test, nstcp_token_may_take(t));
	got = nstcp_token_claim(nn, t->id);
	KUNIT_EXPECT_PTR_EQ(test, got, t);
	nstcp_token_put(t);

	/* By uid: the caller's euid, and not another. */
	t = handoff_token(test, false);
	KUNIT_EXPECT_TRUE(test, nstcp_token_may_take(t));
	t->uid = KUIDT_INIT(__kuid_val(current_euid()) + 4242);
	KUNIT_EXPECT_FALSE(test, nstcp_token_may_take(t));
	KUNIT_EXPECT_EQ(test, PTR_ERR(nstcp_token_claim(nn, t->id)), -EPERM);
	/* The namespace's exit takes the two refused tokens. */
}

static void handoff_netns_exit(struct kunit *test)
{
	struct nstcp_net *nn = test->priv;
	int i;

	for (i = 0; i < 3; i++)
		handoff_token(test, i & 1);
	KUNIT_EXPECT_EQ(test, nn->ntokens, 3U);
	nstcp_tokens_exit(nn);
	KUNIT_EXPECT_EQ(test, nn->ntokens, 0U);
	KUNIT_EXPECT_EQ(test, nstcp_stat_sum(nn, NSTCP_STAT_EXPIRED), 3UL);
}

static struct kunit_case handoff_cases[] = {
	KUNIT_CASE(handoff_claim_once),
	KUNIT_CASE(handoff_unknown),
	KUNIT_CASE(handoff_claim_file),
	KUNIT_CASE(handoff_unique_and_limit),
	KUNIT_CASE(handoff_expiry),
	KUNIT_CASE(handoff_named_taker),
	KUNIT_CASE(handoff_republish),
	KUNIT_CASE(handoff_republish_raced),
	KUNIT_CASE(handoff_republish_full),
	KUNIT_CASE(handoff_netns_exit),
	{}
};

static struct kunit_suite handoff_suite = {
	.name = "nstcp_handoff",
	.init = handoff_test_init,
	.exit = handoff_test_exit,
	.test_cases = handoff_cases,
};

kunit_test_suite(handoff_suite);
