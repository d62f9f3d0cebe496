// SPDX-License-Identifier: GPL-2.0
/*
 * Selftest: accept stealing under the cpu policy.  On loopback a
 * connection's packets are processed on the client's CPU, so a client
 * pinned to CPU d puts its connection on CPU d's queue.  With
 * net.nstcp.accept_steal=1 (the default) one acceptor pinned to CPU 0
 * serves connections arriving on every CPU, each promptly, and
 * /proc/net/nstcp_listen counts them as stolen; a sleeping acceptor is
 * woken for a connection on a CPU without one, the nearest first.  With
 * accept_steal=0 an acceptor takes only its own CPU's connections: accept()
 * elsewhere fails EAGAIN (poll says nothing, a blocked accept sleeps on)
 * while on the connection's CPU it succeeds.  Runs in a network namespace
 * of its own.
 */
#include "listen_util.h"

#define NCASES		24
#define PER_CPU		10	/* connections from each CPU */
#define PROMPT_MS	2000	/* each must be served within this */

static int ncpus;

/* A connected client from CPU cpu that sent its request; -1 on failure. */
static int client_on(int cpu, int port)
{
	int fd;

	lst_pin(cpu);
	fd = lst_connect(LST_IP, port, FAM_TIMEOUT_MS);
	if (fd >= 0 && lst_request(fd))
		fam_close(&fd);
	lst_unpin();
	if (fd < 0)
		tap_diag("client on CPU %d: %s", cpu, strerror(errno));
	return fd;
}

/* accept() on CPU cpu: non-blocking, or blocking with ms of SO_RCVTIMEO. */
static int accept_on(int cpu, int lfd, int ms)
{
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = ms % 1000 * 1000 };
	int fd, e;

	lst_pin(cpu);
	if (ms) {
		setsockopt(lfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		fd = accept(lfd, NULL, NULL);
	} else {
		fd = lst_try_accept(lfd);
	}
	e = errno;
	lst_unpin();
	errno = e;
	return fd;
}

static int poll_on(int cpu, int lfd, int ms)
{
	int r;

	lst_pin(cpu);
	r = fam_wait(lfd, POLLIN, ms);
	lst_unpin();
	return r;
}

/* Whether accepted socket afd is the server side of client cfd. */
static int same_flow(int afd, int cfd)
{
	return afd >= 0 && cfd >= 0 && lst_peer_port(afd) == fam_local_port(cfd);
}

static void test_steal(void)
{
	struct lst_client cl[LST_MAXCPU];
	struct lst_acceptor ac;
	int lfd, port, ok = 0, fail = 0, each = 1, stolen = 1, first = 0;
	long long max_ms = 0;
	struct lst_port st;
	char buf[16];

	FAM_OK(!strcmp(lst_sysctl_read("accept_steal", buf, sizeof(buf)), "1"),
	       "accept_steal is 1 by default (%s)", buf);
	lfd = lst_member(LST_IP, 0, NULL, 0, &port);
	lst_acceptor_start(&ac, lfd, 0, NULL);
	for (int c = 0; c < ncpus; c++)
		lst_client_start(&cl[c], LST_IP, port, c, PER_CPU, FAM_TIMEOUT_MS,
				 NULL);
	for (int c = 0; c < ncpus; c++) {
		lst_client_join(&cl[c]);
		ok += cl[c].ok;
		fail += cl[c].fail;
		if (cl[c].max_ms > max_ms)
			max_ms = cl[c].max_ms;
		if (cl[c].fail && !first)
			first = cl[c].first_err;
	}
	lst_acceptor_stop(&ac);
	FAM_OK(ok == ncpus * PER_CPU && !fail && atomic_load(&ac.served) == ok &&
	       !atomic_load(&ac.errors),
	       "one acceptor on CPU 0 served all %d connections from %d CPUs (%d ok, %d failed: %s)",
	       ncpus * PER_CPU, ncpus, ok, fail, strerror(first));
	FAM_OK(max_ms < PROMPT_MS, "each within %d ms (slowest %lld ms)", PROMPT_MS,
	       max_ms);
	FAM_OK(!atomic_load(&ac.offcpu), "the acceptor ran on CPU 0 throughout");
	for (int c = 0; c < ncpus; c++)
		each &= atomic_load(&ac.by_cpu[c]) == PER_CPU;
	FAM_OK(each, "accepted sockets' SO_INCOMING_CPU: %d from each CPU (CPU 1: %d)",
	       PER_CPU, atomic_load(&ac.by_cpu[ncpus > 1]));
	lst_proc(port, &st);
	for (int c = 0; c < ncpus; c++)
		stolen &= st.accepted[c] == PER_CPU &&
			  st.stolen[c] == (c ? PER_CPU : 0);
	FAM_OK(st.sum_stolen > 0 && stolen,
	       "/proc/net/nstcp_listen: %ld stolen, every other CPU's %d, none of CPU 0's (%ld)",
	       st.sum_stolen, PER_CPU, st.stolen[0]);
	fam_close(&lfd);
}

