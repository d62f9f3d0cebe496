/* SPDX-License-Identifier: GPL-2.0 */
/*
 * AF_NSTCP compatibility with older kernels.
 *
 * The module's .c files are written against the current kernel API (6.12,
 * Debian 13's and bookworm-backports' kernel).  What an older kernel we
 * still build for (6.1, Debian 12's) lacks or spells differently is
 * supplied here, and only here: each item tests LINUX_VERSION_CODE and
 * gives a small static inline or macro under the newer name, or, where
 * a callback's signature changed, a wrapper of the old form around the
 * new one.  Remove an item when the oldest kernel supported has the API.
 */
#ifndef _NSTCP_COMPAT_H
#define _NSTCP_COMPAT_H

#include <linux/net.h>
#include <linux/sysctl.h>
#include <linux/version.h>
#include <net/net_namespace.h>
#include <net/inet_sock.h>
#include <net/ip.h>
#include <net/sock.h>

/*
 * 6.5 removed proto_ops.sendpage and .sendpage_locked (sendmsg with
 * MSG_SPLICE_PAGES took over).  Before it, a family that wraps another's
 * ops passes them on too: DEFINE_COMPAT_SENDPAGE(pfx) defines
 * pfx_sendpage() and pfx_sendpage_locked(), which call the ops that
 * pfx_base(sk) returns and, for sendpage, pfx_sk_check(sk) and
 * pfx_count_call(sk) as sendmsg does; COMPAT_SENDPAGE_OPS(pfx) puts them into the ops table.
 */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 5, 0)
#define DEFINE_COMPAT_SENDPAGE(pfx)					\
static ssize_t pfx##_sendpage(struct socket *sock, struct page *page,	\
			      int offset, size_t size, int flags)	\
{									\
	int err = pfx##_sk_check(sock->sk);				\
									\
	if (err)							\
		return err;						\
	pfx##_count_call(sock->sk);					\
	return pfx##_base(sock->sk)->sendpage(sock, page, offset, size,	\
					      flags);			\
}									\
static int pfx##_sendpage_locked(struct sock *sk, struct page *page,	\
				 int offset, size_t size, int flags)	\
{									\
	return pfx##_base(sk)->sendpage_locked(sk, page, offset, size,	\
					       flags);			\
}

#define COMPAT_SENDPAGE_OPS(pfx)					\
	.sendpage	 = pfx##_sendpage,				\
	.sendpage_locked = pfx##_sendpage_locked,
#else
#define DEFINE_COMPAT_SENDPAGE(pfx)
#define COMPAT_SENDPAGE_OPS(pfx)
#endif

/*
 * 6.6 added register_net_sysctl_sz() with the table's size; before, the
 * table ends at an empty entry (which the size must then not count).
 */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 6, 0)
static inline struct ctl_table_header *
register_net_sysctl_sz(struct net *net, const char *path,
		       struct ctl_table *table, size_t table_size)
{
	return register_net_sysctl(net, path, table);
}
#endif

/*
 * 6.10 gave proto_ops.accept a struct proto_accept_arg instead of flags
 * and kern.  The module's accept op takes the struct;
 * DEFINE_COMPAT_ACCEPT(fn) defines the wrapper of the old form that
 * compat_accept_op(fn) names for the ops table, and compat_ops_accept()
 * calls another family's accept op.
 */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 10, 0)
struct proto_accept_arg {
	int flags;
	int err;
	int is_empty;
	bool kern;
};

#define DEFINE_COMPAT_ACCEPT(fn)					\
static int fn##_compat(struct socket *sock, struct socket *newsock,	\
		       int flags, bool kern)				\
{									\
	struct proto_accept_arg arg = { .flags = flags, .kern = kern };	\
									\
	return fn(sock, newsock, &arg);					\
}

#define compat_accept_op(fn)	fn##_compat

static inline int compat_ops_accept(const struct proto_ops *ops,
				    struct socket *sock,
				    struct socket *newsock,
				    struct proto_accept_arg *arg)
{
	return ops->accept(sock, newsock, arg->flags, arg->kern);
}
#else
#define DEFINE_COMPAT_ACCEPT(fn)
#define compat_accept_op(fn)	fn

static inline int compat_ops_accept(const struct proto_ops *ops,
				    struct socket *sock,
				    struct socket *newsock,
				    struct proto_accept_arg *arg)
{
	return ops->accept(sock, newsock, arg);
}
#endif

