// SPDX-License-Identifier: GPL-2.0
/*
 * AF_NSTCP's stream proto_ops.  They wrap the inet ones of the TCP sock
 * grafted onto each AF_NSTCP socket (family.c): they translate addresses,
 * keep the per-instance counters and add the SOL_NSTCP options.
 */
#include <linux/module.h>
#include <linux/net.h>
#include <linux/socket.h>
#include <linux/tcp.h>
#include <net/inet_common.h>
#include <net/ipv6.h>
#include <net/sock.h>
#include <net/tcp.h>
#include <linux/nstcp.h>

#include "nstcp.h"
#include "steer.h"
#include "inbox.h"

static const struct proto_ops *nstcp_base(const struct sock *sk)
{
	return sk->sk_family == AF_INET6 ? nstcp_inet6_ops : &inet_stream_ops;
}

/*
 * A data-path call: count it on the calling CPU's instance, and as a hop
 * when the flow's packets are processed on another CPU.
 */
static void nstcp_count_call(struct sock *sk)
{
	struct nstcp_net *nn = nstcp_pernet(sock_net(sk));
	int home, cpu;

	nstcp_local_check(sk);
	if (!READ_ONCE(nn->hop_accounting))
		return;
	cpu = raw_smp_processor_id();
	home = READ_ONCE(sk->sk_incoming_cpu);
	nstcp_stat_inc_cpu(nn, cpu, NSTCP_STAT_CALLS);
	if (home >= 0 && home != cpu)
		nstcp_stat_inc_cpu(nn, cpu, NSTCP_STAT_HOPS);
}

/* The instance that owns a flow: its receive CPU, else the caller's. */
static int nstcp_home_cpu(const struct sock *sk)
{
	int home = READ_ONCE(sk->sk_incoming_cpu);

	if (home < 0 || home >= nr_cpu_ids)
		home = raw_smp_processor_id();
	return home;
}

static int nstcp_release(struct socket *sock)
{
	struct sock *sk = sock->sk;

	if (!sk)
		return 0;
	/* Given, not taken: the connection stays reserved, without us. */
	if (nstcp_handoff_release(sock)) {
		nstcp_stat_inc(nstcp_pernet(sock_net(sk)), NSTCP_STAT_CLOSES);
		return 0;
	}
	sk = sock->sk;	/* a take may have left us another */
	nstcp_local_check(sk);
	nstcp_sk_release(sk);
	nstcp_stat_inc_cpu(nstcp_pernet(sock_net(sk)), nstcp_home_cpu(sk),
			   NSTCP_STAT_CLOSES);
	return nstcp_base(sk)->release(sock);
}

static int nstcp_bind(struct socket *sock, struct sockaddr *uaddr, int len)
{
	struct sockaddr_storage addr;
	int err, alen;

	err = nstcp_sk_check(sock->sk);
	if (err)
		return err;
	if (nstcp_inbox_of(sock->sk))
		return -EINVAL;	/* an inbox has no address */
	err = nstcp_bind_hook4(sock->sk, uaddr, len);
	if (err)
		return err;

	/* What cannot be translated goes as it is: inet gives its own errno. */
	if (nstcp_addr_in(uaddr, len, sock->sk->sk_family == AF_INET6,
			  &addr, &alen))
		return nstcp_base(sock->sk)->bind(sock, uaddr, len);
	/* A port shared with another key, or not shared: EADDRINUSE now. */
	err = nstcp_listen_bind_check(sock->sk, &addr, alen);
	if (err)
		return err;
	return nstcp_base(sock->sk)->bind(sock, (struct sockaddr *)&addr, alen);
}

