/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the per-CPU listening selftests (listen_*.c): a private
 * network namespace, CPU pinning, share keys and policies, the net.nstcp
 * sysctls, /proc/net/nstcp_listen, and clients with bounded waits.
 */
#ifndef NSTCP_SELFTEST_LISTEN_UTIL_H
#define NSTCP_SELFTEST_LISTEN_UTIL_H

#include <net/if.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <sys/ioctl.h>
#include <time.h>

#include "family_util.h"

#define LST_IP		"127.0.0.1"
#define LST_MAXCPU	64
#define LST_REQ		'q'	/* what a client sends */
#define LST_REPLY	'r'	/* what a server answers */

static inline long long lst_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static inline void lst_sleep_ms(int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000,
			       .tv_nsec = (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* How many CPUs this process may run on (the tests use CPUs 0 to n - 1). */
static inline int lst_ncpus(void)
{
	cpu_set_t set;

	if (sched_getaffinity(0, sizeof(set), &set))
		return 1;
	return CPU_COUNT(&set);
}

/*
 * The plan printed and the CPUs to use (at most LST_MAXCPU); 0 when there
 * are fewer than need, every case skipped (then return tap_done()).
 */
static inline int lst_plan_cpus(int plan, int need, const char *what)
{
	int n = lst_ncpus();
	char why[32];

	if (n > LST_MAXCPU)
		n = LST_MAXCPU;
	tap_plan(plan);
	if (n >= need)
		return n;
	snprintf(why, sizeof(why), "needs %d CPUs", need);
	for (int i = 0; i < plan; i++)
		tap_skip(why, "%s", what);
	return 0;
}

/* Pins the calling thread. */
static inline int lst_pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set)) {
		tap_diag("pin to CPU %d: %s", cpu, strerror(errno));
		return -1;
	}
	return 0;
}

