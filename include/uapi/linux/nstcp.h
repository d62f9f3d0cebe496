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

#include <linux/socket.h>
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
#define NSTCP_INFO_GIVEN	0x4	/* given, not yet taken: reserved */
#define NSTCP_INFO_DETACHED	0x8	/* given and taken: the giver's husk */
#define NSTCP_INFO_INBOX	0x10	/* a worker's inbox (NSTCP_INBOX) */

/*
 * Hand-off (Documentation/handoff.rst): a connection moves to a named
 * process, which takes it on a fresh AF_NSTCP socket of its own.
 *
 * NSTCP_GIVE (struct nstcp_give, get: in and out): on a connected socket,
 * reserve the connection for the taker named by ng_flags and ng_id for
 * ng_timeout_ms, and return a one-time token in ng_token.  From then on
 * every call on the giver's socket but close(), poll() and NSTCP_INFO
 * fails with EBADFD.  Errors: EINVAL (size, flags, reserved, timeout, uid),
 * ESRCH (no such process), ENOTCONN (not established or CLOSE_WAIT),
 * EBADFD (given already), ENOBUFS (too many tokens pending in the
 * namespace), EFAULT.
 *
 * NSTCP_TAKE (__u64 token, set): the connection becomes the calling
 * socket's, which must be fresh (never bound, connected, listening, nor
 * given a SOL_NSTCP option).  Errors: EINVAL (size, or a bound socket or
 * one with SOL_NSTCP state), EISCONN (connected or listening), EPERM
 * (the caller is not the named taker; the token stays valid), ENOENT
 * (unknown, used or expired token), EBADFD (a detached socket), EFAULT.
 *
 * NSTCP_ACCEPT_TOKEN (struct nstcp_accept_token, get: in and out): on a
 * listening socket, accept a connection without a descriptor and give it
 * at once (split accept).  As accept(2) for blocking and its errors, and
 * as NSTCP_GIVE for the give.
 */
#define NSTCP_GIVE		5
#define NSTCP_TAKE		6
#define NSTCP_ACCEPT_TOKEN	7

#define NSTCP_GIVE_PID		0x1	/* ng_id is a process (thread group) id */
#define NSTCP_GIVE_UID		0x2	/* ng_id is a uid: any of its processes */

#define NSTCP_GIVE_TIMEOUT_DEF	10000	/* ms, for ng_timeout_ms 0 */
#define NSTCP_GIVE_TIMEOUT_MAX	600000	/* ms */

struct nstcp_give {
	__u32	ng_flags;	/* in: NSTCP_GIVE_PID or NSTCP_GIVE_UID */
	__u32	ng_id;		/* in: the taker's pid or uid */
	__u32	ng_timeout_ms;	/* in: 0 for the default */
	__u32	ng_reserved;	/* in: 0 */
	__u64	ng_token;	/* out: never 0 */
};

struct nstcp_accept_token {
	struct nstcp_give	nat_give;	/* as NSTCP_GIVE */
	__s32			nat_cpu;	/* out: the flow's CPU, -1 if unknown */
	__u32			nat_addrlen;	/* out: length of nat_peer */
	struct __kernel_sockaddr_storage nat_peer; /* out: the peer's address */
};

/*
 * NSTCP_TAKE_FD (struct nstcp_take_fd, get: in and out): on any AF_NSTCP
 * socket that is neither given nor detached, take token ntf_token's
 * connection into a new descriptor, returned in ntf_fd: no fresh socket is
 * needed, none is thrown away.  ntf_flags: SOCK_CLOEXEC, SOCK_NONBLOCK.
 * The take's rules are NSTCP_TAKE's, and the token is looked up in the
 * calling socket's network namespace.  Errors: EINVAL (optlen short,
 * unknown flags), EPERM and ENOENT (as NSTCP_TAKE), EMFILE and ENFILE (no
 * descriptor: the token stays valid), ENOMEM, EBADFD (the calling socket
 * is given or detached), EFAULT (nothing taken).
 */
#define NSTCP_TAKE_FD		8

struct nstcp_take_fd {
	__u64	ntf_token;	/* in: the token */
	__u32	ntf_flags;	/* in: SOCK_CLOEXEC | SOCK_NONBLOCK */
	__s32	ntf_fd;		/* out: the new descriptor */
};

/*
 * NSTCP_MAX_CONNS, NSTCP_CPS (int, set and get): on a listening AF_NSTCP
 * socket, its port's limits, shared by every member: connections in
 * service at once (accepted, not yet closed, wherever given and taken)
 * and connections accepted per second; 0 (the default) for none, at most
 * NSTCP_LIMIT_MAX.  A connection over a limit is reset at accept() and
 * counted (lrefused in /proc/net/nstcp_listen); the accept goes on to the
 * next one.  Errors: EINVAL (optlen not sizeof(int), a value out of range,
 * a socket that is not listening).
 */
