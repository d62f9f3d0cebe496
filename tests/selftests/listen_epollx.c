// SPDX-License-Identifier: GPL-2.0
/*
 * Selftest: one listening socket shared by worker processes, each pinned
 * on a CPU with an epoll of its own watching the socket with
 * EPOLLEXCLUSIVE (nginx's model).  A veth pair with RPS spreads the
 * clients' flows (from another namespace) over every CPU.  With the
 * module's default accept_steal_delay_ms, a connection must be accepted
 * by the worker of its receive CPU for at least 99% of them: the arrival
 * wakes that CPU's poller, not the first exclusive waiter of the socket
 * (250 ms on the debug kernel, whose turns under TCG outlast 20 ms).
 * The same run on AF_INET prints its share for comparison.  Every
 * connection is served in time; a worker that stops polling has its CPU's
 * connections served by the others after the delay; shutdown() of the
 * listener wakes every worker asleep in epoll_wait with EPOLLHUP, on both
 * families; EPOLL_CTL_MOD of an exclusive entry fails EINVAL on both.
 */
#include <sys/epoll.h>
#include <sys/mman.h>

#include "listen_util.h"
#include "rps_pair.h"

#define CONNS		200	/* connections per phase */
#define MIN_PCT		99
#define MARGIN_MS	3000	/* beyond the steal delay, for TCG */
#define CHILD_CASES	12
#define NCASES		(2 + CHILD_CASES + 3 + 1)

static int ncpus, delay_ms, debug_kernel;

/* What the workers share with the test, in memory mapped before fork(). */
struct shared {
	atomic_int paused;		/* this CPU's worker stops polling; -1 none */
	atomic_int served[LST_MAXCPU];
	atomic_int local[LST_MAXCPU];	/* ... with SO_INCOMING_CPU its CPU */
	atomic_int errors[LST_MAXCPU];
	atomic_int empty[LST_MAXCPU];	/* woken, accept() found nothing */
	atomic_int hup[LST_MAXCPU];	/* woke with EPOLLHUP and left */
	atomic_int offcpu[LST_MAXCPU];	/* ran elsewhere than pinned */
	atomic_int ready[LST_MAXCPU];	/* registered with epoll */
	atomic_int from_paused;		/* served, received on the paused CPU */
};

static struct shared *sh;

static void serve(int c, int afd)
{
	int icpu;
	char ch;

	if (fam_timeouts(afd, FAM_TIMEOUT_MS) || recv(afd, &ch, 1, 0) != 1 ||
	    ch != LST_REQ) {
		atomic_fetch_add(&sh->errors[c], 1);
		close(afd);
		return;
	}
	icpu = lst_incoming_cpu(afd);
	if (icpu == c)
		atomic_fetch_add(&sh->local[c], 1);
	if (icpu >= 0 && icpu == atomic_load(&sh->paused))
		atomic_fetch_add(&sh->from_paused, 1);
	ch = LST_REPLY;
	if (send(afd, &ch, 1, MSG_NOSIGNAL) != 1)
		atomic_fetch_add(&sh->errors[c], 1);
	else
		atomic_fetch_add(&sh->served[c], 1);
	close(afd);
}

/* A worker process on CPU c: one connection per wake-up, as nginx. */
static void worker(int c, int lfd)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLEXCLUSIVE };
	int ep;

	lst_pin(c);
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev)) {
		atomic_fetch_add(&sh->errors[c], 1);
		_exit(1);
	}
	atomic_store(&sh->ready[c], 1);
	for (;;) {
		int n, afd;

		while (atomic_load(&sh->paused) == c)
			lst_sleep_ms(10);
		n = epoll_wait(ep, &ev, 1, 500);
		if (n < 0 && errno != EINTR)
			break;
		if (n <= 0)
			continue;
		if (ev.events & (EPOLLHUP | EPOLLERR)) {
			atomic_store(&sh->hup[c], 1);
			break;
		}
		if (sched_getcpu() != c)
			atomic_fetch_add(&sh->offcpu[c], 1);
		afd = accept(lfd, NULL, NULL);
		if (afd < 0) {
			if (errno != EAGAIN)
				break;
			atomic_fetch_add(&sh->empty[c], 1);
			continue;
		}
		serve(c, afd);
	}
	close(ep);
	_exit(0);
}

