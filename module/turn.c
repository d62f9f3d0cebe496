// SPDX-License-Identifier: GPL-2.0
/*
 * AF_NSTCP listen groups' turns: a port's queued connections are given to
 * its members in the order of the port's policy (policy.c), as credits
 * that a member's accept() spends (accept.c).  The turn and the credits
 * change under group->lock.
 */
#include <linux/atomic.h>
#include <linux/smp.h>
#include <net/sock.h>
#include <kunit/visibility.h>

#include "nstcp.h"

/* Connections queued on a listener; its sock is type-stable under RCU. */
unsigned int nstcp_qlen(const struct nstcp_lqueue *q)
{
	unsigned int n = 0;
	struct sock *sk;

	rcu_read_lock();
	sk = READ_ONCE(q->sk);
	if (sk)
		n = READ_ONCE(sk->sk_ack_backlog);
	rcu_read_unlock();
	return n;
}

/* Queued connections no member holds a credit for (policy changes, races). */
long nstcp_unassigned(struct nstcp_lgroup *g)
{
	long n = 0;
	unsigned int i;

	lockdep_assert_held(&g->lock);
	for (i = 0; i < g->nr; i++)
		n += nstcp_qlen(&g->q[i]);
	for (i = 0; i < g->nmembers; i++)
		n -= atomic_read(&g->marr[i]->credits);
	return n;
}
EXPORT_SYMBOL_IF_KUNIT(nstcp_unassigned);

static unsigned int nstcp_member_load(const void *ctx, unsigned int i)
{
	struct nstcp_member *m = ((struct nstcp_member * const *)ctx)[i];

	/* A member that shut down takes nothing more. */
	if (READ_ONCE(m->dead))
		return UINT_MAX;
	return atomic_read(&m->credits) + atomic_read(&m->active);
}

/*
 * The member the port's policy gives the next connection to; @advance
 * moves the turn on.
 */
struct nstcp_member *nstcp_turn(struct nstcp_lgroup *g, bool advance)
{
	int i;

	lockdep_assert_held(&g->lock);
	i = nstcp_pick_turn(nstcp_member_load, g->marr, g->nmembers, g->rr,
			    READ_ONCE(g->policy) == NSTCP_POLICY_LEAST);
	if (advance)
		g->rr++;
	return i < 0 ? NULL : g->marr[i];
}
EXPORT_SYMBOL_IF_KUNIT(nstcp_turn);

/* Give one queued connection to the member whose turn it is. */
struct nstcp_member *nstcp_give(struct nstcp_lgroup *g)
{
	struct nstcp_member *m = nstcp_turn(g, true);

	if (m)
		atomic_inc(&m->credits);
	return m;
}
EXPORT_SYMBOL_IF_KUNIT(nstcp_give);

/* Hand @credits connections on to the other members (one left or shut). */
void nstcp_hand_on(struct nstcp_lgroup *g, int credits, bool count)
{
	struct nstcp_member *to;

	lockdep_assert_held(&g->lock);
	while (credits-- > 0) {
		to = nstcp_give(g);
		if (!to)
			break;
		if (count)
			atomic_long_inc(&g->migrated);
		nstcp_notify(to, raw_smp_processor_id(), true);
	}
}
