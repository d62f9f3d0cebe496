/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The broker model's shared table (Documentation/nstcpd.rst, "Broker
 * model"): nstcpd maps it (a memfd) before it starts the brokers, which
 * map the same memory.  Each server replica has a slot its reports update
 * (any broker, whichever the report reached); each broker has counters
 * only it writes.  Fields are read and written whole with atomics, no lock.
 */
#ifndef NSTCPD_BROKER_H
#define NSTCPD_BROKER_H

#include <stdint.h>
#include <sys/socket.h>

#define ND_BK_MAGIC	0x6e73626bu	/* "nsbk" */

struct nd_bk_slot {
	uint64_t loadcap;	/* load << 32 | capacity, of the last report */
	uint64_t stamp_ms;	/* CLOCK_MONOTONIC of that report, 0: none */
	uint64_t reports;	/* reports received */
	uint64_t chosen;	/* ASKs answered with it */
	/*
	 * Leases given on it (v2 answers), in two buckets by the lease_ms
	 * epoch of their start (now / lease_ms): lease[e % 2] is
	 * e << 32 | count.  A lease started in epoch e has ended by the end
	 * of epoch e + 1, so those of the current and previous epochs are
	 * all that may still run (nd_bk_live()).
	 */
	uint64_t lease[2];
};

struct nd_bk_count {
	uint64_t asked, answered, full, noserver, unknown, reports, malformed;
	uint64_t idle;		/* closed after NSTCP_BROKER_TIMEOUT_MS idle */
	uint64_t leased;	/* ASKs answered with a lease (v2, lease_ms) */
	uint64_t evicted;	/* closed at the cap, idle longest, for a new one */
};

#define ND_BK_NCOUNT	(sizeof(struct nd_bk_count) / sizeof(uint64_t))

struct nd_bk_shm {
	uint32_t magic;
	uint32_t nslots, nbrokers;
	uint32_t expire_ms;	/* a report older than this is stale */
	uint32_t base_port;	/* slot i is base_port + i */
	uint32_t wildcard;	/* servers on *: answer the broker's address */
	uint32_t lease_ms;	/* a v2 answer's lease, 0: none */
	struct sockaddr_storage addr;	/* the servers' address */
	char name[40];		/* the service's */
	struct nd_bk_slot slot[];	/* nslots, then nbrokers nd_bk_count */
};

static inline struct nd_bk_count *nd_bk_counts(struct nd_bk_shm *m)
{
	return (struct nd_bk_count *)&m->slot[m->nslots];
}

static inline size_t nd_bk_size(unsigned int nslots, unsigned int nbrokers)
{
	return sizeof(struct nd_bk_shm) + nslots * sizeof(struct nd_bk_slot) +
	       nbrokers * sizeof(struct nd_bk_count);
}

/*
 * nstcpd's own view of the table: the brokers, which run as the service's
 * user, can write the shared memory, so its layout (sizes, port) is never
 * read back from it.  The memfd is sealed at its size before they start.
 */
struct nd_bk {
	struct nd_bk_shm *m;
	size_t size;
	int memfd;
	int nbrokers;		/* copies[0..nbrokers-1]; the servers follow */
	int nslots;		/* the servers */
	unsigned int base_port;	/* server i's port is base_port + i */
	unsigned int expire_ms;
	unsigned int lease_ms;
	struct nd_bk_slot *slot;	/* m's nslots slots */
	struct nd_bk_count *count;	/* then m's nbrokers counters */
	char broker_env[96];	/* NSTCP_BROKER=ADDR:PORT */
	unsigned long long *restarts;	/* per copy */
	unsigned long long *refused;	/* per server: its port's lrefused */
};

static inline unsigned long long nd_bk_ld(const uint64_t *v)
{
	return __atomic_load_n(v, __ATOMIC_RELAXED);
}

/*
 * The leases on @sl that may still run at @now_ms (CLOCK_MONOTONIC ms)
 * with leases of @lease_ms: those started in this lease_ms epoch or the
 * previous one, an over-estimate by at most lease_ms per lease.
 */
static inline uint64_t nd_bk_live(const struct nd_bk_slot *sl,
				  long long now_ms, unsigned int lease_ms)
{
	uint64_t e, live = 0;
	int k;

	if (!lease_ms || now_ms < 0)
		return 0;
	e = (uint64_t)now_ms / lease_ms;
	for (k = 0; k < 2; k++) {
		uint64_t v = __atomic_load_n(&sl->lease[k], __ATOMIC_RELAXED);

		if ((v >> 32) == (e & 0xffffffffu) ||
		    (v >> 32) == ((e - 1) & 0xffffffffu))
			live += v & 0xffffffffu;
	}
	return live;
}

/* broker_loads.c: the reports handed to a new image (NSTCPD_BKLOADS). */
struct nd_service;
void nd_broker_adopt(const struct nd_service *s, struct nd_bk *bk);

/* broker_run.c: `nstcpd broker INDEX`, started by nstcpd with fds 3 and 4. */
int nd_broker_main(int argc, char **argv);

#endif /* NSTCPD_BROKER_H */
