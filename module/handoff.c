// SPDX-License-Identifier: GPL-2.0
/*
 * AF_NSTCP hand-off: a connection given to a named process, which takes it
 * on a fresh socket of its own (Documentation/handoff.rst), or into a new
 * descriptor (takefd.c).
 *
 * A give reserves the connection: a token in the namespace's table names
 * the taker and holds the sock, and the giver's socket refuses every call
 * but close() and poll().  A take, in the taker's context and on its CPU,
 * swaps the socks of the two sockets: the connection's sock is grafted
 * onto the taker's socket, the taker's fresh unconnected sock onto the
 * giver's, marked detached.  A giver that closes its socket first leaves
 * the sock reserved and unowned, as a connection waiting in an accept
 * queue is.  A token not taken in time resets its connection.
 *
 * Locking: lock_sock(the taker's sock) > lock_sock(the connection's,
 * nested) > nstcp_net.tok_lock.  The token table (token.c) is the claim:
 * only whoever removed a token from it acts on its connection.
 */
#define pr_fmt(fmt) "nstcp: " fmt

#include <linux/capability.h>
#include <linux/cred.h>
#include <linux/file.h>
#include <linux/module.h>
#include <linux/netdevice.h>
#include <linux/pid.h>
#include <linux/sched.h>
#include <linux/security.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <net/inet_connection_sock.h>
#include <net/sock.h>
#include <net/tcp.h>

#include "nstcp.h"
#include "inbox.h"

/*
 * The CPU a named taker will take on, when it can run on one only (a
 * worker pinned there), else -1: its thread group leader's affinity (a
 * thread of it pinned elsewhere is not seen).  Only a CPU the giver may
 * run on itself, and only for a taker of the giver's euid or a giver
 * with CAP_NET_ADMIN in @net: a give must not send its flow's
 * processing to a CPU it could not use (another user's pinned task, a
 * CPU its cpuset leaves out).
 */
int nstcp_taker_cpu(const struct net *net, struct pid *taker)
{
	struct task_struct *task;
	bool same = false;
	int cpu = -1;

	if (!taker)
		return -1;
	rcu_read_lock();
	task = pid_task(taker, PIDTYPE_TGID);
	if (task && task->nr_cpus_allowed == 1) {
		cpu = cpumask_first(task->cpus_ptr);
		same = uid_eq(task_euid(task), current_euid());
	}
	rcu_read_unlock();
	if (cpu < 0 || cpu >= nr_cpu_ids ||
	    !cpumask_test_cpu(cpu, current->cpus_ptr))
		return -1;
	if (!same && !ns_capable_noaudit(net->user_ns, CAP_NET_ADMIN))
		return -1;
	return cpu;
}

static int nstcp_give_check(const struct nstcp_give *g)
{
	if (g->ng_reserved || g->ng_timeout_ms > NSTCP_GIVE_TIMEOUT_MAX)
		return -EINVAL;
	if (g->ng_flags != NSTCP_GIVE_PID && g->ng_flags != NSTCP_GIVE_UID)
		return -EINVAL;
	return 0;
}

/*
 * Reserve @sock's connection for the taker @g names; the token into @g.
 * @file: @sock is a split accept's, with this file, which the token owns
 * once given (on failure it stays the caller's).
 */
static int nstcp_give_sock(struct socket *sock, struct nstcp_give *g,
			   struct file *file)
{
	struct sock *sk = sock->sk;
	struct nstcp_net *nn = nstcp_pernet(sock_net(sk));
	unsigned int ms = g->ng_timeout_ms ?: NSTCP_GIVE_TIMEOUT_DEF;
	struct nstcp_token *t;
	struct nstcp_sk *ns;
	int err;

