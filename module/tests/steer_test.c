// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit: AF_NSTCP receive steering (steer.c): the Toeplitz hash against
 * the published RSS verification values (the well-known 40-byte key), its
 * per-port form, the source port search over a fake queue map, and the
 * live RX queue count against a device's snapshot.
 */
#include <kunit/test.h>
#include <linux/etherdevice.h>
#include <linux/kernel.h>
#include <linux/netdevice.h>

#include "../nstcp.h"
#include "../steer.h"

static const u8 rss_key[40] = {
	0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2,
	0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3, 0x8f, 0xb0,
	0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4,
	0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30, 0xf2, 0x0c,
	0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
};

/* Source address and port, destination address and port, the hashes. */
struct v4_vector {
	u8 src[4], dst[4];
	u16 sport, dport;
	u32 ip, tcp;
};

static const struct v4_vector v4_vectors[] = {
	{ { 66, 9, 149, 187 }, { 161, 142, 100, 80 }, 2794, 1766,
	  0x323e8fc2, 0x51ccc178 },
	{ { 199, 92, 111, 2 }, { 65, 69, 140, 83 }, 14230, 4739,
	  0xd718262a, 0xc626b0ea },
	{ { 24, 19, 198, 95 }, { 12, 22, 207, 184 }, 12898, 38024,
	  0xd2d0a5de, 0x5c2b394a },
	{ { 38, 27, 205, 30 }, { 209, 142, 163, 6 }, 48228, 2217,
	  0x82989176, 0xafc7327f },
	{ { 153, 39, 163, 191 }, { 202, 188, 127, 2 }, 44251, 1303,
	  0x5d1809c5, 0x10e828a2 },
};

static void v4_tuple(const struct v4_vector *v, u8 *t)
{
	memcpy(t, v->src, 4);
	memcpy(t + 4, v->dst, 4);
	t[8] = v->sport >> 8;
	t[9] = v->sport & 0xff;
	t[10] = v->dport >> 8;
	t[11] = v->dport & 0xff;
}

static void steer_toeplitz_ipv4(struct kunit *test)
{
	u8 t[12];
	int i;

	for (i = 0; i < ARRAY_SIZE(v4_vectors); i++) {
		v4_tuple(&v4_vectors[i], t);
		KUNIT_EXPECT_EQ(test, nstcp_toeplitz(rss_key, 40, t, 8),
				v4_vectors[i].ip);
		KUNIT_EXPECT_EQ(test, nstcp_toeplitz(rss_key, 40, t, 12),
				v4_vectors[i].tcp);
	}
}

static void steer_toeplitz_ipv6(struct kunit *test)
{
	/* 3ffe:2501:200:1fff::7 port 2794 to 3ffe:2501:200:3::1 port 1766 */
	static const u8 t[36] = {
		0x3f, 0xfe, 0x25, 0x01, 0x02, 0x00, 0x1f, 0xff,
		0, 0, 0, 0, 0, 0, 0, 7,
		0x3f, 0xfe, 0x25, 0x01, 0x02, 0x00, 0x00, 0x03,
		0, 0, 0, 0, 0, 0, 0, 1,
		2794 >> 8, 2794 & 0xff, 1766 >> 8, 1766 & 0xff,
	};

	KUNIT_EXPECT_EQ(test, nstcp_toeplitz(rss_key, 40, t, 36), 0x40207d3d);
	/* Too long an input for the key: no hash. */
	KUNIT_EXPECT_EQ(test, nstcp_toeplitz(rss_key, 16, t, 36), 0);
}

/* The per-port form is the full hash, for every port of a vector. */
static void steer_pred_matches_full_hash(struct kunit *test)
{
	struct nstcp_pred p;
	u8 t[12];
	u32 port;
	int i;

	for (i = 0; i < ARRAY_SIZE(v4_vectors); i++) {
		v4_tuple(&v4_vectors[i], t);
		t[10] = 0;
		t[11] = 0;
		nstcp_pred_init(&p, rss_key, 40, t, 12, 10);
		KUNIT_EXPECT_EQ(test, nstcp_pred_hash(&p, v4_vectors[i].dport),
				v4_vectors[i].tcp);
		for (port = 0; port < 65536; port += 257) {
			t[10] = port >> 8;
			t[11] = port & 0xff;
			KUNIT_ASSERT_EQ(test, nstcp_pred_hash(&p, port),
					nstcp_toeplitz(rss_key, 40, t, 12));
			t[10] = 0;
			t[11] = 0;
		}
	}
}

/* A fake device: 4 queues, an indirection table of 16, queue q on CPU 3 - q. */
struct fake_map {
	struct nstcp_pred p;
	u32 indir[16];
	int qcpu[4];
	int reserved_lo, reserved_hi;
};

static int fake_cpu_of(const void *ctx, int port)
{
	const struct fake_map *m = ctx;

	return m->qcpu[m->indir[nstcp_pred_hash(&m->p, port) % 16]];
}

static bool fake_skip(const void *ctx, int port)
{
	const struct fake_map *m = ctx;

	return port >= m->reserved_lo && port <= m->reserved_hi;
}

static void fake_init(struct fake_map *m)
{
	u8 t[12];
	int i;

	v4_tuple(&v4_vectors[0], t);
	t[10] = 0;
	t[11] = 0;
	nstcp_pred_init(&m->p, rss_key, 40, t, 12, 10);
	for (i = 0; i < 16; i++)
		m->indir[i] = i % 4;
	for (i = 0; i < 4; i++)
		m->qcpu[i] = 3 - i;
	m->reserved_lo = 0;
	m->reserved_hi = -1;
}