static int sum(atomic_int *a)
{
	int s = 0;

	for (int c = 0; c < ncpus; c++)
		s += atomic_load(&a[c]);
	return s;
}

/*
 * Workers on a listener of family dom, CONNS connections from client
 * threads in cli; paused >= 0 stalls that CPU's worker throughout.
 */
static void phase(int cli, int dom, int paused)
{
	/*
	 * Half as many clients as CPUs: under TCG the vCPUs share the host's
	 * cores, and a worker that is not run within the steal delay loses
	 * its connection to another, as it should.
	 */
	int nclients = ncpus / 2 > 1 ? ncpus / 2 : 1;
	struct lst_client cl[LST_MAXCPU];
	pid_t pid[LST_MAXCPU];
	struct lst_client all = {};
	int lfd, port = 0, woke = 1, exited = 1;
	long long t0;
	int served, local, errs, empty;
	const char *fam = lst_fam(dom);
	struct lst_port st = {};

	memset(sh, 0, sizeof(*sh));
	atomic_store(&sh->paused, paused);
	if (dom == AF_NSTCP) {
		lfd = lst_member(RPS_SRV_IP, 0, NULL, 0, &port);
	} else {
		lfd = lst_listen_on(dom, RPS_SRV_IP, 0, 128);
		port = lfd >= 0 ? fam_local_port(lfd) : 0;
	}
	if (lfd >= 0)
		fcntl(lfd, F_SETFL, fcntl(lfd, F_GETFL) | O_NONBLOCK);
	for (int c = 0; c < ncpus; c++) {
		pid[c] = lfd >= 0 ? fork() : -1;
		if (pid[c] == 0)
			worker(c, lfd);
	}
	t0 = lst_now_ms();
	while (lfd >= 0 && sum(sh->ready) < ncpus && lst_now_ms() - t0 < FAM_TIMEOUT_MS)
		lst_sleep_ms(10);
	lst_sleep_ms(100);
	if (lfd >= 0)
		lst_clients_run(cl, nclients, cli, RPS_SRV_IP, port, CONNS,
				FAM_TIMEOUT_MS, &all);
	if (dom == AF_NSTCP)
		lst_proc(port, &st);
	/* The stalled worker sleeps in epoll_wait too for the shutdown. */
	atomic_store(&sh->paused, -1);
	lst_sleep_ms(100);
	if (lfd >= 0)
		shutdown(lfd, SHUT_RDWR);
	t0 = lst_now_ms();
	for (int c = 0; c < ncpus; c++) {
		int status = 0;

		if (pid[c] <= 0) {
			exited = 0;
			continue;
		}
		while (waitpid(pid[c], &status, WNOHANG) == 0 &&
		       lst_now_ms() - t0 < 2000)
			lst_sleep_ms(5);
		if (!atomic_load(&sh->hup[c]))
			woke = 0;
		if (waitpid(pid[c], &status, WNOHANG) == 0) {
			kill(pid[c], SIGKILL);
			waitpid(pid[c], &status, 0);
			exited = 0;
		} else if (!WIFEXITED(status) || WEXITSTATUS(status)) {
			exited = 0;
		}
	}
	if (lfd >= 0)
		close(lfd);

	served = sum(sh->served);
	local = sum(sh->local);
	errs = sum(sh->errors);
	empty = sum(sh->empty);
	tap_diag("%s%s, %d clients: CPU served/local/woken for nothing%s:",
		 fam, paused >= 0 ? ", one worker stalled" : "", nclients,
		 dom == AF_NSTCP ? "/stolen from" : "");
	for (int c = 0; c < ncpus; c++)
		tap_diag("  CPU %d: %d/%d/%d/%ld", c, atomic_load(&sh->served[c]),
			 atomic_load(&sh->local[c]), atomic_load(&sh->empty[c]),
			 st.stolen[c]);
	FAM_OK(lfd >= 0 && all.ok == CONNS && !all.fail && served == CONNS && !errs &&
	       all.max_ms <= delay_ms + MARGIN_MS,
	       "%s%s: all %d connections served (%d ok, %d failed: %s; %d server errors), the slowest in %lld ms (at most steal delay %d + %d ms)",
	       fam, paused >= 0 ? ", one worker stalled" : "", CONNS, all.ok,
	       all.fail, all.first_err ? strerror(all.first_err) : "none", errs,
	       all.max_ms, delay_ms,
	       MARGIN_MS);
	if (paused >= 0) {
		FAM_OK(atomic_load(&sh->from_paused) > 0 &&
		       !atomic_load(&sh->served[paused]),
		       "%s: %d connections received on CPU %d, whose worker stopped polling, were served by the others",
		       fam, atomic_load(&sh->from_paused), paused);
	} else if (dom == AF_NSTCP) {
		FAM_OK(served && local * 100 >= served * MIN_PCT && !sum(sh->offcpu),
		       "%s: accepted on the receive CPU for %d of %d (%.1f%%, want >= %d%%; %d wake-ups found nothing)",
		       fam, local, served, served ? 100.0 * local / served : 0.0,
		       MIN_PCT, empty);
		FAM_OK(st.sum_stolen == served - local,
		       "%s: /proc counts %ld stolen, as the workers saw (%d)",
		       fam, st.sum_stolen, served - local);
	} else {
		tap_diag("%s: accepted on the receive CPU for %d of %d (%.1f%%; %d wake-ups found nothing): for comparison",
			 fam, local, served, served ? 100.0 * local / served : 0.0,
			 empty);
	}
	FAM_OK(woke && exited,
	       "%s%s: shutdown() of the listener woke every worker in epoll_wait with EPOLLHUP",
	       fam, paused >= 0 ? ", one worker stalled" : "");
}

