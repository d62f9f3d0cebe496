// SPDX-License-Identifier: GPL-2.0
/*
 * AF_NSTCP listen groups: a listening port's per-CPU listeners and members.
 *
 * listen() on an AF_NSTCP socket makes it a member of its port's group.
 * The group owns one TCP listener per possible CPU, bound to the port in a
 * SO_REUSEPORT group of their own, each with SO_INCOMING_CPU set to its
 * CPU: the kernel completes a handshake on, and queues the connection in,
 * the listener of the CPU where the packets arrive.  The listeners are
 * made in the owner's context with the owner's socket options (sockopt.c)
 * and uid, so cgroup and LSM attribution are the owner's.
 *
 * Every member is a bound TCP sock: bind() is the kernel's own, with its
 * privileged-port rule, cgroup BPF hook, LSM check and SO_REUSEPORT's
 * same-uid rule.  A port is shared by a key (NSTCP_SHARE_KEY, which implies
 * SO_REUSEPORT) or, without one, by SO_REUSEPORT alone; then its listeners
 * carry the owner's uid and only sockets of that uid can bind beside them.
 * An exclusive port's listeners carry a uid no process has.
 *
 * Locking: lock_sock(member) > nstcp_net.lg_lock > lock_sock(listener);
 * group->lock is innermost.  The listeners listen while the group has a
 * member.  The last member to leave shuts them down under lg_lock, which
 * unhashes them and frees the port, so a new group on the port never
 * meets them; an accept() still inside one of them gets EINVAL.  Their
 * sockets go with the group's memory, once no member and no accept()
 * holds it.
 */
#define pr_fmt(fmt) "nstcp: " fmt

#include <linux/capability.h>
#include <linux/cred.h>
#include <linux/file.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/uidgid.h>
#include <net/inet_common.h>
#include <net/inet_connection_sock.h>
#include <net/ipv6.h>
#include <net/sock.h>
#include <net/sock_reuseport.h>
#include <net/tcp.h>
#include <kunit/visibility.h>

#include "nstcp.h"

/* The TCP default sk_data_ready, learnt from the first listener we make. */
void (*nstcp_def_readable)(struct sock *sk) __read_mostly;

static struct workqueue_struct *nstcp_wq;
static bool nstcp_rcu_used;	/* a group or member was made: RCU frees to wait for */

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

static void nstcp_lgroup_free_work(struct work_struct *work)
{
	struct nstcp_lgroup *g = container_of(to_rcu_work(work),
					      struct nstcp_lgroup, free_work);
	unsigned int i;

	/* A grace period after the last reference: no arrival runs. */
	for (i = 0; i < g->nr; i++) {
		del_timer_sync(&g->q[i].steal_timer);
		if (g->q[i].sock)
			sock_release(g->q[i].sock);
	}
	kfree(g->marr);
	kfree(g);
}

void nstcp_lgroup_put(struct nstcp_lgroup *g)
{
	if (refcount_dec_and_test(&g->ref))
		queue_rcu_work(nstcp_wq, &g->free_work);
}

/*
 * The last member left: stop the listeners, resetting what they hold, and
 * give the port back.  Under lg_lock.
 */
static void nstcp_lgroup_close(struct nstcp_lgroup *g)
{
	unsigned int i;

	list_del(&g->node);
	nstcp_pernet(g->net)->lg_gen++;
	WRITE_ONCE(g->dead, true);
	for (i = 0; i < g->nr; i++) {
		struct socket *s = g->q[i].sock;

		if (!s)
			continue;
		write_lock_bh(&s->sk->sk_callback_lock);
		rcu_assign_sk_user_data(s->sk, NULL);
		s->sk->sk_data_ready = nstcp_def_readable;
		write_unlock_bh(&s->sk->sk_callback_lock);
		WRITE_ONCE(g->q[i].sk, NULL);
		/* Unbound as it stops listening: the port is free at once. */
		lock_sock(s->sk);
		s->sk->sk_userlocks &= ~SOCK_BINDPORT_LOCK;
		release_sock(s->sk);
		kernel_sock_shutdown(s, SHUT_RDWR);
	}
	nstcp_lgroup_put(g);
}