static int nstcp_connect(struct socket *sock, struct sockaddr *uaddr,
			 int len, int flags)
{
	struct sock *sk = sock->sk;
	struct sockaddr_storage addr;
	bool fresh = sock->state == SS_UNCONNECTED &&
		     READ_ONCE(sk->sk_state) == TCP_CLOSE;
	bool done = false;
	int err, alen;

	err = nstcp_sk_check(sk);
	if (err)
		return err;
	if (nstcp_inbox_of(sk))
		return -EINVAL;
	/* A listener reads TCP_LISTEN under its lock: inet says EISCONN. */
	nstcp_count_call(sk);
	/* AF_UNSPEC disconnects: on a listener, as inet, it stops listening. */
	if (len >= (int)sizeof(sa_family_t) && uaddr->sa_family == AF_UNSPEC &&
	    nstcp_member(sk)) {
		lock_sock(sk);
		nstcp_listen_leave(sk);
		release_sock(sk);
	}
	if (nstcp_addr_in(uaddr, len, sk->sk_family == AF_INET6, &addr, &alen))
		return nstcp_base(sk)->connect(sock, uaddr, len, flags);
	/* Under connect programs it only counts a fallback. */
	if (fresh)
		err = nstcp_local_connect(sock, (struct sockaddr *)&addr, alen,
					  flags, &done);
	if (!done && nstcp_hook4_applies(sk, uaddr, len))
		err = nstcp_connect_hooked4(sock, uaddr, len, flags);
	else if (!done)
		err = nstcp_base(sk)->connect(sock, (struct sockaddr *)&addr,
					      alen, flags);
	if (fresh && addr.ss_family != AF_UNSPEC &&
	    (!err || err == -EINPROGRESS))
		nstcp_stat_inc(nstcp_pernet(sock_net(sk)), NSTCP_STAT_CONNECTS);
	return err;
}

static int nstcp_accept(struct socket *sock, struct socket *newsock,
			struct proto_accept_arg *arg)
{
	struct nstcp_net *nn = nstcp_pernet(sock_net(sock->sk));
	int err, home;

	err = nstcp_sk_check(sock->sk);
	if (err)
		return err;
	if (nstcp_inbox_of(sock->sk))
		return nstcp_inbox_accept(sock, newsock, arg->flags);
	if (nstcp_member(sock->sk))
		err = nstcp_listen_accept(sock, newsock, arg->flags, arg->kern,
					  NULL);
	else
		err = compat_ops_accept(nstcp_base(sock->sk), sock, newsock,
					arg);
	if (err)
		return err;
	home = nstcp_home_cpu(newsock->sk);
	nstcp_steer_learn_sk(newsock->sk);
	nstcp_stat_inc_cpu(nn, home, NSTCP_STAT_ACCEPTS);
	nstcp_stat_inc_cpu(nn, home, NSTCP_STAT_SOCKETS);
	nstcp_count_call(newsock->sk);
	return 0;
}

DEFINE_COMPAT_ACCEPT(nstcp_accept)

static int nstcp_getname(struct socket *sock, struct sockaddr *uaddr, int peer)
{
	struct sock *sk = sock->sk;
	int len = nstcp_sk_check(sk);

	if (len)
		return len;
	len = nstcp_base(sk)->getname(sock, uaddr, peer);
	if (len < 0 || sk->sk_family != AF_INET6)
		return len;
	len = nstcp_addr_out((struct sockaddr_storage *)uaddr, len);
	if (uaddr->sa_family == AF_INET)
		nstcp_getname_hook4(sk, uaddr, &len, peer);
	return len;
}

static __poll_t nstcp_poll(struct file *file, struct socket *sock,
			   poll_table *wait)
{
	if (unlikely(nstcp_sk_check(sock->sk))) {
		/* Reserved: nothing yet; taken: hung up for good. */
		sock_poll_wait(file, sock, wait);
		return nstcp_sk_detached(sock->sk) ? EPOLLHUP | EPOLLERR : 0;
	}
	if (nstcp_member(sock->sk))
		return nstcp_listen_poll(file, sock, wait);
	if (nstcp_inbox_of(sock->sk))
		return nstcp_inbox_poll(file, sock, wait);
	return nstcp_base(sock->sk)->poll(file, sock, wait);
}

