// SPDX-License-Identifier: GPL-2.0
/*
 * AF_NSTCP per-CPU listening.
 *
 * listen() on an AF_NSTCP socket makes it a member of its port's listen
 * group.  The group owns one TCP listener per possible CPU, bound to the
 * port in a SO_REUSEPORT group of their own, each with SO_INCOMING_CPU set
 * to its CPU: the kernel completes a handshake on, and queues the
 * connection in, the listener of the CPU where the packets arrive, so CPU
 * instances share no accept queue.  Members (AF_NSTCP listening sockets that
 * share the port with a key) take connections from these queues under the
 * port's policy.  The queues belong to the group, not to a member: a member
 * that closes leaves its connections to the others, and only the last
 * member's close resets what is still queued.
 *
 * The group's listeners carry a uid no process has, so no other socket can
 * join their reuseport group or bind over them.
 */
#define pr_fmt(fmt) "nstcp: " fmt

#include <linux/ctype.h>
#include <linux/file.h>
#include <linux/net.h>
#include <linux/poll.h>
#include <linux/proc_fs.h>
#include <linux/rculist.h>
#include <linux/sched/signal.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/uidgid.h>
#include <linux/wait.h>
#include <net/inet_common.h>
#include <net/inet_connection_sock.h>
#include <net/ipv6.h>
#include <net/sock.h>
#include <net/tcp.h>
#include <net/tcp_states.h>
#include <linux/nstcp.h>

#include "nstcp.h"

/* The TCP default sk_data_ready, learnt from the first listener we make. */
void (*nstcp_def_readable)(struct sock *sk) __read_mostly;

struct nstcp_lgroup;

/* An AF_NSTCP listening socket's place in its port's group. */
struct nstcp_member {
	struct nstcp_lgroup	*group;
	struct sock		*sk;
	struct list_head	node;		/* group->members */
	wait_queue_head_t	acceptq;	/* blocked accept() calls */
	atomic_t		credits;	/* assigned, not yet accepted */
	atomic_t		active;		/* accepted, still open */
	refcount_t		ref;		/* the listener, accepted sockets */
	bool			dead;
	struct rcu_head		rcu;
};

struct nstcp_lqueue {
	struct socket		*sock;		/* this CPU instance's listener */
	struct nstcp_lgroup	*group;
	unsigned int		cpu;
	unsigned long		since;		/* jiffies it last became non-empty */
	struct timer_list	steal_timer;	/* lets others steal after a delay */
	atomic_long_t		accepted;	/* connections taken from it */
	atomic_long_t		stolen;		/* ... by an acceptor elsewhere */
};

/* A listening port: its per-CPU listeners and its members. */
struct nstcp_lgroup {
	struct list_head	node;		/* nstcp_net.lgroups */
	struct net		*net;
	struct sockaddr_storage	addr;		/* the TCP sockets' form */
	int			addrlen;
	u8			key[NSTCP_KEY_MAX];
	u8			keylen;
	int			policy;
	spinlock_t		lock;		/* members, rr */
	struct list_head	members;
	unsigned int		nmembers;
	unsigned int		rr;
	unsigned int		prepaid;	/* taken before handed out */
	atomic_long_t		migrated;
	struct rcu_head		rcu;
	unsigned int		nr;		/* nr_cpu_ids */
	struct nstcp_lqueue	q[];
};

/* AF_NSTCP state of a socket, in its sk_user_data. */
struct nstcp_sk {
	u8			key[NSTCP_KEY_MAX];
	u8			keylen;
	int			policy;		/* requested; 0: the default */
	struct nstcp_member	*member;	/* a listener's membership */
	struct nstcp_member	*parent;	/* an accepted socket's listener */
	struct sockaddr_storage	vaddr;		/* joined without a TCP bind */
	int			vaddrlen;
};

struct nstcp_waiter {
	struct wait_queue_entry	wait;
	int			cpu;
};

static struct nstcp_sk *nstcp_sk_get(const struct sock *sk)
{
	uintptr_t v = (uintptr_t)rcu_access_pointer(__sk_user_data(sk));

	/* Ours carry NOCOPY alone; a BPF psock would carry more flags. */
	if ((v & ~SK_USER_DATA_PTRMASK) != SK_USER_DATA_NOCOPY)
		return NULL;
	return (struct nstcp_sk *)(v & SK_USER_DATA_PTRMASK);
}

static struct nstcp_sk *nstcp_sk_alloc(struct sock *sk)
{
	struct nstcp_sk *ns = nstcp_sk_get(sk);

