// SPDX-License-Identifier: GPL-2.0
/*
 * AF_NSTCP inboxes, the socket side (Documentation/inbox.rst): a worker's
 * fresh AF_NSTCP socket made an inbox with NSTCP_INBOX, its accept(),
 * poll(), shutdown(SHUT_RD) and close, /proc/net/nstcp_inbox.
 *
 * A queued connection is a sock that no socket holds, as one in a TCP
 * listener's accept queue: the inbox holds its reference.  accept()
 * grafts it onto the new socket and re-homes its flow to the accepting
 * CPU, as a take does (handoff.c).  Closing the inbox resets what is
 * still queued, as closing a listener resets its accept queue.
 *
 * The inbox is set once under lock_sock() and freed at the socket's
 * release (sockstate.c): socket calls read it without the lock.
 */
#include <linux/capability.h>
#include <linux/cred.h>
#include <linux/poll.h>
#include <linux/sched/signal.h>
#include <linux/seq_file.h>
#include <linux/uaccess.h>
#include <net/inet_connection_sock.h>
#include <net/sock.h>
#include <net/tcp.h>

#include "nstcp.h"
#include "inbox.h"

struct nstcp_inbox *nstcp_inbox_of(const struct sock *sk)
{
	struct nstcp_sk *ns = nstcp_sk_get(sk);

	/* Pairs with nstcp_inbox_set()'s release: the inbox's fields set. */
	return ns ? smp_load_acquire(&ns->inbox) : NULL;
}

/* setsockopt(NSTCP_INBOX): a fresh socket becomes an inbox. */
int nstcp_inbox_set(struct socket *sock, sockptr_t optval,
		    unsigned int optlen)
{
	struct sock *sk = sock->sk;
	struct nstcp_inbox *ib;
	struct nstcp_sk *ns;
	int backlog, err;

	if (optlen != sizeof(backlog))
		return -EINVAL;
	if (copy_from_sockptr(&backlog, optval, sizeof(backlog)))
		return -EFAULT;
	if (backlog < 1 || backlog > NSTCP_INBOX_MAX)
		return -EINVAL;
	ib = nstcp_inbox_alloc(backlog);
	if (!ib)
		return -ENOMEM;

	lock_sock(sk);
	err = -EINVAL;
	if (nstcp_inbox_of(sk))
		goto out;
	err = -EISCONN;
	if (sock->state != SS_UNCONNECTED || sk->sk_state != TCP_CLOSE)
		goto out;
	err = -EINVAL;
	if (inet_sk(sk)->inet_num || !nstcp_sk_fresh(sk))
		goto out;
	ns = nstcp_sk_alloc(sk);
	err = PTR_ERR_OR_ZERO(ns);
	if (err)
		goto out;
	ib->sk = sk;
	nstcp_inbox_insert(nstcp_pernet(sock_net(sk)), ib);
	smp_store_release(&ns->inbox, ib);	/* its fields first */
	/*
	 * Not SS_UNCONNECTED: inet's connect(), Fast Open and listen() say
	 * EINVAL under the socket's lock, whatever a racing thread checked.
	 */
	sock->state = SS_DISCONNECTING;
	release_sock(sk);
	return 0;

out:
	release_sock(sk);
	nstcp_inbox_put(ib);
	return err;
}

/* getsockopt(NSTCP_INBOX): its id, backlog and queue. */
int nstcp_inbox_get(struct sock *sk, char __user *optval, int __user *optlen)
{
	struct nstcp_inbox *ib = nstcp_inbox_of(sk);
	struct nstcp_inbox_info info = {};
	int len;

	if (get_user(len, optlen))
		return -EFAULT;
	if (len < (int)sizeof(info) || !ib)
		return -EINVAL;
	info.nii_id = ib->id;
	info.nii_backlog = ib->backlog;
	info.nii_queued = READ_ONCE(ib->queued);
	len = sizeof(info);
	if (put_user(len, optlen) || copy_to_user(optval, &info, len))
		return -EFAULT;
	return 0;
}

/* Queued connection @sk becomes @newsock's, its flow homed here. */
static void nstcp_inbox_graft(struct socket *sock, struct socket *newsock,
			      struct sock *sk)
{
	struct nstcp_net *nn = nstcp_pernet(sock_net(sk));
	int home;

	if (test_bit(SOCK_SUPPORT_ZC, &sock->flags))
		set_bit(SOCK_SUPPORT_ZC, &newsock->flags);
	lock_sock(sk);
	nstcp_graft(sk, newsock);
	newsock->state = SS_CONNECTED;
	release_sock(sk);
	nstcp_stat_inc(nn, NSTCP_STAT_TAKEN);
	nstcp_rehome(nn, sk);
	home = READ_ONCE(sk->sk_incoming_cpu);
	if (home < 0 || home >= nr_cpu_ids)
		home = raw_smp_processor_id();
	nstcp_stat_inc_cpu(nn, home, NSTCP_STAT_SOCKETS);
}

