/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the AF_NSTCP family selftests (family_*.c): loopback
 * addresses, connected pairs with timeouts, a watchdog, the /proc/net/nstcp
 * counters and the end-of-test leak checks.
 */
#ifndef NSTCP_SELFTEST_FAMILY_UTIL_H
#define NSTCP_SELFTEST_FAMILY_UTIL_H

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/types.h>	/* nstcp.h does not include it */
#include <linux/nstcp.h>

#include "tap.h"
#include "proc_util.h"

#define FAM_TIMEOUT_MS	5000	/* longest wait for something that must come */
#define FAM_QUIET_MS	200	/* how long to wait for something that must not */

enum { FAM_SOCKETS = PROC_SOCKETS, FAM_CLOSES = PROC_CLOSES,
       FAM_ACCEPTS = PROC_ACCEPTS, FAM_CONNECTS = PROC_CONNECTS,
       FAM_CALLS = PROC_CALLS, FAM_HOPS = PROC_HOPS, FAM_NSTATS = PROC_NSTATS };

struct fam_stats {
	unsigned long v[FAM_NSTATS];	/* summed over the CPU rows */
	int rows;			/* -1 if the file is unreadable */
};

static int fam_fds_at_start, fam_planned;
static struct fam_stats fam_stats_at_start;

static void fam_watchdog(int sig)
{
	static const char msg[] = "Bail out! watchdog: test took too long\n";

	(void)sig;
	if (write(STDOUT_FILENO, msg, sizeof(msg) - 1) < 0)
		_exit(2);
	_exit(2);
}

/* An epoll instance watching @fd for @events; -1 on failure. */
static inline int fam_epoll_for(int fd, uint32_t events)
{
	struct epoll_event e = { .events = events, .data.fd = fd };
	int ep = epoll_create1(EPOLL_CLOEXEC);

	if (ep >= 0 && epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e)) {
		close(ep);
		return -1;
	}
	return ep;
}

static inline int fam_count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1;	/* the directory's own descriptor */
}

/* The sums of /proc/net/nstcp (of the calling thread's namespace). */
static inline void fam_read_stats(struct fam_stats *st)
{
	struct proc_stats ps;

	proc_read_stats(&ps);
	memcpy(st->v, ps.sum, sizeof(st->v));
	st->rows = ps.rows;
}

/* Watchdog, SIGPIPE ignored, and the baselines of the leak checks. */
static inline void fam_arm(int seconds)
{
	signal(SIGALRM, fam_watchdog);
	signal(SIGPIPE, SIG_IGN);
	alarm(seconds);
	fam_fds_at_start = fam_count_fds();
	fam_read_stats(&fam_stats_at_start);
}

/* Plan, watchdog, SIGPIPE ignored, and the baselines of the leak checks. */
static inline void fam_start(int plan, int seconds)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	fam_planned = plan;
	tap_plan(plan + 3);	/* + the three checks of fam_finish() */
	fam_arm(seconds);
}

/*
 * fam_start() in a child whose parent printed the plan: cases more to run
 * before fam_finish()'s three.
 */
static inline void fam_start_child(int cases, int seconds)
{
	fam_planned = tap_n + cases;
	fam_arm(seconds);
}

/*
 * Every planned case ran, every descriptor opened was closed, and every
 * AF_NSTCP socket created or accepted since fam_start() was released (the
 * counters balance).
 */
static inline int fam_finish(void)
{
	struct fam_stats st;
	long made, closed;
	int fds = fam_count_fds(), ran = tap_n;

	tap_ok(ran == fam_planned, "all %d planned cases ran (%d)", fam_planned,
	       ran);
	tap_ok(fds == fam_fds_at_start, "no descriptor leaked (%d open, %d at start)",
	       fds, fam_fds_at_start);
	fam_read_stats(&st);
	made = st.v[FAM_SOCKETS] - fam_stats_at_start.v[FAM_SOCKETS];
	closed = st.v[FAM_CLOSES] - fam_stats_at_start.v[FAM_CLOSES];
	tap_ok(st.rows > 0 && made > 0 && made == closed,
	       "every AF_NSTCP socket was released (%ld made, %ld released)",
	       made, closed);
	return tap_done();
}

static inline struct sockaddr_in fam_sin(const char *ip, uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };

	inet_pton(AF_INET, ip, &a.sin_addr);
	return a;
}

static inline struct sockaddr_in6 fam_sin6(const char *ip, uint16_t port)
{
	struct sockaddr_in6 a = { .sin6_family = AF_INET6,
				  .sin6_port = htons(port) };

	inet_pton(AF_INET6, ip, &a.sin6_addr);
	return a;
}

/* Any sockaddr_in/in6 as one object, with its length. */
struct fam_addr {
	union {
		struct sockaddr sa;
		struct sockaddr_in sin;
		struct sockaddr_in6 sin6;
		struct sockaddr_storage ss;
	};
	socklen_t len;
};