static void steer_search_finds_local_ports(struct kunit *test)
{
	struct fake_map m;
	u16 ports[8];
	int cpu, n, i;

	fake_init(&m);
	for (cpu = 0; cpu < 4; cpu++) {
		n = nstcp_port_search(fake_cpu_of, fake_skip, &m, cpu, 32768,
				      60999, 1234, ports, 8);
		KUNIT_EXPECT_EQ(test, n, 8);
		for (i = 0; i < n; i++) {
			KUNIT_EXPECT_GE(test, ports[i], 32768);
			KUNIT_EXPECT_LE(test, ports[i], 60999);
			KUNIT_EXPECT_EQ(test, fake_cpu_of(&m, ports[i]), cpu);
			if (i)
				KUNIT_EXPECT_NE(test, ports[i], ports[i - 1]);
		}
	}
}

static void steer_search_skips_reserved(struct kunit *test)
{
	struct fake_map m;
	u16 ports[8];
	int n, i;

	fake_init(&m);
	m.reserved_lo = 40000;
	m.reserved_hi = 40999;
	n = nstcp_port_search(fake_cpu_of, fake_skip, &m, 2, 39500, 41500, 0,
			      ports, 8);
	KUNIT_EXPECT_EQ(test, n, 8);
	for (i = 0; i < n; i++)
		KUNIT_EXPECT_TRUE(test, ports[i] < 40000 || ports[i] > 40999);
	/* All reserved: nothing. */
	n = nstcp_port_search(fake_cpu_of, fake_skip, &m, 2, 40000, 40999, 7,
			      ports, 8);
	KUNIT_EXPECT_EQ(test, n, 0);
}

static void steer_search_wraps_and_ends(struct kunit *test)
{
	struct fake_map m;
	u16 ports[64];
	int n, i, want = 0;

	fake_init(&m);
	/* A small range: every fitting port once, from a start near its end. */
	for (i = 1000; i <= 1031; i++)
		want += fake_cpu_of(&m, i) == 1;
	n = nstcp_port_search(fake_cpu_of, NULL, &m, 1, 1000, 1031, 30, ports,
			      64);
	KUNIT_EXPECT_EQ(test, n, want);
	KUNIT_EXPECT_GT(test, n, 0);
	/* No queue on the CPU: nothing fits. */
	n = nstcp_port_search(fake_cpu_of, NULL, &m, 7, 1000, 65535, 0, ports,
			      64);
	KUNIT_EXPECT_EQ(test, n, 0);
	/* Bad ranges. */
	KUNIT_EXPECT_EQ(test, nstcp_port_search(fake_cpu_of, NULL, &m, 1, 2000,
						1000, 0, ports, 64), 0);
	KUNIT_EXPECT_EQ(test, nstcp_port_search(fake_cpu_of, NULL, &m, 1, 0,
						1000, 0, ports, 64), 0);
}

/* CPU 1 only from port 15000 on; CPU 0 below. */
static int far_cpu_of(const void *ctx, int port)
{
	return port >= 15000;
}

static void steer_search_is_bounded(struct kunit *test)
{
	u16 ports[8];

	/* 5000 ports to scan before the first fit: past the bound. */
	KUNIT_EXPECT_EQ(test, nstcp_port_search(far_cpu_of, NULL, NULL, 1,
						10000, 20000, 0, ports, 8), 0);
	/* Within the bound it is found. */
	KUNIT_EXPECT_EQ(test, nstcp_port_search(far_cpu_of, NULL, NULL, 1,
						10000, 20000,
						5000 - NSTCP_PORT_SCAN_MAX + 8,
						ports, 8), 8);
	KUNIT_EXPECT_EQ(test, ports[0], 15000);
}

/*
 * "ethtool -L" raises no netdevice event: the device's RX queue count now
 * wins over the snapshot's, and a differing count asks for a new read.
 */
static void steer_live_queue_count(struct kunit *test)
{
	struct net_device *dev;
	struct nstcp_ndev *nd;

	dev = alloc_netdev_mqs(0, "nstcpk%d", NET_NAME_UNKNOWN, ether_setup,
			       4, 4);
	KUNIT_ASSERT_NOT_NULL(test, dev);
	nd = kunit_kzalloc(test, sizeof(*nd), GFP_KERNEL);
	if (!nd) {
		free_netdev(dev);
		KUNIT_FAIL(test, "no memory");
		return;
	}
	nd->dev = dev;
	nd->nq = 4;
	KUNIT_EXPECT_EQ(test, nstcp_steer_nq(nd), 4U);
	KUNIT_EXPECT_FALSE(test, READ_ONCE(nd->stale));
	/* Not registered: the count is set as the core would set it. */
	dev->real_num_rx_queues = 1;
	KUNIT_EXPECT_EQ(test, nstcp_steer_nq(nd), 1U);
	KUNIT_EXPECT_TRUE(test, READ_ONCE(nd->stale));
	free_netdev(dev);
}

static struct kunit_case steer_cases[] = {
	KUNIT_CASE(steer_live_queue_count),
	KUNIT_CASE(steer_search_is_bounded),
	KUNIT_CASE(steer_toeplitz_ipv4),
	KUNIT_CASE(steer_toeplitz_ipv6),
	KUNIT_CASE(steer_pred_matches_full_hash),
	KUNIT_CASE(steer_search_finds_local_ports),
	KUNIT_CASE(steer_search_skips_reserved),
	KUNIT_CASE(steer_search_wraps_and_ends),
	{}
};

static struct kunit_suite steer_suite = {
	.name = "nstcp_steer",
	.test_cases = steer_cases,
};

kunit_test_suite(steer_suite);