/* Sockets in the kernel reuseport group a listener joined. */
static unsigned int nstcp_reuseport_size(struct sock *sk)
{
	struct sock_reuseport *reuse;
	unsigned int n = 0;

	rcu_read_lock();
	reuse = rcu_dereference(sk->sk_reuseport_cb);
	if (reuse)
		n = READ_ONCE(reuse->num_socks);
	rcu_read_unlock();
	return n;
}

static struct lock_class_key nstcp_lq_slock_key;
static struct lock_class_key nstcp_lq_lock_key;

static int nstcp_lq_open(struct sock *owner, struct nstcp_lgroup *g, int cpu,
			 int backlog)
{
	kuid_t uid = g->keylen || g->reuseport ? g->owner : INVALID_UID;
	struct socket *s;
	struct sock *sk;
	int err;

	err = __sock_create(g->net, owner->sk_family, SOCK_STREAM, IPPROTO_TCP,
			    &s, 0);
	if (err)
		return err;
	sk = s->sk;
	/*
	 * Listeners are locked inside an AF_NSTCP listening sock's lock (to
	 * copy options, to stop them), never the other way: a class of
	 * their own keeps lockdep's view of the two inet socks apart.
	 */
	sock_lock_init_class_and_name(sk, "slock-AF_NSTCP-listener",
				      &nstcp_lq_slock_key,
				      "sk_lock-AF_NSTCP-listener",
				      &nstcp_lq_lock_key);
	/* Bind conflicts compare the inode's uid; routing uses sk_uid. */
	SOCK_INODE(s)->i_uid = uid;
	sk->sk_uid = g->owner;
	err = nstcp_sockopt_sync(owner, s, true);
	if (err)
		goto out;
	sk->sk_reuse = SK_CAN_REUSE;
	sk->sk_reuseport = 1;
	err = sock_setsockopt(s, SOL_SOCKET, SO_INCOMING_CPU,
			      KERNEL_SOCKPTR(&cpu), sizeof(cpu));
	if (!err)
		err = kernel_bind(s, (struct sockaddr *)&g->addr, g->addrlen);
	if (!err)
		err = kernel_listen(s, backlog);
	/*
	 * A listener of the owner's uid with SO_REUSEPORT already had the
	 * port: its reuseport group is not ours to take over.
	 */
	if (!err && nstcp_reuseport_size(sk) != cpu + 1)
		err = -EADDRINUSE;
	if (err)
		goto out;
	write_lock_bh(&sk->sk_callback_lock);
	if (!nstcp_def_readable)
		nstcp_def_readable = sk->sk_data_ready;
	__rcu_assign_sk_user_data_with_flags(sk, g, SK_USER_DATA_NOCOPY);
	sk->sk_data_ready = nstcp_lq_data_ready;
	write_unlock_bh(&sk->sk_callback_lock);
	g->q[cpu].sock = s;
	WRITE_ONCE(g->q[cpu].sk, sk);
	return 0;
out:
	sock_release(s);
	return err;
}

/* The group of address @a (of a socket bound to device @dev), if any. */
static struct nstcp_lgroup *nstcp_lgroup_find(struct nstcp_net *nn,
					      const struct sockaddr_storage *a,
					      int len, int dev)
{
	struct nstcp_lgroup *g;

	lockdep_assert_held(&nn->lg_lock);
	list_for_each_entry(g, &nn->lgroups, node)
		if (g->addrlen == len && !memcmp(&g->addr, a, len) &&
		    g->bound_dev_if == dev)
			return g;
	return NULL;
}

static bool nstcp_addr_any(const struct sockaddr_storage *a)
{
	if (a->ss_family == AF_INET6)
		return ipv6_addr_any(&((const struct sockaddr_in6 *)a)->sin6_addr);
	return ((const struct sockaddr_in *)a)->sin_addr.s_addr == htonl(INADDR_ANY);
}

/*
 * Whether a socket bound to @a on device @dev would take connections that
 * group @g takes: same port and device (or either on every device), and
 * the same address or either a wildcard (v4-mapped or not).
 */