#define NSTCP_MAX_CONNS		9
#define NSTCP_CPS		10

/*
 * NSTCP_PER_SOURCE (int, set and get): as NSTCP_MAX_CONNS, counted per
 * source: an IPv4 address (a v4-mapped IPv6 one as its IPv4 address) or
 * an IPv6 /64.  A port counts at most 4096 sources at once; a connection
 * from another source then is let through uncounted (counted in
 * src_uncounted), never refused for the table.
 */
#define NSTCP_PER_SOURCE	11

#define NSTCP_LIMIT_MAX		1000000

/*
 * Inboxes (Documentation/inbox.rst): a dispatcher queues a connection
 * straight onto a worker's inbox, which accept()s it as from a listener.
 *
 * NSTCP_INBOX (int backlog, set; struct nstcp_inbox_info, get): make a
 * fresh AF_NSTCP socket an inbox of at most backlog connections
 * (1..NSTCP_INBOX_MAX), or read its id, backlog and queue.  Set errors:
 * EINVAL (optlen, backlog, a bound socket, one with SOL_NSTCP state or
 * an inbox already), EISCONN (connected or listening).  Get errors:
 * EINVAL (optlen short, not an inbox), EFAULT.
 *
 * NSTCP_ACCEPT_TO (struct nstcp_accept_to, get: in and out): on a
 * listening socket, accept a connection without a descriptor and queue it
 * on inbox nto_inbox, of the caller's euid (or any, with CAP_NET_ADMIN in
 * the listener's namespace).  A slot is reserved first: a full inbox is
 * ENOBUFS and leaves the connection on the listener.  Blocking as
 * accept(2) on the listener (its O_NONBLOCK, SO_RCVTIMEO).  Errors:
 * EINVAL (optlen, reserved field, not listening, an inbox), ENOENT (no
 * such inbox in the listener's namespace, or closed meanwhile), EPERM,
 * ENOBUFS, EAGAIN, EINTR, EFAULT (the connection queued all the same if
 * only the reply could not be written).
 */
#define NSTCP_INBOX		12
#define NSTCP_ACCEPT_TO		13

#define NSTCP_INBOX_MAX		4096

struct nstcp_inbox_info {
	__u64	nii_id;		/* never 0 */
	__u32	nii_backlog;
	__u32	nii_queued;	/* connections waiting for accept() */
};

struct nstcp_accept_to {
	__u64	nto_inbox;	/* in: the inbox's id */
	__u32	nto_reserved;	/* in: 0 */
	__s32	nto_cpu;	/* out: the flow's CPU, -1 if unknown */
	__u32	nto_addrlen;	/* out: length of nto_peer */
	__u32	nto_pad;	/* out: 0 */
	struct __kernel_sockaddr_storage nto_peer; /* out: the peer's address */
};

/*
 * Columns of /proc/net/nstcp_inbox, one row per inbox of the namespace,
 * then a row "total" (backlog and owner "-") with the namespace's counts
 * since it was made, closed inboxes included.  id is hexadecimal, "*" to
 * a reader that is neither the owner nor CAP_NET_ADMIN.  given ==
 * accepted + dropped + queued on each row.
 */
#define NSTCP_INBOX_COLUMNS \
	"id owner backlog queued given accepted dropped"

/* Columns of /proc/net/nstcp, one row per CPU instance, after a header. */
#define NSTCP_PROC_COLUMNS \
	"cpu online sockets closes accepts connects calls hops given taken " \
	"expired refused rehomed unsteered lconnects lfallbacks lmisses"

/*
 * Columns of /proc/net/nstcp_listen, one row per listening port and CPU
 * instance, after a header.  addr is [address]:port; key is "-" when the
 * port is not shared by a key, "*" to a reader that is neither the port's
 * owner nor CAP_NET_ADMIN.  migrated is the port's total, repeated on each
 * row; owner is the uid every member of the port has.  max_conns and cps
 * are the port's limits (0: none), conns its connections in service
 * (counted while it has a maximum or the least policy), lrefused the
 * connections reset for its limits, per_source its limit per source,
 * src_uncounted the connections let through uncounted, its table of
 * sources full; each is the port's, repeated.
 */
#define NSTCP_LISTEN_COLUMNS \
	"addr key policy listeners cpu queued accepted stolen migrated owner " \
	"max_conns cps conns lrefused per_source src_uncounted"

/*
 * Columns of /proc/net/nstcp_tokens, one row per pending hand-off token
 * (the token itself is never shown).  giver is the giving process's pid
 * (0 for a split accept's listener gone), taker "pid:N" or "uid:N"; cpu is
 * the flow's receive CPU; local and peer are [address]:port.
 */
#define NSTCP_TOKENS_COLUMNS \
	"giver taker age_ms left_ms cpu local peer"

#endif /* _UAPI_LINUX_NSTCP_H */
