// SPDX-License-Identifier: GPL-2.0
/*
 * AF_NSTCP per-CPU listening: accept() and poll() (arrivals, wake-ups and
 * the steal timer are arrival.c's).
 *
 * Under the cpu policy an acceptor takes from its own CPU's queue first.
 * A connection queued on CPU c goes at once to an acceptor waiting on c;
 * failing that, to the nearest waiting acceptor, unless an acceptor of c is
 * running (it took or polled on c within accept_steal_delay_ms and has not
 * gone to wait elsewhere): that one has first claim for the delay, after
 * which a timer lets the others take it.  A queue whose CPU instance is
 * offline is anybody's at once.  Under roundrobin and least, each arrival
 * is a credit given to the member whose turn it is.
 *
 * Pollers are told the same way: a connection queued on CPU c wakes those
 * registered on c's poll head (pollwq.c) when there are any, and they have
 * c's first claim as a running acceptor has; otherwise, and when the
 * delay runs out, the socket's own wait queue is woken, as for any socket.
 */
#include <linux/poll.h>
#include <linux/sched/signal.h>
#include <linux/wait.h>
#include <net/inet_connection_sock.h>
#include <net/sock.h>
#include <net/tcp.h>

#include "accept.h"

/* nstcp_try_accept(): a connection was refused, the next may be taken. */
#define NSTCP_ACCEPT_AGAIN	1

/*
 * Refusals one accept() makes before it stops: a non-blocking one returns
 * EAGAIN, a blocking one goes through its wait again (a signal ends it).
 */
#define NSTCP_REFUSE_BATCH	64

/* The calling task accepts or polls on @cpu: that queue's acceptor runs. */
static void nstcp_acceptor_here(struct nstcp_lgroup *g, unsigned int cpu)
{
	struct nstcp_lqueue *q = &g->q[cpu];

	if (READ_ONCE(q->owner) != current)
		WRITE_ONCE(q->owner, current);
	nstcp_acceptor_seen(q);
}

/*
 * It goes to sleep on @cpu: no longer the running acceptor of any other
 * CPU (a task that moved); a sleeping one counts in q->waiting instead.
 */
static void nstcp_acceptor_sleeps(struct nstcp_lgroup *g, unsigned int cpu)
{
	unsigned int i;

	for (i = 0; i < g->nr; i++)
		if (i != cpu && READ_ONCE(g->q[i].owner) == current)
			WRITE_ONCE(g->q[i].owner, NULL);
	nstcp_acceptor_here(g, cpu);
}

/* The group's queues as an acceptor on @cpu may take from them. */
struct nstcp_qview {
	const struct nstcp_lgroup	*g;
	unsigned int			cpu;
	unsigned long			delay;
	bool				steal;
};

static unsigned int nstcp_view_qlen(const void *ctx, unsigned int i)
{
	const struct nstcp_qview *v = ctx;
	const struct nstcp_lqueue *q = &v->g->q[i];
	unsigned int n = nstcp_qlen(q);

	if (!n || i == v->cpu || !nstcp_inst_online(v->g, i))
		return n;
	if (!v->steal)
		return 0;
	/* Its acceptor, or poller woken for it, now running elsewhere. */
	if (READ_ONCE(q->owner) == current)
		return n;
	if (nstcp_owner_active(q, v->delay) &&
	    time_before(jiffies, READ_ONCE(q->steal_at)))
		return 0;
	return n;
}

/*
 * The queue @m's acceptor on @cpu takes from now, or -1.  The view says
 * which other queues are open to it; its own always is.
 */
static int nstcp_pick(struct nstcp_member *m, unsigned int cpu, bool credited)
{
	struct nstcp_lgroup *g = m->group;
	struct nstcp_qview v = { .g = g, .cpu = cpu, .steal = true };

	if (READ_ONCE(g->policy) == NSTCP_POLICY_CPU) {
		v.steal = READ_ONCE(nstcp_pernet(g->net)->accept_steal);
		v.delay = nstcp_steal_delay(g);
	} else if (!credited) {
		return -1;
	}
	return nstcp_pick_queue(nstcp_view_qlen, &v, g->nr, cpu, true);
}