static bool nstcp_lgroup_overlaps(const struct nstcp_lgroup *g,
				  const struct sockaddr_storage *a, int dev,
				  bool v6only)
{
	const struct sockaddr_in6 *x = (const void *)&g->addr, *y = (const void *)a;

	if (g->addr.ss_family != a->ss_family ||
	    (g->bound_dev_if && dev && g->bound_dev_if != dev))
		return false;
	if (a->ss_family != AF_INET6) {
		const struct sockaddr_in *p = (const void *)&g->addr;
		const struct sockaddr_in *q = (const void *)a;

		return p->sin_port == q->sin_port &&
		       (nstcp_addr_any(&g->addr) || nstcp_addr_any(a) ||
			p->sin_addr.s_addr == q->sin_addr.s_addr);
	}
	if (x->sin6_port != y->sin6_port)
		return false;
	/* An IPV6_V6ONLY socket has no IPv4 side to share. */
	if ((g->v6only && ipv6_addr_v4mapped(&y->sin6_addr)) ||
	    (v6only && ipv6_addr_v4mapped(&x->sin6_addr)))
		return false;
	if (nstcp_addr_any(&g->addr) || nstcp_addr_any(a) ||
	    ipv6_addr_equal(&x->sin6_addr, &y->sin6_addr))
		return true;
	/* ::ffff:0.0.0.0 is every IPv4 address. */
	return ipv6_addr_v4mapped(&x->sin6_addr) &&
	       ipv6_addr_v4mapped(&y->sin6_addr) &&
	       (!x->sin6_addr.s6_addr32[3] || !y->sin6_addr.s6_addr32[3]);
}

/* Whether a socket with state @ns (may be NULL) may join group @g. */
static bool nstcp_may_share(const struct nstcp_lgroup *g, const struct sock *sk,
			    const struct nstcp_sk *ns)
{
	if (g->keylen)
		return ns && g->keylen == ns->keylen &&
		       !memcmp(g->key, ns->key, g->keylen);
	return g->reuseport && sk->sk_reuseport && !(ns && ns->keylen);
}

static struct nstcp_lgroup *nstcp_lgroup_create(struct sock *sk,
						struct nstcp_sk *ns,
						const struct sockaddr_storage *a,
						int len, int backlog)
{
	struct nstcp_net *nn = nstcp_pernet(sock_net(sk));
	unsigned char reuse = sk->sk_reuse;
	struct nstcp_lgroup *g;
	int cpu, err;

	/*
	 * Exclusive ports' listeners all carry the same unused uid, which
	 * the kernel's reuseport rule would let share: refuse an exclusive
	 * group where another one takes the same connections.
	 */
	if (!ns->keylen && !sk->sk_reuseport)
		list_for_each_entry(g, &nn->lgroups, node)
			if (!g->keylen && !g->reuseport &&
			    nstcp_lgroup_overlaps(g, a, sk->sk_bound_dev_if,
						  sk->sk_ipv6only))
				return ERR_PTR(-EADDRINUSE);

	g = kzalloc(struct_size(g, q, nr_cpu_ids), GFP_KERNEL);
	if (!g)
		return ERR_PTR(-ENOMEM);
	WRITE_ONCE(nstcp_rcu_used, true);
	g->nr = nr_cpu_ids;
	g->net = sock_net(sk);
	memcpy(&g->addr, a, len);
	g->addrlen = len;
	g->bound_dev_if = sk->sk_bound_dev_if;
	g->v6only = sk->sk_family == AF_INET6 && sk->sk_ipv6only;
	memcpy(g->key, ns->key, ns->keylen);
	g->keylen = ns->keylen;
	g->reuseport = !ns->keylen && sk->sk_reuseport;
	g->owner = sock_i_uid(sk);
	g->policy = ns->policy ? ns->policy : READ_ONCE(nn->listen_policy);
	spin_lock_init(&g->lock);
	INIT_LIST_HEAD(&g->members);
	refcount_set(&g->ref, 1);
	INIT_RCU_WORK(&g->free_work, nstcp_lgroup_free_work);
	for (cpu = 0; cpu < g->nr; cpu++) {
		g->q[cpu].group = g;
		g->q[cpu].cpu = cpu;
		timer_setup(&g->q[cpu].steal_timer, nstcp_steal_timeout, 0);
	}

	/* The owner stays bound beside its listeners, not yet listening. */
	sk->sk_reuse = SK_CAN_REUSE;
	for (cpu = 0; cpu < g->nr; cpu++) {
		err = nstcp_lq_open(sk, g, cpu, backlog);
		if (err)
			break;
	}
	sk->sk_reuse = reuse;
	list_add(&g->node, &nn->lgroups);
	nn->lg_gen++;
	if (err) {
		nstcp_lgroup_close(g);
		return ERR_PTR(err);
	}
	return g;
}