	if (ns)
		return ns;
	if (rcu_access_pointer(__sk_user_data(sk)))
		return ERR_PTR(-EBUSY);
	ns = kzalloc(sizeof(*ns), GFP_KERNEL);
	if (!ns)
		return ERR_PTR(-ENOMEM);
	write_lock_bh(&sk->sk_callback_lock);
	if (rcu_access_pointer(__sk_user_data(sk))) {
		/* Another thread of the socket's owner was first. */
		write_unlock_bh(&sk->sk_callback_lock);
		kfree(ns);
		ns = nstcp_sk_get(sk);
		return ns ? ns : ERR_PTR(-EBUSY);
	}
	__rcu_assign_sk_user_data_with_flags(sk, ns, SK_USER_DATA_NOCOPY);
	write_unlock_bh(&sk->sk_callback_lock);
	return ns;
}

static struct nstcp_member *nstcp_member(const struct sock *sk)
{
	struct nstcp_sk *ns = nstcp_sk_get(sk);

	return ns ? ns->member : NULL;
}

bool nstcp_is_member(const struct sock *sk)
{
	return nstcp_member(sk);
}

static void nstcp_member_put(struct nstcp_member *m)
{
	if (refcount_dec_and_test(&m->ref))
		kfree_rcu(m, rcu);
}

static unsigned int nstcp_qlen(const struct nstcp_lqueue *q)
{
	struct socket *s = READ_ONCE(q->sock);

	return s ? READ_ONCE(s->sk->sk_ack_backlog) : 0;
}

/* The group's queues as an acceptor on @cpu may take from them. */
struct nstcp_qview {
	const struct nstcp_lgroup	*g;
	unsigned int			cpu;
	unsigned long			delay;	/* before another CPU's queue */
};

/*
 * Its own CPU's queue counts at once; another CPU's only once it has
 * waited the steal delay, giving that CPU's acceptor the first chance.
 */
static unsigned int nstcp_view_qlen(const void *ctx, unsigned int i)
{
	const struct nstcp_qview *v = ctx;
	const struct nstcp_lqueue *q = &v->g->q[i];

	if (i != v->cpu && v->delay &&
	    time_before(jiffies, READ_ONCE(q->since) + v->delay))
		return 0;
	return nstcp_qlen(q);
}

static unsigned long nstcp_steal_delay(const struct nstcp_lgroup *g)
{
	return msecs_to_jiffies(READ_ONCE(nstcp_pernet(g->net)->accept_steal_delay));
}

/* Queued connections no member holds a credit for (policy changes, races). */
static long nstcp_unassigned(struct nstcp_lgroup *g)
{
	struct nstcp_member *m;
	long n = 0;
	unsigned int i;

	for (i = 0; i < g->nr; i++)
		n += nstcp_qlen(&g->q[i]);
	rcu_read_lock();
	list_for_each_entry_rcu(m, &g->members, node)
		n -= atomic_read(&m->credits);
	rcu_read_unlock();
	return n;
}

/*
 * The member the port's policy gives the next connection to; @advance
 * moves the turn on.  Members that shut down are passed over.
 */
static struct nstcp_member *nstcp_turn(struct nstcp_lgroup *g, bool advance)
{
	struct nstcp_member *m, *pick = NULL;
	unsigned int n = g->nmembers, i = 0, want;
	unsigned int load[32];

	lockdep_assert_held(&g->lock);
	if (!n)
		return NULL;
	if (READ_ONCE(g->policy) == NSTCP_POLICY_LEAST) {
		n = min_t(unsigned int, n, ARRAY_SIZE(load));
		list_for_each_entry(m, &g->members, node) {
			if (i == n)
				break;
			/* A member that shut down takes nothing more. */
			load[i++] = READ_ONCE(m->dead) ? UINT_MAX :
				    atomic_read(&m->credits) +
				    atomic_read(&m->active);
		}
		want = nstcp_pick_least(load, n, g->rr);
	} else {
		want = g->rr % n;
	}
	if (advance)
		g->rr++;
	i = 0;
	list_for_each_entry(m, &g->members, node)
		if (i++ >= want && !READ_ONCE(m->dead)) {
			pick = m;
			break;
		}
	if (!pick)
		list_for_each_entry(m, &g->members, node)
			if (!READ_ONCE(m->dead)) {
				pick = m;
				break;
			}
	return pick;
}

/* Give one queued connection to the member whose turn it is. */
static struct nstcp_member *nstcp_give(struct nstcp_lgroup *g)
{
	struct nstcp_member *m = nstcp_turn(g, true);

	if (m)
		atomic_inc(&m->credits);
	return m;
}

