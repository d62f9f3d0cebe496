// SPDX-License-Identifier: GPL-2.0
/*
 * AF_NSTCP per-socket state.
 *
 * It lives in the TCP sock's ULP slot (icsk_ulp_data): AF_NSTCP refuses
 * TCP_ULP on its sockets, so the slot is the family's own and sk_user_data
 * stays free for sockmap and other kernel users.  A socket that never
 * touches SOL_NSTCP options or listen() has no state.  An accepted socket
 * carries only a tagged pointer to the member that took it, so accept()
 * allocates nothing, unless it is charged per source: its state then keeps
 * the source it was charged to.
 *
 * The state is written under lock_sock() and freed at release, when no
 * other call on the socket can run: readers in socket calls need no more.
 */
#include <linux/slab.h>
#include <net/inet_connection_sock.h>
#include <net/sock.h>
#include <kunit/visibility.h>

#include "nstcp.h"
#include "inbox.h"

#define NSTCP_ULP_PARENT	1UL	/* the slot holds an accepted socket's member */

static unsigned long nstcp_ulp(const struct sock *sk)
{
	return (unsigned long)rcu_dereference_protected(inet_csk(sk)->icsk_ulp_data,
							true);
}

struct nstcp_sk *nstcp_sk_get(const struct sock *sk)
{
	unsigned long v = nstcp_ulp(sk);

	if (v & NSTCP_ULP_PARENT)
		return NULL;
	return (struct nstcp_sk *)v;
}

static struct nstcp_member *nstcp_sk_parent(const struct sock *sk)
{
	unsigned long v = nstcp_ulp(sk);

	if (v & NSTCP_ULP_PARENT)
		return (struct nstcp_member *)(v & ~NSTCP_ULP_PARENT);
	return v ? ((struct nstcp_sk *)v)->parent : NULL;
}

struct nstcp_sk *nstcp_sk_new(void)
{
	struct nstcp_sk *ns = kzalloc(sizeof(*ns), GFP_KERNEL);

	if (ns)
		INIT_LIST_HEAD(&ns->replay);
	return ns;
}

/* The socket's state, made on first use.  Caller holds lock_sock(). */
struct nstcp_sk *nstcp_sk_alloc(struct sock *sk)
{
	struct nstcp_sk *ns = nstcp_sk_get(sk);

	sock_owned_by_me(sk);
	if (ns)
		return ns;
	ns = nstcp_sk_new();
	if (!ns)
		return ERR_PTR(-ENOMEM);
	ns->parent = nstcp_sk_parent(sk);
	rcu_assign_pointer(inet_csk(sk)->icsk_ulp_data, ns);
	return ns;
}

/*
 * An accepted socket charged to its port (limit.c: under the least policy,
 * for its load, or with a maximum of connections, in all or per source)
 * remembers its member, which holds the port's limits, until its last
 * close.  @src: its source's count has it too (srclimit.c), under that
 * key, which its state keeps: its release drops that row, whatever its
 * peer is by then.  With no memory for the state, the source's charge is
 * dropped and the connection counted as let through uncounted.
 */
void nstcp_sk_set_parent(struct sock *child, struct nstcp_member *m,
			 const struct nstcp_src_key *src)
{
	struct nstcp_sk *ns = src ? nstcp_sk_new() : NULL;

	if (src && !ns) {
		nstcp_src_release(m->lim, src);
		atomic_long_inc(&m->lim->src_uncounted);
	}
	refcount_inc(&m->ref);
	atomic_inc(&m->active);
	if (ns) {
		ns->parent = m;
		ns->parent_src = true;
		ns->parent_key = *src;
		rcu_assign_pointer(inet_csk(child)->icsk_ulp_data, ns);
		return;
	}
	rcu_assign_pointer(inet_csk(child)->icsk_ulp_data,
			   (void *)((unsigned long)m | NSTCP_ULP_PARENT));
}

/*
 * -EBADFD when the socket's connection is given (reserved for its taker)
 * or was taken (the socket is the giver's detached husk), else 0.  Read
 * without the lock: both are set under it before the give or take returns.
 */
int nstcp_sk_check(const struct sock *sk)
{
	struct nstcp_sk *ns = nstcp_sk_get(sk);

	if (likely(!ns))
		return 0;
	return READ_ONCE(ns->token) || READ_ONCE(ns->detached) ? -EBADFD : 0;
}

bool nstcp_sk_detached(const struct sock *sk)
{
	struct nstcp_sk *ns = nstcp_sk_get(sk);

	return ns && READ_ONCE(ns->detached);
}

/* A socket with no AF_NSTCP state at all: what a take lands on. */
bool nstcp_sk_fresh(const struct sock *sk)
{
	return !nstcp_ulp(sk);
}

struct nstcp_member *nstcp_member(const struct sock *sk)
{
	struct nstcp_sk *ns = nstcp_sk_get(sk);

	return ns ? READ_ONCE(ns->member) : NULL;
}
EXPORT_SYMBOL_IF_KUNIT(nstcp_member);

static void nstcp_member_free(struct rcu_head *head)
{
	struct nstcp_member *m = container_of(head, struct nstcp_member,
					      free_rcu);

	percpu_ref_exit(&m->users);
	nstcp_limits_put(m->lim);
	kfree(m);
}

void nstcp_member_put(struct nstcp_member *m)
{
	if (refcount_dec_and_test(&m->ref))
		call_rcu(&m->free_rcu, nstcp_member_free);
}

/*
 * The member left its port and the last accept() on it returned: the
 * group may go (the sockets it accepted keep only the member, for their
 * count).
 */
void nstcp_member_users_gone(struct percpu_ref *users)
{
	struct nstcp_member *m = container_of(users, struct nstcp_member, users);

	nstcp_lgroup_put(m->group);
	nstcp_member_put(m);
}

/* The socket is being released: leave its port, drop its state. */
void nstcp_sk_release(struct sock *sk)
{
	struct nstcp_member *parent = nstcp_sk_parent(sk);
	struct nstcp_sk *ns;

	lock_sock(sk);
	nstcp_listen_leave(sk);
	ns = nstcp_sk_get(sk);
	RCU_INIT_POINTER(inet_csk(sk)->icsk_ulp_data, NULL);
	release_sock(sk);
	if (parent) {
		/* The source it was charged to, not its peer's now. */
		if (ns && ns->parent_src)
			nstcp_src_release(parent->lim, &ns->parent_key);
		atomic_dec(&parent->active);
		nstcp_limits_uncharge(parent->lim);
		nstcp_member_put(parent);
	}
	if (!ns)
		return;
	if (ns->inbox)
		nstcp_inbox_close(ns->inbox);
	if (ns->shell)
		sock_release(ns->shell);
	nstcp_sockopt_free(ns);
	/* eventpoll_release() took every epoll entry off the heads. */
	nstcp_pollwq_free(ns->pollwq);
	kfree(ns);
}
