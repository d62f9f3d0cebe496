// SPDX-License-Identifier: GPL-2.0
/*
 * AF_NSTCP listen groups: a listening port and its per-CPU listeners.
 *
 * listen() on an AF_NSTCP socket makes it a member of its port's group
 * (listen.c).  The group owns one TCP listener per possible CPU, bound to
 * the port in a SO_REUSEPORT group of their own, each with SO_INCOMING_CPU
 * set to its CPU: the kernel completes a handshake on, and queues the
 * connection in, the listener of the CPU where the packets arrive.  The
 * listeners are made in the owner's context with the owner's socket
 * options (sockopt.c) and uid, so cgroup and LSM attribution are the
 * owner's.  An IPv4 port's listeners (the owner bound to a v4-mapped
 * address) are AF_INET socks whatever the owner's family, so that its
 * connections are IPv4 TCP socks as on AF_INET; if no AF_INET socket can
 * be created, the owner's family serves (a bind or listen refused is
 * listen()'s error, as on AF_INET).  A shared port's listeners carry the owner's
 * uid, so that only sockets of that uid can bind beside them; an exclusive
 * port's listeners carry a uid no process has.
 *
 * Locking: lock_sock(member) > nstcp_net.lg_lock > lock_sock(listener);
 * group->lock is innermost.  The listeners listen while the group has a
 * member.  The last member to leave shuts them down under lg_lock, which
 * unhashes them and frees the port, so a new group on the port never
 * meets them; an accept() still inside one of them gets EINVAL.  Their
 * sockets go with the group's memory, once no member and no accept()
 * holds it.
 */
#include <linux/capability.h>
#include <linux/cred.h>
#include <linux/file.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/uidgid.h>
#include <net/ipv6.h>
#include <net/sock.h>
#include <net/sock_reuseport.h>
#include <net/tcp.h>

#include "nstcp.h"

/* The TCP default sk_data_ready, learnt from the first listener we make. */
void (*nstcp_def_readable)(struct sock *sk) __read_mostly;

static struct workqueue_struct *nstcp_wq;
static bool nstcp_rcu_used;	/* a group or member was made: RCU frees to wait for */

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
	nstcp_limits_put(g->lim);
	kfree(g->marr);
	kfree(g);
}

void nstcp_lgroup_put(struct nstcp_lgroup *g)
{
	if (refcount_dec_and_test(&g->ref))
		queue_rcu_work(nstcp_wq, &g->free_work);
}

/*
 * @g's listener of CPU @i no longer part of it: its arrivals no longer
 * reach the group, and it is unbound as it stops listening, so that the
 * port is free at once.  Its socket, or NULL.
 */
static struct socket *nstcp_lq_detach(struct nstcp_lgroup *g, unsigned int i)
{
	struct socket *s = g->q[i].sock;

	if (!s)
		return NULL;
	write_lock_bh(&s->sk->sk_callback_lock);
	rcu_assign_sk_user_data(s->sk, NULL);
	s->sk->sk_data_ready = nstcp_def_readable;
	write_unlock_bh(&s->sk->sk_callback_lock);
	WRITE_ONCE(g->q[i].sk, NULL);
	lock_sock(s->sk);
	s->sk->sk_userlocks &= ~SOCK_BINDPORT_LOCK;
	release_sock(s->sk);
	return s;
}

/*
 * The last member left: stop the listeners, resetting what they hold, and
 * give the port back.  Under lg_lock.
 */