/*
 * A connection arrived: give it out, unless the member whose turn it was
 * took it already (nstcp_prepay()).
 */
static struct nstcp_member *nstcp_assign(struct nstcp_lgroup *g)
{
	lockdep_assert_held(&g->lock);
	if (g->prepaid) {
		g->prepaid--;
		return NULL;
	}
	return nstcp_give(g);
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

/* Whether member @m on @cpu would get a connection from accept() now. */
static bool nstcp_acceptable(struct nstcp_member *m, int cpu, bool steal)
{
	struct nstcp_lgroup *g = m->group;

	struct nstcp_qview v = { .g = g, .cpu = cpu };

	if (READ_ONCE(g->policy) == NSTCP_POLICY_CPU) {
		v.delay = nstcp_steal_delay(g);
		return nstcp_pick_queue(nstcp_view_qlen, &v, g->nr, cpu,
					steal) >= 0;
	}
	return (atomic_read(&m->credits) > 0 || nstcp_prepay(g, m, false)) &&
	       nstcp_pick_queue(nstcp_view_qlen, &v, g->nr, cpu, true) >= 0;
}

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
	spin_unlock_irqrestore(&wq->lock, flags);
	return woke;
}

/* Tell poll()/epoll() on the listening socket, then a blocked accept(). */
static void nstcp_notify(struct nstcp_member *m, int cpu, bool any)
{
	m->sk->sk_data_ready(m->sk);
	nstcp_wake_acceptor(m, cpu, any);
}

/* A connection was queued on the listener of @cpu (softirq). */
/* Wake the sleeping acceptor nearest to @cpu, to steal from it. */
static void nstcp_steal_wake(struct nstcp_lgroup *g, int cpu)
{
	struct nstcp_member *m;

	list_for_each_entry_rcu(m, &g->members, node)
		if (nstcp_wake_acceptor(m, cpu, true))
			break;
}

static void nstcp_arrival(struct nstcp_lgroup *g, int cpu)
{
	bool steal = READ_ONCE(nstcp_pernet(g->net)->accept_steal);
	struct nstcp_lqueue *q = &g->q[cpu];
	struct nstcp_member *m;
	unsigned long delay;

	/*
	 * Softirq, or process context with BHs on when the listener's
	 * backlog is run by release_sock(): hence the _bh locking.
	 */
	if (READ_ONCE(g->policy) != NSTCP_POLICY_CPU) {
		spin_lock_bh(&g->lock);
		m = nstcp_assign(g);
		spin_unlock_bh(&g->lock);
		if (m)
			nstcp_notify(m, cpu, true);
		return;
	}
	if (nstcp_qlen(q) <= 1)
		WRITE_ONCE(q->since, jiffies);
	/* The acceptor on the receive CPU; failing that the nearest. */
	list_for_each_entry_rcu(m, &g->members, node)
		if (nstcp_wake_acceptor(m, cpu, false))
			goto polled;
	if (steal) {
		delay = nstcp_steal_delay(g);
		if (!delay)
			nstcp_steal_wake(g, cpu);
		else if (!timer_pending(&q->steal_timer))
			mod_timer(&q->steal_timer, jiffies + delay);
	}
polled:
	list_for_each_entry_rcu(m, &g->members, node)
		m->sk->sk_data_ready(m->sk);
}

/* The steal delay of a queue ran out: an acceptor elsewhere may take it. */
static void nstcp_steal_timeout(struct timer_list *t)
{
	struct nstcp_lqueue *q = from_timer(q, t, steal_timer);
	struct nstcp_lgroup *g = q->group;
	struct nstcp_member *m;

	if (!nstcp_qlen(q))
		return;
	rcu_read_lock();
	nstcp_steal_wake(g, q->cpu);
	list_for_each_entry_rcu(m, &g->members, node)
		m->sk->sk_data_ready(m->sk);
	rcu_read_unlock();
}

static void nstcp_lq_data_ready(struct sock *sk)
{
	struct nstcp_lgroup *g;
	unsigned int i;

	rcu_read_lock();
	g = __rcu_dereference_sk_user_data_with_flags(sk, SK_USER_DATA_NOCOPY);
	if (sk->sk_state != TCP_LISTEN || !g) {
		/* A child that inherited the callback, or a closing listener. */
		rcu_read_unlock();
		nstcp_def_readable(sk);
		return;
	}
	for (i = 0; i < g->nr; i++) {
		struct socket *s = READ_ONCE(g->q[i].sock);

		if (s && s->sk == sk)
			break;
	}
	if (i < g->nr)
		nstcp_arrival(g, i);
	rcu_read_unlock();
}

