// SPDX-License-Identifier: GPL-2.0
/*
 * AF_NSTCP port limits, per source (NSTCP_PER_SOURCE): connections in
 * service at once from one source, as nstcpd counts them (tools/nstcpd/
 * dlimit.c): an IPv4 address (a v4-mapped IPv6 address is its IPv4
 * address), or an IPv6 /64, the prefix one host holds.
 *
 * A port's table has at most NSTCP_SRC_MAX sources with connections in
 * service; a connection from a source with no row when it is full is let
 * through uncounted (and counted so), never refused for the table.  Rows
 * are made at the accept and dropped with their last connection, under
 * the limits' lock.  A charged socket keeps the key it was charged
 * under (sockstate.c), and its release drops that row: never one found
 * again from its peer address, which connect(AF_UNSPEC) and a new
 * connect() can change.
 */
#include <linux/hash.h>
#include <linux/jhash.h>
#include <linux/ipv6.h>
#include <linux/random.h>
#include <linux/slab.h>
#include <net/inet_sock.h>
#include <net/ipv6.h>
#include <net/sock.h>
#include <kunit/visibility.h>

#include "nstcp.h"

struct nstcp_src {
	struct hlist_node	node;
	struct nstcp_src_key	key;
	unsigned int		n;		/* its connections in service */
};

void nstcp_src_key_v4(__be32 addr, struct nstcp_src_key *k)
{
	k->w[0] = 0;
	k->w[1] = 0;
	k->w[2] = htonl(0xffff);
	k->w[3] = addr;
}
EXPORT_SYMBOL_IF_KUNIT(nstcp_src_key_v4);

void nstcp_src_key_v6(const struct in6_addr *a, struct nstcp_src_key *k)
{
	if (ipv6_addr_v4mapped(a)) {
		nstcp_src_key_v4(a->s6_addr32[3], k);
		return;
	}
	k->w[0] = a->s6_addr32[0];
	k->w[1] = a->s6_addr32[1];
	k->w[2] = 0;
	k->w[3] = 0;
}
EXPORT_SYMBOL_IF_KUNIT(nstcp_src_key_v6);

/* The source of connected @sk. */
static void nstcp_src_key_sk(const struct sock *sk, struct nstcp_src_key *k)
{
#if IS_ENABLED(CONFIG_IPV6)
	if (sk->sk_family == AF_INET6) {
		nstcp_src_key_v6(&sk->sk_v6_daddr, k);
		return;
	}
#endif
	nstcp_src_key_v4(inet_sk(sk)->inet_daddr, k);
}

/* The table's own random seed: no one can aim a set of sources at a bucket. */
static u32 nstcp_src_hash(const struct nstcp_srctab *t,
			  const struct nstcp_src_key *k)
{
	return hash_32(jhash2((__force const u32 *)k->w, 4, t->seed),
		       NSTCP_SRC_HASH_BITS);
}

static struct nstcp_src *nstcp_src_find(struct nstcp_srctab *t,
					const struct nstcp_src_key *k, u32 h)
{
	struct nstcp_src *s;

	hlist_for_each_entry(s, &t->bucket[h], node)
		if (!memcmp(&s->key, k, sizeof(*k)))
			return s;
	return NULL;
}

void nstcp_srctab_init(struct nstcp_srctab *t)
{
	unsigned int i;

	for (i = 0; i < NSTCP_SRC_BUCKETS; i++)
		INIT_HLIST_HEAD(&t->bucket[i]);
	t->nsrc = 0;
	t->seed = get_random_u32();
}
EXPORT_SYMBOL_IF_KUNIT(nstcp_srctab_init);

/* Frees every row: the port's limits go, so no connection is charged. */
void nstcp_srctab_free(struct nstcp_srctab *t)
{
	struct hlist_node *tmp;
	struct nstcp_src *s;
	unsigned int i;

	for (i = 0; i < NSTCP_SRC_BUCKETS; i++)
		hlist_for_each_entry_safe(s, tmp, &t->bucket[i], node) {
			hlist_del(&s->node);
			kfree(s);
		}
	t->nsrc = 0;
}
EXPORT_SYMBOL_IF_KUNIT(nstcp_srctab_free);

/*
 * Charge one connection from @k if fewer than @max are in service from
 * it.  Caller holds the table's lock.  NSTCP_SRC_OK: charged;
 * NSTCP_SRC_OVER: refuse it; NSTCP_SRC_UNCOUNTED: no row (table full, or
 * no memory), let through uncounted.
 */
int nstcp_src_charge(struct nstcp_srctab *t, const struct nstcp_src_key *k,
		     unsigned int max)
{
	u32 h = nstcp_src_hash(t, k);
	struct nstcp_src *s = nstcp_src_find(t, k, h);

	if (s) {
		if (s->n >= max)
			return NSTCP_SRC_OVER;
		s->n++;
		return NSTCP_SRC_OK;
	}
	if (!max)
		return NSTCP_SRC_OVER;
	if (t->nsrc >= NSTCP_SRC_MAX)
		return NSTCP_SRC_UNCOUNTED;
	s = kmalloc(sizeof(*s), GFP_ATOMIC);
	if (!s)
		return NSTCP_SRC_UNCOUNTED;
	s->key = *k;
	s->n = 1;
	hlist_add_head(&s->node, &t->bucket[h]);
	t->nsrc++;
	return NSTCP_SRC_OK;
}
EXPORT_SYMBOL_IF_KUNIT(nstcp_src_charge);

/* One connection from @k closed.  Caller holds the table's lock. */
void nstcp_src_uncharge(struct nstcp_srctab *t, const struct nstcp_src_key *k)
{
	struct nstcp_src *s = nstcp_src_find(t, k, nstcp_src_hash(t, k));

	if (!s || --s->n)
		return;
	hlist_del(&s->node);
	kfree(s);
	t->nsrc--;
}
EXPORT_SYMBOL_IF_KUNIT(nstcp_src_uncharge);

/*
 * At accept: @child's source within the port's per_source @max?  *@charged
 * when it was counted under *@k, its source (the socket then keeps @k).
 * Returns false to refuse it.
 */
bool nstcp_src_admit(struct nstcp_limits *lim, const struct sock *child,
		     unsigned int max, bool *charged, struct nstcp_src_key *k)
{
	int r;

	*charged = false;
	nstcp_src_key_sk(child, k);
	spin_lock_bh(&lim->lock);
	r = nstcp_src_charge(&lim->src, k, max);
	spin_unlock_bh(&lim->lock);
	if (r == NSTCP_SRC_UNCOUNTED)
		atomic_long_inc(&lim->src_uncounted);
	*charged = r == NSTCP_SRC_OK;
	return r != NSTCP_SRC_OVER;
}

/*
 * A per-source charged connection's last close (or its refusal): @k is
 * the key it was charged under.
 */
void nstcp_src_release(struct nstcp_limits *lim, const struct nstcp_src_key *k)
{
	spin_lock_bh(&lim->lock);
	nstcp_src_uncharge(&lim->src, k);
	spin_unlock_bh(&lim->lock);
}
