// SPDX-License-Identifier: GPL-2.0
/*
 * AF_NSTCP NSTCP_ACCEPT_TO: a dispatcher holding a listener queues its
 * next connection straight onto a worker's inbox (inbox.c,
 * Documentation/inbox.rst).  No descriptor, no file, no token: the
 * connection is accepted into a bare socket, taken off it and queued,
 * and the worker's accept() grafts it onto the socket it makes.
 *
 * The bare socket, empty again once the connection left it, is kept on
 * the listener for its next NSTCP_ACCEPT_TO (one; concurrent callers make
 * their own), and released with the listener.
 *
 * A slot of the inbox is reserved before the accept, so a full inbox
 * costs the listener nothing; a failed accept gives the slot back.  An
 * inbox that closes meanwhile wakes a dispatcher blocked on it (its
 * accept stops on the inbox's flag), which then returns ENOENT; one
 * that closes in the instant between the accept and the queueing gets
 * the connection reset, counted given and dropped.
 */
#include <linux/capability.h>
#include <linux/cred.h>
#include <linux/net.h>
#include <linux/uaccess.h>
#include <net/sock.h>
#include <net/tcp.h>

#include "nstcp.h"
#include "inbox.h"
#include "steer.h"

/*
 * The caller may queue on @ib: the inbox's owner is the caller's euid,
 * or the caller has CAP_NET_ADMIN in the listener's namespace.
 */
static bool nstcp_accept_to_allowed(const struct net *net,
				    const struct nstcp_inbox *ib)
{
	return uid_eq(ib->owner, current_euid()) ||
	       ns_capable(net->user_ns, CAP_NET_ADMIN);
}

/* A bare socket to accept into: the one @ns keeps, or a new one. */
static struct socket *nstcp_shell_get(struct nstcp_sk *ns)
{
	struct socket *shell = xchg(&ns->shell, NULL);

	return shell ?: nstcp_sock_shell(NULL);
}

/* Empty @shell back to @ns, unless it keeps another already. */
static void nstcp_shell_put(struct nstcp_sk *ns, struct socket *shell)
{
	if (cmpxchg(&ns->shell, NULL, shell))
		sock_release(shell);
}

/*
 * The accepted connection leaves @shell, which no one saw, for the
 * inbox's queue: as a given socket's close leaves its connection (it
 * counts as the socket's close: accept() counted it made).
 */
static struct sock *nstcp_accept_to_detach(struct nstcp_sk *ns,
					   struct socket *shell)
{
	struct sock *sk = shell->sk;

	lock_sock(sk);
	write_lock_bh(&sk->sk_callback_lock);
	sk_set_socket(sk, NULL);
	RCU_INIT_POINTER(sk->sk_wq, NULL);
	write_unlock_bh(&sk->sk_callback_lock);
	sock_reset_flag(sk, SOCK_FASYNC);
	release_sock(sk);
	shell->sk = NULL;
	shell->state = SS_UNCONNECTED;
	nstcp_shell_put(ns, shell);
	return sk;
}

/*
 * Accept one connection off listening @sock into a bare socket, as its
 * accept() would (the same counts), and fill in @arg's reply.  Stops
 * with -ENOENT when @ib closes.
 */
static struct sock *nstcp_accept_to_take(struct socket *sock,
					 struct nstcp_inbox *ib,
					 struct nstcp_accept_to *arg)
{
	struct nstcp_net *nn = nstcp_pernet(sock_net(sock->sk));
	struct nstcp_sk *ns = nstcp_sk_get(sock->sk);
	int flags = 0, err, len, home, cpu;
	struct socket *shell;
	struct sock *sk;