static void nstcp_lgroup_free(struct nstcp_lgroup *g)
{
	unsigned int i;

	for (i = 0; i < g->nr; i++) {
		struct socket *s = g->q[i].sock;

		if (!s)
			continue;
		write_lock_bh(&s->sk->sk_callback_lock);
		rcu_assign_sk_user_data(s->sk, NULL);
		s->sk->sk_data_ready = nstcp_def_readable;
		write_unlock_bh(&s->sk->sk_callback_lock);
	}
	/* No arrival runs any more, so none can arm a steal timer. */
	synchronize_rcu();
	for (i = 0; i < g->nr; i++) {
		struct socket *s = g->q[i].sock;

		del_timer_sync(&g->q[i].steal_timer);
		if (!s)
			continue;
		WRITE_ONCE(g->q[i].sock, NULL);
		sock_release(s);
	}
	kfree_rcu(g, rcu);
}

static int nstcp_lq_open(struct net *net, struct nstcp_lgroup *g,
			 int family, bool v6only, int cpu, int backlog)
{
	struct socket *s;
	struct sock *sk;
	int err;

	err = __sock_create(net, family, SOCK_STREAM, IPPROTO_TCP, &s, 0);
	if (err)
		return err;
	sk = s->sk;
	/* A uid no process has: no other socket can share this port. */
	SOCK_INODE(s)->i_uid = INVALID_UID;
	sk->sk_uid = INVALID_UID;
	sk->sk_reuse = SK_CAN_REUSE;
	sk->sk_reuseport = 1;
	if (family == AF_INET6)
		sk->sk_ipv6only = v6only;
	err = sock_setsockopt(s, SOL_SOCKET, SO_INCOMING_CPU,
			      KERNEL_SOCKPTR(&cpu), sizeof(cpu));
	if (!err)
		err = kernel_bind(s, (struct sockaddr *)&g->addr, g->addrlen);
	if (!err)
		err = kernel_listen(s, backlog);
	if (err) {
		sock_release(s);
		return err;
	}
	write_lock_bh(&sk->sk_callback_lock);
	if (!nstcp_def_readable)
		nstcp_def_readable = sk->sk_data_ready;
	__rcu_assign_sk_user_data_with_flags(sk, g, SK_USER_DATA_NOCOPY);
	sk->sk_data_ready = nstcp_lq_data_ready;
	write_unlock_bh(&sk->sk_callback_lock);
	g->q[cpu].sock = s;
	return 0;
}

static struct nstcp_lgroup *nstcp_lgroup_find(struct nstcp_net *nn,
					      const struct sockaddr_storage *a,
					      int len)
{
	struct nstcp_lgroup *g;

	lockdep_assert_held(&nn->lg_lock);
	list_for_each_entry(g, &nn->lgroups, node)
		if (g->addrlen == len && !memcmp(&g->addr, a, len))
			return g;
	return NULL;
}

static bool nstcp_key_match(const struct nstcp_lgroup *g,
			    const struct nstcp_sk *ns)
{
	return g->keylen && g->keylen == ns->keylen &&
	       !memcmp(g->key, ns->key, g->keylen);
}

static struct nstcp_lgroup *nstcp_lgroup_create(struct net *net,
						struct sock *sk,
						struct nstcp_sk *ns,
						const struct sockaddr_storage *a,
						int len, int backlog)
{
	struct nstcp_net *nn = nstcp_pernet(net);
	struct nstcp_lgroup *g;
	int cpu, err;

	g = kzalloc(struct_size(g, q, nr_cpu_ids), GFP_KERNEL);
	if (!g)
		return ERR_PTR(-ENOMEM);
	g->nr = nr_cpu_ids;
	g->net = net;
	memcpy(&g->addr, a, len);
	g->addrlen = len;
	memcpy(g->key, ns->key, ns->keylen);
	g->keylen = ns->keylen;
	g->policy = ns->policy ? ns->policy : READ_ONCE(nn->listen_policy);
	spin_lock_init(&g->lock);
	INIT_LIST_HEAD(&g->members);
	for (cpu = 0; cpu < g->nr; cpu++) {
		g->q[cpu].group = g;
		g->q[cpu].cpu = cpu;
		timer_setup(&g->q[cpu].steal_timer, nstcp_steal_timeout, 0);
	}

	/* The creator stays bound beside the group's listeners. */
	sk->sk_reuse = SK_CAN_REUSE;
	for (cpu = 0; cpu < g->nr; cpu++) {
		err = nstcp_lq_open(net, g, sk->sk_family,
				    sk->sk_family == AF_INET6 && sk->sk_ipv6only,
				    cpu, backlog);
		if (err) {
			nstcp_lgroup_free(g);
			return ERR_PTR(err);
		}
	}
	list_add(&g->node, &nn->lgroups);
	return g;
}

