// SPDX-License-Identifier: GPL-2.0
/*
 * AF_NSTCP: the cgroup IPv4 socket-address programs for a dual-stack sock.
 *
 * An AF_NSTCP socket is an AF_INET6 TCP sock inside, and inet6 runs only
 * the INET6 bind, connect and getname programs, on v4-mapped addresses;
 * for an IPv4 address AF_INET runs the INET4 ones on the sockaddr_in.
 * These run them where and as AF_INET does, so that an IPv4 policy
 * cannot be bypassed by switching the family (Documentation/listen.rst).
 * A sock that is AF_INET inside runs them itself, through inet.
 */
#include <linux/bpf-cgroup.h>
#include <linux/net.h>
#include <linux/socket.h>
#include <linux/tcp.h>
#include <net/inet_common.h>
#include <net/sock.h>
#include <net/tcp.h>

#include "nstcp.h"

/*
 * A dual-stack sock binds an IPv4 address as v4-mapped, and inet6_bind()
 * runs only the cgroup's INET6_BIND programs on it; AF_INET would run the
 * INET4_BIND ones: run those too, on the sockaddr_in (a program may
 * rewrite it).  Their "no CAP_NET_BIND_SERVICE needed" answer is not
 * passed on: the bind is only the stricter for it.
 */
int nstcp_bind_hook4(struct sock *sk, struct sockaddr *uaddr, int len)
{
#ifdef CONFIG_CGROUP_BPF
	u32 flags = 0;

	if (sk->sk_family != AF_INET6 || uaddr->sa_family != AF_INET ||
	    len < (int)sizeof(struct sockaddr_in))
		return 0;
	return compat_cgroup_inet_bind(sk, uaddr, &len, CGROUP_INET4_BIND,
				       &flags);
#else
	return 0;
#endif
}

/*
 * The same for connect: inet6's connect runs only the INET6_CONNECT
 * programs, on the v4-mapped address; AF_INET runs the INET4_CONNECT ones
 * on the sockaddr_in, which they may deny (EPERM) or rewrite.  Whether
 * that applies to a connect to @uaddr:
 */
bool nstcp_hook4_applies(const struct sock *sk, const struct sockaddr *uaddr,
			 int len)
{
#ifdef CONFIG_CGROUP_BPF
	return sk->sk_family == AF_INET6 &&
	       len >= (int)sizeof(struct sockaddr_in) &&
	       uaddr->sa_family == AF_INET &&
	       cgroup_bpf_enabled(CGROUP_INET4_CONNECT);
#else
	return false;
#endif
}

/*
 * Such a connect, as inet_stream_connect() makes it, under one hold of
 * the socket lock: the state check, the INET4_CONNECT programs on the
 * caller's (kernel) copy of the sockaddr_in, then the connect of what
 * they leave, v4-mapped (where inet6 runs the INET6_CONNECT programs).
 */
int nstcp_connect_hooked4(struct socket *sock, struct sockaddr *uaddr,
			  int len, int flags)
{
	struct sock *sk = sock->sk;
	struct sockaddr_storage addr;
	int err = 0, alen;

	lock_sock(sk);
	if (sock->state == SS_UNCONNECTED && sk->sk_state == TCP_CLOSE)
		err = compat_cgroup_inet4_connect(sk, uaddr, &len);
	if (!err)
		err = nstcp_addr_in(uaddr, len, true, &addr, &alen);
	if (!err)
		err = __inet_stream_connect(sock, (struct sockaddr *)&addr,
					    alen, flags, 0);
	release_sock(sk);
	return err;
}

/*
 * inet6_getname() runs only the INET6_GETPEERNAME/GETSOCKNAME programs, on
 * the v4-mapped address; AF_INET runs the INET4 ones on the sockaddr_in,
 * which they may rewrite: run those too, on the sockaddr_in returned.  An
 * AF_INET sock inside is inet_getname()'s, which runs them itself.
 */
void nstcp_getname_hook4(struct sock *sk, struct sockaddr *uaddr, int *len,
			 int peer)
{
#ifdef CONFIG_CGROUP_BPF
	if (peer)
		compat_cgroup_getname_lock(sk, uaddr, len,
					   CGROUP_INET4_GETPEERNAME);
	else
		compat_cgroup_getname_lock(sk, uaddr, len,
					   CGROUP_INET4_GETSOCKNAME);
#endif
}

/*
 * Whether TCP's sendmsg(MSG_FASTOPEN) on @sk would connect it, where
 * inet runs the connect programs: Fast Open on for clients, none under
 * way, not in repair, a fresh socket.  Socket locked.
 */
static bool nstcp_fastopen_connects(const struct socket *sock)
{
	const struct sock *sk = sock->sk;
	const struct tcp_sock *tp = tcp_sk(sk);

	return (READ_ONCE(sock_net(sk)->ipv4.sysctl_tcp_fastopen) &
		TFO_CLIENT_ENABLE) && !tp->repair && !tp->fastopen_req &&
	       sock->state == SS_UNCONNECTED && sk->sk_state == TCP_CLOSE;
}

/*
 * A Fast Open sendmsg() to an IPv4 destination under INET4_CONNECT
 * programs: as the connect in nstcp_connect_hooked4(), TCP's send under
 * the lock hold that checks the state and runs the programs, so that a
 * connected socket says EISCONN, as on AF_INET, and a socket cannot turn
 * fresh unchecked in between.  TCP's own send: a sockmap's, which would
 * send on a connected socket, does not see it.
 */
int nstcp_fastopen_hooked4(struct socket *sock, struct msghdr *msg,
			   size_t size)
{
	struct sock *sk = sock->sk;
	struct sockaddr_storage addr;
	void *name = msg->msg_name;
	int namelen = msg->msg_namelen;
	int err, alen, len = namelen;

	/* What inet6_sendmsg() does before TCP's sendmsg. */
	if (unlikely(inet_send_prepare(sk)))
		return -EAGAIN;
	lock_sock(sk);
	err = 0;
	if (nstcp_fastopen_connects(sock))
		err = compat_cgroup_inet4_connect(sk, name, &len);
	if (!err)
		err = nstcp_addr_in(name, len, true, &addr, &alen);
	if (!err) {
		msg->msg_name = &addr;
		msg->msg_namelen = alen;
		err = tcp_sendmsg_locked(sk, msg, size);
		msg->msg_name = name;
		msg->msg_namelen = namelen;
	}
	release_sock(sk);
	return err;
}