	if (!ns)
		return ERR_PTR(-EINVAL);
	shell = nstcp_shell_get(ns);
	if (!shell)
		return ERR_PTR(-ENOMEM);
	if (sock->file && (sock->file->f_flags & O_NONBLOCK))
		flags = O_NONBLOCK;
	err = nstcp_listen_accept(sock, shell, flags, false, &ib->closed);
	if (err) {
		nstcp_shell_put(ns, shell);
		return ERR_PTR(err);
	}
	sk = shell->sk;
	home = READ_ONCE(sk->sk_incoming_cpu);
	if (home < 0 || home >= nr_cpu_ids)
		home = raw_smp_processor_id();
	nstcp_steer_learn_sk(sk);
	nstcp_stat_inc_cpu(nn, home, NSTCP_STAT_ACCEPTS);
	nstcp_stat_inc_cpu(nn, home, NSTCP_STAT_SOCKETS);

	len = shell->ops->getname(shell, (struct sockaddr *)&arg->nto_peer, 1);
	arg->nto_addrlen = len > 0 ? len : 0;
	arg->nto_cpu = READ_ONCE(sk->sk_incoming_cpu);
	/*
	 * The accept recorded the flow on this CPU: its packets go to the
	 * inbox's worker when it is pinned on one CPU (and the caller may
	 * use it), else stay where they are until the worker's accept()
	 * homes them to it.
	 */
	cpu = nstcp_taker_cpu(sock_net(sk), ib->pid);
	nstcp_rfs_point(sk, cpu >= 0 ? cpu : arg->nto_cpu);

	nstcp_accept_to_detach(ns, shell);
	nstcp_stat_inc_cpu(nn, home, NSTCP_STAT_CLOSES);
	return sk;
}

/* getsockopt(NSTCP_ACCEPT_TO): in and out. */
int nstcp_accept_to(struct socket *sock, char __user *optval,
		    int __user *optlen)
{
	struct nstcp_accept_to __user *uarg = (void __user *)optval;
	struct net *net = sock_net(sock->sk);
	struct nstcp_net *nn = nstcp_pernet(net);
	struct nstcp_inbox_resv r;
	struct nstcp_accept_to arg;
	struct nstcp_inbox *ib;
	struct sock *sk;
	int len, err;

	err = nstcp_getsockopt_in(&arg, sizeof(arg), optval, optlen, &len);
	if (err)
		return err;
	if (arg.nto_reserved || !nstcp_member(sock->sk))
		return -EINVAL;
	/* Writable: checked while a failure costs nothing; optlen as it was. */
	if (put_user(len, optlen) || copy_to_user(uarg, &arg, sizeof(arg)))
		return -EFAULT;
	ib = nstcp_inbox_lookup(nn, arg.nto_inbox);
	if (!ib)
		return -ENOENT;
	err = -EPERM;
	if (!nstcp_accept_to_allowed(net, ib))
		goto out;
	err = nstcp_inbox_reserve(ib, &r);
	if (err)
		goto out;
	memset(&arg.nto_peer, 0, sizeof(arg.nto_peer));
	arg.nto_pad = 0;
	sk = nstcp_accept_to_take(sock, ib, &arg);
	if (IS_ERR(sk)) {
		nstcp_inbox_unreserve(ib, &r);
		err = PTR_ERR(sk);
		goto out;
	}
	err = nstcp_inbox_push(ib, &r, sk);
	if (err) {
		tcp_abort(sk, ECONNABORTED);
		nstcp_dispose(nn, sk);
		goto out;
	}
	nstcp_stat_inc(nn, NSTCP_STAT_GIVEN);
	nstcp_inbox_put(ib);
	/*
	 * Queued: 0, as an error says the connection stayed on the listener.
	 * A buffer unmapped since the check loses the reply alone.
	 */
	if (put_user((int)sizeof(arg), optlen) ||
	    copy_to_user(uarg, &arg, sizeof(arg)))
		net_dbg_ratelimited("nstcp: NSTCP_ACCEPT_TO queued, its reply lost\n");
	return 0;

out:
	nstcp_inbox_put(ib);
	return err;
}
