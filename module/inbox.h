/* SPDX-License-Identifier: GPL-2.0 */
/*
 * AF_NSTCP inboxes (inbox.c, inboxto.c, Documentation/inbox.rst).
 *
 * An inbox is a worker's AF_NSTCP socket that accept()s connections a
 * dispatcher queued on it with NSTCP_ACCEPT_TO.  Its namespace's table
 * (nstcp_net.ib_hash) finds it by its id.  A dispatcher reserves a slot
 * before it takes a connection off its listener, so a full inbox leaves
 * the connection where it was.
 *
 * Locking: nstcp_net.ib_lock (the table) and nstcp_inbox.lock (the
 * queue, its reservations, dead) are never held together; neither is
 * held across lock_sock() or a sleep.
 */
#ifndef _NSTCP_INBOX_H
#define _NSTCP_INBOX_H

#include <linux/list.h>
#include <linux/pid.h>
#include <linux/refcount.h>
#include <linux/sockptr.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/uidgid.h>

struct nstcp_net;
struct sock;
struct socket;
struct seq_file;
struct task_struct;
struct file;
struct poll_table_struct;

struct nstcp_inbox {
	struct hlist_node	node;		/* nstcp_net.ib_hash */
	u64			id;
	bool			hashed;
	refcount_t		ref;		/* its socket's, lookups' */
	struct nstcp_net	*nn;
	struct sock		*sk;		/* its socket's, while !dead */
	kuid_t			owner;		/* euid of its maker */
	struct pid		*pid;		/* its maker's thread group */
	spinlock_t		lock;		/* what follows */
	bool			closed;		/* SHUT_RD or closing: no more */
	unsigned int		backlog;
	unsigned int		head;		/* oldest queued */
	unsigned int		queued;
	unsigned int		reserved;	/* slots dispatchers hold */
	struct list_head	resv;		/* their nstcp_inbox_resv */
	struct sock		**q;		/* backlog slots, a ring */
	atomic_long_t		given;		/* queued, ever */
	atomic_long_t		accepted;
	atomic_long_t		dropped;	/* reset: closed with it queued */
};

/* A dispatcher's slot, held from before its accept to the queueing. */
struct nstcp_inbox_resv {
	struct list_head	node;		/* nstcp_inbox.resv */
	struct task_struct	*task;		/* woken when the inbox closes */
};

/* inbox.c: the table, the queue */
void nstcp_inboxes_init(struct nstcp_net *nn);
void nstcp_inboxes_exit(struct nstcp_net *nn);
struct nstcp_inbox *nstcp_inbox_alloc(unsigned int backlog);
void nstcp_inbox_put(struct nstcp_inbox *ib);
void nstcp_inbox_insert(struct nstcp_net *nn, struct nstcp_inbox *ib);
void nstcp_inbox_insert_gen(struct nstcp_net *nn, struct nstcp_inbox *ib,
			    u64 (*gen)(void *arg), void *arg);
void nstcp_inbox_unhash(struct nstcp_inbox *ib);
struct nstcp_inbox *nstcp_inbox_lookup(struct nstcp_net *nn, u64 id);
int nstcp_inbox_reserve(struct nstcp_inbox *ib, struct nstcp_inbox_resv *r);
void nstcp_inbox_unreserve(struct nstcp_inbox *ib, struct nstcp_inbox_resv *r);
int nstcp_inbox_push(struct nstcp_inbox *ib, struct nstcp_inbox_resv *r,
		     struct sock *sk);
struct sock *nstcp_inbox_pop(struct nstcp_inbox *ib, bool drop);
void nstcp_inbox_stop(struct nstcp_inbox *ib, bool gone);

/* inboxsk.c: the socket side */
struct nstcp_inbox *nstcp_inbox_of(const struct sock *sk);
int nstcp_inbox_set(struct socket *sock, sockptr_t optval,
		    unsigned int optlen);
int nstcp_inbox_get(struct sock *sk, char __user *optval,
		    int __user *optlen);
int nstcp_inbox_accept(struct socket *sock, struct socket *newsock,
		       int flags);
__poll_t nstcp_inbox_poll(struct file *file, struct socket *sock,
			  struct poll_table_struct *wait);
int nstcp_inbox_shutdown(struct socket *sock, int how);
void nstcp_inbox_close(struct nstcp_inbox *ib);
int nstcp_inbox_show(struct seq_file *seq, void *v);

/* inboxto.c */
int nstcp_accept_to(struct socket *sock, char __user *optval,
		    int __user *optlen);

#endif /* _NSTCP_INBOX_H */
