// SPDX-License-Identifier: GPL-2.0
/*
 * A broker of nstcpd's broker model: `nstcpd broker INDEX`, executed by
 * nstcpd pinned on its CPU with descriptor 3 its member of the broker
 * port's share key and descriptor 4 the shared table (broker.h).  It
 * answers ASK with the least loaded server whose report is fresh (a v2
 * ASK with a lease of lease_ms) and records REPORTs (broker_proto.h); a
 * malformed request closes its connection, counted.  Single-threaded:
 * poll() over the listening socket and at most BK_CONNS connections, each
 * closed after NSTCP_BROKER_TIMEOUT_MS without a request (counted idle);
 * at the cap, a new connection closes the one idle longest among those
 * answered, with nothing half received and idle a second or more
 * (counted evicted), else waits in the listening queue.  Draining, a
 * connection is closed once answered with nothing half received.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
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

#include "broker.h"
#include "broker_proto.h"
#include "nstcp.h"

#define BK_LFD		3
#define BK_SHM		4
#define BK_CONNS	256

struct bk_conn {
	int fd;
	size_t len;
	int served;		/* answered at least once */
	long long deadline;
	char buf[NSTCP_BROKER_LINE_MAX];
};

struct bk {
	struct nd_bk_shm *m;
	struct nd_bk_count *cnt;	/* this broker's */
	unsigned int next;		/* where the next ASK starts looking */
	struct bk_conn conn[BK_CONNS];
	int nconn;
};

static long long now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000LL + t.tv_nsec / 1000000;
}

static void count(uint64_t *c)
{
	__atomic_fetch_add(c, 1, __ATOMIC_RELAXED);
}

/* ::ffff:a.b.c.d as a.b.c.d. */
static void unmap(struct sockaddr_storage *ss)
{
	struct sockaddr_in6 a6 = *(struct sockaddr_in6 *)ss;
	struct sockaddr_in *a4 = (struct sockaddr_in *)ss;

	if (ss->ss_family != AF_INET6 || !IN6_IS_ADDR_V4MAPPED(&a6.sin6_addr))
		return;
	memset(ss, 0, sizeof(*ss));
	a4->sin_family = AF_INET;
	a4->sin_port = a6.sin6_port;
	memcpy(&a4->sin_addr, &a6.sin6_addr.s6_addr[12], 4);
}

static int same_addr(const struct sockaddr_storage *a,
		     const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return 0;
	if (a->ss_family == AF_INET)
		return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
		       ((const struct sockaddr_in *)b)->sin_addr.s_addr;
	return !memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
		       &((const struct sockaddr_in6 *)b)->sin6_addr, 16);
}

static int loopback(const struct sockaddr_storage *a)
{
	if (a->ss_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)a)->sin_addr.s_addr) >> 24) == 127;
	return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)a)->sin6_addr);
}

/* The connection's own or its peer's address, unmapped; -1 on error. */
static int end_addr(int fd, int peer, struct sockaddr_storage *ss)
{
	socklen_t sl = sizeof(*ss);

	memset(ss, 0, sizeof(*ss));
	if (peer ? getpeername(fd, (struct sockaddr *)ss, &sl) :
	    getsockname(fd, (struct sockaddr *)ss, &sl))
		return -1;
	unmap(ss);
	return 0;
}

/* @text after the magic of protocol version @v (1 or 2). */
static int reply(struct bk_conn *c, int v, const char *text)
{
	char line[NSTCP_BROKER_LINE_MAX + 1];
	int n = snprintf(line, sizeof(line), "%s %s\n",
			 v == 2 ? NSTCP_BROKER_MAGIC2 : NSTCP_BROKER_MAGIC, text);

	/* A reply fits the socket's empty buffer: one send or none. */
	return send(c->fd, line, n, MSG_NOSIGNAL | MSG_DONTWAIT) == n ? 0 : -1;
}

