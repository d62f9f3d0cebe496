// SPDX-License-Identifier: GPL-2.0
/*
 * The hybrid model: a pool of workers pinned one per CPU, started and
 * supervised by nstcpd, which listens, accepts each connection as a token
 * (split accept) and hands the token to the worker on the flow's CPU, or,
 * when that one is busy (its load at `busy`) or down, to the least loaded
 * other worker.  The worker takes the connection (libnstcp:
 * nstcp_worker_next()) and serves it on its own CPU; data never flows
 * through nstcpd.  A token a worker has not taken by half the hand-off
 * timeout, or when it dies, is taken back and handed to another worker;
 * sooner, after takeback_ms, when another worker is idle (hybrid_back.c).
 * Here: the workers started, stopped and restarted, their reports read,
 * the main thread's tick; the hand-off of a token to a worker (the choice,
 * the send, the tokens waiting, the re-give) is hybrid_give.c's.
 *
 * The hand-off skips nstcpd's main thread: the acceptor pinned on the
 * flow's CPU sends the token to the worker pick() chooses
 * (nd_hybrid_direct).  The other cases (no worker up, a limit reached or
 * one that needs the main thread's tallies, a failed send) go by the
 * acceptors' pipe to the main thread, which also reads the workers'
 * reports (in batches), takes back and re-gives, restarts.  The state of the hybrid
 * services (the workers' channels, loads and untaken tokens, the waiting
 * tokens, the counters) is shared by both under hy_lock: the pending entry
 * of a token is recorded under the lock held across its send, so the
 * worker's report of it is read after the entry exists; a channel is
 * closed and marked down under the lock, so no acceptor sends on a
 * descriptor that is gone.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/types.h>
#include <linux/nstcp.h>

#include "nstcp.h"
#include "nstcpd.h"

/*
 * The lock is the service's (s->hy_lock), not one for all: an acceptor
 * handing a token on waits only for the same service's hand-offs.  Its
 * holders do no fork, logging or status building (a blocked log pipe or
 * a fork must not stall the acceptors): the workers are started outside
 * it and published under it, the log lines written after it.
 */
void nd_hybrid_lock(struct nd_service *s)
{
	pthread_mutex_lock(&s->hy_lock);
}

void nd_hybrid_unlock(struct nd_service *s)
{
	pthread_mutex_unlock(&s->hy_lock);
}

/*
 * In the main thread, hy_lock not held (it forks): the worker started,
 * then published to the acceptors (its channel, load) under the lock.
 */
static void start_worker(struct nd_service *s, int i)
{
	struct nd_copy *c = &s->copies[i];
	struct nd_proc *p;
	int sv[2];

	c->restart_at.tv_sec = 0;
	c->restart_at.tv_nsec = 0;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv))
		goto later;
	p = nd_proc_add(s);
	if (!p)
		goto close;
	p->slot = i;
	p->cpu = c->cpu;
	p->pid = nd_spawn(s, c->cpu, sv[1], 0);
	if (p->pid < 0) {
		nd_log("service %s: fork: %s", s->name, strerror(errno));
		nd_proc_del(s, p);
		goto close;
	}
	close(sv[1]);
	nd_hybrid_lock(s);
	c->chan = sv[0];
	c->pid = p->pid;
	c->load = 0;
	c->stalled = 0;
	c->took = 0;
	nd_now(&c->started);
	s->cpu[c->cpu].pid = p->pid;
	nd_hybrid_flush_wait(s);
	nd_hybrid_unlock(s);
	return;
close:
	close(sv[0]);
	close(sv[1]);
later:
	nd_now(&c->restart_at);
	c->restart_at.tv_sec += 1;
}

int nd_hybrid_start(struct nd_service *s)
{
	int n = s->workers ? s->workers : s->ncpus, i, c = 0;

	if (pthread_mutex_init(&s->hy_lock, NULL))
		return -1;
	if (nd_standard_start(s))
		return -1;
	s->copies = calloc(n, sizeof(*s->copies));
	if (!s->copies)
		return -1;
	for (i = 0; i < n; i++) {
		while (!CPU_ISSET(c % CPU_SETSIZE, &s->cpus))
			c++;
		s->copies[i].cpu = c % CPU_SETSIZE;
		s->copies[i].lfd = -1;
		s->copies[i].chan = -1;
		c++;
	}
	nd_hybrid_lock(s);
	s->ncopies = n;
	nd_hybrid_unlock(s);
	for (i = 0; i < n; i++)
		start_worker(s, i);
	return 0;
}

