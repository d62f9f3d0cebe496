// SPDX-License-Identifier: GPL-2.0
/*
 * AF_NSTCP hand-off tokens: a namespace's table of pending hand-offs
 * (handoff.c gives and takes through it, Documentation/handoff.rst).
 *
 * A token names the taker and holds the given connection's sock.  A token
 * not taken in time resets its connection; so does the namespace's exit.
 *
 * Locking: nstcp_net.tok_lock is innermost (inside lock_sock of the
 * taker's and the connection's socks).  The table is the claim: a take,
 * the expiry or the namespace's exit removes a token under tok_lock, and
 * only the one that removed it acts on its connection.  A token is
 * counted: one reference for the table (then for whoever removed it from
 * the table), one for its queued expiry.
 */
#include <linux/cred.h>
#include <linux/file.h>
#include <linux/module.h>
#include <linux/pid.h>
#include <linux/pid_namespace.h>
#include <linux/random.h>
#include <linux/sched.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <net/ipv6.h>
#include <net/sock.h>
#include <net/tcp.h>
#include <kunit/visibility.h>

#include "nstcp.h"

static struct workqueue_struct *nstcp_hwq;
static struct kmem_cache *nstcp_token_cache;

static void nstcp_token_work(struct work_struct *w);
static void nstcp_token_reset(struct nstcp_token *t);

struct nstcp_token *nstcp_token_alloc(void)
{
	struct nstcp_token *t = kmem_cache_zalloc(nstcp_token_cache,
						  GFP_KERNEL);

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
	kmem_cache_free(nstcp_token_cache, t);
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

/* Queue @t's expiry, @t->timeout from now: it holds a reference of its own. */
void nstcp_token_arm(struct nstcp_token *t)
{
	refcount_inc(&t->ref);
	queue_delayed_work(nstcp_hwq, &t->expire, t->timeout);
}

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

/* How __nstcp_token_claim() claims. */
#define NSTCP_CLAIM_CHECK	BIT(0)	/* only for its named taker */
#define NSTCP_CLAIM_FILE	BIT(1)	/* only one holding a file, else NULL */

static struct nstcp_token *__nstcp_token_claim(struct nstcp_net *nn, u64 id,
					       unsigned int how)
{
	struct nstcp_token *t;
	int err = 0;

	spin_lock(&nn->tok_lock);
	t = id ? nstcp_token_find(nn, id) : NULL;
	if (!t)
		err = -ENOENT;
	else if ((how & NSTCP_CLAIM_FILE) && !t->file)
		t = NULL;
	else if ((how & NSTCP_CLAIM_CHECK) && !nstcp_token_may_take(t))
		err = -EPERM;
	else
		nstcp_token_unhash_locked(t);
	spin_unlock(&nn->tok_lock);
	if (err == -EPERM)
		nstcp_stat_inc(nn, NSTCP_STAT_REFUSED);
	if (err)
		return ERR_PTR(err);
	if (!t)
		return NULL;
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
	return __nstcp_token_claim(nn, id, NSTCP_CLAIM_CHECK);
}
EXPORT_SYMBOL_IF_KUNIT(nstcp_token_claim);

/*
 * A take into a new descriptor, in one look at the table: token @id is
 * claimed as nstcp_token_claim() claims it if it holds a split accept's
 * socket with its file, which the take installs as it is.  NULL, the
 * token untouched, if it is pending without one: the take then prepares
 * a socket for it and claims it.  Whether a token holds a file is fixed
 * when it is made.
 */
struct nstcp_token *nstcp_token_claim_file(struct nstcp_net *nn, u64 id)
{
	return __nstcp_token_claim(nn, id,
				   NSTCP_CLAIM_CHECK | NSTCP_CLAIM_FILE);
}
EXPORT_SYMBOL_IF_KUNIT(nstcp_token_claim_file);

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

/*
 * A take that failed after its claim puts token @t back, with the same
 * number and what is left of its time (none left: it expires at once).
 * The caller's reference goes back to the table.  Should another token
 * have drawn the same number meanwhile, or the table have filled up
 * (NSTCP_TOKENS_MAX), @t cannot go back and expires now instead.
 *
 * The expiry's reference is taken before the token is in the table: once
 * there, a claimer (another taker, a running expiry) may finish with it
 * and drop the table's reference at once.  A claimer that comes before
 * the queueing below finds no expiry pending and leaves that reference
 * to the expiry, which finds the token gone and drops it.
 */
void nstcp_token_republish(struct nstcp_net *nn, struct nstcp_token *t)
{
	unsigned long end = t->since + t->timeout, now = jiffies;
	bool refused;

	refcount_inc(&t->ref);			/* the expiry's */
	spin_lock(&nn->tok_lock);
	refused = nn->ntokens >= NSTCP_TOKENS_MAX ||
		  nstcp_token_find(nn, t->id);
	if (!refused) {
		t->hashed = true;
		hash_add(nn->tok_hash, &t->node, t->id);
		nn->ntokens++;
		nn->tok_gen++;
	}
	spin_unlock(&nn->tok_lock);
	if (refused) {
		refcount_dec(&t->ref);		/* still the caller's too */
		nstcp_stat_inc(nn, NSTCP_STAT_EXPIRED);
		nstcp_token_reset(t);
		nstcp_token_put(t);
		return;
	}
	/* @t may be taken already: only the expiry's reference is ours. */
	if (!queue_delayed_work(nstcp_hwq, &t->expire,
				time_before(now, end) ? end - now : 0))
		nstcp_token_put(t);
}
EXPORT_SYMBOL_IF_KUNIT(nstcp_token_republish);

/* Release @sk, which no socket holds, as closing a socket would. */
void nstcp_dispose(struct nstcp_net *nn, struct sock *sk)
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
 * A removed split accept's token: its socket goes, as its close would
 * (its file's last reference).  From the expiry's kernel thread the
 * release is deferred (delayed_fput), which needs nothing waited for:
 * the socket holds the module until its release is done (sock_release()
 * puts its ops' owner last) and the sock holds the namespace, so neither
 * rmmod nor the namespace's exit can overtake it.
 */
void nstcp_token_drop_sock(struct nstcp_token *t)
{
	struct file *file = t->file;

	t->file = NULL;
	if (!file) {
		sock_release(t->sock);
		return;
	}
	fput(file);
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
		nstcp_token_drop_sock(t);
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

/*
 * The giver could not be told its token: take it back.  A given socket is
 * the giver's again; a split accept's connection is reset.
 */
void nstcp_token_revoke(struct nstcp_net *nn, u64 id)
{
	struct nstcp_token *t = __nstcp_token_claim(nn, id, 0);
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

/* Tokens come from a cache, their expiries run on a workqueue: ours. */
int nstcp_handoff_init(void)
{
	nstcp_token_cache = KMEM_CACHE(nstcp_token, 0);
	if (!nstcp_token_cache)
		return -ENOMEM;
	nstcp_hwq = alloc_workqueue("nstcp_handoff", 0, 0);
	if (!nstcp_hwq)
		goto err_wq;
	return 0;

err_wq:
	kmem_cache_destroy(nstcp_token_cache);
	return -ENOMEM;
}

void nstcp_handoff_exit(void)
{
	/* Tokens hold the module: none is left, their expiries are done. */
	destroy_workqueue(nstcp_hwq);
	kmem_cache_destroy(nstcp_token_cache);
}