void nstcp_lgroup_close(struct nstcp_lgroup *g)
{
	unsigned int i;

	list_del(&g->node);
	nstcp_pernet(g->net)->lg_gen++;
	WRITE_ONCE(g->dead, true);
	for (i = 0; i < g->nr; i++) {
		struct socket *s = nstcp_lq_detach(g, i);

		if (s)
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

/*
 * The family of a group's per-CPU listeners: AF_INET for an IPv4 address
 * (a dual-stack owner bound to a v4-mapped one, ::ffff:0.0.0.0 included),
 * so that its connections are plain IPv4 TCP socks, as on AF_INET; else
 * the owner's.
 */
static int nstcp_lq_family(const struct sock *owner,
			   const struct nstcp_lgroup *g)
{
	const struct sockaddr_in6 *sin6 = (const void *)&g->addr;

	if (g->addr.ss_family == AF_INET6 &&
	    ipv6_addr_v4mapped(&sin6->sin6_addr))
		return AF_INET;
	return owner->sk_family;
}

/*
 * One listener of @family for @cpu.  *@made is false if the kernel would
 * not create a socket of @family at all (no IPv4, an LSM or a cgroup
 * sock_create program refusing it), true once it did: any later error
 * (bind, listen, a foreign reuseport group) is the port's own.
 */
static int nstcp_lq_open(struct sock *owner, struct nstcp_lgroup *g, int cpu,
			 int family, int backlog, bool *made)
{
	kuid_t uid = g->keylen || g->reuseport ? g->owner : INVALID_UID;
	struct sockaddr_storage a;
	struct socket *s;
	struct sock *sk;
	int err, alen;

	/* The group's address in the listeners' form. */
	err = nstcp_addr_in((const struct sockaddr *)&g->addr, g->addrlen,
			    family == AF_INET6, &a, &alen);
	if (err)
		return err;
	err = __sock_create(g->net, family, SOCK_STREAM, IPPROTO_TCP, &s, 0);
	if (err)
		return err;
	*made = true;
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
		err = kernel_bind(s, (struct sockaddr *)&a, alen);
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

/*
 * Listeners of @family for every CPU of @g; on failure, none, and *@made
 * tells whether any socket of @family had been created.
 */
static int nstcp_lqs_open(struct sock *owner, struct nstcp_lgroup *g,
			  int family, int backlog, bool *made)
{
	unsigned int i;
	int cpu, err = 0;

	*made = false;
	for (cpu = 0; cpu < g->nr && !err; cpu++)
		err = nstcp_lq_open(owner, g, cpu, family, backlog, made);
	if (!err)
		return 0;
	/* Not in the group list yet: nothing but arrivals sees them. */
	for (i = 0; i < g->nr; i++) {
		struct socket *s = nstcp_lq_detach(g, i);

		if (!s)
			continue;
		g->q[i].sock = NULL;
		sock_release(s);
	}
	return err;
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

/*
 * A new group on the address @a of @sk, which will be its first member;
 * its listeners listen with @backlog.  Under lg_lock.
 */
struct nstcp_lgroup *nstcp_lgroup_create(struct sock *sk, struct nstcp_sk *ns,
					 const struct sockaddr_storage *a,
					 int len, int backlog)
{
	struct nstcp_net *nn = nstcp_pernet(sock_net(sk));
	unsigned char reuse = sk->sk_reuse;
	struct nstcp_lgroup *g;
	int cpu, err, family;
	bool made;

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
	g->lim = nstcp_limits_alloc();
	if (!g->lim) {
		kfree(g);
		return ERR_PTR(-ENOMEM);
	}
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
	family = nstcp_lq_family(sk, g);
	err = nstcp_lqs_open(sk, g, family, backlog, &made);
	/*
	 * IPv4 sockets that cannot be made at all: dual-stack listeners, as
	 * before.  An IPv4 listener made but refused its bind or listen
	 * (the port taken, a bind program) fails the listen() as AF_INET
	 * would: tcp6 listeners on the v4-mapped address would listen
	 * beside the IPv4 socket that holds the port and get none of its
	 * connections.
	 */
	if (err && !made && family != sk->sk_family) {
		int err4 = err;

		err = nstcp_lqs_open(sk, g, sk->sk_family, backlog, &made);
		pr_warn_ratelimited("nstcp: no IPv4 per-CPU listeners (%d): %s\n",
				    err4, err ? "no dual-stack ones either" :
				    "dual-stack ones instead");
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
			seq_printf(seq, "%pISpc %s %s %u %u %u %ld %ld %ld %u %u %u %d %ld %u %ld\n",
				   &a, key,
				   nstcp_policy_name(READ_ONCE(g->policy)),
				   g->nmembers, i, nstcp_qlen(&g->q[i]),
				   atomic_long_read(&g->q[i].accepted),
				   atomic_long_read(&g->q[i].stolen),
				   atomic_long_read(&g->migrated),
				   from_kuid_munged(seq_user_ns(seq), g->owner),
				   READ_ONCE(g->lim->max_conns),
				   READ_ONCE(g->lim->cps),
				   atomic_read(&g->lim->conns),
				   atomic_long_read(&g->lim->refused),
				   READ_ONCE(g->lim->per_source),
				   atomic_long_read(&g->lim->src_uncounted));
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
