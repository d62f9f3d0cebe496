// SPDX-License-Identifier: GPL-2.0
/*
 * nstcpd's processes: listening sockets, spawning a program pinned on a
 * CPU with its socket passed by the systemd convention, reaping.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
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

int nd_status_pipe = -1;	/* read end; children write take reports */
int nd_report_wr = -1;		/* write end, inherited until exec */

void nd_log(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "nstcpd: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void nd_now(struct timespec *t)
{
	clock_gettime(CLOCK_MONOTONIC, t);
}

/*
 * A loop that blocks @which but for its poll or epoll_pwait (@waitmask)
 * sees them only when that call has to wait: one that returns ready events
 * leaves a pending signal pending, so a process kept busy never runs its
 * handler.  Called after such a call returned events: a signal of @which
 * that is pending is let in here (its handler runs before this returns).
 */
void nd_let_signals_in(const sigset_t *waitmask, const sigset_t *which)
{
	sigset_t pending, old;

	if (sigpending(&pending) || sigandset(&pending, &pending, which) ||
	    sigisemptyset(&pending))
		return;
	sigprocmask(SIG_SETMASK, waitmask, &old);
	sigprocmask(SIG_SETMASK, &old, NULL);
}

/* @t set to @ms milliseconds from now. */
void nd_after_ms(struct timespec *t, long ms)
{
	nd_now(t);
	t->tv_sec += ms / 1000;
	t->tv_nsec += ms % 1000 * 1000000L;
	t->tv_sec += t->tv_nsec / 1000000000L;
	t->tv_nsec %= 1000000000L;
}

/* Milliseconds from now to @t (negative when past). */
long long nd_ms_until(const struct timespec *t)
{
	struct timespec n;

	nd_now(&n);
	return (t->tv_sec - n.tv_sec) * 1000LL +
	       (t->tv_nsec - n.tv_nsec) / 1000000;
}

int nd_pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set);
}

/* An AF_NSTCP listening socket of @s's port, a member of its share key. */
static int make_listen(const void *arg)
{
	const struct nd_service *s = arg;
	int fd, one = 1, err;

	fd = socket(nstcp_family(), SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)))
		goto fail;
	if ((s->model == ND_MODEL_MONOLITHIC ||
	     s->model == ND_MODEL_DISTRIBUTOR) &&
	    setsockopt(fd, SOL_NSTCP, NSTCP_SHARE_KEY, s->key, strlen(s->key)))
		goto fail;
	if (s->policy &&
	    setsockopt(fd, SOL_NSTCP, NSTCP_POLICY, &s->policy, sizeof(int)))
		goto fail;
	if (bind(fd, (const struct sockaddr *)&s->addr, s->addrlen) ||
	    listen(fd, s->backlog))
		goto fail;
	return fd;
fail:
	err = errno;
	close(fd);
	errno = err;
	return -1;
}

/* The same, an inherited socket of that identity if there is one. */
int nd_listen_socket(const struct nd_service *s)
{
	int keyed = s->model == ND_MODEL_MONOLITHIC ||
		    s->model == ND_MODEL_DISTRIBUTOR;

	return nd_listen_held(s->model, keyed ? s->key : "", s->policy,
			      &s->addr, make_listen, s);
}

#define BACKOFF_MIN_MS	100
#define BACKOFF_MAX_MS	5000
#define STABLE_MS	10000	/* a process up this long restarts at once */

/*
 * Schedules the restart of @c's process, which just exited: at once when
 * it had run STABLE_MS, else after a delay doubling from BACKOFF_MIN_MS to
 * BACKOFF_MAX_MS.
 */
void nd_backoff(struct nd_copy *c)
{
	long long up = -nd_ms_until(&c->started);
	long delay = 0;

	if (!c->backoff_ms || up >= STABLE_MS)
		c->backoff_ms = BACKOFF_MIN_MS;
	else
		delay = c->backoff_ms;
	if (up < STABLE_MS && c->backoff_ms < BACKOFF_MAX_MS)
		c->backoff_ms *= 2;
	if (c->backoff_ms > BACKOFF_MAX_MS)
		c->backoff_ms = BACKOFF_MAX_MS;
	nd_after_ms(&c->restart_at, delay);
}

