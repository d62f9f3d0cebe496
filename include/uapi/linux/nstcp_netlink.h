/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * AF_NSTCP generic netlink family (Documentation/netlink.rst).
 *
 * The family "nstcp", version 1, answers in the network namespace of the
 * requesting socket.  Every command has its own attribute space and
 * policy; attributes are validated strictly (unknown or malformed ones are
 * refused with EINVAL and an extended ack).  Counters are u64 (padded
 * with the space's PAD attribute), CPU numbers and uids u32, ports u16 in
 * host order, addresses 4 or 16 bytes in network order.
 */
#ifndef _UAPI_LINUX_NSTCP_NETLINK_H
#define _UAPI_LINUX_NSTCP_NETLINK_H

#define NSTCP_GENL_NAME		"nstcp"
#define NSTCP_GENL_VERSION	1

enum nstcp_cmd {
	NSTCP_CMD_UNSPEC,
	/*
	 * Dump: one message per CPU instance.  Do: the instance of
	 * NSTCP_A_INST_CPU (required; ENOENT for a CPU that is not possible).
	 */
	NSTCP_CMD_INSTANCE_GET,
	/*
	 * Dump: one message per listening port, with a nest per CPU instance;
	 * NSTCP_A_LISTEN_PORT in the request keeps one port.
	 */
	NSTCP_CMD_LISTEN_GET,
	/* Dump: one message per pending hand-off (never the token). */
	NSTCP_CMD_HANDOFF_GET,
	/*
	 * The queue <-> instance map that `nstcp queue bind` records.
	 * QUEUE_GET dumps one message per device; QUEUE_SET (CAP_NET_ADMIN in
	 * the namespace) replaces a device's map, QUEUE_DEL (likewise)
	 * removes it.
	 */
	NSTCP_CMD_QUEUE_GET,
	NSTCP_CMD_QUEUE_SET,
	NSTCP_CMD_QUEUE_DEL,

	__NSTCP_CMD_MAX,
	NSTCP_CMD_MAX = __NSTCP_CMD_MAX - 1
};

/* NSTCP_CMD_INSTANCE_GET: one CPU's protocol instance. */
enum nstcp_a_inst {
	NSTCP_A_INST_UNSPEC,
	NSTCP_A_INST_PAD,
	NSTCP_A_INST_CPU,		/* u32 */
	NSTCP_A_INST_ONLINE,		/* u8: 0 or 1 */
	NSTCP_A_INST_LISTENERS,		/* u32: listening ports served here */
	NSTCP_A_INST_QUEUED,		/* u32: connections queued, not yet accepted */
	/* u64 counters, those of /proc/net/nstcp in its order */
	NSTCP_A_INST_SOCKETS,		/* sockets created or accepted */
	NSTCP_A_INST_CLOSES,		/* sockets released */
	NSTCP_A_INST_ACCEPTS,		/* connections accepted, by receive CPU */
	NSTCP_A_INST_CONNECTS,		/* active opens */
	NSTCP_A_INST_CALLS,		/* data-path socket calls */
	NSTCP_A_INST_HOPS,		/* ... for a flow homed on another CPU */
	NSTCP_A_INST_GIVEN,		/* connections given */
	NSTCP_A_INST_TAKEN,		/* ... taken here */
	NSTCP_A_INST_EXPIRED,		/* ... reset at their token's timeout */
	NSTCP_A_INST_REFUSED,		/* takes refused */
	NSTCP_A_INST_REHOMED,		/* takes that re-steered the flow here */
	NSTCP_A_INST_UNSTEERED,		/* ... that could not */
	NSTCP_A_INST_STOLEN,		/* u64: taken from this CPU's listeners
					 * by an acceptor elsewhere (live ports)
					 */
	NSTCP_A_INST_QUEUES,		/* nest of NSTCP_A_QUEUE_ENTRY: the
					 * device queues mapped to it
					 */
	NSTCP_A_INST_LCONNECTS,		/* u64: connects given a CPU-local port */
	NSTCP_A_INST_LFALLBACKS,	/* ... that fell back to the usual choice */
	NSTCP_A_INST_LMISSES,		/* ... whose replies came to another CPU */

	__NSTCP_A_INST_MAX,
	NSTCP_A_INST_MAX = __NSTCP_A_INST_MAX - 1
};

/* NSTCP_CMD_LISTEN_GET: one listening port. */
enum nstcp_a_listen {
	NSTCP_A_LISTEN_UNSPEC,
	NSTCP_A_LISTEN_PAD,
	NSTCP_A_LISTEN_FAMILY,		/* u16: AF_INET or AF_INET6 */
	NSTCP_A_LISTEN_ADDR,		/* binary: 4 or 16 bytes */
	NSTCP_A_LISTEN_PORT,		/* u16; in a request: the port to show */
	NSTCP_A_LISTEN_KEY,		/* string: the share key; absent when none
					 * or hidden
					 */
	NSTCP_A_LISTEN_KEY_HIDDEN,	/* flag: keyed, not shown to this caller */
	NSTCP_A_LISTEN_POLICY,		/* u32: NSTCP_POLICY_* */
	NSTCP_A_LISTEN_LISTENERS,	/* u32: AF_NSTCP sockets sharing it */
	NSTCP_A_LISTEN_MIGRATED,	/* u64 */
	NSTCP_A_LISTEN_OWNER,		/* u32: the uid of every member */
	NSTCP_A_LISTEN_REUSEPORT,	/* flag: shared by SO_REUSEPORT */
	NSTCP_A_LISTEN_V6ONLY,		/* flag */
	NSTCP_A_LISTEN_IFINDEX,		/* u32: SO_BINDTODEVICE, absent if none */
	NSTCP_A_LISTEN_CPU,		/* nest of NSTCP_A_LCPU_*, one a CPU */
	NSTCP_A_LISTEN_MAX_CONNS,	/* u32: NSTCP_MAX_CONNS, 0: none */
	NSTCP_A_LISTEN_CPS,		/* u32: NSTCP_CPS, 0: none */
	NSTCP_A_LISTEN_CONNS,		/* u32: connections in service */
	NSTCP_A_LISTEN_LREFUSED,	/* u64: reset for the limits */
	NSTCP_A_LISTEN_PER_SOURCE,	/* u32: NSTCP_PER_SOURCE, 0: none */
	NSTCP_A_LISTEN_SRC_UNCOUNTED,	/* u64: let through, sources table full */

	__NSTCP_A_LISTEN_MAX,
	NSTCP_A_LISTEN_MAX = __NSTCP_A_LISTEN_MAX - 1
};

/* A port's listener on one CPU instance. */
enum nstcp_a_lcpu {
	NSTCP_A_LCPU_UNSPEC,
	NSTCP_A_LCPU_PAD,
	NSTCP_A_LCPU_CPU,		/* u32 */
	NSTCP_A_LCPU_QUEUED,		/* u32 */
	NSTCP_A_LCPU_ACCEPTED,		/* u64: taken from it */
	NSTCP_A_LCPU_STOLEN,		/* u64: ... by an acceptor elsewhere */

	__NSTCP_A_LCPU_MAX,
	NSTCP_A_LCPU_MAX = __NSTCP_A_LCPU_MAX - 1
};

/* NSTCP_CMD_HANDOFF_GET: one pending hand-off. */
enum nstcp_a_handoff {
	NSTCP_A_HANDOFF_UNSPEC,
	NSTCP_A_HANDOFF_PAD,
	NSTCP_A_HANDOFF_GIVER,		/* u32: pid in the caller's pid namespace,
					 * 0 when gone
					 */
	NSTCP_A_HANDOFF_TAKER_PID,	/* u32: the named taker, or */
	NSTCP_A_HANDOFF_TAKER_UID,	/* u32: any process of this uid */
	NSTCP_A_HANDOFF_AGE_MS,		/* u32 */
	NSTCP_A_HANDOFF_LEFT_MS,	/* u32 */
	NSTCP_A_HANDOFF_CPU,		/* s32: the flow's receive CPU, -1 */
	NSTCP_A_HANDOFF_FAMILY,		/* u16 */
	NSTCP_A_HANDOFF_LOCAL_ADDR,	/* binary */
	NSTCP_A_HANDOFF_LOCAL_PORT,	/* u16 */
	NSTCP_A_HANDOFF_PEER_ADDR,	/* binary */
	NSTCP_A_HANDOFF_PEER_PORT,	/* u16 */

	__NSTCP_A_HANDOFF_MAX,
	NSTCP_A_HANDOFF_MAX = __NSTCP_A_HANDOFF_MAX - 1
};

/* NSTCP_CMD_QUEUE_*: one device's queue map. */
enum nstcp_a_queue {
	NSTCP_A_QUEUE_UNSPEC,
	NSTCP_A_QUEUE_IFINDEX,		/* u32, required by SET and DEL */
	NSTCP_A_QUEUE_ENTRY,		/* nest of NSTCP_A_QENT_*, one a queue */

	__NSTCP_A_QUEUE_MAX,
	NSTCP_A_QUEUE_MAX = __NSTCP_A_QUEUE_MAX - 1
};

enum nstcp_a_qent {
	NSTCP_A_QENT_UNSPEC,
	NSTCP_A_QENT_QUEUE,		/* u32: the RX/TX queue pair's index */
	NSTCP_A_QENT_CPU,		/* u32: the instance that owns it */
	NSTCP_A_QENT_IFINDEX,		/* u32: the device, in NSTCP_A_INST_QUEUES */

	__NSTCP_A_QENT_MAX,
	NSTCP_A_QENT_MAX = __NSTCP_A_QENT_MAX - 1
};

/* Most queues in one device's map. */
#define NSTCP_QUEUE_MAP_MAX	1024

#endif /* _UAPI_LINUX_NSTCP_NETLINK_H */