/* A sleeping acceptor is woken for a CPU without one: the nearest. */
static void test_nearest(void)
{
	struct lst_acceptor a0, a2;
	int lfd, port, served;
	long long ms;

	if (ncpus < 4) {
		tap_skip("needs 4 CPUs", "the nearest sleeping acceptor is woken");
		return;
	}
	lfd = lst_member(LST_IP, 0, NULL, 0, &port);
	/* No SO_RCVTIMEO: both stay asleep in accept() until woken. */
	lst_acceptor_start_ex(&a0, lfd, 0, NULL, 0, 0);
	lst_acceptor_start_ex(&a2, lfd, 2, NULL, 0, 0);
	lst_sleep_ms(300);
	lst_pin(3);
	served = !lst_exchange(LST_IP, port, FAM_TIMEOUT_MS, &ms);
	lst_unpin();
	shutdown(lfd, SHUT_RD);		/* ends both accepts */
	lst_acceptor_stop(&a0);
	lst_acceptor_stop(&a2);
	FAM_OK(served && atomic_load(&a2.by_cpu[3]) == 1 &&
	       !atomic_load(&a0.served),
	       "a connection on CPU 3 goes to the sleeping acceptor on CPU 2, not 0 (%d, %d; %lld ms)",
	       atomic_load(&a2.served), atomic_load(&a0.served), ms);
	fam_close(&lfd);
}

struct blocked_accept {
	pthread_t tid;
	int lfd, cpu, ms, fd, err;
	atomic_int done;
};

static void *blocked_main(void *arg)
{
	struct blocked_accept *b = arg;

	b->fd = accept_on(b->cpu, b->lfd, b->ms);
	b->err = errno;
	atomic_store(&b->done, 1);
	return NULL;
}