/*
 * accept() on an inbox: the oldest queued connection.  Blocking as on a
 * listener; EINVAL once it is shut down and drained.
 */
int nstcp_inbox_accept(struct socket *sock, struct socket *newsock,
		       int flags)
{
	struct sock *isk = sock->sk;
	struct nstcp_inbox *ib = nstcp_inbox_of(isk);
	long timeo = sock_rcvtimeo(isk, flags & O_NONBLOCK);
	DEFINE_WAIT(wait);
	struct sock *sk;
	int err;

	for (;;) {
		sk = nstcp_inbox_pop(ib, false);
		if (sk)
			break;
		if (READ_ONCE(ib->closed))
			return -EINVAL;
		if (!timeo)
			return -EAGAIN;
		prepare_to_wait_exclusive(sk_sleep(isk), &wait,
					  TASK_INTERRUPTIBLE);
		if (!READ_ONCE(ib->queued) && !READ_ONCE(ib->closed) &&
		    !signal_pending(current))
			timeo = schedule_timeout(timeo);
		finish_wait(sk_sleep(isk), &wait);
		err = sock_intr_errno(timeo);
		if (signal_pending(current))
			return err;
	}
	nstcp_inbox_graft(sock, newsock, sk);
	return 0;
}

__poll_t nstcp_inbox_poll(struct file *file, struct socket *sock,
			  struct poll_table_struct *wait)
{
	struct nstcp_inbox *ib = nstcp_inbox_of(sock->sk);
	__poll_t mask = 0;

	sock_poll_wait(file, sock, wait);
	if (READ_ONCE(ib->queued))
		mask |= EPOLLIN | EPOLLRDNORM;
	if (READ_ONCE(ib->closed))
		mask |= EPOLLHUP;
	return mask;
}

/* SHUT_RD: no more queued; accept() ends once drained.  SHUT_WR alone: */
int nstcp_inbox_shutdown(struct socket *sock, int how)
{
	if (how < SHUT_RD || how > SHUT_RDWR)
		return -EINVAL;
	if (!((how + 1) & RCV_SHUTDOWN))
		return -ENOTCONN;	/* nothing to send on */
	nstcp_inbox_stop(nstcp_inbox_of(sock->sk), false);
	return 0;
}

/* Its socket's release: out of the table, what is queued reset. */
void nstcp_inbox_close(struct nstcp_inbox *ib)
{
	struct sock *sk;

	nstcp_inbox_unhash(ib);
	nstcp_inbox_stop(ib, true);
	while ((sk = nstcp_inbox_pop(ib, true))) {
		tcp_abort(sk, ECONNABORTED);
		nstcp_dispose(ib->nn, sk);
	}
	nstcp_inbox_put(ib);
}

/*
 * /proc/net/nstcp_inbox: a row per inbox, then the namespace's totals.
 * The id is shown to the owner and to CAP_NET_ADMIN in the namespace.
 */
int nstcp_inbox_show(struct seq_file *seq, void *v)
{
	struct net *net = seq_file_single_net(seq);
	struct nstcp_net *nn = nstcp_pernet(net);
	const struct cred *cred = seq->file->f_cred;
	bool admin = file_ns_capable(seq->file, net->user_ns, CAP_NET_ADMIN);
	unsigned long queued = 0;
	struct nstcp_inbox *ib;
	int bkt;

	seq_puts(seq, NSTCP_INBOX_COLUMNS "\n");
	spin_lock(&nn->ib_lock);
	hash_for_each(nn->ib_hash, bkt, ib, node) {
		if (admin || uid_eq(cred->euid, ib->owner))
			seq_printf(seq, "%llx", ib->id);
		else
			seq_putc(seq, '*');
		seq_printf(seq, " %u %u %u %ld %ld %ld\n",
			   from_kuid_munged(seq_user_ns(seq), ib->owner),
			   ib->backlog, READ_ONCE(ib->queued),
			   atomic_long_read(&ib->given),
			   atomic_long_read(&ib->accepted),
			   atomic_long_read(&ib->dropped));
		queued += READ_ONCE(ib->queued);
	}
	spin_unlock(&nn->ib_lock);
	seq_printf(seq, "total - - %lu %ld %ld %ld\n", queued,
		   atomic_long_read(&nn->ib_given),
		   atomic_long_read(&nn->ib_accepted),
		   atomic_long_read(&nn->ib_dropped));
	return 0;
}
