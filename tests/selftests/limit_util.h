/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers of the port limit selftests (listen_limits, listen_limits_life):
 * a port's limit row over netlink, clients from a given source, what a
 * client of a refused connection reads, and the per_source 1 cases of two
 * clients from two sources and from one.
 */
#ifndef NSTCP_LIMIT_UTIL_H
#define NSTCP_LIMIT_UTIL_H

#include "handoff_util.h"

/* The port's row over netlink: its limits and counters. */
struct lim_row {
	long max_conns, cps, conns, lrefused, per_source;
};

static inline int lim_read(int port, struct lim_row *r)
{
	static struct proc_listen_row rows[LST_MAXCPU * 4];
	int n = proc_read_listen(port, rows, LST_MAXCPU * 4);

	memset(r, 0, sizeof(*r));
	if (n <= 0)
		return -1;
	r->max_conns = rows[0].max_conns;
	r->cps = rows[0].cps;
	r->conns = rows[0].conns;
	r->lrefused = rows[0].lrefused;
	r->per_source = rows[0].per_source;
	return 0;
}

static inline long lim_refused(int port)
{
	struct lim_row r;

	return lim_read(port, &r) ? -1 : r.lrefused;
}

static inline long lim_conns(int port)
{
	struct lim_row r;

	return lim_read(port, &r) ? -1 : r.conns;
}

/* What a client's read ends in: 0 for EOF, the errno, or -1 for data. */
static inline int read_end(int fd)
{
	char c;
	ssize_t n = recv(fd, &c, 1, 0);

	if (n > 0)
		return -1;
	return n == 0 ? 0 : errno;
}

/* Whether the client fd was reset: its read ends in ECONNRESET (not EOF). */
static inline int was_reset(int fd)
{
	return fd >= 0 && read_end(fd) == ECONNRESET;
}

/* Whether an accepted fd is the client's: a byte goes through. */
static inline int is_peer(int afd, int cfd)
{
	char c = 0;

	return afd >= 0 && send(cfd, "x", 1, 0) == 1 && recv(afd, &c, 1, 0) == 1 &&
	       c == 'x';
}

/* n clients of port, queued on the listener before this returns. */
static inline int clients(int port, int *fd, int n, long queued_before)
{
	for (int i = 0; i < n; i++) {
		fd[i] = lst_connect(LST_IP, port, FAM_TIMEOUT_MS);
		if (fd[i] < 0)
			return -1;
	}
	return lst_wait_queued(port, queued_before + n, FAM_TIMEOUT_MS) ==
	       queued_before + n ? 0 : -1;
}

static inline void close_all(int *fd, int n)
{
	for (int i = 0; i < n; i++)
		fam_close(&fd[i]);
}

/* A client of ip:port from source address src; -1 on failure. */
static inline int connect_from(const char *src, const char *ip, int port)
{
	struct fam_addr s = fam_addr(src, 0), d = fam_addr(ip, port);
	int fd = socket(d.sa.sa_family, SOCK_STREAM, 0);

	if (fd < 0)
		return -1;
	if (fam_timeouts(fd, FAM_TIMEOUT_MS) || bind(fd, &s.sa, s.len) ||
	    connect(fd, &d.sa, d.len)) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * Clients of lfd's port from 127.0.0.1 (c[0]) and 127.0.0.2 (c[1]): whether,
 * once both are queued, each is accepted (a[0], a[1]) and served by its
 * own.  The caller closes a[] and c[].
 */
static inline int lim_two_sources(int lfd, int port, int *c, int *a)
{
	c[0] = connect_from("127.0.0.1", LST_IP, port);
	c[1] = connect_from("127.0.0.2", LST_IP, port);
	lst_wait_queued(port, 2, FAM_TIMEOUT_MS);
	a[0] = lst_try_accept(lfd);
	a[1] = lst_try_accept(lfd);
	return is_peer(a[0], c[0]) && is_peer(a[1], c[1]);
}

/*
 * Clients c[0] then c[1] of lfd's port (per_source 1), both counted to one
 * source: whether, once both are queued, the first is accepted (into a[0])
 * and served while the second is reset, the non-blocking accept after it
 * (a[1]) ending in EAGAIN.  The caller closes a[] and c[].
 */
static inline int lim_second_reset(int lfd, int port, const int *c, int *a)
{
	lst_wait_queued(port, 2, FAM_TIMEOUT_MS);
	a[0] = lst_try_accept(lfd);
	errno = 0;
	a[1] = lst_try_accept(lfd);
	return is_peer(a[0], c[0]) && a[1] < 0 && errno == EAGAIN &&
	       was_reset(c[1]);
}

#endif