static int nstcp_ioctl(struct socket *sock, unsigned int cmd, unsigned long arg)
{
	int err = nstcp_sk_check(sock->sk);

	if (err)
		return err;
	return nstcp_base(sock->sk)->ioctl(sock, cmd, arg);
}

#ifdef CONFIG_COMPAT
static int nstcp_compat_ioctl(struct socket *sock, unsigned int cmd,
			      unsigned long arg)
{
	const struct proto_ops *base = nstcp_base(sock->sk);
	int err = nstcp_sk_check(sock->sk);

	if (err)
		return err;
	if (!base->compat_ioctl)
		return -ENOIOCTLCMD;
	return base->compat_ioctl(sock, cmd, arg);
}
#endif

static int nstcp_gettstamp(struct socket *sock, void __user *userstamp,
			   bool timeval, bool time32)
{
	int err = nstcp_sk_check(sock->sk);

	if (err)
		return err;
	return nstcp_base(sock->sk)->gettstamp(sock, userstamp, timeval, time32);
}

static int nstcp_listen_op(struct socket *sock, int backlog)
{
	int err = nstcp_sk_check(sock->sk);

	if (err)
		return err;
	if (nstcp_inbox_of(sock->sk))
		return -EINVAL;
	/* Not a stream socket's state for listen(): let inet say so. */
	if (sock->state != SS_UNCONNECTED)
		return nstcp_base(sock->sk)->listen(sock, backlog);
	return nstcp_listen(sock, backlog);
}

static int nstcp_shutdown(struct socket *sock, int how)
{
	struct sock *sk = sock->sk;
	int err = nstcp_sk_check(sk);

	if (err)
		return err;
	if (nstcp_inbox_of(sk))
		return nstcp_inbox_shutdown(sock, how);
	if (nstcp_member(sk)) {
		/* As inet: SHUT_RD stops listening; the socket stays bound. */
		if (how < SHUT_RD || how > SHUT_RDWR)
			return -EINVAL;
		lock_sock(sk);
		if ((how + 1) & RCV_SHUTDOWN)
			nstcp_listen_leave(sk);
		sk->sk_state_change(sk);
		release_sock(sk);
		return 0;
	}
	nstcp_count_call(sock->sk);
	return nstcp_base(sock->sk)->shutdown(sock, how);
}

static int nstcp_setsockopt(struct socket *sock, int level, int optname,
			    sockptr_t optval, unsigned int optlen)
{
	int err;

	err = nstcp_sk_check(sock->sk);
	if (err)
		return err;
	if (level == SOL_NSTCP && optname == NSTCP_TAKE)
		return nstcp_take(sock, optval, optlen);
	if (level == SOL_NSTCP && optname == NSTCP_INBOX)
		return nstcp_inbox_set(sock, optval, optlen);
	/* An inbox's SOL_NSTCP options are a listener's or a connection's. */
	if (level == SOL_NSTCP && nstcp_inbox_of(sock->sk))
		return -EINVAL;
	if (level == SOL_NSTCP)
		return nstcp_setsockopt_nstcp(sock->sk, optname, optval,
					      optlen);
	/*
	 * An upper layer protocol (kTLS) would replace these proto_ops and
	 * strand the module reference the socket holds.
	 */
	if (level == SOL_TCP && optname == TCP_ULP)
		return -EOPNOTSUPP;
	/* So would IPV6_ADDRFORM, turning the socket into an AF_INET one. */
	if (level == SOL_IPV6 && optname == IPV6_ADDRFORM &&
	    sock->sk->sk_family == AF_INET6)
		return -EOPNOTSUPP;
	/* It would replace the per-CPU listeners' own reuseport choice. */
	if (level == SOL_SOCKET && (optname == SO_ATTACH_REUSEPORT_CBPF ||
				    optname == SO_ATTACH_REUSEPORT_EBPF))
		return -EOPNOTSUPP;
	if (nstcp_sockopt_replayed(level, optname))
		return nstcp_sockopt_set_replayed(sock, level, optname, optval,
						  optlen);
	if (level == SOL_SOCKET)
		err = sock_setsockopt(sock, level, optname, optval, optlen);
	else
		err = nstcp_base(sock->sk)->setsockopt(sock, level, optname,
						       optval, optlen);
	if (!err)
		nstcp_sockopt_after_set(sock->sk);
	return err;
}