static int find_pending(struct nd_copy *c, uint64_t token)
{
	int k;

	for (k = 0; k < c->npend; k++)
		if (c->pend[k].token == token)
			return k;
	return -1;
}

#define ND_HYBRID_BATCH	64	/* reports read a call; the rest next round */

/*
 * Reads worker @i's reports, at most ND_HYBRID_BATCH a call, so that a
 * worker that floods its channel cannot hold nstcpd's loop (poll() is
 * level-triggered: the rest is read next round); hy_lock held.  In the
 * main thread (@main_thread), a channel at its end is closed and the
 * tokens waiting for a worker handed on; an acceptor leaves both to it.
 * 1 when it stopped at the bound, else 0.
 */
static int read_reports(struct nd_service *s, int i, int main_thread)
{
	struct nd_copy *c = &s->copies[i];
	struct nstcp_worker_msg m;
	int k, budget = ND_HYBRID_BATCH;
	ssize_t n = -1;

	while (budget-- > 0) {
		struct nd_cpu *w = &s->cpu[c->cpu];

		n = recv(c->chan, &m, sizeof(m), MSG_DONTWAIT);
		/*
		 * ECONNRESET: the worker exited with tokens of ours unread.
		 * The error is reported once, before its last reports, still
		 * queued here: those are read next, then the end (0).
		 */
		if (n < 0 && errno == ECONNRESET)
			continue;
		if (n != sizeof(m))
			break;
		c->stalled = 0;		/* alive again */
		switch (m.nwm_type) {
		case NSTCP_WMSG_TAKEN:
			/*
			 * Not pending: taken as nstcpd went to take it back
			 * (its take failed), so the worker has it.
			 */
			k = find_pending(c, m.nwm_token);
			if (k >= 0)
				c->pend[k] = c->pend[--c->npend];
			else
				w->load = ++c->load;
			c->took = 1;
			s->taken++;
			w->taken++;
			if (m.nwm_cpu == m.nwm_home || m.nwm_home < 0)
				w->local++;
			break;
		case NSTCP_WMSG_FAILED:
			/* Taken back already (ENOENT); or refused: hand it on. */
			k = find_pending(c, m.nwm_token);
			if (k >= 0)
				nd_hybrid_reclaim(s, i, k, ND_RECLAIM_REGIVE);
			break;
		case NSTCP_WMSG_DONE:
			if (c->load > (unsigned int)c->npend)
				c->load--;
			w->load = c->load;
			s->served++;
			w->served++;
			break;
		}
	}
	if (!main_thread)
		return budget < 0;
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR &&
		       errno != ECONNRESET)) {
		/* The worker is gone; SIGCHLD does the rest. */
		close(c->chan);
		c->chan = -1;
		return 0;
	}
	/* A channel that was full may take what waits. */
	nd_hybrid_flush_wait(s);
	return budget < 0;
}

int nd_hybrid_read(struct nd_service *s, int i)
{
	int r;

	nd_hybrid_lock(s);
	r = s->copies[i].chan >= 0 ? read_reports(s, i, 1) : 0;
	nd_hybrid_unlock(s);
	return r;
}

/* Worker @i's reports, in a tick (hy_lock held): its channel left open. */
void nd_hybrid_reports_of(struct nd_service *s, int i)
{
	read_reports(s, i, 0);
}

/*
 * The reports of @s's workers that have a load (hy_lock held): read
 * before a choice or a limit, since the main thread reads them in
 * batches (ND_REPORT_BATCH_MS), a finished connection may still count.
 */
void nd_hybrid_reports(struct nd_service *s)
{
	int i;

	for (i = 0; i < s->ncopies; i++)
		if (s->copies[i].chan >= 0 && s->copies[i].load)
			read_reports(s, i, 0);
}

/* At stop: the channels closed, marked down for the acceptors. */
void nd_hybrid_stop(struct nd_service *s)
{
	int i;

	nd_hybrid_lock(s);
	for (i = 0; i < s->ncopies; i++) {
		if (s->copies[i].chan >= 0)
			close(s->copies[i].chan);
		s->copies[i].chan = -1;
	}
	nd_hybrid_unlock(s);
}

