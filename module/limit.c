// SPDX-License-Identifier: GPL-2.0
/*
 * AF_NSTCP port limits: connections in service at once (NSTCP_MAX_CONNS),
 * at once per source (NSTCP_PER_SOURCE, srclimit.c) and accepts per
 * second (NSTCP_CPS), set on any member of a port's group.
 *
 * A port's limits live in a small counted object of their own: its group
 * and each of its members hold it, and an accepted socket that is charged
 * holds its member (sockstate.c), so the charge can be dropped at the
 * connection's last close however long that is after the port went.  A
 * connection over a limit is reset at accept and counted refused; the
 * accept goes on to the next one.
 */
#include <linux/jiffies.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <net/sock.h>
#include <kunit/visibility.h>

#include "nstcp.h"

struct nstcp_limits *nstcp_limits_alloc(void)
{
	struct nstcp_limits *lim = kzalloc(sizeof(*lim), GFP_KERNEL);

	if (!lim)
		return NULL;
	refcount_set(&lim->ref, 1);
	spin_lock_init(&lim->lock);
	lim->win.start = jiffies;
	nstcp_srctab_init(&lim->src);
	return lim;
}
EXPORT_SYMBOL_IF_KUNIT(nstcp_limits_alloc);

void nstcp_limits_get(struct nstcp_limits *lim)
{
	refcount_inc(&lim->ref);
}

void nstcp_limits_put(struct nstcp_limits *lim)
{
	if (lim && refcount_dec_and_test(&lim->ref)) {
		nstcp_srctab_free(&lim->src);
		kfree(lim);
	}
}
EXPORT_SYMBOL_IF_KUNIT(nstcp_limits_put);

/*
 * Whether one more accept fits @cps per second at @now, counting it if so.
 * The window is one second long and starts at the first accept after the
 * previous one ended.
 */
bool nstcp_cps_admit(struct nstcp_cps_window *w, unsigned long now,
		     unsigned int cps)
{
	if (time_after_eq(now, w->start + HZ)) {
		w->start = now;
		w->count = 0;
	}
	if (w->count >= cps)
		return false;
	w->count++;
	return true;
}
EXPORT_SYMBOL_IF_KUNIT(nstcp_cps_admit);

/*
 * Whether @child, just accepted on a port with limits @lim, may be
 * served.  It counts in service when the port has a maximum, a maximum
 * per source or @least (the least policy's load): then *@charged, and the
 * caller charges the socket; *@src when its source's count has it too,
 * under *@key, which the socket keeps for its release.  A refused one is
 * counted.
 */
bool nstcp_limits_admit(struct nstcp_limits *lim, const struct sock *child,
			bool least, bool *charged, bool *src,
			struct nstcp_src_key *key)
{
	unsigned int max = READ_ONCE(lim->max_conns);
	unsigned int cps = READ_ONCE(lim->cps);
	unsigned int ps = READ_ONCE(lim->per_source);
	bool track = least || max || ps;
	bool ok = true;

	*charged = false;
	*src = false;
	if (track &&
	    (unsigned int)atomic_inc_return(&lim->conns) > max && max) {
		atomic_dec(&lim->conns);
		goto refuse;
	}
	if (ps)
		ok = nstcp_src_admit(lim, child, ps, src, key);
	if (ok && cps) {
		spin_lock_bh(&lim->lock);
		ok = nstcp_cps_admit(&lim->win, jiffies, cps);
		spin_unlock_bh(&lim->lock);
	}
	if (ok) {
		*charged = track;
		return true;
	}
	if (*src)
		nstcp_src_release(lim, key);
	*src = false;
	if (track)
		atomic_dec(&lim->conns);
refuse:
	atomic_long_inc(&lim->refused);
	return false;
}
EXPORT_SYMBOL_IF_KUNIT(nstcp_limits_admit);

/* A charged connection's last close. */
void nstcp_limits_uncharge(struct nstcp_limits *lim)
{
	atomic_dec(&lim->conns);
}
EXPORT_SYMBOL_IF_KUNIT(nstcp_limits_uncharge);

/* A listening member's limits, or NULL.  Caller holds lock_sock(). */
static struct nstcp_limits *nstcp_sk_limits(struct sock *sk)
{
	struct nstcp_sk *ns = nstcp_sk_get(sk);

	sock_owned_by_me(sk);
	return ns && ns->member ? ns->member->lim : NULL;
}

static unsigned int *nstcp_limit_field(struct nstcp_limits *lim, int optname)
{
	switch (optname) {
	case NSTCP_MAX_CONNS:
		return &lim->max_conns;
	case NSTCP_PER_SOURCE:
		return &lim->per_source;
	default:
		return &lim->cps;
	}
}

/*
 * setsockopt(NSTCP_MAX_CONNS, NSTCP_PER_SOURCE or NSTCP_CPS): an int, 0 (none) to
 * NSTCP_LIMIT_MAX.  EINVAL for another optlen, a value out of range or a
 * socket that is not listening.
 */
int nstcp_limit_set(struct sock *sk, int optname, sockptr_t optval,
		    unsigned int optlen)
{
	struct nstcp_limits *lim;
	int val, err = -EINVAL;

	if (optlen != sizeof(val))
		return -EINVAL;
	if (copy_from_sockptr(&val, optval, sizeof(val)))
		return -EFAULT;
	if (val < 0 || val > NSTCP_LIMIT_MAX)
		return -EINVAL;
	lock_sock(sk);
	lim = nstcp_sk_limits(sk);
	if (lim) {
		WRITE_ONCE(*nstcp_limit_field(lim, optname), val);
		err = 0;
	}
	release_sock(sk);
	return err;
}

/* getsockopt(NSTCP_MAX_CONNS, NSTCP_PER_SOURCE or NSTCP_CPS): EINVAL as for the set. */
int nstcp_limit_get(struct sock *sk, int optname, char __user *optval,
		    int __user *optlen, int len)
{
	struct nstcp_limits *lim;
	int val = 0, err = -EINVAL;

	if (len < (int)sizeof(val))
		return -EINVAL;
	lock_sock(sk);
	lim = nstcp_sk_limits(sk);
	if (lim) {
		val = READ_ONCE(*nstcp_limit_field(lim, optname));
		err = 0;
	}
	release_sock(sk);
	if (err)
		return err;
	len = sizeof(val);
	if (put_user(len, optlen) || copy_to_user(optval, &val, len))
		return -EFAULT;
	return 0;
}
