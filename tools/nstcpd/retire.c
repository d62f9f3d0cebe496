// SPDX-License-Identifier: GPL-2.0
/*
 * The old image's processes after a reload or restart (handover.c): which
 * way each retires (struct retiree), named in NSTCPD_RETIRE by the old
 * image (nd_retire_words) and read by the new one (nd_retire_load), told
 * once the new image's processes are started (nd_retire_start), followed
 * to their end (nd_handover_tick, nd_handover_reaped), counted in the
 * status.  See Documentation/nstcpd.rst, "Reload and restart".
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nstcpd.h"

#define RETIRE_GRACE_S	10	/* a drainer past its time: SIGKILL after */

/*
 * An old image's process: @kind 't' (to get SIGTERM), 'T' (got it: SIGKILL
 * at @end), 'd' (a front or broker: SIGUSR1 to drain, SIGTERM at @end if
 * still there), 'w' (a hybrid worker: its channel closed with the old
 * image, it ends after the connections it holds; SIGTERM at @end if still
 * there), 'a' (a distributor back end: SIGTERM once no 'd' is left,
 * its fronts' relays done).  @ms: the time it is given, from its signal.
 */
struct retiree {
	pid_t pid;
	char kind;
	long ms;
	struct timespec end;
};

static struct retiree *retire;	/* the old image's processes */
static int nretire;
static int retire_started;	/* nd_retire_start ran */
unsigned long long nd_drained, nd_drain_expired, nd_retire_killed;

/*
 * NSTCPD_RETIRE: "PID:KIND:MS" words, PID from 2 up, not ours, and our
 * child (waitid without reaping: ECHILD for any other process), KIND one
 * of t, T, d, w, a (struct retiree), MS the milliseconds it has left (1 to ND_DRAIN_MAX_S);
 * anything else ignored, never signalled.
 */
void nd_retire_load(const char *v)
{
	char *copy = v ? strdup(v) : NULL, *w, *save, *k, *m;
	siginfo_t si;
	long pid, ms;

	for (w = copy ? strtok_r(copy, " ", &save) : NULL; w;
	     w = strtok_r(NULL, " ", &save)) {
		struct retiree *r;

		k = strchr(w, ':');
		m = k ? strchr(k + 1, ':') : NULL;
		if (k)
			*k++ = 0;
		if (m)
			*m++ = 0;
		if (!m || nd_word_int(w, 2, INT_MAX, &pid) || pid == getpid() ||
		    strlen(k) != 1 || !strchr("tTdwa", k[0]) ||
		    nd_word_int(m, 1, ND_DRAIN_MAX_S * 1000L, &ms)) {
			nd_log("NSTCPD_RETIRE: \"%s\": not PID:KIND:MS: ignored", w);
			continue;
		}
		memset(&si, 0, sizeof(si));
		if (waitid(P_PID, pid, &si, WEXITED | WNOHANG | WNOWAIT) &&
		    errno == ECHILD) {
			nd_log("NSTCPD_RETIRE: %ld: not a child of nstcpd: ignored",
			       pid);
			continue;
		}
		r = realloc(retire, (nretire + 1) * sizeof(*retire));
		if (!r)
			break;
		retire = r;
		retire[nretire].pid = pid;
		retire[nretire].kind = k[0];
		retire[nretire].ms = ms;
		nd_after_ms(&retire[nretire++].end, ms);
	}
	free(copy);
}

/*
 * How process @p of @s retires in the new image: a distributor's front or
 * a broker drains on SIGUSR1 ('d'), a hybrid worker when its channel
 * closes ('w'), a distributor's back end waits for the fronts ('a'), any
 * other gets SIGTERM ('t').
 */
static char retire_kind(const struct nd_service *s, const struct nd_proc *p)
{
	if (p->drain)
		return 'd';
	if (s->model == ND_MODEL_HYBRID)
		return 'w';
	return s->model == ND_MODEL_DISTRIBUTOR ? 'a' : 't';
}

/*
 * The NSTCPD_RETIRE words of @cfg's processes (a standard model's server
 * has one connection: left to finish it) and of those still retiring (who
 * keep their kind and what is left of their time), malloc'ed; NULL when
 * out of memory.
 */