/*
 * bind() of a socket that asks to share a port: refuse it at once when the
 * port's group will not take it (another key, or not shared).
 */
int nstcp_listen_bind_check(struct sock *sk, const struct sockaddr_storage *a,
			    int len)
{
	struct nstcp_net *nn = nstcp_pernet(sock_net(sk));
	struct nstcp_sk *ns = nstcp_sk_get(sk);
	struct nstcp_lgroup *g;
	int err = 0;

	if (!(ns && ns->keylen) && !sk->sk_reuseport)
		return 0;
	mutex_lock(&nn->lg_lock);
	g = nstcp_lgroup_find(nn, a, len, READ_ONCE(sk->sk_bound_dev_if));
	if (g && !nstcp_may_share(g, sk, ns))
		err = -EADDRINUSE;
	mutex_unlock(&nn->lg_lock);
	return err;
}

/* The bound address of @sock in the TCP socket's own form. */
static int nstcp_bound_addr(struct socket *sock, struct sockaddr_storage *a)
{
	if (sock->sk->sk_family == AF_INET6)
		return inet6_getname(sock, (struct sockaddr *)a, 0);
	return inet_getname(sock, (struct sockaddr *)a, 0);
}

/* Add @m to @g's members.  Under lg_lock. */
static int nstcp_member_add(struct nstcp_lgroup *g, struct nstcp_member *m)
{
	struct nstcp_member **arr, **old;

	arr = kmalloc_array(g->nmembers + 1, sizeof(*arr), GFP_KERNEL);
	if (!arr)
		return -ENOMEM;
	spin_lock_bh(&g->lock);
	if (g->nmembers)
		memcpy(arr, g->marr, g->nmembers * sizeof(*arr));
	arr[g->nmembers++] = m;
	m->group = g;
	refcount_inc(&g->ref);
	old = g->marr;
	g->marr = arr;
	list_add_tail_rcu(&m->node, &g->members);
	spin_unlock_bh(&g->lock);
	kfree(old);
	return 0;
}

static int nstcp_relisten(struct nstcp_lgroup *g, int backlog)
{
	unsigned int i;
	int err = 0;

	for (i = 0; i < g->nr && !err; i++)
		err = kernel_listen(g->q[i].sock, backlog);
	return err;
}