/* A worker exited: its untaken connections to others, then a restart. */
void nd_hybrid_exited(struct nd_service *s, struct nd_proc *p, int status)
{
	struct nd_copy *c = &s->copies[p->slot];
	int i = p->slot;

	nd_hybrid_lock(s);
	nd_proc_del(s, p);
	if (c->chan >= 0) {
		/* Its last reports, all of them: the worker is gone. */
		while (c->chan >= 0 && read_reports(s, i, 1))
			;
		if (c->chan >= 0)
			close(c->chan);
		c->chan = -1;
	}
	c->pid = 0;
	s->cpu[c->cpu].pid = 0;
	/*
	 * A worker that took connections and exited did not have these; one
	 * that never took any (a program that fails at start) uses up their
	 * re-gives, or they would go round the workers until they restart.
	 */
	while (c->npend) {
		/*
		 * Taken (ENOENT), its reports all read: it died before its
		 * TAKEN report, and the connection went with it.
		 */
		if (nd_hybrid_reclaim(s, i, c->npend - 1, c->took ?
				      ND_RECLAIM_HANDON : ND_RECLAIM_REGIVE) < 0)
			s->dropped++;
	}
	/* What it had taken and not finished went with it. */
	s->dropped += c->load;
	c->load = 0;
	s->cpu[c->cpu].load = 0;
	if (WIFEXITED(status) && WEXITSTATUS(status) >= 125) {
		s->failed++;
		s->cpu[c->cpu].failed++;
	}
	s->restarts++;
	s->cpu[c->cpu].restarts++;
	nd_backoff(c);
	nd_hybrid_unlock(s);
	nd_log("service %s: worker on CPU %d %s %d; restarting", s->name,
	       c->cpu, WIFSIGNALED(status) ? "killed by signal" : "exited",
	       WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
}

/*
 * Restarts and expired hand-offs; ms until the next, or -1.  An acceptor
 * may hand a token on while the main thread sleeps: the wait is at most
 * an eighth of the timeout, so that its deadline (half) is kept; at
 * least 1 ms (a floor of 5 would let a timeout_ms under ~12 expire in
 * the kernel before its token is taken back).
 */
long long nd_hybrid_tick(struct nd_service *s)
{
	long long next = s->timeout_ms / 8 > 1 ? s->timeout_ms / 8 : 1, t;
	int i, k, closed = 0, late = 0, late_cpu = -1, back = 0, back_cpu = -1;

	nd_hybrid_lock(s);
	for (k = s->nwait - 1; k >= 0; k--) {
		t = nd_ms_until(&s->wait[k].deadline);
		if (t <= 0) {
			closed++;
			nd_hybrid_drop_token(s, s->wait[k].token);
			s->wait[k] = s->wait[--s->nwait];
		} else if (next < 0 || t < next) {
			next = t;
		}
	}
	for (i = 0; i < s->ncopies; i++) {
		struct nd_copy *c = &s->copies[i];

		for (k = c->npend - 1; k >= 0; k--) {
			t = nd_ms_until(&c->pend[k].deadline);
			if (t <= 0) {
				late++;
				late_cpu = c->cpu;
				nd_hybrid_reclaim(s, i, k, ND_RECLAIM_REGIVE);
				continue;
			}
			if (next < 0 || t < next)
				next = t;
		}
	}
	if (s->takeback_ms)
		back = nd_hybrid_take_back(s, &next, &back_cpu);
	nd_after_ms(&s->hy_tick_at, next);
	nd_hybrid_unlock(s);
	/* Forks and log lines after the lock: the acceptors do not wait. */
	for (i = 0; i < s->ncopies; i++) {
		struct nd_copy *c = &s->copies[i];

		if (!c->pid && (c->restart_at.tv_sec || c->restart_at.tv_nsec)) {
			t = nd_ms_until(&c->restart_at);
			if (t <= 0)
				start_worker(s, i);
			else if (next < 0 || t < next)
				next = t;
		}
	}
	if (closed)
		nd_log("service %s: no worker up for %d connection%s; closed",
		       s->name, closed, closed == 1 ? "" : "s");
	if (late)
		nd_log("service %s: %d connection%s not taken in %u ms (last on the worker on CPU %d); handed to another",
		       s->name, late, late == 1 ? "" : "s", s->timeout_ms / 2,
		       late_cpu);
	if (back)
		nd_log("service %s: the worker on CPU %d did not take a connection in %u ms; handed to an idle one, until it reports",
		       s->name, back_cpu, s->takeback_ms);
	return next;
}