static int nstcp_getsockopt(struct socket *sock, int level, int optname,
			    char __user *optval, int __user *optlen)
{
	int err;

	/* NSTCP_INFO says what a given or detached socket is. */
	if (level != SOL_NSTCP || optname != NSTCP_INFO) {
		err = nstcp_sk_check(sock->sk);
		if (err)
			return err;
	}
	if (level == SOL_NSTCP && optname == NSTCP_ACCEPT_TOKEN &&
	    nstcp_inbox_of(sock->sk))
		return -EINVAL;
	if (level == SOL_NSTCP &&
	    (optname == NSTCP_GIVE || optname == NSTCP_ACCEPT_TOKEN))
		return nstcp_handoff_getsockopt(sock, optname, optval, optlen);
	if (level == SOL_NSTCP && optname == NSTCP_ACCEPT_TO)
		return nstcp_accept_to(sock, optval, optlen);
	if (level == SOL_NSTCP && optname == NSTCP_INBOX)
		return nstcp_inbox_get(sock->sk, optval, optlen);
	if (level == SOL_NSTCP && optname == NSTCP_TAKE_FD)
		return nstcp_take_fd(sock, optval, optlen);
	if (level == SOL_NSTCP)
		return nstcp_getsockopt_nstcp(sock->sk, optname, optval,
					      optlen);
	return nstcp_base(sock->sk)->getsockopt(sock, level, optname, optval,
						optlen);
}

/*
 * A send with a destination.  Only TCP Fast Open reads it; TCP ignores
 * any other, and its connect() checks one it cannot convert.
 */
static int nstcp_sendmsg_to(struct socket *sock, struct msghdr *msg,
			    size_t size)
{
	struct sock *sk = sock->sk;
	struct sockaddr_storage addr;
	void *name = msg->msg_name;
	int namelen = msg->msg_namelen;
	int err, alen;

	if (nstcp_addr_in(name, namelen, sk->sk_family == AF_INET6, &addr,
			  &alen))
		return nstcp_base(sk)->sendmsg(sock, msg, size);
	msg->msg_name = &addr;
	msg->msg_namelen = alen;
	err = nstcp_base(sk)->sendmsg(sock, msg, size);
	msg->msg_name = name;
	msg->msg_namelen = namelen;
	return err;
}

static int nstcp_sendmsg(struct socket *sock, struct msghdr *msg, size_t size)
{
	struct sock *sk = sock->sk;
	bool fresh = sock->state == SS_UNCONNECTED;
	int err;

	err = nstcp_sk_check(sk);
	if (err)
		return err;
	/* An inbox connects to nothing: a Fast Open connect() as connect(). */
	if ((msg->msg_name || (msg->msg_flags & MSG_FASTOPEN)) &&
	    nstcp_inbox_of(sk))
		return -EINVAL;
	nstcp_count_call(sk);
	if (!msg->msg_name)
		return nstcp_base(sk)->sendmsg(sock, msg, size);

	if ((msg->msg_flags & MSG_FASTOPEN) &&
	    nstcp_hook4_applies(sk, msg->msg_name, msg->msg_namelen))
		err = nstcp_fastopen_hooked4(sock, msg, size);
	else
		err = nstcp_sendmsg_to(sock, msg, size);
	/* A Fast Open connect moved the socket on: an active open. */
	if (fresh && sock->state != SS_UNCONNECTED)
		nstcp_stat_inc(nstcp_pernet(sock_net(sk)), NSTCP_STAT_CONNECTS);
	return err;
}

