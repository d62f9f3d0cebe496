/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The distributor's shared counters (distributor.c, front.c, relay.c): a
 * memfd that nstcpd and its front processes map.  After the header: the
 * fronts' counters, then per back end whether it is up, its connections in
 * relay and served, then per front and back end the connections in relay
 * (what nstcpd takes off a back end's count when a front dies).
 */
#ifndef NSTCPD_DISTRIBUTOR_H
#define NSTCPD_DISTRIBUTOR_H

#include <pthread.h>
#include <stddef.h>
#include <sys/socket.h>

#define ND_DSRC_SLOTS	4096	/* per_source: sources (per front) at once */

/* A source address's connections in service through one front. */
struct nd_dsrc {
	unsigned char addr[16];		/* IPv6, IPv4-mapped */
	unsigned int front;
	unsigned int count;
};

struct nd_fctr {
	unsigned long long accepted, active, served, aborted, refused, local;
	unsigned long long bytes_in, bytes_out;
};

struct nd_dshm {
	unsigned int nfront, nback;
	/* Limits (dlimit.c): 0 for none; set by nstcpd before the fronts. */
	unsigned int max_conns, per_source, cps;
	unsigned int conns;		/* admitted, over all fronts */
	pthread_mutex_t lock;		/* the rest */
	long long cps_sec;
	unsigned int cps_count;
	unsigned int nsrc;		/* rows of src[] used */
	unsigned long long src_full;	/* let through uncounted: no row */
	struct nd_dsrc src[ND_DSRC_SLOTS];
};

struct nd_dview {
	struct nd_dshm *m;
	struct nd_fctr *front;		/* [nfront] */
	unsigned long long *up;		/* [nback] */
	unsigned long long *active;	/* [nback] */
	unsigned long long *served;	/* [nback] */
	unsigned long long *load;	/* [nfront * nback] */
};

static inline size_t nd_dshm_size(unsigned int nfront, unsigned int nback)
{
	return sizeof(struct nd_dshm) + nfront * sizeof(struct nd_fctr) +
	       (3 * nback + (size_t)nfront * nback) * sizeof(unsigned long long);
}

static inline void nd_dview(struct nd_dview *v, void *base)
{
	v->m = base;
	v->front = (struct nd_fctr *)(v->m + 1);
	v->up = (unsigned long long *)(v->front + v->m->nfront);
	v->active = v->up + v->m->nback;
	v->served = v->active + v->m->nback;
	v->load = v->served + v->m->nback;
}

#define ADD(x, v)	__atomic_add_fetch(&(x), (v), __ATOMIC_RELAXED)
#define SUB(x, v)	__atomic_sub_fetch(&(x), (v), __ATOMIC_RELAXED)
#define GET(x)		__atomic_load_n(&(x), __ATOMIC_RELAXED)
#define SET(x, v)	__atomic_store_n(&(x), (v), __ATOMIC_RELAXED)

/* dlimit.c: the limits, shared by the fronts. */
void nd_src_key(const struct sockaddr_storage *peer, unsigned char k[16]);
int nd_dlimit_init(struct nd_dshm *m, unsigned int max_conns,
		   unsigned int per_source, unsigned int cps);
const char *nd_dlimit_admit(struct nd_dshm *m, unsigned int front,
			    struct sockaddr_storage *peer);
void nd_dlimit_release(struct nd_dshm *m, unsigned int front,
		       const struct sockaddr_storage *peer);
void nd_dlimit_front_gone(struct nd_dshm *m, unsigned int front,
			  unsigned long long active);

/* relay_log.c: a front's log of the connections closed unrelayed. */
void nd_unrel_init(const char *name, int index);
void nd_unrel_tell(int back, const char *path, int err);
long long nd_unrel_wait(void);
void nd_unrel_flush(int now);

/* front.c: `nstcpd front ...`, a front process's main. */
int nd_front_main(int argc, char **argv);

#endif /* NSTCPD_DISTRIBUTOR_H */