/* The bound address of @sock in the TCP socket's own form. */
static int nstcp_bound_addr(struct socket *sock, struct sockaddr_storage *a)
{
	struct nstcp_sk *ns = nstcp_sk_get(sock->sk);

	if (ns && ns->vaddrlen) {
		memcpy(a, &ns->vaddr, ns->vaddrlen);
		return ns->vaddrlen;
	}
	if (sock->sk->sk_family == AF_INET6)
		return inet6_getname(sock, (struct sockaddr *)a, 0);
	return inet_getname(sock, (struct sockaddr *)a, 0);
}

/*
 * bind() of a keyed socket to a port whose group has the same key joins it
 * without a TCP bind (the group's listeners hold the port).
 * Return: 0 when done here, 1 to go on with the TCP bind, or an error.
 */
int nstcp_listen_bind(struct socket *sock, const struct sockaddr_storage *a,
		      int len)
{
	struct nstcp_net *nn = nstcp_pernet(sock_net(sock->sk));
	struct nstcp_sk *ns = nstcp_sk_get(sock->sk);
	struct nstcp_lgroup *g;
	int ret = 1;

	if (!ns || !ns->keylen)
		return 1;
	if (ns->vaddrlen || inet_sk(sock->sk)->inet_num)
		return -EINVAL;
	/* Keyed sockets may bind beside each other until one listens. */
	sock->sk->sk_reuse = SK_CAN_REUSE;
	mutex_lock(&nn->lg_lock);
	g = nstcp_lgroup_find(nn, a, len);
	if (g) {
		if (nstcp_key_match(g, ns)) {
			memcpy(&ns->vaddr, a, len);
			ns->vaddrlen = len;
			ret = 0;
		} else {
			ret = -EADDRINUSE;
		}
	}
	mutex_unlock(&nn->lg_lock);
	return ret;
}

int nstcp_listen_getname(struct socket *sock, struct sockaddr *uaddr)
{
	struct nstcp_sk *ns = nstcp_sk_get(sock->sk);

	if (!ns || !ns->vaddrlen)
		return -ENOENT;
	memcpy(uaddr, &ns->vaddr, ns->vaddrlen);
	return ns->vaddrlen;
}

int nstcp_listen(struct socket *sock, int backlog)
{
	struct sock *sk = sock->sk;
	struct net *net = sock_net(sk);
	struct nstcp_net *nn = nstcp_pernet(net);
	struct sockaddr_storage a = {};
	struct nstcp_member *m;
	struct nstcp_lgroup *g;
	struct nstcp_sk *ns;
	unsigned int i;
	int len, err;

	ns = nstcp_sk_alloc(sk);
	if (IS_ERR(ns))
		return PTR_ERR(ns);
	if (sock->state != SS_UNCONNECTED ||
	    (!ns->member && READ_ONCE(sk->sk_state) != TCP_CLOSE))
		return -EINVAL;
	if (!ns->member && !ns->vaddrlen && !inet_sk(sk)->inet_num) {
		/* Unbound: an ephemeral port, on every address. */
		struct sockaddr_storage any = { .ss_family = sk->sk_family };

		sk->sk_reuse = SK_CAN_REUSE;
		err = inet_sk(sk)->inet_num ? 0 :
		      kernel_bind(sock, (struct sockaddr *)&any,
				  sk->sk_family == AF_INET6 ?
				  sizeof(struct sockaddr_in6) :
				  sizeof(struct sockaddr_in));
		if (err)
			return err;
	}

	mutex_lock(&nn->lg_lock);
	if (ns->member) {		/* a new backlog */
		g = ns->member->group;
		for (i = 0; i < g->nr; i++)
			kernel_listen(g->q[i].sock, backlog);
		err = 0;
		goto out;
	}
	len = nstcp_bound_addr(sock, &a);
	if (len < 0) {
		err = len;
		goto out;
	}
	m = kzalloc(sizeof(*m), GFP_KERNEL);
	if (!m) {
		err = -ENOMEM;
		goto out;
	}
	g = nstcp_lgroup_find(nn, &a, len);
	if (g && !nstcp_key_match(g, ns)) {
		kfree(m);
		err = -EADDRINUSE;
		goto out;
	}
	if (!g) {
		g = nstcp_lgroup_create(net, sk, ns, &a, len, backlog);
		if (IS_ERR(g)) {
			kfree(m);
			err = PTR_ERR(g);
			goto out;
		}
	} else if (ns->policy) {
		WRITE_ONCE(g->policy, ns->policy);
	}
	m->group = g;
	m->sk = sk;
	init_waitqueue_head(&m->acceptq);
	refcount_set(&m->ref, 1);
	spin_lock_bh(&g->lock);
	list_add_tail_rcu(&m->node, &g->members);
	g->nmembers++;
	spin_unlock_bh(&g->lock);
	ns->member = m;
	/*
	 * The socket reads as a listener (SO_ACCEPTCONN, TCP_INFO, ioctls)
	 * though it is in no lookup table: the group's listeners are.
	 */
	inet_sk_set_state(sk, TCP_LISTEN);
	err = 0;
out:
	mutex_unlock(&nn->lg_lock);
	return err;
}

