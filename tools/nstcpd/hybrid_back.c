// SPDX-License-Identifier: GPL-2.0
/*
 * The hybrid model's early take-back (takeback_ms; Documentation/
 * nstcpd.rst, Hybrid): a token a worker has not taken in takeback_ms
 * goes to an idle worker, and the worker counts as busy (stalled) until
 * it reports again; the rest of the model is hybrid.c (with
 * hybrid_give.c), whose lock (hy_lock) every function here runs under.
 */
#include <time.h>

#include "nstcpd.h"

static int ts_before(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec < b->tv_sec ||
	       (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

/*
 * Worker @c looks stalled (with takeback_ms): a token was taken back from
 * it and it has reported nothing since, or it holds one it has not taken
 * by its take-back time (@now).  It counts as busy for new choices.
 */
int nd_hybrid_stalled(const struct nd_service *s, const struct nd_copy *c,
		      const struct timespec *now)
{
	int k;

	if (!s->takeback_ms)
		return 0;
	if (c->stalled)
		return 1;
	for (k = 0; k < c->npend; k++)
		if (!ts_before(now, &c->pend[k].takeback))
			return 1;
	return 0;
}

/*
 * After an accepting thread's hand-off to worker @c (hy_lock held): 1
 * when the token's take-back time comes before the main thread's next
 * tick, which is then to be woken (it ticks by the pending tokens'
 * times; idle, it sleeps long).
 */
int nd_hybrid_due(struct nd_service *s, const struct nd_copy *c)
{
	const struct timespec *t = &c->pend[c->npend - 1].takeback;

	if (!s->takeback_ms || !ts_before(t, &s->hy_tick_at))
		return 0;
	s->hy_tick_at = *t;
	return 1;
}

/* A worker but @avoid up, below busy, with nothing pending nor stalled. */
static int idle_worker(const struct nd_service *s, int avoid)
{
	int i;

	for (i = 0; i < s->ncopies; i++) {
		const struct nd_copy *c = &s->copies[i];

		if (i != avoid && c->chan >= 0 && c->load < s->busy &&
		    !c->npend && !c->stalled)
			return 1;
	}
	return 0;
}

/*
 * The early take-back (takeback_ms): a token a worker has not taken by
 * its take-back time goes back to another worker, when one is idle (else
 * it stays: half the timeout still holds); the worker counts as stalled
 * until it reports again (its late take of the token then fails, ENOENT:
 * a FAILED report of a token no longer pending).  Its reports are read
 * first: a token taken meanwhile is not taken back.  hy_lock held; @next
 * lowered to the next take-back time; the workers newly stalled, the
 * last one's CPU in @cpu.
 */
int nd_hybrid_take_back(struct nd_service *s, long long *next, int *cpu)
{
	long long t;
	int i, k, r, n = 0;

	for (i = 0; i < s->ncopies; i++) {
		struct nd_copy *c = &s->copies[i];

		if (!c->npend || c->chan < 0)
			continue;
		for (k = 0; k < c->npend; k++)
			if (nd_ms_until(&c->pend[k].takeback) <= 0)
				break;
		if (k < c->npend)
			nd_hybrid_reports_of(s, i);
		for (k = c->npend - 1; k >= 0; k--) {
			if (c->pend[k].backs >= ND_TAKEBACK_MAX)
				continue;	/* left to half the timeout */
			t = nd_ms_until(&c->pend[k].takeback);
			if (t <= 0 && !idle_worker(s, i))
				t = s->takeback_ms;	/* looked at again */
			if (t > 0) {
				if (t < *next)
					*next = t;
				continue;
			}
			r = nd_hybrid_reclaim(s, i, k, ND_RECLAIM_HANDON);
			if (r < 0)
				continue;	/* taken meanwhile */
			if (!c->stalled) {	/* it missed its time */
				c->stalled = 1;
				*cpu = c->cpu;
				n++;
			}
			if (r > 0)
				continue;	/* lost at the re-give */
			s->taken_back++;
			s->cpu[c->cpu].taken_back++;
			/* Its new worker's take-back time, maybe one passed. */
			if (s->takeback_ms < *next)
				*next = s->takeback_ms;
		}
	}
	return n;
}
