/* SPDX-License-Identifier: GPL-2.0 */
/*
 * AF_NSTCP receive steering (steer.c) and CPU-local connect (connect.c).
 */
#ifndef _NSTCP_STEER_H
#define _NSTCP_STEER_H

#include <linux/rcupdate.h>
#include <linux/types.h>

struct net;
struct net_device;
struct sock;
struct socket;
struct sockaddr;

/* Largest RSS key, indirection table and queue count cached. */
#define NSTCP_RSS_KEY_MAX	64
#define NSTCP_RSS_INDIR_MAX	2048
#define NSTCP_QUEUES_MAX	256
/* Most ports a local connect's search looks at. */
#define NSTCP_PORT_SCAN_MAX	4096

/* One read of a device's RSS key and table; immutable once published. */
struct nstcp_rss {
	struct rcu_head	rcu;
	u32		indir_size;
	u32		key_size;
	u8		hfunc;
	u8		key[NSTCP_RSS_KEY_MAX];
	u32		indir[];
};

/* How a queue's CPU is known, weakest first. */
enum {
	NSTCP_QSRC_NONE,
	NSTCP_QSRC_XPS,		/* the device's XPS map */
	NSTCP_QSRC_LEARNT,	/* where a flow's packets were processed */
	NSTCP_QSRC_EXPLICIT,	/* the queue binding */
};

/* A device's receive steering, from its registration to its unregistration. */
struct nstcp_ndev {
	struct hlist_node	node;	/* nstcp_ndevs, by ifindex (RCU) */
	struct net_device	*dev;
	int			ifindex;
	struct nstcp_rss __rcu	*rss;	/* NULL: no usable RSS */
	unsigned long		stamp;	/* jiffies of the last read */
	bool			stale;	/* a new read is queued */
	unsigned int		nq;	/* real_num_rx_queues then */
	int			qcpu[NSTCP_QUEUES_MAX];	/* -1: unknown */
	u8			qsrc[NSTCP_QUEUES_MAX];	/* NSTCP_QSRC_* */
	struct rcu_head		rcu;
};

/* A tuple's Toeplitz hash as a function of its local port. */
struct nstcp_pred {
	u32	base;		/* with the local port 0 */
	u32	win[16];	/* what each port bit adds, high bit first */
};

u32 nstcp_toeplitz(const u8 *key, unsigned int keylen, const u8 *in,
		   unsigned int len);
void nstcp_pred_init(struct nstcp_pred *p, const u8 *key, unsigned int keylen,
		     const u8 *tuple, unsigned int len, unsigned int port_off);
u32 nstcp_pred_hash(const struct nstcp_pred *p, u16 port);
int nstcp_port_search(int (*cpu_of)(const void *ctx, int port),
		      bool (*skip)(const void *ctx, int port),
		      const void *ctx, int cpu, int low, int high, u32 start,
		      u16 *ports, int max);

struct nstcp_ndev *nstcp_steer_dev(const struct net_device *dev);
unsigned int nstcp_steer_nq(struct nstcp_ndev *nd);
void nstcp_steer_set_queue_cpu(struct nstcp_ndev *nd, unsigned int q, int cpu,
			       int src);
int nstcp_steer_bind_queues(struct net *net, int ifindex, const int *cpus,
			    unsigned int n);
void nstcp_steer_learn(struct nstcp_ndev *nd, int pred_q, int q, int cpu);
int nstcp_steer_init(void);
void nstcp_steer_exit(void);

/* connect.c */
int nstcp_local_connect(struct socket *sock, struct sockaddr *addr, int len,
			int flags, bool *done);
void nstcp_local_check(struct sock *sk);
void nstcp_steer_learn_sk(const struct sock *sk);

#endif /* _NSTCP_STEER_H */