struct nd_proc *nd_proc_add(struct nd_service *s)
{
	struct nd_proc *p;

	if (s->nprocs == s->procs_cap) {
		int cap = s->procs_cap ? s->procs_cap * 2 : 16;

		p = realloc(s->procs, cap * sizeof(*p));
		if (!p)
			return NULL;
		s->procs = p;
		s->procs_cap = cap;
	}
	p = &s->procs[s->nprocs++];
	memset(p, 0, sizeof(*p));
	nd_now(&p->started);
	return p;
}

void nd_proc_del(struct nd_service *s, struct nd_proc *p)
{
	*p = s->procs[--s->nprocs];
}

int nd_services_start(struct nd_config *cfg)
{
	char rundir[512], *slash;
	int pfd[2], i;

	/* The distributor's back-end sockets go by the status file. */
	snprintf(rundir, sizeof(rundir), "%s", cfg->status_path);
	slash = strrchr(rundir, '/');
	if (!slash)
		snprintf(rundir, sizeof(rundir), ".");
	else if (slash == rundir)
		rundir[1] = 0;
	else
		*slash = 0;
	nstcp_family();		/* read now: children may not read files */

	if (pipe2(pfd, O_CLOEXEC | O_NONBLOCK))
		return -1;
	nd_status_pipe = pfd[0];
	nd_report_wr = pfd[1];
	/* Children keep the write end until exec (cleared in the child). */
	fcntl(nd_report_wr, F_SETFL, 0);
	for (i = 0; i < cfg->nsvc; i++) {
		struct nd_service *s = &cfg->svc[i];
		int r;

		s->cpu = calloc(ND_MAX_CPUS, sizeof(*s->cpu));
		if (!s->cpu)
			return -1;
		if (s->model == ND_MODEL_STANDARD)
			r = nd_standard_start(s);
		else if (s->model == ND_MODEL_HYBRID)
			r = nd_hybrid_start(s);
		else if (s->model == ND_MODEL_DISTRIBUTOR)
			r = nd_distributor_start(s, rundir);
		else if (s->model == ND_MODEL_BROKER)
			r = nd_broker_start(s);
		else
			r = nd_monolithic_start(s);
		if (r) {
			nd_log("service %s (line %d): listen on %s: %s", s->name,
			       s->line, s->listen_text, strerror(errno));
			return -1;
		}
		nd_log("service %s: %s model on %s, %d CPUs, %s", s->name,
		       nd_model_name(s->model), s->listen_text, s->ncpus,
		       s->exec_text);
		if (!s->user_line && geteuid() == 0)
			nd_log("warning: service %s (line %d) has no \"user\": its programs run as root",
			       s->name, s->line);
	}
	return 0;
}

/*
 * While stopping: reaps the children that exited and drops them from
 * their service's procs[], so that no signal goes to their pid, which the
 * system may have given to another process since.  Nothing restarts them.
 */
static void reap_stopped(struct nd_config *cfg)
{
	pid_t pid;
	int i, j;

	/*
	 * One match a child; the loops end there (not by setting i past
	 * the last service, which the inner loop's test would then read).
	 */
	while ((pid = waitpid(-1, NULL, WNOHANG)) > 0) {
		for (i = 0; i < cfg->nsvc; i++)
			for (j = 0; j < cfg->svc[i].nprocs; j++)
				if (cfg->svc[i].procs[j].pid == pid) {
					nd_proc_del(&cfg->svc[i],
						    &cfg->svc[i].procs[j]);
					goto next;
				}
next:
		;
	}
}

/*
 * Stops listening, SIGTERM to every child, SIGKILL to those left after
 * 2 s; then closes the sockets.
 */