/*
 * 6.11 made the ctl_table of a proc_handler const.  The module's handlers
 * take it const; DEFINE_COMPAT_PROC_HANDLER(fn) defines the wrapper of the
 * old form that compat_proc_handler(fn) names for the table.
 */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 11, 0)
#define DEFINE_COMPAT_PROC_HANDLER(fn)					\
static int fn##_compat(struct ctl_table *table, int write, void *buffer,\
		       size_t *lenp, loff_t *ppos)			\
{									\
	return fn(table, write, buffer, lenp, ppos);			\
}

#define compat_proc_handler(fn)	fn##_compat
#else
#define DEFINE_COMPAT_PROC_HANDLER(fn)
#define compat_proc_handler(fn)	fn
#endif

/*
 * 6.6 turned inet_sock's flag bitfields into bits of inet_flags, read and
 * written with inet_test_bit() and inet_assign_bit().  Before, the same
 * names reach the bitfields (only the flags the module copies).
 */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 6, 0)
#define COMPAT_INET_FLAG_FREEBIND	freebind
#define COMPAT_INET_FLAG_TRANSPARENT	transparent
#define COMPAT_INET_FLAG_BIND_ADDRESS_NO_PORT	bind_address_no_port
#define inet_test_bit(nr, sk)		(inet_sk(sk)->COMPAT_INET_FLAG_##nr)
#define inet_assign_bit(nr, sk, val)	(inet_sk(sk)->COMPAT_INET_FLAG_##nr = (val))
#endif

/*
 * 6.7 gave the cgroup BPF sock_addr hooks the address length (programs may
 * change it); before, they took none.  compat_cgroup_inet_bind() and
 * compat_cgroup_inet4_connect() (the socket locked by the caller) run a
 * bind or IPv4 connect hook either way.
 */
#include <linux/bpf-cgroup.h>
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 7, 0)
#define compat_cgroup_inet_bind(sk, uaddr, uaddrlen, atype, flags)	\
	BPF_CGROUP_RUN_PROG_INET_BIND_LOCK(sk, uaddr, atype, flags)
#define compat_cgroup_inet4_connect(sk, uaddr, uaddrlen)		\
	BPF_CGROUP_RUN_PROG_INET4_CONNECT(sk, uaddr)
#else
#define compat_cgroup_inet_bind(sk, uaddr, uaddrlen, atype, flags)	\
	BPF_CGROUP_RUN_PROG_INET_BIND_LOCK(sk, uaddr, uaddrlen, atype, flags)
#define compat_cgroup_inet4_connect(sk, uaddr, uaddrlen)		\
	BPF_CGROUP_RUN_PROG_INET4_CONNECT(sk, uaddr, uaddrlen)
#endif

/*
 * The same change for the getpeername/getsockname hooks:
 * compat_cgroup_getname_lock() runs those of @atype on @uaddr, taking the
 * socket lock (their verdict is always 1: there is no error to return).
 */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 7, 0)
#define compat_cgroup_getname_lock(sk, uaddr, uaddrlen, atype)		\
	BPF_CGROUP_RUN_SA_PROG_LOCK(sk, uaddr, atype, NULL)
#else
#define compat_cgroup_getname_lock(sk, uaddr, uaddrlen, atype)		\
	BPF_CGROUP_RUN_SA_PROG_LOCK(sk, uaddr, uaddrlen, atype, NULL)
#endif

/*
 * Newer kernels pass SOL_SOCKET options to a family's setsockopt when the
 * socket has SOCK_CUSTOM_SOCKOPT; 6.1 calls sock_setsockopt() itself, and
 * the family learns of them only afterwards (sockopt.c's release_cb).
 */
static inline bool compat_family_sees_sol_socket(void)
{
#ifdef SOCK_CUSTOM_SOCKOPT
	return true;
#else
	return false;
#endif
}

static inline bool compat_custom_sol_socket(struct socket *sock)
{
#ifdef SOCK_CUSTOM_SOCKOPT
	set_bit(SOCK_CUSTOM_SOCKOPT, &sock->flags);
	return true;
#else
	return false;
#endif
}

/*
 * 6.9 moved the RFS socket flow table into net_hotdata and its helpers
 * into <net/rps.h>; compat_rps_sock_flow_table names it either way.
 */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 9, 0)
