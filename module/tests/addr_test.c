// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit: AF_NSTCP address translation (addr.c).
 */
#include <kunit/test.h>
#include <linux/in.h>
#include <linux/in6.h>
#include <net/ipv6.h>

#include "../nstcp.h"

static struct sockaddr_in sin_of(u32 host_addr, u16 port)
{
	struct sockaddr_in sin = {
		.sin_family = AF_INET,
		.sin_port = htons(port),
		.sin_addr.s_addr = htonl(host_addr),
	};
	return sin;
}

static void addr_v4_maps_on_v6_socket(struct kunit *test)
{
	struct sockaddr_in sin = sin_of(0xc6120001, 8080);	/* 198.18.0.1 */
	struct sockaddr_storage out;
	struct sockaddr_in6 *o = (struct sockaddr_in6 *)&out;
	int len;

	KUNIT_ASSERT_EQ(test, 0, nstcp_addr_in((struct sockaddr *)&sin,
					       sizeof(sin), true, &out, &len));
	KUNIT_EXPECT_EQ(test, len, (int)sizeof(*o));
	KUNIT_EXPECT_EQ(test, o->sin6_family, AF_INET6);
	KUNIT_EXPECT_EQ(test, ntohs(o->sin6_port), 8080);
	KUNIT_EXPECT_TRUE(test, ipv6_addr_v4mapped(&o->sin6_addr));
	KUNIT_EXPECT_EQ(test, be32_to_cpu(o->sin6_addr.s6_addr32[3]), 0xc6120001U);
	KUNIT_EXPECT_EQ(test, o->sin6_scope_id, 0U);
}

static void addr_v4_kept_on_v4_socket(struct kunit *test)
{
	struct sockaddr_in sin = sin_of(0x7f000001, 1);
	struct sockaddr_storage out;
	int len;

	KUNIT_ASSERT_EQ(test, 0, nstcp_addr_in((struct sockaddr *)&sin,
					       sizeof(sin), false, &out, &len));
	KUNIT_EXPECT_EQ(test, len, (int)sizeof(sin));
	KUNIT_EXPECT_EQ(test, 0, memcmp(&out, &sin, sizeof(sin)));
}

static void addr_mapped_v6_to_v4_socket(struct kunit *test)
{
	struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6,
				     .sin6_port = htons(7) };
	struct sockaddr_storage out;
	struct sockaddr_in *o = (struct sockaddr_in *)&out;
	int len;

	ipv6_addr_set_v4mapped(htonl(0x7f000001), &sin6.sin6_addr);
	KUNIT_ASSERT_EQ(test, 0, nstcp_addr_in((struct sockaddr *)&sin6,
					       sizeof(sin6), false, &out, &len));
	KUNIT_EXPECT_EQ(test, len, (int)sizeof(*o));
	KUNIT_EXPECT_EQ(test, o->sin_family, AF_INET);
	KUNIT_EXPECT_EQ(test, be32_to_cpu(o->sin_addr.s_addr), 0x7f000001U);

	/* A real IPv6 address cannot reach an IPv4-only socket. */
	sin6.sin6_addr = in6addr_loopback;
	KUNIT_EXPECT_EQ(test, -EAFNOSUPPORT,
			nstcp_addr_in((struct sockaddr *)&sin6, sizeof(sin6),
				      false, &out, &len));
}

static void addr_bad_input(struct kunit *test)
{
	struct sockaddr_in sin = sin_of(0x7f000001, 1);
	struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6 };
	struct sockaddr_storage out;
	struct sockaddr sa = { .sa_family = AF_UNIX };
	int len;

	const int big = sizeof(struct sockaddr_storage) + 1;
	struct sockaddr *s4 = (struct sockaddr *)&sin;
	struct sockaddr *s6 = (struct sockaddr *)&sin6;

	KUNIT_EXPECT_EQ(test, -EINVAL,
			nstcp_addr_in(s4, sizeof(sin) - 1, true, &out, &len));
	KUNIT_EXPECT_EQ(test, -EINVAL, nstcp_addr_in(s4, 1, true, &out, &len));
	KUNIT_EXPECT_EQ(test, -EINVAL,
			nstcp_addr_in(s6, SIN6_LEN_RFC2133 - 1, true, &out, &len));
	KUNIT_EXPECT_EQ(test, -EAFNOSUPPORT,
			nstcp_addr_in(&sa, sizeof(sa), true, &out, &len));
	KUNIT_EXPECT_EQ(test, -EINVAL, nstcp_addr_in(&sa, big, true, &out, &len));
}

static void addr_unspec_passes(struct kunit *test)
{
	struct sockaddr sa = { .sa_family = AF_UNSPEC };
	struct sockaddr_storage out;
	int len;

	KUNIT_ASSERT_EQ(test, 0, nstcp_addr_in(&sa, sizeof(sa), true, &out,
					       &len));
	KUNIT_EXPECT_EQ(test, len, (int)sizeof(sa));
	KUNIT_EXPECT_EQ(test, out.ss_family, AF_UNSPEC);
}

static void addr_out_unmaps(struct kunit *test)
{
	struct sockaddr_storage ss = {};
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons(443);
	ipv6_addr_set_v4mapped(htonl(0xc6120002), &sin6->sin6_addr);
	KUNIT_ASSERT_EQ(test, (int)sizeof(*sin),
			nstcp_addr_out(&ss, sizeof(*sin6)));
	KUNIT_EXPECT_EQ(test, sin->sin_family, AF_INET);
	KUNIT_EXPECT_EQ(test, ntohs(sin->sin_port), 443);
	KUNIT_EXPECT_EQ(test, be32_to_cpu(sin->sin_addr.s_addr), 0xc6120002U);

	/* Native IPv6 stays as it is. */
	memset(&ss, 0, sizeof(ss));
	sin6->sin6_family = AF_INET6;
	sin6->sin6_addr = in6addr_loopback;
	KUNIT_EXPECT_EQ(test, (int)sizeof(*sin6),
			nstcp_addr_out(&ss, sizeof(*sin6)));
	KUNIT_EXPECT_EQ(test, sin6->sin6_family, AF_INET6);
	KUNIT_EXPECT_TRUE(test, ipv6_addr_loopback(&sin6->sin6_addr));
}

static struct kunit_case addr_cases[] = {
	KUNIT_CASE(addr_v4_maps_on_v6_socket),
	KUNIT_CASE(addr_v4_kept_on_v4_socket),
	KUNIT_CASE(addr_mapped_v6_to_v4_socket),
	KUNIT_CASE(addr_bad_input),
	KUNIT_CASE(addr_unspec_passes),
	KUNIT_CASE(addr_out_unmaps),
	{}
};

static struct kunit_suite addr_suite = {
	.name = "nstcp_addr",
	.test_cases = addr_cases,
};

kunit_test_suite(addr_suite);