	err = nstcp_give_check(g);
	if (err)
		return err;
	t = nstcp_token_alloc();
	if (!t)
		return -ENOMEM;
	if (g->ng_flags == NSTCP_GIVE_PID) {
		err = -ESRCH;
		if (!g->ng_id || g->ng_id > INT_MAX)
			goto out;
		t->taker = find_get_pid(g->ng_id);
		/* A process: a thread group's leader, not one of its threads. */
		if (!t->taker || !pid_has_task(t->taker, PIDTYPE_TGID))
			goto out;
	} else {
		err = -EINVAL;
		t->uid = make_kuid(current_user_ns(), g->ng_id);
		if (!uid_valid(t->uid))
			goto out;
	}
	t->giver = get_pid(task_tgid(current));
	t->kern = !!file;
	t->since = jiffies;
	t->timeout = msecs_to_jiffies(ms);

	lock_sock(sk);
	err = -EINVAL;		/* an inbox is its maker's, never a connection */
	if (nstcp_inbox_of(sk))
		goto out_unlock;
	err = -ENOTCONN;
	if (!((1 << sk->sk_state) & (TCPF_ESTABLISHED | TCPF_CLOSE_WAIT)))
		goto out_unlock;
	err = nstcp_sk_check(sk);
	if (err)
		goto out_unlock;
	ns = nstcp_sk_alloc(sk);
	err = PTR_ERR_OR_ZERO(ns);
	if (err)
		goto out_unlock;
	sock_hold(sk);
	t->sk = sk;
	t->sock = sock;
	t->file = file;
	t->cpu = READ_ONCE(sk->sk_incoming_cpu);
	__module_get(THIS_MODULE);
	t->modref = true;
	err = nstcp_token_insert(nn, t);
	if (err)
		goto out_unlock;
	WRITE_ONCE(ns->token, t);
	g->ng_token = t->id;
	nstcp_token_arm(t);
	/*
	 * A taker pinned on one CPU (that the giver may use too): its
	 * flow's packets go there from now on, so what arrives before the
	 * take is processed where it will be read.  The take re-homes it
	 * all the same.
	 */
	nstcp_rfs_point(sk, nstcp_taker_cpu(sock_net(sk), t->taker));
	release_sock(sk);
	nstcp_stat_inc(nn, NSTCP_STAT_GIVEN);
	return 0;

out_unlock:
	release_sock(sk);
out:
	nstcp_token_put(t);
	return err;
}

/*
 * Steering follows the taker: the flow's RFS entry names this CPU, so its
 * packets are processed here from the next one on (RFS moves a flow only
 * once its old CPU's backlog has drained past it: no reordering).  XPS
 * follows by itself at the flow's next idle point.
 */
void nstcp_rehome(struct nstcp_net *nn, struct sock *sk)
{
	bool done = false;
#ifdef CONFIG_RPS
	struct rps_sock_flow_table *tab;
	u32 hash = READ_ONCE(sk->sk_rxhash);

	rcu_read_lock();
	tab = rcu_dereference(compat_rps_sock_flow_table);
	if (static_branch_unlikely(&rfs_needed) && tab && hash) {
		rps_record_sock_flow(tab, hash);
		done = true;
	}
	rcu_read_unlock();
#endif
	if (done) {
		nstcp_stat_inc(nn, NSTCP_STAT_REHOMED);
		return;
	}
	nstcp_stat_inc(nn, NSTCP_STAT_UNSTEERED);
	pr_info_once("RFS is off (net.core.rps_sock_flow_entries, rps_flow_cnt): a taken connection's packets stay on their CPU\n");
}

/*
 * Point @sk's RFS entry at @cpu (none if -1): a split accept runs on the
 * dispatcher's CPU, and the accept it goes through records the flow there
 * (the kernel's helper writes the calling CPU); until the take the flow's
 * packets stay on their own CPU instead, or go to a pinned taker's.
 */
void nstcp_rfs_point(struct sock *sk, int cpu)
{
#ifdef CONFIG_RPS
	struct rps_sock_flow_table *tab;
	u32 hash = READ_ONCE(sk->sk_rxhash);
	unsigned int i;
	u32 val;

	if (!hash || cpu < 0 || cpu >= nr_cpu_ids ||
	    !static_branch_unlikely(&rfs_needed))
		return;
	rcu_read_lock();
	tab = rcu_dereference(compat_rps_sock_flow_table);
	if (tab) {
		i = hash & tab->mask;
		val = (hash & ~compat_rps_cpu_mask) | cpu;
		if (READ_ONCE(tab->ents[i]) != val)
			WRITE_ONCE(tab->ents[i], val);
	}
	rcu_read_unlock();
#endif
}

