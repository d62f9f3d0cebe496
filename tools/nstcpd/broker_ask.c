// SPDX-License-Identifier: GPL-2.0
/*
 * A broker's answers (broker_run.c runs the broker): ASK, the least
 * loaded fresh server that is not full, with a lease in version 2; and
 * REPORT, a server's load, taken from this host only (broker_proto.h,
 * Documentation/nstcpd.rst, Broker).
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "broker_run.h"
#include "nstcp.h"

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
int nd_bk_number(const char *s, unsigned int *v)
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

/* The address this broker answers @c's client with, as text. */
static int own_host(struct bk *b, struct bk_conn *c, char *host, size_t len)
{
	struct sockaddr_storage ss = b->m->addr;
	const void *a;

	if (b->m->wildcard && end_addr(c->fd, 0, &ss))
		return -1;
	a = ss.ss_family == AF_INET ?
		(const void *)&((struct sockaddr_in *)&ss)->sin_addr :
		(const void *)&((struct sockaddr_in6 *)&ss)->sin6_addr;
	return inet_ntop(ss.ss_family, a, host, len) ? 0 : -1;
}

static int ask(struct bk *b, struct bk_conn *c, int v, const char *name)
{
	struct nd_bk_shm *m = b->m;
	char host[INET6_ADDRSTRLEN], text[INET6_ADDRSTRLEN + 32];
	unsigned int ms = v == 2 ? lease_ms(m) : 0;
	int i, fresh;

	count(&b->cnt->asked);
	if (strcmp(name, "-") && strcmp(name, m->name)) {
		count(&b->cnt->unknown);
		return reply(c, v, "UNKNOWN");
	}
	i = choose(b, &fresh);
	/*
	 * Draining with no fresh report left (the old servers stopped
	 * reporting): the new image's answer for the same address
	 * (broker_relay.c), once a connection, rather than NOSERVER.
	 */
	if (i < 0 && !fresh && !c->relayed &&
	    !own_host(b, c, host, sizeof(host)) &&
	    !nd_bk_relay(b, c, v, name, host, text, sizeof(text))) {
		c->relayed = 1;
		count(&b->cnt->answered);
		return reply(c, v, text);
	}
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
	if (own_host(b, c, host, sizeof(host)))
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

	if (nd_bk_number(load, &l) || nd_bk_number(cap, &k) ||
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

int nd_bk_request(struct bk *b, struct bk_conn *c, char *line)
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
