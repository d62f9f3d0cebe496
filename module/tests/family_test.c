// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit: the AF_NSTCP family through in-kernel sockets (family.c and
 * streamops.c): socket creation, address translation on the way in and
 * out, a loopback connection and the counters it moves.
 */
#include <kunit/test.h>
#include <linux/in.h>
#include <linux/in6.h>
#include <linux/net.h>
#include <linux/uio.h>
#include <net/net_namespace.h>
#include <net/sock.h>

#include "../nstcp.h"

static struct socket *family_sock(struct kunit *test)
{
	struct socket *sock = NULL;

	KUNIT_ASSERT_EQ(test, 0, sock_create_kern(&init_net, nstcp_family,
						  SOCK_STREAM, 0, &sock));
	return sock;
}

static void family_create(struct kunit *test)
{
	struct socket *sock = family_sock(test);

	KUNIT_EXPECT_TRUE(test, sock->sk->sk_family == AF_INET6 ||
			  sock->sk->sk_family == AF_INET);
	KUNIT_EXPECT_EQ(test, (int)sock->state, (int)SS_UNCONNECTED);
	KUNIT_ASSERT_NOT_NULL(test, sock->sk);
	KUNIT_EXPECT_PTR_EQ(test, sock->sk->sk_socket, sock);
	KUNIT_EXPECT_EQ(test, sock->sk->sk_protocol, IPPROTO_TCP);
	KUNIT_EXPECT_EQ(test, sock->sk->sk_type, SOCK_STREAM);
	sock_release(sock);
}

static void family_create_bad(struct kunit *test)
{
	struct socket *sock = NULL;

	KUNIT_EXPECT_EQ(test, -ESOCKTNOSUPPORT,
			sock_create_kern(&init_net, nstcp_family, SOCK_DGRAM, 0,
					 &sock));
	KUNIT_EXPECT_EQ(test, -EPROTONOSUPPORT,
			sock_create_kern(&init_net, nstcp_family, SOCK_STREAM,
					 IPPROTO_UDP, &sock));
	KUNIT_EXPECT_EQ(test, 0,
			sock_create_kern(&init_net, nstcp_family, SOCK_STREAM,
					 IPPROTO_TCP, &sock));
	sock_release(sock);
}

static void family_loopback(struct kunit *test)
{
	struct nstcp_net *nn = nstcp_pernet(&init_net);
	struct sockaddr_in sin = { .sin_family = AF_INET,
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct sockaddr_storage name;
	struct socket *l, *c, *a = NULL;
	unsigned long accepts, connects;
	char buf[8] = "nonstop";
	struct kvec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
	struct msghdr msg = {};
	int len;

	accepts = nstcp_stat_sum(nn, NSTCP_STAT_ACCEPTS);
	connects = nstcp_stat_sum(nn, NSTCP_STAT_CONNECTS);
	l = family_sock(test);
	c = family_sock(test);
	KUNIT_ASSERT_EQ(test, 0, kernel_bind(l, (struct sockaddr *)&sin,
					     sizeof(sin)));
	KUNIT_ASSERT_EQ(test, 0, kernel_listen(l, 4));

	/* An IPv4 name comes back as a sockaddr_in, port assigned. */
	len = kernel_getsockname(l, (struct sockaddr *)&name);
	KUNIT_ASSERT_EQ(test, len, (int)sizeof(struct sockaddr_in));
	KUNIT_EXPECT_EQ(test, name.ss_family, AF_INET);
	memcpy(&sin, &name, sizeof(sin));
	KUNIT_EXPECT_NE(test, ntohs(sin.sin_port), 0);

	KUNIT_ASSERT_EQ(test, 0, kernel_connect(c, (struct sockaddr *)&sin,
						sizeof(sin), 0));
	KUNIT_ASSERT_EQ(test, 0, kernel_accept(l, &a, 0));
	len = kernel_getpeername(a, (struct sockaddr *)&name);
	KUNIT_EXPECT_EQ(test, len, (int)sizeof(struct sockaddr_in));
	KUNIT_EXPECT_EQ(test, name.ss_family, AF_INET);

	KUNIT_EXPECT_EQ(test, (int)sizeof(buf),
			kernel_sendmsg(c, &msg, &iov, 1, sizeof(buf)));
	memset(buf, 0, sizeof(buf));
	KUNIT_EXPECT_EQ(test, (int)sizeof(buf),
			kernel_recvmsg(a, &msg, &iov, 1, sizeof(buf), MSG_WAITALL));
	KUNIT_EXPECT_STREQ(test, buf, "nonstop");

	KUNIT_EXPECT_EQ(test, nstcp_stat_sum(nn, NSTCP_STAT_ACCEPTS), accepts + 1);
	KUNIT_EXPECT_EQ(test, nstcp_stat_sum(nn, NSTCP_STAT_CONNECTS), connects + 1);
	sock_release(a);
	sock_release(c);
	sock_release(l);
}

static void family_bad_addresses(struct kunit *test)
{
	struct socket *sock = family_sock(test);
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct sockaddr_storage ss = { .ss_family = AF_UNIX };
	struct sockaddr *sa = (struct sockaddr *)&ss;
	const int len = sizeof(struct sockaddr_in6);

	KUNIT_EXPECT_EQ(test, -EINVAL,
			kernel_bind(sock, (struct sockaddr *)&sin, sizeof(sin) - 1));
	KUNIT_EXPECT_EQ(test, -EAFNOSUPPORT, kernel_bind(sock, sa, len));
	KUNIT_EXPECT_EQ(test, -EAFNOSUPPORT, kernel_connect(sock, sa, len, 0));
	sock_release(sock);
}

static struct kunit_case family_cases[] = {
	KUNIT_CASE(family_create),
	KUNIT_CASE(family_create_bad),
	KUNIT_CASE(family_loopback),
	KUNIT_CASE(family_bad_addresses),
	{}
};

static struct kunit_suite family_suite = {
	.name = "nstcp_family",
	.test_cases = family_cases,
};

kunit_test_suite(family_suite);