/* Lets the calling thread run on every CPU again. */
static inline void lst_unpin(void)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	for (int c = 0; c < CPU_SETSIZE; c++)
		CPU_SET(c, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

static inline int lst_lo_up(void)
{
	struct ifreq ifr = { .ifr_name = "lo" };
	int fd = socket(AF_INET, SOCK_DGRAM, 0), err;

	if (fd < 0)
		return -1;
	err = ioctl(fd, SIOCGIFFLAGS, &ifr);
	ifr.ifr_flags |= IFF_UP;
	if (!err)
		err = ioctl(fd, SIOCSIFFLAGS, &ifr);
	close(fd);
	return err;
}

/*
 * A network namespace of the test's own, gone when the process exits: its
 * sysctls start at their defaults and its counters at zero.  Call first,
 * before any thread is made (threads inherit it).
 */
static inline int lst_private_netns(void)
{
	if (unshare(CLONE_NEWNET)) {
		printf("Bail out! unshare(CLONE_NEWNET): %s\n", strerror(errno));
		exit(1);
	}
	if (lst_lo_up()) {
		printf("Bail out! lo up: %s\n", strerror(errno));
		exit(1);
	}
	return 0;
}

/* net.nstcp.NAME of the calling thread's namespace; 0 or the errno. */
static inline int lst_sysctl_write(const char *name, const char *val)
{
	return proc_nstcp_sysctl_write(name, val);
}

/* Its value without the newline; "" if unreadable. */
static inline const char *lst_sysctl_read(const char *name, char *buf,
					  size_t len)
{
	char path[128];
	ssize_t n = -1;
	int fd;

	snprintf(path, sizeof(path), "/proc/sys/net/nstcp/%s", name);
	fd = open(path, O_RDONLY);
	if (fd >= 0) {
		n = read(fd, buf, len - 1);
		close(fd);
	}
	buf[n > 0 ? n : 0] = 0;
	if (n > 0 && buf[n - 1] == '\n')
		buf[n - 1] = 0;
	return buf;
}

/* Number of possible CPUs as the kernel counts them (highest + 1). */
static inline int lst_possible_cpus(void)
{
	char buf[128], *p;
	int fd = open("/sys/devices/system/cpu/possible", O_RDONLY), hi = -1;
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	for (p = buf; *p;) {
		long v = strtol(p, &p, 10);

		if (v > hi)
			hi = v;
		if (*p == '-' || *p == ',')
			p++;
		else
			break;
	}
	return hi + 1;
}

static inline int lst_set_key(int fd, const char *key)
{
	return setsockopt(fd, SOL_NSTCP, NSTCP_SHARE_KEY, key, strlen(key));
}

static inline int lst_policy(int fd)
{
	int p;

	return fam_getint(fd, SOL_NSTCP, NSTCP_POLICY, &p) ? -1 : p;
}

/*
 * An AF_NSTCP listening socket on ip:port (port 0: ephemeral, returned in
 * *portp), with a share key unless key is NULL and a policy unless policy
 * is 0.  Returns -1 with errno set, and *step naming the failed call when
 * step is given.
 */
static inline int lst_member_ex(const char *ip, int port, const char *key,
				int policy, int *portp, const char **step)
{
	struct fam_addr a = fam_addr(ip, port);
	const char *dummy;
	int fd, e;

	if (!step)
		step = &dummy;
	*step = "socket";
	fd = fam_socket(AF_NSTCP, 0);
	if (fd < 0)
		return -1;
	*step = "NSTCP_SHARE_KEY";
	if (key && lst_set_key(fd, key))
		goto fail;
	*step = "NSTCP_POLICY";
	if (policy && fam_setint(fd, SOL_NSTCP, NSTCP_POLICY, policy))
		goto fail;
	*step = "bind";
	if (bind(fd, &a.sa, a.len))
		goto fail;
	*step = "listen";
	if (listen(fd, 128))
		goto fail;
	if (portp)
		*portp = fam_local_port(fd);
	return fd;
fail:
	e = errno;
	close(fd);
	errno = e;
	return -1;
}

/* The same, with a diagnostic on failure. */
static inline int lst_member(const char *ip, int port, const char *key,
			     int policy, int *portp)
{
	const char *step;
	int fd = lst_member_ex(ip, port, key, policy, portp, &step);

	if (fd < 0)
		tap_diag("member on %s port %d key %s: %s: %s", ip, port,
			 key ? key : "-", step, strerror(errno));
	return fd;
}

/*
 * The listening rows of one port, one per CPU (read over netlink by
 * proc_util.h), summed and per CPU.
 */
struct lst_port {
	int rows;			/* 0: port not listed; -1: unreadable */
	char key[24], policy[16];
	int listeners;
	long queued[LST_MAXCPU], accepted[LST_MAXCPU], stolen[LST_MAXCPU];
	long migrated;
	long owner;			/* owner column; -2: the rows differ */
	long sum_queued, sum_accepted, sum_stolen;
};

static inline int lst_proc(int port, struct lst_port *p)
{
	struct proc_listen_row rows[LST_MAXCPU * 4];
	int n;

	memset(p, 0, sizeof(*p));
	p->rows = -1;
	n = proc_read_listen(port, rows, LST_MAXCPU * 4);
	if (n < 0)
		return -1;
	for (int i = 0; i < n; i++) {
		long cpu = rows[i].cpu;

		if (cpu < 0 || cpu >= LST_MAXCPU)
			return -1;
		snprintf(p->key, sizeof(p->key), "%s", rows[i].key);
		snprintf(p->policy, sizeof(p->policy), "%s", rows[i].policy);
		p->listeners = rows[i].listeners;
		p->queued[cpu] = rows[i].queued;
		p->accepted[cpu] = rows[i].accepted;
		p->stolen[cpu] = rows[i].stolen;
		p->migrated = rows[i].migrated;
		/* Every row has the same owner, or -2. */
		p->owner = !i || p->owner == rows[i].owner ? rows[i].owner : -2;
		p->sum_queued += rows[i].queued;
		p->sum_accepted += rows[i].accepted;
		p->sum_stolen += rows[i].stolen;
	}
	p->rows = n;
	return n;
}

/* Waits up to ms for the port's queued connections to reach want. */
static inline long lst_wait_queued(int port, long want, int ms)
{
	long long end = lst_now_ms() + ms;
	struct lst_port p;

	for (;;) {
		lst_proc(port, &p);
		if (p.sum_queued >= want || lst_now_ms() > end)
			return p.sum_queued;
		lst_sleep_ms(10);
	}
}

/*
 * A connected AF_INET client of ip:port with ms timeouts; -1 with errno
 * on failure (no diagnostic: callers expect some failures).
 */
static inline int lst_connect(const char *ip, int port, int ms)
{
	struct fam_addr a = fam_addr(ip, port);
	int fd = socket(a.sa.sa_family, SOCK_STREAM, 0), e;

	if (fd < 0)
		return -1;
	if (fam_timeouts(fd, ms) || connect(fd, &a.sa, a.len)) {
		e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* The request: one byte out.  0 or -1. */
static inline int lst_request(int fd)
{
	char c = LST_REQ;

	return send(fd, &c, 1, MSG_NOSIGNAL) == 1 ? 0 : -1;
}

/*
 * The reply: 0 when it came, else the errno (ETIMEDOUT for a timeout, EPIPE
 * for an EOF, EPROTO for a wrong byte).
 */
static inline int lst_reply(int fd)
{
	ssize_t n;
	char c;

	n = recv(fd, &c, 1, 0);
	if (n == 1)
		return c == LST_REPLY ? 0 : EPROTO;
	if (n == 0)
		return EPIPE;
	if (errno == EAGAIN || errno == EWOULDBLOCK)
		return ETIMEDOUT;
	return errno;
}

/* The peer port of an accepted socket: the client's local port. */
static inline int lst_peer_port(int fd)
{
	struct fam_addr a = { .len = sizeof(a.ss) };

	if (getpeername(fd, &a.sa, &a.len))
		return -1;
	return fam_port(&a.sa);
}

static inline int lst_incoming_cpu(int fd)
{
	int cpu;

	return fam_getint(fd, SOL_SOCKET, SO_INCOMING_CPU, &cpu) ? -1 : cpu;
}

/* One non-blocking accept on a blocking listener: the fd, or -1 and errno. */
static inline int lst_try_accept(int lfd)
{
	int fl = fcntl(lfd, F_GETFL), fd, e;

	fcntl(lfd, F_SETFL, fl | O_NONBLOCK);
	fd = accept(lfd, NULL, NULL);
	e = errno;
	fcntl(lfd, F_SETFL, fl);
	errno = e;
	return fd;
}

/*
 * An acceptor thread on one listening socket: blocking accept(), then read
 * the request, note the accepted socket's SO_INCOMING_CPU, answer and close
 * -- itself, or with handoff in a worker thread pinned to the same CPU, so
 * that the acceptor is back in accept() at once.  accept() wakes every
 * timeout_ms (0: never) to look at stop; it ends when told to stop or when
 * accept() fails otherwise (EINVAL after shutdown).
 */
struct lst_acceptor {
	pthread_t tid, worker;
	int lfd;
	int cpu;			/* pinned here; -1: not pinned */
	int timeout_ms;
	int pipe[2];			/* to the worker, with handoff */
	atomic_int stop;
	atomic_int served;		/* requests answered */
	atomic_int errors;		/* accepted, but the exchange failed */
	atomic_int local;		/* ... with SO_INCOMING_CPU == cpu */
	atomic_int offcpu;		/* ... while running elsewhere than cpu */
	atomic_int by_cpu[LST_MAXCPU];	/* ... by SO_INCOMING_CPU */
	atomic_int *total;		/* shared count of served, or NULL */
	int exit_err;			/* the errno that ended it */
};

static void lst_acceptor_serve(struct lst_acceptor *ac, int afd)
{
	int icpu;
	char c;

	if (fam_timeouts(afd, FAM_TIMEOUT_MS) || recv(afd, &c, 1, 0) != 1 ||
	    c != LST_REQ) {
		atomic_fetch_add(&ac->errors, 1);
		close(afd);
		return;
	}
	icpu = lst_incoming_cpu(afd);
	if (icpu >= 0 && icpu < LST_MAXCPU)
		atomic_fetch_add(&ac->by_cpu[icpu], 1);
	if (icpu == ac->cpu)
		atomic_fetch_add(&ac->local, 1);
	c = LST_REPLY;
	if (send(afd, &c, 1, MSG_NOSIGNAL) != 1)
		atomic_fetch_add(&ac->errors, 1);
	else
		atomic_fetch_add(&ac->served, 1);
	close(afd);
	if (ac->total)
		atomic_fetch_add(ac->total, 1);
}

static void *lst_worker_main(void *arg)
{
	struct lst_acceptor *ac = arg;
	int afd;

	if (ac->cpu >= 0)
		lst_pin(ac->cpu);
	while (read(ac->pipe[0], &afd, sizeof(afd)) == sizeof(afd))
		lst_acceptor_serve(ac, afd);
	return NULL;
}

static void *lst_acceptor_main(void *arg)
{
	struct lst_acceptor *ac = arg;
	struct timeval tv = { .tv_sec = ac->timeout_ms / 1000,
			      .tv_usec = ac->timeout_ms % 1000 * 1000 };

	if (ac->cpu >= 0)
		lst_pin(ac->cpu);
	setsockopt(ac->lfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	while (!atomic_load(&ac->stop)) {
		int afd = accept(ac->lfd, NULL, NULL);

		if (afd < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			ac->exit_err = errno;
			break;
		}
		if (ac->cpu >= 0 && sched_getcpu() != ac->cpu)
			atomic_fetch_add(&ac->offcpu, 1);
		if (ac->pipe[1] < 0 ||
		    write(ac->pipe[1], &afd, sizeof(afd)) != sizeof(afd))
			lst_acceptor_serve(ac, afd);
	}
	return NULL;
}

static inline int lst_acceptor_start_ex(struct lst_acceptor *ac, int lfd,
					int cpu, atomic_int *total,
					int timeout_ms, int handoff)
{
	memset(ac, 0, sizeof(*ac));
	ac->lfd = lfd;
	ac->cpu = cpu;
	ac->total = total;
	ac->timeout_ms = timeout_ms;
	ac->pipe[0] = ac->pipe[1] = -1;
	if (handoff && (pipe(ac->pipe) ||
			pthread_create(&ac->worker, NULL, lst_worker_main, ac))) {
		tap_diag("worker: %s", strerror(errno));
		return -1;
	}
	if (pthread_create(&ac->tid, NULL, lst_acceptor_main, ac)) {
		tap_diag("pthread_create: %s", strerror(errno));
		ac->tid = 0;
		return -1;
	}
	return 0;
}

static inline int lst_acceptor_start(struct lst_acceptor *ac, int lfd, int cpu,
				     atomic_int *total)
{
	return lst_acceptor_start_ex(ac, lfd, cpu, total, 200, 0);
}

/*
 * Tells it to stop and waits for it (at most timeout_ms plus a serve; with
 * no timeout, shut the listener down first), and for its worker.
 */
static inline void lst_acceptor_stop(struct lst_acceptor *ac)
{
	atomic_store(&ac->stop, 1);
	if (ac->tid)
		pthread_join(ac->tid, NULL);
	ac->tid = 0;
	if (ac->pipe[1] >= 0) {
		close(ac->pipe[1]);
		pthread_join(ac->worker, NULL);
		close(ac->pipe[0]);
		ac->pipe[0] = ac->pipe[1] = -1;
	}
}

/*
 * A client of ip:port: connect, request, reply; 0 or the errno of the step
 * that failed.  *ms gets the time it took.
 */
static inline int lst_exchange(const char *ip, int port, int timeout_ms,
			       long long *ms)
{
	long long t0 = lst_now_ms();
	int fd = lst_connect(ip, port, timeout_ms), err;

	if (fd < 0)
		err = errno;
	else if (lst_request(fd))
		err = errno;
	else
		err = lst_reply(fd);
	if (fd >= 0)
		close(fd);
	if (ms)
		*ms = lst_now_ms() - t0;
	return err;
}

/*
 * A client thread, pinned to cpu (-1: not pinned), making count exchanges
 * (count 0: until *stop), one at a time, and counting how they ended; in
 * the network namespace netns when that is set (a descriptor > 0).
 */
struct lst_client {
	pthread_t tid;
	const char *ip;
	int port, cpu, count, timeout_ms, netns;
	atomic_int *stop;
	int ok, fail;
	int resets, refused, timeouts;	/* ... of the failures */
	int first_err;
	long long max_ms;
};

static void *lst_client_main(void *arg)
{
	struct lst_client *cl = arg;

	if (cl->netns > 0 && setns(cl->netns, CLONE_NEWNET)) {
		cl->fail = cl->count ? cl->count : 1;
		cl->first_err = errno;
		return NULL;
	}
	if (cl->cpu >= 0)
		lst_pin(cl->cpu);
	for (int i = 0; cl->count ? i < cl->count : !atomic_load(cl->stop); i++) {
		long long ms;
		int err = lst_exchange(cl->ip, cl->port, cl->timeout_ms, &ms);

		if (ms > cl->max_ms)
			cl->max_ms = ms;
		if (!err) {
			cl->ok++;
			continue;
		}
		cl->fail++;
		if (!cl->first_err)
			cl->first_err = err;
		if (err == ECONNRESET || err == EPIPE)
			cl->resets++;
		else if (err == ECONNREFUSED)
			cl->refused++;
		else if (err == ETIMEDOUT || err == EAGAIN)
			cl->timeouts++;
	}
	return NULL;
}

static inline int lst_client_start_in(struct lst_client *cl, int netns,
				      const char *ip, int port, int cpu,
				      int count, int timeout_ms, atomic_int *stop)
{
	memset(cl, 0, sizeof(*cl));
	cl->netns = netns;
	cl->ip = ip;
	cl->port = port;
	cl->cpu = cpu;
	cl->count = count;
	cl->timeout_ms = timeout_ms;
	cl->stop = stop;
	if (pthread_create(&cl->tid, NULL, lst_client_main, cl)) {
		tap_diag("pthread_create: %s", strerror(errno));
		cl->tid = 0;
		cl->fail = count ? count : 1;
		return -1;
	}
	return 0;
}

static inline int lst_client_start(struct lst_client *cl, const char *ip,
				   int port, int cpu, int count,
				   int timeout_ms, atomic_int *stop)
{
	return lst_client_start_in(cl, 0, ip, port, cpu, count, timeout_ms,
				   stop);
}

static inline void lst_client_join(struct lst_client *cl)
{
	if (cl->tid)
		pthread_join(cl->tid, NULL);
	cl->tid = 0;
}

/*
 * n client threads in netns (0: this one), not pinned, making total
 * exchanges with ip:port between them; joined, their counts summed into
 * *sum (ok, fail and its kinds, the first error, the slowest exchange).
 */
static inline void lst_clients_run(struct lst_client *cl, int n, int netns,
				   const char *ip, int port, int total,
				   int timeout_ms, struct lst_client *sum)
{
	memset(sum, 0, sizeof(*sum));
	for (int t = 0; t < n; t++)
		lst_client_start_in(&cl[t], netns, ip, port, -1,
				    total / n + (t < total % n), timeout_ms,
				    NULL);
	for (int t = 0; t < n; t++) {
		lst_client_join(&cl[t]);
		sum->ok += cl[t].ok;
		sum->fail += cl[t].fail;
		sum->resets += cl[t].resets;
		sum->refused += cl[t].refused;
		sum->timeouts += cl[t].timeouts;
		if (cl[t].max_ms > sum->max_ms)
			sum->max_ms = cl[t].max_ms;
		if (!sum->first_err)
			sum->first_err = cl[t].first_err;
	}
}

/* All listening rows, one per port and CPU (any port); -1 if unreadable. */
static inline int lst_proc_rows(void)
{
	static struct proc_listen_row rows[LST_MAXCPU * 64];

	return proc_read_listen(-1, rows, LST_MAXCPU * 64);
}

/* Waits up to ms for the port to be listed no more; its rows. */
static inline int lst_wait_unlisted(int port, int ms)
{
	long long end = lst_now_ms() + ms;
	struct lst_port p;

	while (lst_proc(port, &p) != 0 && lst_now_ms() < end)
		lst_sleep_ms(20);
	return p.rows;
}

/*
 * A TCP port of ip that is free now (bound and released at once), for
 * tests that must bind one explicitly; -1 on failure.
 */
static inline int lst_free_port(const char *ip)
{
	struct fam_addr a = fam_addr(ip, 0);
	int fd = socket(a.sa.sa_family, SOCK_STREAM, 0), port = -1;

	if (fd < 0)
		return -1;
	if (!bind(fd, &a.sa, a.len))
		port = fam_local_port(fd);
	close(fd);
	return port;
}

/* A plain listener of family domain on ip:port with SO_REUSEADDR; -1/errno. */
static inline int lst_listen_on(int domain, const char *ip, int port,
				int backlog)
{
	struct fam_addr a = fam_addr(ip, port);
	int fd = fam_socket(domain, 0), one = 1, e;

	if (fd < 0)
		return -1;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(fd, &a.sa, a.len) || listen(fd, backlog)) {
		e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* The family's name for messages. */
static inline const char *lst_fam(int domain)
{
	return domain == AF_NSTCP ? "AF_NSTCP" : domain == AF_INET ? "AF_INET" :
	       domain == AF_INET6 ? "AF_INET6" : "?";
}

#endif