/* EPOLLEXCLUSIVE cannot be modified: epoll's EINVAL, on both families. */
static void mod_exclusive(void)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLEXCLUSIVE };
	int ok = 1, doms[2] = { AF_NSTCP, AF_INET };

	for (int i = 0; i < 2; i++) {
		int lfd = doms[i] == AF_NSTCP ?
			lst_member(RPS_SRV_IP, 0, NULL, 0, NULL) :
			lst_listen_on(AF_INET, RPS_SRV_IP, 0, 16);
		int ep = epoll_create1(EPOLL_CLOEXEC), r1, r2, e;

		r1 = lfd >= 0 && ep >= 0 ? epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) : -1;
		errno = 0;
		r2 = epoll_ctl(ep, EPOLL_CTL_MOD, lfd, &ev);
		e = errno;
		if (r1 || r2 != -1 || e != EINVAL) {
			tap_diag("%s: ADD %d, MOD %d (%s)", lst_fam(doms[i]), r1,
				 r2, strerror(e));
			ok = 0;
		}
		if (ep >= 0)
			close(ep);
		if (lfd >= 0)
			close(lfd);
	}
	FAM_OK(ok, "EPOLL_CTL_MOD of an EPOLLEXCLUSIVE entry fails EINVAL on AF_NSTCP and AF_INET");
}

/*
 * A listener watched by epoll stops listening, connects and gives its
 * connection away: its per-CPU poll heads stay with it (its epoll entry is
 * on one of them) while the connection goes to the taker, who closes it
 * first.  The debug kernel's KASAN sees any use of freed heads.
 */
static int take_new(uint64_t token, bool new_fd)
{
	struct nstcp_take_fd tf = { .ntf_token = token };
	socklen_t len = sizeof(tf);
	int t = socket(AF_NSTCP, SOCK_STREAM, 0);

	if (t < 0 || !new_fd)
		return t < 0 || setsockopt(t, SOL_NSTCP, NSTCP_TAKE, &token,
					   sizeof(token)) ? -1 : t;
	/* The fresh socket only carries the call. */
	if (getsockopt(t, SOL_NSTCP, NSTCP_TAKE_FD, &tf, &len))
		tf.ntf_fd = -1;
	close(t);
	return tf.ntf_fd;
}

