// SPDX-License-Identifier: GPL-2.0
/*
 * The standard model (inetd; NonStop's LISTNER): nstcpd listens, accepts
 * each connection as a token (split accept: the flow's CPU comes back with
 * it) and starts the program pinned on that CPU, where the connection is
 * taken: by nstcpd's code in the new process before the exec (passed as
 * LISTEN_FDS=1 or as stdin/stdout), or by the program (NSTCP_TOKEN).  A
 * server that exits without taking its connection has it re-given.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/types.h>
#include <linux/nstcp.h>

#include "nstcp.h"
#include "nstcpd.h"
#include "distributor.h"

/* The listening socket; its acceptors block in split accept (acceptor.c). */
int nd_standard_start(struct nd_service *s)
{
	s->lfd = nd_listen_socket(s);
	return s->lfd < 0 ? -1 : 0;
}

/* The CPU to serve a flow of @cpu on: its own when configured. */
static int pick_cpu(struct nd_service *s, int cpu)
{
	int i, n;

	if (cpu >= 0 && cpu < ND_MAX_CPUS && CPU_ISSET(cpu, &s->cpus))
		return cpu;
	for (n = 0; n < CPU_SETSIZE; n++) {
		i = (s->rr + n) % CPU_SETSIZE;
		if (i < ND_MAX_CPUS && CPU_ISSET(i, &s->cpus)) {
			s->rr = i + 1;
			return i;
		}
	}
	return 0;
}

/* Whether @a and @b are one source for per_source (dlimit.c's key). */
static int same_source(const struct sockaddr_storage *a,
		       const struct sockaddr_storage *b)
{
	unsigned char ka[16], kb[16];

	if ((a->ss_family != AF_INET && a->ss_family != AF_INET6) ||
	    (b->ss_family != AF_INET && b->ss_family != AF_INET6))
		return 0;
	nd_src_key(a, ka);
	nd_src_key(b, kb);
	return !memcmp(ka, kb, sizeof(ka));
}

/* Why a new connection from @peer is refused, or NULL. */
static const char *limit(struct nd_service *s,
			 const struct sockaddr_storage *peer)
{
	time_t now = time(NULL);
	unsigned int n = 0;
	int i;

	n = s->model == ND_MODEL_HYBRID ? nd_hybrid_load(s) :
	    (unsigned int)s->nprocs;
	if (s->max_conns && n >= s->max_conns)
		return "max_conns";
	n = 0;
	if (s->per_source) {
		for (i = 0; i < s->nprocs; i++)
			n += same_source(&s->procs[i].peer, peer);
		if (n >= s->per_source)
			return "per_source";
	}
	if (s->cps) {
		if (now != s->cps_sec) {
			s->cps_sec = now;
			s->cps_count = 0;
		}
		if (s->cps_count >= s->cps)
			return "cps";
		s->cps_count++;
	}
	return NULL;
}

/* Starts a server for the connection of @token, the flow on @cpu. */
static int serve(struct nd_service *s, uint64_t token, int cpu,
		 const struct sockaddr_storage *peer, int gives)
{
	struct nd_proc *p = nd_proc_add(s);
	int c = pick_cpu(s, cpu);

	if (!p)
		return -1;
	p->token = token;
	p->cpu = c;
	p->gives = gives;
	p->peer = *peer;
	p->pid = nd_spawn(s, c, -1, token);
	if (p->pid < 0) {
		nd_log("service %s: fork: %s", s->name, strerror(errno));
		nd_proc_del(s, p);
		return -1;
	}
	s->cpu[c].active++;
	return 0;
}

/* Takes the connection of @token here and closes it: a refusal. */
static void refuse(struct nd_service *s, uint64_t token, int cpu)
{
	int fd = nd_take(s, token);

	if (fd >= 0)
		close(fd);
	s->refused++;
	if (cpu >= 0 && cpu < ND_MAX_CPUS)
		s->cpu[cpu].refused++;
}