/* listen() on an unconnected AF_NSTCP socket. */
int nstcp_listen(struct socket *sock, int backlog)
{
	struct sock *sk = sock->sk;
	struct nstcp_net *nn = nstcp_pernet(sock_net(sk));
	struct sockaddr_storage a = {};
	struct nstcp_member *m;
	struct nstcp_lgroup *g;
	struct nstcp_sk *ns;
	int len, err;

	if (!inet_sk(sk)->inet_num) {
		/* Unbound: an ephemeral port on every address, as inet does. */
		struct sockaddr_storage any = { .ss_family = sk->sk_family };

		err = sock->ops->bind(sock, (struct sockaddr *)&any,
				      sk->sk_family == AF_INET6 ?
				      sizeof(struct sockaddr_in6) :
				      sizeof(struct sockaddr_in));
		/* A racing bind() of another thread is as good. */
		if (err && !inet_sk(sk)->inet_num)
			return err;
	}
	/*
	 * getname() takes the socket lock (inet6_getname on 6.1 stable): read
	 * the bound address first.  It changes only with connect(), whose
	 * state the check under the lock refuses.
	 */
	len = nstcp_bound_addr(sock, &a);
	if (len < 0)
		return len;

	lock_sock(sk);
	ns = nstcp_sk_alloc(sk);
	if (IS_ERR(ns)) {
		err = PTR_ERR(ns);
		goto out_unlock;
	}
	if (ns->member) {		/* a new backlog */
		err = nstcp_relisten(ns->member->group, backlog);
		goto out_unlock;
	}
	err = -EINVAL;
	if (sock->state != SS_UNCONNECTED || sk->sk_state != TCP_CLOSE)
		goto out_unlock;
	/*
	 * A reuseport program would choose among listeners that are not
	 * there: refused (where setsockopt() could not refuse it, on 6.1).
	 */
	err = -EOPNOTSUPP;
	if (rcu_access_pointer(sk->sk_reuseport_cb))
		goto out_unlock;
	m = kzalloc(sizeof(*m), GFP_KERNEL);
	if (!m) {
		err = -ENOMEM;
		goto out_unlock;
	}
	err = percpu_ref_init(&m->users, nstcp_member_users_gone, 0,
			      GFP_KERNEL);
	if (err) {
		kfree(m);
		goto out_unlock;
	}
	m->sk = sk;
	init_waitqueue_head(&m->acceptq);
	refcount_set(&m->ref, 1);	/* the users' */

	mutex_lock(&nn->lg_lock);
	g = nstcp_lgroup_find(nn, &a, len, sk->sk_bound_dev_if);
	if (g) {
		/* Joining is sharing the port: SO_REUSEPORT's uid rule too. */
		err = -EADDRINUSE;
		if (!nstcp_may_share(g, sk, ns) ||
		    !uid_eq(sock_i_uid(sk), g->owner))
			goto out_free;
		err = nstcp_member_add(g, m);
		if (err)
			goto out_free;
		if (ns->policy)
			WRITE_ONCE(g->policy, ns->policy);
	} else {
		/*
		 * The listeners bind and take options with the credentials
		 * the socket was made with, as its own bind did: listen()
		 * after dropping privileges works as on AF_INET.
		 */
		const struct cred *old = sock->file ?
			override_creds(sock->file->f_cred) : NULL;

		g = nstcp_lgroup_create(sk, ns, &a, len, backlog);
		if (old)
			revert_creds(old);
		if (IS_ERR(g)) {
			err = PTR_ERR(g);
			goto out_free;
		}
		err = nstcp_member_add(g, m);
		if (err) {
			nstcp_lgroup_close(g);
			goto out_free;
		}
	}
	sock_hold(sk);
	WRITE_ONCE(ns->member, m);
	mutex_unlock(&nn->lg_lock);
	nstcp_sockopt_member_prot(sk, true);
	/*
	 * The socket reads as a listener (SO_ACCEPTCONN, TCP_INFO, connect()
	 * gives EISCONN) though it is in no lookup table: the listeners are.
	 */
	inet_sk_set_state(sk, TCP_LISTEN);
	release_sock(sk);
	return 0;

out_free:
	mutex_unlock(&nn->lg_lock);
	percpu_ref_exit(&m->users);
	kfree(m);
out_unlock:
	release_sock(sk);
	return err;
}

static void nstcp_member_left(struct rcu_head *head)
{
	struct nstcp_member *m = container_of(head, struct nstcp_member,
					      leave_rcu);

	sock_put(m->sk);
	nstcp_member_put(m);
}

/*
 * A member stops listening (shutdown(SHUT_RD) or close): what it was
 * given goes to the others; the last member closes the port.  Caller holds
 * lock_sock(sk).
 */
