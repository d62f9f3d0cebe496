// SPDX-License-Identifier: GPL-2.0
/*
 * A broker of nstcpd's broker model: `nstcpd broker INDEX`, executed by
 * nstcpd pinned on its CPU with descriptor 3 its member of the broker
 * port's share key and descriptor 4 the shared table (broker.h).  It
 * answers ASK with the least loaded server whose report is fresh (a v2
 * ASK with a lease of lease_ms) and records REPORTs (broker_proto.h); a
 * malformed request closes its connection, counted (the answers are
 * broker_ask.c's).  Single-threaded:
 * poll() over the listening socket and at most BK_CONNS connections, each
 * closed after NSTCP_BROKER_TIMEOUT_MS without a request (counted idle);
 * at the cap, a new connection closes the one idle longest among those
 * answered, with nothing half received and idle a second or more
 * (counted evicted), else waits in the listening queue.  Draining, a
 * connection is closed once answered with nothing half received.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "broker_run.h"
#include "nstcp.h"
#include "nstcpd.h"

#define BK_LFD		3
#define BK_SHM		4

static void drop(struct bk *b, int i)
{
	close(b->conn[i].fd);
	b->conn[i] = b->conn[--b->nconn];
}

/* Reads what @c sent and answers its lines; -1 to close it. */
static int readable(struct bk *b, struct bk_conn *c)
{
	ssize_t n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len,
			 MSG_DONTWAIT);
	char *nl;

	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -1;
	if (!n) {
		if (c->len)	/* a request cut short */
			count(&b->cnt->malformed);
		return -1;
	}
	c->len += n;
	while ((nl = memchr(c->buf, '\n', c->len))) {
		size_t used = nl - c->buf + 1;

		*nl = 0;
		/* A NUL inside the line is malformed, as any control byte. */
		if (strlen(c->buf) != used - 1 || nd_bk_request(b, c, c->buf)) {
			count(&b->cnt->malformed);
			return -1;
		}
		memmove(c->buf, c->buf + used, c->len - used);
		c->len -= used;
		c->served = 1;
		c->deadline = now_ms() + NSTCP_BROKER_TIMEOUT_MS;
	}
	if (c->len == sizeof(c->buf)) {	/* a line too long */
		count(&b->cnt->malformed);
		return -1;
	}
	return 0;
}

/*
 * At the cap, a connection may be closed for a new one only when it was
 * answered, holds nothing half received and has been idle BK_EVICT_MS:
 * never one whose request is unread (closing it would reset its client),
 * nor one accepted in the same pass.  The one idle longest; -1 if none
 * may go yet, and in @wait the ms until one may.
 */
#define BK_EVICT_MS	1000
#define BK_ACCEPTS	64	/* accepted a pass, at most */

static int evictable(const struct bk *b, long long now, long long *wait)
{
	long long since, best = 0;
	int i, old = -1;

	for (i = 0; i < b->nconn; i++) {
		const struct bk_conn *c = &b->conn[i];

		if (!c->served || c->len)
			continue;
		since = c->deadline - NSTCP_BROKER_TIMEOUT_MS;
		if (now - since < BK_EVICT_MS) {
			if (wait && since + BK_EVICT_MS - now < *wait)
				*wait = since + BK_EVICT_MS - now;
			continue;
		}
		if (old < 0 || since < best) {
			old = i;
			best = since;
		}
	}
	return old;
}

static void accept_all(struct bk *b)
{
	int k, old;

	for (k = 0; k < BK_ACCEPTS; k++) {
		struct bk_conn *c;
		int fd;

		if (b->nconn == BK_CONNS) {
			old = evictable(b, now_ms(), NULL);
			if (old < 0)
				return;	/* the rest wait in the listening queue */
			count(&b->cnt->evicted);
			drop(b, old);
		}
		fd = accept4(BK_LFD, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0)
			return;
		c = &b->conn[b->nconn++];
		c->fd = fd;
		c->len = 0;
		c->served = 0;
		c->relayed = 0;
		c->deadline = now_ms() + NSTCP_BROKER_TIMEOUT_MS;
	}
}

/* SIGUSR1: drain (a new nstcpd image took over the port). */
static int draining;

static void on_drain(int sig)
{
	(void)sig;
	__atomic_store_n(&draining, 1, __ATOMIC_RELAXED);
}