/*
 * A connection is queued but its arrival has not been handed out yet (or
 * never will be, after a policy change): the member whose turn it is may
 * take it now, the turn advancing as if it had been given.
 */
static bool nstcp_prepay(struct nstcp_lgroup *g, struct nstcp_member *m,
			 bool take)
{
	bool ok;

	spin_lock_bh(&g->lock);
	ok = nstcp_unassigned(g) - g->prepaid > 0 && nstcp_turn(g, false) == m;
	if (ok && take) {
		nstcp_turn(g, true);
		g->prepaid++;
	}
	spin_unlock_bh(&g->lock);
	return ok;
}

/* Whether member @m's acceptor on @cpu would get a connection now. */
static bool nstcp_acceptable(struct nstcp_member *m, unsigned int cpu)
{
	struct nstcp_lgroup *g = m->group;
	bool credited = true;

	if (READ_ONCE(g->policy) != NSTCP_POLICY_CPU)
		credited = atomic_read(&m->credits) > 0 ||
			   nstcp_prepay(g, m, false);
	return nstcp_pick(m, cpu, credited) >= 0;
}

/*
 * A connection just accepted onto @newsock over its port's limits: reset
 * (a zero linger, set under the child's lock, makes the close abortive)
 * and @newsock bare again.
 */
static void nstcp_refuse(struct socket *l, struct socket *newsock)
{
	sock_no_linger(newsock->sk);
	l->ops->release(newsock);	/* its family's: inet or inet6 */
	newsock->sk = NULL;
	newsock->state = SS_UNCONNECTED;
}

/*
 * One non-blocking attempt.  Return: 0, -EAGAIN, NSTCP_ACCEPT_AGAIN (one
 * was refused for the port's limits: try again) or an error.
 */
static int nstcp_try_accept(struct nstcp_member *m, struct socket *newsock,
			    bool kern)
{
	struct proto_accept_arg arg = { .flags = O_NONBLOCK, .kern = kern };
	struct nstcp_lgroup *g = m->group;
	int cpu = raw_smp_processor_id(), idx, err;
	bool credited = false;
	struct nstcp_src_key key;
	struct socket *l;
	struct sock *child;
	bool charged, src;

	/* @m's reference keeps the listeners' sockets; a stopped one: EINVAL. */
	err = -EINVAL;
	if (READ_ONCE(g->dead) || READ_ONCE(m->dead))
		goto out;
	if (READ_ONCE(g->policy) != NSTCP_POLICY_CPU) {
		/* A prepaid take that finds nothing keeps it as a credit. */
		credited = atomic_dec_if_positive(&m->credits) >= 0 ||
			   nstcp_prepay(g, m, true);
		err = -EAGAIN;
		if (!credited)
			goto out;
	}
	err = -EAGAIN;
	idx = nstcp_pick(m, cpu, credited);
	if (idx < 0)
		goto undo;
	l = g->q[idx].sock;
	err = compat_ops_accept(l->ops, l, newsock, &arg);
	if (err)
		goto undo;

	/* A refused one counts in lrefused only, not accepted or stolen. */
	if (!nstcp_limits_admit(m->lim, newsock->sk, READ_ONCE(g->policy) ==
				NSTCP_POLICY_LEAST, &charged, &src, &key)) {
		nstcp_refuse(l, newsock);
		return NSTCP_ACCEPT_AGAIN;
	}
	atomic_long_inc(&g->q[idx].accepted);
	if (idx != cpu)
		atomic_long_inc(&g->q[idx].stolen);
	child = newsock->sk;
	/* Its listener's callback, unless a sockops program set another. */
	write_lock_bh(&child->sk_callback_lock);
	if (child->sk_data_ready == nstcp_lq_data_ready)
		child->sk_data_ready = nstcp_def_readable;
	write_unlock_bh(&child->sk_callback_lock);
	if (charged)
		nstcp_sk_set_parent(child, m, src ? &key : NULL);
	return 0;
undo:
	if (credited)
		atomic_inc(&m->credits);
out:
	return err;
}

/* A finite accept timeout @timeo less the time spent refusing since @since. */
static long nstcp_timeo_left(long timeo, unsigned long since)
{
	unsigned long spent = jiffies - since;

	if (timeo == MAX_SCHEDULE_TIMEOUT)
		return timeo;
	return spent < timeo ? timeo - spent : 0;
}