void nd_services_stop(struct nd_config *cfg)
{
	struct timespec end;
	int i, j, left;

	/* Stopped already (nd_acceptors_stop); no more queued connections. */
	for (i = 0; i < cfg->nsvc && !nd_handover_fdstore(); i++) {
		if (cfg->svc[i].lfd >= 0)
			shutdown(cfg->svc[i].lfd, SHUT_RD);
		if (cfg->svc[i].model == ND_MODEL_DISTRIBUTOR)
			nd_distributor_quiesce(&cfg->svc[i]);
	}
	for (i = 0; i < cfg->nsvc; i++)
		for (j = 0; j < cfg->svc[i].nprocs; j++)
			kill(cfg->svc[i].procs[j].pid, SIGTERM);
	nd_now(&end);
	end.tv_sec += 2;
	do {
		left = 0;
		reap_stopped(cfg);
		for (i = 0; i < cfg->nsvc; i++)
			left += cfg->svc[i].nprocs;
		if (left)
			usleep(20000);
	} while (left && nd_ms_until(&end) > 0);
	reap_stopped(cfg);
	for (i = 0; i < cfg->nsvc; i++) {
		struct nd_service *s = &cfg->svc[i];

		for (j = 0; j < s->nprocs; j++)
			if (!kill(s->procs[j].pid, SIGKILL))
				nd_log("service %s: pid %d not stopped in 2 s: SIGKILL",
				       s->name, s->procs[j].pid);
		if (s->model == ND_MODEL_HYBRID)
			nd_hybrid_stop(s);
		for (j = 0; j < s->ncopies; j++) {
			if (s->copies[j].lfd >= 0)
				close(s->copies[j].lfd);
			if (s->copies[j].chan >= 0)
				close(s->copies[j].chan);
		}
		if (s->lfd >= 0)
			close(s->lfd);
		if (s->model == ND_MODEL_DISTRIBUTOR)
			nd_distributor_stop(s);
	}
	/* Reap those killed, so that none outlives nstcpd as a zombie. */
	nd_now(&end);
	end.tv_sec += 1;
	while (waitpid(-1, NULL, WNOHANG) >= 0 && nd_ms_until(&end) > 0)
		usleep(10000);
}

/* Reaps every exited child and hands it to its model. */
void nd_reap(struct nd_config *cfg)
{
	int status, i, j;
	pid_t pid;

	/* Take reports first: a child may have reported and exited. */
	nd_standard_reports(cfg);
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (i = 0; i < cfg->nsvc; i++) {
			struct nd_service *s = &cfg->svc[i];

			for (j = 0; j < s->nprocs; j++) {
				if (j == 0)
					nd_standard_reports(cfg);
				if (s->procs[j].pid != pid)
					continue;
				if (s->model == ND_MODEL_STANDARD)
					nd_standard_exited(s, &s->procs[j], status);
				else if (s->model == ND_MODEL_HYBRID)
					nd_hybrid_exited(s, &s->procs[j], status);
				else if (s->model == ND_MODEL_DISTRIBUTOR)
					nd_distributor_exited(s, &s->procs[j], status);
				else if (s->model == ND_MODEL_BROKER)
					nd_broker_exited(s, &s->procs[j], status);
				else
					nd_monolithic_exited(s, &s->procs[j], status);
				goto next;
			}
		}
		nd_handover_reaped(pid, status);
next:
		;
	}
}

/* Timed work (restarts); the milliseconds until the next, -1 for none. */
long long nd_services_tick(struct nd_config *cfg)
{
	long long next = nd_handover_tick(), t;
	int i;

	for (i = 0; i < cfg->nsvc; i++) {
		if (cfg->svc[i].model == ND_MODEL_MONOLITHIC)
			t = nd_monolithic_tick(&cfg->svc[i]);
		else if (cfg->svc[i].model == ND_MODEL_HYBRID)
			t = nd_hybrid_tick(&cfg->svc[i]);
		else if (cfg->svc[i].model == ND_MODEL_DISTRIBUTOR)
			t = nd_distributor_tick(&cfg->svc[i]);
		else if (cfg->svc[i].model == ND_MODEL_BROKER)
			t = nd_broker_tick(&cfg->svc[i]);
		else
			continue;
		if (t >= 0 && (next < 0 || t < next))
			next = t;
	}
	return next;
}
