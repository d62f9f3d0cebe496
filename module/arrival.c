// SPDX-License-Identifier: GPL-2.0
/*
 * AF_NSTCP per-CPU listening: a connection's arrival on a CPU's listener,
 * who is woken for it, and the steal timer that opens the queue to the
 * other CPUs' acceptors when its own has not come within the delay
 * (accept.c takes connections; the rules are in its opening comment).
 */
#include <linux/poll.h>
#include <linux/timer.h>
#include <linux/wait.h>
#include <net/sock.h>
#include <net/tcp.h>

#include "accept.h"

/*
 * Wake one blocked accept() of @m: the one on @cpu, or with @any the
 * nearest.  Returns whether one was woken.
 */
static bool nstcp_wake_acceptor(struct nstcp_member *m, int cpu, bool any)
{
	struct wait_queue_head *wq = &m->acceptq;
	struct wait_queue_entry *e, *best = NULL;
	int bestd = INT_MAX;
	unsigned long flags;
	bool woke = false;

	spin_lock_irqsave(&wq->lock, flags);
	list_for_each_entry(e, &wq->head, entry) {
		struct nstcp_waiter *w = container_of(e, struct nstcp_waiter, wait);
		int d = abs(w->cpu - cpu);

		if (d < bestd) {
			best = e;
			bestd = d;
		}
	}
	if (best && (any || !bestd))
		woke = best->func(best, TASK_INTERRUPTIBLE, 0, NULL) > 0;
	/* It was awake already (a signal, a timeout): another, then. */
	if (best && any && !woke)
		list_for_each_entry(e, &wq->head, entry)
			if (e != best && e->func(e, TASK_INTERRUPTIBLE, 0, NULL) > 0) {
				woke = true;
				break;
			}
	spin_unlock_irqrestore(&wq->lock, flags);
	return woke;
}

/* Tell poll()/epoll() on the listening socket, then a blocked accept(). */
void nstcp_notify(struct nstcp_member *m, int cpu, bool any)
{
	m->sk->sk_data_ready(m->sk);
	nstcp_wake_acceptor(m, cpu, any);
}

static void nstcp_poll_wake(struct nstcp_lgroup *g)
{
	struct nstcp_member *m;

	list_for_each_entry_rcu(m, &g->members, node)
		m->sk->sk_data_ready(m->sk);
}

/*
 * @cpu's queue is anybody's: wake the nearest sleeping acceptor, or else
 * the pollers (a woken acceptor comes back for the rest).
 */
void nstcp_wake_all(struct nstcp_lgroup *g, int cpu)
{
	struct nstcp_member *m;

	rcu_read_lock();
	list_for_each_entry_rcu(m, &g->members, node)
		if (nstcp_wake_acceptor(m, cpu, true))
			goto out;
	nstcp_poll_wake(g);
out:
	rcu_read_unlock();
}

/* A connection was queued on the listener of @cpu.  Under RCU. */
static void nstcp_arrival(struct nstcp_lgroup *g, unsigned int cpu)
{
	struct nstcp_net *nn = nstcp_pernet(g->net);
	struct nstcp_lqueue *q = &g->q[cpu];
	unsigned long delay = nstcp_steal_delay(g);
	struct nstcp_member *m;
	bool polled;

	/*
	 * Softirq, or process context with BHs on when the listener's
	 * backlog is run by release_sock(): hence the _bh locking.
	 */
	if (READ_ONCE(g->policy) != NSTCP_POLICY_CPU) {
		spin_lock_bh(&g->lock);
		m = g->prepaid ? NULL : nstcp_give(g);
		if (g->prepaid)
			g->prepaid--;
		spin_unlock_bh(&g->lock);
		if (m)
			nstcp_notify(m, cpu, true);
		return;
	}
	if (nstcp_qlen(q) <= 1)
		WRITE_ONCE(q->steal_at, jiffies + delay);
	polled = nstcp_poll_cpu_active(g, cpu);
	/*
	 * Anybody's at once: an offline CPU's, with no delay, with nobody
	 * to claim it on @cpu, or behind one already past its delay (the
	 * timer would tell everybody at the next tick).
	 */
	if (!nstcp_inst_online(g, cpu) ||
	    (READ_ONCE(nn->accept_steal) &&
	     (!delay || (!polled && !nstcp_owner_active(q, delay)) ||
	      !time_before(jiffies, READ_ONCE(q->steal_at))))) {
		nstcp_wake_all(g, cpu);
		return;
	}
	/*
	 * The acceptor asleep on the receive CPU, or the one running there,
	 * or a poller registered there (an epoll worker pinned on it, asleep
	 * or busy) has the first claim; if it has not come for the
	 * connection when the delay is out, the timer hands it to the others.
	 */
	list_for_each_entry_rcu(m, &g->members, node)
		if (nstcp_wake_acceptor(m, cpu, false))
			break;
	if (READ_ONCE(nn->accept_steal))
		timer_reduce(&q->steal_timer, READ_ONCE(q->steal_at));
	/*
	 * Only this CPU's pollers: the socket's queue would wake its first
	 * exclusive (EPOLLEXCLUSIVE) waiter, most likely a worker elsewhere
	 * that may not take the connection yet.
	 */
	if (polled) {
		/* Its poller comes: others leave it the delay meanwhile. */
		nstcp_acceptor_seen(q);
		nstcp_poll_cpu_wake(g, cpu);
	} else {
		nstcp_poll_wake(g);
	}
}

/* The steal delay of a queue ran out: an acceptor elsewhere may take it. */
void nstcp_steal_timeout(struct timer_list *t)
{
	struct nstcp_lqueue *q = from_timer(q, t, steal_timer);
	struct nstcp_lgroup *g = q->group;
	unsigned long at = READ_ONCE(q->steal_at);

	if (READ_ONCE(g->dead) || !nstcp_qlen(q))
		return;
	if (time_before(jiffies, at)) {
		timer_reduce(t, at);	/* the queue emptied and filled again */
		return;
	}
	nstcp_wake_all(g, q->cpu);
}

void nstcp_lq_data_ready(struct sock *sk)
{
	struct nstcp_lgroup *g;
	int cpu;

	rcu_read_lock();
	g = __rcu_dereference_sk_user_data_with_flags(sk, SK_USER_DATA_NOCOPY);
	cpu = READ_ONCE(sk->sk_incoming_cpu);
	if (sk->sk_state != TCP_LISTEN || !g || cpu < 0 || cpu >= g->nr) {
		/* A child that inherited the callback, or a closing listener. */
		rcu_read_unlock();
		nstcp_def_readable(sk);
		return;
	}
	nstcp_arrival(g, cpu);
	rcu_read_unlock();
}