/* A decimal number up to NSTCP_BROKER_NUM_MAX, digits only. */
static int number(const char *s, unsigned int *v)
{
	unsigned long long n = 0;

	if (!*s || strlen(s) > 10)
		return -1;
	for (; *s; s++) {
		if (!isdigit((unsigned char)*s))
			return -1;
		n = n * 10 + (*s - '0');
	}
	if (n > NSTCP_BROKER_NUM_MAX)
		return -1;
	*v = n;
	return 0;
}

/* The table's lease_ms, bounded (the table is writable). */
static unsigned int lease_ms(const struct nd_bk_shm *m)
{
	unsigned int ms = __atomic_load_n(&m->lease_ms, __ATOMIC_RELAXED);

	return ms < NSTCP_BROKER_LEASE_MAX ? ms : NSTCP_BROKER_LEASE_MAX;
}

/*
 * The least loaded fresh server that is not full, -1 for none.  A server's
 * load is its last report's, plus one per answer without a lease since
 * (ask()), plus one per lease that may still run (nd_bk_live()): a server
 * that reports itself full gets no answer, whatever leases it has.
 */
static int choose(struct bk *b, int *fresh)
{
	struct nd_bk_shm *m = b->m;
	long long now = now_ms();
	uint64_t bl = 0, bc = 1;
	unsigned int k;
	int best = -1;

	*fresh = 0;
	for (k = 0; k < m->nslots; k++) {
		unsigned int i = (b->next + k) % m->nslots;
		uint64_t st = __atomic_load_n(&m->slot[i].stamp_ms, __ATOMIC_ACQUIRE);
		uint64_t lc = __atomic_load_n(&m->slot[i].loadcap, __ATOMIC_RELAXED);
		uint64_t l = lc >> 32, c = lc & 0xffffffffu;

		if (!st || now - (long long)st > m->expire_ms)
			continue;
		(*fresh)++;
		if (l >= c)
			continue;
		l += nd_bk_live(&m->slot[i], now, lease_ms(m));
		if (best < 0 || l * bc < bl * c) {
			best = i;
			bl = l;
			bc = c;
		}
	}
	b->next = (b->next + 1) % m->nslots;
	return best;
}

/*
 * One more lease on @sl, started at @now, in the bucket of its lease_ms
 * epoch (broker.h): a bucket left from two epochs before restarts at 1.
 * Brokers racing on a bucket retry; the restart may lose a lease counted
 * by another broker in the same instant, off by one for at most lease_ms.
 */
static void lease(struct nd_bk_slot *sl, long long now, unsigned int ms)
{
	uint64_t e = ((uint64_t)now / ms) & 0xffffffffu;
	uint64_t *bucket = &sl->lease[e & 1];
	uint64_t v = __atomic_load_n(bucket, __ATOMIC_RELAXED), nv;

	do {
		nv = (v >> 32) == e ? v + 1 : e << 32 | 1;
	} while (!__atomic_compare_exchange_n(bucket, &v, nv, 1,
					      __ATOMIC_RELAXED,
					      __ATOMIC_RELAXED));
}