#include <net/hotdata.h>
#include <net/rps.h>
#define compat_rps_sock_flow_table	(net_hotdata.rps_sock_flow_table)
#define compat_rps_cpu_mask		(net_hotdata.rps_cpu_mask)
#else
#include <linux/netdevice.h>
#define compat_rps_sock_flow_table	rps_sock_flow_table
#define compat_rps_cpu_mask		rps_cpu_mask
#endif

/*
 * 6.2 split the generic netlink ops and moved a dump's parsed attributes
 * into a struct genl_info in its genl_dumpit_info (genl_info_dump() since
 * 6.7); before, they were the dumpit info's own.  NULL-free either way.
 */
#include <net/genetlink.h>
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 7, 0)
#define nstcp_genl_dump_attrs(cb)	(genl_info_dump(cb)->attrs)
#elif LINUX_VERSION_CODE >= KERNEL_VERSION(6, 2, 0)
#define nstcp_genl_dump_attrs(cb)	(genl_dumpit_info(cb)->info.attrs)
#else
#define nstcp_genl_dump_attrs(cb)	(genl_dumpit_info(cb)->attrs)
#endif

/*
 * 6.6 moved struct netdev_rx_queue (a device's RPS map per queue) into
 * <net/netdev_rx_queue.h>.
 */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 6, 0)
#include <net/netdev_rx_queue.h>
#endif

/*
 * 6.8 gave ethtool_ops.get_rxfh a struct ethtool_rxfh_param, with the
 * input transform (a symmetric hash) beside the function; before, the
 * table, key and function are separate arguments and there is no
 * transform (*@xfrm 0).  Caller holds RTNL.
 */
#include <linux/ethtool.h>
static inline int compat_get_rxfh(struct net_device *dev, u32 *indir, u8 *key,
				  u8 *hfunc, u8 *xfrm)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 8, 0)
	struct ethtool_rxfh_param p = {
		.indir_size = dev->ethtool_ops->get_rxfh_indir_size(dev),
		.indir = indir,
		.key_size = dev->ethtool_ops->get_rxfh_key_size(dev),
		.key = key,
	};
	int err = dev->ethtool_ops->get_rxfh(dev, &p);

	*hfunc = p.hfunc;
	*xfrm = p.input_xfrm;
	return err;
#else
	*xfrm = 0;
	return dev->ethtool_ops->get_rxfh(dev, indir, key, hfunc);
#endif
}

/*
 * The socket's own local port range (IP_LOCAL_PORT_RANGE): 6.8 packed it
 * into one u32 (high << 16 | low) written locklessly; 6.1 (Debian's, which
 * has the option) keeps two u16 under the socket lock.  Get, set and put
 * back the raw value; compat_sk_port_range() reads the range a connect
 * picks from (the namespace's, narrowed by the socket's).
 */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 8, 0)
static inline u32 compat_sk_port_range_get(const struct sock *sk)
{
	return READ_ONCE(inet_sk(sk)->local_port_range);
}

static inline void compat_sk_port_range_put(struct sock *sk, u32 v)
{
	WRITE_ONCE(inet_sk(sk)->local_port_range, v);
}
#else
static inline u32 compat_sk_port_range_get(const struct sock *sk)
{
	return (u32)inet_sk(sk)->local_port_range.hi << 16 |
	       inet_sk(sk)->local_port_range.lo;
}

static inline void compat_sk_port_range_put(struct sock *sk, u32 v)
{
	inet_sk(sk)->local_port_range.lo = v & 0xffff;
	inet_sk(sk)->local_port_range.hi = v >> 16;
}
#endif

static inline void compat_sk_port_range_set(struct sock *sk, u16 lo, u16 hi)
{
	compat_sk_port_range_put(sk, (u32)hi << 16 | lo);
}

static inline void compat_sk_port_range(const struct sock *sk, int *low,
					int *high)
{
	inet_sk_get_local_port_range(sk, low, high);
}

/* 6.3 replaced RT_CONN_FLAGS() (a route lookup's TOS) by ip_sock_rt_tos(). */
#include <net/route.h>
static inline u8 compat_rt_conn_tos(const struct sock *sk)
{
#ifdef RT_CONN_FLAGS
	return RT_CONN_FLAGS(sk);
#else
	return ip_sock_rt_tos(sk);
#endif
}

#endif /* _NSTCP_COMPAT_H */
