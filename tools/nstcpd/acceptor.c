// SPDX-License-Identifier: GPL-2.0
/*
 * nstcpd's acceptors (standard and hybrid models): a thread per service
 * and CPU, pinned there, blocked accepting the service's connections as
 * tokens (split accept).  Per-CPU listening gives each thread the connections
 * whose packets its CPU processes, so the flow's CPU is where it is
 * accepted: the kernel's accept records the flow for RFS on the accepting
 * CPU, which is then the flow's own, and data arriving before the take is
 * processed there too.  The threads accept; a hybrid service's acceptor
 * hands the token to a worker itself (nd_hybrid_direct, which shares the
 * service's state with the main thread under a lock); every other
 * arrival goes by a pipe to the main thread, which owns every other piece
 * of state.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/types.h>
#include <linux/nstcp.h>

#include "nstcpd.h"

int nd_arrival_pipe = -1;	/* read end, the main thread's */
static int arrival_wr = -1;

/*
 * Before a re-exec or at stop the acceptors stop (nd_acceptors_stop):
 * @stopping set, each thread sent SIGUSR1 (a handler without SA_RESTART:
 * its blocking split accept returns EINTR) until it sees the flag and
 * leaves; @running counts those not gone.  A token a thread accepted is
 * written to the pipe before it leaves: none is lost with the image at a
 * re-exec.
 */
static int stopping;
static int running;
static pthread_t *threads;
static int nthreads;

static void drain(struct nd_config *cfg, int quit);

static void on_usr1(int sig)
{
	(void)sig;
}

struct nd_arrival {
	int svc;
	int cpu;			/* the flow's */
	uint64_t token;
	struct sockaddr_storage peer;
};

struct acceptor {
	struct nd_service *s;
	int svc;
	int cpu;
};

static void *acceptor(void *arg)
{
	struct acceptor a = *(struct acceptor *)arg;
	struct nd_service *s = a.s;

	free(arg);
	if (nd_pin(a.cpu))
		nd_log("service %s: acceptor on CPU %d: %s", s->name, a.cpu,
		       strerror(errno));
	while (!__atomic_load_n(&stopping, __ATOMIC_ACQUIRE)) {
		struct nstcp_accept_token at;
		struct nd_arrival ar;
		socklen_t len = sizeof(at);
		ssize_t w;

		/*
		 * Blocking: a thread asleep in accept on its CPU is that CPU's
		 * acceptor, woken for the connections queued there.
		 */
		memset(&at, 0, sizeof(at));
		at.nat_give.ng_flags = NSTCP_GIVE_UID;
		at.nat_give.ng_id = nd_taker_uid(s);
		at.nat_give.ng_timeout_ms = s->timeout_ms;
		if (getsockopt(s->lfd, SOL_NSTCP, NSTCP_ACCEPT_TOKEN, &at, &len)) {
			if (errno == EINVAL)
				break;	/* no longer listening */
			if (errno != EAGAIN && errno != EINTR &&
			    errno != ECONNABORTED) {
				nd_log("service %s: split accept: %s", s->name,
				       strerror(errno));
				usleep(10000);
			}
			continue;
		}
		/*
		 * Once stopping, a token goes by the pipe only: the main
		 * thread, which drains it, knows whether the workers are
		 * being stopped (the token is then closed, not handed to a
		 * worker sent SIGTERM) or a new image comes (handed on).
		 */
		if (s->model == ND_MODEL_HYBRID &&
		    !__atomic_load_n(&stopping, __ATOMIC_ACQUIRE) &&
		    nd_hybrid_direct(s, at.nat_give.ng_token, at.nat_cpu))
			continue;
		memset(&ar, 0, sizeof(ar));
		ar.svc = a.svc;
		ar.cpu = at.nat_cpu;
		ar.token = at.nat_give.ng_token;
		memcpy(&ar.peer, &at.nat_peer, sizeof(ar.peer));
		/*
		 * At most PIPE_BUF: written whole, never interleaved.  The
		 * write blocks on a full pipe; nd_acceptors_stop's SIGUSR1
		 * (no SA_RESTART) then interrupts it before anything is
		 * written: retried, since the main thread drains the pipe
		 * while it waits, and the token must not be dropped.
		 */
		while ((w = write(arrival_wr, &ar, sizeof(ar))) < 0 &&
		       errno == EINTR)
			;
		if (w != sizeof(ar))
			nd_log("service %s: arrival: %s", s->name, strerror(errno));
	}
	__atomic_sub_fetch(&running, 1, __ATOMIC_RELEASE);
	return NULL;
}

/*
 * Wakes the main thread (nd_hybrid_direct: a token's early take-back
 * time comes before its next tick): an arrival of no service, skipped.
 */
void nd_arrival_wake(void)
{
	struct nd_arrival ar = { .svc = -1 };

	while (write(arrival_wr, &ar, sizeof(ar)) < 0 && errno == EINTR)
		;
}

