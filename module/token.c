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
 * nested) > nstcp_net.tok_lock.  The table is the claim: a take, the
 * expiry or the namespace's exit removes a token under tok_lock, and only
 * the one that removed it acts on its connection.  A token is counted: one
 * reference for the table (then for whoever removed it from the table),
 * one for its queued expiry.
 */
#define pr_fmt(fmt) "nstcp: " fmt

#include <linux/cred.h>
#include <linux/module.h>
#include <linux/netdevice.h>
#include <linux/pid.h>
#include <linux/pid_namespace.h>
#include <linux/random.h>
#include <linux/sched.h>
#include <linux/security.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <net/inet_connection_sock.h>
#include <net/ipv6.h>
#include <net/sock.h>
#include <net/tcp.h>
#include <kunit/visibility.h>

#include "nstcp.h"

static struct workqueue_struct *nstcp_hwq;

static void nstcp_token_work(struct work_struct *w);

struct nstcp_token *nstcp_token_alloc(void)
{
	struct nstcp_token *t = kzalloc(sizeof(*t), GFP_KERNEL);

	if (!t)
		return NULL;
	refcount_set(&t->ref, 1);
	t->cpu = -1;
	INIT_DELAYED_WORK(&t->expire, nstcp_token_work);
	return t;
}
EXPORT_SYMBOL_IF_KUNIT(nstcp_token_alloc);

void nstcp_token_put(struct nstcp_token *t)
{
	bool modref;

	if (!refcount_dec_and_test(&t->ref))
		return;
	if (t->sk)
		sock_put(t->sk);
	put_pid(t->taker);
	put_pid(t->giver);
	modref = t->modref;
	kfree(t);
	/* The module's exit waits for its workqueue: this may be our last. */
	if (modref)
		module_put(THIS_MODULE);
}
EXPORT_SYMBOL_IF_KUNIT(nstcp_token_put);

void nstcp_tokens_init(struct nstcp_net *nn)
{
	spin_lock_init(&nn->tok_lock);
	hash_init(nn->tok_hash);
	nn->ntokens = 0;
}
EXPORT_SYMBOL_IF_KUNIT(nstcp_tokens_init);

static struct nstcp_token *nstcp_token_find(struct nstcp_net *nn, u64 id)
{
	struct nstcp_token *t;

	lockdep_assert_held(&nn->tok_lock);
	hash_for_each_possible(nn->tok_hash, t, node, id)
		if (t->id == id)
			return t;
	return NULL;
}

/* A new token, unguessable, never 0, unique in the table.  -ENOBUFS. */
int nstcp_token_insert(struct nstcp_net *nn, struct nstcp_token *t)
{
	u64 id;

	spin_lock(&nn->tok_lock);
	if (nn->ntokens >= NSTCP_TOKENS_MAX) {
		spin_unlock(&nn->tok_lock);
		return -ENOBUFS;
	}
	do {
		id = get_random_u64();
	} while (!id || nstcp_token_find(nn, id));
	t->id = id;
	t->nn = nn;
	t->hashed = true;
	hash_add(nn->tok_hash, &t->node, id);
	nn->ntokens++;
	nn->tok_gen++;
	spin_unlock(&nn->tok_lock);
	return 0;
}
EXPORT_SYMBOL_IF_KUNIT(nstcp_token_insert);

static void nstcp_token_unhash_locked(struct nstcp_token *t)
{
	hash_del(&t->node);
	t->hashed = false;
	t->nn->ntokens--;
	t->nn->tok_gen++;
}

/* Whether the caller removed @t from its table (and owns its reference). */
static bool nstcp_token_unhash(struct nstcp_token *t)
{
	struct nstcp_net *nn = t->nn;
	bool was;

	spin_lock(&nn->tok_lock);
	was = t->hashed;
	if (was)
		nstcp_token_unhash_locked(t);
	spin_unlock(&nn->tok_lock);
	return was;
}

/*
 * The caller is the named taker: of the named thread group (a struct pid,
 * so a recycled pid number is another process), or of the named uid.
 */
bool nstcp_token_may_take(const struct nstcp_token *t)
{
	if (t->taker)
		return task_tgid(current) == t->taker;
	return uid_eq(current_euid(), t->uid);
}
EXPORT_SYMBOL_IF_KUNIT(nstcp_token_may_take);

static struct nstcp_token *__nstcp_token_claim(struct nstcp_net *nn, u64 id,
					       bool check)
{
	struct nstcp_token *t;
	int err = 0;

	spin_lock(&nn->tok_lock);
	t = id ? nstcp_token_find(nn, id) : NULL;
	if (!t)
		err = -ENOENT;
	else if (check && !nstcp_token_may_take(t))
		err = -EPERM;
	else
		nstcp_token_unhash_locked(t);
	spin_unlock(&nn->tok_lock);
	if (err == -EPERM)
		nstcp_stat_inc(nn, NSTCP_STAT_REFUSED);
	if (err)
		return ERR_PTR(err);
	/* An expiry not started never will; a running one finds it gone. */
	if (cancel_delayed_work(&t->expire))
		nstcp_token_put(t);
	return t;
}