char *nd_retire_words(const struct nd_config *cfg)
{
	size_t len = 0;
	char *pids;
	int i, j, np = 0;

	for (i = 0; i < cfg->nsvc; i++)
		np += cfg->svc[i].nprocs;
	pids = malloc(40 * (np + nretire) + 1);
	if (!pids)
		return NULL;
	pids[0] = 0;
	for (i = 0; i < cfg->nsvc; i++) {
		const struct nd_service *s = &cfg->svc[i];

		for (j = 0; j < s->nprocs && s->model != ND_MODEL_STANDARD; j++)
			len += sprintf(pids + len, "%d:%c:%ld ", s->procs[j].pid,
				       retire_kind(s, &s->procs[j]),
				       s->drain_s * 1000L);
	}
	for (i = 0; i < nretire; i++) {
		long long left = nd_ms_until(&retire[i].end);

		if (retire[i].kind == 'a' || left > retire[i].ms)
			left = retire[i].ms;
		len += sprintf(pids + len, "%d:%c:%lld ", retire[i].pid,
			       retire[i].kind, left > 0 ? left : 1);
	}
	return pids;
}

/* Once the new image's processes are started: each told to retire. */
void nd_retire_start(void)
{
	int i;

	for (i = 0; i < nretire; i++) {
		struct retiree *r = &retire[i];

		if (r->kind == 't' || r->kind == 'd')
			kill(r->pid, r->kind == 'd' ? SIGUSR1 : SIGTERM);
		if (r->kind == 't')
			r->kind = 'T';
		if (r->kind != 'a')
			nd_after_ms(&r->end, r->ms);
	}
	if (nretire)
		nd_log("%d processes of the previous nstcpd retiring (fronts and brokers draining)",
		       nretire);
	retire_started = 1;
}

/* The new image cannot start: SIGTERM to each, SIGKILL after 2 s. */
void nd_retire_abort(void)
{
	struct timespec end;
	int i;

	for (i = 0; i < nretire; i++)
		kill(retire[i].pid, SIGTERM);
	nd_now(&end);
	end.tv_sec += 2;
	while (nretire && nd_ms_until(&end) > 0) {
		pid_t pid = waitpid(-1, NULL, WNOHANG);

		if (pid > 0)
			nd_handover_reaped(pid, 0);
		else if (pid == 0)
			usleep(20000);
		else
			break;
	}
	for (i = 0; i < nretire; i++)
		kill(retire[i].pid, SIGKILL);
	nretire = 0;
}

/*
 * @pid exited with @status: 1 when it was an old image's process.  A
 * front, broker or hybrid worker that drained (exit 0) counts as drained.
 */
int nd_handover_reaped(pid_t pid, int status)
{
	int i;

	for (i = 0; i < nretire; i++)
		if (retire[i].pid == pid) {
			if ((retire[i].kind == 'd' || retire[i].kind == 'w') &&
			    WIFEXITED(status) &&
			    !WEXITSTATUS(status))
				nd_drained++;
			retire[i] = retire[--nretire];
			return 1;
		}
	return 0;
}

/*
 * The old image's processes, once the new one started: a drainer past
 * its time gets SIGTERM (then SIGKILL after RETIRE_GRACE_S); the back
 * ends get SIGTERM when no drainer is left; a process past its time after
 * SIGTERM gets SIGKILL.  The ms until the next deadline, -1 for none.
 */
long long nd_handover_tick(void)
{
	long long next = -1, t;
	int i, drainers = 0;

	if (!retire_started)
		return -1;
	for (i = 0; i < nretire; i++)
		drainers += retire[i].kind == 'd' || retire[i].kind == 'w';
	for (i = 0; i < nretire; i++) {
		struct retiree *r = &retire[i];

		if (r->kind == 'a') {
			if (drainers)
				continue;
			kill(r->pid, SIGTERM);
			r->kind = 'T';
			nd_after_ms(&r->end, r->ms);
		}
		t = nd_ms_until(&r->end);
		if (t <= 0 && (r->kind == 'd' || r->kind == 'w')) {
			nd_log("previous process %d still draining after %ld ms: SIGTERM",
			       r->pid, r->ms);
			nd_drain_expired++;
			kill(r->pid, SIGTERM);
			r->kind = 'T';
			r->ms = RETIRE_GRACE_S * 1000L;
			nd_after_ms(&r->end, r->ms);
			t = r->ms;
		} else if (t <= 0) {
			nd_log("previous process %d not stopped in %ld ms: SIGKILL",
			       r->pid, r->ms);
			nd_retire_killed++;
			kill(r->pid, SIGKILL);
			retire[i--] = retire[--nretire];
			continue;
		}
		if (next < 0 || t < next)
			next = t;
	}
	return next;
}

/* nstcpd stops: the old image's processes still there get SIGTERM too. */
void nd_handover_stop(void)
{
	int i;

	for (i = 0; i < nretire; i++)
		kill(retire[i].pid, SIGTERM);
	nretire = 0;
}

/* The old image's processes not yet gone. */
int nd_handover_retiring(void)
{
	return nretire;
}

