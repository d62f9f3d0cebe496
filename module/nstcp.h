/* SPDX-License-Identifier: GPL-2.0 */
/*
 * AF_NSTCP internal interfaces.
 */
#ifndef _NSTCP_H
#define _NSTCP_H

#include <linux/hashtable.h>
#include <linux/mutex.h>
#include <linux/nstcp.h>
#include <linux/percpu-refcount.h>
#include <linux/refcount.h>
#include <linux/timer.h>
#include <linux/uidgid.h>
#include <linux/wait.h>
#include <linux/workqueue.h>
#include <linux/percpu.h>
#include <linux/socket.h>
#include <linux/sockptr.h>
#include <linux/types.h>
#include <linux/uaccess.h>
#include <net/net_namespace.h>
#include <net/netns/generic.h>

#include "compat.h"

struct socket;
struct sock;
struct proto;
struct sockaddr;
struct sockaddr_storage;
struct seq_file;
struct file;

/* Per-instance event counters; the order is that of NSTCP_PROC_COLUMNS. */
enum nstcp_stat {
	NSTCP_STAT_SOCKETS,	/* sockets created or accepted on the instance */
	NSTCP_STAT_CLOSES,	/* sockets released on the instance */
	NSTCP_STAT_ACCEPTS,	/* connections accepted, by receive CPU */
	NSTCP_STAT_CONNECTS,	/* active opens started on the instance */
	NSTCP_STAT_CALLS,	/* data-path socket calls made on the CPU */
	NSTCP_STAT_HOPS,	/* ... of which for a flow homed elsewhere */
	NSTCP_STAT_GIVEN,	/* connections given (and split accepts) */
	NSTCP_STAT_TAKEN,	/* ... taken, on the taker's CPU */
	NSTCP_STAT_EXPIRED,	/* ... reset at their token's timeout */
	NSTCP_STAT_REFUSED,	/* takes refused: not the named taker */
	NSTCP_STAT_REHOMED,	/* takes that aimed the flow's RFS entry here */
	NSTCP_STAT_UNSTEERED,	/* takes that could not: RFS off, no hash */
	NSTCP_STAT_LCONNECTS,	/* connects given a port local to the CPU */
	NSTCP_STAT_LFALLBACKS,	/* ... that fell back to the ordinary choice */
	NSTCP_STAT_LMISSES,	/* ... whose replies went to another CPU */
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
	unsigned int			lg_gen;		/* lgroups changed, dumps */
	struct list_head		node;		/* nstcp_nets, for cpuhp */
	spinlock_t			tok_lock;	/* tok_hash, ntokens */
	DECLARE_HASHTABLE(tok_hash, 8);			/* pending hand-offs */
	unsigned int			ntokens;
	unsigned int			tok_gen;	/* tok_hash changed, dumps */
	struct mutex			qmap_lock;	/* qmaps */
	struct list_head		qmaps;		/* queue maps, netlink.c */
	unsigned int			qmap_gen;	/* qmaps changed, dumps */
	int				local_connect;	/* 0 or 1 */
	spinlock_t			ib_lock;	/* ib_hash, ninboxes */
	DECLARE_HASHTABLE(ib_hash, 6);			/* inboxes, inbox.c */
	unsigned int			ninboxes;
	atomic_long_t			ib_given;	/* all inboxes', ever */
	atomic_long_t			ib_accepted;
	atomic_long_t			ib_dropped;
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
int nstcp_pick_turn(unsigned int (*load)(const void *ctx, unsigned int i),
		    const void *ctx, unsigned int n, unsigned int rr,
		    bool least);

/*
 * Per-CPU listening (lgroup.c, listen.c, turn.c, accept.c, arrival.c,
 * sockopt.c, sockstate.c).
 *
 * A listening port is a listen group: one kernel TCP listener per possible
 * CPU (its queue), and the AF_NSTCP listening sockets that share the port
 * (its members).
 */
struct nstcp_lgroup;
struct nstcp_pollwq;
struct nstcp_inbox;

/* limit.c: a port's limits, see there; held by its group and members. */
struct nstcp_cps_window {
	unsigned long		start;		/* jiffies */
	unsigned int		count;		/* accepts in it */
};

/* srclimit.c: a source, as nstcpd counts them (IPv4, IPv6 /64). */
struct nstcp_src_key {
	__be32			w[4];
};

#define NSTCP_SRC_HASH_BITS	8
#define NSTCP_SRC_BUCKETS	BIT(NSTCP_SRC_HASH_BITS)
#define NSTCP_SRC_MAX		4096	/* sources in service per port */

/* The sources with connections in service on a port. */
struct nstcp_srctab {
	struct hlist_head	bucket[NSTCP_SRC_BUCKETS];
	unsigned int		nsrc;
	u32			seed;		/* random, the table's own */
};

enum { NSTCP_SRC_OK, NSTCP_SRC_OVER, NSTCP_SRC_UNCOUNTED };

struct nstcp_limits {
	refcount_t		ref;
	unsigned int		max_conns;	/* 0: none (READ_ONCE) */
	unsigned int		cps;		/* 0: none (READ_ONCE) */
	unsigned int		per_source;	/* 0: none (READ_ONCE) */
	atomic_t		conns;		/* charged, not yet closed */
	atomic_long_t		refused;	/* reset at accept */
	atomic_long_t		src_uncounted;	/* let through, table full */
	spinlock_t		lock;		/* win, src */
	struct nstcp_cps_window	win;
	struct nstcp_srctab	src;
};

void nstcp_src_key_v4(__be32 addr, struct nstcp_src_key *k);
struct in6_addr;
void nstcp_src_key_v6(const struct in6_addr *a, struct nstcp_src_key *k);
void nstcp_srctab_init(struct nstcp_srctab *t);
void nstcp_srctab_free(struct nstcp_srctab *t);
int nstcp_src_charge(struct nstcp_srctab *t, const struct nstcp_src_key *k,
		     unsigned int max);
void nstcp_src_uncharge(struct nstcp_srctab *t, const struct nstcp_src_key *k);
bool nstcp_src_admit(struct nstcp_limits *lim, const struct sock *child,
		     unsigned int max, bool *charged, struct nstcp_src_key *k);
void nstcp_src_release(struct nstcp_limits *lim, const struct nstcp_src_key *k);

struct nstcp_limits *nstcp_limits_alloc(void);
void nstcp_limits_get(struct nstcp_limits *lim);
void nstcp_limits_put(struct nstcp_limits *lim);
bool nstcp_cps_admit(struct nstcp_cps_window *w, unsigned long now,
		     unsigned int cps);
bool nstcp_limits_admit(struct nstcp_limits *lim, const struct sock *child,
			bool least, bool *charged, bool *src,
			struct nstcp_src_key *key);
void nstcp_limits_uncharge(struct nstcp_limits *lim);
int nstcp_limit_set(struct sock *sk, int optname, sockptr_t optval,
		    unsigned int optlen);
int nstcp_limit_get(struct sock *sk, int optname, char __user *optval,
		    int __user *optlen, int len);

/* An AF_NSTCP listening socket's place in its port's group. */
struct nstcp_member {
	struct nstcp_lgroup	*group;
	struct sock		*sk;		/* held until a grace period after leaving */
	struct list_head	node;		/* group->members (RCU) */
	wait_queue_head_t	acceptq;	/* blocked accept() calls */
	atomic_t		credits;	/* assigned, not yet accepted */
	atomic_t		active;		/* accepted, still open */
	struct percpu_ref	users;		/* the membership, accept() calls */
	refcount_t		ref;		/* users, sockets it accepted */
	bool			dead;		/* left the group */
	struct rcu_head		leave_rcu;
	struct rcu_head		free_rcu;
	struct nstcp_pollwq	*pollwq;	/* its socket's, once polled */
	struct nstcp_limits	*lim;		/* its group's, held */
};

/* One CPU instance's listener of a port. */
struct nstcp_lqueue {
	struct socket		*sock;		/* owned by the group, released with it */
	struct sock		*sk;		/* for lockless readers (type-stable) */
	struct nstcp_lgroup	*group;
	unsigned int		cpu;
	unsigned long		steal_at;	/* jiffies others may take from it */
	unsigned long		seen;		/* jiffies an acceptor last ran here */
	const void		*owner;		/* the task that did */
	atomic_t		waiting;	/* acceptors asleep on this CPU */
	struct timer_list	steal_timer;
	atomic_long_t		accepted;	/* connections taken from it */
	atomic_long_t		stolen;		/* ... by an acceptor elsewhere */
} ____cacheline_aligned_in_smp;

/* A listening port: its per-CPU listeners and its members. */
struct nstcp_lgroup {
	struct list_head	node;		/* nstcp_net.lgroups */
	struct net		*net;
	struct sockaddr_storage	addr;		/* the TCP sockets' form */
	int			addrlen;
	int			bound_dev_if;	/* the owner's SO_BINDTODEVICE */
	u8			key[NSTCP_KEY_MAX];
	u8			keylen;
	bool			reuseport;	/* shared by SO_REUSEPORT, no key */
	bool			v6only;		/* IPV6_V6ONLY: no IPv4 side */
	bool			dead;		/* its listeners are closed */
	kuid_t			owner;		/* uid every member must have */
	int			policy;
	spinlock_t		lock;		/* members, marr, rr, prepaid */
	struct list_head	members;
	struct nstcp_member	**marr;		/* members in join order */
	unsigned int		nmembers;
	unsigned int		rr;
	unsigned int		prepaid;	/* taken before handed out */
	atomic_long_t		migrated;
	struct nstcp_limits	*lim;		/* held */
	refcount_t		ref;		/* its listeners, its members' structs */
	struct rcu_work		free_work;
	unsigned int		nr;		/* nr_cpu_ids */
	struct nstcp_lqueue	q[];
};

/* AF_NSTCP state of a socket that set SOL_NSTCP options or listens. */
/* A member's socket-level options, as last copied to its listeners. */
struct nstcp_optsnap {
	unsigned long		flags;		/* of nstcp_sync_flags only */
	long			rcvtimeo, sndtimeo, lingertime;
	unsigned long		pacing;
	const void		*filter;
	int			sndbuf, rcvbuf, rcvlowat, bound_dev_if;
	u32			mark, priority, tsflags, ll_usec;
	u8			userlocks;
};

struct nstcp_sk {
	u8			key[NSTCP_KEY_MAX];
	u8			keylen;
	int			policy;		/* requested; 0: the default */
	struct nstcp_member	*member;	/* while listening */
	struct nstcp_member	*parent;	/* accepted: the member that took it */
	bool			parent_src;	/* ... charged to its source too, */
	struct nstcp_src_key	parent_key;	/* ... under this key */
	struct list_head	replay;		/* options the listeners replay */
	struct nstcp_optsnap	snap;		/* a member's, see sockopt.c */
	struct nstcp_token	*token;		/* given, not yet taken */
	bool			detached;	/* the giver's socket after the take */
	bool			lc_pending;	/* a local connect to check */
	int			lc_cpu;		/* ... the CPU it was made for */
	int			lc_ifindex;	/* ... its device */
	struct nstcp_pollwq	*pollwq;	/* per-CPU poll heads, see pollwq.c */
	struct nstcp_inbox	*inbox;		/* a worker's inbox, inbox.c */
	struct socket		*shell;		/* a listener's, NSTCP_ACCEPT_TO's */
};

extern void (*nstcp_def_readable)(struct sock *sk);

/* sockstate.c */
struct nstcp_sk *nstcp_sk_get(const struct sock *sk);
struct nstcp_sk *nstcp_sk_new(void);
struct nstcp_sk *nstcp_sk_alloc(struct sock *sk);
int nstcp_sk_check(const struct sock *sk);
bool nstcp_sk_detached(const struct sock *sk);
bool nstcp_sk_fresh(const struct sock *sk);
void nstcp_sk_set_parent(struct sock *child, struct nstcp_member *m,
			 const struct nstcp_src_key *src);
struct nstcp_member *nstcp_member(const struct sock *sk);
void nstcp_sk_release(struct sock *sk);
void nstcp_member_put(struct nstcp_member *m);
void nstcp_member_users_gone(struct percpu_ref *users);

/* lgroup.c: a port's group and its per-CPU listeners */
struct nstcp_lgroup *nstcp_lgroup_create(struct sock *sk, struct nstcp_sk *ns,
					 const struct sockaddr_storage *a,
					 int len, int backlog);
void nstcp_lgroup_close(struct nstcp_lgroup *g);
void nstcp_lgroup_put(struct nstcp_lgroup *g);
int nstcp_listen_show(struct seq_file *seq, void *v);
int nstcp_listen_init(void);
void nstcp_listen_exit(void);
void nstcp_lgroups_cpu_offline(struct nstcp_net *nn, unsigned int cpu);

/* listen.c: joining and leaving a group */
int nstcp_listen_bind_check(struct sock *sk,
			    const struct sockaddr_storage *addr, int len);
int nstcp_listen(struct socket *sock, int backlog);
void nstcp_listen_leave(struct sock *sk);

/* turn.c: whose turn it is, the members' credits */
unsigned int nstcp_qlen(const struct nstcp_lqueue *q);
long nstcp_unassigned(struct nstcp_lgroup *g);
struct nstcp_member *nstcp_turn(struct nstcp_lgroup *g, bool advance);
struct nstcp_member *nstcp_give(struct nstcp_lgroup *g);
void nstcp_hand_on(struct nstcp_lgroup *g, int credits, bool count);

/* arrival.c */
void nstcp_lq_data_ready(struct sock *sk);
void nstcp_steal_timeout(struct timer_list *t);
void nstcp_notify(struct nstcp_member *m, int cpu, bool any);
void nstcp_wake_all(struct nstcp_lgroup *g, int cpu);

/* accept.c */
int nstcp_listen_accept(struct socket *sock, struct socket *newsock,
			int flags, bool kern, const bool *stop);
struct poll_table_struct;
__poll_t nstcp_listen_poll(struct file *file, struct socket *sock,
			   struct poll_table_struct *wait);

/* pollwq.c: per-CPU poll wait queues of a listening socket */
struct nstcp_pollwq {
	struct rcu_head		rcu;
	unsigned int		nr;
	wait_queue_head_t	head[];
};

struct nstcp_pollwq *nstcp_pollwq_alloc(unsigned int nr);
void nstcp_pollwq_free(struct nstcp_pollwq *pw);
bool nstcp_pollwq_active(struct nstcp_pollwq *pw, unsigned int cpu);
void nstcp_pollwq_wake(struct nstcp_pollwq *pw, unsigned int cpu);
void nstcp_pollwq_register(struct file *file, struct sock *sk,
			   struct poll_table_struct *wait);
bool nstcp_poll_cpu_active(struct nstcp_lgroup *g, unsigned int cpu);
void nstcp_poll_cpu_wake(struct nstcp_lgroup *g, unsigned int cpu);

/* solnstcp.c */
int nstcp_setsockopt_nstcp(struct sock *sk, int optname, sockptr_t optval,
			   unsigned int optlen);
/*
 * The in half of an in-and-out getsockopt: the caller's optlen into *@len,
 * then the first @size bytes of optval into @arg.  -EFAULT, or -EINVAL
 * when optlen is shorter than @size.  Inline, so that copy_from_user()
 * still sees the size of the caller's object.
 */
static inline int nstcp_getsockopt_in(void *arg, int size,
				      char __user *optval,
				      int __user *optlen, int *len)
{
	if (get_user(*len, optlen))
		return -EFAULT;
	if (*len < size)
		return -EINVAL;
	if (copy_from_user(arg, optval, size))
		return -EFAULT;
	return 0;
}

int nstcp_getsockopt_nstcp(struct sock *sk, int optname,
			   char __user *optval, int __user *optlen);

/* sockopt.c */
bool nstcp_sockopt_replayed(int level, int optname);
int nstcp_sockopt_set_replayed(struct socket *sock, int level, int optname,
			       sockptr_t optval, unsigned int optlen);
void nstcp_sockopt_after_set(struct sock *sk);
int nstcp_sockopt_sync(struct sock *from, struct socket *to, bool fresh);
void nstcp_sockopt_free(struct nstcp_sk *ns);
void nstcp_sockopt_prot_init(const struct proto *base);
void nstcp_sockopt_member_prot(struct sock *sk, bool on);

/* family.c */
extern const struct proto_ops *nstcp_inet6_ops;
int nstcp_family_init(void);
void nstcp_family_exit(void);
struct socket *nstcp_sock_shell(struct sock *sk);

/* streamops.c */
extern const struct proto_ops nstcp_stream_ops;

/* cgroup4.c: the INET4 cgroup programs on a dual-stack sock. */
int nstcp_bind_hook4(struct sock *sk, struct sockaddr *uaddr, int len);
bool nstcp_hook4_applies(const struct sock *sk, const struct sockaddr *uaddr,
			 int len);
int nstcp_connect_hooked4(struct socket *sock, struct sockaddr *uaddr,
			  int len, int flags);
void nstcp_getname_hook4(struct sock *sk, struct sockaddr *uaddr, int *len,
			 int peer);
int nstcp_fastopen_hooked4(struct socket *sock, struct msghdr *msg,
			   size_t size);

/*
 * Hand-off (handoff.c, token.c).  A token is in its namespace's table while
 * it can be taken; whoever removes it (a take, the expiry, the namespace's
 * exit) owns what it reserves.  It is counted: the table's or its owner's
 * reference, and one for its queued expiry.
 */
struct nstcp_token {
	struct hlist_node	node;		/* nstcp_net.tok_hash */
	u64			id;
	bool			hashed;
	bool			kern;		/* sock is a split accept's, ours */
	bool			modref;		/* holds the module */
	refcount_t		ref;
	struct nstcp_net	*nn;
	struct sock		*sk;		/* the connection, held */
	struct socket		*sock;		/* its owner; NULL once the giver closed it */
	struct file		*file;		/* kern: sock's file, ours; a take installs it */
	struct pid		*taker;		/* a thread group, or NULL: uid */
	kuid_t			uid;
	struct pid		*giver;
	unsigned long		since;		/* jiffies */
	unsigned long		timeout;	/* jiffies */
	int			cpu;		/* the flow's receive CPU then */
	struct delayed_work	expire;
};

/* Most tokens pending in one namespace. */
#define NSTCP_TOKENS_MAX	4096

/* token.c: the token table, expiry, /proc/net/nstcp_tokens */
void nstcp_tokens_init(struct nstcp_net *nn);
void nstcp_tokens_exit(struct nstcp_net *nn);
struct nstcp_token *nstcp_token_alloc(void);
void nstcp_token_put(struct nstcp_token *t);
int nstcp_token_insert(struct nstcp_net *nn, struct nstcp_token *t);
void nstcp_token_arm(struct nstcp_token *t);
bool nstcp_token_may_take(const struct nstcp_token *t);
struct nstcp_token *nstcp_token_claim(struct nstcp_net *nn, u64 id);
bool nstcp_token_held(struct nstcp_net *nn, u64 id);
struct nstcp_token *nstcp_token_claim_file(struct nstcp_net *nn, u64 id);
void nstcp_token_republish(struct nstcp_net *nn, struct nstcp_token *t);
void nstcp_token_drop_sock(struct nstcp_token *t);
void nstcp_token_revoke(struct nstcp_net *nn, u64 id);
void nstcp_token_expire_now(struct nstcp_token *t);
void nstcp_dispose(struct nstcp_net *nn, struct sock *sk);
int nstcp_tokens_show(struct seq_file *seq, void *v);
int nstcp_handoff_init(void);
void nstcp_handoff_exit(void);

/* handoff.c: give, take, split accept */
int nstcp_handoff_getsockopt(struct socket *sock, int optname,
			     char __user *optval, int __user *optlen);
int nstcp_take(struct socket *sock, sockptr_t optval, unsigned int optlen);
bool nstcp_handoff_release(struct socket *sock);
void nstcp_graft(struct sock *sk, struct socket *parent);
void nstcp_rehome(struct nstcp_net *nn, struct sock *sk);
void nstcp_rfs_point(struct sock *sk, int cpu);
int nstcp_taker_cpu(const struct net *net, struct pid *taker);
/* takefd.c: a take into a new descriptor */
int nstcp_take_fd(struct socket *sock, char __user *optval,
		  int __user *optlen);

/* netlink.c: the generic netlink family, the queue maps */
int nstcp_netlink_init(void);
void nstcp_netlink_exit(void);
void nstcp_qmap_net_init(struct nstcp_net *nn);
void nstcp_qmap_net_exit(struct nstcp_net *nn);

#endif /* _NSTCP_H */