/*
 * Take token @id out of @nn's table for the caller, its named taker.
 * -ENOENT for an unknown (used, expired) token, -EPERM (counted refused)
 * for another caller, the token staying.
 */
struct nstcp_token *nstcp_token_claim(struct nstcp_net *nn, u64 id)
{
	return __nstcp_token_claim(nn, id, true);
}
EXPORT_SYMBOL_IF_KUNIT(nstcp_token_claim);

/*
 * Whether a take of token @id, if it came now, would find the giver still
 * holding the connection in a socket of its own (not a split accept's),
 * which then needs a husk.  A token's holder only goes away once given
 * (t->sock is set before the token is in the table), so a "no" holds
 * until the claim.  Whether the caller may take is for the
 * claim to say: it could change meanwhile (another thread's setuid).
 */
bool nstcp_token_held(struct nstcp_net *nn, u64 id)
{
	struct nstcp_token *t;
	bool held = false;

	spin_lock(&nn->tok_lock);
	t = id ? nstcp_token_find(nn, id) : NULL;
	if (t && !t->kern)
		held = READ_ONCE(t->sock);
	spin_unlock(&nn->tok_lock);
	return held;
}

/* Release @sk, which no socket holds, as closing a socket would. */
static void nstcp_dispose(struct nstcp_net *nn, struct sock *sk)
{
	struct socket *shell = nstcp_sock_shell(sk);

	if (shell) {
		nstcp_stat_inc(nn, NSTCP_STAT_SOCKETS);	/* its release counts */
		sock_release(shell);
		return;
	}
	nstcp_sk_release(sk);
	sk->sk_prot->close(sk, 0);
}

/*
 * A removed token's connection is reset (RST to the peer, ETIMEDOUT to a
 * giver still holding it), and released if nobody else holds it.
 */
static void nstcp_token_reset(struct nstcp_token *t)
{
	struct sock *sk = t->sk;
	struct socket *sock;
	struct nstcp_sk *ns;

	if (!sk)
		return;
	lock_sock(sk);
	ns = nstcp_sk_get(sk);
	if (ns)
		WRITE_ONCE(ns->token, NULL);
	sock = t->sock;
	release_sock(sk);
	tcp_abort(sk, ETIMEDOUT);
	if (t->kern)
		sock_release(sock);
	else if (!sock)
		nstcp_dispose(t->nn, sk);
}

/* The token's time is out: if still pending, reset and count it. */
void nstcp_token_expire_now(struct nstcp_token *t)
{
	int cpu = t->cpu;

	if (!nstcp_token_unhash(t))
		return;
	if (cpu < 0 || cpu >= nr_cpu_ids)
		cpu = raw_smp_processor_id();
	nstcp_stat_inc_cpu(t->nn, cpu, NSTCP_STAT_EXPIRED);
	nstcp_token_reset(t);
	nstcp_token_put(t);
}
EXPORT_SYMBOL_IF_KUNIT(nstcp_token_expire_now);

static void nstcp_token_work(struct work_struct *w)
{
	struct nstcp_token *t = container_of(to_delayed_work(w),
					     struct nstcp_token, expire);

	nstcp_token_expire_now(t);
	nstcp_token_put(t);
}

/*
 * The namespace goes: what is still pending expires now.  (A pending
 * connection's sock holds its namespace, so this finds one only when
 * the connection came from a kernel listener.)
 */
void nstcp_tokens_exit(struct nstcp_net *nn)
{
	struct nstcp_token *t;
	int bkt;

	for (;;) {
		t = NULL;
		spin_lock(&nn->tok_lock);
		for (bkt = 0; bkt < HASH_SIZE(nn->tok_hash) && !t; bkt++)
			t = hlist_entry_safe(nn->tok_hash[bkt].first,
					     struct nstcp_token, node);
		if (t)
			refcount_inc(&t->ref);
		spin_unlock(&nn->tok_lock);
		if (!t)
			break;
		if (cancel_delayed_work_sync(&t->expire))
			nstcp_token_put(t);
		nstcp_token_expire_now(t);
		nstcp_token_put(t);
	}
	/* An expiry that lost to a take may still be finishing. */
	flush_workqueue(nstcp_hwq);
}
EXPORT_SYMBOL_IF_KUNIT(nstcp_tokens_exit);

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
 * @kern: @sock is a split accept's, which the token releases.
 */
static int nstcp_give_sock(struct socket *sock, struct nstcp_give *g,
			   bool kern)
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
	t->kern = kern;
	t->since = jiffies;
	t->timeout = msecs_to_jiffies(ms);

	lock_sock(sk);
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
	t->cpu = READ_ONCE(sk->sk_incoming_cpu);
	__module_get(THIS_MODULE);
	t->modref = true;
	err = nstcp_token_insert(nn, t);
	if (err)
		goto out_unlock;
	WRITE_ONCE(ns->token, t);
	g->ng_token = t->id;
	refcount_inc(&t->ref);		/* the expiry's */
	queue_delayed_work(nstcp_hwq, &t->expire, t->timeout);
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
 * The giver could not be told its token: take it back.  A given socket is
 * the giver's again; a split accept's connection is reset.
 */