static int nstcp_recvmsg(struct socket *sock, struct msghdr *msg, size_t size,
			 int flags)
{
	int err = nstcp_sk_check(sock->sk);

	if (err)
		return err;
	nstcp_count_call(sock->sk);
	return nstcp_base(sock->sk)->recvmsg(sock, msg, size, flags);
}

static int nstcp_mmap(struct file *file, struct socket *sock,
		      struct vm_area_struct *vma)
{
	const struct proto_ops *base = nstcp_base(sock->sk);
	int err = nstcp_sk_check(sock->sk);

	if (err)
		return err;
	if (!base->mmap)
		return -ENODEV;
	return base->mmap(file, sock, vma);
}

static ssize_t nstcp_splice_read(struct socket *sock, loff_t *ppos,
				 struct pipe_inode_info *pipe, size_t len,
				 unsigned int flags)
{
	int err = nstcp_sk_check(sock->sk);

	if (err)
		return err;
	nstcp_count_call(sock->sk);
	return nstcp_base(sock->sk)->splice_read(sock, ppos, pipe, len, flags);
}

static void nstcp_splice_eof(struct socket *sock)
{
	const struct proto_ops *base = nstcp_base(sock->sk);

	if (base->splice_eof && !nstcp_sk_check(sock->sk))
		base->splice_eof(sock);
}

static int nstcp_sendmsg_locked(struct sock *sk, struct msghdr *msg,
				size_t size)
{
	return nstcp_base(sk)->sendmsg_locked(sk, msg, size);
}

static int nstcp_read_sock(struct sock *sk, read_descriptor_t *desc,
			   sk_read_actor_t recv_actor)
{
	return nstcp_base(sk)->read_sock(sk, desc, recv_actor);
}

static int nstcp_read_skb(struct sock *sk, skb_read_actor_t recv_actor)
{
	return nstcp_base(sk)->read_skb(sk, recv_actor);
}

static int nstcp_peek_len(struct socket *sock)
{
	if (nstcp_sk_check(sock->sk))
		return 0;
	return nstcp_base(sock->sk)->peek_len(sock);
}

static int nstcp_set_rcvlowat(struct sock *sk, int val)
{
	return nstcp_base(sk)->set_rcvlowat(sk, val);
}

/* sendpage and sendpage_locked, on kernels that still have them. */
DEFINE_COMPAT_SENDPAGE(nstcp)

const struct proto_ops nstcp_stream_ops = {
	.family		 = PF_NSTCP,
	.owner		 = THIS_MODULE,
	.release	 = nstcp_release,
	.bind		 = nstcp_bind,
	.connect	 = nstcp_connect,
	.socketpair	 = sock_no_socketpair,
	.accept		 = compat_accept_op(nstcp_accept),
	.getname	 = nstcp_getname,
	.poll		 = nstcp_poll,
	.ioctl		 = nstcp_ioctl,
#ifdef CONFIG_COMPAT
	.compat_ioctl	 = nstcp_compat_ioctl,
#endif
	.gettstamp	 = nstcp_gettstamp,
	.listen		 = nstcp_listen_op,
	.shutdown	 = nstcp_shutdown,
	.setsockopt	 = nstcp_setsockopt,
	.getsockopt	 = nstcp_getsockopt,
	.sendmsg	 = nstcp_sendmsg,
	.recvmsg	 = nstcp_recvmsg,
	.mmap		 = nstcp_mmap,
	.splice_read	 = nstcp_splice_read,
	.splice_eof	 = nstcp_splice_eof,
	.sendmsg_locked	 = nstcp_sendmsg_locked,
	COMPAT_SENDPAGE_OPS(nstcp)
	.read_sock	 = nstcp_read_sock,
	.read_skb	 = nstcp_read_skb,
	.peek_len	 = nstcp_peek_len,
	.set_rcvlowat	 = nstcp_set_rcvlowat,
};