/*
 * Answers until SIGUSR1; then, the listening socket closed here (the new
 * image's brokers accept on it), until its connections are done: exit 0.
 * Draining, a connection answered at least once with no request half
 * received is closed (at once, or after its next answer): a client
 * keeping it (the handle) reconnects, to a new broker, instead of being
 * answered from this image's table until drain_timeout.  One not yet
 * answered (a v1 client's, its ASK on the way) gets its answer first:
 * this table's, or once none of its reports is fresh the new image's
 * brokers', asked on a connection of its own (broker_relay.c).
 * SIGUSR1 is let in while poll waits (no SA_RESTART: EINTR), and after a
 * poll that returned events (nd_let_signals_in).
 */
static int serve(struct bk *b)
{
	struct pollfd pfd[BK_CONNS + 1];
	struct sigaction sa = { 0 };
	sigset_t usr1, waitmask;
	int i, n, lidx, lfd = BK_LFD;

	sa.sa_handler = on_drain;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	sigprocmask(SIG_BLOCK, &usr1, &waitmask);
	sigdelset(&waitmask, SIGUSR1);
	fcntl(BK_LFD, F_SETFL, fcntl(BK_LFD, F_GETFL) | O_NONBLOCK);
	for (;;) {
		long long now = now_ms(), wait = 1000;
		int drain = __atomic_load_n(&draining, __ATOMIC_RELAXED);
		struct timespec ts;

		if (drain && lfd >= 0) {
			close(lfd);
			lfd = -1;
			/* From now on a connection of ours reaches a new broker. */
			b->draining = 1;
			/* What arrived meanwhile is answered first. */
			for (i = b->nconn - 1; i >= 0; i--)
				if (readable(b, &b->conn[i]))
					drop(b, i);
		}
		for (i = b->nconn - 1; drain && i >= 0; i--)
			if (b->conn[i].served && !b->conn[i].len)
				drop(b, i);
		if (drain && !b->nconn)
			return 0;

		for (i = 0; i < b->nconn; i++) {
			if (b->conn[i].deadline <= now) {
				count(&b->cnt->idle);
				drop(b, i--);
				continue;
			}
			if (b->conn[i].deadline - now < wait)
				wait = b->conn[i].deadline - now;
		}
		for (i = 0; i < b->nconn; i++) {
			pfd[i].fd = b->conn[i].fd;
			pfd[i].events = POLLIN;
		}
		lidx = i;
		/* At the cap, the listening socket only once one may go. */
		pfd[lidx].fd = b->nconn < BK_CONNS ||
			       evictable(b, now, &wait) >= 0 ? lfd : -1;
		pfd[lidx].events = POLLIN;
		ts.tv_sec = wait / 1000;
		ts.tv_nsec = wait % 1000 * 1000000;
		n = ppoll(pfd, lidx + 1, &ts, &waitmask);
		if (n < 0 && errno != EINTR)
			return 1;
		if (n <= 0)
			continue;
		/* Ready: a pending SIGUSR1 was not let in (a flood of asks). */
		nd_let_signals_in(&waitmask, &usr1);
		/* Backwards: drop() moves the last connection into the hole. */
		for (i = lidx - 1; i >= 0; i--)
			if (pfd[i].revents && readable(b, &b->conn[i]))
				drop(b, i);
		if (pfd[lidx].revents)
			accept_all(b);
	}
}

int nd_broker_main(int argc, char **argv)
{
	static struct bk b;
	struct nd_bk_shm *m;
	unsigned int idx;
	struct stat st;

	if (argc != 2 || nd_bk_number(argv[1], &idx) || fstat(BK_SHM, &st)) {
		fprintf(stderr, "nstcpd broker: started by nstcpd only\n");
		return 2;
	}
	m = mmap(NULL, st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, BK_SHM, 0);
	if (m == MAP_FAILED || (size_t)st.st_size < sizeof(*m) ||
	    m->magic != ND_BK_MAGIC || !m->nslots || idx >= m->nbrokers ||
	    (size_t)st.st_size < nd_bk_size(m->nslots, m->nbrokers)) {
		fprintf(stderr, "nstcpd broker: descriptor 4 is not a broker table\n");
		return 2;
	}
	close(BK_SHM);
	signal(SIGPIPE, SIG_IGN);
	b.m = m;
	b.cnt = &nd_bk_counts(m)[idx];
	b.next = idx;
	return serve(&b);
}