/* A member stops listening: its credits go to the others. */
static void nstcp_listen_leave(struct sock *sk)
{
	struct nstcp_net *nn = nstcp_pernet(sock_net(sk));
	struct nstcp_sk *ns = nstcp_sk_get(sk);
	struct nstcp_member *m = ns ? ns->member : NULL, *to;
	struct nstcp_lgroup *g;
	int credits;
	bool last;

	if (!m)
		return;
	g = m->group;
	mutex_lock(&nn->lg_lock);
	spin_lock_bh(&g->lock);
	list_del_rcu(&m->node);
	last = !--g->nmembers;
	credits = atomic_xchg(&m->credits, 0);
	while (!last && credits-- > 0) {
		to = nstcp_give(g);
		if (!to)
			break;
		atomic_long_inc(&g->migrated);
		nstcp_notify(to, raw_smp_processor_id(), true);
	}
	spin_unlock_bh(&g->lock);
	if (last)
		list_del(&g->node);
	mutex_unlock(&nn->lg_lock);

	WRITE_ONCE(m->dead, true);
	wake_up_all(&m->acceptq);
	ns->member = NULL;
	inet_sk_set_state(sk, TCP_CLOSE);
	/* Arrivals that still see @m call m->sk's callbacks: let them end. */
	synchronize_rcu();
	if (last)
		nstcp_lgroup_free(g);
	nstcp_member_put(m);
}

/*
 * shutdown() of a listener: blocked and later accept() calls fail with
 * EINVAL and the member takes no new connections; it leaves the port,
 * handing on what it was given, when it is closed.
 */
void nstcp_listen_shutdown(struct sock *sk)
{
	struct nstcp_member *m = nstcp_member(sk), *to;
	struct nstcp_lgroup *g;
	int credits;

	if (!m || READ_ONCE(m->dead))
		return;
	g = m->group;
	spin_lock_bh(&g->lock);
	WRITE_ONCE(m->dead, true);
	credits = atomic_xchg(&m->credits, 0);
	while (credits-- > 0) {
		to = nstcp_give(g);
		if (!to)
			break;
		atomic_long_inc(&g->migrated);
		nstcp_notify(to, raw_smp_processor_id(), true);
	}
	spin_unlock_bh(&g->lock);
	inet_sk_set_state(sk, TCP_CLOSE);
	wake_up_all(&m->acceptq);
	sk->sk_state_change(sk);	/* and poll() */
}

void nstcp_sk_release(struct sock *sk)
{
	struct nstcp_sk *ns = nstcp_sk_get(sk);

	if (!ns)
		return;
	nstcp_listen_leave(sk);
	if (ns->parent) {
		atomic_dec(&ns->parent->active);
		nstcp_member_put(ns->parent);
	}
	write_lock_bh(&sk->sk_callback_lock);
	rcu_assign_sk_user_data(sk, NULL);
	write_unlock_bh(&sk->sk_callback_lock);
	kfree(ns);
}

