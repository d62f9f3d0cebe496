// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit: AF_NSTCP listen groups (lgroup.c, listen.c, turn.c) through
 * in-kernel sockets: a port shared by a key, its members in join order
 * and owner, the turn and credits of the round-robin policy, a leaving
 * member's credits handed on, and the port free again after the last
 * member.
 */
#include <kunit/test.h>
#include <linux/in.h>
#include <linux/net.h>
#include <net/net_namespace.h>
#include <net/sock.h>

#include "../nstcp.h"

static int lg_setopt(struct socket *s, int name, void *val, unsigned int len)
{
	return s->ops->setsockopt(s, SOL_NSTCP, name, KERNEL_SOCKPTR(val), len);
}

static struct socket *lg_member(struct kunit *test, const char *key, int port,
				int policy)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
				   .sin_port = htons(port),
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct socket *s = NULL;

	KUNIT_ASSERT_EQ(test, 0, sock_create_kern(&init_net, nstcp_family,
						  SOCK_STREAM, 0, &s));
	if (key)
		KUNIT_ASSERT_EQ(test, 0, lg_setopt(s, NSTCP_SHARE_KEY, (void *)key,
						   strlen(key)));
	if (policy)
		KUNIT_ASSERT_EQ(test, 0, lg_setopt(s, NSTCP_POLICY, &policy,
						   sizeof(policy)));
	KUNIT_ASSERT_EQ(test, 0, kernel_bind(s, (struct sockaddr *)&sin,
					     sizeof(sin)));
	KUNIT_ASSERT_EQ(test, 0, kernel_listen(s, 8));
	return s;
}

static int lg_port(struct socket *s)
{
	struct sockaddr_storage a;

	if (kernel_getsockname(s, (struct sockaddr *)&a) < 0)
		return -1;
	return ntohs(((struct sockaddr_in *)&a)->sin_port);
}

static void lgroup_shared_members(struct kunit *test)
{
	struct socket *a = lg_member(test, "kt1", 0, 0);
	struct socket *b = lg_member(test, "kt1", lg_port(a), 0);
	struct nstcp_member *ma = nstcp_member(a->sk), *mb = nstcp_member(b->sk);
	struct nstcp_lgroup *g;

	KUNIT_ASSERT_NOT_NULL(test, ma);
	KUNIT_ASSERT_NOT_NULL(test, mb);
	g = ma->group;
	KUNIT_EXPECT_PTR_EQ(test, mb->group, g);
	KUNIT_EXPECT_EQ(test, g->nmembers, 2U);
	KUNIT_EXPECT_PTR_EQ(test, g->marr[0], ma);
	KUNIT_EXPECT_PTR_EQ(test, g->marr[1], mb);
	KUNIT_EXPECT_EQ(test, g->keylen, 3);
	KUNIT_EXPECT_TRUE(test, uid_eq(g->owner, sock_i_uid(a->sk)));
	KUNIT_EXPECT_EQ(test, g->nr, nr_cpu_ids);
	/* Members read as listeners; the listeners hold the port. */
	KUNIT_EXPECT_EQ(test, a->sk->sk_state, TCP_LISTEN);
	KUNIT_EXPECT_EQ(test, lg_port(b), lg_port(a));
	sock_release(b);
	sock_release(a);
}

static void lgroup_roundrobin_credits(struct kunit *test)
{
	struct socket *a = lg_member(test, "kt2", 0, NSTCP_POLICY_ROUNDROBIN);
	struct socket *b = lg_member(test, "kt2", lg_port(a), 0);
	struct nstcp_member *ma = nstcp_member(a->sk), *mb = nstcp_member(b->sk);
	struct nstcp_lgroup *g = ma->group;
	struct nstcp_member *got[4];
	long unassigned;
	int i;

	KUNIT_EXPECT_EQ(test, READ_ONCE(g->policy), NSTCP_POLICY_ROUNDROBIN);
	spin_lock_bh(&g->lock);
	/* Looking at the turn does not move it; giving does. */
	KUNIT_EXPECT_PTR_EQ(test, nstcp_turn(g, false), nstcp_turn(g, false));
	for (i = 0; i < 4; i++)
		got[i] = nstcp_give(g);
	/* Nothing is queued: what was given is owed, not yet there. */
	unassigned = nstcp_unassigned(g);
	spin_unlock_bh(&g->lock);
	KUNIT_EXPECT_PTR_EQ(test, got[0], got[2]);
	KUNIT_EXPECT_PTR_EQ(test, got[1], got[3]);
	KUNIT_EXPECT_PTR_NE(test, got[0], got[1]);
	KUNIT_EXPECT_EQ(test, atomic_read(&ma->credits), 2);
	KUNIT_EXPECT_EQ(test, atomic_read(&mb->credits), 2);
	KUNIT_EXPECT_EQ(test, unassigned, -4L);

	/* A member that stops listening hands its credits to the other. */
	KUNIT_EXPECT_EQ(test, 0, kernel_sock_shutdown(a, SHUT_RD));
	KUNIT_EXPECT_NULL(test, nstcp_member(a->sk));
	KUNIT_EXPECT_EQ(test, atomic_read(&mb->credits), 4);
	KUNIT_EXPECT_EQ(test, atomic_long_read(&g->migrated), 2L);
	KUNIT_EXPECT_EQ(test, g->nmembers, 1U);
	KUNIT_EXPECT_PTR_EQ(test, g->marr[0], mb);
	sock_release(a);
	sock_release(b);
}

static void lgroup_port_free_after_last(struct kunit *test)
{
	struct socket *a = lg_member(test, NULL, 0, 0);
	int port = lg_port(a);
	struct socket *b;

	KUNIT_ASSERT_GT(test, port, 0);
	sock_release(a);
	/* Closed under the caller: a keyless listener gets the port at once. */
	b = lg_member(test, NULL, port, 0);
	KUNIT_EXPECT_EQ(test, lg_port(b), port);
	KUNIT_EXPECT_EQ(test, nstcp_member(b->sk)->group->nmembers, 1U);
	sock_release(b);
}

static struct kunit_case lgroup_cases[] = {
	KUNIT_CASE(lgroup_shared_members),
	KUNIT_CASE(lgroup_roundrobin_credits),
	KUNIT_CASE(lgroup_port_free_after_last),
	{}
};

static struct kunit_suite lgroup_suite = {
	.name = "nstcp_lgroup",
	.test_cases = lgroup_cases,
};

kunit_test_suite(lgroup_suite);
