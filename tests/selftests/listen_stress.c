// SPDX-License-Identifier: GPL-2.0
/*
 * Selftest: random socket operations, as a fuzzer would make them.  Several
 * processes, each with several threads, share a table of descriptors per
 * process and do random operations on random entries for
 * NSTCP_STRESS_SECONDS (default 20): socket() of AF_NSTCP or AF_INET,
 * bind() to one of three shared ports with or without a share key,
 * listen(), accept() (non-blocking, or blocking with SO_RCVTIMEO),
 * connect(), setsockopt() (SOL_NSTCP key and policy, common SOL_SOCKET and
 * SOL_TCP options), send/recv, poll, shutdown(), close(), and fork() (the
 * child goes on with the inherited descriptors for a while).  Every blocking
 * call is bounded by SO_RCVTIMEO/SO_SNDTIMEO.
 *
 * Checks: every process exits normally, the parent leaks no descriptor,
 * the three ports leave /proc/net/nstcp_listen once everything is closed,
 * and every AF_NSTCP socket was released.  The runner checks the kernel
 * log (and kmemleak on the debug kernel) and that the module unloads.
 * Runs in a network namespace of its own.
 */
#include <sys/mman.h>
#include <sys/wait.h>
#include <linux/filter.h>

#include "listen_util.h"

#define NPROC		4
#define NTHREAD		3
#define NSLOT		40
#define NPORT		3
#define OP_MS		200	/* every blocking call's bound */
#define NCASES		5

static const int ports[NPORT] = { 40001, 40002, 40003 };
static int seconds = 20;

enum { ST_OPS, ST_SOCKET, ST_BIND, ST_LISTEN, ST_ACCEPT, ST_CONNECT,
       ST_SETOPT, ST_FORK, ST_N };

static const char *const st_names[ST_N] = { "ops", "socket", "bind",
	"listen", "accept", "connect", "setsockopt", "fork" };

/* Shared with the parent: successful calls by family (0 INET, 1 NSTCP). */
struct shared {
	atomic_long st[2][ST_N];
};

static struct shared *shm;
static atomic_int slot[NSLOT];	/* descriptor, -1 empty */
static atomic_int slot_fam[NSLOT];
static long long end_ms;