void nstcp_listen_leave(struct sock *sk)
{
	struct nstcp_net *nn = nstcp_pernet(sock_net(sk));
	struct nstcp_sk *ns = nstcp_sk_get(sk);
	struct nstcp_member *m = ns ? ns->member : NULL;
	struct nstcp_lgroup *g;
	unsigned int i;

	sock_owned_by_me(sk);
	if (!m)
		return;
	g = m->group;
	mutex_lock(&nn->lg_lock);
	spin_lock_bh(&g->lock);
	WRITE_ONCE(m->dead, true);
	list_del_rcu(&m->node);
	for (i = 0; g->marr[i] != m; i++)
		;
	memmove(&g->marr[i], &g->marr[i + 1],
		(g->nmembers - i - 1) * sizeof(*g->marr));
	g->nmembers--;
	nstcp_hand_on(g, atomic_xchg(&m->credits, 0), true);
	spin_unlock_bh(&g->lock);
	if (!g->nmembers)
		nstcp_lgroup_close(g);
	mutex_unlock(&nn->lg_lock);

	nstcp_sockopt_member_prot(sk, false);
	WRITE_ONCE(ns->member, NULL);
	wake_up_all(&m->acceptq);
	if (sk->sk_state == TCP_LISTEN)
		inet_sk_set_state(sk, TCP_CLOSE);
	/* Arrivals that still see @m use m->sk: it goes after them. */
	refcount_inc(&m->ref);
	call_rcu(&m->leave_rcu, nstcp_member_left);
	/* @m goes once the accept() calls still on it return. */
	percpu_ref_kill(&m->users);
}

/* A CPU went offline: what its listeners hold is for the others now. */
void nstcp_lgroups_cpu_offline(struct nstcp_net *nn, unsigned int cpu)
{
	struct nstcp_lgroup *g;

	mutex_lock(&nn->lg_lock);
	list_for_each_entry(g, &nn->lgroups, node)
		if (cpu < g->nr && nstcp_qlen(&g->q[cpu]))
			nstcp_wake_all(g, cpu);
	mutex_unlock(&nn->lg_lock);
}

/*
 * /proc/net/nstcp_listen.  The key is shown to the port's owner and to
 * CAP_NET_ADMIN in the namespace; others read "*".
 */
int nstcp_listen_show(struct seq_file *seq, void *v)
{
	struct net *net = seq_file_single_net(seq);
	struct nstcp_net *nn = nstcp_pernet(net);
	const struct cred *cred = seq->file->f_cred;
	char key[NSTCP_KEY_MAX + 1];
	struct sockaddr_storage a;
	struct nstcp_lgroup *g;
	unsigned int i;

	seq_puts(seq, NSTCP_LISTEN_COLUMNS "\n");
	mutex_lock(&nn->lg_lock);
	list_for_each_entry(g, &nn->lgroups, node) {
		memcpy(&a, &g->addr, g->addrlen);
		nstcp_addr_out(&a, g->addrlen);
		if (!g->keylen) {
			strscpy(key, "-", sizeof(key));
		} else if (uid_eq(cred->euid, g->owner) ||
			   file_ns_capable(seq->file, net->user_ns,
					   CAP_NET_ADMIN)) {
			memcpy(key, g->key, g->keylen);
			key[g->keylen] = 0;
		} else {
			strscpy(key, "*", sizeof(key));
		}
		for (i = 0; i < g->nr; i++)
			seq_printf(seq, "%pISpc %s %s %u %u %u %ld %ld %ld %u\n",
				   &a, key,
				   nstcp_policy_name(READ_ONCE(g->policy)),
				   g->nmembers, i, nstcp_qlen(&g->q[i]),
				   atomic_long_read(&g->q[i].accepted),
				   atomic_long_read(&g->q[i].stolen),
				   atomic_long_read(&g->migrated),
				   from_kuid_munged(seq_user_ns(seq), g->owner));
	}
	mutex_unlock(&nn->lg_lock);
	return 0;
}

int nstcp_listen_init(void)
{
	nstcp_wq = alloc_workqueue("nstcp", 0, 0);
	return nstcp_wq ? 0 : -ENOMEM;
}

/* After every socket is gone: let the groups' last frees run. */
void nstcp_listen_exit(void)
{
	int i;

	/*
	 * A member's users die by RCU, then its free_rcu drops the group,
	 * which queues its free_work by RCU too: three deep.
	 */
	for (i = 0; i < 3 && READ_ONCE(nstcp_rcu_used); i++)
		rcu_barrier();
	destroy_workqueue(nstcp_wq);
}
