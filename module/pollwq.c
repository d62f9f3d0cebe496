// SPDX-License-Identifier: GPL-2.0
/*
 * AF_NSTCP per-CPU poll wait queues of a listening socket.
 *
 * A server with one listening socket and a worker pinned on each CPU has
 * every worker's epoll watch that socket (nginx: with EPOLLEXCLUSIVE).  A
 * poll() or epoll_ctl(ADD) on a listener registers on the socket's own
 * wait queue, which carries state changes, shutdown and errors, and also
 * on the wait queue of the CPU it runs on, one of an array of nr_cpu_ids
 * heads made when the socket is first polled while it listens.  A
 * connection queued on CPU c then wakes the pollers registered on c
 * alone, when there are any: c's own worker, not whichever worker
 * registered first on the socket's queue.
 *
 * The heads belong to the socket, not to its membership of a port: epoll
 * entries stay on them across shutdown() and a later listen(), and they
 * are freed when the socket is released, after eventpoll_release() took
 * every epoll entry off them (a poll() or select() holds the file while
 * registered).  Arrivals reach them through the member under RCU, hence
 * the freeing after a grace period.
 */
#include <linux/poll.h>
#include <linux/rcupdate.h>
#include <linux/slab.h>
#include <linux/wait.h>
#include <net/sock.h>
#include <kunit/visibility.h>

#include "nstcp.h"

struct nstcp_pollwq *nstcp_pollwq_alloc(unsigned int nr)
{
	struct nstcp_pollwq *pw;
	unsigned int i;

	pw = kvzalloc(struct_size(pw, head, nr), GFP_KERNEL_ACCOUNT);
	if (!pw)
		return NULL;
	pw->nr = nr;
	for (i = 0; i < nr; i++)
		init_waitqueue_head(&pw->head[i]);
	return pw;
}
EXPORT_SYMBOL_IF_KUNIT(nstcp_pollwq_alloc);

/* After a grace period: arrivals may still be looking at the heads. */
void nstcp_pollwq_free(struct nstcp_pollwq *pw)
{
	if (pw)
		kvfree_rcu(pw, rcu);
}
EXPORT_SYMBOL_IF_KUNIT(nstcp_pollwq_free);

/* Whether anybody polls on @cpu's head. */
bool nstcp_pollwq_active(struct nstcp_pollwq *pw, unsigned int cpu)
{
	return pw && cpu < pw->nr && wq_has_sleeper(&pw->head[cpu]);
}
EXPORT_SYMBOL_IF_KUNIT(nstcp_pollwq_active);

/* A connection for @cpu: what sk_data_ready would tell, to @cpu's pollers. */
void nstcp_pollwq_wake(struct nstcp_pollwq *pw, unsigned int cpu)
{
	wake_up_interruptible_sync_poll(&pw->head[cpu], EPOLLIN | EPOLLRDNORM);
}
EXPORT_SYMBOL_IF_KUNIT(nstcp_pollwq_wake);

/*
 * poll()/epoll_ctl() registers on a listening socket from the calling CPU:
 * on that CPU's head too, made on first use.  Without memory for the heads
 * the poller is on the socket's queue alone, and is woken as before.  Every
 * poll also shows the heads to the socket's member of the moment (one made
 * by a later listen(), or one racing with the first registration).
 */
void nstcp_pollwq_register(struct file *file, struct sock *sk,
			   poll_table *wait)
{
	struct nstcp_sk *ns = nstcp_sk_get(sk);
	struct nstcp_pollwq *pw, *old;
	struct nstcp_member *m;
	unsigned int cpu;

	if (!ns)
		return;
	pw = READ_ONCE(ns->pollwq);
	if (!pw && !poll_does_not_wait(wait)) {
		pw = nstcp_pollwq_alloc(nr_cpu_ids);
		if (!pw)
			return;
		old = cmpxchg(&ns->pollwq, NULL, pw);
		if (old) {		/* another poller made them first */
			kvfree(pw);
			pw = old;
		}
	}
	if (!pw)
		return;
	/* A member that leaves meanwhile is freed after a grace period. */
	rcu_read_lock();
	m = READ_ONCE(ns->member);
	if (m && READ_ONCE(m->pollwq) != pw)
		WRITE_ONCE(m->pollwq, pw);
	rcu_read_unlock();
	cpu = raw_smp_processor_id();
	if (cpu < pw->nr)
		poll_wait(file, &pw->head[cpu], wait);
}

/* Whether a member of @g has a poller on @cpu.  Under RCU. */
bool nstcp_poll_cpu_active(struct nstcp_lgroup *g, unsigned int cpu)
{
	struct nstcp_member *m;

	list_for_each_entry_rcu(m, &g->members, node)
		if (nstcp_pollwq_active(READ_ONCE(m->pollwq), cpu))
			return true;
	return false;
}

/* Wake the pollers on @cpu of every member of @g.  Under RCU. */
void nstcp_poll_cpu_wake(struct nstcp_lgroup *g, unsigned int cpu)
{
	struct nstcp_member *m;
	struct nstcp_pollwq *pw;

	list_for_each_entry_rcu(m, &g->members, node) {
		pw = READ_ONCE(m->pollwq);
		if (nstcp_pollwq_active(pw, cpu))
			nstcp_pollwq_wake(pw, cpu);
	}
}