/* One non-blocking attempt.  Return: 0, -EAGAIN or an error. */
static int nstcp_try_accept(struct nstcp_member *m, struct socket *newsock,
			    bool kern)
{
	struct nstcp_lgroup *g = m->group;
	struct nstcp_net *nn = nstcp_pernet(sock_net(m->sk));
	int cpu = raw_smp_processor_id(), idx, err;
	bool steal = READ_ONCE(nn->accept_steal), credited = false;
	struct nstcp_qview v = { .g = g, .cpu = cpu };
	struct proto_accept_arg arg = { .flags = O_NONBLOCK, .kern = kern };
	struct nstcp_sk *cns;
	struct sock *child;

	if (READ_ONCE(g->policy) != NSTCP_POLICY_CPU) {
		/* A prepaid take that finds nothing keeps it as a credit. */
		credited = atomic_dec_if_positive(&m->credits) >= 0 ||
			   nstcp_prepay(g, m, true);
		if (!credited)
			return -EAGAIN;
		steal = true;
	} else {
		v.delay = nstcp_steal_delay(g);
	}
	if (READ_ONCE(m->dead)) {
		err = -EINVAL;
		goto undo;
	}
	idx = nstcp_pick_queue(nstcp_view_qlen, &v, g->nr, cpu, steal);
	if (idx < 0) {
		err = -EAGAIN;
		goto undo;
	}
	err = compat_ops_accept(g->q[idx].sock->ops, g->q[idx].sock, newsock,
				&arg);
	if (err)
		goto undo;

	atomic_long_inc(&g->q[idx].accepted);
	if (idx != cpu)
		atomic_long_inc(&g->q[idx].stolen);
	child = newsock->sk;
	write_lock_bh(&child->sk_callback_lock);
	child->sk_data_ready = nstcp_def_readable;
	write_unlock_bh(&child->sk_callback_lock);
	cns = nstcp_sk_alloc(child);
	if (!IS_ERR(cns)) {
		refcount_inc(&m->ref);
		atomic_inc(&m->active);
		cns->parent = m;
	}
	return 0;
undo:
	if (credited)
		atomic_inc(&m->credits);
	return err;
}

int nstcp_listen_accept(struct socket *sock, struct socket *newsock,
			int flags, bool kern)
{
	struct nstcp_member *m = nstcp_member(sock->sk);
	struct nstcp_net *nn = nstcp_pernet(sock_net(sock->sk));
	long timeo = sock_rcvtimeo(sock->sk, flags & O_NONBLOCK);
	struct nstcp_waiter w;
	int err;

	init_wait_entry(&w.wait, 0);	/* autoremove_wake_function */
	for (;;) {
		err = nstcp_try_accept(m, newsock, kern);
		if (err != -EAGAIN || !timeo)
			return err;
		w.cpu = raw_smp_processor_id();
		prepare_to_wait_exclusive(&m->acceptq, &w.wait,
					  TASK_INTERRUPTIBLE);
		if (!nstcp_acceptable(m, w.cpu, READ_ONCE(nn->accept_steal)) &&
		    !READ_ONCE(m->dead) && !signal_pending(current))
			timeo = schedule_timeout(timeo);
		finish_wait(&m->acceptq, &w.wait);
		if (READ_ONCE(m->dead))
			return -EINVAL;
		if (signal_pending(current))
			return sock_intr_errno(timeo);
		if (!timeo)
			return -EAGAIN;
	}
}

__poll_t nstcp_listen_poll(struct file *file, struct socket *sock,
			   struct poll_table_struct *wait)
{
	struct nstcp_member *m = nstcp_member(sock->sk);
	struct nstcp_net *nn = nstcp_pernet(sock_net(sock->sk));

	/* Shut down, accept() fails: poll as a TCP listener that was. */
	if (READ_ONCE(m->dead))
		return tcp_poll(file, sock, wait);
	sock_poll_wait(file, sock, wait);
	if (nstcp_acceptable(m, raw_smp_processor_id(),
			     READ_ONCE(nn->accept_steal)))
		return EPOLLIN | EPOLLRDNORM;
	return 0;
}

static int nstcp_set_key(struct sock *sk, sockptr_t optval,
			 unsigned int optlen)
{
	u8 key[NSTCP_KEY_MAX];
	struct nstcp_sk *ns;
	unsigned int i;

	if (optlen < 1 || optlen > NSTCP_KEY_MAX)
		return -EINVAL;
	if (copy_from_sockptr(key, optval, optlen))
		return -EFAULT;
	for (i = 0; i < optlen; i++)
		if (!isascii(key[i]) || !isalnum(key[i]))
			return -EINVAL;
	if (inet_sk(sk)->inet_num || READ_ONCE(sk->sk_state) != TCP_CLOSE)
		return -EINVAL;
	ns = nstcp_sk_alloc(sk);
	if (IS_ERR(ns))
		return PTR_ERR(ns);
	if (ns->vaddrlen || ns->member)
		return -EINVAL;
	memcpy(ns->key, key, optlen);
	ns->keylen = optlen;
	return 0;
}

