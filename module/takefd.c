// SPDX-License-Identifier: GPL-2.0
/*
 * AF_NSTCP hand-off: a take into a new descriptor (NSTCP_TAKE_FD,
 * Documentation/handoff.rst).
 *
 * NSTCP_TAKE grafts the connection onto a fresh socket the taker made for
 * it, a whole TCP sock that the take then disposes of, or leaves to the
 * giver as its detached husk.  This take makes only what it needs: a
 * socket without a sock, its file and a descriptor number, plus a husk
 * when, and only when, the giver still holds the connection.  All of it is
 * made before the token is claimed, so nothing can fail once the token is
 * ours; the descriptor is installed last.
 *
 * A split accept's token holds a socket with its file already (made at
 * the accept, handoff.c): that file is installed as it is, nothing made.
 * The install is the one step that can fail after the claim; what the
 * take changed on the socket is undone then, and the token put back.
 *
 * Locking as NSTCP_TAKE's: lock_sock(the husk) > lock_sock(the
 * connection's, nested).
 */
#include <linux/cred.h>
#include <linux/fcntl.h>
#include <linux/file.h>
#include <linux/net.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <net/inet_connection_sock.h>
#include <net/sock.h>

#include "nstcp.h"

/* What a take needs, made before the token is claimed. */
struct nstcp_takefd {
	struct socket	*sock;	/* the taker's new socket, no sock yet */
	struct file	*file;	/* its file */
	int		fd;	/* its descriptor, reserved */
	struct socket	*hsock;	/* a husk's TCP socket, or NULL */
	struct nstcp_sk	*hns;	/* the husk's state, detached */
};

/*
 * The socket the connection will be grafted onto: of this family, as
 * socket() would make it but without a sock.  A module reaches the LSM's
 * socket hooks only through sock_create_lite() (run as for a kernel
 * socket); the graft labels the socket with the connection's sock, as
 * NSTCP_TAKE and accept() do.
 */
static int nstcp_takefd_prepare(struct socket *sock, u32 flags,
				struct nstcp_takefd *tf)
{
	int err;

	tf->sock = nstcp_sock_shell(NULL);
	if (!tf->sock)
		return -ENOMEM;
	compat_custom_sol_socket(tf->sock);
	if (test_bit(SOCK_SUPPORT_ZC, &sock->flags))
		set_bit(SOCK_SUPPORT_ZC, &tf->sock->flags);
	/* On failure this releases the socket. */
	tf->file = sock_alloc_file(tf->sock,
				   flags & SOCK_NONBLOCK ? O_NONBLOCK : 0,
				   NULL);
	if (IS_ERR(tf->file))
		return PTR_ERR(tf->file);
	err = get_unused_fd_flags(flags & SOCK_CLOEXEC ? O_CLOEXEC : 0);
	if (err < 0) {
		fput(tf->file);
		return err;
	}
	tf->fd = err;
	return 0;
}

/*
 * A husk for a giver still holding the connection: an unconnected TCP
 * sock made as socket() makes one, in the namespace and family of
 * @sock's.  The TCP socket it comes in is dropped once it is grafted.
 */
static int nstcp_takefd_husk(struct socket *sock, struct nstcp_takefd *tf)
{
	int err;

	tf->hns = nstcp_sk_new();
	if (!tf->hns)
		return -ENOMEM;
	tf->hns->detached = true;
	err = __sock_create(sock_net(sock->sk), sock->sk->sk_family,
			    SOCK_STREAM, IPPROTO_TCP, &tf->hsock, 0);
	if (err) {
		kfree(tf->hns);
		tf->hns = NULL;
		tf->hsock = NULL;
	}
	return err;
}

/* Whatever of the husk was not used. */
static void nstcp_takefd_husk_free(struct nstcp_takefd *tf)
{
	if (tf->hsock)
		sock_release(tf->hsock);
	kfree(tf->hns);
}

/* Claimed token @t's connection becomes the new socket's: cannot fail. */
static void nstcp_takefd_graft(struct nstcp_net *nn, struct nstcp_token *t,
			       struct nstcp_takefd *tf)
{
	struct sock *husk = tf->hsock ? tf->hsock->sk : NULL;
	struct sock *sk = t->sk;
	struct socket *giver;
	struct nstcp_sk *ns;