static unsigned int rnd(unsigned int *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

/* slot_fam holds the socket's domain: AF_NSTCP, AF_INET or AF_INET6. */
static int fidx(int fam)
{
	return fam == AF_NSTCP;
}

static void count(int fam, int what)
{
	atomic_fetch_add(&shm->st[fidx(fam)][what], 1);
}

static void set_timeouts(int fd)
{
	struct timeval tv = { .tv_usec = OP_MS * 1000 };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

/* Puts fd into a slot, closing what was there. */
static void put(int i, int fd, int fam)
{
	int old;

	set_timeouts(fd);
	atomic_store(&slot_fam[i], fam);
	old = atomic_exchange(&slot[i], fd);
	if (old >= 0)
		close(old);
}

/* An address for a socket of domain: mostly one it can use. */
static struct fam_addr addr(unsigned int *s, int domain, int port)
{
	static const char *const ips[] = { "127.0.0.1", "0.0.0.0", "::1",
					    "::", "::ffff:127.0.0.1" };
	int i = rnd(s) % 5;

	if (domain == AF_INET && rnd(s) % 8)
		i = rnd(s) % 2;
	else if (domain == AF_INET6 && rnd(s) % 8)
		i = 2 + rnd(s) % 3;
	return fam_addr(ips[i], port);
}

static void do_setopt(unsigned int *s, int fd, int fam)
{
	static const char *const keys[] = { "k1", "k2", "", "toolongkey",
					    "bad-key" };
	static const char *const cc[] = { "reno", "cubic", "nosuchcc" };
	struct sock_filter code[] = { BPF_STMT(BPF_RET | BPF_K, 0xffffffff) };
	struct sock_fprog prog = { .len = 1, .filter = code };
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	int v = rnd(s) % 5, r = -1;
	const char *k;

	switch (rnd(s) % 18) {
	case 0:
	case 1:
		k = keys[rnd(s) % 5];
		r = setsockopt(fd, SOL_NSTCP, NSTCP_SHARE_KEY, k, strlen(k));
		break;
	case 2:
	case 3:
		r = fam_setint(fd, SOL_NSTCP, NSTCP_POLICY, v);
		break;
	case 4:
		r = fam_setint(fd, SOL_SOCKET, SO_REUSEADDR, v & 1);
		break;
	case 5:
		r = fam_setint(fd, SOL_SOCKET, SO_REUSEPORT, v & 1);
		break;
	case 6:
		r = fam_setint(fd, SOL_SOCKET, rnd(s) & 1 ? SO_RCVBUF : SO_SNDBUF,
			       4096 << v);
		break;
	case 7:
		r = fam_setint(fd, SOL_SOCKET, SO_KEEPALIVE, v & 1);
		break;
	case 8:
		lg.l_onoff = v & 1;
		r = setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		break;
	case 9:
		r = fam_setint(fd, SOL_SOCKET, SO_INCOMING_CPU, v - 1);
		break;
	case 10:
		r = fam_setint(fd, SOL_TCP, TCP_NODELAY, v & 1);
		break;
	case 11:
		r = fam_setint(fd, SOL_TCP, TCP_DEFER_ACCEPT, v);
		break;
	case 12:
		r = fam_setint(fd, SOL_TCP, TCP_FASTOPEN, v * 4);
		break;
	case 13:
		r = fam_setint(fd, SOL_TCP, TCP_MAXSEG, 536 + v * 200);
		break;
	case 14:
		r = fam_setint(fd, SOL_TCP, TCP_USER_TIMEOUT, v * 100);
		break;
	case 15:
		k = cc[rnd(s) % 3];
		r = setsockopt(fd, SOL_TCP, TCP_CONGESTION, k, strlen(k));
		break;
	case 16:
		if (v & 1)
			r = setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog,
				       sizeof(prog));
		else
			r = setsockopt(fd, SOL_SOCKET, SO_DETACH_FILTER, &v,
				       sizeof(v));
		break;
	case 17: {
		char buf[64];
		socklen_t len = sizeof(buf);
		static const int opts[][2] = {
			{ SOL_NSTCP, NSTCP_SHARE_KEY }, { SOL_NSTCP, NSTCP_POLICY },
			{ SOL_NSTCP, NSTCP_INFO }, { SOL_NSTCP, NSTCP_HOME_CPU },
			{ SOL_SOCKET, SO_ACCEPTCONN }, { SOL_TCP, TCP_INFO },
		};
		int o = rnd(s) % 6;

		r = getsockopt(fd, opts[o][0], opts[o][1], buf, &len);
		break;
	}
	}
	if (!r)
		count(fam, ST_SETOPT);
}

static void one_op(unsigned int *s, int forked)
{
	int i = rnd(s) % NSLOT, fd = atomic_load(&slot[i]);
	int fam = atomic_load(&slot_fam[i]), port = ports[rnd(s) % NPORT];
	struct fam_addr a;
	char buf[256];

	switch (rnd(s) % 16) {
	case 0:
	case 1:		/* socket, maybe with a key, bound and listening */
		if (fd >= 0 && rnd(s) % 4)
			return;	/* mostly into an empty slot */
		fam = rnd(s) % 3 ? AF_NSTCP : rnd(s) % 4 ? AF_INET : AF_INET6;
		fd = socket(fam, SOCK_STREAM, 0);
		if (fd < 0)
			return;
		count(fam, ST_SOCKET);
		if (fam == AF_NSTCP && rnd(s) % 2)
			lst_set_key(fd, rnd(s) % 4 ? "k1" : "k2");
		if (rnd(s) % 2)
			fam_setint(fd, SOL_SOCKET, SO_REUSEADDR, 1);
		if (fam != AF_NSTCP && rnd(s) % 2)
			fam_setint(fd, SOL_SOCKET, SO_REUSEPORT, 1);
		if (rnd(s) % 2) {
			a = addr(s, fam, port);
			if (!bind(fd, &a.sa, a.len)) {
				count(fam, ST_BIND);
				if (rnd(s) % 2 && !listen(fd, 16))
					count(fam, ST_LISTEN);
			}
		}
		put(i, fd, fam);
		return;
	case 2:
		if (fd < 0)
			return;
		a = addr(s, fam, rnd(s) % 8 ? port : 0);
		if (!bind(fd, &a.sa, a.len))
			count(fam, ST_BIND);
		return;
	case 3:
	case 4:
		if (fd >= 0 && !listen(fd, rnd(s) % 3 ? 16 : rnd(s) % 200))
			count(fam, ST_LISTEN);
		return;
	case 5:
	case 6: {	/* accept, blocking or not */
		int nfd, fl = rnd(s) % 2 ? SOCK_NONBLOCK : 0;

		if (fd < 0)
			return;
		nfd = accept4(fd, NULL, NULL, fl);
		if (nfd < 0)
			return;
		count(fam, ST_ACCEPT);
		if (rnd(s) % 2 && recv(nfd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
			send(nfd, buf, 1, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (rnd(s) % 3)
			close(nfd);
		else
			put(rnd(s) % NSLOT, nfd, fam);
		return;
	}
	case 7:
	case 8:
		if (fd < 0)
			return;
		a = addr(s, fam, port);
		if (!connect(fd, &a.sa, a.len)) {
			count(fam, ST_CONNECT);
			send(fd, "q", 1, MSG_DONTWAIT | MSG_NOSIGNAL);
		}
		return;
	case 9:
	case 10:
		if (fd >= 0)
			do_setopt(s, fd, fam);
		return;
	case 11:
		if (fd >= 0)
			shutdown(fd, rnd(s) % 3);
		return;
	case 12: {
		int old = atomic_exchange(&slot[i], -1);

		if (old >= 0)
			close(old);
		return;
	}
	case 13: {
		struct pollfd p = { .fd = fd, .events = POLLIN | POLLOUT };

		if (fd >= 0)
			poll(&p, 1, rnd(s) % 50);
		if (fd >= 0 && recv(fd, buf, sizeof(buf), MSG_DONTWAIT) < 0)
			send(fd, buf, 16, MSG_DONTWAIT | MSG_NOSIGNAL);
		return;
	}
	case 14:
		if (fd >= 0)
			getsockname(fd, (struct sockaddr *)buf,
				    &(socklen_t){ sizeof(buf) });
		return;
	case 15: {	/* fork: the child goes on with what it inherited */
		pid_t pid;
		int st;

		if (forked || rnd(s) % 8)
			return;
		pid = fork();
		if (pid == 0) {
			unsigned int cs = *s ^ 0x9e3779b9;

			for (int k = 0; k < 30 && lst_now_ms() < end_ms; k++)
				one_op(&cs, 1);
			_exit(0);
		}
		if (pid > 0) {
			count(fam, ST_FORK);
			waitpid(pid, &st, 0);
		}
		return;
	}
	}
}

static void *worker(void *arg)
{
	unsigned int s = (unsigned int)(uintptr_t)arg;

	while (lst_now_ms() < end_ms) {
		one_op(&s, 0);
		atomic_fetch_add(&shm->st[0][ST_OPS], 1);
	}
	return NULL;
}

static int proc_main(int n)
{
	pthread_t tid[NTHREAD];

	for (int i = 0; i < NSLOT; i++)
		atomic_store(&slot[i], -1);
	for (int t = 0; t < NTHREAD; t++)
		if (pthread_create(&tid[t], NULL, worker,
				   (void *)(uintptr_t)(n * 7919 + t * 104729 + 1)))
			return 1;
	for (int t = 0; t < NTHREAD; t++)
		pthread_join(tid[t], NULL);
	for (int i = 0; i < NSLOT; i++) {
		int fd = atomic_exchange(&slot[i], -1);

		if (fd >= 0)
			close(fd);
	}
	return 0;
}

int main(void)
{
	const char *env = getenv("NSTCP_STRESS_SECONDS");
	int fds0, normal = 0, left = 0, rows;
	pid_t pid[NPROC];
	long long t0;
	char line[512] = "";

	if (env && atoi(env) > 0)
		seconds = atoi(env);
	lst_private_netns();
	shm = mmap(NULL, sizeof(*shm), PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (shm == MAP_FAILED) {
		printf("Bail out! mmap: %s\n", strerror(errno));
		return 1;
	}
	memset(shm, 0, sizeof(*shm));
	fam_start(NCASES, seconds + 60);
	fds0 = fam_count_fds();
	tap_diag("%d processes x %d threads for %d s on ports %d-%d",
		 NPROC, NTHREAD, seconds, ports[0], ports[NPORT - 1]);
	end_ms = lst_now_ms() + seconds * 1000LL;
	for (int p = 0; p < NPROC; p++) {
		pid[p] = fork();
		if (pid[p] == 0)
			_exit(proc_main(p));
	}
	/* Bounded: each op ends within about OP_MS (a fork's child: 30 ops). */
	t0 = lst_now_ms();
	for (int p = 0; p < NPROC; p++) {
		int st = -1;

		if (pid[p] < 0)
			continue;
		while (waitpid(pid[p], &st, WNOHANG) == 0) {
			if (lst_now_ms() > end_ms + 30000) {
				tap_diag("process %d still running: killed", p);
				kill(pid[p], SIGKILL);
				waitpid(pid[p], &st, 0);
				break;
			}
			lst_sleep_ms(50);
		}
		if (WIFEXITED(st) && !WEXITSTATUS(st))
			normal++;
		else
			tap_diag("process %d: status %#x", p, st);
	}
	FAM_OK(normal == NPROC, "%d of %d processes exited normally (%lld ms after the start of the wait)",
	       normal, NPROC, lst_now_ms() - t0);
	for (int f = 0; f < 2; f++) {
		int len = 0;

		for (int w = 1; w < ST_N; w++)
			len += snprintf(line + len, sizeof(line) - len, " %s %ld",
					st_names[w], atomic_load(&shm->st[f][w]));
		tap_diag("%s:%s", f ? "AF_NSTCP" : "AF_INET", line);
	}
	tap_diag("%ld operations", atomic_load(&shm->st[0][ST_OPS]));
	FAM_OK(atomic_load(&shm->st[1][ST_LISTEN]) > 0 &&
	       atomic_load(&shm->st[1][ST_ACCEPT]) > 0 &&
	       atomic_load(&shm->st[1][ST_CONNECT]) > 0,
	       "AF_NSTCP sockets listened, accepted and connected (%ld, %ld, %ld)",
	       atomic_load(&shm->st[1][ST_LISTEN]),
	       atomic_load(&shm->st[1][ST_ACCEPT]),
	       atomic_load(&shm->st[1][ST_CONNECT]));
	FAM_OK(atomic_load(&shm->st[0][ST_LISTEN]) > 0 &&
	       atomic_load(&shm->st[0][ST_CONNECT]) > 0,
	       "AF_INET sockets listened and connected beside them (%ld, %ld)",
	       atomic_load(&shm->st[0][ST_LISTEN]),
	       atomic_load(&shm->st[0][ST_CONNECT]));
	for (int p = 0; p < NPORT; p++)
		left += lst_wait_unlisted(ports[p], 5000) != 0;
	rows = lst_proc_rows();
	FAM_OK(!left && rows == 0,
	       "no group is left in /proc/net/nstcp_listen (%d ports still listed, %d rows)",
	       left, rows);
	munmap(shm, sizeof(*shm));
	FAM_OK(fam_count_fds() == fds0, "the parent holds no new descriptor (%d, %d before)",
	       fam_count_fds(), fds0);
	{
		/* The sockets' release is counted once their last close ran. */
		struct fam_stats st;
		long long end = lst_now_ms() + 5000;

		do {
			fam_read_stats(&st);
			if (st.v[FAM_SOCKETS] - fam_stats_at_start.v[FAM_SOCKETS] ==
			    st.v[FAM_CLOSES] - fam_stats_at_start.v[FAM_CLOSES])
				break;
			lst_sleep_ms(50);
		} while (lst_now_ms() < end);
	}
	return fam_finish() ? 1 : (tap_failed ? 1 : 0);
}
