// SPDX-License-Identifier: GPL-2.0
/*
 * The hybrid model's hand-off of tokens to its workers (Documentation/
 * nstcpd.rst, Hybrid): the choice of a worker (the flow's CPU's, else the
 * least loaded), the send on its channel and the token's pending entry,
 * the tokens waiting for a worker up, the re-give of a token taken back,
 * and the acceptors' direct hand-off (nd_hybrid_direct).  The workers,
 * their reports and the main thread's tick are hybrid.c's, whose lock
 * (hy_lock) every function here runs under or takes.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/types.h>
#include <linux/nstcp.h>

#include "nstcp.h"
#include "nstcpd.h"

/*
 * The worker for a flow on @cpu, not @avoid: its own when below busy and
 * not stalled, else the least loaded, the stalled ones last.
 */
static int pick(struct nd_service *s, int cpu, int avoid)
{
	int i, best = -1, best_slow = 0, slow;
	struct timespec now = { 0 };

	if (s->takeback_ms)
		nd_now(&now);
	for (i = 0; i < s->ncopies; i++) {
		struct nd_copy *c = &s->copies[i];

		if (c->chan < 0 || i == avoid)
			continue;
		slow = nd_hybrid_stalled(s, c, &now);
		if (c->cpu == cpu && c->load < s->busy && !slow)
			return i;
		if (best < 0 || slow < best_slow ||
		    (slow == best_slow &&
		     (c->load < s->copies[best].load ||
		      (c->load == s->copies[best].load && c->cpu == cpu)))) {
			best = i;
			best_slow = slow;
		}
	}
	return best;
}

/*
 * Closes waiting @token (no worker up in time): lost, whether nstcpd's
 * take gets it (closed here) or not (the kernel resets it at its expiry).
 */
void nd_hybrid_drop_token(struct nd_service *s, uint64_t token)
{
	int fd = nd_take(s, token);

	if (fd >= 0)
		close(fd);
	s->lost++;
}

/*
 * Sends @token to worker @i; 0, or -1 when its channel failed.  @gives:
 * its gives so far; @backs: its early take-backs so far.
 */
static int send_token(struct nd_service *s, int i, uint64_t token, int cpu,
		      int gives, int backs)
{
	struct nstcp_worker_msg m = {
		.nwm_type = NSTCP_WMSG_TOKEN, .nwm_cpu = cpu, .nwm_token = token,
	};
	struct nd_copy *c = &s->copies[i];
	struct nd_pending *p;

	if (c->npend == c->pend_cap) {
		int cap = c->pend_cap ? c->pend_cap * 2 : 16;

		p = realloc(c->pend, cap * sizeof(*p));
		if (!p)
			return -1;
		c->pend = p;
		c->pend_cap = cap;
	}
	if (send(c->chan, &m, sizeof(m), MSG_NOSIGNAL | MSG_DONTWAIT) !=
	    sizeof(m))
		return -1;
	p = &c->pend[c->npend++];
	p->token = token;
	p->cpu = cpu;
	p->gives = gives;
	p->backs = backs;
	nd_after_ms(&p->deadline, s->timeout_ms / 2);
	nd_after_ms(&p->takeback, s->takeback_ms);
	c->load++;
	s->cpu[c->cpu].load = c->load;
	return 0;
}

/* Keeps @token until a worker is up (all are down or restarting). */
static void wait_worker(struct nd_service *s, uint64_t token, int cpu,
			int gives, int backs)
{
	struct nd_pending *p;

	if (s->nwait == s->wait_cap) {
		int cap = s->wait_cap ? s->wait_cap * 2 : 16;

		p = realloc(s->wait, cap * sizeof(*p));
		if (!p) {
			nd_hybrid_drop_token(s, token);
			return;
		}
		s->wait = p;
		s->wait_cap = cap;
	}
	p = &s->wait[s->nwait++];
	p->token = token;
	p->cpu = cpu;
	p->gives = gives;
	p->backs = backs;
	nd_after_ms(&p->deadline, s->timeout_ms / 2);
}

static void give_to(struct nd_service *s, uint64_t token, int cpu, int gives,
		    int backs, int avoid)
{
	int i = pick(s, cpu, avoid);

	if (i < 0 && avoid >= 0)
		i = pick(s, cpu, -1);
	if (i < 0 || send_token(s, i, token, cpu, gives, backs))
		wait_worker(s, token, cpu, gives, backs);
}

/* Hands the connections waiting for a worker to the workers up. */
void nd_hybrid_flush_wait(struct nd_service *s)
{
	int n = s->nwait, k;
	struct nd_pending *w = s->wait;

	if (!n)
		return;
	s->wait = NULL;
	s->nwait = 0;
	s->wait_cap = 0;
	for (k = 0; k < n; k++)
		give_to(s, w[k].token, w[k].cpu, w[k].gives, w[k].backs, -1);
	free(w);
}