static void nstcp_token_revoke(struct nstcp_net *nn, u64 id)
{
	struct nstcp_token *t = __nstcp_token_claim(nn, id, false);
	struct nstcp_sk *ns;

	if (IS_ERR(t))
		return;	/* taken or expired meanwhile */
	if (t->kern) {
		nstcp_token_reset(t);
	} else {
		lock_sock(t->sk);
		ns = nstcp_sk_get(t->sk);
		WRITE_ONCE(ns->token, NULL);
		release_sock(t->sk);
	}
	nstcp_token_put(t);
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
 * Point @sk's RFS entry at @cpu: a split accept runs on the dispatcher's
 * CPU, and the accept it goes through records the flow there (the
 * kernel's helper writes the calling CPU); until the take the flow's
 * packets stay on their own CPU instead.
 */
static void nstcp_rfs_point(struct sock *sk, int cpu)
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
		sock_release(giver);
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

/* Split accept: a connection accepted straight into a token. */
static int nstcp_split_accept(struct socket *sock,
			      struct nstcp_accept_token *at)
{
	struct proto_accept_arg arg = {};
	struct socket *newsock;
	int err, len;

	err = nstcp_give_check(&at->nat_give);
	if (err)
		return err;
	newsock = nstcp_sock_shell(NULL);
	if (!newsock)
		return -ENOMEM;
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
	err = nstcp_give_sock(newsock, &at->nat_give, true);
	if (err)
		goto out;
	return 0;	/* the token owns newsock now */
out:
	sock_release(newsock);
	return err;
}

/* getsockopt(NSTCP_GIVE, NSTCP_ACCEPT_TOKEN): in and out. */
int nstcp_handoff_getsockopt(struct socket *sock, int optname,
			     char __user *optval, int __user *optlen)
{
	struct nstcp_accept_token at;
	int len, size, err;

	size = optname == NSTCP_GIVE ? sizeof(struct nstcp_give) : sizeof(at);
	if (get_user(len, optlen))
		return -EFAULT;
	if (len < size)
		return -EINVAL;
	memset(&at, 0, sizeof(at));
	if (copy_from_user(&at, optval, size))
		return -EFAULT;
	if (optname == NSTCP_GIVE)
		err = nstcp_give_sock(sock, &at.nat_give, false);
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

static void nstcp_show_addr(struct seq_file *seq, const struct sock *sk,
			    bool peer)
{
	const struct inet_sock *inet = inet_sk(sk);
	__be16 port = peer ? inet->inet_dport : inet->inet_sport;

#if IS_ENABLED(CONFIG_IPV6)
	if (sk->sk_family == AF_INET6) {
		const struct in6_addr *a = peer ? &sk->sk_v6_daddr :
						  &sk->sk_v6_rcv_saddr;

		if (ipv6_addr_v4mapped(a))
			seq_printf(seq, " %pI4:%u", &a->s6_addr32[3],
				   ntohs(port));
		else
			seq_printf(seq, " [%pI6c]:%u", a, ntohs(port));
		return;
	}
#endif
	seq_printf(seq, " %pI4:%u", peer ? &inet->inet_daddr :
		   &inet->inet_rcv_saddr, ntohs(port));
}

/* /proc/net/nstcp_tokens: the pending hand-offs, never their tokens. */
int nstcp_tokens_show(struct seq_file *seq, void *v)
{
	struct nstcp_net *nn = nstcp_pernet(seq_file_single_net(seq));
	struct pid_namespace *pidns = task_active_pid_ns(current);
	unsigned long now = jiffies, age, left;
	struct nstcp_token *t;
	int bkt;

	seq_puts(seq, NSTCP_TOKENS_COLUMNS "\n");
	spin_lock(&nn->tok_lock);
	hash_for_each(nn->tok_hash, bkt, t, node) {
		age = now - t->since;
		left = t->timeout > age ? t->timeout - age : 0;
		seq_printf(seq, "%d ", pid_nr_ns(t->giver, pidns));
		if (t->taker)
			seq_printf(seq, "pid:%d", pid_nr_ns(t->taker, pidns));
		else
			seq_printf(seq, "uid:%u",
				   from_kuid_munged(seq_user_ns(seq), t->uid));
		seq_printf(seq, " %u %u %d", jiffies_to_msecs(age),
			   jiffies_to_msecs(left), t->cpu);
		if (t->sk) {
			nstcp_show_addr(seq, t->sk, false);
			nstcp_show_addr(seq, t->sk, true);
		}
		seq_putc(seq, '\n');
	}
	spin_unlock(&nn->tok_lock);
	return 0;
}

int nstcp_handoff_init(void)
{
	nstcp_hwq = alloc_workqueue("nstcp_handoff", 0, 0);
	return nstcp_hwq ? 0 : -ENOMEM;
}

void nstcp_handoff_exit(void)
{
	/* Tokens hold the module: none is left, their expiries are done. */
	destroy_workqueue(nstcp_hwq);
}