	if (husk)
		lock_sock(husk);
	lock_sock_nested(sk, husk ? SINGLE_DEPTH_NESTING : 0);
	ns = nstcp_sk_get(sk);
	WRITE_ONCE(ns->token, NULL);
	giver = t->sock;
	if (giver && !t->kern) {
		/*
		 * nstcp_token_held() saw the giver, so the husk is here.  The
		 * giver's socket gets it, detached, and its sleepers are
		 * woken to find it so; its release waits for the husk's
		 * lock, which we hold until done with it.
		 */
		/* The giver's poll heads stay with it (see nstcp_take()). */
		tf->hns->pollwq = xchg(&ns->pollwq, NULL);
		rcu_assign_pointer(inet_csk(husk)->icsk_ulp_data, tf->hns);
		tf->hns = NULL;
		tf->hsock->sk = NULL;
		giver->state = SS_UNCONNECTED;
		nstcp_graft(husk, giver);
		sock_valbool_flag(husk, SOCK_FASYNC, !!giver->wq.fasync_list);
		husk->sk_state_change(husk);
	}
	nstcp_graft(sk, tf->sock);
	tf->sock->state = SS_CONNECTED;
	sock_reset_flag(sk, SOCK_FASYNC);
	release_sock(sk);
	if (husk)
		release_sock(husk);

	nstcp_stat_inc(nn, NSTCP_STAT_TAKEN);
	nstcp_stat_inc(nn, NSTCP_STAT_SOCKETS);	/* the new socket */
	nstcp_rehome(nn, sk);
	if (giver && t->kern) {
		/* A split accept's socket, empty now: it counts as closed. */
		giver->sk = NULL;
		nstcp_stat_inc(nn, NSTCP_STAT_CLOSES);
		nstcp_token_drop_sock(t);
	}
	nstcp_takefd_husk_free(tf);
	nstcp_token_put(t);
}

/* What a split accept's take changes on its socket, to be undone. */
struct nstcp_takefd_was {
	kuid_t		uid;		/* the inode's */
	kgid_t		gid;
	kuid_t		sk_uid;
	unsigned int	nonblock;	/* O_NONBLOCK of the file's flags */
};

/* Set @sock's owner and @file's O_NONBLOCK, saying what they were in @was. */
static void nstcp_takefd_set(struct socket *sock, struct file *file,
			     kuid_t uid, kgid_t gid, kuid_t sk_uid,
			     unsigned int nonblock,
			     struct nstcp_takefd_was *was)
{
	struct inode *inode = SOCK_INODE(sock);
	struct sock *sk = sock->sk;

	write_lock_bh(&sk->sk_callback_lock);
	was->uid = inode->i_uid;
	was->gid = inode->i_gid;
	was->sk_uid = sk->sk_uid;
	inode->i_uid = uid;
	inode->i_gid = gid;
	sk->sk_uid = sk_uid;
	write_unlock_bh(&sk->sk_callback_lock);
	spin_lock(&file->f_lock);
	was->nonblock = file->f_flags & O_NONBLOCK;
	file->f_flags = (file->f_flags & ~O_NONBLOCK) | nonblock;
	spin_unlock(&file->f_lock);
}

/*
 * Claimed split accept token @t's socket becomes the caller's: it gets
 * the taker's uid, as a socket the taker made would, and the take's
 * O_NONBLOCK; what it had goes into @was.  Nobody sees it meanwhile: its
 * file has no descriptor yet, and the token is out of the table.
 */
static void nstcp_takefd_own(struct nstcp_token *t, u32 flags,
			     struct nstcp_takefd_was *was)
{
	struct sock *sk = t->sk;

	lock_sock(sk);
	WRITE_ONCE(nstcp_sk_get(sk)->token, NULL);
	nstcp_takefd_set(t->sock, t->file, current_fsuid(), current_fsgid(),
			 current_fsuid(),
			 flags & SOCK_NONBLOCK ? O_NONBLOCK : 0, was);
	release_sock(sk);
}

