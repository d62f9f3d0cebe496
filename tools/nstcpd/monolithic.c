// SPDX-License-Identifier: GPL-2.0
/*
 * The monolithic model: a copy of the program per configured CPU, pinned
 * there, each passed a listening socket of the service's shared port (one
 * member of its share key per copy) by the systemd convention.  nstcpd
 * holds the sockets, so a copy that exits is restarted (with backoff) on
 * the same socket and the connections queued meanwhile wait for it or go
 * to the other copies: none is reset.  The service's max_conns,
 * per_source and cps are the port's limits in the kernel
 * (NSTCP_MAX_CONNS, NSTCP_PER_SOURCE, NSTCP_CPS), set on every member:
 * the copies' accept() enforces them.  The broker model sets them the
 * same way on each server's port (nd_port_limits) and reads their counts
 * from /proc as this model does (nd_listen_rows).
 */
#include <arpa/inet.h>
#include <linux/nstcp.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nstcpd.h"

/*
 * The port's limits, as configured (0: none, which also clears a limit
 * an inherited socket had), on listening socket @lfd: a monolithic
 * member, or a broker's server.  A failure (ENOPROTOOPT from a module
 * without them, EINVAL) is logged and fails the service's start; errno
 * is setsockopt()'s.  A module without them is no failure when none is
 * configured.
 */
int nd_port_limits(const struct nd_service *s, int lfd)
{
	int max = s->max_conns, cps = s->cps, ps = s->per_source, err;
	const char *what = NULL;

	if (setsockopt(lfd, SOL_NSTCP, NSTCP_MAX_CONNS, &max, sizeof(max)))
		what = "max_conns";
	else if (setsockopt(lfd, SOL_NSTCP, NSTCP_PER_SOURCE, &ps, sizeof(ps)))
		what = "per_source";
	else if (setsockopt(lfd, SOL_NSTCP, NSTCP_CPS, &cps, sizeof(cps)))
		what = "cps";
	if (!what)
		return 0;
	err = errno;
	if (err == ENOPROTOOPT && !max && !cps && !ps)
		return 0;
	nd_log("service %s: the port's limits (%s): %s", s->name, what,
	       strerror(err));
	errno = err;
	return -1;
}

int nd_monolithic_start(struct nd_service *s)
{
	int n = s->workers ? s->workers : s->ncpus, i, c = 0, err;

	s->copies = calloc(n, sizeof(*s->copies));
	if (!s->copies)
		return -1;
	for (i = 0; i < n; i++) {
		while (!CPU_ISSET(c % CPU_SETSIZE, &s->cpus))
			c++;
		s->copies[i].cpu = c % CPU_SETSIZE;
		c++;
		s->copies[i].chan = -1;
		s->copies[i].lfd = nd_listen_socket(s);
		if (s->copies[i].lfd < 0)
			goto fail;
		s->ncopies++;
		if (nd_port_limits(s, s->copies[i].lfd))
			goto fail;
	}
	/* All members listen before the first copy runs. */
	for (i = 0; i < n; i++)
		s->copies[i].restart_at.tv_sec = 1;
	nd_monolithic_tick(s);
	return 0;
fail:
	err = errno;
	while (s->ncopies)
		close(s->copies[--s->ncopies].lfd);
	errno = err;
	return -1;
}

static void start_copy(struct nd_service *s, int i)
{
	struct nd_copy *c = &s->copies[i];
	struct nd_proc *p = nd_proc_add(s);

	c->restart_at.tv_sec = 0;
	c->restart_at.tv_nsec = 0;
	if (!p)
		goto later;
	p->slot = i;
	p->cpu = c->cpu;
	p->pid = nd_spawn(s, c->cpu, c->lfd, 0);
	if (p->pid < 0) {
		nd_log("service %s: fork: %s", s->name, strerror(errno));
		nd_proc_del(s, p);
		goto later;
	}
	c->pid = p->pid;
	nd_now(&c->started);
	s->cpu[c->cpu].pid = p->pid;
	return;
later:
	nd_now(&c->restart_at);
	c->restart_at.tv_sec += 1;
}