/*
 * sock_graft() onto a socket that holds another sock until now: its
 * lockless readers see the one or the other, never none.
 */
void nstcp_graft(struct sock *sk, struct socket *parent)
{
	write_lock_bh(&sk->sk_callback_lock);
	rcu_assign_pointer(sk->sk_wq, &parent->wq);
	WRITE_ONCE(parent->sk, sk);
	sk_set_socket(sk, parent);
	sk->sk_uid = SOCK_INODE(parent)->i_uid;
	security_sock_graft(sk, parent);
	write_unlock_bh(&sk->sk_callback_lock);
}

/* setsockopt(NSTCP_TAKE): token @optval's connection becomes @sock's. */
int nstcp_take(struct socket *sock, sockptr_t optval, unsigned int optlen)
{
	struct sock *fsk = sock->sk, *sk;
	struct nstcp_net *nn = nstcp_pernet(sock_net(fsk));
	struct nstcp_sk *husk, *ns;
	struct nstcp_token *t;
	struct socket *giver;
	u64 id;
	int err;

	if (optlen != sizeof(id))
		return -EINVAL;
	if (copy_from_sockptr(&id, optval, sizeof(id)))
		return -EFAULT;
	husk = nstcp_sk_new();
	if (!husk)
		return -ENOMEM;
	husk->detached = true;

	lock_sock(fsk);
	err = -EINVAL;		/* an inbox takes nothing: not SS_UNCONNECTED */
	if (nstcp_inbox_of(fsk))
		goto out;
	err = -EISCONN;
	if (sock->state != SS_UNCONNECTED || fsk->sk_state != TCP_CLOSE)
		goto out;
	err = -EINVAL;
	if (inet_sk(fsk)->inet_num || !nstcp_sk_fresh(fsk))
		goto out;
	t = nstcp_token_claim(nn, id);
	if (IS_ERR(t)) {
		err = PTR_ERR(t);
		goto out;
	}

	sk = t->sk;
	lock_sock_nested(sk, SINGLE_DEPTH_NESTING);
	ns = nstcp_sk_get(sk);
	WRITE_ONCE(ns->token, NULL);
	giver = t->sock;
	if (giver) {
		/*
		 * The giver's socket gets our fresh sock, detached, and its
		 * sleepers are woken to find it so.  Its release waits for
		 * this sock's lock, which we hold until done with it.
		 */
		/*
		 * Per-CPU poll heads (a socket that listened, shut down and
		 * connected) belong to the giver's socket, whose file's epoll
		 * entries may still sit on them: they stay with it.
		 */
		husk->pollwq = xchg(&ns->pollwq, NULL);
		rcu_assign_pointer(inet_csk(fsk)->icsk_ulp_data, husk);
		husk = NULL;
		giver->state = SS_UNCONNECTED;
		nstcp_graft(fsk, giver);
		sock_valbool_flag(fsk, SOCK_FASYNC, !!giver->wq.fasync_list);
		fsk->sk_state_change(fsk);
	}
	nstcp_graft(sk, sock);
	sock->state = SS_CONNECTED;
	sock_valbool_flag(sk, SOCK_FASYNC, !!sock->wq.fasync_list);
	release_sock(sk);
	release_sock(fsk);

	nstcp_stat_inc(nn, NSTCP_STAT_TAKEN);
	nstcp_rehome(nn, sk);
	/* What the taker's pollers wait for may be there already. */
	sk->sk_state_change(sk);
	if (!giver)
		nstcp_dispose(nn, fsk);
	else if (t->kern)
		nstcp_token_drop_sock(t);
	nstcp_token_put(t);
	return 0;

out:
	release_sock(fsk);
	kfree(husk);
	return err;
}

