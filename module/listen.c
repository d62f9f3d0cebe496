// SPDX-License-Identifier: GPL-2.0
/*
 * AF_NSTCP listening sockets: listen() joins the port's group (lgroup.c),
 * shutdown(SHUT_RD) or close() leaves it, and bind() checks early that
 * the group would take the socket.
 *
 * Every member is a bound TCP sock: bind() is the kernel's own, with its
 * privileged-port rule, cgroup BPF hook, LSM check and SO_REUSEPORT's
 * same-uid rule.  A port is shared by a key (NSTCP_SHARE_KEY, which implies
 * SO_REUSEPORT) or, without one, by SO_REUSEPORT alone; then its listeners
 * carry the owner's uid and only sockets of that uid can bind beside them.
 *
 * Locking: lock_sock(member) > nstcp_net.lg_lock > group->lock (see
 * lgroup.c).
 */
#include <linux/cred.h>
#include <linux/file.h>
#include <linux/slab.h>
#include <linux/uidgid.h>
#include <net/inet_common.h>
#include <net/ipv6.h>
#include <net/sock.h>
#include <net/tcp.h>

#include "nstcp.h"

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

/* Whether a socket with state @ns (may be NULL) may join group @g. */
static bool nstcp_may_share(const struct nstcp_lgroup *g, const struct sock *sk,
			    const struct nstcp_sk *ns)
{
	if (g->keylen)
		return ns && g->keylen == ns->keylen &&
		       !memcmp(g->key, ns->key, g->keylen);
	return g->reuseport && sk->sk_reuseport && !(ns && ns->keylen);
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

/*
 * The bound address of @sock in the TCP socket's own form, read from the
 * sock as inet(6)_getname() would, but without the cgroup getsockname
 * programs they run, which may rewrite what the caller sees.
 */
static int nstcp_bound_addr(struct socket *sock, struct sockaddr_storage *a)
{
	const struct sock *sk = sock->sk;
	__be16 port = inet_sk(sk)->inet_sport;

	memset(a, 0, sizeof(*a));
	if (sk->sk_family == AF_INET6) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)a;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = port;
		sin6->sin6_addr = sk->sk_v6_rcv_saddr;
		sin6->sin6_scope_id =
			ipv6_iface_scope_id(&sin6->sin6_addr,
					    sk->sk_bound_dev_if);
		return sizeof(*sin6);
	}
	((struct sockaddr_in *)a)->sin_family = AF_INET;
	((struct sockaddr_in *)a)->sin_port = port;
	((struct sockaddr_in *)a)->sin_addr.s_addr = inet_sk(sk)->inet_rcv_saddr;
	return sizeof(struct sockaddr_in);
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
	m->lim = g->lim;
	nstcp_limits_get(m->lim);
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
	lock_sock(sk);
	len = nstcp_bound_addr(sock, &a);
	ns = nstcp_sk_alloc(sk);
	if (IS_ERR(ns)) {
		err = PTR_ERR(ns);
		goto out_unlock;
	}
	/* Made an inbox since streamops.c looked: never a listener. */
	err = -EINVAL;
	if (ns->inbox)
		goto out_unlock;
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