/* The install failed: the socket is the token's again, as it was. */
static void nstcp_takefd_unown(struct nstcp_token *t,
			       const struct nstcp_takefd_was *was)
{
	struct nstcp_takefd_was now;
	struct sock *sk = t->sk;

	lock_sock(sk);
	nstcp_takefd_set(t->sock, t->file, was->uid, was->gid, was->sk_uid,
			 was->nonblock, &now);
	WRITE_ONCE(nstcp_sk_get(sk)->token, t);
	release_sock(sk);
}

/*
 * NSTCP_TAKE_FD of claimed split accept token @t: its file is installed
 * as SCM_RIGHTS installs one (receive_fd(): the LSM's file_receive check,
 * the socket's cgroup data updated for the taker), nothing else is made.
 * The install can fail (EMFILE, the LSM) once the token is claimed: the
 * socket is then as it was, the token is put back, and the caller gets
 * the error.  Once installed, the descriptor is the caller's: a fault
 * writing its number after the install (before 6.8 only, compat.h) is
 * -EFAULT with the take done, as SCM_RIGHTS leaves a descriptor it could
 * not report.
 */
static int nstcp_takefd_file(struct nstcp_net *nn, struct nstcp_token *t,
			     u32 flags, int __user *ufd)
{
	struct nstcp_takefd_was was;
	bool fault;
	int fd;

	nstcp_takefd_own(t, flags, &was);
	fd = compat_receive_fd(t->file, ufd,
			       flags & SOCK_CLOEXEC ? O_CLOEXEC : 0, &fault);
	if (fd < 0) {
		nstcp_takefd_unown(t, &was);
		nstcp_token_republish(nn, t);
		return fd;
	}
	/* The socket was counted made by the accept: its close counts. */
	nstcp_stat_inc(nn, NSTCP_STAT_TAKEN);
	nstcp_rehome(nn, t->sk);
	/* The descriptor holds the file: the token's reference goes. */
	fput(t->file);
	t->file = NULL;
	nstcp_token_put(t);
	return fault ? -EFAULT : 0;
}

/* getsockopt(NSTCP_TAKE_FD): token's connection into a new descriptor. */
int nstcp_take_fd(struct socket *sock, char __user *optval,
		  int __user *optlen)
{
	struct nstcp_take_fd __user *uarg = (void __user *)optval;
	struct nstcp_net *nn = nstcp_pernet(sock_net(sock->sk));
	struct nstcp_takefd tf = {};
	struct nstcp_take_fd arg;
	struct nstcp_token *t;
	int len, err;

	err = nstcp_getsockopt_in(&arg, sizeof(arg), optval, optlen, &len);
	if (err)
		return err;
	if (arg.ntf_flags & ~(SOCK_CLOEXEC | SOCK_NONBLOCK))
		return -EINVAL;
	/*
	 * Whether all of it can be written, checked while a failure still
	 * leaves the token untouched; the descriptor's number comes last.
	 */
	arg.ntf_fd = -1;
	if (put_user((int)sizeof(arg), optlen) ||
	    copy_to_user(uarg, &arg, sizeof(arg)))
		return -EFAULT;
	t = nstcp_token_claim_file(nn, arg.ntf_token);
	if (IS_ERR(t))
		return PTR_ERR(t);
	if (t)
		return nstcp_takefd_file(nn, t, arg.ntf_flags, &uarg->ntf_fd);
	err = nstcp_takefd_prepare(sock, arg.ntf_flags, &tf);
	if (err)
		return err;
	err = -EFAULT;
	if (put_user(tf.fd, &uarg->ntf_fd))
		goto out_fd;
	if (nstcp_token_held(nn, arg.ntf_token)) {
		err = nstcp_takefd_husk(sock, &tf);
		if (err)
			goto out_fd;
	}
	t = nstcp_token_claim(nn, arg.ntf_token);
	if (IS_ERR(t)) {
		err = PTR_ERR(t);
		goto out_husk;
	}
	nstcp_takefd_graft(nn, t, &tf);
	fd_install(tf.fd, tf.file);
	return 0;

out_husk:
	nstcp_takefd_husk_free(&tf);
out_fd:
	put_unused_fd(tf.fd);
	fput(tf.file);
	return err;
}