static void relisten_give(bool new_fd)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLEXCLUSIVE };
	struct nstcp_give g = { .ng_flags = NSTCP_GIVE_PID, .ng_id = getpid() };
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a), glen = sizeof(g);
	int peer, l, ep, t = -1, c = -1, ok;

	peer = lst_listen_on(AF_INET, RPS_SRV_IP, 0, 16);
	l = socket(AF_NSTCP, SOCK_STREAM, 0);
	ep = epoll_create1(EPOLL_CLOEXEC);
	ok = peer >= 0 && l >= 0 && ep >= 0 &&
	     !getsockname(peer, (struct sockaddr *)&a, &len) &&
	     !listen(l, 8) && !epoll_ctl(ep, EPOLL_CTL_ADD, l, &ev) &&
	     !shutdown(l, SHUT_RD) &&
	     !connect(l, (struct sockaddr *)&a, sizeof(a)) &&
	     (c = accept(peer, NULL, NULL)) >= 0 &&
	     !getsockopt(l, SOL_NSTCP, NSTCP_GIVE, &g, &glen) &&
	     (t = take_new(g.ng_token, new_fd)) >= 0 &&
	     send(t, "x", 1, 0) == 1 && recv(c, &ev, 1, 0) == 1;
	if (!ok)
		tap_diag("relisten and give: %s", strerror(errno));
	if (t >= 0)
		close(t);	/* the taker's close: the connection goes */
	lst_sleep_ms(100);	/* past an RCU grace period */
	if (ep >= 0)
		close(ep);	/* the giver's epoll entry comes off its head */
	if (l >= 0)
		close(l);
	if (c >= 0)
		close(c);
	if (peer >= 0)
		close(peer);
	FAM_OK(ok, "an epoll-watched listener shut down, connected and given away (%s): its poll heads stay with it",
	       new_fd ? "NSTCP_TAKE_FD" : "NSTCP_TAKE");
}

static int child(int cli)
{
	char buf[16];

	fam_start_child(CHILD_CASES, 100);

	lst_sysctl_write("accept_steal", "1");
	/*
	 * KASAN and lockdep under TCG make a worker's turn far longer than
	 * the default delay (20 ms): 250 ms there, as listen_locality does.
	 */
	if (debug_kernel)
		lst_sysctl_write("accept_steal_delay_ms", "250");
	delay_ms = atoi(lst_sysctl_read("accept_steal_delay_ms", buf, sizeof(buf)));
	tap_diag("accept_steal_delay_ms=%d (%s), %d CPUs", delay_ms,
		 debug_kernel ? "debug kernel" : "the default", ncpus);
	phase(cli, AF_NSTCP, -1);	/* 4 cases */
	phase(cli, AF_INET, -1);	/* 2 */
	phase(cli, AF_NSTCP, 1);	/* 3 */
	mod_exclusive();		/* 1 */
	relisten_give(false);		/* 1 */
	relisten_give(true);		/* 1 */
	lst_sleep_ms(200);
	return fam_finish();
}

int main(void)
{
	struct rps_pair p;

	setvbuf(stdout, NULL, _IOLBF, 0);
	debug_kernel = getenv("NSTCP_KERNEL") &&
		       !strcmp(getenv("NSTCP_KERNEL"), "debug");
	ncpus = lst_plan_cpus(NCASES, 2, "epoll exclusive workers");
	if (!ncpus)
		return tap_done();
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED) {
		for (int i = 0; i < NCASES; i++)
			tap_ok(0, "mmap: %s", strerror(errno));
		return tap_done();
	}
	/* The child's watchdog fires first. */
	rps_pair_run(&p, ncpus, CHILD_CASES + 3, 110, child);
	return tap_done();
}
