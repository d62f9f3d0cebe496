/* SPDX-License-Identifier: GPL-2.0 */
/*
 * AF_NSTCP internal interfaces.
 */
#ifndef _NSTCP_H
#define _NSTCP_H

#include <linux/mutex.h>
#include <linux/percpu.h>
#include <linux/sockptr.h>
#include <linux/types.h>
#include <net/net_namespace.h>
#include <net/netns/generic.h>

#include "compat.h"

struct socket;
struct sock;
struct sockaddr;
struct sockaddr_storage;

/* Per-instance event counters; the order is that of NSTCP_PROC_COLUMNS. */
enum nstcp_stat {
	NSTCP_STAT_SOCKETS,	/* sockets created or accepted on the instance */
	NSTCP_STAT_CLOSES,	/* sockets released on the instance */
	NSTCP_STAT_ACCEPTS,	/* connections accepted, by receive CPU */
	NSTCP_STAT_CONNECTS,	/* active opens started on the instance */
	NSTCP_STAT_CALLS,	/* data-path socket calls made on the CPU */
	NSTCP_STAT_HOPS,	/* ... of which for a flow homed elsewhere */
	NSTCP_STAT_MAX
};

/* One protocol instance: a CPU's share of a network namespace. */
struct nstcp_instance {
	atomic_long_t	stats[NSTCP_STAT_MAX];
	int		cpu;
	bool		online;
};

/* Per network namespace state (net_generic). */
struct nstcp_net {
	struct nstcp_instance __percpu	*inst;
	struct ctl_table_header		*sysctl_hdr;
	int				family;		/* read-only sysctl */
	int				hop_accounting;	/* 0 or 1 */
	int				listen_policy;	/* NSTCP_POLICY_* */
	int				accept_steal;	/* 0 or 1 */
	int				accept_steal_delay; /* ms */
	struct mutex			lg_lock;	/* lgroups, membership */
	struct list_head		lgroups;	/* shared listening ports */
	struct list_head		node;		/* nstcp_nets, for cpuhp */
};

extern unsigned int nstcp_net_id;
extern int nstcp_family;

static inline struct nstcp_net *nstcp_pernet(const struct net *net)
{
	return net_generic(net, nstcp_net_id);
}

/* instance.c */
int nstcp_instances_init(struct nstcp_net *nn);
void nstcp_instances_exit(struct nstcp_net *nn);
void nstcp_instance_set_online(struct nstcp_net *nn, int cpu, bool online);
int nstcp_cpuhp_init(void);
void nstcp_cpuhp_exit(void);
unsigned int nstcp_instances_online(struct nstcp_net *nn);

/* stats.c */
/*
 * Count an event on the calling CPU's instance.  The counters are atomic so
 * that an event may also be charged to another CPU's instance (an accepted
 * flow belongs to its receive CPU); migration between reading the CPU and
 * the increment only charges the neighbour, never loses the event.
 */
static inline void nstcp_stat_inc(struct nstcp_net *nn, enum nstcp_stat s)
{
	atomic_long_inc(&raw_cpu_ptr(nn->inst)->stats[s]);
}

void nstcp_stat_inc_cpu(struct nstcp_net *nn, int cpu, enum nstcp_stat s);
unsigned long nstcp_stat_read(struct nstcp_net *nn, int cpu, enum nstcp_stat s);
unsigned long nstcp_stat_sum(struct nstcp_net *nn, enum nstcp_stat s);
int nstcp_proc_init(struct net *net);
void nstcp_proc_exit(struct net *net);

/* sysctl.c */
int nstcp_sysctl_init(struct net *net, struct nstcp_net *nn);
void nstcp_sysctl_exit(struct nstcp_net *nn);

/* addr.c */
int nstcp_addr_in(const struct sockaddr *uaddr, int len, bool v6sock,
		  struct sockaddr_storage *out, int *outlen);
int nstcp_addr_out(struct sockaddr_storage *addr, int len);

/* policy.c */
const char *nstcp_policy_name(int policy);
int nstcp_policy_parse(const char *name);
int nstcp_pick_queue(unsigned int (*qlen)(const void *ctx, unsigned int i),
		     const void *ctx, unsigned int n, unsigned int cpu,
		     bool steal);
unsigned int nstcp_pick_least(const unsigned int *load, unsigned int n,
			      unsigned int start);

/* listen.c */
struct file;
struct poll_table_struct;
extern void (*nstcp_def_readable)(struct sock *sk);
bool nstcp_is_member(const struct sock *sk);
int nstcp_listen_bind(struct socket *sock, const struct sockaddr_storage *addr,
		      int len);
int nstcp_listen_getname(struct socket *sock, struct sockaddr *uaddr);
int nstcp_listen(struct socket *sock, int backlog);
int nstcp_listen_accept(struct socket *sock, struct socket *newsock,
			int flags, bool kern);
__poll_t nstcp_listen_poll(struct file *file, struct socket *sock,
			   struct poll_table_struct *wait);
void nstcp_listen_shutdown(struct sock *sk);
void nstcp_sk_release(struct sock *sk);
int nstcp_listen_setsockopt(struct sock *sk, int optname, sockptr_t optval,
			    unsigned int optlen);
int nstcp_listen_getsockopt(struct sock *sk, int optname,
			    char __user *optval, int __user *optlen);
int nstcp_listen_proc_init(struct net *net);
void nstcp_listen_proc_exit(struct net *net);

/* family.c */
int nstcp_family_init(void);
void nstcp_family_exit(void);

#endif /* _NSTCP_H */
