// SPDX-License-Identifier: GPL-2.0
/*
 * AF_NSTCP address family: its registration and the socket(2) entry point.
 *
 * An AF_NSTCP socket's sock is a real in-kernel TCP sock (IPv6 dual-stack,
 * or IPv4 where IPv6 is unavailable) created by the inet family and grafted
 * onto the AF_NSTCP socket, so SOL_SOCKET options, poll, the wire and every
 * TCP feature are the kernel's own.  Its proto_ops, which wrap the inet
 * ones, are streamops.c's.
 */
#define pr_fmt(fmt) "nstcp: " fmt

#include <linux/module.h>
#include <linux/net.h>
#include <linux/socket.h>
#include <net/sock.h>
#include <linux/nstcp.h>

#include "nstcp.h"

/* The inet6 stream ops are not exported: learnt from a probe socket. */
const struct proto_ops *nstcp_inet6_ops __ro_after_init;

static int nstcp_create(struct net *net, struct socket *sock, int protocol,
			int kern)
{
	struct socket *tcp;
	struct sock *sk;
	int err;

	if (sock->type != SOCK_STREAM)
		return -ESOCKTNOSUPPORT;
	if (protocol != 0 && protocol != IPPROTO_TCP)
		return -EPROTONOSUPPORT;

	err = __sock_create(net, nstcp_inet6_ops ? AF_INET6 : AF_INET,
			    SOCK_STREAM, IPPROTO_TCP, &tcp, kern);
	if (err)
		return err;

	/* Move the TCP sock over to this socket and drop its first shell. */
	sk = tcp->sk;
	sock_graft(sk, sock);
	tcp->sk = NULL;
	/* io_uring's zero-copy send looks for this on the socket. */
	if (test_bit(SOCK_SUPPORT_ZC, &tcp->flags))
		set_bit(SOCK_SUPPORT_ZC, &sock->flags);
	sock_release(tcp);
	sock->state = SS_UNCONNECTED;
	sock->ops = &nstcp_stream_ops;
	compat_custom_sol_socket(sock);

	nstcp_stat_inc(nstcp_pernet(net), NSTCP_STAT_SOCKETS);
	return 0;
}

/*
 * A socket without a file, of this family, holding @sk if given: what a
 * split accept accepts into, and how a sock nobody holds any more is
 * released as a socket would be.  sock_release() undoes it.
 */
struct socket *nstcp_sock_shell(struct sock *sk)
{
	struct socket *sock;

	if (sock_create_lite(nstcp_family, SOCK_STREAM, IPPROTO_TCP, &sock))
		return NULL;
	sock->ops = &nstcp_stream_ops;
	__module_get(THIS_MODULE);
	sock->state = SS_UNCONNECTED;
	if (sk)
		sock_graft(sk, sock);
	return sock;
}

static struct net_proto_family nstcp_pf = {
	.create	= nstcp_create,
	.owner	= THIS_MODULE,
};

int nstcp_family_init(void)
{
	struct socket *probe;
	int err;

	/* Learn the inet6 stream ops; without IPv6 sockets are IPv4 only. */
	if (!sock_create_kern(&init_net, AF_INET6, SOCK_STREAM, IPPROTO_TCP,
			      &probe)) {
		nstcp_inet6_ops = probe->ops;
		nstcp_sockopt_prot_init(probe->sk->sk_prot);
		sock_release(probe);
	} else {
		pr_info("IPv6 unavailable: AF_NSTCP sockets are IPv4 only\n");
	}
	/* The TCP protos listening members run on copies of (sockopt.c). */
	err = sock_create_kern(&init_net, AF_INET, SOCK_STREAM, IPPROTO_TCP,
			       &probe);
	if (err)
		return err;
	nstcp_sockopt_prot_init(probe->sk->sk_prot);
	sock_release(probe);

	nstcp_pf.family = nstcp_family;
	err = sock_register(&nstcp_pf);
	if (err == -EEXIST)
		pr_err("address family %d is taken; load with family=N to pick a free one\n",
		       nstcp_family);
	return err;
}

void nstcp_family_exit(void)
{
	sock_unregister(nstcp_family);
}