static void test_no_steal(void)
{
	int lfd, port, c1, c2, c3, c4, fd, r;
	struct blocked_accept b = { 0 };
	struct lst_port st;
	long long t0;
	char buf[16];

	if (ncpus < 2) {
		for (int i = 0; i < 12; i++)
			tap_skip("needs 2 CPUs", "accept_steal=0");
		return;
	}
	r = lst_sysctl_write("accept_steal", "0");
	FAM_OK(!r && !strcmp(lst_sysctl_read("accept_steal", buf, sizeof(buf)), "0"),
	       "accept_steal set to 0 (%s)", buf);
	lfd = lst_member(LST_IP, 0, NULL, 0, &port);

	c1 = client_on(1, port);
	FAM_OK(lst_wait_queued(port, 1, 2000) == 1 && lst_proc(port, &st) > 0 &&
	       st.queued[1] == 1,
	       "a connection from CPU 1 is queued on CPU 1 (%ld)", st.queued[1]);
	r = poll_on(0, lfd, 200);
	FAM_OK(!(r & POLLIN), "poll on CPU 0 does not report it (%#x)", r);
	fd = accept_on(0, lfd, 0);
	FAM_OK(fd < 0 && errno == EAGAIN,
	       "non-blocking accept on CPU 0 fails EAGAIN (%s)",
	       fd < 0 ? strerror(errno) : "accepted");
	if (fd >= 0)
		close(fd);
	t0 = lst_now_ms();
	fd = accept_on(0, lfd, 300);
	t0 = lst_now_ms() - t0;
	FAM_OK(fd < 0 && errno == EAGAIN && t0 >= 250,
	       "blocking accept on CPU 0 times out EAGAIN (%s, %lld ms)",
	       fd < 0 ? strerror(errno) : "accepted", t0);
	if (fd >= 0)
		close(fd);
	r = poll_on(1, lfd, 200);
	fd = accept_on(1, lfd, 0);
	FAM_OK((r & POLLIN) && same_flow(fd, c1) && lst_incoming_cpu(fd) == 1,
	       "on CPU 1 poll reports it and accept takes it (%#x, SO_INCOMING_CPU %d)",
	       r, fd >= 0 ? lst_incoming_cpu(fd) : -1);
	fam_close(&fd);

	/* A blocked acceptor on CPU 0 sleeps through CPU 1's arrivals. */
	b.lfd = lfd;
	b.cpu = 0;
	b.ms = 4000;
	pthread_create(&b.tid, NULL, blocked_main, &b);
	lst_sleep_ms(200);
	c2 = client_on(1, port);
	lst_wait_queued(port, 1, 2000);
	lst_sleep_ms(300);
	FAM_OK(!atomic_load(&b.done),
	       "a blocked accept on CPU 0 is not woken by a connection on CPU 1");
	t0 = lst_now_ms();
	c3 = client_on(0, port);
	while (!atomic_load(&b.done) && lst_now_ms() - t0 < 5000)
		lst_sleep_ms(5);
	pthread_join(b.tid, NULL);
	FAM_OK(same_flow(b.fd, c3) && lst_now_ms() - t0 < 2000,
	       "but returns CPU 0's connection when it comes (%lld ms, %s)",
	       lst_now_ms() - t0, b.fd < 0 ? strerror(b.err) : "ok");
	if (b.fd >= 0)
		close(b.fd);
	fd = accept_on(1, lfd, 0);
	FAM_OK(same_flow(fd, c2), "CPU 1's connection waited for CPU 1 (%s)",
	       fd < 0 ? strerror(errno) : "ok");
	fam_close(&fd);
	lst_proc(port, &st);
	FAM_OK(st.sum_stolen == 0 && st.sum_accepted == 3,
	       "nothing was stolen (%ld stolen, %ld accepted)", st.sum_stolen,
	       st.sum_accepted);

	/* Stealing back on: CPU 0 takes what waits on CPU 1. */
	c4 = client_on(1, port);
	lst_wait_queued(port, 1, 2000);
	fd = accept_on(0, lfd, 0);
	FAM_OK(fd < 0 && errno == EAGAIN, "with accept_steal=0 CPU 0 cannot take it (%s)",
	       fd < 0 ? strerror(errno) : "accepted");
	fam_close(&fd);
	r = lst_sysctl_write("accept_steal", "1");
	fd = accept_on(0, lfd, 0);
	lst_proc(port, &st);
	FAM_OK(!r && same_flow(fd, c4) && st.stolen[1] == 1,
	       "with accept_steal=1 again it can (%s, %ld stolen from CPU 1)",
	       fd < 0 ? strerror(errno) : "ok", st.stolen[1]);
	fam_close(&fd);

	fam_close(&c1);
	fam_close(&c2);
	fam_close(&c3);
	fam_close(&c4);
	fam_close(&lfd);
}

struct marker {
	pthread_t tid;
	int lfd, cpu;
};