/* A connection an acceptor took as @token, its flow on @cpu: serve it. */
void nd_standard_arrival(struct nd_service *s, uint64_t token, int cpu,
			 const struct sockaddr_storage *peer)
{
	int hybrid = s->model == ND_MODEL_HYBRID;

	/* A hybrid service's state is shared with its acceptors. */
	if (hybrid) {
		nd_hybrid_lock(s);
		nd_hybrid_reports(s);	/* the loads current */
	}
	s->given++;
	if (cpu >= 0 && cpu < ND_MAX_CPUS)
		s->cpu[cpu].given++;
	if (limit(s, peer))
		refuse(s, token, cpu);
	else if (hybrid)
		nd_hybrid_give(s, token, cpu, 1);
	else if (serve(s, token, cpu, peer, 1))
		refuse(s, token, cpu);
	if (hybrid)
		nd_hybrid_unlock(s);
}

/* Reads the children's take reports: {pid, CPU at the take, home CPU}. */
void nd_standard_reports(struct nd_config *cfg)
{
	int rep[3], i, j;

	if (nd_status_pipe < 0)
		return;
	while (read(nd_status_pipe, rep, sizeof(rep)) == sizeof(rep)) {
		for (i = 0; i < cfg->nsvc; i++) {
			struct nd_service *s = &cfg->svc[i];

			for (j = 0; j < s->nprocs; j++) {
				struct nd_proc *p = &s->procs[j];

				if (p->pid != rep[0] || p->taken)
					continue;
				p->taken = 1;
				s->taken++;
				s->cpu[p->cpu].taken++;
				if (rep[1] == rep[2] || rep[2] < 0)
					s->cpu[p->cpu].local++;
			}
		}
	}
}

/*
 * A server exited.  Its connection is served when taken; one it never
 * took is still pending under its token: nstcpd takes it back and gives it
 * to a new server (ND_REGIVE_MAX times at most).
 */
void nd_standard_exited(struct nd_service *s, struct nd_proc *p, int status)
{
	struct nd_proc dead = *p;
	struct nstcp_give g;
	socklen_t len = sizeof(g);
	int fd;

	nd_proc_del(s, p);
	if (s->cpu[dead.cpu].active)
		s->cpu[dead.cpu].active--;
	if (WIFEXITED(status) && WEXITSTATUS(status) >= 125) {
		s->failed++;
		s->cpu[dead.cpu].failed++;
	}
	fd = nd_take(s, dead.token);
	if (fd < 0) {
		/*
		 * Taken by the server, or expired.  A server taking it itself
		 * (take = program) does not report: its token gone is its take.
		 */
		if (!dead.taken && !s->take_program) {
			nd_log("service %s: a connection expired untaken",
			       s->name);
			s->lost++;
			return;
		}
		if (!dead.taken) {
			s->taken++;
			s->cpu[dead.cpu].taken++;
		}
		s->served++;
		s->cpu[dead.cpu].served++;
		return;
	}
	if (dead.gives > ND_REGIVE_MAX) {
		nd_log("service %s: a connection given %d times was never taken; closed",
		       s->name, dead.gives);
		s->lost++;
		close(fd);
		return;
	}
	memset(&g, 0, sizeof(g));
	g.ng_flags = NSTCP_GIVE_UID;
	g.ng_id = nd_taker_uid(s);
	g.ng_timeout_ms = s->timeout_ms;
	if (getsockopt(fd, SOL_NSTCP, NSTCP_GIVE, &g, &len)) {
		nd_log("service %s: re-give: %s", s->name, strerror(errno));
		s->lost++;
		close(fd);
		return;
	}
	close(fd);
	s->regiven++;
	s->cpu[dead.cpu].regiven++;
	if (serve(s, g.ng_token, dead.cpu, &dead.peer, dead.gives + 1)) {
		fd = nd_take(s, g.ng_token);
		if (fd >= 0)
			close(fd);
		s->lost++;
	}
}