static inline struct fam_addr fam_addr(const char *ip, uint16_t port)
{
	struct fam_addr a;

	memset(&a, 0, sizeof(a));
	if (strchr(ip, ':')) {
		a.sin6 = fam_sin6(ip, port);
		a.len = sizeof(a.sin6);
	} else {
		a.sin = fam_sin(ip, port);
		a.len = sizeof(a.sin);
	}
	return a;
}

static inline int fam_port(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)sa)->sin_port);
	if (sa->sa_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
	return -1;
}

static inline int fam_local_port(int fd)
{
	struct fam_addr a = { .len = sizeof(a.ss) };

	if (getsockname(fd, &a.sa, &a.len))
		return -1;
	return fam_port(&a.sa);
}

static inline void fam_set_port(struct fam_addr *a, int port)
{
	if (a->sa.sa_family == AF_INET)
		a->sin.sin_port = htons(port);
	else
		a->sin6.sin6_port = htons(port);
}

static inline const char *fam_ntop(const struct sockaddr *sa, char *buf,
				   size_t len)
{
	const void *p = sa->sa_family == AF_INET ?
		(const void *)&((const struct sockaddr_in *)sa)->sin_addr :
		(const void *)&((const struct sockaddr_in6 *)sa)->sin6_addr;

	if (sa->sa_family != AF_INET && sa->sa_family != AF_INET6) {
		snprintf(buf, len, "family %d", sa->sa_family);
		return buf;
	}
	return inet_ntop(sa->sa_family, p, buf, len) ? buf : "?";
}

/* Is sa the address ip (port ignored when port < 0)? */
static inline int fam_addr_is(const struct sockaddr *sa, socklen_t len,
			      const char *ip, int port)
{
	struct fam_addr want = fam_addr(ip, 0);

	if (len != want.len || sa->sa_family != want.sa.sa_family)
		return 0;
	if (port >= 0 && fam_port(sa) != port)
		return 0;
	if (sa->sa_family == AF_INET)
		return !memcmp(&((const struct sockaddr_in *)sa)->sin_addr,
			       &want.sin.sin_addr, sizeof(want.sin.sin_addr));
	return !memcmp(&((const struct sockaddr_in6 *)sa)->sin6_addr,
		       &want.sin6.sin6_addr, sizeof(want.sin6.sin6_addr));
}

/* Receive and send timeouts, so no blocking call can hang the test. */
static inline int fam_timeouts(int fd, int ms)
{
	struct timeval tv = { .tv_sec = ms / 1000,
			      .tv_usec = (ms % 1000) * 1000 };

	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)))
		return -1;
	return 0;
}

static inline int fam_socket(int domain, int flags)
{
	int fd = socket(domain, SOCK_STREAM | flags, 0);

	if (fd >= 0 && fam_timeouts(fd, FAM_TIMEOUT_MS)) {
		close(fd);
		return -1;
	}
	return fd;
}

/* A listener of family domain on ip, an ephemeral port unless port != 0. */
static inline int fam_listen(int domain, const char *ip, int port,
			     int *portp)
{
	struct fam_addr a = fam_addr(ip, port);
	int fd = fam_socket(domain, 0), one = 1;

	if (fd < 0)
		return -1;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(fd, &a.sa, a.len) || listen(fd, 128)) {
		tap_diag("listener on %s: %s", ip, strerror(errno));
		close(fd);
		return -1;
	}
	if (portp)
		*portp = fam_local_port(fd);
	return fd;
}

