/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What accept.c (accept(), poll()) and arrival.c (arrivals, wake-ups, the
 * steal timer) share about a port's per-CPU queues and their acceptors.
 */
#ifndef _NSTCP_ACCEPT_H
#define _NSTCP_ACCEPT_H

#include <linux/jiffies.h>
#include <linux/wait.h>

#include "nstcp.h"

/* A blocked accept(): woken by the arrivals of its CPU first. */
struct nstcp_waiter {
	struct wait_queue_entry	wait;
	int			cpu;
};

static inline unsigned long nstcp_steal_delay(const struct nstcp_lgroup *g)
{
	return msecs_to_jiffies(READ_ONCE(nstcp_pernet(g->net)->accept_steal_delay));
}

static inline bool nstcp_inst_online(const struct nstcp_lgroup *g, unsigned int cpu)
{
	return READ_ONCE(per_cpu_ptr(nstcp_pernet(g->net)->inst, cpu)->online);
}

/*
 * Whether @q's CPU has an acceptor: one asleep in accept() there, or one
 * that ran there within the steal delay.
 */
static inline bool nstcp_owner_active(const struct nstcp_lqueue *q,
				      unsigned long delay)
{
	return atomic_read(&q->waiting) ||
	       (READ_ONCE(q->owner) &&
		time_before(jiffies, READ_ONCE(q->seen) + delay));
}

/* @q's acceptor runs now (a cache line written only when it changes). */
static inline void nstcp_acceptor_seen(struct nstcp_lqueue *q)
{
	unsigned long now = jiffies;

	if (READ_ONCE(q->seen) != now)
		WRITE_ONCE(q->seen, now);
}

#endif /* _NSTCP_ACCEPT_H */
