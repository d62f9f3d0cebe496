// SPDX-License-Identifier: GPL-2.0
/*
 * The distributor's limits (max_conns, per_source, cps), enforced by its
 * front processes (front.c) on the state they share with nstcpd
 * (distributor.h): the connections in service over all fronts (an atomic
 * count), the second's accepts and the per-source table under a robust
 * process-shared mutex (a front that dies holding it leaves it usable).
 * The table has a row per source and front, so that nstcpd drops a dead
 * front's rows (nd_dlimit_front_gone) as it drops its relays.  The same
 * limits as the standard and hybrid models (standard.c), the same answer
 * to a connection over one: closed at once, counted refused.
 */
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "distributor.h"

/*
 * The source of @peer as per_source counts it: IPv4 (and IPv4-mapped IPv6)
 * by its /32, as an IPv4-mapped key; other IPv6 by its /64, the prefix one
 * host holds (it may use a new /128 for every connection).  The standard
 * model's per_source (standard.c) uses the same key.
 */
void nd_src_key(const struct sockaddr_storage *peer, unsigned char k[16])
{
	memset(k, 0, 16);
	if (peer->ss_family == AF_INET) {
		k[10] = 0xff;
		k[11] = 0xff;
		memcpy(k + 12, &((const struct sockaddr_in *)peer)->sin_addr, 4);
	} else if (peer->ss_family == AF_INET6) {
		const struct in6_addr *a =
			&((const struct sockaddr_in6 *)peer)->sin6_addr;

		if (IN6_IS_ADDR_V4MAPPED(a))
			memcpy(k, a, 16);
		else
			memcpy(k, a, 8);
	}
}

static void lock(struct nd_dshm *m)
{
	if (pthread_mutex_lock(&m->lock) == EOWNERDEAD)
		pthread_mutex_consistent(&m->lock);
}

/* In nstcpd, once, on the new shared memory. */
int nd_dlimit_init(struct nd_dshm *m, unsigned int max_conns,
		   unsigned int per_source, unsigned int cps)
{
	pthread_mutexattr_t a;
	int r;

	m->max_conns = max_conns;
	m->per_source = per_source;
	m->cps = cps;
	if (pthread_mutexattr_init(&a))
		return -1;
	r = pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED) ||
	    pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST) ||
	    pthread_mutex_init(&m->lock, &a);
	pthread_mutexattr_destroy(&a);
	return r ? -1 : 0;
}

/*
 * The per_source check and count, under the lock: 0 counted, 1 let through
 * uncounted (no free row: the table is full), or -1 over the limit.  A full
 * table never refuses: a source is refused only on its own count.
 */
static int src_admit(struct nd_dshm *m, unsigned int front,
		     const unsigned char k[16])
{
	unsigned int n = 0, i;
	int mine = -1, fr = -1;

	for (i = 0; i < m->nsrc; i++) {
		struct nd_dsrc *e = &m->src[i];

		if (!e->count) {
			if (fr < 0)
				fr = i;
			continue;
		}
		if (memcmp(e->addr, k, 16))
			continue;
		n += e->count;
		if (e->front == front)
			mine = i;
	}
	if (n >= m->per_source)
		return -1;
	if (mine < 0 && fr < 0) {
		if (m->nsrc >= ND_DSRC_SLOTS) {
			ADD(m->src_full, 1);
			return 1;
		}
		fr = m->nsrc++;
	}
	if (mine < 0) {
		mine = fr;
		memcpy(m->src[mine].addr, k, 16);
		m->src[mine].front = front;
	}
	m->src[mine].count++;
	return 0;
}

/*
 * A connection from @peer accepted by front @front: NULL when it may be
 * served (counted in; nd_dlimit_release with the same @peer when it ends),
 * else the limit it is over.  A connection let through uncounted by a full
 * source table has @peer's family set to AF_UNSPEC, so that its release
 * takes nothing off another connection's row.
 */
const char *nd_dlimit_admit(struct nd_dshm *m, unsigned int front,
			    struct sockaddr_storage *peer)
{
	unsigned char k[16];
	const char *why = NULL;
	unsigned int n;
	int r = 0;

	if (m->max_conns) {
		n = GET(m->conns);
		do {
			if (n >= m->max_conns)
				return "max_conns";
		} while (!__atomic_compare_exchange_n(&m->conns, &n, n + 1, 0,
						      __ATOMIC_RELAXED,
						      __ATOMIC_RELAXED));
	} else {
		ADD(m->conns, 1);
	}
	if (!m->cps && !m->per_source)
		return NULL;
	nd_src_key(peer, k);
	lock(m);
	if (m->cps) {
		long long now = time(NULL);

		if (now != m->cps_sec) {
			m->cps_sec = now;
			m->cps_count = 0;
		}
		if (m->cps_count >= m->cps)
			why = "cps";
		else
			m->cps_count++;
	}
	if (!why && m->per_source)
		r = src_admit(m, front, k);
	pthread_mutex_unlock(&m->lock);
	if (r < 0)
		why = "per_source";
	else if (r > 0)
		peer->ss_family = AF_UNSPEC;
	if (why)
		SUB(m->conns, 1);
	return why;
}

/* The connection from @peer that front @front admitted ended. */
void nd_dlimit_release(struct nd_dshm *m, unsigned int front,
		       const struct sockaddr_storage *peer)
{
	unsigned char k[16];
	unsigned int i;

	SUB(m->conns, 1);
	if (!m->per_source || peer->ss_family == AF_UNSPEC)
		return;
	nd_src_key(peer, k);
	lock(m);
	for (i = 0; i < m->nsrc; i++)
		if (m->src[i].count && m->src[i].front == front &&
		    !memcmp(m->src[i].addr, k, 16)) {
			m->src[i].count--;
			break;
		}
	pthread_mutex_unlock(&m->lock);
}

/* In nstcpd: front @front died with @active connections admitted. */
void nd_dlimit_front_gone(struct nd_dshm *m, unsigned int front,
			  unsigned long long active)
{
	unsigned int i;

	SUB(m->conns, (unsigned int)active);
	if (!m->per_source)
		return;
	lock(m);
	if (m->nsrc > ND_DSRC_SLOTS)
		m->nsrc = ND_DSRC_SLOTS;
	for (i = 0; i < m->nsrc; i++)
		if (m->src[i].front == front)
			m->src[i].count = 0;
	pthread_mutex_unlock(&m->lock);
}