static int nstcp_set_policy(struct sock *sk, sockptr_t optval,
			    unsigned int optlen)
{
	struct nstcp_net *nn = nstcp_pernet(sock_net(sk));
	struct nstcp_member *m, *to;
	struct nstcp_lgroup *g;
	struct nstcp_sk *ns;
	long n;
	int p;

	if (optlen < sizeof(int))
		return -EINVAL;
	if (copy_from_sockptr(&p, optval, sizeof(p)))
		return -EFAULT;
	if (p < NSTCP_POLICY_CPU || p > NSTCP_POLICY_LEAST)
		return -EINVAL;
	ns = nstcp_sk_alloc(sk);
	if (IS_ERR(ns))
		return PTR_ERR(ns);
	if (!ns->member && READ_ONCE(sk->sk_state) != TCP_CLOSE)
		return -EINVAL;
	ns->policy = p;
	if (!ns->member)
		return 0;

	/* A live port changes policy: reassign what is queued. */
	mutex_lock(&nn->lg_lock);
	g = ns->member->group;
	spin_lock_bh(&g->lock);
	if (READ_ONCE(g->policy) != p) {
		WRITE_ONCE(g->policy, p);
		list_for_each_entry(m, &g->members, node)
			atomic_set(&m->credits, 0);
		g->prepaid = 0;
		for (n = nstcp_unassigned(g); p != NSTCP_POLICY_CPU && n > 0; n--) {
			to = nstcp_give(g);
			if (to)
				nstcp_notify(to, raw_smp_processor_id(), true);
		}
	}
	spin_unlock_bh(&g->lock);
	mutex_unlock(&nn->lg_lock);
	return 0;
}

int nstcp_listen_setsockopt(struct sock *sk, int optname, sockptr_t optval,
			    unsigned int optlen)
{
	switch (optname) {
	case NSTCP_SHARE_KEY:
		return nstcp_set_key(sk, optval, optlen);
	case NSTCP_POLICY:
		return nstcp_set_policy(sk, optval, optlen);
	default:
		return -ENOPROTOOPT;
	}
}

int nstcp_listen_getsockopt(struct sock *sk, int optname,
			    char __user *optval, int __user *optlen)
{
	struct nstcp_net *nn = nstcp_pernet(sock_net(sk));
	struct nstcp_sk *ns = nstcp_sk_get(sk);
	int len, p;

	if (get_user(len, optlen))
		return -EFAULT;
	if (len < 0)
		return -EINVAL;
	switch (optname) {
	case NSTCP_SHARE_KEY:
		len = min_t(int, len, ns ? ns->keylen : 0);
		if (put_user(len, optlen) ||
		    (len && copy_to_user(optval, ns->key, len)))
			return -EFAULT;
		return 0;
	case NSTCP_POLICY:
		if (len < (int)sizeof(int))
			return -EINVAL;
		if (ns && ns->member)
			p = READ_ONCE(ns->member->group->policy);
		else if (ns && ns->policy)
			p = ns->policy;
		else
			p = READ_ONCE(nn->listen_policy);
		len = sizeof(int);
		if (put_user(len, optlen) || copy_to_user(optval, &p, len))
			return -EFAULT;
		return 0;
	default:
		return -ENOPROTOOPT;
	}
}

static int nstcp_listen_show(struct seq_file *seq, void *v)
{
	struct nstcp_net *nn = nstcp_pernet(seq_file_single_net(seq));
	struct sockaddr_storage a;
	struct nstcp_lgroup *g;
	char key[NSTCP_KEY_MAX + 1];
	unsigned int i;

	seq_puts(seq, NSTCP_LISTEN_COLUMNS "\n");
	mutex_lock(&nn->lg_lock);
	list_for_each_entry(g, &nn->lgroups, node) {
		memcpy(&a, &g->addr, g->addrlen);
		nstcp_addr_out(&a, g->addrlen);
		memcpy(key, g->key, g->keylen);
		key[g->keylen] = 0;
		for (i = 0; i < g->nr; i++)
			seq_printf(seq, "%pISpc %s %s %u %u %u %ld %ld %ld\n",
				   &a, g->keylen ? key : "-",
				   nstcp_policy_name(READ_ONCE(g->policy)),
				   g->nmembers, i, nstcp_qlen(&g->q[i]),
				   atomic_long_read(&g->q[i].accepted),
				   atomic_long_read(&g->q[i].stolen),
				   atomic_long_read(&g->migrated));
	}
	mutex_unlock(&nn->lg_lock);
	return 0;
}

int nstcp_listen_proc_init(struct net *net)
{
	struct nstcp_net *nn = nstcp_pernet(net);

	mutex_init(&nn->lg_lock);
	INIT_LIST_HEAD(&nn->lgroups);
	if (!proc_create_net_single("nstcp_listen", 0444, net->proc_net,
				    nstcp_listen_show, NULL))
		return -ENOMEM;
	return 0;
}

void nstcp_listen_proc_exit(struct net *net)
{
	remove_proc_entry("nstcp_listen", net->proc_net);
}