/* A copy exited: restart it, at once when it had run a while. */
void nd_monolithic_exited(struct nd_service *s, struct nd_proc *p, int status)
{
	struct nd_copy *c = &s->copies[p->slot];

	nd_proc_del(s, p);
	c->pid = 0;
	s->cpu[c->cpu].pid = 0;
	if (WIFEXITED(status) && WEXITSTATUS(status) >= 125) {
		s->failed++;
		s->cpu[c->cpu].failed++;
	}
	if (WIFSIGNALED(status))
		nd_log("service %s: copy on CPU %d killed by signal %d; restarting",
		       s->name, c->cpu, WTERMSIG(status));
	else
		nd_log("service %s: copy on CPU %d exited %d; restarting",
		       s->name, c->cpu, WEXITSTATUS(status));
	s->restarts++;
	s->cpu[c->cpu].restarts++;
	nd_backoff(c);
}

/* Starts the copies whose time has come; ms until the next, or -1. */
long long nd_monolithic_tick(struct nd_service *s)
{
	long long next = -1, t;
	int i;

	for (i = 0; i < s->ncopies; i++) {
		struct nd_copy *c = &s->copies[i];

		if (c->pid || (!c->restart_at.tv_sec && !c->restart_at.tv_nsec))
			continue;
		t = nd_ms_until(&c->restart_at);
		if (t <= 0) {
			start_copy(s, i);
			continue;
		}
		if (next < 0 || t < next)
			next = t;
	}
	return next;
}

/* The index of column @name in the header's @cols words, or -1. */
static int column(char **cols, int n, const char *name)
{
	int i;

	for (i = 0; i < n; i++)
		if (!strcmp(cols[i], name))
			return i;
	return -1;
}

/* Splits @line into at most @max words in place; their number. */
static int words(char *line, char **w, int max)
{
	char *save, *t;
	int n = 0;

	for (t = strtok_r(line, " \t\n", &save); t && n < max;
	     t = strtok_r(NULL, " \t\n", &save))
		w[n++] = t;
	return n;
}

/*
 * Calls @fn for each row of /proc/net/nstcp_listen (a port's CPU
 * instance; columns found by the header's names): its port (the digits
 * after the address's last ':'), CPU, queued and accepted counts, and the
 * port's lrefused (-1 without the column).
 */
void nd_listen_rows(void (*fn)(void *arg, const struct nd_listen_row *r),
		    void *arg)
{
	int ca, cc, cq, cx, cr, n;
	char line[512], hdr[512], *w[32], *h[32], *colon, *end;
	struct nd_listen_row r;
	FILE *f;

	f = fopen("/proc/net/nstcp_listen", "re");
	if (!f)
		return;
	if (!fgets(hdr, sizeof(hdr), f))
		goto out;
	n = words(hdr, h, 32);
	ca = column(h, n, "addr");
	cc = column(h, n, "cpu");
	cq = column(h, n, "queued");
	cx = column(h, n, "accepted");
	cr = column(h, n, "lrefused");
	if (ca < 0 || cc < 0 || cq < 0 || cx < 0)
		goto out;
	while (fgets(line, sizeof(line), f)) {
		if (words(line, w, 32) != n)
			continue;
		colon = strrchr(w[ca], ':');
		if (!colon)
			continue;
		r.port = strtol(colon + 1, &end, 10);
		if (*end || end == colon + 1 || r.port < 1 || r.port > 65535)
			continue;
		r.cpu = atoi(w[cc]);
		r.queued = strtoull(w[cq], NULL, 10);
		r.accepted = strtoull(w[cx], NULL, 10);
		r.lrefused = cr >= 0 ? (long long)strtoull(w[cr], NULL, 10) : -1;
		fn(arg, &r);
	}
out:
	fclose(f);
}

static void mono_row(void *arg, const struct nd_listen_row *r)
{
	struct nd_service *s = arg;

	if (r->port != ntohs(((struct sockaddr_in *)&s->addr)->sin_port) ||
	    r->cpu < 0 || r->cpu >= ND_MAX_CPUS)
		return;
	s->cpu[r->cpu].queued = r->queued;
	s->cpu[r->cpu].accepted = r->accepted;
	if (r->lrefused >= 0)
		s->refused = r->lrefused;
}

/*
 * Queued and accepted connections of the port per CPU instance, and the
 * connections its limits reset (the service's refused), from
 * /proc/net/nstcp_listen.
 */
void nd_monolithic_proc(struct nd_service *s)
{
	nd_listen_rows(mono_row, s);
}