static void *marker_main(void *arg)
{
	struct marker *mk = arg;
	int fd;

	lst_pin(mk->cpu);
	fd = lst_try_accept(mk->lfd);
	if (fd >= 0)
		close(fd);
	return NULL;
}

/*
 * Another thread runs accept() once on @cpu and goes on with other work:
 * an acceptor of that CPU is running.
 */
static void acceptor_ran_on(int cpu, int lfd)
{
	struct marker mk = { .lfd = lfd, .cpu = cpu };

	if (!pthread_create(&mk.tid, NULL, marker_main, &mk))
		pthread_join(mk.tid, NULL);
}

/*
 * net.nstcp.accept_steal_delay_ms: a connection on a CPU whose acceptor is
 * running (it accepted there within the delay) is left to it for the
 * delay, then stealable, and a sleeping acceptor elsewhere is woken for it
 * then.  A CPU with no acceptor running gives its connections away at once.
 */
static void test_steal_delay(void)
{
	struct blocked_accept b = { 0 };
	int lfd, port, c1, c2, fd, r;
	long long t0, waited;
	char saved[32];

	lst_sysctl_read("accept_steal_delay_ms", saved, sizeof(saved));
	r = lst_sysctl_write("accept_steal_delay_ms", "300");
	FAM_OK(!r, "accept_steal_delay_ms set to 300");
	lfd = lst_member(LST_IP, 0, NULL, 0, &port);

	c1 = client_on(1, port);
	lst_wait_queued(port, 1, 2000);
	fd = accept_on(0, lfd, 0);
	FAM_OK(same_flow(fd, c1),
	       "no acceptor ran on CPU 1: CPU 0 takes its connection at once (%s)",
	       fd < 0 ? strerror(errno) : "ok");
	fam_close(&fd);
	fam_close(&c1);

	acceptor_ran_on(1, lfd);
	c1 = client_on(1, port);
	lst_wait_queued(port, 1, 2000);
	fd = accept_on(0, lfd, 0);
	FAM_OK(fd < 0 && errno == EAGAIN,
	       "a fresh connection on CPU 1, whose acceptor runs, is left to it for the delay (%s)",
	       fd < 0 ? strerror(errno) : "accepted");
	fam_close(&fd);
	lst_sleep_ms(450);
	fd = accept_on(0, lfd, 0);
	FAM_OK(same_flow(fd, c1), "after the delay CPU 0 steals it (%s)",
	       fd < 0 ? strerror(errno) : "ok");
	fam_close(&fd);

	b.lfd = lfd;
	b.cpu = 0;
	b.ms = 5000;
	pthread_create(&b.tid, NULL, blocked_main, &b);
	lst_sleep_ms(200);
	acceptor_ran_on(1, lfd);
	t0 = lst_now_ms();
	c2 = client_on(1, port);
	pthread_join(b.tid, NULL);
	waited = lst_now_ms() - t0;
	FAM_OK(same_flow(b.fd, c2) && waited >= 200 && waited < 3000,
	       "a blocked accept on CPU 0 is woken for it when the delay ends (%lld ms)",
	       waited);
	if (b.fd >= 0)
		close(b.fd);
	if (saved[0])
		lst_sysctl_write("accept_steal_delay_ms", saved);
	fam_close(&c1);
	fam_close(&c2);
	fam_close(&lfd);
}

int main(void)
{
	lst_private_netns();
	ncpus = lst_ncpus();
	if (ncpus > LST_MAXCPU)
		ncpus = LST_MAXCPU;
	fam_start(NCASES, 55);
	if (ncpus < 2) {
		for (int i = 0; i < NCASES; i++)
			tap_skip("needs 2 CPUs", "accept stealing");
		return fam_finish();
	}
	/* Immediate stealing first; the delay has a test of its own. */
	lst_sysctl_write("accept_steal_delay_ms", "0");
	test_steal();
	test_nearest();
	test_no_steal();
	test_steal_delay();
	return fam_finish();
}
