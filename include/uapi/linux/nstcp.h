/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * AF_NSTCP: TCP stream sockets served by per-CPU protocol instances.
 *
 * User-space ABI.  The address family number is fixed here; a site whose
 * kernel already uses it loads the module with family=N and reads the number
 * back from the read-only sysctl net.nstcp.family
 * (/proc/sys/net/nstcp/family).
 */
#ifndef _UAPI_LINUX_NSTCP_H
#define _UAPI_LINUX_NSTCP_H

#include <linux/types.h>

/*
 * 19 was AF_ECONET, whose last user left Linux in 3.5; nothing in 6.1
 * registers it.  It stays below AF_MAX, which an out-of-tree module cannot
 * raise.
 */
#define AF_NSTCP		19
#define PF_NSTCP		AF_NSTCP

/* Option level of the AF_NSTCP options (get/setsockopt). */
#define SOL_NSTCP		0x4e53

/*
 * SOL_NSTCP options.
 *
 * NSTCP_HOME_CPU (int, get): the CPU whose protocol instance owns the flow,
 * that is the CPU on which its packets are processed; -1 before the first
 * packet.
 * NSTCP_INFO (struct nstcp_info, get): home CPU, calling CPU, wire family
 * and flags, in one call.
 */
#define NSTCP_HOME_CPU		1
#define NSTCP_INFO		2

/*
 * NSTCP_SHARE_KEY (1 to NSTCP_KEY_MAX letters and digits, set and get):
 * listeners that set the same key before bind() share the port; without a
 * key the first listener owns it alone.  EINVAL for a bad key or a socket
 * already bound.
 * NSTCP_POLICY (int, set and get): how the port's connections are spread
 * over its listeners, NSTCP_POLICY_*; set before listen() or on a
 * listener, it becomes the port's policy.  0 reads back the port's or the
 * net.nstcp.listen_policy default.  EINVAL on a connected socket or for an
 * unknown policy.
 */
#define NSTCP_SHARE_KEY		3
#define NSTCP_POLICY		4

#define NSTCP_KEY_MAX		8

#define NSTCP_POLICY_CPU	1	/* the receive CPU's listener, else nearest */
#define NSTCP_POLICY_ROUNDROBIN	2	/* strictly in turn */
#define NSTCP_POLICY_LEAST	3	/* fewest queued plus active */

struct nstcp_info {
	__s32	nsi_home_cpu;	/* instance owning the flow, -1 if none yet */
	__s32	nsi_call_cpu;	/* CPU the getsockopt ran on */
	__u32	nsi_family;	/* AF_INET or AF_INET6: the wire family */
	__u32	nsi_flags;	/* NSTCP_INFO_* */
};

#define NSTCP_INFO_LISTENING	0x1
#define NSTCP_INFO_V6ONLY	0x2

/* Columns of /proc/net/nstcp, one row per CPU instance, after a header. */
#define NSTCP_PROC_COLUMNS \
	"cpu online sockets closes accepts connects calls hops"

/*
 * Columns of /proc/net/nstcp_listen, one row per listening port and CPU
 * instance, after a header.  addr is [address]:port; key is "-" when the
 * port is not shared by a key, "*" to a reader that is neither the port's
 * owner nor CAP_NET_ADMIN.  migrated is the port's total, repeated on each
 * row; owner is the uid every member of the port has.
 */
#define NSTCP_LISTEN_COLUMNS \
	"addr key policy listeners cpu queued accepted stolen migrated owner"

#endif /* _UAPI_LINUX_NSTCP_H */