/* Starts the acceptors of every service nstcpd listens for. */
int nd_acceptors_start(struct nd_config *cfg)
{
	struct sigaction sa = { .sa_handler = on_usr1 };
	pthread_attr_t attr;
	int pfd[2], i, c, r = 0;

	_Static_assert(sizeof(struct nd_arrival) <= PIPE_BUF,
		       "an arrival is written whole");
	/*
	 * A pipe still open: a previous stop left threads running (they
	 * may still write it), so it is kept, and so is their entry in
	 * threads[], joined at the next stop.
	 */
	if (arrival_wr < 0) {
		if (pipe2(pfd, O_CLOEXEC))
			return -1;
		if (fcntl(pfd[0], F_SETFL, O_NONBLOCK)) {
			close(pfd[0]);
			close(pfd[1]);
			return -1;
		}
		nd_arrival_pipe = pfd[0];
		arrival_wr = pfd[1];
	}
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	stopping = 0;
	pthread_attr_init(&attr);
	/* Joinable: nd_acceptors_stop signals them, gone or not. */
	pthread_attr_setstacksize(&attr, 64 * 1024);
	for (i = 0; i < cfg->nsvc && !r; i++) {
		struct nd_service *s = &cfg->svc[i];

		if (s->lfd < 0)
			continue;
		for (c = 0; c < ND_MAX_CPUS && c < CPU_SETSIZE && !r; c++) {
			struct acceptor *a;
			pthread_t t, *p;

			if (!CPU_ISSET(c, &s->cpus))
				continue;
			a = malloc(sizeof(*a));
			if (!a) {
				r = -1;
				break;
			}
			*a = (struct acceptor){ .s = s, .svc = i, .cpu = c };
			p = realloc(threads, (nthreads + 1) * sizeof(*threads));
			if (!p) {
				free(a);
				r = -1;
				break;
			}
			threads = p;
			__atomic_add_fetch(&running, 1, __ATOMIC_RELEASE);
			r = pthread_create(&t, &attr, acceptor, a);
			if (r) {
				__atomic_sub_fetch(&running, 1, __ATOMIC_RELEASE);
				free(a);
				errno = r;
				r = -1;
			} else {
				threads[nthreads++] = t;
			}
		}
	}
	pthread_attr_destroy(&attr);
	return r;
}

/*
 * The acceptors stopped (at most 2 s) and joined: before a re-exec
 * (@quit 0), the connections they accepted handed on (nd_arrivals) by the
 * image that accepted them; at stop (@quit 1), closed, since the workers
 * and servers are about to be sent SIGTERM (under a store of descriptors
 * the connections not accepted stay queued for the next nstcpd).  The
 * pipe is drained while waiting, so that a thread blocked writing a full
 * one can finish and see the flag; it is closed only when no thread is
 * left to write it.  0 when none is left running; else the threads still
 * use the configuration, which must then outlive them (not freed).
 */
int nd_acceptors_stop(struct nd_config *cfg, int quit)
{
	struct timespec end;
	int i, left;

	if (arrival_wr < 0)
		return 0;
	__atomic_store_n(&stopping, 1, __ATOMIC_RELEASE);
	nd_now(&end);
	end.tv_sec += 2;
	while ((left = __atomic_load_n(&running, __ATOMIC_ACQUIRE)) &&
	       nd_ms_until(&end) > 0) {
		for (i = 0; i < nthreads && left; i++)
			pthread_kill(threads[i], SIGUSR1);
		drain(cfg, quit);
		usleep(5000);
	}
	drain(cfg, quit);
	if (left) {
		/* Kept: the pipe, the threads (joined at a later stop). */
		nd_log("%d acceptors did not stop in 2 s", left);
		return -1;
	}
	for (i = 0; i < nthreads; i++)
		pthread_join(threads[i], NULL);
	close(arrival_wr);
	close(nd_arrival_pipe);
	arrival_wr = -1;
	nd_arrival_pipe = -1;
	nthreads = 0;
	return 0;
}

/* In the main thread: the connections the acceptors took. */
void nd_arrivals(struct nd_config *cfg)
{
	struct nd_arrival ar;

	while (read(nd_arrival_pipe, &ar, sizeof(ar)) == sizeof(ar)) {
		if (ar.svc < 0 || ar.svc >= cfg->nsvc)
			continue;
		nd_standard_arrival(&cfg->svc[ar.svc], ar.token, ar.cpu,
				    &ar.peer);
	}
}

/* The pipe drained: the arrivals handed on, or closed when @quit. */
static void drain(struct nd_config *cfg, int quit)
{
	struct nd_arrival ar;
	int fd;

	if (!quit) {
		nd_arrivals(cfg);
		return;
	}
	while (read(nd_arrival_pipe, &ar, sizeof(ar)) == sizeof(ar)) {
		if (ar.svc < 0 || ar.svc >= cfg->nsvc)
			continue;
		fd = nd_take(&cfg->svc[ar.svc], ar.token);
		if (fd >= 0)
			close(fd);
	}
}