/* A blocking connect from a new socket of family domain to ip:port. */
static inline int fam_connect(int domain, const char *ip, int port)
{
	struct fam_addr a = fam_addr(ip, port);
	int fd = fam_socket(domain, 0);

	if (fd < 0)
		return -1;
	if (connect(fd, &a.sa, a.len)) {
		tap_diag("connect to %s port %d: %s", ip, port, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* poll() one descriptor; returns revents, 0 on timeout. */
static inline int fam_wait(int fd, short events, int ms)
{
	struct pollfd p = { .fd = fd, .events = events };

	if (poll(&p, 1, ms) != 1)
		return 0;
	return p.revents;
}

/* Accept with a deadline; peer address into *peer when given. */
static inline int fam_accept(int lfd, struct fam_addr *peer)
{
	struct fam_addr tmp;
	int fd;

	if (!peer)
		peer = &tmp;
	peer->len = sizeof(peer->ss);
	if (!(fam_wait(lfd, POLLIN, FAM_TIMEOUT_MS) & POLLIN)) {
		tap_diag("nothing to accept within %d ms", FAM_TIMEOUT_MS);
		return -1;
	}
	fd = accept(lfd, &peer->sa, &peer->len);
	if (fd < 0) {
		tap_diag("accept: %s", strerror(errno));
		return -1;
	}
	if (fam_timeouts(fd, FAM_TIMEOUT_MS)) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * A connected pair: client of family cdomain, server accepted from a
 * listener of family sdomain, both on loopback address ip.
 */
static inline int fam_pair_of(int cdomain, int sdomain, const char *ip,
			      int *cfd, int *sfd)
{
	int lfd, port;

	*cfd = *sfd = -1;
	lfd = fam_listen(sdomain, ip, 0, &port);
	if (lfd < 0)
		return -1;
	*cfd = fam_connect(cdomain, ip, port);
	if (*cfd >= 0)
		*sfd = fam_accept(lfd, NULL);
	close(lfd);
	if (*sfd < 0) {
		if (*cfd >= 0)
			close(*cfd);
		*cfd = -1;
		return -1;
	}
	return 0;
}

static inline int fam_pair(const char *ip, int *cfd, int *sfd)
{
	return fam_pair_of(AF_NSTCP, AF_NSTCP, ip, cfd, sfd);
}

static inline void fam_close(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* Loops until len bytes went out, or an error. */
static inline ssize_t fam_send_all(int fd, const void *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = send(fd, (const char *)buf + done, len - done,
				 MSG_NOSIGNAL);

		if (n < 0)
			return done ? (ssize_t)done : -1;
		done += n;
	}
	return done;
}

/* Loops until len bytes came in, EOF, or an error (timeouts included). */
static inline ssize_t fam_recv_all(int fd, void *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = recv(fd, (char *)buf + done, len - done, 0);

		if (n < 0)
			return done ? (ssize_t)done : -1;
		if (n == 0)
			break;
		done += n;
	}
	return done;
}

/* Deterministic test data and a checksum (FNV-1a, 64 bit). */
static inline void fam_fill(void *buf, size_t len, uint32_t seed)
{
	unsigned char *p = buf;
	uint32_t x = seed * 2654435761u + 1;

	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = x;
	}
}

static inline uint64_t fam_sum(uint64_t h, const void *buf, size_t len)
{
	const unsigned char *p = buf;

	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

#define FAM_SUM_INIT 0xcbf29ce484222325ull

static inline int fam_getint(int fd, int level, int name, int *val)
{
	socklen_t len = sizeof(*val);

	*val = -12345;
	if (getsockopt(fd, level, name, val, &len))
		return -1;
	return len == sizeof(*val) ? 0 : -1;
}

static inline int fam_setint(int fd, int level, int name, int val)
{
	return setsockopt(fd, level, name, &val, sizeof(val));
}

/*
 * Runs fn(arg, out) in a child process (killed by SIGALRM after @seconds)
 * and brings back the @outlen bytes it leaves in @out, zeroed before:
 * 0, or -1 if the child could not be made or did not report.
 */
static inline int fam_in_child(void (*fn)(void *arg, void *out), void *arg,
			       void *out, size_t outlen, int seconds)
{
	int p[2], st;
	pid_t pid;

	memset(out, 0, outlen);
	if (pipe(p))
		return -1;
	pid = fork();
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (!pid) {
		alarm(seconds);
		close(p[0]);
		fn(arg, out);
		_exit(write(p[1], out, outlen) == (ssize_t)outlen ? 0 : 1);
	}
	close(p[1]);
	st = read(p[0], out, outlen) == (ssize_t)outlen ? 0 : -1;
	close(p[0]);
	waitpid(pid, NULL, 0);
	return st;
}

/* The socket's own (peer 0) or peer's (peer 1) name; len 0 on failure. */
static inline struct fam_addr fam_name(int fd, int peer)
{
	struct fam_addr a;

	memset(&a, 0, sizeof(a));
	a.len = sizeof(a.ss);
	if ((peer ? getpeername : getsockname)(fd, &a.sa, &a.len))
		a.len = 0;
	return a;
}

/*
 * tap_ok() with the condition evaluated before the message's arguments, so
 * that the message shows the values the condition saw.
 */
#define FAM_OK(cond, ...) ({ int __c = !!(cond); tap_ok(__c, __VA_ARGS__); })

/* errno of a call, 0 if it succeeded. */
#define FAM_ERR(call) ({ errno = 0; long __r = (long)(call); \
			 __r < 0 ? errno : 0; })

/*
 * The same call, with FD standing for the socket, fails with errno want on
 * an AF_NSTCP socket (nfd) and on an AF_INET6 TCP socket (ifd).
 */
#define LIKE_INET6(want, nfd, ifd, call, ...) ({ \
	int FD = (nfd), __en, __ei; \
	__en = FAM_ERR(call); \
	FD = (ifd); \
	__ei = FAM_ERR(call); \
	(void)FD; \
	if (__en != (want) || __ei != (want)) \
		tap_diag("%s: AF_NSTCP errno %d, AF_INET6 errno %d, want %d", \
			 #call, __en, __ei, (want)); \
	FAM_OK(__en == (want) && __ei == (want), __VA_ARGS__); })

#endif