/* Connections of @s handed and not done, waiting included; hy_lock held. */
unsigned int nd_hybrid_load(const struct nd_service *s)
{
	unsigned int load = s->nwait;
	int i;

	for (i = 0; i < s->ncopies; i++)
		load += s->copies[i].load;
	return load;
}

/* The main thread's hand-off of an arrival; hy_lock held. */
void nd_hybrid_give(struct nd_service *s, uint64_t token, int cpu, int gives)
{
	give_to(s, token, cpu, gives, 0, -1);
}

/*
 * Takes back pending connection @k of worker @i and hands it on.  @why:
 * a re-give uses up one of the connection's ND_REGIVE_MAX (a worker that
 * failed the take or stalled past half the timeout).  A hand-on does not:
 * an early take-back, or a token its exited worker never took (nstcpd's
 * take succeeds, so the worker did not have it) when that worker had
 * taken others: a worker that exits right after its last report is the
 * least loaded one and may be chosen again and again.  Hand-ons count in
 * backs, of which a connection gets at most ND_TAKEBACK_MAX plus twice
 * the workers (early take-backs stop at ND_TAKEBACK_MAX), lest one go
 * round exiting workers without end.  0 when handed on, 1 when lost
 * (counted), -1 when it was taken meanwhile (ENOENT: its TAKEN report is
 * on the way, or, its worker gone, the connection went with it).  When
 * nstcpd cannot take it for another reason (descriptors, memory), its
 * give still stands: the token is sent on as it is.
 */
int nd_hybrid_reclaim(struct nd_service *s, int i, int k, enum nd_reclaim why)
{
	struct nd_copy *c = &s->copies[i];
	struct nd_pending p = c->pend[k];
	struct nstcp_give g;
	socklen_t len = sizeof(g);
	int fd;

	c->pend[k] = c->pend[--c->npend];
	if (c->load)
		c->load--;
	s->cpu[c->cpu].load = c->load;
	fd = nd_take(s, p.token);
	if (fd < 0 && errno != ENOENT) {
		give_to(s, p.token, p.cpu, p.gives, p.backs, i);
		return 0;
	}
	if (fd < 0)
		return -1;
	if (why == ND_RECLAIM_REGIVE)
		p.gives++;
	else
		p.backs++;
	if (p.gives > ND_REGIVE_MAX + 1 ||
	    p.backs > ND_TAKEBACK_MAX + 2 * s->ncopies) {
		close(fd);
		s->lost++;
		return 1;
	}
	memset(&g, 0, sizeof(g));
	g.ng_flags = NSTCP_GIVE_UID;
	g.ng_id = nd_taker_uid(s);
	g.ng_timeout_ms = s->timeout_ms;
	if (getsockopt(fd, SOL_NSTCP, NSTCP_GIVE, &g, &len)) {
		close(fd);
		s->lost++;
		return 1;
	}
	close(fd);
	s->regiven++;
	s->cpu[c->cpu].regiven++;
	give_to(s, g.ng_token, p.cpu, p.gives, p.backs, i);
	return 0;
}

/*
 * In the acceptor pinned on @cpu, the flow's CPU: @token handed on with
 * no hop through the main thread.  To that CPU's worker when it is up
 * and below `busy` (counted direct); else, the workers' reports read, to
 * the one pick() chooses, as the main thread would (the least loaded).
 * Counted given.  0, to pass the arrival to the main thread, when the
 * service has a limit only the main thread judges (per_source, cps), is
 * at max_conns (refused there), has no worker up (the token waits
 * there) or the send failed.
 */
int nd_hybrid_direct(struct nd_service *s, uint64_t token, int cpu)
{
	int i, own, r = 0, wake = 0;
	struct timespec now = { 0 };

	if (s->per_source || s->cps || cpu < 0 || cpu >= ND_MAX_CPUS)
		return 0;
	if (s->takeback_ms)
		nd_now(&now);
	nd_hybrid_lock(s);
	for (i = 0; i < s->ncopies; i++)
		if (s->copies[i].cpu == cpu && s->copies[i].chan >= 0 &&
		    s->copies[i].load < s->busy &&
		    !nd_hybrid_stalled(s, &s->copies[i], &now))
			break;
	own = i < s->ncopies;
	if (!own || s->max_conns) {
		nd_hybrid_reports(s);
		i = pick(s, cpu, -1);
	}
	if (i < 0 || (s->max_conns && nd_hybrid_load(s) >= s->max_conns))
		goto out;
	if (send_token(s, i, token, cpu, 1, 0))
		goto out;
	/*
	 * Its take-back time before the main thread's next tick: the main
	 * thread woken (it then ticks by the pending tokens' times; idle, it
	 * sleeps long).
	 */
	wake = nd_hybrid_due(s, &s->copies[i]);
	s->given++;
	s->cpu[cpu].given++;
	if (own && s->copies[i].cpu == cpu) {
		s->direct++;
		s->cpu[cpu].direct++;
	}
	r = 1;
out:
	nd_hybrid_unlock(s);
	if (wake)
		nd_arrival_wake();
	return r;
}
