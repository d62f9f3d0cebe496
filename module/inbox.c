// SPDX-License-Identifier: GPL-2.0
/*
 * AF_NSTCP inboxes: a namespace's table of inboxes and an inbox's queue
 * (Documentation/inbox.rst).  The socket side is inboxsk.c's, the
 * dispatcher's NSTCP_ACCEPT_TO inboxto.c's.
 *
 * The queue is a ring of backlog slots, allocated with the inbox and
 * charged to its maker's memory cgroup.  A slot is reserved by a
 * dispatcher before it takes a connection off its listener, and filled
 * (or given back) after: queued + reserved never exceeds the backlog.  A
 * closed inbox takes no more: reservations fail, dispatchers holding one
 * are woken, and what is queued is drained by the close.
 *
 * Every queued connection is counted given once, then accepted or dropped
 * once: given == accepted + dropped + queued, per inbox and (closed
 * inboxes included) per namespace.
 */
#include <linux/cred.h>
#include <linux/mm.h>
#include <linux/random.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <net/sock.h>
#include <kunit/visibility.h>

#include "nstcp.h"
#include "inbox.h"

void nstcp_inboxes_init(struct nstcp_net *nn)
{
	spin_lock_init(&nn->ib_lock);
	hash_init(nn->ib_hash);
	nn->ninboxes = 0;
	atomic_long_set(&nn->ib_given, 0);
	atomic_long_set(&nn->ib_accepted, 0);
	atomic_long_set(&nn->ib_dropped, 0);
}
EXPORT_SYMBOL_IF_KUNIT(nstcp_inboxes_init);

/* Each inbox is its socket's, and a socket holds its namespace. */
void nstcp_inboxes_exit(struct nstcp_net *nn)
{
	WARN_ON_ONCE(READ_ONCE(nn->ninboxes));
}
EXPORT_SYMBOL_IF_KUNIT(nstcp_inboxes_exit);

/* A new inbox of @backlog slots, the caller's: not yet in a table. */
struct nstcp_inbox *nstcp_inbox_alloc(unsigned int backlog)
{
	struct nstcp_inbox *ib;

	if (!backlog || backlog > NSTCP_INBOX_MAX)
		return NULL;
	ib = kzalloc(sizeof(*ib), GFP_KERNEL_ACCOUNT);
	if (!ib)
		return NULL;
	ib->q = kvcalloc(backlog, sizeof(*ib->q), GFP_KERNEL_ACCOUNT);
	if (!ib->q) {
		kfree(ib);
		return NULL;
	}
	refcount_set(&ib->ref, 1);
	spin_lock_init(&ib->lock);
	INIT_LIST_HEAD(&ib->resv);
	ib->backlog = backlog;
	ib->owner = current_euid();
	ib->pid = get_pid(task_tgid(current));
	return ib;
}
EXPORT_SYMBOL_IF_KUNIT(nstcp_inbox_alloc);

void nstcp_inbox_put(struct nstcp_inbox *ib)
{
	if (!refcount_dec_and_test(&ib->ref))
		return;
	WARN_ON_ONCE(ib->queued || ib->reserved || ib->hashed);
	put_pid(ib->pid);
	kvfree(ib->q);
	kfree(ib);
}
EXPORT_SYMBOL_IF_KUNIT(nstcp_inbox_put);

static struct nstcp_inbox *nstcp_inbox_find(struct nstcp_net *nn, u64 id)
{
	struct nstcp_inbox *ib;

	lockdep_assert_held(&nn->ib_lock);
	hash_for_each_possible(nn->ib_hash, ib, node, id)
		if (ib->id == id)
			return ib;
	return NULL;
}

/*
 * Into @nn's table under a new id, drawn from @gen until it is neither 0
 * nor taken there (KUnit's @gen forces both).
 */
void nstcp_inbox_insert_gen(struct nstcp_net *nn, struct nstcp_inbox *ib,
			    u64 (*gen)(void *arg), void *arg)
{
	u64 id;

	spin_lock(&nn->ib_lock);
	do {
		id = gen(arg);
	} while (!id || nstcp_inbox_find(nn, id));
	ib->id = id;
	ib->nn = nn;
	ib->hashed = true;
	hash_add(nn->ib_hash, &ib->node, id);
	WRITE_ONCE(nn->ninboxes, nn->ninboxes + 1);
	spin_unlock(&nn->ib_lock);
}
EXPORT_SYMBOL_IF_KUNIT(nstcp_inbox_insert_gen);

static u64 nstcp_inbox_random_id(void *arg)
{
	return get_random_u64();
}

/* Into @nn's table under a new id: unguessable, never 0, unique there. */
void nstcp_inbox_insert(struct nstcp_net *nn, struct nstcp_inbox *ib)
{
	nstcp_inbox_insert_gen(nn, ib, nstcp_inbox_random_id, NULL);
}
EXPORT_SYMBOL_IF_KUNIT(nstcp_inbox_insert);

/* Out of its table: no dispatcher finds it any more. */
void nstcp_inbox_unhash(struct nstcp_inbox *ib)
{
	struct nstcp_net *nn = ib->nn;

	spin_lock(&nn->ib_lock);
	if (ib->hashed) {
		hash_del(&ib->node);
		ib->hashed = false;
		WRITE_ONCE(nn->ninboxes, nn->ninboxes - 1);
	}
	spin_unlock(&nn->ib_lock);
}
EXPORT_SYMBOL_IF_KUNIT(nstcp_inbox_unhash);