/* @stop: when it turns true (its setter wakes us), -ENOENT; or NULL. */
int nstcp_listen_accept(struct socket *sock, struct socket *newsock,
			int flags, bool kern, const bool *stop)
{
	struct sock *sk = sock->sk;
	long timeo = sock_rcvtimeo(sk, flags & O_NONBLOCK);
	unsigned int refused = 0;
	unsigned long since = 0;
	struct nstcp_member *m;
	struct nstcp_waiter w;
	int err;

	rcu_read_lock();
	m = nstcp_member(sk);
	if (m && !percpu_ref_tryget_live(&m->users))
		m = NULL;
	rcu_read_unlock();
	if (!m)
		return -EINVAL;

	/* Whatever it finds, an acceptor runs on this CPU. */
	nstcp_acceptor_here(m->group, raw_smp_processor_id());
	init_wait_entry(&w.wait, 0);	/* autoremove_wake_function */
	w.cpu = -1;			/* not slept yet */
	for (;;) {
		err = -ENOENT;
		if (stop && READ_ONCE(*stop))
			break;
		err = nstcp_try_accept(m, newsock, kern);
		if (err == NSTCP_ACCEPT_AGAIN) {
			/* Refused: the next one, up to a batch of them. */
			if (!refused)
				since = jiffies;
			cond_resched();
			err = sock_intr_errno(timeo);
			if (timeo && signal_pending(current))
				break;
			if (++refused < NSTCP_REFUSE_BATCH)
				continue;
			refused = 0;
			err = -EAGAIN;
			timeo = nstcp_timeo_left(timeo, since);
			/* Some left: a new edge for edge-triggered pollers. */
			if (!timeo && nstcp_acceptable(m, raw_smp_processor_id()))
				sk->sk_data_ready(sk);
		}
		if (err != -EAGAIN || !timeo)
			break;
		w.cpu = raw_smp_processor_id();
		nstcp_acceptor_sleeps(m->group, w.cpu);
		prepare_to_wait_exclusive(&m->acceptq, &w.wait,
					  TASK_INTERRUPTIBLE);
		atomic_inc(&m->group->q[w.cpu].waiting);
		if (!READ_ONCE(m->dead) && !nstcp_acceptable(m, w.cpu) &&
		    !signal_pending(current) && !(stop && READ_ONCE(*stop)))
			timeo = schedule_timeout(timeo);
		atomic_dec(&m->group->q[w.cpu].waiting);
		finish_wait(&m->acceptq, &w.wait);
		refused = 0;
		err = -EINVAL;
		if (READ_ONCE(m->dead))
			break;
		err = sock_intr_errno(timeo);
		if (signal_pending(current))
			break;
		err = -EAGAIN;
		if (!timeo)
			break;
	}
	if (!err)
		nstcp_acceptor_here(m->group, raw_smp_processor_id());
	/* Woken for a connection it leaves (its inbox closed): pass it on. */
	else if (err == -ENOENT && w.cpu >= 0 && nstcp_acceptable(m, w.cpu))
		nstcp_notify(m, w.cpu, true);
	percpu_ref_put(&m->users);
	return err;
}

__poll_t nstcp_listen_poll(struct file *file, struct socket *sock,
			   struct poll_table_struct *wait)
{
	struct sock *sk = sock->sk;
	struct nstcp_member *m;
	__poll_t mask = 0;
	unsigned int cpu;

	/* Before sock_poll_wait(): its barrier orders both registrations. */
	nstcp_pollwq_register(file, sk, wait);
	sock_poll_wait(file, sock, wait);
	rcu_read_lock();
	m = nstcp_member(sk);
	if (m && !READ_ONCE(m->dead)) {
		cpu = raw_smp_processor_id();
		nstcp_acceptor_here(m->group, cpu);
		if (nstcp_acceptable(m, cpu))
			mask = EPOLLIN | EPOLLRDNORM;
	}
	rcu_read_unlock();
	/* No longer listening: poll as the TCP socket it is. */
	if (!m)
		return tcp_poll(file, sock, wait);
	return mask;
}