/*
 * Closing a given socket before the take: the connection stays reserved,
 * unowned, until taken or expired.  Returns whether it did so (and @sock
 * holds nothing any more).  A take that ran meanwhile left @sock another
 * sock: the caller releases that one.
 */
bool nstcp_handoff_release(struct socket *sock)
{
	struct nstcp_token *t;
	struct nstcp_sk *ns;
	struct sock *sk;

	if (!nstcp_sk_get(sock->sk))
		return false;
again:
	sk = READ_ONCE(sock->sk);
	lock_sock(sk);
	if (READ_ONCE(sock->sk) != sk) {
		release_sock(sk);
		goto again;
	}
	ns = nstcp_sk_get(sk);
	t = ns ? ns->token : NULL;
	if (t) {
		WRITE_ONCE(t->sock, NULL);
		write_lock_bh(&sk->sk_callback_lock);
		sk_set_socket(sk, NULL);
		RCU_INIT_POINTER(sk->sk_wq, NULL);
		write_unlock_bh(&sk->sk_callback_lock);
		sock_reset_flag(sk, SOCK_FASYNC);
		sock->sk = NULL;
	}
	release_sock(sk);
	return t;
}

/*
 * Split accept: a connection accepted straight into a token.  It is
 * accepted into a socket with its file but no descriptor, made before the
 * accept so that no failure can lose the connection: the take installs
 * that file (takefd.c), as SCM_RIGHTS installs the file it carries.
 */
static int nstcp_split_accept(struct socket *sock,
			      struct nstcp_accept_token *at)
{
	struct proto_accept_arg arg = {};
	struct socket *newsock;
	struct file *file;
	int err, len;

	err = nstcp_give_check(&at->nat_give);
	if (err)
		return err;
	newsock = nstcp_sock_shell(NULL);
	if (!newsock)
		return -ENOMEM;
	compat_custom_sol_socket(newsock);
	if (test_bit(SOCK_SUPPORT_ZC, &sock->flags))
		set_bit(SOCK_SUPPORT_ZC, &newsock->flags);
	/* On failure this releases the socket. */
	file = sock_alloc_file(newsock, 0, NULL);
	if (IS_ERR(file))
		return PTR_ERR(file);
	if (sock->file && (sock->file->f_flags & O_NONBLOCK))
		arg.flags = O_NONBLOCK;
	err = compat_ops_accept(sock->ops, sock, newsock, &arg);
	if (err)
		goto out;
	len = newsock->ops->getname(newsock, (struct sockaddr *)&at->nat_peer,
				    1);
	if (len < 0) {
		err = len;
		goto out;
	}
	at->nat_addrlen = len;
	at->nat_cpu = READ_ONCE(newsock->sk->sk_incoming_cpu);
	nstcp_rfs_point(newsock->sk, at->nat_cpu);
	err = nstcp_give_sock(newsock, &at->nat_give, file);
	if (err)
		goto out;
	return 0;	/* the token owns the file now */
out:
	fput(file);
	return err;
}

/* getsockopt(NSTCP_GIVE, NSTCP_ACCEPT_TOKEN): in and out. */
int nstcp_handoff_getsockopt(struct socket *sock, int optname,
			     char __user *optval, int __user *optlen)
{
	struct nstcp_accept_token at;
	int len, size, err;

	size = optname == NSTCP_GIVE ? sizeof(struct nstcp_give) : sizeof(at);
	memset(&at, 0, sizeof(at));
	err = nstcp_getsockopt_in(&at, size, optval, optlen, &len);
	if (err)
		return err;
	if (optname == NSTCP_GIVE)
		err = nstcp_give_sock(sock, &at.nat_give, NULL);
	else
		err = nstcp_split_accept(sock, &at);
	if (err)
		return err;
	if (put_user(size, optlen) || copy_to_user(optval, &at, size)) {
		nstcp_token_revoke(nstcp_pernet(sock_net(sock->sk)),
				   at.nat_give.ng_token);
		return -EFAULT;
	}
	return 0;
}