/* Inbox @id of @nn, with a reference, or NULL. */
struct nstcp_inbox *nstcp_inbox_lookup(struct nstcp_net *nn, u64 id)
{
	struct nstcp_inbox *ib;

	spin_lock(&nn->ib_lock);
	ib = id ? nstcp_inbox_find(nn, id) : NULL;
	if (ib)
		refcount_inc(&ib->ref);
	spin_unlock(&nn->ib_lock);
	return ib;
}
EXPORT_SYMBOL_IF_KUNIT(nstcp_inbox_lookup);

/*
 * A slot for the calling dispatcher, which is woken should the inbox
 * close meanwhile.  -ENOENT (closed), -ENOBUFS (every slot queued or
 * reserved).
 */
int nstcp_inbox_reserve(struct nstcp_inbox *ib, struct nstcp_inbox_resv *r)
{
	int err = 0;

	spin_lock(&ib->lock);
	if (ib->closed)
		err = -ENOENT;
	else if (ib->queued + ib->reserved >= ib->backlog)
		err = -ENOBUFS;
	if (!err) {
		ib->reserved++;
		r->task = current;
		list_add(&r->node, &ib->resv);
	}
	spin_unlock(&ib->lock);
	return err;
}
EXPORT_SYMBOL_IF_KUNIT(nstcp_inbox_reserve);

static void nstcp_inbox_unreserve_locked(struct nstcp_inbox *ib,
					 struct nstcp_inbox_resv *r)
{
	lockdep_assert_held(&ib->lock);
	ib->reserved--;
	list_del(&r->node);
}

void nstcp_inbox_unreserve(struct nstcp_inbox *ib, struct nstcp_inbox_resv *r)
{
	spin_lock(&ib->lock);
	nstcp_inbox_unreserve_locked(ib, r);
	spin_unlock(&ib->lock);
}
EXPORT_SYMBOL_IF_KUNIT(nstcp_inbox_unreserve);

static void nstcp_inbox_count(struct nstcp_inbox *ib, bool given, bool drop)
{
	if (given) {
		atomic_long_inc(&ib->given);
		atomic_long_inc(&ib->nn->ib_given);
	}
	if (drop) {
		atomic_long_inc(&ib->dropped);
		atomic_long_inc(&ib->nn->ib_dropped);
	} else if (!given) {
		atomic_long_inc(&ib->accepted);
		atomic_long_inc(&ib->nn->ib_accepted);
	}
}

/*
 * Tell the inbox's socket: its pollers and one blocked accept(), or with
 * @all every one of them.  Under ib->lock: the socket is there while the
 * inbox is not closed.
 */
static void nstcp_inbox_wake(struct nstcp_inbox *ib, bool all)
{
	struct socket_wq *wq;

	if (!ib->sk)
		return;
	rcu_read_lock();
	wq = rcu_dereference(ib->sk->sk_wq);
	if (skwq_has_sleeper(wq)) {
		if (all)
			wake_up_interruptible_all(&wq->wait);
		else
			wake_up_interruptible_poll(&wq->wait,
						   EPOLLIN | EPOLLRDNORM);
	}
	rcu_read_unlock();
}

/*
 * Queue @sk in the slot @r reserved.  -ENOENT if the inbox closed
 * meanwhile: the caller resets @sk, counted given and dropped here.
 */
int nstcp_inbox_push(struct nstcp_inbox *ib, struct nstcp_inbox_resv *r,
		     struct sock *sk)
{
	int err = 0;

	spin_lock(&ib->lock);
	nstcp_inbox_unreserve_locked(ib, r);
	if (ib->closed) {
		err = -ENOENT;
		nstcp_inbox_count(ib, true, true);
	} else {
		ib->q[(ib->head + ib->queued) % ib->backlog] = sk;
		WRITE_ONCE(ib->queued, ib->queued + 1);
		nstcp_inbox_count(ib, true, false);
		nstcp_inbox_wake(ib, false);
	}
	spin_unlock(&ib->lock);
	return err;
}
EXPORT_SYMBOL_IF_KUNIT(nstcp_inbox_push);

/* The oldest queued connection, counted accepted or (@drop) dropped. */
struct sock *nstcp_inbox_pop(struct nstcp_inbox *ib, bool drop)
{
	struct sock *sk = NULL;

	spin_lock(&ib->lock);
	if (ib->queued) {
		sk = ib->q[ib->head];
		ib->q[ib->head] = NULL;
		ib->head = (ib->head + 1) % ib->backlog;
		WRITE_ONCE(ib->queued, ib->queued - 1);
		nstcp_inbox_count(ib, false, drop);
	}
	spin_unlock(&ib->lock);
	return sk;
}
EXPORT_SYMBOL_IF_KUNIT(nstcp_inbox_pop);

/*
 * It takes no more (SHUT_RD, or @gone: its socket closes): reservations
 * fail from now on, dispatchers holding one are woken to find it so, and
 * so is every accept() blocked on it.
 */
void nstcp_inbox_stop(struct nstcp_inbox *ib, bool gone)
{
	struct nstcp_inbox_resv *r;

	spin_lock(&ib->lock);
	WRITE_ONCE(ib->closed, true);
	list_for_each_entry(r, &ib->resv, node)
		wake_up_process(r->task);
	nstcp_inbox_wake(ib, true);
	if (gone)
		ib->sk = NULL;
	spin_unlock(&ib->lock);
}
EXPORT_SYMBOL_IF_KUNIT(nstcp_inbox_stop);