static int ask(struct bk *b, struct bk_conn *c, int v, const char *name)
{
	struct nd_bk_shm *m = b->m;
	struct sockaddr_storage ss;
	char host[INET6_ADDRSTRLEN], text[INET6_ADDRSTRLEN + 32];
	unsigned int ms = v == 2 ? lease_ms(m) : 0;
	const void *a;
	int i, fresh;

	count(&b->cnt->asked);
	if (strcmp(name, "-") && strcmp(name, m->name)) {
		count(&b->cnt->unknown);
		return reply(c, v, "UNKNOWN");
	}
	i = choose(b, &fresh);
	if (i < 0) {
		count(fresh ? &b->cnt->full : &b->cnt->noserver);
		return reply(c, v, fresh ? "FULL" : "NOSERVER");
	}
	/*
	 * Counted as one more connection until the server's next report,
	 * or with a lease, for lease_ms to 2 lease_ms (nd_bk_live()).
	 */
	if (ms) {
		lease(&m->slot[i], now_ms(), ms);
		count(&b->cnt->leased);
	} else {
		__atomic_fetch_add(&m->slot[i].loadcap, 1ULL << 32,
				   __ATOMIC_RELAXED);
	}
	count(&m->slot[i].chosen);
	ss = m->addr;
	if (m->wildcard && end_addr(c->fd, 0, &ss))
		return -1;
	a = ss.ss_family == AF_INET ?
		(const void *)&((struct sockaddr_in *)&ss)->sin_addr :
		(const void *)&((struct sockaddr_in6 *)&ss)->sin6_addr;
	if (!inet_ntop(ss.ss_family, a, host, sizeof(host)))
		return -1;
	if (v == 2)
		snprintf(text, sizeof(text), "OK %s %u %u", host,
			 m->base_port + i, ms);
	else
		snprintf(text, sizeof(text), "OK %s %u", host, m->base_port + i);
	count(&b->cnt->answered);
	return reply(c, v, text);
}

/* REPORT is taken from this host only: a loopback or own-address peer. */
static int report(struct bk *b, struct bk_conn *c, char *srv, char *load,
		  char *cap)
{
	struct nd_bk_shm *m = b->m;
	struct sockaddr_storage ss, me, peer;
	unsigned int l, k, port;
	socklen_t sl;

	if (number(load, &l) || number(cap, &k) ||
	    nstcp_parse_addr_port(srv, &ss, &sl))
		return -1;
	unmap(&ss);
	port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	if (end_addr(c->fd, 0, &me) || end_addr(c->fd, 1, &peer))
		return -1;
	if ((!loopback(&peer) && !same_addr(&peer, &me)) ||
	    port < m->base_port || port >= m->base_port + m->nslots ||
	    (!m->wildcard && !same_addr(&ss, &m->addr))) {
		count(&b->cnt->unknown);
		return reply(c, 1, "UNKNOWN");
	}
	port -= m->base_port;
	__atomic_store_n(&m->slot[port].loadcap, (uint64_t)l << 32 | k,
			 __ATOMIC_RELAXED);
	__atomic_store_n(&m->slot[port].stamp_ms, (uint64_t)now_ms(),
			 __ATOMIC_RELEASE);
	count(&m->slot[port].reports);
	count(&b->cnt->reports);
	return reply(c, 1, "OK");
}

/* One request line (no '\n'): 0 answered, -1 malformed or not sent. */
static int request(struct bk *b, struct bk_conn *c, char *line)
{
	char *w[6], *save;
	int n = 0, v;
	char *p;

	for (p = line; *p; p++)
		if (*p < 0x20 || *p > 0x7e || (*p == ' ' &&
		    (p == line || p[1] == ' ' || !p[1])))
			return -1;
	for (p = strtok_r(line, " ", &save); p && n < 6;
	     p = strtok_r(NULL, " ", &save))
		w[n++] = p;
	if (n < 2)
		return -1;
	if (!strcmp(w[0], NSTCP_BROKER_MAGIC))
		v = 1;
	else if (!strcmp(w[0], NSTCP_BROKER_MAGIC2))
		v = 2;
	else
		return -1;
	if (n == 3 && !strcmp(w[1], "ASK") &&
	    strlen(w[2]) <= NSTCP_BROKER_NAME_MAX)
		return ask(b, c, v, w[2]);
	/* REPORT is version 1's only. */
	if (v == 1 && n == 5 && !strcmp(w[1], "REPORT"))
		return report(b, c, w[2], w[3], w[4]);
	return -1;
}

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
		if (strlen(c->buf) != used - 1 || request(b, c, c->buf)) {
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
 * answered (a v1 client's, its ASK on the way) gets its answer first.
 * SIGUSR1 is let in only while poll waits (no SA_RESTART: EINTR).
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

	if (argc != 2 || number(argv[1], &idx) || fstat(BK_SHM, &st)) {
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
